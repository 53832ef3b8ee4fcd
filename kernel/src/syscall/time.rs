//! Clocks and sleeping.

use abi::syscall::error::{EINVAL, Error};
use abi::syscall::{CLOCK_MONOTONIC, CLOCK_REALTIME, TimeSpec};

use crate::context::scheduler;
use crate::memory::usercopy::{self, In, Out, UserPtr};

const NANOS: u64 = 1_000_000_000;

fn to_timespec(ns: u64) -> TimeSpec {
    let mut ts = usercopy::zeroed::<TimeSpec>();
    ts.tv_sec = (ns / NANOS) as i64;
    ts.tv_nsec = (ns % NANOS) as i32;
    ts
}

/// Nanoseconds in a user `TimeSpec`; `EINVAL` if it is negative or its
/// nanoseconds are out of range.
pub(super) fn from_timespec(ts: &TimeSpec) -> Result<u64, Error> {
    if ts.tv_sec < 0 || !(0..NANOS as i32).contains(&ts.tv_nsec) {
        return Err(Error::new(EINVAL));
    }
    Ok((ts.tv_sec as u64).saturating_mul(NANOS).saturating_add(ts.tv_nsec as u64))
}

/// `CLOCK_MONOTONIC` counts from boot, `CLOCK_REALTIME` from the Unix
/// epoch (the RTC's time at boot plus the time since).
pub fn clock_gettime(clock: usize, out: usize) -> Result<usize, Error> {
    let now = match clock {
        CLOCK_MONOTONIC => crate::time::now_ns(),
        CLOCK_REALTIME => crate::time::realtime_ns(),
        _ => return Err(Error::new(EINVAL)),
    };
    UserPtr::<TimeSpec, Out>::new(out)?.write(&to_timespec(now))?;
    Ok(0)
}

pub fn nanosleep(request: usize, remaining: usize) -> Result<usize, Error> {
    let duration = from_timespec(&UserPtr::<TimeSpec, In>::new(request)?.read()?)?;
    let deadline = crate::time::now_ns().saturating_add(duration);
    let me = scheduler::current();
    loop {
        let now = crate::time::now_ns();
        if now >= deadline {
            return Ok(0);
        }
        if scheduler::current_killed() {
            if remaining != 0 {
                UserPtr::<TimeSpec, Out>::new(remaining)?.write(&to_timespec(deadline - now))?;
            }
            return Err(Error::new(abi::syscall::error::EINTR));
        }
        x86_64::instructions::interrupts::without_interrupts(|| me.set_state(crate::context::thread::State::Blocked));
        scheduler::sleep_until(&me, deadline);
    }
}
