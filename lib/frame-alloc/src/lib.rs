//! Physical frame allocator bookkeeping for the kernel.
//!
//! Why this exists: the kernel needs to hand out 4 KiB physical frames (page
//! tables, kernel heap growth, DMA buffers, the AP trampoline below 1 MiB) and
//! take them back, catching double frees and frees of memory that was never
//! RAM. Keeping that logic here, as pure `no_std` code, lets it be tested on the
//! host with `cargo test -p frame-alloc`.
//!
//! What it may touch: only the `&mut [u64]` storage slice the caller lends it
//! (the kernel carves that out of RAM and passes it as `&'static mut`). It never
//! reads or writes physical memory itself and contains no `unsafe` code. Frame
//! `n` stands for physical address `n * FRAME_SIZE`; turning frame numbers into
//! mapped memory is the caller's business.
//!
//! Design: two bitmaps over the frame numbers `0..frame_count`, both living in
//! the caller's storage:
//!
//! * `usable` — bit set when the frame is RAM we manage (free *or* allocated);
//!   clear for reserved frames (holes, firmware, the kernel image, ...).
//! * `free` — bit set when the frame is usable *and* free to hand out.
//!
//! Invariants: a `free` bit implies the `usable` bit; bits at or above
//! `frame_count` are always clear; the counters equal the bitmaps' popcounts.
//! Searches go a word (64 frames) at a time, skipping all-used words, and
//! `allocate` continues from where the last one stopped (next fit), or from
//! the lowest frame freed since, so released frames are reused first.
//!
//! ```
//! use frame_alloc::{FrameBitmap, FreeError, FRAME_SIZE};
//!
//! // Covers physical memory up to 64 MiB; the kernel carves the storage out
//! // of RAM and passes it as `&'static mut [u64]`.
//! let frames = (64 << 20) / FRAME_SIZE;
//! let mut storage = vec![0u64; FrameBitmap::words_needed(frames)];
//! let mut bitmap = FrameBitmap::new(&mut storage, frames);
//! bitmap.add_free_range(0x10_0000 / FRAME_SIZE, frames - 256); // usable RAM from 1 MiB
//! bitmap.reserve_range(0x20_0000 / FRAME_SIZE, 16); // e.g. where the storage lives
//! let frame = bitmap.allocate().unwrap();
//! assert_eq!(bitmap.free(frame), Ok(()));
//! assert_eq!(bitmap.free(frame), Err(FreeError::NotAllocated));
//! ```

#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

/// Size of one physical frame in bytes.
pub const FRAME_SIZE: u64 = 4096;

/// Frames tracked per storage word.
const BITS_PER_WORD: u64 = u64::BITS as u64;

/// Counters describing the allocator's state, all in frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Frames currently usable: added by [`FrameBitmap::add_free_range`] and
    /// not since taken out by [`FrameBitmap::reserve_range`]. Always
    /// `free + used`.
    pub managed: u64,
    /// Usable frames that are free to allocate.
    pub free: u64,
    /// Usable frames that are allocated.
    pub used: u64,
}

/// Why [`FrameBitmap::free`] refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeError {
    /// The frame number is at or above the bitmap's `frame_count`.
    OutOfRange,
    /// The frame is not allocated: it is already free (double free) or it was
    /// never usable (reserved).
    NotAllocated,
}

/// Bitmap frame allocator over frames `0..frame_count`.
pub struct FrameBitmap<'a> {
    /// Bit set: usable and free.
    free: &'a mut [u64],
    /// Bit set: usable (free or allocated).
    usable: &'a mut [u64],
    frame_count: u64,
    /// Popcount of `usable`.
    managed: u64,
    /// Popcount of `free`.
    free_count: u64,
    /// Word index where the next unconstrained search starts: where the last
    /// one succeeded, or lower if frames were freed below it.
    hint: usize,
}

/// Mask with bits `lo..hi` set (`lo < hi <= 64`).
const fn bit_mask(lo: u64, hi: u64) -> u64 {
    let width = hi - lo;
    if width >= BITS_PER_WORD { u64::MAX } else { ((1u64 << width) - 1) << lo }
}

/// Calls `f(word_index, mask)` for every storage word touched by the frame
/// range `start..end`, with `mask` selecting the frames of the range in that
/// word.
fn for_each_word(start: u64, end: u64, mut f: impl FnMut(usize, u64)) {
    let mut frame = start;
    while frame < end {
        let word = frame / BITS_PER_WORD;
        let word_base = word * BITS_PER_WORD;
        let lo = frame - word_base;
        let hi = (end - word_base).min(BITS_PER_WORD);
        // `word < frame_count / 64 + 1`, which fits in usize (checked by
        // `words_per_map`), so this cast is lossless.
        f(word as usize, bit_mask(lo, hi));
        frame = word_base + BITS_PER_WORD;
    }
}

/// Words in one of the two bitmaps.
const fn words_per_map(frame_count: u64) -> usize {
    let words = frame_count.div_ceil(BITS_PER_WORD);
    assert!(words <= (usize::MAX / 2) as u64, "frame count too large for this address space");
    words as usize
}

impl<'a> FrameBitmap<'a> {
    /// Number of `u64` words of storage [`FrameBitmap::new`] needs for
    /// `frame_count` frames: `2 * ceil(frame_count / 64)` (one bitmap of
    /// usable frames, one of free frames). In bytes that is 8 times as much.
    pub const fn words_needed(frame_count: u64) -> usize {
        2 * words_per_map(frame_count)
    }

    /// Creates an allocator for frames `0..frame_count` with every frame
    /// reserved (not usable). Make RAM available with
    /// [`add_free_range`](Self::add_free_range).
    ///
    /// Only the first [`words_needed`](Self::words_needed)`(frame_count)`
    /// words of `storage` are used; they are cleared here, so the storage may
    /// hold garbage on entry.
    ///
    /// # Panics
    ///
    /// If `storage` is shorter than `words_needed(frame_count)`.
    pub fn new(storage: &'a mut [u64], frame_count: u64) -> Self {
        let words = words_per_map(frame_count);
        assert!(
            storage.len() >= 2 * words,
            "frame bitmap storage too small: {} words, need {}",
            storage.len(),
            2 * words
        );
        let (free, rest) = storage.split_at_mut(words);
        let usable = &mut rest[..words];
        free.fill(0);
        usable.fill(0);
        Self { free, usable, frame_count, managed: 0, free_count: 0, hint: 0 }
    }

    /// Number of frames the bitmap covers (frames `0..frame_count`).
    pub fn frame_count(&self) -> u64 {
        self.frame_count
    }

    /// Clamps `start..start+count` to `0..frame_count`.
    fn clamp(&self, start: u64, count: u64) -> (u64, u64) {
        let end = start.saturating_add(count).min(self.frame_count);
        (start.min(end), end)
    }

    /// Marks frames `start..start+count` (clamped to `frame_count`) usable
    /// and free. Frames in the range that are already usable are left as they
    /// are (an allocated frame stays allocated), so overlapping memory-map
    /// entries are harmless. Returns how many frames were newly added; that
    /// many are added to `managed` and `free`.
    pub fn add_free_range(&mut self, start: u64, count: u64) -> u64 {
        let (start, end) = self.clamp(start, count);
        let mut added = 0u64;
        let (free, usable) = (&mut *self.free, &mut *self.usable);
        for_each_word(start, end, |word, mask| {
            let new = mask & !usable[word];
            usable[word] |= new;
            free[word] |= new;
            added += u64::from(new.count_ones());
        });
        self.managed += added;
        self.free_count += added;
        added
    }

    /// Takes the free frames of `start..start+count` (clamped to
    /// `frame_count`) out of the pool: they become reserved, as if never
    /// added, and stop counting towards `managed`. Use it for frames the
    /// kernel claims outside the allocator, e.g. this bitmap's own storage or
    /// the AP trampoline frame.
    ///
    /// Frames in the range that are allocated are left allocated (and can
    /// still be freed); reserved frames stay reserved. Returns how many frames
    /// were free and are now reserved.
    pub fn reserve_range(&mut self, start: u64, count: u64) -> u64 {
        let (start, end) = self.clamp(start, count);
        let mut taken = 0u64;
        let (free, usable) = (&mut *self.free, &mut *self.usable);
        for_each_word(start, end, |word, mask| {
            let hit = mask & free[word];
            free[word] &= !hit;
            usable[word] &= !hit;
            taken += u64::from(hit.count_ones());
        });
        self.managed -= taken;
        self.free_count -= taken;
        taken
    }

    /// Allocates any free frame and returns its number, or `None` when no
    /// frame is free. Next fit: the search resumes where the previous one
    /// stopped and moves a word (64 frames) at a time.
    pub fn allocate(&mut self) -> Option<u64> {
        self.take_one_below(self.frame_count)
    }

    /// Allocates a free frame whose number is below `limit_frame` (e.g.
    /// `0x10_0000 / FRAME_SIZE` for memory below 1 MiB, `1 << 20` for memory
    /// below 4 GiB). Returns `None` when there is none.
    pub fn allocate_below(&mut self, limit_frame: u64) -> Option<u64> {
        self.take_one_below(limit_frame)
    }

    fn take_one_below(&mut self, limit_frame: u64) -> Option<u64> {
        let limit = limit_frame.min(self.frame_count);
        if self.free_count == 0 || limit == 0 {
            return None;
        }
        let words = words_per_map(limit);
        let whole = words == self.free.len();
        // Bits of the last word that lie below the limit.
        let last_mask = bit_mask(0, limit - (words as u64 - 1) * BITS_PER_WORD);
        let start = if self.hint < words { self.hint } else { 0 };
        for i in 0..words {
            let word = if start + i < words { start + i } else { start + i - words };
            let mut bits = self.free[word];
            if word == words - 1 {
                bits &= last_mask;
            }
            if bits != 0 {
                let bit = bits.trailing_zeros();
                self.free[word] &= !(1u64 << bit);
                self.free_count -= 1;
                // Only unconstrained searches move the next-fit hint, so a
                // low-memory request does not drag ordinary allocations
                // down into scarce low memory.
                if whole {
                    self.hint = word;
                }
                return Some(word as u64 * BITS_PER_WORD + u64::from(bit));
            }
        }
        None
    }

    /// Allocates `count` consecutive free frames whose first frame number is
    /// a multiple of `align_frames` (0 counts as 1; powers of two are usual
    /// but not required) and returns that first frame. `None` when `count` is
    /// 0 or no such run exists. First fit from frame 0.
    pub fn allocate_contiguous(&mut self, count: u64, align_frames: u64) -> Option<u64> {
        self.allocate_contiguous_below(count, align_frames, self.frame_count)
    }

    /// Like [`allocate_contiguous`](Self::allocate_contiguous), but the whole
    /// run must lie below `limit_frame` (e.g. DMA buffers below 4 GiB).
    pub fn allocate_contiguous_below(&mut self, count: u64, align_frames: u64, limit_frame: u64) -> Option<u64> {
        if count == 0 || count > self.free_count {
            return None;
        }
        let align = align_frames.max(1);
        let limit = limit_frame.min(self.frame_count);
        let mut candidate = 0u64;
        loop {
            let first_free = self.next_free(candidate, limit)?;
            let start = first_free.checked_next_multiple_of(align)?;
            let end = start.checked_add(count)?;
            if end > limit {
                return None;
            }
            match self.first_not_free(start, end) {
                None => {
                    let free = &mut *self.free;
                    for_each_word(start, end, |word, mask| free[word] &= !mask);
                    self.free_count -= count;
                    return Some(start);
                }
                // Every candidate start up to `busy` overlaps `busy`.
                Some(busy) => candidate = busy + 1,
            }
        }
    }

    /// First free frame in `from..limit`.
    fn next_free(&self, from: u64, limit: u64) -> Option<u64> {
        if from >= limit {
            return None;
        }
        let words = words_per_map(limit);
        let mut word = (from / BITS_PER_WORD) as usize;
        let mut bits = self.free[word] & (u64::MAX << (from % BITS_PER_WORD));
        loop {
            if bits != 0 {
                let frame = word as u64 * BITS_PER_WORD + u64::from(bits.trailing_zeros());
                return (frame < limit).then_some(frame);
            }
            word += 1;
            if word >= words {
                return None;
            }
            bits = self.free[word];
        }
    }

    /// First frame in `start..end` that is not free (`end <= frame_count`).
    fn first_not_free(&self, start: u64, end: u64) -> Option<u64> {
        let mut found = None;
        for_each_word(start, end, |word, mask| {
            let busy = mask & !self.free[word];
            if found.is_none() && busy != 0 {
                found = Some(word as u64 * BITS_PER_WORD + u64::from(busy.trailing_zeros()));
            }
        });
        found
    }

    /// Returns an allocated frame to the pool.
    ///
    /// Fails with [`FreeError::OutOfRange`] for a frame at or above
    /// `frame_count` and [`FreeError::NotAllocated`] for a frame that is
    /// already free or was never usable; nothing changes on failure.
    pub fn free(&mut self, frame: u64) -> Result<(), FreeError> {
        self.free_range(frame, 1)
    }

    /// Returns the allocated frames `start..start+count` to the pool (e.g. a
    /// run from [`allocate_contiguous`](Self::allocate_contiguous)). All or
    /// nothing: if any frame of the range is out of range or not allocated,
    /// the error is returned and nothing changes. A `count` of 0 succeeds.
    pub fn free_range(&mut self, start: u64, count: u64) -> Result<(), FreeError> {
        let end = start.checked_add(count).ok_or(FreeError::OutOfRange)?;
        if end > self.frame_count {
            return Err(FreeError::OutOfRange);
        }
        let mut ok = true;
        for_each_word(start, end, |word, mask| {
            // Allocated = usable and not free.
            ok &= mask & (self.free[word] | !self.usable[word]) == 0;
        });
        if !ok {
            return Err(FreeError::NotAllocated);
        }
        let free = &mut *self.free;
        for_each_word(start, end, |word, mask| free[word] |= mask);
        self.free_count += count;
        // Search from the lowest freed word next: frames just released are
        // reused first (they are warm in the cache), and a search never has
        // to sweep across the allocated stretch between the hint and them.
        self.hint = self.hint.min((start / BITS_PER_WORD) as usize);
        Ok(())
    }

    /// Whether `frame` is usable and free (false for frames out of range).
    pub fn is_free(&self, frame: u64) -> bool {
        frame < self.frame_count && Self::bit(self.free, frame)
    }

    /// Whether `frame` is usable, i.e. free or allocated (false for frames
    /// out of range).
    pub fn is_usable(&self, frame: u64) -> bool {
        frame < self.frame_count && Self::bit(self.usable, frame)
    }

    /// Whether `frame` is allocated (usable and not free).
    pub fn is_allocated(&self, frame: u64) -> bool {
        self.is_usable(frame) && !self.is_free(frame)
    }

    fn bit(map: &[u64], frame: u64) -> bool {
        map[(frame / BITS_PER_WORD) as usize] & (1u64 << (frame % BITS_PER_WORD)) != 0
    }

    /// Current counters; O(1).
    pub fn stats(&self) -> Stats {
        Stats { managed: self.managed, free: self.free_count, used: self.managed - self.free_count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::vec;
    use std::vec::Vec;
    use xorshift::Rng;

    fn storage(frames: u64) -> Vec<u64> {
        // Garbage on entry: `new` must clear what it uses.
        vec![0xdead_beef_dead_beef; FrameBitmap::words_needed(frames)]
    }

    #[test]
    fn words_needed_formula() {
        assert_eq!(FrameBitmap::words_needed(0), 0);
        assert_eq!(FrameBitmap::words_needed(1), 2);
        assert_eq!(FrameBitmap::words_needed(64), 2);
        assert_eq!(FrameBitmap::words_needed(65), 4);
        assert_eq!(FrameBitmap::words_needed(1 << 20), 2 * (1 << 14));
    }

    #[test]
    #[should_panic(expected = "too small")]
    fn short_storage_panics() {
        let mut s = vec![0u64; 3];
        let _ = FrameBitmap::new(&mut s, 129);
    }

    #[test]
    fn larger_storage_is_fine() {
        let mut s = vec![u64::MAX; 100];
        let mut b = FrameBitmap::new(&mut s, 100);
        assert_eq!(b.stats().managed, 0);
        assert_eq!(b.allocate(), None);
        assert_eq!(b.add_free_range(0, 1000), 100);
        assert_eq!(b.stats().free, 100);
    }

    #[test]
    fn starts_reserved() {
        let mut s = storage(200);
        let mut b = FrameBitmap::new(&mut s, 200);
        assert_eq!(b.stats(), Stats { managed: 0, free: 0, used: 0 });
        assert_eq!(b.allocate(), None);
        assert_eq!(b.allocate_below(200), None);
        assert_eq!(b.allocate_contiguous(1, 1), None);
        for f in 0..200 {
            assert!(!b.is_free(f));
            assert!(!b.is_usable(f));
            assert_eq!(b.free(f), Err(FreeError::NotAllocated));
        }
    }

    #[test]
    fn exhaustion_and_back() {
        let frames = 1000;
        let mut s = storage(frames);
        let mut b = FrameBitmap::new(&mut s, frames);
        b.add_free_range(3, 100);
        b.add_free_range(130, 77);
        b.add_free_range(500, 499);
        b.add_free_range(999, 5); // clamped to one frame
        let start = b.stats();
        assert_eq!(start.managed, 100 + 77 + 499 + 1);
        assert_eq!(start.free, start.managed);
        assert_eq!(start.used, 0);

        let mut got = BTreeSet::new();
        while let Some(f) = b.allocate() {
            assert!(f < frames);
            assert!(b.is_usable(f) && !b.is_free(f));
            assert!(got.insert(f), "frame {f} handed out twice");
        }
        assert_eq!(got.len() as u64, start.free);
        assert_eq!(b.stats(), Stats { managed: start.managed, free: 0, used: start.managed });
        assert_eq!(b.allocate_below(frames), None);
        assert_eq!(b.allocate_contiguous(1, 1), None);

        for &f in &got {
            b.free(f).unwrap();
        }
        assert_eq!(b.stats(), start);
        // And again, after the hint has moved.
        let again = core::iter::from_fn(|| b.allocate()).collect::<BTreeSet<_>>();
        assert_eq!(again, got);
    }

    #[test]
    fn double_free_detected() {
        let mut s = storage(128);
        let mut b = FrameBitmap::new(&mut s, 128);
        b.add_free_range(0, 128);
        let f = b.allocate().unwrap();
        assert_eq!(b.free(f), Ok(()));
        let before = b.stats();
        assert_eq!(b.free(f), Err(FreeError::NotAllocated));
        assert_eq!(b.stats(), before);
        // A frame that is free without ever having been allocated.
        let other = (f + 1) % 128;
        assert!(b.is_free(other));
        assert_eq!(b.free(other), Err(FreeError::NotAllocated));
    }

    #[test]
    fn freeing_reserved_rejected() {
        let mut s = storage(300);
        let mut b = FrameBitmap::new(&mut s, 300);
        b.add_free_range(10, 50);
        assert_eq!(b.free(5), Err(FreeError::NotAllocated));
        assert_eq!(b.free(60), Err(FreeError::NotAllocated));
        assert_eq!(b.free(299), Err(FreeError::NotAllocated));
        assert_eq!(b.free(300), Err(FreeError::OutOfRange));
        assert_eq!(b.free(u64::MAX), Err(FreeError::OutOfRange));

        // Frames taken out with reserve_range can't be freed either.
        assert_eq!(b.reserve_range(20, 5), 5);
        for f in 20..25 {
            assert!(!b.is_usable(f));
            assert_eq!(b.free(f), Err(FreeError::NotAllocated));
        }
        assert_eq!(b.stats(), Stats { managed: 45, free: 45, used: 0 });
        // Reserved frames are never handed out.
        while let Some(f) = b.allocate() {
            assert!((10..20).contains(&f) || (25..60).contains(&f));
        }
    }

    #[test]
    fn reserve_leaves_allocated_frames() {
        let mut s = storage(64);
        let mut b = FrameBitmap::new(&mut s, 64);
        b.add_free_range(0, 64);
        let a = b.allocate_contiguous(4, 4).unwrap();
        assert_eq!(a, 0);
        // Range covers 4 allocated + 4 free frames.
        assert_eq!(b.reserve_range(0, 8), 4);
        assert_eq!(b.reserve_range(0, 8), 0);
        assert_eq!(b.stats(), Stats { managed: 60, free: 56, used: 4 });
        for f in 0..4 {
            assert!(b.is_allocated(f));
            b.free(f).unwrap();
        }
        assert_eq!(b.stats().free, 60);
        // Re-adding a reserved range brings only the reserved frames back.
        assert_eq!(b.add_free_range(0, 64), 4);
        assert_eq!(b.stats().managed, 64);
    }

    #[test]
    fn add_free_range_keeps_allocated_frames() {
        let mut s = storage(10);
        let mut b = FrameBitmap::new(&mut s, 10);
        assert_eq!(b.add_free_range(0, 10), 10);
        let f = b.allocate().unwrap();
        assert_eq!(b.add_free_range(0, 10), 0);
        assert!(b.is_allocated(f));
        assert_eq!(b.stats(), Stats { managed: 10, free: 9, used: 1 });
        assert_eq!(b.add_free_range(5, u64::MAX), 0);
        assert_eq!(b.add_free_range(u64::MAX, u64::MAX), 0);
        assert_eq!(b.reserve_range(u64::MAX, 10), 0);
    }

    #[test]
    fn allocate_below_respects_limit() {
        let frames = 2048;
        let mut s = storage(frames);
        let mut b = FrameBitmap::new(&mut s, frames);
        b.add_free_range(1, 2047);
        // Move the next-fit hint high first.
        for _ in 0..1500 {
            b.allocate().unwrap();
        }
        for f in 0..1500 {
            if f % 3 == 0 && f != 0 {
                b.free(f).unwrap();
            }
        }
        let mut low = Vec::new();
        while let Some(f) = b.allocate_below(256) {
            assert!(f < 256, "frame {f} not below 256");
            low.push(f);
        }
        assert_eq!(low.len(), (1..256).filter(|f| f % 3 == 0).count());
        // Limits that are not a multiple of 64, and limit 0.
        assert_eq!(b.allocate_below(0), None);
        b.free(255).unwrap();
        b.free(99).unwrap();
        assert_eq!(b.allocate_below(99), None);
        assert_eq!(b.allocate_below(100), Some(99));
        assert_eq!(b.allocate_below(255), None);
        assert_eq!(b.allocate_below(256), Some(255));
        // A limit above frame_count is clamped.
        assert!(b.allocate_below(u64::MAX).is_some());
    }

    #[test]
    fn freed_frames_are_reused_first() {
        let mut s = storage(1024);
        let mut b = FrameBitmap::new(&mut s, 1024);
        b.add_free_range(0, 1024);
        for _ in 0..600 {
            b.allocate().unwrap();
        }
        for f in 64..128 {
            b.free(f).unwrap();
        }
        // A constrained search takes what it needs without moving the hint...
        assert_eq!(b.allocate_below(100), Some(64));
        // ...and the next ordinary allocation reuses the freed frames rather
        // than sweeping on through memory.
        assert_eq!(b.allocate(), Some(65));
        b.free(3).unwrap();
        assert_eq!(b.allocate(), Some(3));
    }

    #[test]
    fn contiguous_with_alignment() {
        let frames = 1000;
        let mut s = storage(frames);
        let mut b = FrameBitmap::new(&mut s, frames);
        b.add_free_range(1, 999);
        let a = b.allocate_contiguous(8, 8).unwrap();
        assert_eq!(a, 8);
        let c = b.allocate_contiguous(3, 1).unwrap();
        assert_eq!(c, 1);
        let d = b.allocate_contiguous(100, 64).unwrap();
        assert_eq!(d, 64);
        for f in (8..16).chain(1..4).chain(64..164) {
            assert!(b.is_allocated(f));
        }
        // Non-power-of-two alignment and align 0.
        let e = b.allocate_contiguous(2, 10).unwrap();
        assert_eq!(e, 20);
        let g = b.allocate_contiguous(2, 0).unwrap();
        assert_eq!(g, 4);
        // A run spanning many words.
        let h = b.allocate_contiguous(300, 256).unwrap();
        assert_eq!(h, 256);
        assert_eq!(b.allocate_contiguous(300, 256), None);
        assert_eq!(b.allocate_contiguous(0, 1), None);
        assert_eq!(b.allocate_contiguous(u64::MAX, 1), None);
        assert_eq!(b.allocate_contiguous(1, u64::MAX), None);
        // Alignment that lands exactly at the end.
        assert_eq!(b.allocate_contiguous(1, 999), Some(999));
        assert_eq!(b.stats().used, 8 + 3 + 100 + 2 + 2 + 300 + 1, "{:?}", b.stats());
        // Free a run at once; all-or-nothing on errors.
        assert_eq!(b.free_range(250, 310), Err(FreeError::NotAllocated));
        assert!(b.is_allocated(256));
        b.free_range(256, 300).unwrap();
        assert_eq!(b.free_range(256, 1), Err(FreeError::NotAllocated));
        assert_eq!(b.free_range(990, 20), Err(FreeError::OutOfRange));
        assert_eq!(b.free_range(5, u64::MAX), Err(FreeError::OutOfRange));
        assert_eq!(b.free_range(1000, 0), Ok(()));
    }

    #[test]
    fn contiguous_below_limit() {
        let mut s = storage(512);
        let mut b = FrameBitmap::new(&mut s, 512);
        b.add_free_range(0, 512);
        b.reserve_range(100, 1);
        assert_eq!(b.allocate_contiguous_below(64, 1, 128), Some(0));
        assert_eq!(b.allocate_contiguous_below(64, 1, 128), None);
        assert_eq!(b.allocate_contiguous_below(30, 1, 128), Some(64));
        // 94..121 would cross the reserved frame 100.
        assert_eq!(b.allocate_contiguous_below(27, 1, 128), Some(101));
        assert_eq!(b.allocate_contiguous_below(28, 1, 128), None);
        assert_eq!(b.allocate_contiguous_below(1, 1, 128), Some(94));
    }

    #[test]
    fn ranges_not_multiple_of_64() {
        let frames = 333;
        let mut s = storage(frames);
        let mut b = FrameBitmap::new(&mut s, frames);
        assert_eq!(b.add_free_range(5, 7), 7);
        assert_eq!(b.add_free_range(60, 10), 10);
        assert_eq!(b.add_free_range(127, 130), 130);
        assert_eq!(b.add_free_range(320, 100), 13);
        let expect: BTreeSet<u64> = (5..12).chain(60..70).chain(127..257).chain(320..333).collect();
        for f in 0..frames {
            assert_eq!(b.is_free(f), expect.contains(&f), "frame {f}");
        }
        assert_eq!(b.reserve_range(62, 70), 8 + 5);
        let got: BTreeSet<u64> = core::iter::from_fn(|| b.allocate()).collect();
        let expect: BTreeSet<u64> = (5..12).chain(60..62).chain(132..257).chain(320..333).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn frame_count_zero() {
        let mut s: Vec<u64> = Vec::new();
        let mut b = FrameBitmap::new(&mut s, 0);
        assert_eq!(b.add_free_range(0, 10), 0);
        assert_eq!(b.reserve_range(0, 10), 0);
        assert_eq!(b.allocate(), None);
        assert_eq!(b.allocate_below(10), None);
        assert_eq!(b.allocate_contiguous(1, 1), None);
        assert_eq!(b.free(0), Err(FreeError::OutOfRange));
        assert!(!b.is_free(0));
        assert_eq!(b.stats(), Stats { managed: 0, free: 0, used: 0 });
    }

    #[test]
    fn frame_count_one() {
        let mut s = storage(1);
        let mut b = FrameBitmap::new(&mut s, 1);
        assert_eq!(b.add_free_range(0, 2), 1);
        assert_eq!(b.allocate(), Some(0));
        assert_eq!(b.allocate(), None);
        assert_eq!(b.free(1), Err(FreeError::OutOfRange));
        b.free(0).unwrap();
        assert_eq!(b.allocate_below(1), Some(0));
        b.free(0).unwrap();
        assert_eq!(b.allocate_contiguous(2, 1), None);
        assert_eq!(b.allocate_contiguous(1, 1), Some(0));
        b.free(0).unwrap();
        assert_eq!(b.free(0), Err(FreeError::NotAllocated));
        assert_eq!(b.reserve_range(0, 1), 1);
        assert_eq!(b.allocate(), None);
        assert_eq!(b.free(0), Err(FreeError::NotAllocated));
    }

    #[derive(Default)]
    struct Model {
        usable: BTreeSet<u64>,
        free: BTreeSet<u64>,
    }

    impl Model {
        fn contiguous_exists(&self, count: u64, align: u64, limit: u64) -> bool {
            let align = align.max(1);
            let mut start = 0;
            while start + count <= limit {
                if (start..start + count).all(|f| self.free.contains(&f)) {
                    return true;
                }
                start += align;
            }
            false
        }
    }

    fn check(b: &FrameBitmap<'_>, m: &Model, frames: u64) {
        assert_eq!(
            b.stats(),
            Stats {
                managed: m.usable.len() as u64,
                free: m.free.len() as u64,
                used: (m.usable.len() - m.free.len()) as u64,
            }
        );
        for f in 0..frames + 2 {
            assert_eq!(b.is_free(f), m.free.contains(&f), "frame {f}");
            assert_eq!(b.is_usable(f), m.usable.contains(&f), "frame {f}");
        }
    }

    fn randomized(seed: u64, frames: u64, ops: usize) {
        let mut rng = Rng::new(seed);
        let mut s = storage(frames);
        let mut b = FrameBitmap::new(&mut s, frames);
        let mut m = Model::default();
        let mut allocated: Vec<u64> = Vec::new();
        let span = frames + 10;
        for op in 0..ops {
            match rng.below_u64(100) {
                0..=4 => {
                    let start = rng.below_u64(span);
                    let count = rng.below_u64(200);
                    let mut added = 0;
                    for f in start..(start + count).min(frames) {
                        if m.usable.insert(f) {
                            m.free.insert(f);
                            added += 1;
                        }
                    }
                    assert_eq!(b.add_free_range(start, count), added);
                }
                5..=7 => {
                    let start = rng.below_u64(span);
                    let count = rng.below_u64(80);
                    let mut taken = 0;
                    for f in start..(start + count).min(frames) {
                        if m.free.remove(&f) {
                            m.usable.remove(&f);
                            taken += 1;
                        }
                    }
                    assert_eq!(b.reserve_range(start, count), taken);
                }
                8..=39 => match b.allocate() {
                    Some(f) => {
                        assert!(m.free.remove(&f), "op {op}: allocated non-free {f}");
                        allocated.push(f);
                    }
                    None => assert!(m.free.is_empty(), "op {op}"),
                },
                40..=49 => {
                    let limit = rng.below_u64(span);
                    match b.allocate_below(limit) {
                        Some(f) => {
                            assert!(f < limit);
                            assert!(m.free.remove(&f), "op {op}: allocated non-free {f}");
                            allocated.push(f);
                        }
                        None => assert!(m.free.range(..limit).next().is_none(), "op {op}"),
                    }
                }
                50..=59 => {
                    let count = 1 + rng.below_u64(8);
                    let align = [0, 1, 2, 4, 8, 16, 3][rng.below_u64(7) as usize];
                    let limit = if rng.below_u64(2) == 0 { frames } else { rng.below_u64(span) };
                    match b.allocate_contiguous_below(count, align, limit) {
                        Some(f) => {
                            assert_eq!(f % align.max(1), 0);
                            assert!(f + count <= limit);
                            for g in f..f + count {
                                assert!(m.free.remove(&g), "op {op}: run frame {g} not free");
                                allocated.push(g);
                            }
                        }
                        None => assert!(
                            !m.contiguous_exists(count, align, limit.min(frames)),
                            "op {op}: missed a run of {count} align {align} below {limit}"
                        ),
                    }
                }
                60..=89 => {
                    if !allocated.is_empty() {
                        let i = rng.below_u64(allocated.len() as u64) as usize;
                        let f = allocated.swap_remove(i);
                        assert_eq!(b.free(f), Ok(()));
                        assert!(m.usable.contains(&f));
                        m.free.insert(f);
                    }
                }
                _ => {
                    // Free an arbitrary frame: must agree with the model.
                    let f = rng.below_u64(span);
                    let expect = if f >= frames {
                        Err(FreeError::OutOfRange)
                    } else if m.usable.contains(&f) && !m.free.contains(&f) {
                        Ok(())
                    } else {
                        Err(FreeError::NotAllocated)
                    };
                    assert_eq!(b.free(f), expect, "op {op}: free({f})");
                    if expect.is_ok() {
                        m.free.insert(f);
                        allocated.retain(|&g| g != f);
                    }
                }
            }
            if op % 97 == 0 {
                check(&b, &m, frames);
            }
        }
        check(&b, &m, frames);
        for f in allocated {
            b.free(f).unwrap();
        }
        assert_eq!(b.stats().used, 0);
    }

    #[test]
    fn randomized_against_model() {
        randomized(0x1234_5678_9abc_def1, 700, 5000);
        randomized(0x0fed_cba9_8765_4321, 129, 5000);
        randomized(42, 1, 500);
        randomized(7, 4096 + 17, 4000);
    }
}
