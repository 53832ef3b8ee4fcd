//! `disk:`, the virtio block driver (README "Disks"), on the scratch disk
//! the self-test machine attaches (`disk:1`, 16 MiB, fresh every run;
//! `disk:0` holds the boot's file system):
//! data written reads back, offsets at and past the end give EOF,
//! `ENOSPC` or a short write rather than a wrap, bad requests get an
//! errno, and several processes keep requests in flight at once. The
//! third disk (`disk:2`, also fresh every run) has a GUID partition table
//! of three partitions, served as `disk:2p0` to `disk:2p2` (the third
//! holds a small RedoxFS, for `filesystem.rs` to fill up), and sits
//! behind QEMU's `blkdebug`, which fails every request on two of its
//! sectors: a device error must fail that request only. A self-test boot
//! runs no `init.rc`, so each test starts `pcid` and `virtio-blkd` itself.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use rt::abi::syscall::{self as sc, O_RDONLY, O_RDWR};
use rt::fs::{File, SeekFrom};

use crate::daemons::{Daemon, start};
use crate::support::{Outcome, WAIT, ensure, expect_err, expect_exit, fork_child, ok, run_child, wait_for};

/// The scratch disk's size (mk/src/check.rs attaches it).
const SCRATCH: u64 = 16 << 20;

/// A pattern that differs per offset and per `seed`.
fn pattern(seed: u8, offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| ((offset + i) / 7) as u8 ^ seed.wrapping_mul(31) ^ (i as u8)).collect()
}

/// `pcid`, then the driver on it.
fn driver() -> Result<(Daemon, Daemon), String> {
    let pci = start("pcid", "pci")?;
    let disk = start("virtio-blkd", "disk")?;
    Ok((pci, disk))
}

fn open_disk() -> Result<File, String> {
    ok("open disk:1", File::open_with("disk:1", O_RDWR))
}

pub fn disk_reads_back_what_was_written() -> Outcome {
    let _driver = driver()?;
    let listing = ok("read disk:", rt::fs::read_to_string("disk:"))?;
    ensure!(listing == "0\n1\n2\n2p0\n2p1\n2p2\n", "disk: lists {listing:?}");
    let mut disk = open_disk()?;
    let stat = ok("fstat", disk.stat())?;
    ensure!(stat.st_size == SCRATCH, "size {} (want {SCRATCH})", stat.st_size);
    ensure!(ok("fpath", disk.path())? == "disk:1", "fpath {:?}", disk.path());
    // 64 KiB at 1 MiB, flushed, then read back whole and in odd pieces.
    let at = 1 << 20;
    let data = pattern(1, at, 64 << 10);
    ok("seek", disk.seek(SeekFrom::Start(at)))?;
    ok("write", disk.write_all(&data))?;
    ok("fsync", rt::sys::fsync(disk.fd()))?;
    let mut back = vec![0u8; data.len()];
    ok("seek back", disk.seek(SeekFrom::Start(at)))?;
    ok("read", disk.read_exact(&mut back))?;
    ensure!(back == data, "the data read back differs");
    let mut piece = [0u8; 1000];
    ok("seek to an odd offset", disk.seek(SeekFrom::Start(at + 777)))?;
    ok("an unaligned read", disk.read_exact(&mut piece))?;
    ensure!(piece[..] == data[777..1777], "an unaligned read differs");
    // A second file sees the same bytes.
    let mut other = ok("open disk:1 read-only", File::open_with("disk:1", O_RDONLY))?;
    ok("seek", other.seek(SeekFrom::Start(at + 4096)))?;
    ok("read", other.read_exact(&mut piece))?;
    ensure!(piece[..] == data[4096..5096], "another file sees other bytes");
    expect_err("a write on a read-only file", rt::sys::write(other.fd(), &[0u8; 512]), sc::EBADF)?;
    Ok(format!("{} MiB disk; 64 KiB written, flushed, read back whole and unaligned", stat.st_size >> 20))
}

pub fn disk_read_ahead_never_hides_a_write() -> Outcome {
    let _driver = driver()?;
    let at = 4 << 20;
    let old = pattern(3, at, 256 << 10);
    let mut writer = open_disk()?;
    ok("seek", writer.seek(SeekFrom::Start(at)))?;
    ok("write", writer.write_all(&old))?;
    // Small reads from the start: the driver reads ahead.
    let mut reader = ok("open disk:1 read-only", File::open_with("disk:1", O_RDONLY))?;
    ok("seek", reader.seek(SeekFrom::Start(at)))?;
    let mut piece = vec![0u8; 4096];
    ok("read", reader.read_exact(&mut piece))?;
    ensure!(piece == old[..4096], "the first small read differs");
    // The second, following on, reads ahead from here.
    ok("read on", reader.read_exact(&mut piece))?;
    ensure!(piece == old[4096..8192], "the second small read differs");
    // Another file writes in the part read ahead; the reader must see it.
    let new = pattern(4, at + 8192, 4096);
    ok("seek", writer.seek(SeekFrom::Start(at + 8192)))?;
    ok("write inside the part read ahead", writer.write_all(&new))?;
    ok("read on", reader.read_exact(&mut piece))?;
    ensure!(piece == new, "a read after a write elsewhere gave the bytes from before it");
    // Sequential small reads through a whole 256 KiB, in odd sizes.
    ok("seek", reader.seek(SeekFrom::Start(at)))?;
    let mut whole = Vec::new();
    let mut odd = vec![0u8; 3000];
    while whole.len() < old.len() {
        let want = odd.len().min(old.len() - whole.len());
        let n = ok("read", reader.read(&mut odd[..want]))?;
        ensure!(n > 0, "a read gave nothing after {} bytes", whole.len());
        whole.extend_from_slice(&odd[..n]);
    }
    let mut expected = old.clone();
    expected[8192..12288].copy_from_slice(&new);
    ensure!(whole == expected, "256 KiB read in 3000-byte pieces differ");
    // Half way through the bytes read ahead (128 KiB), the driver asks for
    // the next ones; a write there while they are on their way shows too.
    ok("seek", reader.seek(SeekFrom::Start(at)))?;
    let mut got = Vec::new();
    for _ in 0..20 {
        ok("read", reader.read_exact(&mut piece))?;
        got.extend_from_slice(&piece);
    }
    let later = 4096 + (128 << 10) + 8192;
    let newer = pattern(5, at + later as u64, 4096);
    ok("seek", writer.seek(SeekFrom::Start(at + later as u64)))?;
    ok("write where the next bytes are being read ahead", writer.write_all(&newer))?;
    while got.len() < old.len() {
        ok("read on", reader.read_exact(&mut piece))?;
        got.extend_from_slice(&piece);
    }
    expected[later..later + 4096].copy_from_slice(&newer);
    ensure!(got == expected, "a write while the driver was reading ahead there did not show");
    Ok(String::from(
        "a write through another file shows in the next read, also while read ahead; 256 KiB in 3000-byte reads all right",
    ))
}

/// Reads `len` bytes at `at` of `disk:1` through a file of its own.
fn read_fresh(at: u64, len: usize) -> Result<Vec<u8>, String> {
    let mut disk = ok("open disk:1 read-only", File::open_with("disk:1", O_RDONLY))?;
    ok("seek", disk.seek(SeekFrom::Start(at)))?;
    let mut back = vec![0u8; len];
    ok("read", disk.read_exact(&mut back))?;
    Ok(back)
}

pub fn disk_small_writes_kept_back_are_seen_and_kept() -> Outcome {
    let (_pci, disk) = driver()?;
    // 256 KiB in 4 KiB writes, kept back 128 KiB at a time: another file
    // reads every few of them back at once, without an fsync.
    let at = 8 << 20;
    let data = pattern(6, at, 256 << 10);
    let mut writer = open_disk()?;
    ok("seek", writer.seek(SeekFrom::Start(at)))?;
    for (i, piece) in data.chunks(4096).enumerate() {
        ok("a 4 KiB write", writer.write_all(piece))?;
        if i % 5 == 0 {
            let back = read_fresh(at + (i * 4096) as u64, 4096)?;
            ensure!(back == piece, "write {i} (4 KiB at {}) did not show in another file", at + (i * 4096) as u64);
        }
    }
    ensure!(read_fresh(at, data.len())? == data, "256 KiB of 4 KiB writes read back differ");
    // Its own file reads what it wrote, after a write kept back there too.
    let tail = pattern(7, at + (1 << 20), 1024);
    ok("seek", writer.seek(SeekFrom::Start(at + (1 << 20))))?;
    ok("write", writer.write_all(&tail))?;
    ok("seek back", writer.seek(SeekFrom::Start(at + (1 << 20))))?;
    let mut back = vec![0u8; tail.len()];
    ok("read through the writer", writer.read_exact(&mut back))?;
    ensure!(back == tail, "the writer read back other bytes");
    // Kept back, then the file closed: the bytes go to the disk anyway.
    let closed = pattern(8, at + (2 << 20), 8192);
    ok("seek", writer.seek(SeekFrom::Start(at + (2 << 20))))?;
    ok("write", writer.write_all(&closed))?;
    drop(writer);
    // Kept back by a file left open and never synced, and no call on the
    // disk after it: on the disk once `BEHIND_FOR` (1 s) passed. Killing
    // the driver then loses nothing.
    let waited = pattern(9, at + (3 << 20), 4096);
    let mut idle = open_disk()?;
    ok("seek", idle.seek(SeekFrom::Start(at + (3 << 20))))?;
    ok("write", idle.write_all(&waited))?;
    rt::time::sleep(core::time::Duration::from_millis(1500));
    drop(disk);
    let disk = start("virtio-blkd", "disk")?;
    ensure!(read_fresh(at, data.len())? == data, "the 4 KiB writes are not on the disk after a restart");
    ensure!(read_fresh(at + (2 << 20), closed.len())? == closed, "what a closed file kept back was lost");
    ensure!(read_fresh(at + (3 << 20), waited.len())? == waited, "what waited 1 s was lost when the driver died");
    // Kept back, then `disk:` itself synced (init's sync before it stops
    // the driver): on the disk when the fsync returns.
    let synced = pattern(10, at + (4 << 20), 4096);
    let mut other = open_disk()?;
    ok("seek", other.seek(SeekFrom::Start(at + (4 << 20))))?;
    ok("write", other.write_all(&synced))?;
    let listing = ok("open disk:", File::open_with("disk:", O_RDONLY | sc::O_DIRECTORY))?;
    ok("fsync disk:", listing.sync())?;
    drop(disk);
    let _disk = start("virtio-blkd", "disk")?;
    ensure!(read_fresh(at + (4 << 20), synced.len())? == synced, "an fsync of disk: did not write what was kept back");
    drop((idle, other, listing));
    Ok(String::from(
        "4 KiB writes seen at once by other files and the writer; kept across a close, 1 s and an fsync of disk:, then a kill",
    ))
}

pub fn disk_ends_and_bad_requests_get_errors() -> Outcome {
    let _driver = driver()?;
    let mut disk = open_disk()?;
    let mut buf = [0u8; 4096];
    // At and past the end: EOF, not a wrap to sector 0.
    ok("seek to the end", disk.seek(SeekFrom::Start(SCRATCH)))?;
    ensure!(ok("read at the end", disk.read(&mut buf))? == 0, "a read at the end gave bytes");
    expect_err("a write at the end", rt::sys::write(disk.fd(), &buf), sc::ENOSPC)?;
    ok("seek far past the end", disk.seek(SeekFrom::Start(1 << 60)))?;
    ensure!(ok("read far past the end", disk.read(&mut buf))? == 0, "a read far past the end gave bytes");
    expect_err("a write far past the end", rt::sys::write(disk.fd(), &buf), sc::ENOSPC)?;
    // Across the end: short.
    ok("seek", disk.seek(SeekFrom::Start(SCRATCH - 1024)))?;
    ensure!(ok("read across the end", disk.read(&mut buf))? == 1024, "a read across the end was not short");
    ok("seek", disk.seek(SeekFrom::Start(SCRATCH - 1024)))?;
    ensure!(ok("write across the end", disk.write(&buf))? == 1024, "a write across the end was not short");
    expect_err("a negative seek", rt::sys::lseek(disk.fd(), -1, sc::SEEK_SET), sc::EINVAL)?;
    for bad in
        ["disk:3", "disk:2p3", "disk:2p", "disk:p0", "disk:01", "disk:-1", "disk:1/x", "disk:99999999999999999999999"]
    {
        expect_err(bad, rt::sys::open(bad, O_RDWR), sc::ENOENT)?;
    }
    let status = run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        match (rt::sys::open("disk:1", O_RDONLY), rt::fs::read_to_string("disk:")) {
            (Err(err), Ok(_)) if err.errno == sc::EACCES => 0,
            _ => 1,
        }
    })?;
    expect_exit("disk:1 as user 1000", status, 0)?;
    Ok(String::from("EOF at and past the end, ENOSPC, short across it; EINVAL for a negative seek; users EACCES"))
}

/// Bytes at `at` in `disk` set to `bytes`, in the model too.
fn write_at(disk: &mut File, model: &mut [u8], base: u64, at: u64, bytes: &[u8]) -> Result<(), String> {
    ok("seek", disk.seek(SeekFrom::Start(base + at)))?;
    ok("write", disk.write_all(bytes))?;
    model[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    Ok(())
}

pub fn disk_writes_of_any_offset_and_length_keep_what_is_around() -> Outcome {
    let _driver = driver()?;
    let base = 6 << 20;
    let mut model = pattern(11, base, 512 << 10);
    let mut disk = open_disk()?;
    ok("seek", disk.seek(SeekFrom::Start(base)))?;
    ok("write", disk.write_all(&model))?;
    ok("fsync", disk.sync())?;
    // Inside one sector, across two, from a sector's start, to one's end:
    // the rest of each sector is read and kept.
    write_at(&mut disk, &mut model, base, 100, b"hello")?;
    write_at(&mut disk, &mut model, base, 1000, &[0xEE; 700])?;
    write_at(&mut disk, &mut model, base, 2048, &[0x11; 100])?;
    write_at(&mut disk, &mut model, base, 3000 + 72, &[0x22; 1000 - 72])?;
    // Small writes that go on from an odd offset join; the part they
    // make covers its first and last sectors in part.
    for i in 0..40u8 {
        let at = 8192 + 3 + u64::from(i) * 1001;
        write_at(&mut disk, &mut model, base, at, &[i; 1001])?;
    }
    // 300 KiB from an odd offset (short writes of 128 KiB at most).
    let big = pattern(12, base, 300 << 10);
    write_at(&mut disk, &mut model, base, (100 << 10) + 7, &big)?;
    // Another file reads them all (its read waits for what is kept back).
    ensure!(read_fresh(base, model.len())? == model, "what was around the odd writes changed");
    // Still there once flushed and the driver started again.
    ok("fsync", disk.sync())?;
    drop(disk);
    drop(_driver);
    let _driver = driver()?;
    ensure!(read_fresh(base, model.len())? == model, "the odd writes differ after the driver started again");
    Ok(String::from(
        "writes of 5, 700, 100, 928 and 40 x 1,001 bytes at odd offsets and 300 KiB from one: \
         the bytes around them kept, also after a restart",
    ))
}

/// Writers per run, each with its own region.
const WRITERS: u8 = 4;
/// Bytes each writer writes, in requests of `CHUNK`.
const REGION: u64 = 2 << 20;
const CHUNK: usize = 128 << 10;

pub fn disk_serves_many_callers_at_once() -> Outcome {
    let _driver = driver()?;
    let mut pids = Vec::new();
    for w in 0..WRITERS {
        let pid = fork_child(move || {
            let Ok(mut disk) = File::open_with("disk:1", O_RDWR) else { return 2 };
            let base = (4 << 20) + u64::from(w) * REGION;
            for round in 0..(REGION / CHUNK as u64) {
                let at = base + round * CHUNK as u64;
                let data = pattern(w + 10, at, CHUNK);
                if disk.seek(SeekFrom::Start(at)).is_err() || disk.write_all(&data).is_err() {
                    return 3;
                }
                let mut back = vec![0u8; CHUNK];
                if disk.seek(SeekFrom::Start(at)).is_err() || disk.read_exact(&mut back).is_err() {
                    return 4;
                }
                if back != data {
                    return 6;
                }
            }
            if rt::sys::fsync(disk.fd()).is_err() { 5 } else { 0 }
        })?;
        pids.push(pid);
    }
    for pid in pids {
        let status = wait_for(pid, core::time::Duration::from_secs(60))?;
        expect_exit("a writer (3: write failed, 4: read failed, 6: read other data)", status, 0)?;
    }
    // Everything each wrote is there, read by one more process.
    let mut disk = open_disk()?;
    let mut back = vec![0u8; REGION as usize];
    for w in 0..WRITERS {
        let base = (4 << 20) + u64::from(w) * REGION;
        ok("seek", disk.seek(SeekFrom::Start(base)))?;
        ok("read", disk.read_exact(&mut back))?;
        ensure!(back == pattern(w + 10, base, REGION as usize), "writer {w}'s region differs");
    }
    Ok(format!(
        "{WRITERS} processes wrote and read {} MiB each in {} KiB requests; all there",
        REGION >> 20,
        CHUNK >> 10
    ))
}

/// The partitioned disk mk attaches (mk/src/disk.rs `PARTED_*`): its
/// partitions' first sectors and lengths, the text at the start of the
/// second, and the sectors where every read, and every write, fails.
const PARTS: [(u64, u64); 3] = [(2048, 8192), (10240, 8192), (18432, 8192)];
const PART_TEXT: &[u8] = b"the second partition of disk:2\n";
const BAD_READ: u64 = 30000;
const BAD_WRITE: u64 = 30008;
const SECTOR: u64 = 512;

pub fn disk_partitions_are_entries_of_their_own() -> Outcome {
    let _driver = driver()?;
    let mut second = ok("open disk:2p1", File::open_with("disk:2p1", O_RDWR))?;
    ensure!(ok("fpath", second.path())? == "disk:2p1", "fpath {:?}", second.path());
    let size = ok("fstat", second.stat())?.st_size;
    ensure!(size == PARTS[1].1 * SECTOR, "disk:2p1 is {size} bytes");
    let mut start = vec![0u8; PART_TEXT.len()];
    ok("read its start", second.read_exact(&mut start))?;
    ensure!(start == PART_TEXT, "disk:2p1 starts with {start:?}");
    // Its end is the partition's: EOF and ENOSPC there, not the next bytes.
    ok("seek to its end", second.seek(SeekFrom::Start(size)))?;
    let mut buf = [0u8; 1024];
    ensure!(ok("read at its end", second.read(&mut buf))? == 0, "a read at the partition's end gave bytes");
    expect_err("a write at its end", rt::sys::write(second.fd(), &buf), sc::ENOSPC)?;
    ok("seek", second.seek(SeekFrom::Start(size - 512)))?;
    ensure!(ok("write across its end", second.write(&buf))? == 512, "a write across the end was not short");
    // What goes into the first partition lands at its place on the disk.
    let data = pattern(9, 0, 8192);
    let mut first = ok("open disk:2p0", File::open_with("disk:2p0", O_RDWR))?;
    ensure!(ok("fstat", first.stat())?.st_size == PARTS[0].1 * SECTOR, "disk:2p0's size");
    ok("write to disk:2p0", first.write_all(&data))?;
    ok("fsync", first.sync())?;
    let mut whole = ok("open disk:2", File::open_with("disk:2", O_RDONLY))?;
    ok("seek", whole.seek(SeekFrom::Start(PARTS[0].0 * SECTOR)))?;
    let mut back = vec![0u8; data.len()];
    ok("read through disk:2", whole.read_exact(&mut back))?;
    ensure!(back == data, "disk:2p0's bytes are not at sector {} of disk:2", PARTS[0].0);
    Ok(format!(
        "disk:2p0 ({} KiB) and disk:2p1 ({} KiB) at their sectors, ending where they end",
        PARTS[0].1 / 2,
        PARTS[1].1 / 2
    ))
}

pub fn disk_device_error_fails_that_request_only() -> Outcome {
    let _driver = driver()?;
    let mut disk = ok("open disk:2", File::open_with("disk:2", O_RDWR))?;
    let mut buf = vec![0u8; 4096];
    for round in 0..3 {
        ok("seek to the bad sector", disk.seek(SeekFrom::Start(BAD_READ * SECTOR)))?;
        expect_err("a read of the bad sector", rt::sys::read(disk.fd(), &mut buf), sc::EIO)?;
        ok("seek before it", disk.seek(SeekFrom::Start((BAD_READ - 16) * SECTOR)))?;
        ensure!(ok("a read before it", disk.read(&mut buf))? == buf.len(), "round {round}: a short read next to it");
        // A small write is kept back (answered at once): its failure is
        // the answer to the file's next write or fsync once it reached
        // the device (a read waits for that), once.
        ok("seek to the bad write sector", disk.seek(SeekFrom::Start(BAD_WRITE * SECTOR)))?;
        ensure!(ok("a write of the bad sector", disk.write(&buf[..512]))? == 512, "round {round}: not kept back");
        ok("seek past it", disk.seek(SeekFrom::Start((BAD_WRITE + 8) * SECTOR)))?;
        if round == 1 {
            expect_err("the fsync after it", rt::sys::fsync(disk.fd()), sc::EIO)?;
        } else {
            ok("a read after it", disk.read(&mut buf[..512]))?;
            ok("seek past it", disk.seek(SeekFrom::Start((BAD_WRITE + 8) * SECTOR)))?;
            expect_err("the write after it", rt::sys::write(disk.fd(), &buf), sc::EIO)?;
        }
        ensure!(ok("a write past it", disk.write(&buf))? == buf.len(), "round {round}: a short write next to it");
        ok("fsync", disk.sync())?;
        // 64 KiB or more go to the device at once, and fail at once.
        let mut big = vec![0u8; 128 << 10];
        ok("seek", disk.seek(SeekFrom::Start((BAD_WRITE - 8) * SECTOR)))?;
        expect_err("a 128 KiB write over the bad sector", rt::sys::write(disk.fd(), &big), sc::EIO)?;
        ok("seek", disk.seek(SeekFrom::Start(BAD_READ * SECTOR + (1 << 20))))?;
        ensure!(ok("a 128 KiB write elsewhere", disk.write(&big))? == big.len(), "round {round}: short");
        big.clear();
    }
    // Small writes the kernel posts (the room a write's answer told): the
    // one over the bad sector is answered at once, and its failure is
    // the answer to the fsync after them.
    ok("seek", disk.seek(SeekFrom::Start((BAD_WRITE - 16) * SECTOR)))?;
    for i in 0..4 {
        ensure!(ok("a 4 KiB write", disk.write(&buf))? == buf.len(), "write {i} over the bad sector was short");
    }
    expect_err("the fsync after the posted writes", rt::sys::fsync(disk.fd()), sc::EIO)?;
    ok("a second fsync", disk.sync())?;
    // Another file on the same disk, with requests in flight meanwhile,
    // never sees the errors.
    let reader = fork_child(|| {
        let Ok(mut other) = File::open_with("disk:2", O_RDONLY) else { return 2 };
        let mut buf = vec![0u8; 64 << 10];
        for _ in 0..40 {
            if other.seek(SeekFrom::Start(0)).is_err() || other.read(&mut buf) != Ok(buf.len()) {
                return 1;
            }
        }
        0
    })?;
    for _ in 0..20 {
        ok("seek", disk.seek(SeekFrom::Start(BAD_READ * SECTOR)))?;
        expect_err("the bad sector again", rt::sys::read(disk.fd(), &mut buf), sc::EIO)?;
    }
    expect_exit("the other reader", wait_for(reader, WAIT)?, 0)?;
    ok("fsync after the errors", disk.sync())?;
    Ok(String::from(
        "reads of sector 30000 and writes of 30008 get EIO, each time (a small write's at the next write or fsync); next to them, and from another file, all works",
    ))
}
