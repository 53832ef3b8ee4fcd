//! Clocks and sleeping.

use core::time::Duration;

use abi::syscall::{self as sc, TimeSpec};

use crate::{Result, sys};

fn to_duration(time: TimeSpec) -> Duration {
    let secs = u64::try_from(time.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(time.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

fn to_timespec(duration: Duration) -> TimeSpec {
    TimeSpec {
        tv_sec: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        // Below 1e9, so it fits.
        tv_nsec: duration.subsec_nanos() as i32,
    }
}

/// Time since boot on the monotonic clock, which never goes backwards.
///
/// # Panics
///
/// If the kernel refuses to read the clock (it never should).
pub fn now() -> Duration {
    clock(sc::CLOCK_MONOTONIC).unwrap_or_else(|err| panic!("clock_gettime: {err}"))
}

/// [`now`] in nanoseconds.
pub fn now_ns() -> u64 {
    u64::try_from(now().as_nanos()).unwrap_or(u64::MAX)
}

/// Reads `clock` (`CLOCK_MONOTONIC` or `CLOCK_REALTIME`).
pub fn clock(clock: usize) -> Result<Duration> {
    sys::clock_gettime(clock).map(to_duration)
}

/// Sleeps for at least `duration` (resuming after interruptions).
pub fn sleep(duration: Duration) {
    let mut left = to_timespec(duration);
    loop {
        let mut remaining = TimeSpec::default();
        match sys::nanosleep(&left, Some(&mut remaining)) {
            Err(err) if err.errno == sc::EINTR => left = remaining,
            _ => return,
        }
    }
}

/// The [`TimeSpec`] in `bytes` (as written to `time:` or to a socket's
/// `read_timeout`) as a [`Duration`]; `None` unless it is exactly one, with
/// no negative part and fewer than a billion nanoseconds.
pub fn timespec_duration(bytes: &[u8]) -> Option<Duration> {
    let mut time = TimeSpec::default();
    if bytes.len() != time.len() {
        return None;
    }
    time.copy_from_slice(bytes);
    let valid = time.tv_sec >= 0 && (0..1_000_000_000).contains(&time.tv_nsec);
    valid.then(|| to_duration(time))
}

/// [`timespec`] of `duration` as the 16 bytes a scheme gives to a read:
/// seconds, nanoseconds, then four zero bytes (not the struct's padding).
pub fn timespec_bytes(duration: Duration) -> [u8; 16] {
    let time = to_timespec(duration);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&time.tv_sec.to_ne_bytes());
    bytes[8..12].copy_from_slice(&time.tv_nsec.to_ne_bytes());
    bytes
}

/// Converts a [`Duration`] to the kernel's [`TimeSpec`] (saturating).
pub fn timespec(duration: Duration) -> TimeSpec {
    to_timespec(duration)
}
