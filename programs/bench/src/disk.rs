//! Disk benchmarks (README "Files that stay"), the peers of the Linux
//! harness's (`mk/src/linux.rs`, `bench/linux/bench.c`), on the two disks
//! `cargo mk bench` attaches: `disk:0`, a fresh RedoxFS served as `file:`
//! by `redoxfsd`, and `disk:1`, a scratch disk of zeros. The bench image
//! runs no `init.rc`, so this program starts `pcid`, `virtio-blkd` and
//! `redoxfsd` itself. Without disks (the `-icount` boot attaches none) the
//! driver finds no device and exits, and these benchmarks are skipped.
//!
//! - `file_write_{4k,64k,1m}`: a new 64 MiB file written in requests of
//!   4 KiB, 64 KiB or 1 MiB, then `fsync`, all timed (every `file:` call
//!   is a committed RedoxFS transaction anyway);
//! - `file_read_{4k,64k,1m}`: the same file read back in requests of that
//!   size (64 MiB, more than `redoxfsd`'s 4 MiB block cache holds: the
//!   reads reach the device);
//! - `disk_write_*` / `disk_read_*`: the same on the raw `disk:1`;
//! - `file_create_1k`: create, write 1 KiB to and close 1,000 new files
//!   in one directory (one operation per file);
//! - `file_fsync_1k`: 1 KiB appended to a file, then `fsync` (one
//!   operation per pair), up to [`FSYNCS`] times; append `i` is the
//!   `i`-th KiB of the pattern, so the file is as incompressible as the
//!   others (the same KiB each time made RedoxFS compress the record it
//!   rewrites, and decompress it at the next append).
//!
//! A figure is ns per request (`iterations` requests); mk turns the
//! sequential ones into MiB/s. Every loop stops at [`LIMIT_NS`] of guest
//! time and the benchmark then reports a failure, never a partial figure.

use rt::abi::syscall::{O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use rt::fs::{File, SeekFrom};
use rt::prelude::*;
use rt::process::Fork;

use crate::ipc::Process;
use crate::{Measured, report};

/// Bytes each sequential benchmark moves.
pub const TOTAL: usize = 64 << 20;
/// Request sizes of the sequential benchmarks, and their name suffixes.
pub const SIZES: [(usize, &str); 3] = [(4 << 10, "4k"), (64 << 10, "64k"), (1 << 20, "1m")];
/// Files of `file_create_1k`, and the bytes written to each.
pub const SMALL_FILES: usize = 1000;
pub const SMALL_FILE: usize = 1024;
/// Write+fsync pairs of `file_fsync_1k`.
pub const FSYNCS: usize = 500;
/// The most guest time one benchmark may take.
const LIMIT_NS: u64 = 300_000_000_000;
/// How long a daemon may take to serve its scheme.
const START_NS: u64 = 20_000_000_000;

const DIR: &str = "file:/bench";
const BIG: &str = "file:/bench/seq";
const RAW: &str = "disk:1";

/// The benchmark names, in the order they run.
pub fn names() -> Vec<String> {
    let mut names = Vec::new();
    for prefix in ["file", "disk"] {
        for (_, suffix) in SIZES {
            names.push(format!("{prefix}_write_{suffix}"));
            names.push(format!("{prefix}_read_{suffix}"));
        }
    }
    names.push(String::from("file_create_1k"));
    names.push(String::from("file_fsync_1k"));
    names
}

/// Runs them all; whether every one ran (or they were skipped for want
/// of disks).
pub fn benchmarks() -> bool {
    let names = names();
    let fail_all = |err: &str| {
        for name in &names {
            report(name, 1, Err(String::from(err)));
        }
        false
    };
    let _driver = match start_driver("virtio-blkd", "disk:") {
        Ok(Some(daemons)) => daemons,
        Ok(None) => {
            println!("bench: no virtio disks (virtio-blkd exited); the disk benchmarks are skipped");
            return true;
        }
        Err(err) => return fail_all(&err),
    };
    let listing = rt::fs::read_to_string("disk:").unwrap_or_default();
    if !listing.lines().any(|l| l == "1") {
        return fail_all(&format!("disk: lists {listing:?}, not the two disks mk attaches"));
    }
    let _fs = match start("redoxfsd", &["disk:0"], "file:") {
        Ok(Some(daemon)) => daemon,
        Ok(None) => return fail_all("redoxfsd exited (no RedoxFS on disk:0?)"),
        Err(err) => return fail_all(&err),
    };
    if let Err(err) = File::open_with(DIR, O_CREAT | O_DIRECTORY | O_RDONLY | 0o755) {
        return fail_all(&format!("mkdir {DIR}: {err}"));
    }
    let pattern = incompressible(SIZES[2].0);
    let mut ok = true;
    for (size, suffix) in SIZES {
        ok &= report(&format!("file_write_{suffix}"), 1, write_file(&pattern, size));
        ok &= report(&format!("file_read_{suffix}"), 1, read_file(size));
        let _ = rt::fs::remove_file(BIG);
    }
    for (size, suffix) in SIZES {
        ok &= report(&format!("disk_write_{suffix}"), 1, write_disk(&pattern, size));
        ok &= report(&format!("disk_read_{suffix}"), 1, read_disk(size));
    }
    ok &= report("file_create_1k", 1, create_files(&pattern[..SMALL_FILE]));
    ok &= report("file_fsync_1k", 1, fsync_loop(&pattern));
    ok
}

/// `pcid`, then the device driver `program` serving `url`: `None` if the
/// driver exited (no such device on this machine).
pub fn start_driver(program: &str, url: &str) -> Result<Option<(Process, Process)>, String> {
    let pci = start("pcid", &[], "pci:")?.ok_or("pcid exited")?;
    Ok(start(program, &[], url)?.map(|driver| (pci, driver)))
}

/// Exec `initfs:sbin/PROGRAM ARGS` and wait until `url` opens: `None` if
/// the daemon exited instead.
pub fn start(program: &str, args: &[&str], url: &str) -> Result<Option<Process>, String> {
    let path = format!("initfs:sbin/{program}");
    let pid = match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            let err = rt::process::exec(&path, args, &[]);
            eprintln!("bench: exec {path}: {err}");
            rt::process::exit(127)
        }
        Fork::Parent(pid) => pid,
    };
    let started = rt::time::now_ns();
    for _ in 0..1_000_000 {
        if File::open(url).is_ok() {
            return Ok(Some(Process(pid)));
        }
        if let Ok((done, _)) = rt::sys::waitpid(pid, rt::abi::WNOHANG)
            && done == pid
        {
            return Ok(None);
        }
        if rt::time::now_ns() - started > START_NS {
            drop(Process(pid));
            return Err(format!("{program} did not serve {url} within {} s", START_NS / 1_000_000_000));
        }
        rt::thread::yield_now();
    }
    drop(Process(pid));
    Err(format!("{program} did not serve {url}"))
}

/// Times `requests` calls of `op`, giving up after [`LIMIT_NS`].
fn timed(requests: usize, mut op: impl FnMut(usize) -> Result<(), String>) -> Result<Measured, String> {
    let start = rt::time::now_ns();
    for i in 0..requests {
        op(i)?;
        if i % 16 == 15 && rt::time::now_ns() - start > LIMIT_NS {
            return Err(format!("only {} of {requests} requests within {} s", i + 1, LIMIT_NS / 1_000_000_000));
        }
    }
    Ok(Measured { ops: requests as u64, ns: rt::time::now_ns() - start })
}

fn write_whole(file: &mut File, buf: &[u8]) -> Result<(), String> {
    match file.write(buf) {
        Ok(n) if n == buf.len() => Ok(()),
        Ok(n) => Err(format!("short write: {n} of {}", buf.len())),
        Err(err) => Err(format!("write: {err}")),
    }
}

fn read_whole(file: &mut File, buf: &mut [u8]) -> Result<(), String> {
    match file.read(buf) {
        Ok(n) if n == buf.len() => Ok(()),
        Ok(n) => Err(format!("short read: {n} of {}", buf.len())),
        Err(err) => Err(format!("read: {err}")),
    }
}

/// [`TOTAL`] bytes written to `file` in `size`-byte requests, then its
/// `fsync`; one figure per request, the `fsync` included. Request `i`
/// writes the `i`-th `size` bytes of `pattern` (wrapping), so no request
/// repeats the one before it (a file of one block written over and over
/// is as compressible as a repeating pattern).
fn write_all_then_sync(file: &mut File, pattern: &[u8], size: usize) -> Result<Measured, String> {
    let start = rt::time::now_ns();
    let mut measured = timed(TOTAL / size, |i| {
        let at = (i * size) % pattern.len();
        write_whole(file, &pattern[at..at + size])
    })?;
    rt::sys::fsync(file.fd()).map_err(|e| format!("fsync: {e}"))?;
    measured.ns = rt::time::now_ns() - start;
    Ok(measured)
}

fn write_file(pattern: &[u8], size: usize) -> Result<Measured, String> {
    let mut file =
        File::open_with(BIG, O_CREAT | O_TRUNC | O_WRONLY | 0o644).map_err(|e| format!("create {BIG}: {e}"))?;
    write_all_then_sync(&mut file, pattern, size)
}

fn read_file(size: usize) -> Result<Measured, String> {
    let mut file = File::open_with(BIG, O_RDONLY).map_err(|e| format!("open {BIG}: {e}"))?;
    let mut buf = vec![0u8; size];
    let measured = timed(TOTAL / size, |_| read_whole(&mut file, &mut buf))?;
    let mut more = [0u8; 1];
    match file.read(&mut more) {
        Ok(0) => Ok(measured),
        _ => Err(format!("{BIG} is longer than {TOTAL} bytes")),
    }
}

/// `len` bytes no compressor can shrink, the same in every run (and in
/// `bench.c`): a xorshift64 stream, as fio writes by default. RedoxFS
/// compresses each record it writes with lz4 when that saves space, and
/// ext4 does not; with repeating data the file rows would measure lz4
/// (a 128 KiB record of a repeating pattern is one long overlapping
/// match, decoded a byte at a time: 10,000 instructions per 4 KiB read)
/// and fewer bytes written, not the file system and the disk.
pub fn incompressible(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn open_raw() -> Result<File, String> {
    File::open_with(RAW, O_RDWR).map_err(|e| format!("open {RAW}: {e}"))
}

fn write_disk(pattern: &[u8], size: usize) -> Result<Measured, String> {
    let mut disk = open_raw()?;
    let holds = disk.stat().map_err(|e| format!("fstat {RAW}: {e}"))?.st_size;
    if holds < TOTAL as u64 {
        return Err(format!("{RAW} holds {holds} bytes, fewer than {TOTAL}"));
    }
    write_all_then_sync(&mut disk, pattern, size)
}

fn read_disk(size: usize) -> Result<Measured, String> {
    let mut disk = open_raw()?;
    disk.seek(SeekFrom::Start(0)).map_err(|e| format!("seek: {e}"))?;
    let mut buf = vec![0u8; size];
    timed(TOTAL / size, |_| read_whole(&mut disk, &mut buf))
}

fn create_files(buf: &[u8]) -> Result<Measured, String> {
    let dir = format!("{DIR}/small");
    File::open_with(&dir, O_CREAT | O_DIRECTORY | O_RDONLY | 0o755).map_err(|e| format!("mkdir {dir}: {e}"))?;
    timed(SMALL_FILES, |i| {
        let path = format!("{dir}/f{i}");
        let mut file =
            File::open_with(&path, O_CREAT | O_TRUNC | O_WRONLY | 0o644).map_err(|e| format!("create {path}: {e}"))?;
        write_whole(&mut file, buf)?;
        file.close().map_err(|e| format!("close {path}: {e}"))
    })
}

fn fsync_loop(pattern: &[u8]) -> Result<Measured, String> {
    let path = format!("{DIR}/sync");
    let mut file =
        File::open_with(&path, O_CREAT | O_TRUNC | O_WRONLY | 0o644).map_err(|e| format!("create {path}: {e}"))?;
    timed(FSYNCS, |i| {
        let at = (i * SMALL_FILE) % (pattern.len() - SMALL_FILE + 1);
        write_whole(&mut file, &pattern[at..at + SMALL_FILE])?;
        rt::sys::fsync(file.fd()).map_err(|e| format!("fsync: {e}"))
    })
}
