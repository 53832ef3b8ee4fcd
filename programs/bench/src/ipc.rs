//! Benchmarks of `ipcd` (`chan:` and `shm:`), which this program starts
//! from `initfs:sbin/ipcd`, one process per scheme (the bench image has
//! no `init.rc`). Each has a forked peer process on the same CPU
//! (`-smp 1`):
//!
//! - `chan_pingpong_1byte`: one byte to the peer and one back over a
//!   channel — a round trip through the daemon twice, the peer of Linux's
//!   Unix-socket ping-pong (`unix_stream_pingpong_rt`);
//! - `chan_pingpong_write_read`: the same with `SYS_WRITE_READ` on both
//!   ends: a byte goes out with the wait for the next one in one call,
//!   which `ipcd` gets as one request (`Op::WriteRead`), so each byte is
//!   one trip through the daemon; the peer is the same Linux ping-pong;
//! - `chan_write_64k`: a 64 KiB write into a channel whose peer reads and
//!   drops everything, the peer of Linux's `pipe_write_64k`;
//! - `pipe_write_64k`: the same 64 KiB writes into a kernel `pipe:` (no
//!   daemon) whose peer reads and drops everything: Linux's pipe, the
//!   same benchmark as its `chan_write_64k` peer;
//! - `shm_pass_64k`: 64 KiB handed to the peer through a shared `shm:`
//!   mapping, no daemon involved: the writer fills the region, passes the
//!   turn, the peer reads all of it and passes the turn back (hand-overs
//!   by `sched_yield`, as in `yield_pingpong`). What a channel transfer
//!   of the same size costs once the memory is set up;
//! - `shm_map_64k`: `fmap` of 64 KiB of an `shm:` object, a write to each
//!   of its 16 pages, and the unmap: the set-up cost that `shm_pass_64k`
//!   leaves out.

use core::sync::atomic::{AtomicU64, Ordering};

use rt::abi::syscall::{self as sc, O_CREAT, O_RDWR};
use rt::fs::File;
use rt::prelude::*;
use rt::process::Fork;

use crate::{Measured, measure_fallible, wait_ok};

/// Bytes per transfer of the 64 KiB benchmarks.
pub const BLOCK: usize = 64 * 1024;

/// A process of ours (the daemon, a peer), killed when dropped.
pub struct Process(pub usize);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = rt::process::kill(self.0, rt::abi::SIGKILL);
        let _ = rt::process::wait(self.0);
    }
}

/// Exec `initfs:sbin/ipcd chan` and `ipcd shm` and wait until both
/// schemes are served; the two daemons, killed when dropped.
pub fn start_ipcd() -> Result<[Process; 2], String> {
    let spawn = |scheme: &str| -> Result<Process, String> {
        match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
            Fork::Child => {
                let err = rt::process::exec("initfs:sbin/ipcd", &[scheme], &[]);
                eprintln!("bench: exec initfs:sbin/ipcd {scheme}: {err}");
                rt::process::exit(127)
            }
            Fork::Parent(pid) => Ok(Process(pid)),
        }
    };
    let daemons = [spawn("chan")?, spawn("shm")?];
    let served = |scheme: &str| !matches!(File::open(scheme), Err(err) if err.errno == sc::ENODEV);
    for _ in 0..10_000 {
        if served("chan:") && served("shm:") {
            return Ok(daemons);
        }
        rt::thread::yield_now();
    }
    Err(String::from("ipcd never served chan: and shm:"))
}

/// A connected pair: our end, and a forked peer running `peer` on its end.
fn connected(name: &str, peer: fn(File) -> i32) -> Result<(File, Process), String> {
    let url = format!("chan:{name}");
    let listener = File::open_with(&url, O_CREAT | O_RDWR).map_err(|e| format!("listen {url}: {e}"))?;
    let pid = match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            let code = match File::open_with(&url, O_RDWR) {
                Ok(end) => peer(end),
                Err(_) => 2,
            };
            rt::process::exit(code)
        }
        Fork::Parent(pid) => pid,
    };
    let peer = Process(pid);
    let end = listener.derive("listen").map_err(|e| format!("accept on {url}: {e}"))?;
    Ok((end, peer))
}

/// The peer of the ping-pong: echo every byte until end-of-file.
fn echo(mut end: File) -> i32 {
    let mut byte = [0u8; 1];
    loop {
        match end.read(&mut byte) {
            Ok(0) => return 0,
            Ok(_) if end.write_all(&byte).is_ok() => {}
            _ => return 3,
        }
    }
}

/// The peer of `chan_pingpong_write_read`: the first byte, then each echo
/// goes out with the wait for the next byte, in one call.
fn echo_write_read(mut end: File) -> i32 {
    let mut byte = [0u8; 1];
    match end.read(&mut byte) {
        Ok(0) => return 0,
        Ok(_) => {}
        Err(_) => return 3,
    }
    loop {
        let out = byte;
        match end.write_read(&out, &mut byte) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(_) => return 3,
        }
    }
}

/// The peer of the throughput benchmark: read and drop until end-of-file.
fn sink(mut end: File) -> i32 {
    let mut buf = vec![0u8; BLOCK];
    loop {
        match end.read(&mut buf) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(_) => return 3,
        }
    }
}

/// Close our end and check the peer ended well.
fn finish(end: File, peer: Process) -> Result<(), String> {
    drop(end);
    let pid = peer.0;
    core::mem::forget(peer);
    wait_ok(pid)
}

pub fn chan_pingpong() -> Result<Measured, String> {
    let (mut end, peer) = connected("bench-pingpong", echo)?;
    let mut byte = [0x42u8; 1];
    let result = measure_fallible(|| {
        end.write_all(&byte).map_err(|e| format!("write: {e}"))?;
        match end.read(&mut byte) {
            Ok(1) => Ok(()),
            Ok(n) => Err(format!("read {n} bytes, not 1")),
            Err(e) => Err(format!("read: {e}")),
        }
    });
    finish(end, peer)?;
    result
}

pub fn chan_pingpong_write_read() -> Result<Measured, String> {
    let (mut end, peer) = connected("bench-pingpong-wr", echo_write_read)?;
    let mut byte = [0x42u8; 1];
    let result = measure_fallible(|| {
        let out = byte;
        match end.write_read(&out, &mut byte) {
            Ok(1) => Ok(()),
            Ok(n) => Err(format!("read {n} bytes, not 1")),
            Err(e) => Err(format!("write + read: {e}")),
        }
    });
    finish(end, peer)?;
    result
}

pub fn chan_write() -> Result<Measured, String> {
    let (mut end, peer) = connected("bench-write", sink)?;
    let block = vec![0x5au8; BLOCK];
    let result = measure_fallible(|| end.write_all(&block).map_err(|e| format!("write: {e}")));
    finish(end, peer)?;
    result
}

/// 64 KiB writes into a kernel pipe a forked peer drains.
pub fn pipe_write() -> Result<Measured, String> {
    let (read_end, mut write_end) = rt::fs::pipe().map_err(|e| format!("pipe: {e}"))?;
    let peer = match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            drop(write_end);
            rt::process::exit(sink(read_end))
        }
        Fork::Parent(pid) => Process(pid),
    };
    drop(read_end);
    let block = vec![0x5au8; BLOCK];
    let result = measure_fallible(|| write_end.write_all(&block).map_err(|e| format!("write: {e}")));
    finish(write_end, peer)?;
    result
}

/// An `shm:` object of `len` bytes, mapped.
fn shm_object(name: &str, len: usize) -> Result<(File, rt::mem::SharedMapping), String> {
    let url = format!("shm:{name}");
    let file = File::open_with(&url, O_CREAT | O_RDWR).map_err(|e| format!("open {url}: {e}"))?;
    file.set_len(len).map_err(|e| format!("ftruncate {url}: {e}"))?;
    let view = rt::mem::map_file_shared(file.fd(), 0, len).map_err(|e| format!("fmap {url}: {e}"))?;
    Ok((file, view))
}

/// The longest one hand-over may take before the benchmark gives up.
const TURN_LIMIT: u64 = 2_000_000_000;

/// Yield until `turn` holds `want`.
fn await_turn(turn: &AtomicU64, want: u64) -> Result<(), String> {
    let start = rt::time::now_ns();
    let mut spins = 0u32;
    while turn.load(Ordering::Acquire) != want {
        rt::thread::yield_now();
        spins += 1;
        if spins.is_multiple_of(1024) && rt::time::now_ns() - start > TURN_LIMIT {
            return Err(String::from("the peer did not take its turn"));
        }
    }
    Ok(())
}

pub fn shm_pass() -> Result<Measured, String> {
    // Page 0: the turn counter (odd: the reader's turn) and the reader's
    // checksum; then the data.
    let (file, view) = shm_object("bench-pass", rt::mem::PAGE_SIZE + BLOCK)?;
    let words = view.atomic_u64s();
    let (control, data) = words.split_at(rt::mem::PAGE_SIZE / 8);
    let (turn, sum) = (&control[0], &control[1]);
    let pid = match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            let mut expected = 1;
            loop {
                if await_turn(turn, expected).is_err() {
                    rt::process::exit(3);
                }
                let mut total = 0u64;
                for word in data {
                    total = total.wrapping_add(word.load(Ordering::Relaxed));
                }
                sum.store(total, Ordering::Relaxed);
                turn.store(expected + 1, Ordering::Release);
                expected += 2;
            }
        }
        Fork::Parent(pid) => Process(pid),
    };
    let mut round = 0u64;
    let result = measure_fallible(|| {
        round += 1;
        for (i, word) in data.iter().enumerate() {
            word.store(round ^ i as u64, Ordering::Relaxed);
        }
        let mine = turn.load(Ordering::Acquire);
        turn.store(mine + 1, Ordering::Release);
        await_turn(turn, mine + 2)?;
        let want = (0..data.len() as u64).fold(0u64, |acc, i| acc.wrapping_add(round ^ i));
        if sum.load(Ordering::Relaxed) == want { Ok(()) } else { Err(String::from("the peer read other bytes")) }
    });
    drop(pid);
    drop(file);
    let _ = rt::fs::remove_file("shm:bench-pass");
    result
}

pub fn shm_map() -> Result<Measured, String> {
    let (file, view) = shm_object("bench-map", BLOCK)?;
    drop(view);
    let result = measure_fallible(|| {
        let view = rt::mem::map_file_shared(file.fd(), 0, BLOCK).map_err(|e| format!("fmap: {e}"))?;
        for page in view.atomic_u64s().chunks(rt::mem::PAGE_SIZE / 8) {
            page[0].store(1, Ordering::Relaxed);
        }
        view.unmap().map_err(|e| format!("munmap: {e}"))
    });
    drop(file);
    let _ = rt::fs::remove_file("shm:bench-map");
    result
}
