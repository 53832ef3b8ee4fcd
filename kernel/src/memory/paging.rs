//! The kernel page table: mapping, unmapping and remapping kernel pages,
//! and the boot-time clean-up that makes the kernel half safe to share with
//! every future address space.
//!
//! Invariants after [`init`]:
//! - every PML4 entry of the kernel half (256..512) exists and never
//!   changes, so address spaces that copy them share all kernel mappings;
//! - entries 256..511 carry NX, so nothing outside the kernel image (entry
//!   511) is ever executable; the image keeps its per-segment permissions
//!   from the ELF file (text R-X, rodata R, data RW+NX).

use spin::Mutex;
use x86_64::VirtAddr;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::instructions::tlb;
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::mapper::{MapToError, TranslateResult, UnmapError};
use x86_64::structures::paging::{
    Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB, Translate,
};

use super::frame::{self, FrameSource};
use super::phys_to_virt;

/// The PML4 slot holding the kernel image (`0xffff_ffff_8000_0000`).
const KERNEL_IMAGE_PML4_INDEX: usize = 511;

static KERNEL_TABLE: Mutex<Option<OffsetPageTable<'static>>> = Mutex::new(None);

/// The kernel's own PML4, also what CPUs run on when no process is loaded.
static KERNEL_PML4: spin::Once<PhysFrame> = spin::Once::new();

pub fn kernel_pml4() -> PhysFrame {
    *KERNEL_PML4.get().expect("paging used before init")
}

/// Copy the kernel half (PML4 entries 256..512) into a new top-level table.
/// The entries never change after boot, so the copy stays current.
pub fn copy_kernel_half(into: &mut PageTable) {
    let kernel = table_at(kernel_pml4());
    for index in 256..512 {
        into[index] = kernel[index].clone();
    }
}

fn with<R>(f: impl FnOnce(&mut OffsetPageTable<'static>) -> R) -> R {
    without_interrupts(|| f(KERNEL_TABLE.lock().as_mut().expect("paging used before init")))
}

pub(super) fn table_at(frame: PhysFrame) -> &'static mut PageTable {
    // SAFETY: `frame` holds a page table (the caller got it from CR3 or a
    // table entry), visible through the physical-memory mapping; all access
    // goes through the KERNEL_TABLE lock or happens before it exists.
    unsafe { &mut *phys_to_virt(frame.start_address()).as_mut_ptr::<PageTable>() }
}

pub(super) fn init() {
    let (pml4_frame, _) = Cr3::read();
    KERNEL_PML4.call_once(|| pml4_frame);
    let pml4 = table_at(pml4_frame);
    for index in 256..512 {
        let entry = &mut pml4[index];
        if entry.is_unused() {
            let frame = frame::allocate().expect("no memory for kernel page tables");
            table_at(frame).zero();
            entry.set_frame(frame, PageTableFlags::PRESENT | PageTableFlags::WRITABLE);
        }
        if index != KERNEL_IMAGE_PML4_INDEX {
            entry.set_flags(entry.flags() | PageTableFlags::NO_EXECUTE);
        }
    }
    tlb::flush_all();
    let offset = phys_to_virt(x86_64::PhysAddr::new(0));
    // SAFETY: CR3 holds the active PML4 and all of physical memory is mapped
    // at `offset`.
    let mapper = unsafe { OffsetPageTable::new(pml4, offset) };
    *KERNEL_TABLE.lock() = Some(mapper);
}

/// Remove everything the bootloader left in the lower half (identity maps of
/// its GDT and hand-off code). Call once this CPU runs on the kernel's own
/// GDT; the lower half then belongs to userspace alone.
pub fn drop_boot_identity_mappings() {
    with(|table| {
        for entry in table.level_4_table_mut().iter_mut().take(256) {
            entry.set_unused();
        }
    });
    tlb::flush_all();
}

/// Map `page` to `frame` in the kernel page table.
pub fn map(page: Page, frame: PhysFrame, flags: PageTableFlags) -> Result<(), MapToError<Size4KiB>> {
    with(|table| {
        // SAFETY: kernel pages are only mapped by their owning subsystem
        // (heap, stacks, MMIO, tests) to frames it owns, so no existing
        // reference is aliased or invalidated.
        unsafe { table.map_to(page, frame, flags | PageTableFlags::PRESENT, &mut FrameSource) }
            .map(|flush| flush.flush())
    })
}

/// Unmap `page` and return the frame it mapped (the caller decides whether
/// to free it). Only this CPU's TLB is flushed: a caller whose page another
/// CPU may have used calls `tlb::shoot_down_kernel` (once, after all its
/// unmaps, holding no lock) before it frees the frame or reuses the page.
pub fn unmap(page: Page) -> Result<PhysFrame, UnmapError> {
    with(|table| {
        table.unmap(page).map(|(frame, flush)| {
            flush.flush();
            frame
        })
    })
}

/// Change the flags of a mapped page. Only this CPU's TLB is flushed (see
/// [`unmap`] for pages other CPUs may have used).
pub fn update_flags(
    page: Page,
    flags: PageTableFlags,
) -> Result<(), x86_64::structures::paging::mapper::FlagUpdateError> {
    with(|table| {
        // SAFETY: as for `map`: the caller owns the page.
        unsafe { table.update_flags(page, flags | PageTableFlags::PRESENT) }.map(|flush| flush.flush())
    })
}

/// The frame and flags behind `addr`, if mapped (any page size).
pub fn translate(addr: VirtAddr) -> Option<(x86_64::PhysAddr, PageTableFlags)> {
    with(|table| match table.translate(addr) {
        TranslateResult::Mapped { frame, offset, flags } => Some((frame.start_address() + offset, flags)),
        _ => None,
    })
}

/// The effective flags of the mapping of `addr`, combining NX from every
/// level (the `x86_64` crate reports only the leaf's flags).
pub fn effective_flags(addr: VirtAddr) -> Option<PageTableFlags> {
    let (_, mut flags) = translate(addr)?;
    let pml4 = with(|table| table.level_4_table()[usize::from(addr.p4_index())].flags());
    if pml4.contains(PageTableFlags::NO_EXECUTE) {
        flags |= PageTableFlags::NO_EXECUTE;
    }
    Some(flags)
}
