//! The kernel heap behind `#[global_allocator]`: `heap_alloc`'s binned
//! free list (small blocks from per-size bins in constant time, the rest
//! first fit) over a virtual range that starts at [`HEAP_START`] and grows
//! on demand, one batch of freshly mapped frames at a time.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use heap_alloc::BinnedHeap;
use spin::Mutex;
use x86_64::VirtAddr;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::structures::paging::{Page, PageTableFlags};

pub use heap_alloc::HeapStats;

use super::{HEAP_MAX_SIZE, HEAP_START, PAGE_SIZE, frame, paging};

const INITIAL_SIZE: u64 = 256 * 1024;
/// The smallest growth step, so small allocations don't grow page by page.
const MIN_GROWTH: u64 = 256 * 1024;

struct Heap {
    free_list: BinnedHeap,
    /// End of the mapped heap.
    end: u64,
}

struct KernelHeap(Mutex<Heap>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(Heap { free_list: BinnedHeap::new(), end: HEAP_START }));

impl Heap {
    /// Map at least `bytes` more at the end of the heap and give them to the
    /// free list. Returns false when frames or address space run out.
    fn grow(&mut self, bytes: u64) -> bool {
        let bytes = bytes.max(MIN_GROWTH).next_multiple_of(PAGE_SIZE);
        if self.end + bytes > HEAP_START + HEAP_MAX_SIZE {
            return false;
        }
        let start = self.end;
        let mut mapped = 0;
        while mapped < bytes {
            let Some(frame) = frame::allocate() else {
                break;
            };
            let page = Page::containing_address(VirtAddr::new(start + mapped));
            let flags = PageTableFlags::WRITABLE | PageTableFlags::NO_EXECUTE | PageTableFlags::GLOBAL;
            if paging::map(page, frame, flags).is_err() {
                let _ = frame::free(frame);
                break;
            }
            mapped += PAGE_SIZE;
        }
        if mapped == 0 {
            return false;
        }
        // SAFETY: [start, start+mapped) was just mapped to fresh frames and
        // nothing else uses that address range.
        unsafe { self.free_list.add_region(start as usize, mapped as usize) };
        self.end += mapped;
        true
    }
}

// SAFETY: all state is behind the lock; `alloc` returns memory owned by the
// free list (mapped, unaliased) sized and aligned for `layout`.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        without_interrupts(|| {
            let mut heap = self.0.lock();
            loop {
                if let Some(block) = heap.free_list.allocate(layout) {
                    return block.as_ptr();
                }
                let needed = (layout.size() + layout.align()) as u64;
                if !heap.grow(needed) {
                    return ptr::null_mut();
                }
            }
        })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(ptr) = NonNull::new(ptr) else { return };
        without_interrupts(|| {
            // SAFETY: the caller passes a pointer from `alloc` with its layout.
            unsafe { self.0.lock().free_list.deallocate(ptr, layout) }
        });
    }
}

pub(super) fn init() {
    let grown = without_interrupts(|| HEAP.0.lock().grow(INITIAL_SIZE));
    assert!(grown, "no memory for the kernel heap");
}

pub fn stats() -> HeapStats {
    without_interrupts(|| HEAP.0.lock().free_list.stats())
}

/// Bytes of address space the heap has mapped so far.
pub fn mapped_bytes() -> u64 {
    without_interrupts(|| HEAP.0.lock().end - HEAP_START)
}
