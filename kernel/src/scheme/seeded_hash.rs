//! The hasher of the kernel's hash maps whose keys userspace chooses: the
//! `event:` registry (daemons pick their handle numbers) and namespaces
//! (daemons pick their scheme names). `foldhash`, keyed with a seed drawn
//! once, on the first use (before any key exists), so a program cannot
//! know the seed and pile its keys into one probe chain.
//!
//! May touch: the time-stamp counter and RDRAND, once.

/// The seed, drawn on the first hash.
static SEED: spin::Once<u64> = spin::Once::new();

/// `foldhash` keyed with [`SEED`].
#[derive(Clone, Copy, Default)]
pub struct Seeded;

impl core::hash::BuildHasher for Seeded {
    type Hasher = foldhash::fast::FoldHasher<'static>;

    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        foldhash::fast::FixedState::with_seed(*SEED.call_once(seed)).build_hasher()
    }
}

/// Time-stamp counter bits, and the CPU's random number generator's where
/// it has one.
fn seed() -> u64 {
    let tsc = crate::arch::x86_64::tsc::read();
    let mut random = 0u64;
    if crate::arch::x86_64::features().rdrand {
        // SAFETY: RDRAND is present (CPUID said so); it only writes `random`
        // and the carry flag, which says whether it did.
        unsafe { core::arch::x86_64::_rdrand64_step(&mut random) };
    }
    tsc.rotate_left(17) ^ random
}
