//! Memory management: physical frames (`frame`), the kernel page table
//! (`paging`), the kernel heap (`heap`), guarded kernel stacks (`kstack`),
//! device memory (`mmio`) and TLB shootdown (`tlb`).
//!
//! Virtual layout of the kernel half (the lower half belongs to userspace):
//!
//! | range | what |
//! |---|---|
//! | `ffff_8000_0000_0000..ffff_9000_0000_0000` | bootloader mappings: all physical memory, framebuffer, boot info, ramdisk |
//! | `ffff_c000_0000_0000..` | kernel heap, grows upwards |
//! | `ffff_d000_0000_0000..` | kernel stacks, one slot each with unmapped guard pages below |
//! | `ffff_e000_0000_0000..` | device registers (LAPIC, IOAPIC) |
//! | `ffff_e800_0000_0000..` | scratch pages for the paging self-test |
//! | `ffff_ffff_8000_0000..` | the kernel image |
//!
//! Lock order: heap → kernel page table → frames. Each lock is taken with
//! interrupts off.

pub mod address_space;
pub mod frame;
pub mod heap;
pub mod kstack;
pub mod mmio;
pub mod paging;
pub mod tlb;
pub mod usercopy;

use core::sync::atomic::{AtomicU64, Ordering};

use bootloader_api::BootInfo;
use x86_64::{PhysAddr, VirtAddr};

pub const PAGE_SIZE: u64 = 4096;

pub const HEAP_START: u64 = 0xffff_c000_0000_0000;
pub const HEAP_MAX_SIZE: u64 = 64 << 30;
pub const KSTACK_REGION_START: u64 = 0xffff_d000_0000_0000;
pub const MMIO_REGION_START: u64 = 0xffff_e000_0000_0000;
pub const MMIO_REGION_SIZE: u64 = 1 << 30;
pub const SCRATCH_REGION_START: u64 = 0xffff_e800_0000_0000;

/// A vector of `len` copies of `value`, or `ENOMEM` if the heap cannot
/// hold it. Every kernel buffer whose size a process chooses is made this
/// way (or with `Vec::try_reserve`): an allocation that fails there is the
/// caller's error, never a kernel panic.
pub fn try_filled_vec<T: Clone>(value: T, len: usize) -> Result<alloc::vec::Vec<T>, abi::syscall::error::Error> {
    let mut vec = alloc::vec::Vec::new();
    vec.try_reserve_exact(len).map_err(|_| abi::syscall::error::Error::new(abi::syscall::error::ENOMEM))?;
    vec.resize(len, value);
    Ok(vec)
}

static PHYSICAL_MEMORY_OFFSET: AtomicU64 = AtomicU64::new(0);

/// Where physical address `phys` is visible in the kernel's address space.
pub fn phys_to_virt(phys: PhysAddr) -> VirtAddr {
    VirtAddr::new(PHYSICAL_MEMORY_OFFSET.load(Ordering::Relaxed) + phys.as_u64())
}

/// Bring up frames, the page table and the heap, in that order.
pub fn init(boot_info: &BootInfo) {
    let offset = boot_info
        .physical_memory_offset
        .into_option()
        .expect("the bootloader did not map physical memory (BOOTLOADER_CONFIG asks it to)");
    PHYSICAL_MEMORY_OFFSET.store(offset, Ordering::Relaxed);
    frame::init(&boot_info.memory_regions);
    paging::init();
    heap::init();
}
