//! The interrupt descriptor table, shared by all CPUs, and the vector map.
//! Every vector points at its entry stub in `trap`; the double fault, NMI
//! and machine check run on their own IST stacks so they work even when the
//! kernel stack is gone.

use spin::Lazy;
use x86_64::structures::idt::{Entry, InterruptDescriptorTable};
use x86_64::{PrivilegeLevel, VirtAddr};

use super::gdt;
use super::trap::stub_address;

/// LAPIC timer.
pub const TIMER_VECTOR: u8 = 0x20;
/// Device IRQs routed through the IOAPIC: GSI n arrives as `IRQ_BASE + n`.
pub const IRQ_BASE: u8 = 0x30;
pub const IRQ_END: u8 = 0x50;
/// Message-signalled interrupts (MSI/MSI-X) a driver was given through
/// `irq:msi`: source `GSI_COUNT + k` arrives as `MSI_BASE + k`.
pub const MSI_BASE: u8 = IRQ_END;
pub const MSI_END: u8 = 0x70;
/// Sent to a CPU that has new work in its run queue (it may be halted).
pub const RESCHEDULE_VECTOR: u8 = 0xf1;
/// Sent to a CPU that must flush its TLB (`memory::tlb`).
pub const TLB_SHOOTDOWN_VECTOR: u8 = 0xf2;
/// Self-test only: read a kernel address through the TLB as it is (`memory::tlb::probe_read`).
pub const TLB_PROBE_VECTOR: u8 = 0xf3;
pub const SPURIOUS_VECTOR: u8 = 0xff;

static IDT: Lazy<InterruptDescriptorTable> = Lazy::new(|| {
    let mut idt = InterruptDescriptorTable::new();
    fn point<F>(entry: &mut Entry<F>, vector: u8) -> &mut x86_64::structures::idt::EntryOptions {
        // SAFETY: the stub for `vector` is a valid interrupt entry point that
        // handles the frame layout of that vector (error code or not).
        unsafe { entry.set_handler_addr(VirtAddr::new(stub_address(vector))) }
    }
    point(&mut idt.divide_error, 0);
    point(&mut idt.debug, 1);
    // SAFETY: the IST slots exist in every CPU's TSS (see `gdt`).
    unsafe { point(&mut idt.non_maskable_interrupt, 2).set_stack_index(gdt::IST_NMI - 1) };
    point(&mut idt.breakpoint, 3).set_privilege_level(PrivilegeLevel::Ring3);
    point(&mut idt.overflow, 4);
    point(&mut idt.bound_range_exceeded, 5);
    point(&mut idt.invalid_opcode, 6);
    point(&mut idt.device_not_available, 7);
    // SAFETY: as above.
    unsafe { point(&mut idt.double_fault, 8).set_stack_index(gdt::IST_DOUBLE_FAULT - 1) };
    point(&mut idt.invalid_tss, 10);
    point(&mut idt.segment_not_present, 11);
    point(&mut idt.stack_segment_fault, 12);
    point(&mut idt.general_protection_fault, 13);
    point(&mut idt.page_fault, 14);
    point(&mut idt.x87_floating_point, 16);
    point(&mut idt.alignment_check, 17);
    // SAFETY: as above.
    unsafe { point(&mut idt.machine_check, 18).set_stack_index(gdt::IST_MACHINE_CHECK - 1) };
    point(&mut idt.simd_floating_point, 19);
    point(&mut idt.virtualization, 20);
    point(&mut idt.cp_protection_exception, 21);
    point(&mut idt.hv_injection_exception, 28);
    point(&mut idt.vmm_communication_exception, 29);
    point(&mut idt.security_exception, 30);
    for vector in 32..=255u8 {
        point(&mut idt[vector], vector);
    }
    idt
});

/// Load the shared IDT on this CPU.
pub fn load() {
    IDT.load();
}
