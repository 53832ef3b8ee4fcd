//! [`BinnedHeap`]: a constant-time front end for small blocks over the
//! first-fit [`FreeListHeap`].
//!
//! Why this exists: the free list is address-ordered, so every allocation
//! and every free walks it, and the walk grows with fragmentation. A scheme
//! call allocates and frees a handful of small blocks (a call record, a
//! request, an answer), each a walk: measured with `cargo mk bench
//! --profile`, the walks were about a fifth of a round trip to a daemon.
//! Freed blocks of up to [`BIN_MAX`] bytes (and ordinary alignment) go to a
//! per-size singly linked list instead (a bin), and an allocation of that
//! size takes the first block of its bin: a push and a pop.
//!
//! Binned blocks stay allocated as far as the free list knows (it neither
//! merges nor hands them out), so a bin must not hoard memory another size
//! needs: each bin holds at most [`BIN_CAP`] bytes (a free beyond it goes to
//! the list), and when the list cannot serve a request every bin is
//! emptied into it ([`BinnedHeap::flush`], which merges the blocks) before
//! the request fails. `stats` counts binned blocks as free.
//!
//! What it may touch: only the memory handed to it, as [`FreeListHeap`].

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use crate::{BLOCK_ALIGN, FreeListHeap, HeapStats, MIN_BLOCK, block_of};

/// The largest block (in bytes, after rounding to [`MIN_BLOCK`]) kept in a
/// bin.
pub const BIN_MAX: usize = 512;
/// The most bytes one bin holds. Large enough for a data structure freed
/// and rebuilt whole (`redoxfs` copies its block allocator, a B-tree of
/// hundreds of nodes, for every transaction and frees the old one): at
/// 32 KiB the copy's nodes overflowed to the list, and each allocation
/// walked it (`cargo mk bench --profile-disks`: 2,800 of 21,600
/// instructions of a 4 KiB `file:` read). What a bin holds is never lost
/// to other sizes: the bins are emptied into the list before a request
/// fails or the heap grows.
pub const BIN_CAP: usize = 256 * 1024;
const BINS: usize = BIN_MAX / MIN_BLOCK;

/// A binned block's link, in its first bytes.
struct BinNode {
    next: *mut BinNode,
}

/// Bins of small free blocks in front of a [`FreeListHeap`].
pub struct BinnedHeap {
    list: FreeListHeap,
    heads: [*mut BinNode; BINS],
    /// Bytes in each bin.
    held: [usize; BINS],
    /// Bytes and blocks in all bins.
    binned_bytes: usize,
    binned_blocks: usize,
}

// SAFETY: as for `FreeListHeap`: the heap owns the memory its pointers
// point into, and every mutation takes `&mut self`.
unsafe impl Send for BinnedHeap {}

impl Default for BinnedHeap {
    fn default() -> Self {
        Self::new()
    }
}

/// The bin of a layout: its rounded size's, if it is small and needs no
/// more than the ordinary alignment.
#[inline(always)]
fn bin_of(layout: Layout) -> Option<(usize, usize)> {
    if layout.align() > BLOCK_ALIGN {
        return None;
    }
    let (size, _) = block_of(layout)?;
    (size <= BIN_MAX).then(|| (size / MIN_BLOCK - 1, size))
}

impl BinnedHeap {
    /// An empty heap.
    pub const fn new() -> Self {
        Self {
            list: FreeListHeap::new(),
            heads: [ptr::null_mut(); BINS],
            held: [0; BINS],
            binned_bytes: 0,
            binned_blocks: 0,
        }
    }

    /// [`FreeListHeap::add_region`].
    ///
    /// # Safety
    ///
    /// As for [`FreeListHeap::add_region`].
    pub unsafe fn add_region(&mut self, start: usize, size: usize) {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.list.add_region(start, size) }
    }

    /// [`FreeListHeap::region_size_for`].
    pub fn region_size_for(layout: Layout) -> Option<usize> {
        FreeListHeap::region_size_for(layout)
    }

    /// Allocates a block for `layout`: from its bin when it has one, else
    /// from the free list (after emptying the bins into it, if the list
    /// alone cannot serve it). `None` if nothing can hold it. The bin's
    /// pop is inline; the rest is out of line.
    #[inline]
    pub fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        if let Some((bin, size)) = bin_of(layout) {
            let head = self.heads[bin];
            if !head.is_null() {
                // SAFETY: `head` is the first block of the bin: a block of
                // this heap, not in use, whose first bytes hold its link.
                self.heads[bin] = unsafe { (*head).next };
                self.held[bin] -= size;
                self.binned_bytes -= size;
                self.binned_blocks -= 1;
                return NonNull::new(head.cast());
            }
        }
        self.allocate_from_list(layout)
    }

    #[inline(never)]
    fn allocate_from_list(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        if let Some(block) = self.list.allocate(layout) {
            return Some(block);
        }
        if self.binned_blocks == 0 {
            return None;
        }
        self.flush();
        self.list.allocate(layout)
    }

    /// Frees a block: into its bin while the bin has room (inline), else
    /// to the list.
    ///
    /// # Safety
    ///
    /// `ptr` must come from `allocate` (or `reallocate`) of this heap with
    /// `layout`, and not be used after.
    #[inline]
    pub unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        if let Some((bin, size)) = bin_of(layout)
            && self.held[bin] + size <= BIN_CAP
        {
            let node = ptr.as_ptr().cast::<BinNode>();
            // SAFETY: the block is at least MIN_BLOCK bytes, aligned to
            // BLOCK_ALIGN, and ours from now on: its first bytes hold the
            // link.
            unsafe { node.write(BinNode { next: self.heads[bin] }) };
            self.heads[bin] = node;
            self.held[bin] += size;
            self.binned_bytes += size;
            self.binned_blocks += 1;
            return;
        }
        // SAFETY: the caller's promise, passed on.
        unsafe { self.deallocate_to_list(ptr, layout) }
    }

    /// # Safety
    ///
    /// As for [`Self::deallocate`].
    #[inline(never)]
    unsafe fn deallocate_to_list(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.list.deallocate(ptr, layout) }
    }

    /// [`FreeListHeap::reallocate`], emptying the bins into the list and
    /// trying again if there was no room.
    ///
    /// # Safety
    ///
    /// As for [`FreeListHeap::reallocate`]. (A block from a bin is an
    /// allocated block as far as the list knows, so it resizes like any.)
    pub unsafe fn reallocate(&mut self, ptr: NonNull<u8>, layout: Layout, new_size: usize) -> Option<NonNull<u8>> {
        // SAFETY: the caller's promise, passed on.
        if let Some(moved) = unsafe { self.list.reallocate(ptr, layout, new_size) } {
            return Some(moved);
        }
        if self.binned_blocks == 0 {
            return None;
        }
        self.flush();
        // SAFETY: as above; a failed reallocate left the block untouched.
        unsafe { self.list.reallocate(ptr, layout, new_size) }
    }

    /// Empties every bin into the free list, which merges the blocks.
    pub fn flush(&mut self) {
        for bin in 0..BINS {
            let size = (bin + 1) * MIN_BLOCK;
            let layout = Layout::from_size_align(size, BLOCK_ALIGN).expect("a bin's layout is valid");
            while let Some(block) = NonNull::new(self.heads[bin]) {
                // SAFETY: a block on the bin: not in use, allocated from the
                // list with this size.
                unsafe {
                    self.heads[bin] = (*block.as_ptr()).next;
                    self.list.deallocate(block.cast(), layout);
                }
            }
            self.held[bin] = 0;
        }
        self.binned_bytes = 0;
        self.binned_blocks = 0;
    }

    /// Counters; binned blocks count as free. O(1).
    pub fn stats(&self) -> HeapStats {
        let list = self.list.stats();
        HeapStats {
            total: list.total,
            used: list.used - self.binned_bytes,
            free: list.free + self.binned_bytes,
            allocations: list.allocations - self.binned_blocks,
        }
    }

    /// Bytes and blocks held in bins.
    pub fn binned(&self) -> (usize, usize) {
        (self.binned_bytes, self.binned_blocks)
    }

    /// The free list behind the bins (its blocks, its largest block).
    pub fn list(&self) -> &FreeListHeap {
        &self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{alloc_zeroed, dealloc};
    use std::collections::BTreeMap;
    use std::vec::Vec;
    use xorshift::Rng;

    const REGION: usize = 1 << 20;

    struct Buffer(*mut u8, Layout);

    impl Buffer {
        fn new(size: usize) -> Buffer {
            let layout = Layout::from_size_align(size, 4096).unwrap();
            // SAFETY: a non-zero size.
            let ptr = unsafe { alloc_zeroed(layout) };
            assert!(!ptr.is_null());
            Buffer(ptr, layout)
        }
    }

    impl Drop for Buffer {
        fn drop(&mut self) {
            // SAFETY: allocated in `new` with this layout.
            unsafe { dealloc(self.0, self.1) };
        }
    }

    fn heap_over(buffer: &Buffer) -> BinnedHeap {
        let mut heap = BinnedHeap::new();
        // SAFETY: the buffer outlives the heap in every test.
        unsafe { heap.add_region(buffer.0.expose_provenance(), buffer.1.size()) };
        heap
    }

    #[test]
    fn a_freed_small_block_is_the_next_of_its_size() {
        let buffer = Buffer::new(REGION);
        let mut heap = heap_over(&buffer);
        let layout = Layout::from_size_align(40, 8).unwrap();
        let a = heap.allocate(layout).unwrap();
        let _b = heap.allocate(layout).unwrap();
        // SAFETY: `a` came from this heap with `layout`.
        unsafe { heap.deallocate(a, layout) };
        assert_eq!(heap.binned(), (48, 1));
        assert_eq!(heap.stats().allocations, 1);
        assert_eq!(heap.allocate(Layout::from_size_align(33, 16).unwrap()), Some(a), "same bin, same block");
        assert_eq!(heap.binned(), (0, 0));
    }

    #[test]
    fn large_or_aligned_blocks_bypass_the_bins() {
        let buffer = Buffer::new(REGION);
        let mut heap = heap_over(&buffer);
        for layout in [Layout::from_size_align(BIN_MAX + 1, 8).unwrap(), Layout::from_size_align(64, 64).unwrap()] {
            let block = heap.allocate(layout).unwrap();
            // SAFETY: from this heap with `layout`.
            unsafe { heap.deallocate(block, layout) };
            assert_eq!(heap.binned(), (0, 0));
        }
        assert_eq!(heap.list().free_block_count(), 1);
    }

    #[test]
    fn a_bin_holds_at_most_its_cap() {
        let buffer = Buffer::new(REGION);
        let mut heap = heap_over(&buffer);
        let layout = Layout::from_size_align(BIN_MAX, 16).unwrap();
        let blocks: Vec<_> = (0..BIN_CAP / BIN_MAX + 10).map(|_| heap.allocate(layout).unwrap()).collect();
        for block in blocks {
            // SAFETY: from this heap with `layout`.
            unsafe { heap.deallocate(block, layout) };
        }
        assert_eq!(heap.binned().0, BIN_CAP);
        let stats = heap.stats();
        assert_eq!((stats.used, stats.allocations, stats.free), (0, 0, stats.total));
    }

    #[test]
    fn binned_blocks_are_given_back_when_the_list_runs_short() {
        let buffer = Buffer::new(64 * 1024);
        let mut heap = heap_over(&buffer);
        let small = Layout::from_size_align(256, 16).unwrap();
        let mut blocks = Vec::new();
        while let Some(block) = heap.allocate(small) {
            blocks.push(block);
        }
        for block in blocks {
            // SAFETY: from this heap with `small`.
            unsafe { heap.deallocate(block, small) };
        }
        assert!(heap.binned().0 > 0);
        // Only the bins' blocks, merged, can hold this.
        let big = Layout::from_size_align(40 * 1024, 16).unwrap();
        let block = heap.allocate(big).expect("the bins are flushed into the list");
        // SAFETY: from this heap with `big`.
        unsafe { heap.deallocate(block, big) };
        heap.flush();
        assert_eq!(heap.list().free_block_count(), 1, "everything merged again");
    }

    /// Random allocations, frees and resizes against a model: blocks never
    /// overlap, keep their contents and alignment, and the counters add up.
    #[test]
    fn randomized_against_a_model() {
        let buffer = Buffer::new(256 * 1024);
        let mut heap = heap_over(&buffer);
        let total = heap.stats().total;
        let mut rng = Rng::new(0x5eed_b175);
        let mut live: BTreeMap<usize, (Layout, u8)> = BTreeMap::new();
        for step in 0..200_000u32 {
            let roll = rng.below(100);
            if roll < 50 || live.is_empty() {
                let size = if rng.below(4) == 0 { 1 + rng.below(2048) } else { 1 + rng.below(BIN_MAX) };
                let shifts = if rng.below(8) == 0 { 8 } else { 5 };
                let align = 1usize << rng.below(shifts);
                let layout = Layout::from_size_align(size, align).unwrap();
                if let Some(block) = heap.allocate(layout) {
                    let addr = block.as_ptr().expose_provenance();
                    assert_eq!(addr % align, 0);
                    let fill = step as u8;
                    // SAFETY: a fresh block of `size` bytes.
                    unsafe { ptr::write_bytes(block.as_ptr(), fill, size) };
                    if let Some((&before, &(l, _))) = live.range(..addr).next_back() {
                        assert!(before + l.size() <= addr, "overlaps the block before");
                    }
                    if let Some((&after, _)) = live.range(addr..).next() {
                        assert!(addr + size <= after, "overlaps the block after");
                    }
                    live.insert(addr, (layout, fill));
                }
            } else {
                let index = rng.below(live.len());
                let (&addr, &(layout, fill)) = live.iter().nth(index).unwrap();
                let block = NonNull::new(ptr::with_exposed_provenance_mut::<u8>(addr)).unwrap();
                // SAFETY: a live block of `layout.size()` bytes.
                let bytes = unsafe { core::slice::from_raw_parts(block.as_ptr(), layout.size()) };
                assert!(bytes.iter().all(|b| *b == fill), "a block's contents changed");
                live.remove(&addr);
                if roll < 60 {
                    let new_size = 1 + rng.below(1024);
                    // SAFETY: a live block with `layout`.
                    match unsafe { heap.reallocate(block, layout, new_size) } {
                        Some(moved) => {
                            let kept = layout.size().min(new_size);
                            // SAFETY: the resized block holds at least `kept` bytes.
                            let bytes = unsafe { core::slice::from_raw_parts(moved.as_ptr(), kept) };
                            assert!(bytes.iter().all(|b| *b == fill), "reallocate lost bytes");
                            // SAFETY: the block is `new_size` bytes long.
                            unsafe { ptr::write_bytes(moved.as_ptr(), fill, new_size) };
                            let layout = Layout::from_size_align(new_size, layout.align()).unwrap();
                            live.insert(moved.as_ptr().expose_provenance(), (layout, fill));
                        }
                        None => {
                            live.insert(addr, (layout, fill));
                        }
                    }
                } else {
                    // SAFETY: a live block with `layout`, dropped from the model.
                    unsafe { heap.deallocate(block, layout) };
                }
            }
            let stats = heap.stats();
            assert_eq!(stats.total, total);
            assert_eq!(stats.used + stats.free, total);
            assert_eq!(stats.allocations, live.len());
        }
        for (addr, (layout, _)) in live {
            let block = NonNull::new(ptr::with_exposed_provenance_mut::<u8>(addr)).unwrap();
            // SAFETY: a live block with `layout`.
            unsafe { heap.deallocate(block, layout) };
        }
        heap.flush();
        assert_eq!(heap.stats().used, 0);
        assert_eq!(heap.list().free_block_count(), 1);
    }
}
