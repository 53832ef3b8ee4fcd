//! A ring of Ethernet frames in memory shared by a card's driver
//! (`virtio-netd`) and `netd`, one each way, so a frame crosses without a
//! scheme call (README "Network card", `network:N/ring`). Received
//! frames: the driver (the producer) copies a frame into a slot and tells
//! `event:`; `netd` (the consumer) copies it out when it wakes. Frames to
//! send: `netd` pushes them and writes a byte to the driver's kick pipe;
//! the driver pops them when it wakes and hands them to the card. The
//! second ring lies at [`SECOND_AT`] in the file's mapping.
//!
//! Layout, in little-endian 64-bit words: word 0 is `head` (frames ever
//! pushed), word 1 `tail` (frames ever popped), word 2 `queued` (frames
//! the driver holds outside the ring, to be read with a batch read, after
//! the ring's), words 3..8 are reserved; then [`SLOTS`] slots of
//! [`SLOT_WORDS`] words: a slot's first word is its frame's length, the
//! rest its bytes. Only the producer writes `head`, `queued` and the
//! slots, only the consumer `tail`; a slot is written before `head`
//! passes it (release, acquire), and read before `tail` passes it.
//!
//! Each side treats what the other wrote as untrusted: a `head` more than
//! [`SLOTS`] ahead of `tail`, a length that is no frame's, a `tail` past
//! `head` are counted as [`Popped::Bad`] (or a refused push), never a
//! panic or an out-of-bounds access. `no_std`, host-tested.
//!
//! May touch: the words it is handed.

#![no_std]
#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

/// Frame slots in the ring.
pub const SLOTS: usize = 64;
/// Words per slot: the length word, then up to 2040 bytes.
pub const SLOT_WORDS: usize = 256;
/// Words before the first slot.
pub const HEADER_WORDS: usize = 8;
/// The ring's words, and its bytes (what a mapping of it must hold).
pub const WORDS: usize = HEADER_WORDS + SLOTS * SLOT_WORDS;
pub const BYTES: usize = WORDS * 8;
/// The longest frame a slot takes (an Ethernet frame without FCS).
pub const MAX_FRAME: usize = 1514;
/// Where a file with a ring each way maps its second ring: the first
/// ring's bytes rounded up to whole 4 KiB pages.
pub const SECOND_AT: usize = BYTES.next_multiple_of(4096);

const HEAD: usize = 0;
const TAIL: usize = 1;
const QUEUED: usize = 2;

/// What [`Ring::pop`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Popped {
    /// No frame waits in the ring.
    Empty,
    /// A frame of this many bytes, copied to the start of the buffer.
    Frame(usize),
    /// The producer broke the ring's rules (a length that is no frame's or
    /// longer than the buffer, a `head` too far ahead): what it concerned
    /// was skipped.
    Bad,
}

/// Eight bytes as an array (`bytes` is a whole chunk of eight).
#[inline]
fn word_of(bytes: &[u8]) -> [u8; 8] {
    bytes.try_into().unwrap_or_default()
}

/// A view of a ring's words.
#[derive(Clone, Copy)]
pub struct Ring<'a> {
    words: &'a [AtomicU64],
}

impl<'a> Ring<'a> {
    /// The ring in `words` (which must hold [`WORDS`]; `None` if not).
    pub fn new(words: &'a [AtomicU64]) -> Option<Ring<'a>> {
        let words = words.get(..WORDS)?;
        Some(Ring { words })
    }

    fn slot(&self, index: u64) -> &'a [AtomicU64] {
        let start = HEADER_WORDS + (index % SLOTS as u64) as usize * SLOT_WORDS;
        &self.words[start..start + SLOT_WORDS]
    }

    /// Producer: copy `frame` into the next slot and publish it; `false`
    /// when the ring is full, `frame` is longer than [`MAX_FRAME`], or the
    /// consumer's `tail` makes no sense (then the frame goes elsewhere).
    pub fn push(&self, frame: &[u8]) -> bool {
        if frame.len() > MAX_FRAME {
            return false;
        }
        let head = self.words[HEAD].load(Ordering::Relaxed);
        let tail = self.words[TAIL].load(Ordering::Acquire);
        let used = head.wrapping_sub(tail);
        if used >= SLOTS as u64 {
            return false;
        }
        let slot = self.slot(head);
        slot[0].store(frame.len() as u64, Ordering::Relaxed);
        // Whole words in the loop, the last few bytes padded after it: a
        // padded copy per word was a `memcpy` call per 8 bytes, about a
        // third of a received frame's instructions in `netd` and the
        // driver together (`cargo mk bench --profile-net`).
        let words = &slot[1..];
        let whole = frame.chunks_exact(8);
        let rest = whole.remainder();
        for (word, bytes) in words.iter().zip(whole) {
            word.store(u64::from_le_bytes(word_of(bytes)), Ordering::Relaxed);
        }
        if !rest.is_empty() {
            words[frame.len() / 8].store(u64::from_le_bytes(le_bytes::padded_word(rest)), Ordering::Relaxed);
        }
        self.words[HEAD].store(head.wrapping_add(1), Ordering::Release);
        true
    }

    /// Frames in the ring not taken yet (0 when the counts make no sense).
    pub fn waiting(&self) -> u64 {
        let head = self.words[HEAD].load(Ordering::Acquire);
        let tail = self.words[TAIL].load(Ordering::Acquire);
        Some(head.wrapping_sub(tail)).filter(|&n| n <= SLOTS as u64).unwrap_or(0)
    }

    /// Producer: how many frames it holds outside the ring.
    pub fn set_queued(&self, frames: usize) {
        self.words[QUEUED].store(frames as u64, Ordering::Release);
    }

    /// Consumer: take the oldest frame into `out`.
    pub fn pop(&self, out: &mut [u8]) -> Popped {
        let tail = self.words[TAIL].load(Ordering::Relaxed);
        let head = self.words[HEAD].load(Ordering::Acquire);
        let waiting = head.wrapping_sub(tail);
        if waiting == 0 {
            return Popped::Empty;
        }
        if waiting > SLOTS as u64 {
            // Not a count the ring can hold: start over from `head`.
            self.words[TAIL].store(head, Ordering::Release);
            return Popped::Bad;
        }
        let slot = self.slot(tail);
        let len = slot[0].load(Ordering::Relaxed);
        let popped = match usize::try_from(len) {
            Ok(len) if len <= MAX_FRAME && len <= out.len() => {
                let words = &slot[1..];
                // Split first, so the loop zips two plain iterators (one
                // borrowed for its remainder after was twice as slow).
                let (whole, rest) = out[..len].split_at_mut(len / 8 * 8);
                for (word, bytes) in words.iter().zip(whole.chunks_exact_mut(8)) {
                    bytes.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
                }
                if !rest.is_empty() {
                    le_bytes::store_partial(rest, words[len / 8].load(Ordering::Relaxed).to_le_bytes());
                }
                Popped::Frame(len)
            }
            _ => Popped::Bad,
        };
        self.words[TAIL].store(tail.wrapping_add(1), Ordering::Release);
        popped
    }

    /// Consumer: how many frames the producer said it holds outside the
    /// ring (a batch read takes them).
    pub fn queued(&self) -> u64 {
        self.words[QUEUED].load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    fn words() -> Vec<AtomicU64> {
        (0..WORDS).map(|_| AtomicU64::new(0)).collect()
    }

    fn frame(n: usize, len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + n) as u8).collect()
    }

    #[test]
    fn frames_come_out_in_order_and_whole() {
        let words = words();
        let ring = Ring::new(&words).unwrap();
        let mut out = [0u8; 2048];
        assert_eq!(ring.pop(&mut out), Popped::Empty);
        // Many times round the ring, with every length's tail bytes.
        for round in 0..10 {
            for n in 0..SLOTS {
                assert!(ring.push(&frame(n + round, 14 + n * 23)));
            }
            assert!(!ring.push(&frame(0, 60)), "a full ring takes no more");
            for n in 0..SLOTS {
                let len = 14 + n * 23;
                assert_eq!(ring.pop(&mut out), Popped::Frame(len));
                assert_eq!(&out[..len], &frame(n + round, len)[..]);
            }
            assert_eq!(ring.pop(&mut out), Popped::Empty);
        }
        assert!(!ring.push(&[0u8; MAX_FRAME + 1]));
        assert!(ring.push(&[0xab; MAX_FRAME]));
        assert_eq!(ring.pop(&mut out), Popped::Frame(MAX_FRAME));
        assert!(out[..MAX_FRAME].iter().all(|&b| b == 0xab));
    }

    #[test]
    fn queued_is_what_the_producer_said() {
        let words = words();
        let ring = Ring::new(&words).unwrap();
        assert_eq!(ring.queued(), 0);
        assert!(ring.push(&frame(0, 60)));
        assert_eq!(ring.waiting(), 1);
        ring.set_queued(3);
        assert_eq!(ring.queued(), 3);
        assert!(Ring::new(&words[..WORDS - 1]).is_none());
    }

    #[test]
    fn a_broken_producer_is_survived() {
        let words = words();
        let ring = Ring::new(&words).unwrap();
        let mut out = [0u8; 2048];
        // A length no frame has, then one longer than the buffer.
        assert!(ring.push(&frame(1, 60)));
        words[HEADER_WORDS].store(u64::MAX, Ordering::Relaxed);
        assert_eq!(ring.pop(&mut out), Popped::Bad);
        assert!(ring.push(&frame(2, 100)));
        assert_eq!(ring.pop(&mut out[..50]), Popped::Bad);
        assert_eq!(ring.pop(&mut out), Popped::Empty);
        // A head far ahead: skipped to it, then the ring works on.
        words[HEAD].store(1 << 40, Ordering::Relaxed);
        assert_eq!(ring.pop(&mut out), Popped::Bad);
        assert_eq!(ring.pop(&mut out), Popped::Empty);
        assert!(ring.push(&frame(3, 64)));
        assert_eq!(ring.pop(&mut out), Popped::Frame(64));
        // Every header value a producer could write: never a panic.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let which = (seed % 4) as usize;
            words[if which == 3 { HEADER_WORDS + (seed as usize % SLOTS) * SLOT_WORDS } else { which }]
                .store(seed.rotate_left(17), Ordering::Relaxed);
            let _ = ring.pop(&mut out);
            let _ = ring.push(&frame(4, (seed % 1600) as usize));
        }
    }

    #[test]
    fn a_broken_consumer_is_survived() {
        let words = words();
        let ring = Ring::new(&words).unwrap();
        // A tail past head: the producer refuses rather than overwrite.
        words[TAIL].store(5, Ordering::Relaxed);
        assert!(!ring.push(&frame(1, 60)));
        words[TAIL].store(0, Ordering::Relaxed);
        assert!(ring.push(&frame(1, 60)));
    }

    #[test]
    fn two_threads_pass_every_frame() {
        let words = words();
        let ring = Ring::new(&words).unwrap();
        const FRAMES: usize = 20_000;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut n = 0;
                while n < FRAMES {
                    if ring.push(&frame(n, 14 + n % 1500)) {
                        n += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
            });
            let mut out = [0u8; 2048];
            let mut n = 0;
            while n < FRAMES {
                match ring.pop(&mut out) {
                    Popped::Frame(len) => {
                        assert_eq!(&out[..len], &frame(n, 14 + n % 1500)[..]);
                        n += 1;
                    }
                    Popped::Empty => std::thread::yield_now(),
                    Popped::Bad => panic!("a good producer's frame came out bad"),
                }
            }
        });
    }
}
