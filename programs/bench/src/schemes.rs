//! Benchmarks of calls on a userspace scheme: a daemon forked from this
//! program serves `benchzero:` (reads give zeroes) through the `scheme`
//! framework, on the same CPU as the caller (`-smp 1`).
//!
//! - `scheme_read_1byte`: the round trip of a 1-byte read (caller to
//!   daemon and back), the peer of Linux's pipe ping-pong;
//! - `scheme_open_read_close`: open, a 16-byte read and close, the peer of
//!   Linux's open+read+close of a tmpfs file;
//! - `scheme_read_4k` / `scheme_read_64k`: reads into a 4 KiB buffer
//!   (copied inline) and a 64 KiB one (lent pages, filled in place).

use rt::abi::syscall::{self as sc, O_RDONLY};
use rt::batch::{Batch, On};
use rt::fs::File;
use rt::prelude::*;
use rt::process::Fork;
use scheme::{Caller, Opened, Scheme, Server};

struct Zero;

impl Scheme for Zero {
    fn open(&mut self, _path: &str, _flags: usize, _caller: &Caller) -> scheme::Result<Opened> {
        Ok(Opened::Handle(0))
    }

    fn read(&mut self, _handle: usize, buf: &mut [u8], _flags: usize) -> scheme::Result<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
}

/// The daemon, killed when dropped.
pub struct Daemon(usize);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = rt::process::kill(self.0, rt::abi::SIGKILL);
        let _ = rt::process::wait(self.0);
    }
}

pub const URL: &str = "benchzero:";

/// Fork the daemon and wait until `benchzero:` opens.
pub fn start() -> Result<Daemon, String> {
    start_named("benchzero")
}

/// Fork a daemon serving `name:` (zeroes) and wait until it opens.
pub fn start_named(name: &str) -> Result<Daemon, String> {
    let url = format!("{name}:");
    let pid = match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            let code = match Server::new(name, Zero).and_then(|mut s| s.run()) {
                Ok(()) => 0,
                Err(_) => 1,
            };
            rt::process::exit(code)
        }
        Fork::Parent(pid) => pid,
    };
    let daemon = Daemon(pid);
    for _ in 0..10_000 {
        match File::open(&url) {
            Ok(_) => return Ok(daemon),
            Err(err) if err.errno == sc::ENODEV => rt::thread::yield_now(),
            Err(err) => return Err(format!("open {url}: {err}")),
        }
    }
    Err(String::from("the daemon never registered"))
}

/// One read of `buf.len()` bytes that must come back whole.
pub fn read_whole(file: &mut File, buf: &mut [u8]) -> Result<(), String> {
    match file.read(buf) {
        Ok(n) if n == buf.len() => Ok(()),
        Ok(n) => Err(format!("short read: {n} of {}", buf.len())),
        Err(err) => Err(format!("read: {err}")),
    }
}

pub fn open_read_close() -> Result<(), String> {
    let mut file = File::open_with(URL, O_RDONLY).map_err(|e| format!("open: {e}"))?;
    read_whole(&mut file, &mut [0u8; 16])?;
    file.close().map_err(|e| format!("close: {e}"))
}

/// The same three calls as one `SYS_SUBMIT` batch (`rt::batch`): the
/// daemon gets them back to back.
pub fn open_read_close_batch() -> Result<(), String> {
    let mut buf = [0u8; 16];
    let mut batch = Batch::new();
    batch.open(URL, O_RDONLY);
    batch.read(On::Opened, &mut buf);
    batch.close(On::Opened);
    let results = batch.submit().map_err(|e| format!("submit: {e}"))?;
    match results.as_slice() {
        [Ok(0), Ok(16), Ok(0)] => Ok(()),
        other => Err(format!("batch results {other:?}, not [Ok(0), Ok(16), Ok(0)]")),
    }
}
