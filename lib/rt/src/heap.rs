//! The program's heap: `heap_alloc`'s free list in a spin lock, growing by
//! anonymous private mappings of at least [`CHUNK`] bytes when an
//! allocation does not fit.
//!
//! Chunks are `MAP_PRIVATE`, so after a fork parent and child each have
//! their own (copy-on-write) heap. Each new chunk is asked for right after
//! the previous one; when the kernel honours that hint the chunks merge into
//! one free block. Memory is never given back to the kernel.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use abi::syscall::{MAP_PRIVATE, PROT_READ, PROT_WRITE};
use heap_alloc::FreeListHeap;
use spin::Mutex;

/// Smallest amount the heap grows by.
const CHUNK: usize = 64 * 1024;
const PAGE: usize = 4096;

struct Heap {
    heap: FreeListHeap,
    /// End of the last chunk mapped, the hint for the next one.
    end: usize,
}

impl Heap {
    /// Maps a chunk big enough for `layout` and adds it to the heap.
    fn grow(&mut self, layout: Layout) -> bool {
        let Some(len) = FreeListHeap::region_size_for(layout)
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
static ALLOCATOR: Allocator = Allocator(Mutex::new(Heap { heap: FreeListHeap::new(), end: 0 }));

// SAFETY: every block comes from `FreeListHeap`, which hands out disjoint,
// suitably aligned blocks of at least the requested size from memory it
// owns; the lock serialises all access to it.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
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

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(ptr) = NonNull::new(ptr) else {
            return;
        };
        // SAFETY: `GlobalAlloc::dealloc`'s contract: `ptr` came from this
        // allocator with `layout` and is not used again.
        unsafe { self.0.lock().heap.deallocate(ptr, layout) };
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(block) = NonNull::new(ptr) else {
            return ptr::null_mut();
        };
        let mut heap = self.0.lock();
        // SAFETY: `GlobalAlloc::realloc`'s contract: `ptr` is a live block
        // of this allocator with `layout`.
        if let Some(moved) = unsafe { heap.heap.reallocate(block, layout, new_size) } {
            return moved.as_ptr();
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        if heap.grow(new_layout) {
            // SAFETY: as above; the failed attempt left the block untouched.
            if let Some(moved) = unsafe { heap.heap.reallocate(block, layout, new_size) } {
                return moved.as_ptr();
            }
        }
        ptr::null_mut()
    }
}
