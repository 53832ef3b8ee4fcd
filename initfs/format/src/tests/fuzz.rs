//! Fuzz-style tests: random mutations of valid images (and random bytes
//! behind a valid magic) fed to `Image::parse`; whatever parses is walked in
//! full. Nothing may panic or loop. Deterministic (a fixed-seed xorshift), so
//! a failure reproduces. Test-only.

use std::vec::Vec;

use super::util::*;
use crate::*;

/// xorshift64: tiny, deterministic, good enough to pick bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Parses and, if that succeeds, walks everything and pokes every accessor.
fn exercise(bytes: &[u8]) -> bool {
    let Ok(image) = Image::parse(bytes) else {
        return false;
    };
    assert!(image.len() <= bytes.len());
    let found = walk(&image);
    assert_eq!(found.len() as u64, u64::from(image.inode_count()));
    for n in [image.inode_count(), u32::MAX] {
        assert!(image.inode(n).is_err());
    }
    for path in ["", "/", "bin/init", "a/b/c/d/deep.txt", "f1", "dir_a//f2", "x/y"] {
        let _ = image.lookup(path);
    }
    true
}

/// Interesting values to write over a field.
fn interesting(rng: &mut Rng, len: usize) -> u64 {
    match rng.below(10) {
        0 => 0,
        1 => 1,
        2 => u64::MAX,
        3 => u64::from(u32::MAX),
        4 => len as u64,
        5 => (len as u64).wrapping_sub(1),
        6 => PAGE_SIZE as u64,
        7 => rng.below(64) as u64,
        8 => 1 << rng.below(64),
        _ => rng.next(),
    }
}

fn mutate(rng: &mut Rng, img: &mut Vec<u8>, meta_len: usize) {
    let len = img.len();
    for _ in 0..1 + rng.below(4) {
        // Mostly hit the header, inode table and directories, where the
        // structure is; sometimes anywhere.
        let span = if rng.below(4) == 0 { len } else { meta_len };
        let at = rng.below(span);
        match rng.below(6) {
            0 => img[at] ^= 1 << rng.below(8),
            1 => img[at] = rng.next() as u8,
            2 => {
                let v = interesting(rng, len).to_le_bytes();
                let n = [1, 2, 4, 8][rng.below(4)].min(len - at);
                img[at..at + n].copy_from_slice(&v[..n]);
            }
            3 => {
                // Copy a run of bytes from elsewhere (e.g. an entry over
                // another).
                let from = rng.below(meta_len);
                let n = (1 + rng.below(16)).min(len - at).min(len - from);
                let run: Vec<u8> = img[from..from + n].to_vec();
                img[at..at + n].copy_from_slice(&run);
            }
            4 => img[at] = [b'/', 0, b'.', 0xFF, 0x80][rng.below(5)],
            _ => img[at] = img[at].wrapping_add(1),
        }
    }
    if rng.below(16) == 0 {
        let cut = rng.below(len + 1);
        img.truncate(cut);
    }
}

/// The end of the metadata (header, inode table, directory data).
fn meta_len(img: &[u8]) -> usize {
    let image = Image::parse(img).unwrap();
    let mut end = inode_at(img, image.inode_count());
    for n in 0..image.inode_count() {
        if image.inode(n).unwrap().kind == Kind::Dir {
            let at = inode_at(img, n);
            end = end.max((get_u64(img, at + 16) + get_u64(img, at + 8)) as usize);
        }
    }
    end
}

#[test]
fn random_mutations_never_panic() {
    let bases = [small_image(), sample_image(), Builder::new().build()];
    let metas: Vec<usize> = bases.iter().map(|b| meta_len(b)).collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    let iterations = 120_000;
    for i in 0..iterations {
        let which = i % bases.len();
        let mut img = bases[which].clone();
        mutate(&mut rng, &mut img, metas[which]);
        if exercise(&img) {
            accepted += 1;
        }
    }
    // Mutations of padding and file data stay valid: the walk really ran.
    assert!(accepted > 1000, "only {accepted} mutants parsed");
    assert!(accepted < iterations, "no mutant was rejected");
}

#[test]
fn every_single_byte_change_in_the_metadata() {
    let img = small_image();
    let meta = meta_len(&img);
    let mut work = img.clone();
    for at in 0..meta {
        for value in [0u8, 1, 2, 3, 5, 6, 7, 0x7F, 0x80, 0xFF, b'/', b'.'] {
            work[at] = value;
            exercise(&work);
        }
        work[at] = img[at];
    }
}

#[test]
fn random_bytes_behind_a_valid_header() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for _ in 0..20_000 {
        let len = 32 + rng.below(600);
        let mut img: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        img[..8].copy_from_slice(&MAGIC);
        img[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        img[12..16].copy_from_slice(&(1 + rng.below(8) as u32).to_le_bytes());
        img[16..24].copy_from_slice(&32u64.to_le_bytes());
        img[24..32].copy_from_slice(&(len as u64).to_le_bytes());
        // Make the inode kinds plausible more often than chance.
        for n in 0..8 {
            let at = 32 + n * INODE_LEN;
            if at + 2 <= len {
                img[at] = 1 + rng.below(2) as u8;
                img[at + 1] = 0;
            }
        }
        exercise(&img);
    }
}
