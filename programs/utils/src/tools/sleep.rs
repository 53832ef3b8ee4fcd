//! `sleep SECONDS`: waits that long (fractions allowed: `0.25`) on a
//! `time:` timeout: it reads the monotonic clock from `time:4`, writes the
//! deadline back, and the next read blocks until then.

use rt::abi::syscall::{CLOCK_MONOTONIC, O_RDWR};
use rt::fs::File;

use crate::report::{self, FAILED, OK};

/// `SECONDS` (digits, an optional `.` and fraction digits) in nanoseconds.
fn parse_ns(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    let secs: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut nanos = 0u64;
    for (i, digit) in fraction.bytes().take(9).enumerate() {
        nanos += u64::from(digit - b'0') * 10u64.pow(8 - i as u32);
    }
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

fn to_ns(bytes: &[u8; 16]) -> u64 {
    let secs = i64::from_ne_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
    let nanos = i32::from_ne_bytes(bytes[8..12].try_into().unwrap_or([0; 4]));
    (secs.max(0) as u64).saturating_mul(1_000_000_000).saturating_add(nanos.max(0) as u64)
}

fn from_ns(ns: u64) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&((ns / 1_000_000_000) as i64).to_ne_bytes());
    bytes[8..12].copy_from_slice(&((ns % 1_000_000_000) as i32).to_ne_bytes());
    bytes
}

fn sleep(ns: u64) -> rt::Result<()> {
    let mut clock = File::open_with(&alloc::format!("time:{CLOCK_MONOTONIC}"), O_RDWR)?;
    let mut now = [0u8; 16];
    clock.read_exact(&mut now)?;
    clock.write_all(&from_ns(to_ns(&now).saturating_add(ns)))?;
    // Blocks until the deadline.
    clock.read_exact(&mut now)?;
    Ok(())
}

pub fn main(args: &[&str]) -> u8 {
    let [seconds] = args else {
        return report::usage("sleep", "needs one duration");
    };
    let Some(ns) = parse_ns(seconds) else {
        return report::usage("sleep", &alloc::format!("invalid time interval '{seconds}'"));
    };
    match sleep(ns) {
        Ok(()) => OK,
        Err(err) => {
            report::error("sleep", "time:", err);
            FAILED
        }
    }
}
