//! `file:`, RedoxFS on the boot's data disk (README "Files that stay"):
//! files and directories, their sizes, owners and modes, permissions
//! checked against the caller, bad names refused, a file removed while
//! open, and what was written surviving the daemon's restart. A self-test
//! boot runs no `init.rc`, so each test starts `pcid`, `virtio-blkd` and
//! `redoxfsd` on `disk:0` (which `cargo mk` formats fresh for every boot).

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use rt::abi::syscall::{self as sc, MODE_DIR, MODE_FILE, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_WRONLY};
use rt::fs::{File, SeekFrom};

use crate::daemons::{Daemon, start};
use crate::support::{Outcome, ensure, expect_err, expect_exit, ok, run_child};

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
        // /tmp is 1777: anyone may create there, and owns what they make.
        match File::open_with("file:/tmp/u1000", O_CREAT | O_WRONLY) {
            Ok(f) if f.stat().map(|s| s.st_uid == 1000).unwrap_or(false) => 0,
            _ => 5,
        }
    })?;
    expect_exit("user 1000 (3: read root's 0600 file, 4: made a file in root's directory, 5: /tmp)", status, 0)?;
    let long = format!("file:/tmp/{}", "n".repeat(253));
    expect_err("a 253-byte name", File::open_with(&long, O_CREAT | O_WRONLY), sc::EINVAL)?;
    ok("a 252-byte name", File::open_with(&long[..long.len() - 1], O_CREAT | O_WRONLY))?;
    expect_err("a name with NUL", File::open_with("file:/tmp/a\0b", O_CREAT | O_WRONLY), sc::EINVAL)?;
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
        "0600 and 0700 keep user 1000 out, /tmp lets it in as owner; 253-byte and NUL names EINVAL; {DEPTH} levels"
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
