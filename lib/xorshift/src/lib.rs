//! xorshift64* (Marsaglia's xorshift with Vigna's multiplier): a tiny
//! deterministic pseudo-random generator for randomized tests, so that a
//! failure repeats exactly from its seed. Not for anything that needs real randomness
//! (`rand:` and `rt::random` are for that).
//!
//! Why a crate: the host tests of the allocators, the log ring, the
//! parsers and the channel buffer, and the in-guest suite
//! (`programs/usertests`), all want the same few lines.
//!
//! May touch: nothing but its own state.

#![no_std]
#![forbid(unsafe_code)]

/// The generator's state; never zero (zero would stay zero).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (a zero seed is replaced by a fixed one).
    pub const fn new(seed: u64) -> Rng {
        Rng(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.below_u64(n as u64) as usize
    }

    /// A number in `0..n` (0 when `n` is 0), for 64-bit ranges.
    pub fn below_u64(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// One of `items`, or `None` if there are none.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_from_its_seed_and_never_sticks_at_zero() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut zero = Rng::new(0);
        assert!((0..100).all(|_| zero.next_u64() != 0));
    }

    #[test]
    fn below_and_pick_stay_in_range() {
        let mut rng = Rng::new(7);
        assert_eq!(rng.below(0), 0);
        assert!((0..1000).all(|_| rng.below(10) < 10));
        let items = [1, 2, 3];
        let mut seen = [false; 3];
        for _ in 0..100 {
            let &item = rng.pick(&items).unwrap();
            seen[item - 1] = true;
        }
        assert_eq!(seen, [true; 3]);
        assert_eq!(rng.pick::<u8>(&[]), None);
    }
}
