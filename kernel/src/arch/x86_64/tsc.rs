//! The kernel's monotonic clock: the time-stamp counter, calibrated once
//! against the PIT at boot, read as nanoseconds since boot. Lock-free; any
//! CPU may read it at any time, including before calibration (it then reads
//! 0 so early log lines still get a timestamp).

use core::sync::atomic::{AtomicU64, Ordering};

use super::pit;

static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

pub fn read() -> u64 {
    // SAFETY: RDTSC has no side effects and is available on every x86_64 CPU
    // (CR4.TSD is left clear).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Measure the TSC frequency against 10 ms of PIT channel 2 (best of three)
/// and start the clock. Returns the frequency in Hz.
pub fn calibrate() -> u64 {
    const PIT_TICKS: u16 = (pit::FREQUENCY_HZ / 100) as u16; // 10 ms
    let mut best = u64::MAX;
    for _ in 0..3 {
        let mut start = 0;
        pit::wait_channel2(PIT_TICKS, || start = read());
        best = best.min(read() - start);
    }
    let hz = best * pit::FREQUENCY_HZ / u64::from(PIT_TICKS);
    TSC_HZ.store(hz, Ordering::Relaxed);
    BOOT_TSC.store(read(), Ordering::Release);
    hz
}

pub fn frequency_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Nanoseconds since calibration (0 before it).
pub fn now_ns() -> u64 {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        return 0;
    }
    let ticks = read().saturating_sub(BOOT_TSC.load(Ordering::Acquire));
    (u128::from(ticks) * 1_000_000_000 / u128::from(hz)) as u64
}

/// Busy-wait for at least `ns` nanoseconds.
pub fn delay_ns(ns: u64) {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    let ticks = (u128::from(ns) * u128::from(hz)).div_ceil(1_000_000_000) as u64;
    let start = read();
    while read().wrapping_sub(start) < ticks {
        core::hint::spin_loop();
    }
}
