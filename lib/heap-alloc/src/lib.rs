//! The kernel heap's allocator: a first-fit, address-ordered free list.
//!
//! Why this exists: the kernel's `#[global_allocator]` needs an allocator over
//! memory it maps itself. Keeping the algorithm here, as `no_std` code with no
//! knowledge of paging or locks, lets it be tested on the host with
//! `cargo test -p heap-alloc`. The kernel wraps a [`FreeListHeap`] in a spin
//! lock and, when an allocation fails, maps more pages (ideally right after the
//! heap's current end, see [`FreeListHeap::region_size_for`]) and calls
//! [`FreeListHeap::add_region`].
//!
//! What it may touch: only memory handed to it through `add_region` (whose
//! caller promises it is valid and unused). Free blocks store their list node
//! in their own first bytes; allocated blocks are not touched at all except by
//! `reallocate`, which copies the caller's bytes when it has to move them.
//!
//! Design:
//!
//! * Every block (free or allocated) starts at a multiple of [`BLOCK_ALIGN`]
//!   and its size is a non-zero multiple of [`MIN_BLOCK`] (both 16 bytes on
//!   64-bit targets, the size of a free-list node). A request's block size is
//!   its size rounded up to that granule (size 0 counts as 1), so
//!   `deallocate` can recompute it from the `Layout` alone: there are no
//!   headers.
//! * Because everything is granule-sized, the space left in front of an
//!   aligned allocation and behind it is always either empty or big enough to
//!   be a free block of its own: splitting never wastes bytes.
//! * The free list is sorted by address; freeing a block (or adding a region)
//!   merges it with the free blocks immediately before and after it.

#![no_std]

#[cfg(test)]
extern crate std;

mod binned;

pub use binned::{BIN_CAP, BIN_MAX, BinnedHeap};

use core::alloc::Layout;
use core::mem::{align_of, size_of};
use core::ptr::{self, NonNull};

/// A free block's header, stored in the block's first bytes.
#[repr(C)]
struct Node {
    /// Size of the free block in bytes, a multiple of [`MIN_BLOCK`].
    size: usize,
    /// Next free block, at a higher address; null at the end of the list.
    next: *mut Node,
}

/// Smallest block the heap hands out or keeps on its free list, in bytes;
/// every block size is a multiple of it. 16 on 64-bit targets.
pub const MIN_BLOCK: usize = size_of::<Node>();

/// Every block starts at a multiple of this, so every allocation is at least
/// this aligned. Equal to [`MIN_BLOCK`].
pub const BLOCK_ALIGN: usize = MIN_BLOCK;

const _: () = assert!(MIN_BLOCK.is_power_of_two() && align_of::<Node>() <= BLOCK_ALIGN);

/// Counters describing the heap, all O(1) to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes managed: everything handed in through `add_region`, minus the
    /// few bytes trimmed off each region's ends to reach [`BLOCK_ALIGN`].
    /// Always `used + free`.
    pub total: usize,
    /// Bytes in live allocations, including the rounding of each request up
    /// to a multiple of [`MIN_BLOCK`].
    pub used: usize,
    /// Bytes in free blocks.
    pub free: usize,
    /// Number of live allocations.
    pub allocations: usize,
}

/// First-fit free-list allocator over caller-provided regions.
pub struct FreeListHeap {
    /// Lowest free block; null when there is none.
    head: *mut Node,
    total: usize,
    used: usize,
    allocations: usize,
}

// SAFETY: the heap owns the memory its raw pointers point into (the
// `add_region` contract hands it over for good), and nothing in it is tied to
// a thread. Moving it to another thread moves that ownership along; `&mut self`
// on every mutating method keeps access exclusive.
unsafe impl Send for FreeListHeap {}

impl Default for FreeListHeap {
    fn default() -> Self {
        Self::new()
    }
}

/// The block a layout occupies: `(size, align)` with `size` a non-zero
/// multiple of [`MIN_BLOCK`] and `align` at least [`BLOCK_ALIGN`]. `None` if
/// rounding overflows.
#[inline(always)]
fn block_of(layout: Layout) -> Option<(usize, usize)> {
    let size = layout.size().max(1).checked_next_multiple_of(MIN_BLOCK)?;
    Some((size, layout.align().max(BLOCK_ALIGN)))
}

/// Pointer to heap memory at `addr`. The heap deals in addresses the caller
/// passed as integers, so it uses their exposed provenance.
fn ptr_at<T>(addr: usize) -> *mut T {
    ptr::with_exposed_provenance_mut(addr)
}

impl FreeListHeap {
    /// An empty heap: every allocation fails until a region is added.
    pub const fn new() -> Self {
        Self { head: ptr::null_mut(), total: 0, used: 0, allocations: 0 }
    }

    /// Hands the memory `[start, start + size)` to the heap. The ends are
    /// trimmed inwards to multiples of [`BLOCK_ALIGN`] (address 0 is never
    /// used); a region with less than one [`MIN_BLOCK`] left is ignored. The
    /// region is merged with free blocks it touches, so extending the heap
    /// just past its end grows the last free block, and once the allocated
    /// blocks in between are freed everything coalesces into one block.
    ///
    /// # Safety
    ///
    /// `[start, start + size)` must be valid, writable memory that nothing
    /// else uses, now or later: it belongs to the heap from this call on (for
    /// as long as the heap or any allocation from it is in use). It must not
    /// overlap a region added before. The range must not wrap around the
    /// address space.
    ///
    /// # Panics
    ///
    /// If the region overlaps a free block of the heap (a sign that it was
    /// added twice).
    pub unsafe fn add_region(&mut self, start: usize, size: usize) {
        let end = start.saturating_add(size) & !(BLOCK_ALIGN - 1);
        let Some(begin) = start.max(1).checked_next_multiple_of(BLOCK_ALIGN) else {
            return;
        };
        if end <= begin {
            return;
        }
        let size = end - begin;
        // SAFETY: the caller hands `[begin, end)` (inside their region) to
        // the heap: it is valid, writable and unused, and `begin` is
        // `BLOCK_ALIGN`-aligned and non-null with `size` a multiple of
        // `MIN_BLOCK`, which is what `insert_free` requires.
        unsafe { self.insert_free(begin, size) };
        self.total += size;
    }

    /// The smallest fresh region that is sure to satisfy `layout` on its own
    /// (ignoring any free block it may merge with): the rounded size plus
    /// the worst-case alignment gap. `None` on overflow. A kernel growing the
    /// heap on failure should map at least this many bytes (rounded up to
    /// pages) and call [`add_region`](Self::add_region).
    pub fn region_size_for(layout: Layout) -> Option<usize> {
        let (size, align) = block_of(layout)?;
        size.checked_add(align - BLOCK_ALIGN)
    }

    /// Allocates a block for `layout`: first fit, in address order. Any
    /// power-of-two alignment is honoured. Returns `None` if no free block
    /// can hold it; the heap is unchanged then.
    pub fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let (size, align) = block_of(layout)?;
        let mut link: *mut *mut Node = &raw mut self.head;
        loop {
            // SAFETY: `link` is `&self.head` or the `next` field of a node on
            // the free list; both are valid, aligned and exclusively ours
            // under `&mut self`.
            let node = unsafe { *link };
            if node.is_null() {
                return None;
            }
            // SAFETY: `node` is on the free list: it points to a live,
            // aligned `Node` at the start of a free block the heap owns.
            let Node { size: block_size, next } = unsafe { node.read() };
            let block = node.addr();
            let block_end = block + block_size;
            if let Some(start) = block.checked_next_multiple_of(align)
                && let Some(end) = start.checked_add(size)
                && end <= block_end
            {
                // `start - block` and `block_end - end` are multiples of
                // MIN_BLOCK: each is either 0 or a whole free block.
                let mut rest = next;
                if end < block_end {
                    // SAFETY: `[end, block_end)` is the tail of the free
                    // block, owned by the heap and unused; `end` is aligned
                    // for a `Node` and the tail is at least `MIN_BLOCK` long.
                    unsafe {
                        ptr_at::<Node>(end).write(Node { size: block_end - end, next });
                    }
                    rest = ptr_at(end);
                }
                if start > block {
                    // SAFETY: the front `[block, start)` stays a free block;
                    // `node` is still its valid header.
                    unsafe {
                        (*node).size = start - block;
                        (*node).next = rest;
                    }
                } else {
                    // SAFETY: as above, `link` is valid and exclusively ours.
                    unsafe { *link = rest };
                }
                self.used += size;
                self.allocations += 1;
                return NonNull::new(ptr_at::<u8>(start));
            }
            // SAFETY: `node` is a valid free-list node (see above).
            link = unsafe { &raw mut (*node).next };
        }
    }

    /// Returns a block to the heap, merging it with free neighbours.
    ///
    /// # Safety
    ///
    /// `ptr` must have come from [`allocate`](Self::allocate) (or
    /// [`reallocate`](Self::reallocate)) on this heap with this same
    /// `layout` (for `reallocate`: the layout with the new size), and must
    /// not have been freed since. The block must not be used afterwards.
    ///
    /// # Panics
    ///
    /// If the block overlaps a free block (a double free, caught when the
    /// overlap is with a block still on the free list).
    pub unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        let Some((size, _)) = block_of(layout) else {
            unreachable!("layout was never allocated");
        };
        // SAFETY: the caller guarantees `ptr` is a live block of this heap
        // with this layout, so `[ptr, ptr + size)` is heap memory, aligned to
        // BLOCK_ALIGN, with `size` a multiple of MIN_BLOCK, and unused from
        // now on.
        unsafe { self.insert_free(ptr.as_ptr().expose_provenance(), size) };
        self.used -= size;
        self.allocations -= 1;
    }

    /// Resizes an allocation to `new_size` bytes (same alignment), in place
    /// when possible: shrinking always is, growing is when the free block
    /// right after it is large enough. Otherwise the bytes are moved to a new
    /// block. Returns the (possibly moved) pointer, or `None` if there is no
    /// room, in which case the old allocation is left untouched.
    ///
    /// # Safety
    ///
    /// `ptr` must have come from this heap with `layout` and not have been
    /// freed. On success the old pointer must no longer be used (unless it is
    /// the one returned) and the block is freed later with
    /// `layout.align()` and `new_size`.
    pub unsafe fn reallocate(&mut self, ptr: NonNull<u8>, layout: Layout, new_size: usize) -> Option<NonNull<u8>> {
        let new_layout = Layout::from_size_align(new_size, layout.align()).ok()?;
        let (old, _) = block_of(layout)?;
        let (new, _) = block_of(new_layout)?;
        let addr = ptr.as_ptr().expose_provenance();
        if new <= old {
            if new < old {
                // SAFETY: the tail `[addr + new, addr + old)` of the caller's
                // block is heap memory nobody uses once shrunk; it is
                // BLOCK_ALIGN-aligned and a multiple of MIN_BLOCK long.
                unsafe { self.insert_free(addr + new, old - new) };
                self.used -= old - new;
            }
            return Some(ptr);
        }
        if self.grow_in_place(addr + old, new - old) {
            self.used += new - old;
            return Some(ptr);
        }
        let moved = self.allocate(new_layout)?;
        // SAFETY: both blocks are live heap allocations of at least
        // `layout.size()` and `new_size` bytes respectively, and distinct
        // (the old one is still allocated), so they do not overlap.
        unsafe {
            ptr::copy_nonoverlapping(ptr.as_ptr(), moved.as_ptr(), layout.size().min(new_size));
        }
        // SAFETY: `ptr` is a live allocation with `layout` (caller's
        // contract), and nothing uses it after this.
        unsafe { self.deallocate(ptr, layout) };
        Some(moved)
    }

    /// Takes `need` bytes from the start of the free block at exactly
    /// `addr`, if there is one at least that large.
    fn grow_in_place(&mut self, addr: usize, need: usize) -> bool {
        let mut link: *mut *mut Node = &raw mut self.head;
        loop {
            // SAFETY: `link` is `&self.head` or a free node's `next` field.
            let node = unsafe { *link };
            if node.is_null() || node.addr() > addr {
                return false;
            }
            if node.addr() == addr {
                // SAFETY: `node` is a valid free-list node.
                let Node { size, next } = unsafe { node.read() };
                if size < need {
                    return false;
                }
                let rest = if size > need {
                    // SAFETY: `[addr + need, addr + size)` is the remainder
                    // of the free block, owned by the heap, aligned and at
                    // least MIN_BLOCK long (sizes are granule multiples).
                    unsafe {
                        ptr_at::<Node>(addr + need).write(Node { size: size - need, next });
                    }
                    ptr_at(addr + need)
                } else {
                    next
                };
                // SAFETY: `link` is valid and exclusively ours.
                unsafe { *link = rest };
                return true;
            }
            // SAFETY: `node` is a valid free-list node.
            link = unsafe { &raw mut (*node).next };
        }
    }

    /// Puts `[addr, addr + size)` on the free list in address order, merging
    /// it with the free blocks that end at `addr` or start at `addr + size`.
    /// Does not touch the counters.
    ///
    /// # Safety
    ///
    /// The range must be heap-owned (or being handed over), unused, writable
    /// memory; `addr` non-null and a multiple of BLOCK_ALIGN; `size` a
    /// non-zero multiple of MIN_BLOCK; `addr + size` must not overflow.
    unsafe fn insert_free(&mut self, addr: usize, size: usize) {
        let end = addr + size;
        let mut prev: *mut Node = ptr::null_mut();
        let mut link: *mut *mut Node = &raw mut self.head;
        // SAFETY (for the loop): `link` is always `&self.head` or the `next`
        // field of `prev`, a valid free-list node; nodes are valid headers of
        // heap-owned free blocks, and `&mut self` makes access exclusive.
        loop {
            // SAFETY: see the loop comment.
            let cur = unsafe { *link };
            if cur.is_null() || cur.addr() > addr {
                break;
            }
            prev = cur;
            // SAFETY: see the loop comment.
            link = unsafe { &raw mut (*cur).next };
        }
        // SAFETY: see the loop comment; `prev` and `*link` are null or valid.
        let next = unsafe { *link };
        let prev_end = if prev.is_null() {
            0
        } else {
            // SAFETY: `prev` is a valid free-list node.
            prev.addr() + unsafe { (*prev).size }
        };
        assert!(
            prev_end <= addr && (next.is_null() || end <= next.addr()),
            "heap: block {addr:#x}+{size:#x} overlaps a free block (double free?)"
        );
        let merge_next = !next.is_null() && next.addr() == end;
        let (size, after) = if merge_next {
            // SAFETY: `next` is a valid free-list node.
            unsafe { (size + (*next).size, (*next).next) }
        } else {
            (size, next)
        };
        if !prev.is_null() && prev_end == addr {
            // SAFETY: `prev` is a valid free-list node; it now also covers
            // the new block (and `next`, if merged).
            unsafe {
                (*prev).size += size;
                (*prev).next = after;
            }
        } else {
            // SAFETY: the caller guarantees `[addr, addr + size)` is
            // writable, unused and aligned for a `Node`, and `size` (at least
            // MIN_BLOCK) has room for it; `link` is valid (loop comment).
            unsafe {
                ptr_at::<Node>(addr).write(Node { size, next: after });
                *link = ptr_at(addr);
            }
        }
    }

    /// Current counters; O(1).
    pub fn stats(&self) -> HeapStats {
        HeapStats { total: self.total, used: self.used, free: self.total - self.used, allocations: self.allocations }
    }

    /// Size of the largest free block in bytes (0 if none); walks the list.
    /// An allocation with alignment at most [`BLOCK_ALIGN`] succeeds iff its
    /// rounded size is at most this.
    pub fn largest_free_block(&self) -> usize {
        self.free_blocks().map(|(_, size)| size).max().unwrap_or(0)
    }

    /// Number of blocks on the free list; walks the list. After everything
    /// is freed it is 1 per run of contiguous regions.
    pub fn free_block_count(&self) -> usize {
        self.free_blocks().count()
    }

    /// Iterates over the free blocks as `(address, size)`, lowest first.
    pub fn free_blocks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut node = self.head;
        core::iter::from_fn(move || {
            if node.is_null() {
                return None;
            }
            // SAFETY: `node` is on the free list, hence a valid node; the
            // iterator borrows the heap, so the list cannot change meanwhile.
            let Node { size, next } = unsafe { node.read() };
            let item = (node.addr(), size);
            node = next;
            Some(item)
        })
    }
}

#[cfg(test)]
mod tests;
