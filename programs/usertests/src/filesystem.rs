//! `file:`, RedoxFS on the boot's data disk (README "Files that stay"):
//! files and directories, their sizes, owners and modes, permissions
//! checked against the caller, bad names refused, a file removed while
//! open, what was written surviving the daemon's restart, 10,000 files in
//! one directory, a closed file's last writes kept for the next open,
//! several processes writing one file, offsets far past
//! the end, the kernel's read-ahead on its files, and a full file system
//! (`ENOSPC`, on the small RedoxFS in `disk:2p2`, served as `small:`). A self-test boot runs no `init.rc`, so
//! each test starts `pcid`, `virtio-blkd` and `redoxfsd` on `disk:0`
//! (which `cargo mk` formats fresh for every boot).

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use rt::abi::syscall::{
    self as sc, MODE_DIR, MODE_FILE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_WRONLY,
};
use rt::batch::{Batch, On};
use rt::fs::{File, SeekFrom};

use crate::daemons::{Daemon, start, start_with};
use crate::robustness::memory_field;
use crate::support::{Outcome, WAIT, ensure, expect_err, expect_exit, fork_child, ok, run_child, wait_for};

/// `pcid`, the disk driver, then `file:` on `disk:0`.
fn file_system() -> Result<(Daemon, Daemon, Daemon), String> {
    let pci = start("pcid", "pci")?;
    let disk = start("virtio-blkd", "disk")?;
    let file = start("redoxfsd", "file")?;
    Ok((pci, disk, file))
}

/// Directories made one inside the other.
const DEPTH: usize = 12;

fn mkdir(path: &str) -> rt::Result<()> {
    File::open_with(path, O_CREAT | O_DIRECTORY | O_RDONLY | 0o755).map(drop)
}

pub fn file_scheme_keeps_files_and_directories() -> Outcome {
    let _fs = file_system()?;
    let listing = ok("read file:/", rt::fs::read_to_string("file:/"))?;
    ensure!(listing.lines().any(|l| l == "home"), "file:/ lists {listing:?}");
    ok("mkdir", mkdir("file:/t1"))?;
    ok("mkdir below", mkdir("file:/t1/d"))?;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 253) as u8).collect();
    ok("write a file", rt::fs::write("file:/t1/d/big", &data))?;
    let mut file = ok("open it", File::open_with("file:/t1/d/big", O_RDWR))?;
    let stat = ok("fstat", file.stat())?;
    ensure!(stat.st_size == data.len() as u64, "size {}", stat.st_size);
    ensure!(stat.st_mode & 0xf000 == MODE_FILE && stat.st_mode & 0o777 == 0o644, "mode {:o}", stat.st_mode);
    ensure!(stat.st_uid == 0 && stat.st_mtime > 1_600_000_000, "uid {} mtime {}", stat.st_uid, stat.st_mtime);
    ok("seek", file.seek(SeekFrom::Start(123_457)))?;
    let mut piece = [0u8; 1000];
    ok("read in the middle", file.read_exact(&mut piece))?;
    ensure!(piece[..] == data[123_457..124_457], "the middle differs");
    ok("overwrite", file.seek(SeekFrom::Start(10)))?;
    ok("write", file.write_all(b"HELLO"))?;
    ok("truncate", file.set_len(100))?;
    drop(file);
    let back = ok("read back", rt::fs::read("file:/t1/d/big"))?;
    ensure!(back.len() == 100 && &back[10..15] == b"HELLO" && back[..10] == data[..10], "after truncate: {back:?}");
    let dir = ok("fstat a directory", File::open("file:/t1/d").and_then(|d| d.stat()))?;
    ensure!(dir.st_mode & 0xf000 == MODE_DIR, "directory mode {:o}", dir.st_mode);
    // Rename across directories, then the errors a user expects.
    let file = ok("open for rename", File::open_with("file:/t1/d/big", O_RDWR))?;
    ok("rename", rt::sys::frename(file.fd(), "file:/t1/moved"))?;
    ensure!(ok("fpath", file.path())? == "file:/t1/moved", "fpath {:?}", file.path());
    drop(file);
    expect_err("the old name", File::open("file:/t1/d/big"), sc::ENOENT)?;
    expect_err("O_EXCL on an existing file", File::open_with("file:/t1/moved", O_CREAT | O_EXCL | O_RDWR), sc::EEXIST)?;
    expect_err("a file as a directory", File::open("file:/t1/moved/x"), sc::ENOTDIR)?;
    expect_err("writing a directory", File::open_with("file:/t1", O_WRONLY), sc::EISDIR)?;
    expect_err("rmdir of a full directory", rt::fs::remove_dir("file:/t1"), sc::ENOTEMPTY)?;
    expect_err("unlink of a directory", rt::fs::remove_file("file:/t1/d"), sc::EISDIR)?;
    expect_err("rmdir of a file", rt::fs::remove_dir("file:/t1/moved"), sc::ENOTDIR)?;
    ok("unlink", rt::fs::remove_file("file:/t1/moved"))?;
    ok("rmdir", rt::fs::remove_dir("file:/t1/d"))?;
    ok("rmdir", rt::fs::remove_dir("file:/t1"))?;
    expect_err("gone", File::open("file:/t1"), sc::ENOENT)?;
    Ok(String::from("directories, a 200 KB file read at an offset, overwritten, truncated, renamed, removed; errnos"))
}

pub fn file_scheme_checks_permissions_and_names() -> Outcome {
    let _fs = file_system()?;
    ok("a root-only file", File::open_with("file:/home/root/secret", O_CREAT | O_WRONLY | 0o600))?;
    let status = run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        let denied = |r: rt::Result<File>| matches!(r, Err(e) if e.errno == sc::EACCES);
        if !denied(File::open("file:/home/root/secret")) {
            return 3;
        }
        if !denied(File::open_with("file:/home/mine", O_CREAT | O_WRONLY)) {
            return 4;
        }
        // /tmp is 1777: anyone may create there, and owns what they make
        // (user and group).
        match File::open_with("file:/tmp/u1000", O_CREAT | O_WRONLY) {
            Ok(f) if f.stat().map(|s| s.st_uid == 1000 && s.st_gid == 1000).unwrap_or(false) => 0,
            _ => 5,
        }
    })?;
    expect_exit("user 1000 (3: read root's 0600 file, 4: made a file in root's directory, 5: /tmp)", status, 0)?;
    let long = format!("file:/tmp/{}", "n".repeat(253));
    expect_err("a 253-byte name", File::open_with(&long, O_CREAT | O_WRONLY), sc::EINVAL)?;
    ok("a 252-byte name", File::open_with(&long[..long.len() - 1], O_CREAT | O_WRONLY))?;
    expect_err("a name with NUL", File::open_with("file:/tmp/a\0b", O_CREAT | O_WRONLY), sc::EINVAL)?;
    expect_err("a name with a newline", File::open_with("file:/tmp/a\nb", O_CREAT | O_WRONLY), sc::EINVAL)?;
    let named = ok("a file to rename", File::open_with("file:/tmp/to-rename", O_CREAT | O_WRONLY))?;
    expect_err("a rename to a name with a newline", rt::sys::frename(named.fd(), "file:/tmp/a\nb"), sc::EINVAL)?;
    ok("unlink", rt::fs::remove_file("file:/tmp/to-rename"))?;
    expect_err("`..` above the root", File::open("file:/../x"), sc::EINVAL)?;
    // Deep paths (each level is a lookup on the disk per call, so the
    // depth is kept to what the test's deadline allows under TCG).
    let mut path = String::from("file:/tmp/deep");
    for _ in 0..DEPTH {
        ok("mkdir deep", mkdir(&path))?;
        path.push_str("/d");
    }
    ok("a file deep down", rt::fs::write(&format!("{path}.txt"), b"deep"))?;
    ok("unlink", rt::fs::remove_file("file:/tmp/u1000"))?;
    ok("unlink", rt::fs::remove_file("file:/home/root/secret"))?;
    Ok(format!(
        "0600 and 0700 keep user 1000 out, /tmp lets it in as owner; 253-byte, NUL and newline names EINVAL; {DEPTH} levels"
    ))
}

/// `redoxfsd` remembers the directories its walks went through
/// (`schemes/file/src/dir_names.rs`); a path never leads through a
/// directory that was renamed or removed since, nor to what took its name.
pub fn file_scheme_walks_follow_renamed_and_removed_directories() -> Outcome {
    let _fs = file_system()?;
    let read = |path: &str| rt::fs::read_to_string(path);
    ok("mkdir", mkdir("file:/tmp/w"))?;
    ok("mkdir", mkdir("file:/tmp/w/a"))?;
    ok("write", rt::fs::write("file:/tmp/w/a/f", b"one"))?;
    ensure!(ok("read", read("file:/tmp/w/a/f"))? == "one", "w/a/f");
    let dir = ok("open the directory", File::open("file:/tmp/w/a"))?;
    ok("rename it", rt::sys::frename(dir.fd(), "file:/tmp/w/b"))?;
    drop(dir);
    expect_err("the old path", File::open("file:/tmp/w/a/f"), sc::ENOENT)?;
    ensure!(ok("read", read("file:/tmp/w/b/f"))? == "one", "w/b/f after the rename");
    ok("a new directory under the old name", mkdir("file:/tmp/w/a"))?;
    expect_err("in the new directory", File::open("file:/tmp/w/a/f"), sc::ENOENT)?;
    ok("write", rt::fs::write("file:/tmp/w/a/f", b"two"))?;
    ok("unlink", rt::fs::remove_file("file:/tmp/w/b/f"))?;
    ok("rmdir", rt::fs::remove_dir("file:/tmp/w/b"))?;
    ok("a file under the removed directory's name", rt::fs::write("file:/tmp/w/b", b"x"))?;
    expect_err("a walk through that file", File::open("file:/tmp/w/b/f"), sc::ENOTDIR)?;
    ensure!(ok("read", read("file:/tmp/w/a/f"))? == "two", "w/a/f after the removal");
    ok("unlink", rt::fs::remove_file("file:/tmp/w/a/f"))?;
    ok("unlink", rt::fs::remove_file("file:/tmp/w/b"))?;
    ok("rmdir", rt::fs::remove_dir("file:/tmp/w/a"))?;
    ok("rmdir", rt::fs::remove_dir("file:/tmp/w"))?;
    expect_err("gone", File::open("file:/tmp/w/a"), sc::ENOENT)?;
    Ok(String::from(
        "a renamed directory's old path ENOENT, a new one under its name empty, a removed one's name a file",
    ))
}

pub fn file_scheme_survives_its_restart_and_open_unlinks() -> Outcome {
    let fs = file_system()?;
    let data = vec![0x5au8; 70_000];
    let mut file = ok("create", File::open_with("file:/home/root/kept", O_CREAT | O_RDWR | 0o644))?;
    ok("write", file.write_all(&data))?;
    ok("fsync", rt::sys::fsync(file.fd()))?;
    // Removed while open: still readable through the open file.
    ok("unlink while open", rt::fs::remove_file("file:/home/root/kept"))?;
    expect_err("the name is gone", File::open("file:/home/root/kept"), sc::ENOENT)?;
    ok("seek", file.seek(SeekFrom::Start(0)))?;
    let mut back = vec![0u8; data.len()];
    ok("read the unlinked file", file.read_exact(&mut back))?;
    ensure!(back == data, "the unlinked file's data changed");
    drop(file);
    ok("write again", rt::fs::write("file:/home/root/kept", b"still here"))?;
    let mut f = ok("open", File::open_with("file:/home/root/kept", O_RDWR))?;
    ok("fsync", rt::sys::fsync(f.fd()))?;
    drop(f);
    // The daemon goes away and comes back: the file is read from the disk.
    let (pci, disk, file_daemon) = fs;
    drop(file_daemon);
    let _again = start("redoxfsd", "file")?;
    let text = ok("read after the restart", rt::fs::read_to_string("file:/home/root/kept"))?;
    ensure!(text == "still here", "after the restart: {text:?}");
    f = ok("open", File::open_with("file:/home/root/kept", O_RDWR))?;
    drop(f);
    ok("unlink", rt::fs::remove_file("file:/home/root/kept"))?;
    drop((pci, disk));
    Ok(String::from("an unlinked open file reads on; fsynced data back after redoxfsd restarted"))
}

/// A small write `redoxfsd` keeps back waits past its file's close and
/// goes into the next open's transaction; when that open fails, both are
/// done apart (the write stays, the open gets its own error); a close
/// while an unlinked file is still open sends it at once.
pub fn file_scheme_keeps_a_closed_files_writes_for_the_next_open() -> Outcome {
    let _fs = file_system()?;
    let dir = "file:/tmp/behind";
    ok("mkdir", mkdir(dir))?;
    let write = |name: &str, text: &str| ok("write", rt::fs::write(&format!("{dir}/{name}"), text.as_bytes()));
    let read = |name: &str| ok("read back", rt::fs::read_to_string(&format!("{dir}/{name}")));
    write("a", "first")?;
    expect_err("an open that fails after it", File::open(&format!("{dir}/missing")), sc::ENOENT)?;
    ensure!(read("a")? == "first", "a: {:?}", read("a"));
    write("b", "second")?;
    expect_err("O_EXCL on it after it", File::open_with(&format!("{dir}/b"), O_CREAT | O_EXCL | O_WRONLY), sc::EEXIST)?;
    ensure!(read("b")? == "second", "b: {:?}", read("b"));
    for i in 0..20 {
        write(&format!("n{i}"), &format!("file {i}"))?;
    }
    for i in 0..20 {
        let text = read(&format!("n{i}"))?;
        ensure!(text == format!("file {i}"), "n{i}: {text:?}");
    }
    // An unlinked file still open: closes send what waits at once.
    let mut gone = ok("create", File::open_with(&format!("{dir}/gone"), O_CREAT | O_RDWR))?;
    ok("unlink it while open", rt::fs::remove_file(&format!("{dir}/gone")))?;
    write("c", "third")?;
    ok("write the unlinked file", gone.write_all(b"unlinked"))?;
    ok("seek", gone.seek(SeekFrom::Start(0)))?;
    let mut back = [0u8; 8];
    ok("read the unlinked file", gone.read_exact(&mut back))?;
    ensure!(&back == b"unlinked", "the unlinked file: {back:?}");
    drop(gone);
    ensure!(read("c")? == "third", "c: {:?}", read("c"));
    let listing = ok("list", rt::fs::read_to_string(dir))?;
    ensure!(!listing.lines().any(|l| l == "gone"), "the unlinked file is listed: {listing:?}");
    for name in ["a", "b", "c"].into_iter().map(String::from).chain((0..20).map(|i| format!("n{i}"))) {
        ok("unlink", rt::fs::remove_file(&format!("{dir}/{name}")))?;
    }
    ok("rmdir", rt::fs::remove_dir(dir))?;
    Ok(String::from(
        "written, closed, then a failed open (ENOENT, EEXIST): the bytes are there; 20 files one after the other; an unlinked open file",
    ))
}

/// Files made in one directory: about 4 ms a create and 5 ms an unlink in
/// a debug build under TCG on a slow host (3 to 12 ms before debug builds
/// were optimized), so the test is allowed longer than most.
const MANY: usize = 10_000;

pub fn file_scheme_holds_ten_thousand_files_in_a_directory() -> Outcome {
    // Minutes of RedoxFS's work, the same whatever the CPUs or firmware:
    // of the self-tests' three boots (BIOS and UEFI on 2 CPUs, BIOS on 4
    // for scheduling) only the 2-CPU BIOS boot runs it, so the suite stays
    // within CI's time.
    let cpus = crate::kschemes::number(&ok("read sys:cpu", rt::fs::read_to_string("sys:cpu"))?, "cpus")?;
    let firmware = ok("read sys:firmware", rt::fs::read_to_string("sys:firmware"))?;
    if cpus > 2 || firmware.trim_end() != "bios" {
        return Ok(format!("not run on {cpus} CPUs from {}: the 2-CPU BIOS boot runs it", firmware.trim_end()));
    }
    let _fs = file_system()?;
    ok("mkdir", mkdir("file:/tmp/many"))?;
    let started = rt::time::now();
    for n in 0..MANY {
        let made = File::open_with(&format!("file:/tmp/many/file-{n}"), O_CREAT | O_EXCL | O_WRONLY | 0o644);
        if let Err(e) = made {
            return Err(format!("creating file {n} of {MANY}: {e}"));
        }
    }
    let made_in = rt::time::now() - started;
    let listing = ok("list the directory", rt::fs::read_to_string("file:/tmp/many"))?;
    let mut names: Vec<&str> = listing.lines().collect();
    names.sort_unstable();
    let mut expected: Vec<String> = (0..MANY).map(|n| format!("file-{n}")).collect();
    expected.sort_unstable();
    ensure!(names.len() == MANY && names.iter().zip(&expected).all(|(a, b)| a == b), "{} names listed", names.len());
    for n in [0, 1, MANY / 2, MANY - 1] {
        ok("open one", File::open(&format!("file:/tmp/many/file-{n}")))?;
    }
    expect_err("one past them", File::open(&format!("file:/tmp/many/file-{MANY}")), sc::ENOENT)?;
    expect_err("rmdir while full", rt::fs::remove_dir("file:/tmp/many"), sc::ENOTEMPTY)?;
    let started = rt::time::now();
    for n in 0..MANY {
        ok("unlink", rt::fs::remove_file(&format!("file:/tmp/many/file-{n}")))?;
    }
    let removed_in = rt::time::now() - started;
    ok("rmdir", rt::fs::remove_dir("file:/tmp/many"))?;
    Ok(format!(
        "{MANY} files made in {} ms, listed, found, removed in {} ms",
        made_in.as_millis(),
        removed_in.as_millis()
    ))
}

/// Writers and records of [`file_scheme_takes_writers_from_several_processes`].
const WRITERS: usize = 4;
const RECORDS: usize = 100;
const RECORD: usize = 64;

/// Record `n` of writer `w`: its numbers, padded to [`RECORD`] bytes.
fn record(w: usize, n: usize) -> Vec<u8> {
    let mut line = format!("writer {w} record {n} ").into_bytes();
    line.resize(RECORD - 1, b'.');
    line.push(b'\n');
    line
}

pub fn file_scheme_takes_writers_from_several_processes() -> Outcome {
    let _fs = file_system()?;
    ok("create", File::open_with("file:/tmp/appended", O_CREAT | O_EXCL | O_WRONLY))?;
    ok("create", rt::fs::write("file:/tmp/halves", &vec![0u8; WRITERS * 32 * 1024]))?;
    let mut pids = Vec::new();
    for w in 0..WRITERS {
        pids.push(fork_child(move || {
            // Appends (each lands whole at the end, never over another's).
            let Ok(mut log) = File::open_with("file:/tmp/appended", O_WRONLY | O_APPEND) else { return 2 };
            let Ok(mut mine) = File::open_with("file:/tmp/halves", O_RDWR) else { return 3 };
            for n in 0..RECORDS {
                if log.write(&record(w, n)) != Ok(RECORD) {
                    return 4;
                }
                // And a quarter of another file each, in 1 KiB pieces.
                if n < 32 {
                    let at = (w * 32 + n) as u64 * 1024;
                    if mine.seek(SeekFrom::Start(at)).is_err() || mine.write_all(&[w as u8 + 1; 1024]).is_err() {
                        return 5;
                    }
                }
            }
            0
        })?);
    }
    for pid in pids {
        expect_exit("a writer (2, 3: open, 4: append, 5: write)", wait_for(pid, WAIT)?, 0)?;
    }
    let log = ok("read the appended file", rt::fs::read("file:/tmp/appended"))?;
    ensure!(log.len() == WRITERS * RECORDS * RECORD, "{} bytes appended", log.len());
    let mut next = [0usize; WRITERS];
    for chunk in log.chunks(RECORD) {
        let w = (0..WRITERS).find(|&w| next[w] < RECORDS && chunk == record(w, next[w]).as_slice());
        let Some(w) = w else {
            return Err(format!("a torn or out-of-order record: {:?}", String::from_utf8_lossy(chunk)));
        };
        next[w] += 1;
    }
    let halves = ok("read the shared file", rt::fs::read("file:/tmp/halves"))?;
    for (w, quarter) in halves.chunks(32 * 1024).enumerate() {
        ensure!(quarter.iter().all(|&b| b == w as u8 + 1), "writer {w}'s quarter is not all its own");
    }
    ok("unlink", rt::fs::remove_file("file:/tmp/appended"))?;
    ok("unlink", rt::fs::remove_file("file:/tmp/halves"))?;
    Ok(format!(
        "{WRITERS} processes: {} whole appended records in each one's order, and their own quarters",
        WRITERS * RECORDS
    ))
}

pub fn file_scheme_offsets_far_past_the_end() -> Outcome {
    let _fs = file_system()?;
    let mut file = ok("create", File::open_with("file:/tmp/sparse", O_CREAT | O_RDWR))?;
    const FAR: u64 = 1 << 30;
    ok("seek 1 GiB out", file.seek(SeekFrom::Start(FAR)))?;
    ok("write there", file.write_all(b"end"))?;
    ensure!(ok("fstat", file.stat())?.st_size == FAR + 3, "size after the far write");
    let free = ok("statvfs", file.statvfs())?.f_bfree;
    ensure!(free > 1000, "a sparse 1 GiB file used the disk up ({free} blocks free)");
    ok("seek to the middle", file.seek(SeekFrom::Start(FAR / 2)))?;
    let mut hole = vec![1u8; 8192];
    ok("read the hole", file.read_exact(&mut hole))?;
    ensure!(hole.iter().all(|&b| b == 0), "the hole is not zeros");
    ok("seek", file.seek(SeekFrom::Start(FAR)))?;
    let mut end = [0u8; 8];
    ensure!(ok("read the end", file.read(&mut end))? == 3 && &end[..3] == b"end", "the far bytes: {end:?}");
    expect_err("a negative offset", rt::sys::lseek(file.fd(), -1, sc::SEEK_SET), sc::EINVAL)?;
    expect_err("past i64", rt::sys::lseek(file.fd(), isize::MAX, sc::SEEK_CUR), sc::EINVAL)?;
    ok("truncate", file.set_len(0))?;
    ensure!(ok("fstat", file.stat())?.st_size == 0, "size after truncating");
    ok("unlink", rt::fs::remove_file("file:/tmp/sparse"))?;
    Ok(String::from("a write 1 GiB out makes a sparse file with a hole of zeros; bad seeks EINVAL"))
}

/// Byte `i` of the read-ahead test's file: differs per offset in every page.
fn ahead_byte(i: usize) -> u8 {
    (i % 251) as u8 ^ (i >> 12) as u8
}

/// Read `len` bytes from `file` into `got` in `piece`-byte reads.
fn read_pieces(file: &mut File, got: &mut Vec<u8>, len: usize, piece: usize) -> Result<(), String> {
    let mut buf = vec![0u8; piece];
    let end = got.len() + len;
    while got.len() < end {
        let want = piece.min(end - got.len());
        let n = ok("read", file.read(&mut buf[..want]))?;
        ensure!(n > 0, "a read gave nothing at {}", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// Batches of open, read and close on one file (as `cat` makes them).
const BATCHES: usize = 2_000;

/// A chain that closes its file must leave nothing for its handle in the
/// kernel: the read-ahead record its open made stayed there for the
/// daemon's life (a daemon never gives a handle number twice), one per
/// `cat` of a file; the fuzzer found the kernel heap 114 KB bigger after
/// 1.5 million calls.
pub fn file_scheme_batches_leave_nothing_in_the_kernel() -> Outcome {
    let _fs = file_system()?;
    ok("write", rt::fs::write("file:/tmp/batched", b"batched reads"))?;
    let batched = || -> Result<(), String> {
        let mut buf = [0u8; 16];
        let mut batch = Batch::new();
        batch.open("file:/tmp/batched", O_RDONLY);
        batch.read(On::Opened, &mut buf);
        batch.close(On::Opened);
        let results = ok("submit", batch.submit())?;
        let read = results.get(1).and_then(|r| r.as_ref().ok()).copied();
        ensure!(results.len() == 3 && results.iter().all(|r| r.is_ok()) && read == Some(13), "results {results:?}");
        ensure!(&buf[..13] == b"batched reads", "read {buf:?}");
        Ok(())
    };
    // The first one makes what every chain reuses.
    batched()?;
    let before = memory_field("heap_used")?;
    for _ in 0..BATCHES {
        batched()?;
    }
    let after = memory_field("heap_used")?;
    ok("unlink", rt::fs::remove_file("file:/tmp/batched"))?;
    ensure!(after - before < 64 * 1024, "the kernel heap grew from {before} to {after} bytes over {BATCHES} batches");
    Ok(format!("{BATCHES} batches of open, read and close; kernel heap {before} -> {after} bytes"))
}

/// The kernel reads ahead on `file:` handles (README "Files that stay",
/// docs/architecture.md §3.12): whatever it kept, the offset, writes from
/// anywhere and the end of the file must look exactly as without it.
pub fn file_scheme_reads_ahead_as_if_it_did_not() -> Outcome {
    let _fs = file_system()?;
    const SIZE: usize = 300_000;
    let mut model: Vec<u8> = (0..SIZE).map(ahead_byte).collect();
    ok("write a file", rt::fs::write("file:/tmp/ahead", &model))?;
    let mut reader = ok("open it", File::open_with("file:/tmp/ahead", O_RDWR))?;
    let mut got = Vec::new();
    // Small reads following on: from the second, the kernel reads ahead.
    read_pieces(&mut reader, &mut got, 3 * 4096, 4096)?;
    ensure!(got[..] == model[..got.len()], "4 KiB reads differ");
    let at = ok("tell", reader.seek(SeekFrom::Current(0)))?;
    ensure!(at == got.len() as u64, "the offset after three reads is {at}, not {}", got.len());
    read_pieces(&mut reader, &mut got, 2 * 4096, 4096)?;
    // Another process writes inside what was read ahead: the next read sees it.
    let there = got.len() + 4096;
    let pid = fork_child(move || {
        let Ok(mut w) = File::open_with("file:/tmp/ahead", O_WRONLY) else { return 2 };
        if w.seek(SeekFrom::Start(there as u64)).is_err() || w.write_all(&[0xAA; 100]).is_err() {
            return 3;
        }
        0
    })?;
    expect_exit("the writer (2: open, 3: write)", wait_for(pid, WAIT)?, 0)?;
    model[there..there + 100].fill(0xAA);
    read_pieces(&mut reader, &mut got, 3 * 4096, 4096)?;
    ensure!(got[..] == model[..got.len()], "a write by another process inside the part read ahead did not show");
    // A write through the reading file lands at its own offset.
    let here = got.len();
    ok("write through the reader", reader.write_all(b"HERE"))?;
    model[here..here + 4].copy_from_slice(b"HERE");
    got.extend_from_slice(b"HERE");
    read_pieces(&mut reader, &mut got, 4 * 4096, 4096)?;
    ensure!(got[..] == model[..got.len()], "reads after a write through the reader differ");
    // Back by a relative seek, then odd sizes, then 4 KiB again.
    ok("seek back", reader.seek(SeekFrom::Current(-5000)))?;
    got.truncate(got.len() - 5000);
    for piece in [100, 4096, 3000, 1, 4096, 4096, 777] {
        read_pieces(&mut reader, &mut got, piece * 3, piece)?;
    }
    ensure!(got[..] == model[..got.len()], "reads of mixed sizes after a relative seek differ");
    // Truncated by another file: nothing read ahead survives it.
    let cut = got.len() + 6000;
    let other = ok("open again", File::open_with("file:/tmp/ahead", O_WRONLY))?;
    ok("truncate", other.set_len(cut))?;
    model.truncate(cut);
    let mut rest = vec![0u8; 4096];
    let mut tail = 0;
    loop {
        let n = ok("read to the end", reader.read(&mut rest))?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&rest[..n]);
        tail += 1;
        ensure!(tail < 10, "reads go on past the truncated end");
    }
    ensure!(got == model, "the read to the truncated end got {} bytes, not {}", got.len(), model.len());
    // A file shared by fork: the child's reads move the parent's offset.
    let mut shared = ok("open", File::open("file:/tmp/ahead"))?;
    let mut first = Vec::new();
    read_pieces(&mut shared, &mut first, 2 * 4096, 4096)?;
    let fd = shared.fd();
    let pid = fork_child(move || {
        let mut buf = [0u8; 4096];
        match rt::sys::read(fd, &mut buf) {
            Ok(4096) if buf.iter().enumerate().all(|(i, &b)| b == ahead_byte(8192 + i)) => 0,
            _ => 2,
        }
    })?;
    expect_exit("the child's read of the shared file (2: wrong bytes)", wait_for(pid, WAIT)?, 0)?;
    let at = ok("tell", shared.seek(SeekFrom::Current(0)))?;
    ensure!(at == 3 * 4096, "after the child's read the shared offset is {at}");
    drop((reader, other, shared));
    ok("unlink", rt::fs::remove_file("file:/tmp/ahead"))?;
    Ok(String::from(
        "4 KiB reads read ahead; the offset, another process's write, a write through the reader, relative seeks, \
         odd sizes, a truncation and a fork-shared offset all as without",
    ))
}

pub fn file_scheme_fills_up_with_enospc_and_stays_consistent() -> Outcome {
    let _pci = start("pcid", "pci")?;
    let _disk = start("virtio-blkd", "disk")?;
    let small = start_with("redoxfsd", &["disk:2p2", "small"], "small")?;
    // Bytes RedoxFS cannot compress (it compresses records with LZ4).
    let mut rng = xorshift::Rng::new(11);
    let chunk: Vec<u8> = (0..64 * 1024).map(|_| rng.next_u64() as u8).collect();
    let fill = ok("create", File::open_with("small:/fill", O_CREAT | O_RDWR))?;
    let mut written = 0usize;
    let mut full = false;
    // The file system is 4 MiB: far fewer writes than this fill it.
    for _ in 0..256 {
        match rt::sys::write(fill.fd(), &chunk) {
            Ok(n) => written += n,
            Err(e) if e.errno == sc::ENOSPC => {
                full = true;
                break;
            }
            Err(e) => return Err(format!("a write after {written} bytes: {e}")),
        }
    }
    ensure!(full && written > 1 << 20, "no ENOSPC after {written} bytes");
    // Small files until not even one more fits.
    let mut made = 0;
    for n in 0..4096 {
        let mut file = match File::open_with(&format!("small:/s{n}"), O_CREAT | O_WRONLY) {
            Ok(file) => file,
            Err(e) if e.errno == sc::ENOSPC => break,
            Err(e) => return Err(format!("small file {n}: {e}")),
        };
        made += 1;
        match file.write_all(b"x") {
            Ok(()) => {}
            Err(e) if e.errno == sc::ENOSPC => break,
            Err(e) => return Err(format!("writing small file {n}: {e}")),
        }
    }
    ok("fsync", fill.sync())?;
    let free = ok("statvfs", fill.statvfs())?.f_bfree;
    ensure!(free < 64, "{free} blocks free when full");
    drop(fill);
    // What was acknowledged is all there, after the daemon came back too.
    let check = |when: &str| -> Result<(), String> {
        let back = ok("read the filler", rt::fs::read("small:/fill"))?;
        ensure!(back.len() == written, "{when}: the filler has {} bytes, not {written}", back.len());
        ensure!(back.chunks(chunk.len()).all(|c| c == &chunk[..c.len()]), "{when}: the filler's bytes changed");
        let listing = ok("list", rt::fs::read_to_string("small:/"))?;
        let mut names: Vec<&str> = listing.lines().filter(|name| name.starts_with('s')).collect();
        names.sort_unstable();
        let mut expected: Vec<String> = (0..made).map(|n| format!("s{n}")).collect();
        expected.sort_unstable();
        ensure!(names == expected, "{when}: {made} small files made, but listed: {names:?}");
        Ok(())
    };
    check("when full")?;
    drop(small);
    let _again = start_with("redoxfsd", &["disk:2p2", "small"], "small")?;
    check("after a restart")?;
    // Space comes back when the filler goes.
    ok("unlink", rt::fs::remove_file("small:/fill"))?;
    ok("write after freeing", rt::fs::write("small:/again", &chunk))?;
    Ok(format!(
        "ENOSPC after {} KiB and {made} small files; all of it there, also after a restart; space back after unlink",
        written >> 10
    ))
}
