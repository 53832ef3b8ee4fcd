//! Starting the other CPUs (APs). The BSP copies a small trampoline into a
//! frame below 1 MiB, identity-maps it, and for each AP in turn fills in the
//! trampoline's data (page table, stack, CPU index, entry point) and sends
//! INIT/SIPI/SIPI. The AP climbs from real mode straight to long mode,
//! jumps to [`ap_main`], and marks itself online; the BSP waits for that
//! before starting the next one. The identity map is removed at the end.

use core::arch::global_asm;
use core::sync::atomic::Ordering;

use x86_64::VirtAddr;
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::{Page, PageTableFlags};

use super::{percpu, tsc};
use crate::memory::{frame, kstack, paging, phys_to_virt};

/// Stack size of every CPU's boot/idle thread.
pub const CPU_STACK_SIZE: usize = 64 * 1024;
/// How long to wait for one AP to report in (TCG is slow).
const AP_TIMEOUT_NS: u64 = 2_000_000_000;

// The trampoline. Runs at physical page P (CS = P >> 4, IP = 0) in real
// mode; loads a temporary GDT, enables PAE, loads the kernel's PML4, sets
// EFER.LME|NXE and CR0.PE|PG|WP in one go, and far-jumps into the 64-bit
// code segment, which runs at the identity-mapped copy and jumps to Rust.
global_asm!(
    r#"
    .section .text.ap_trampoline, "ax"
    .code16
    .global ap_trampoline_start
ap_trampoline_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (ap_gdtr - ap_trampoline_start)
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4
    movl (ap_cr3 - ap_trampoline_start), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax
    movl %eax, %cr0
    // Paging is on and no stack is mapped: jump through a far pointer
    // (offset patched by the BSP, selector 0x08) instead of pushing one.
    ljmpl *(ap_far_jump - ap_trampoline_start)

    .code64
    .global ap_long_mode
ap_long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movq ap_stack(%rip), %rsp
    movq ap_arg(%rip), %rdi
    movq ap_entry(%rip), %rax
    callq *%rax
    ud2

    // Descriptors are pre-marked "accessed": the page is mapped read-only,
    // so the CPU must not need to write them.
    .balign 8
ap_gdt:
    .quad 0
    .quad 0x00af9b000000ffff
    .quad 0x00cf93000000ffff
    .global ap_gdtr
ap_gdtr:
    .word 23
    .long 0
    .global ap_far_jump
ap_far_jump:
    .long 0
    .word 0x08
    .balign 8
    .global ap_cr3
ap_cr3:
    .quad 0
    .global ap_stack
ap_stack:
    .quad 0
    .global ap_arg
ap_arg:
    .quad 0
    .global ap_entry
ap_entry:
    .quad 0
    .global ap_trampoline_end
ap_trampoline_end:
    .text
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
    static ap_gdt: u8;
    static ap_gdtr: u8;
    static ap_far_jump: u8;
    static ap_long_mode: u8;
    static ap_cr3: u8;
    static ap_stack: u8;
    static ap_arg: u8;
    static ap_entry: u8;
}

/// Offset of a trampoline symbol from its start.
fn offset_of(symbol: *const u8) -> usize {
    let start = core::ptr::addr_of!(ap_trampoline_start);
    symbol as usize - start as usize
}

/// Start every CPU in `apic_ids` except this one. Returns how many came up.
pub fn start_aps(apic_ids: &[u32], bsp_apic_id: u32) -> usize {
    let others: alloc::vec::Vec<u32> = apic_ids.iter().copied().filter(|&id| id != bsp_apic_id).collect();
    if others.is_empty() {
        return 0;
    }
    let Some(page_frame) = frame::trampoline_frame() else {
        log::warn!("no frame below 1 MiB for the AP trampoline; running on one CPU");
        return 0;
    };
    let phys = page_frame.start_address().as_u64();
    let (pml4, _) = Cr3::read();
    if pml4.start_address().as_u64() >= 1 << 32 {
        log::warn!("kernel PML4 above 4 GiB, unreachable from the trampoline; running on one CPU");
        return 0;
    }

    let (start, end) = (core::ptr::addr_of!(ap_trampoline_start), core::ptr::addr_of!(ap_trampoline_end));
    let len = end as usize - start as usize;
    assert!(len <= 4096, "AP trampoline larger than a page");
    let page_virt = phys_to_virt(page_frame.start_address()).as_mut_ptr::<u8>();
    // SAFETY: the frame was reserved for the trampoline at boot and is
    // mapped through the physical-memory mapping; the source is the
    // trampoline's code in the kernel image.
    unsafe { core::ptr::copy_nonoverlapping(start, page_virt, len) };

    // Patch a field of the copied trampoline.
    let patch = |symbol: *const u8, value: u64, bytes: usize| {
        let at = offset_of(symbol);
        // SAFETY: `at` lies inside the copied trampoline (checked by the
        // length assertion above) and the field is `bytes` wide.
        unsafe { core::ptr::copy_nonoverlapping(value.to_le_bytes().as_ptr(), page_virt.add(at), bytes) };
    };
    let gdt_linear = phys + offset_of(core::ptr::addr_of!(ap_gdt)) as u64;
    // The GDTR's base field follows its 2-byte limit.
    patch(core::ptr::addr_of!(ap_gdtr).wrapping_add(2), gdt_linear, 4);
    let long_mode_linear = phys + offset_of(core::ptr::addr_of!(ap_long_mode)) as u64;
    patch(core::ptr::addr_of!(ap_far_jump), long_mode_linear, 4);
    patch(core::ptr::addr_of!(ap_cr3), pml4.start_address().as_u64(), 8);
    patch(core::ptr::addr_of!(ap_entry), ap_main as *const () as u64, 8);

    // The AP turns paging on while executing at the physical address.
    let identity = Page::containing_address(VirtAddr::new(phys));
    paging::map(identity, page_frame, PageTableFlags::empty()).expect("identity-mapping the AP trampoline");

    let mut started = 0;
    for (index, &apic_id) in (1..).zip(others.iter()) {
        if index >= percpu::MAX_CPUS {
            log::warn!("more than {} CPUs; the rest stay off", percpu::MAX_CPUS);
            break;
        }
        let Some(stack) = kstack::allocate(CPU_STACK_SIZE) else {
            log::warn!("no memory for CPU {index}'s stack");
            break;
        };
        patch(core::ptr::addr_of!(ap_stack), stack.top(), 8);
        patch(core::ptr::addr_of!(ap_arg), index as u64, 8);
        super::apic::lapic::start_ap(apic_id, (phys >> 12) as u8);
        let deadline = tsc::now_ns() + AP_TIMEOUT_NS;
        while !percpu::get(index).is_some_and(|cpu| cpu.online.load(Ordering::Acquire)) {
            if tsc::now_ns() > deadline {
                log::error!("CPU {index} (APIC {apic_id}) did not start");
                break;
            }
            core::hint::spin_loop();
        }
        if percpu::get(index).is_some_and(|cpu| cpu.online.load(Ordering::Acquire)) {
            started += 1;
        }
        // The stack now belongs to that CPU for good (or to a CPU that never
        // came up, in which case it stays reserved: the AP may still start).
        stack.keep_forever();
    }
    paging::drop_boot_identity_mappings();
    started
}

/// Where each AP starts in Rust, on its own stack, with the kernel's page
/// table and a temporary GDT.
extern "C" fn ap_main(index: usize) -> ! {
    super::init_this_cpu(index);
    percpu::current().online.store(true, Ordering::Release);
    log::info!("CPU {index} online (APIC {})", super::apic::lapic::id());
    crate::context::scheduler::run_idle()
}
