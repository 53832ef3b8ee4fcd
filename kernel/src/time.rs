//! The kernel's notion of time: nanoseconds since boot from the TSC clock
//! (`CLOCK_MONOTONIC`), and the wall clock (`CLOCK_REALTIME`): the CMOS
//! RTC's time at boot plus the time since, in nanoseconds since the Unix
//! epoch. The RTC is read once ([`start_wall_clock`]); a clock that reads
//! nonsense leaves the wall clock counting from the epoch, with a warning.
//!
//! May touch: the TSC clock and, once, the RTC.

use core::sync::atomic::{AtomicU64, Ordering};

/// The wall-clock time at boot (the monotonic clock's zero), in ns.
static BOOT_REALTIME_NS: AtomicU64 = AtomicU64::new(0);

pub fn now_ns() -> u64 {
    crate::arch::x86_64::tsc::now_ns()
}

/// Nanoseconds since the Unix epoch.
pub fn realtime_ns() -> u64 {
    BOOT_REALTIME_NS.load(Ordering::Relaxed).saturating_add(now_ns())
}

/// How far the wall clock is ahead of the monotonic one (ns).
pub fn realtime_offset_ns() -> u64 {
    BOOT_REALTIME_NS.load(Ordering::Relaxed)
}

/// Read the RTC and set the wall clock from it.
pub fn start_wall_clock() {
    match crate::arch::x86_64::rtc::unix_seconds().and_then(|s| u64::try_from(s).ok()) {
        Some(seconds) => {
            let boot = (seconds * 1_000_000_000).saturating_sub(now_ns());
            BOOT_REALTIME_NS.store(boot, Ordering::Relaxed);
            match wall_clock::Date::from_unix(seconds as i64) {
                Some(date) => log::info!("wall clock: {date} (from the RTC)"),
                None => log::info!("wall clock: {seconds} s after the epoch (from the RTC)"),
            }
        }
        None => log::warn!("wall clock: the RTC reads nonsense; CLOCK_REALTIME counts from the epoch"),
    }
}
