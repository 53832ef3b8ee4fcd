//! `randd` serves `rand:`: reads give random bytes from a xoshiro256**
//! generator seeded from `RDSEED` (or `RDRAND`, or, on CPUs with neither,
//! the time-stamp counter — logged, since that is guessable), with a fresh
//! `RDRAND` word mixed into the state before every read when the CPU has
//! it. Writes mix the written bytes into the state. Serves from the null
//! namespace.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use scheme::{Device, DeviceScheme, Result, Server};

rt::main!(main);

struct Rand {
    state: [u64; 4],
}

/// SplitMix64: spreads one seed word over the generator's state.
fn splitmix(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rand {
    fn seeded() -> Rand {
        let (mut seed, source) = match (rt::random::rdseed(), rt::random::rdrand()) {
            (Some(seed), _) => (seed, "RDSEED"),
            (None, Some(seed)) => (seed, "RDRAND"),
            (None, None) => (rt::random::tsc(), "the TSC (no RDSEED or RDRAND: guessable)"),
        };
        log::info!("seeded from {source}");
        let state = core::array::from_fn(|_| splitmix(&mut seed));
        Rand { state }
    }

    /// xoshiro256**.
    fn next(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn mix(&mut self, word: u64) {
        let mut seed = word ^ self.next();
        for slot in &mut self.state {
            *slot ^= splitmix(&mut seed);
        }
    }
}

impl Device for Rand {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if let Some(word) = rt::random::rdrand() {
            self.mix(word);
        }
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(buf.len())
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        for chunk in buf.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        Ok(buf.len())
    }
}

fn main() -> Result<()> {
    rt::log::init();
    let mut server = Server::new("rand", DeviceScheme(Rand::seeded()))?;
    server.confine()?;
    server.ready();
    server.run()
}
