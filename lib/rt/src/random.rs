//! Randomness from the CPU: `RDSEED` (true entropy) and `RDRAND` (a
//! hardware DRBG) when CPUID says they exist, else nothing — callers fall
//! back to something weaker (the time-stamp counter) and say so.

use core::arch::x86_64::{__cpuid, __cpuid_count, _rdtsc};

/// Which sources this CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sources {
    pub rdrand: bool,
    pub rdseed: bool,
}

/// What CPUID says (leaf 1 ECX bit 30: RDRAND; leaf 7 EBX bit 18:
/// RDSEED), asked once: CPUID traps to the hypervisor in a VM.
pub fn sources() -> Sources {
    static SOURCES: spin::Once<Sources> = spin::Once::new();
    *SOURCES.call_once(|| {
        let leaf1 = __cpuid(1);
        let leaf7 = if __cpuid(0).eax >= 7 { __cpuid_count(7, 0).ebx } else { 0 };
        Sources { rdrand: leaf1.ecx & (1 << 30) != 0, rdseed: leaf7 & (1 << 18) != 0 }
    })
}

/// 64 random bits from `RDRAND`, if the CPU has it and it delivers (it is
/// retried a few times, as Intel advises).
pub fn rdrand() -> Option<u64> {
    if !sources().rdrand {
        return None;
    }
    retry(10, |value| {
        // SAFETY: CPUID said RDRAND exists; the intrinsic only writes `value`.
        unsafe { core::arch::x86_64::_rdrand64_step(value) == 1 }
    })
}

/// 64 bits of entropy from `RDSEED`, if the CPU has it and it delivers.
pub fn rdseed() -> Option<u64> {
    if !sources().rdseed {
        return None;
    }
    retry(100, |value| {
        // SAFETY: CPUID said RDSEED exists; the intrinsic only writes `value`.
        unsafe { core::arch::x86_64::_rdseed64_step(value) == 1 }
    })
}

/// Run `step` until it delivers a value, at most `tries` times.
fn retry(tries: usize, mut step: impl FnMut(&mut u64) -> bool) -> Option<u64> {
    (0..tries).find_map(|_| {
        let mut value = 0;
        step(&mut value).then_some(value)
    })
}

/// The time-stamp counter: not random, but never the same twice.
pub fn tsc() -> u64 {
    // SAFETY: RDTSC only reads the counter (the kernel leaves it readable).
    unsafe { _rdtsc() }
}
