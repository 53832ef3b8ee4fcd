//! Per-CPU GDT and TSS. Each CPU gets its own TSS (its own IST stacks and,
//! later, its own ring-0 stack for traps from user mode) and therefore its
//! own GDT. Segment layout is fixed by SYSCALL/SYSRET (docs/architecture.md §2.1):
//!
//! | selector | descriptor |
//! |---|---|
//! | 0x08 | kernel code |
//! | 0x10 | kernel data |
//! | 0x1b | user data (RPL 3) — must sit just below user code for SYSRET |
//! | 0x23 | user code (RPL 3) |
//! | 0x28 | TSS (two slots) |

use alloc::boxed::Box;

use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, FS, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

use crate::memory::kstack::{self, KernelStack};

/// IST slots (1-based in the IDT, 0-based in the TSS).
pub const IST_DOUBLE_FAULT: u16 = 1;
pub const IST_NMI: u16 = 2;
pub const IST_MACHINE_CHECK: u16 = 3;

const IST_STACK_SIZE: usize = 16 * 1024;

pub const KERNEL_CODE: SegmentSelector = SegmentSelector(0x08);
pub const KERNEL_DATA: SegmentSelector = SegmentSelector(0x10);
pub const USER_DATA: SegmentSelector = SegmentSelector(0x1b);
pub const USER_CODE: SegmentSelector = SegmentSelector(0x23);
pub const TSS: SegmentSelector = SegmentSelector(0x28);

/// Size of the I/O permission bitmap: one bit per port, plus the 0xff
/// byte the CPU requires after it.
pub const IOMAP_LEN: usize = 8192 + 1;

/// A TSS followed directly by its I/O permission bitmap (a set bit denies
/// the port to ring 3).
#[repr(C)]
pub struct TssBlock {
    pub tss: TaskStateSegment,
    pub iomap: [u8; IOMAP_LEN],
}

/// The descriptor tables of one CPU; leaked, so they live forever.
pub struct CpuTables {
    pub gdt: &'static GlobalDescriptorTable<8>,
    /// Raw because the ring-0 stack pointer and the I/O bitmap in it change
    /// with context switches while the CPU keeps referring to it.
    pub tss: *mut TssBlock,
    pub ist_stacks: [KernelStack; 3],
}

/// Build this CPU's GDT and TSS (with fresh guarded IST stacks), load them
/// and reload every segment register.
pub fn init_this_cpu() -> CpuTables {
    let ist_stacks = [
        kstack::allocate(IST_STACK_SIZE).expect("no memory for the double-fault stack"),
        kstack::allocate(IST_STACK_SIZE).expect("no memory for the NMI stack"),
        kstack::allocate(IST_STACK_SIZE).expect("no memory for the machine-check stack"),
    ];
    let mut tss = TaskStateSegment::new();
    for (slot, stack) in ist_stacks.iter().enumerate() {
        tss.interrupt_stack_table[slot] = VirtAddr::new(stack.top());
    }
    tss.iomap_base = core::mem::offset_of!(TssBlock, iomap) as u16;
    let block: *mut TssBlock = Box::leak(Box::new(TssBlock { tss, iomap: [0xff; IOMAP_LEN] }));
    // SAFETY: the block is leaked (lives forever); the references only
    // serve to build the descriptor, later writes go through `block`.
    let descriptor = unsafe { Descriptor::tss_segment_with_iomap(&(*block).tss, &(*block).iomap) }
        .expect("TSS and I/O bitmap laid out as the CPU needs");

    let mut gdt = GlobalDescriptorTable::<8>::empty();
    let selectors = [
        gdt.append(Descriptor::kernel_code_segment()),
        gdt.append(Descriptor::kernel_data_segment()),
        gdt.append(Descriptor::user_data_segment()),
        gdt.append(Descriptor::user_code_segment()),
        gdt.append(descriptor),
    ];
    debug_assert_eq!(selectors, [KERNEL_CODE, KERNEL_DATA, USER_DATA, USER_CODE, TSS]);
    let gdt: &'static GlobalDescriptorTable<8> = Box::leak(Box::new(gdt));
    gdt.load();

    // SAFETY: the selectors index descriptors of the GDT just loaded (checked
    // by the layout assertion above); code and data segments are flat.
    unsafe {
        CS::set_reg(KERNEL_CODE);
        SS::set_reg(KERNEL_DATA);
        DS::set_reg(KERNEL_DATA);
        ES::set_reg(KERNEL_DATA);
        FS::set_reg(SegmentSelector(0));
        load_tss(TSS);
    }
    // GS is not reloaded: that would clear the GS base holding the per-CPU
    // pointer, and in long mode only its base matters.
    CpuTables { gdt, tss: block, ist_stacks }
}
