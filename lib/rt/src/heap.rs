//! The program's heap: `heap_alloc`'s free list in a spin lock, growing by
//! anonymous private mappings of at least [`CHUNK`] bytes when an
//! allocation does not fit.
//!
//! Chunks are `MAP_PRIVATE`, so after a fork parent and child each have
//! their own (copy-on-write) heap. Each new chunk is asked for right after
//! the previous one; when the kernel honours that hint the chunks merge into
//! one free block. Chunks are never given back to the kernel.
//!
//! Allocations of [`LARGE`] bytes or more (a file's contents in `tmpd`, a
//! snapshot in `logd`, a channel's ring in `ipcd`, I/O buffers) bypass the free list: each is a mapping
//! of its own, unmapped when freed, so a daemon that held a lot for a while
//! gives the memory back instead of keeping its high-water mark for good.
//! A few freed ones are kept for the next allocation of the same size
//! (at most [`SPARE_SLOTS`] mappings, [`SPARE_MAX`] bytes together): a
//! daemon that allocates and frees the same large buffer for every
//! request (`redoxfsd`'s 128 KiB records) would otherwise pay a mapping,
//! a page fault per page and an unmapping each time. With 512 KiB kept,
//! `redoxfsd` still mapped fresh pages in every transaction of a write
//! (`cargo mk bench --profile-disks`: 1 MiB took a 4 KiB `file:` write from
//! 30,774 to 29,036 instructions, a file's create from 27,700 to 16,100 of
//! kernel instructions).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering};

use abi::syscall::{MAP_PRIVATE, PROT_READ, PROT_WRITE};
use heap_alloc::BinnedHeap;
use spin::Mutex;

/// Smallest amount the heap grows by.
const CHUNK: usize = 64 * 1024;
const PAGE: usize = 4096;
/// Allocations this large (and at most page-aligned) get a mapping each:
/// a `chan:` direction's 64 KiB ring, a file's contents, a snapshot.
const LARGE: usize = 64 * 1024;

/// Bytes in large allocations' own mappings (page-rounded), live now.
static LARGE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Freed large mappings kept for reuse: how many, their bytes together,
/// and the largest one kept.
const SPARE_SLOTS: usize = 8;
const SPARE_MAX: usize = 1024 * 1024;
const SPARE_ONE_MAX: usize = 256 * 1024;

/// Freed large mappings, each `(address, length)`; length 0 is a free slot.
struct Spare {
    slots: [(usize, usize); SPARE_SLOTS],
    bytes: usize,
}

static SPARE: Mutex<Spare> = Mutex::new(Spare { slots: [(0, 0); SPARE_SLOTS], bytes: 0 });

impl Spare {
    /// A kept mapping of exactly `len` bytes, taken out.
    fn take(&mut self, len: usize) -> Option<usize> {
        let slot = self.slots.iter_mut().find(|(_, l)| *l == len)?;
        let addr = slot.0;
        *slot = (0, 0);
        self.bytes -= len;
        Some(addr)
    }

    /// Keeps the mapping at `addr` of `len` bytes if there is room.
    fn keep(&mut self, addr: usize, len: usize) -> bool {
        if len > SPARE_ONE_MAX || self.bytes + len > SPARE_MAX {
            return false;
        }
        let Some(slot) = self.slots.iter_mut().find(|(_, l)| *l == 0) else {
            return false;
        };
        *slot = (addr, len);
        self.bytes += len;
        true
    }
}

/// What the heap holds now (`netd` shows it in `netcfg:memory`, so a test
/// can see memory come back after a load).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes in live small allocations (the free list's).
    pub used: usize,
    /// Bytes the free list manages (its chunks, never given back).
    pub reserved: usize,
    /// Bytes in live large allocations, each a mapping of its own.
    pub large: usize,
    /// Bytes in freed large mappings kept for reuse (at most [`SPARE_MAX`]).
    pub spare: usize,
}

/// The heap's counters now.
pub fn usage() -> Usage {
    let stats = ALLOCATOR.0.lock().heap.stats();
    let spare = SPARE.lock().bytes;
    Usage { used: stats.used, reserved: stats.total, large: LARGE_BYTES.load(Ordering::Relaxed), spare }
}

fn is_large(layout: Layout) -> bool {
    layout.size() >= LARGE && layout.align() <= PAGE
}

/// A mapping of its own for a large allocation (null if none can be had):
/// a kept one of the same length (zeroed first if `zeroed`), else a new
/// one (zero already).
fn map_large(size: usize, zeroed: bool) -> *mut u8 {
    let Some(len) = size.checked_next_multiple_of(PAGE) else {
        return ptr::null_mut();
    };
    if let Some(addr) = SPARE.lock().take(len) {
        LARGE_BYTES.fetch_add(len, Ordering::Relaxed);
        let block = ptr::with_exposed_provenance_mut::<u8>(addr);
        if zeroed {
            // SAFETY: the kept mapping is `len >= size` writable bytes,
            // ours alone (it left the spare list under its lock).
            unsafe { ptr::write_bytes(block, 0, size) };
        }
        return block;
    }
    // SAFETY: no MAP_FIXED: the kernel picks an address nothing uses.
    match unsafe { crate::sys::mmap(0, len, PROT_READ | PROT_WRITE | MAP_PRIVATE) } {
        Ok(addr) => {
            LARGE_BYTES.fetch_add(len, Ordering::Relaxed);
            ptr::with_exposed_provenance_mut(addr)
        }
        Err(_) => ptr::null_mut(),
    }
}

/// Unmap a large allocation of `size` bytes at `ptr`.
///
/// # Safety
/// `ptr` came from [`map_large`] with the same `size` and is not used again.
unsafe fn unmap_large(ptr: *mut u8, size: usize) {
    let len = size.next_multiple_of(PAGE);
    LARGE_BYTES.fetch_sub(len, Ordering::Relaxed);
    if SPARE.lock().keep(ptr.expose_provenance(), len) {
        return;
    }
    // SAFETY: per the contract, the whole mapping is ours and dead.
    let _ = unsafe { crate::sys::munmap(ptr.expose_provenance(), len) };
}

struct Heap {
    heap: BinnedHeap,
    /// End of the last chunk mapped, the hint for the next one.
    end: usize,
}

impl Heap {
    /// Maps a chunk big enough for `layout` and adds it to the heap.
    fn grow(&mut self, layout: Layout) -> bool {
        let Some(len) = BinnedHeap::region_size_for(layout)
            .map(|need| need.max(CHUNK))
            .and_then(|len| len.checked_next_multiple_of(PAGE))
        else {
            return false;
        };
        let flags = PROT_READ | PROT_WRITE | MAP_PRIVATE;
        // SAFETY: no MAP_FIXED, so the kernel picks addresses nothing uses
        // (`end` is only a hint).
        let Ok(start) = (unsafe { crate::sys::mmap(self.end, len, flags) }) else {
            return false;
        };
        // SAFETY: the kernel just mapped `[start, start + len)` for us, fresh
        // and writable; it is handed to the heap for good and overlaps no
        // earlier region.
        unsafe { self.heap.add_region(start, len) };
        self.end = start + len;
        true
    }
}

struct Allocator(Mutex<Heap>);

#[global_allocator]
static ALLOCATOR: Allocator = Allocator(Mutex::new(Heap { heap: BinnedHeap::new(), end: 0 }));

// SAFETY: every block comes from `BinnedHeap`, which hands out disjoint,
// suitably aligned blocks of at least the requested size from memory it
// owns; the lock serialises all access to it.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(layout) {
            return map_large(layout.size(), false);
        }
        let mut heap = self.0.lock();
        if let Some(block) = heap.heap.allocate(layout) {
            return block.as_ptr();
        }
        if heap.grow(layout)
            && let Some(block) = heap.heap.allocate(layout)
        {
            return block.as_ptr();
        }
        ptr::null_mut()
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(layout) {
            // A fresh anonymous mapping reads as zeros already: writing them
            // would only make every page resident (netd's 72 KiB socket
            // buffers, mostly never filled). A kept mapping is zeroed.
            return map_large(layout.size(), true);
        }
        // SAFETY: the caller's contract for `alloc_zeroed` is `alloc`'s.
        let block = unsafe { self.alloc(layout) };
        if !block.is_null() {
            // SAFETY: `alloc` gave `layout.size()` writable bytes at `block`.
            unsafe { ptr::write_bytes(block, 0, layout.size()) };
        }
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_large(layout) {
            // SAFETY: a large layout's block came from `map_large` with
            // this size (`alloc`), and the caller is done with it.
            unsafe { unmap_large(ptr, layout.size()) };
            return;
        }
        let Some(ptr) = NonNull::new(ptr) else {
            return;
        };
        // SAFETY: `GlobalAlloc::dealloc`'s contract: `ptr` came from this
        // allocator with `layout` and is not used again.
        unsafe { self.0.lock().heap.deallocate(ptr, layout) };
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        if is_large(layout) || is_large(new_layout) {
            if is_large(layout)
                && is_large(new_layout)
                && layout.size().next_multiple_of(PAGE) == new_size.next_multiple_of(PAGE)
            {
                return ptr;
            }
            // A new block of the right kind, the bytes that fit, the old one freed.
            // SAFETY: `new_layout` has a non-zero size (it is at least as
            // large as a block the caller already has, or was asked for).
            let new = unsafe { self.alloc(new_layout) };
            if !new.is_null() {
                // SAFETY: both blocks are live and distinct; the copy stays
                // within the smaller of the two sizes.
                unsafe {
                    ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            return new;
        }
        let Some(block) = NonNull::new(ptr) else {
            return ptr::null_mut();
        };
        let mut heap = self.0.lock();
        // SAFETY: `GlobalAlloc::realloc`'s contract: `ptr` is a live block
        // of this allocator with `layout`.
        if let Some(moved) = unsafe { heap.heap.reallocate(block, layout, new_size) } {
            return moved.as_ptr();
        }
        if heap.grow(new_layout) {
            // SAFETY: as above; the failed attempt left the block untouched.
            if let Some(moved) = unsafe { heap.heap.reallocate(block, layout, new_size) } {
                return moved.as_ptr();
            }
        }
        ptr::null_mut()
    }
}
