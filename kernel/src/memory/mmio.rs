//! Device registers in the kernel's address space: uncached, never
//! executable, mapped once and kept for the kernel's lifetime.

use core::sync::atomic::{AtomicU64, Ordering};

use x86_64::structures::paging::{Page, PageTableFlags, PhysFrame};
use x86_64::{PhysAddr, VirtAddr};

use super::{MMIO_REGION_SIZE, MMIO_REGION_START, PAGE_SIZE, paging};

static NEXT: AtomicU64 = AtomicU64::new(MMIO_REGION_START);

/// Map `len` bytes of device memory at physical `phys`; returns the virtual
/// address of `phys` itself.
pub fn map(phys: PhysAddr, len: u64) -> VirtAddr {
    let first = phys.align_down(PAGE_SIZE);
    let pages = (phys.as_u64() - first.as_u64() + len).div_ceil(PAGE_SIZE);
    let base = NEXT.fetch_add(pages * PAGE_SIZE, Ordering::Relaxed);
    assert!(base + pages * PAGE_SIZE <= MMIO_REGION_START + MMIO_REGION_SIZE, "MMIO region exhausted");
    let flags = PageTableFlags::WRITABLE
        | PageTableFlags::NO_CACHE
        | PageTableFlags::WRITE_THROUGH
        | PageTableFlags::NO_EXECUTE;
    for i in 0..pages {
        let page = Page::containing_address(VirtAddr::new(base + i * PAGE_SIZE));
        let frame = PhysFrame::containing_address(first + i * PAGE_SIZE);
        paging::map(page, frame, flags).expect("mapping device memory");
    }
    VirtAddr::new(base + (phys.as_u64() - first.as_u64()))
}
