//! x86_64: descriptor tables, traps, interrupt controllers, clocks, CPUs.
//!
//! [`init_bsp`] brings up the boot CPU after memory management is ready;
//! [`init_this_cpu`] is the part every CPU (boot or not) runs for itself.

pub mod acpi;
pub mod apic;
pub mod cpu;
pub mod exception;
pub mod fpu;
pub mod gdt;
pub mod idt;
pub mod irq;
pub mod pci;
pub mod percpu;
pub mod pit;
pub mod power;
pub mod rtc;
pub mod serial;
pub mod smp;
pub mod switch;
pub mod syscall;
pub mod trap;
pub mod tsc;

use core::sync::atomic::Ordering;

use spin::Once;
use x86_64::PhysAddr;

use self::cpu::{Features, Protections};
use crate::memory::kstack::KernelStack;

static FEATURES: Once<Features> = Once::new();
static PROTECTIONS: Once<Protections> = Once::new();

/// The boot CPU's features (every CPU is assumed to match).
pub fn features() -> &'static Features {
    FEATURES.call_once(Features::detect)
}

/// The protections enabled on the boot CPU.
pub fn protections() -> Protections {
    PROTECTIONS.get().copied().unwrap_or_default()
}

/// What ACPI told us, kept for the banner and the self-tests.
pub static PLATFORM: Once<acpi::Platform> = Once::new();

/// Per-CPU set-up, run by each CPU on itself: per-CPU data, GDT/TSS with IST
/// stacks, IDT, control-register hardening, LAPIC and its timer.
pub fn init_this_cpu(index: usize) -> Protections {
    let cpu = percpu::install(index);
    let tables = gdt::init_this_cpu();
    cpu.tss.set(tables.tss);
    tables.ist_stacks.into_iter().for_each(KernelStack::keep_forever);
    idt::load();
    let protections = cpu::harden(features());
    cpu.protections.call_once(|| protections);
    crate::memory::usercopy::set_smap(protections.smap);
    fpu::enable();
    syscall::init_this_cpu();
    apic::lapic::init_this_cpu();
    cpu.apic_id.store(apic::lapic::id(), Ordering::Relaxed);
    protections
}

/// Bring up the boot CPU and the interrupt controllers, then the other CPUs.
/// Needs the heap; `rsdp` comes from the bootloader.
pub fn init_bsp(rsdp: Option<u64>) {
    let features = features();
    log::info!("CPU: {features}");
    let platform = rsdp.map(acpi::discover);
    let platform = match platform {
        Some(Ok(platform)) => platform,
        Some(Err(err)) => panic!("ACPI tables unusable: {err}"),
        None => panic!("the bootloader found no ACPI RSDP"),
    };
    apic::pic::remap_and_mask();
    let mode = apic::lapic::init_bsp(features.x2apic, PhysAddr::new(platform.local_apic_address));
    let protections = init_this_cpu(0);
    PROTECTIONS.call_once(|| protections);
    percpu::current().online.store(true, Ordering::Release);
    // The bootloader's GDT lived in the lower half; now that this CPU runs
    // on its own, the lower half can be emptied for userspace.
    crate::memory::paging::drop_boot_identity_mappings();
    log::info!(
        "LAPIC: {mode}, timer {} Hz from a {} MHz input",
        apic::lapic::TIMER_HZ,
        apic::lapic::timer_input_hz() / 1_000_000
    );
    log::info!("protections enabled: {protections}");
    for ioapic in &platform.ioapics {
        apic::ioapic::add(ioapic.id, PhysAddr::new(ioapic.address), ioapic.gsi_base);
    }
    x86_64::instructions::interrupts::enable();
    let bsp_apic_id = apic::lapic::id();
    let started = smp::start_aps(&platform.cpu_apic_ids, bsp_apic_id);
    log::info!("{} of {} CPUs online ({started} started)", percpu::online_count(), platform.cpu_apic_ids.len());
    PLATFORM.call_once(|| platform);
}

/// Continue on another stack: load `top` into RSP and call `f(arg)`.
///
/// # Safety
/// `top` must be the 16-byte aligned top of a mapped kernel stack that
/// nothing else uses; the current stack is abandoned for good.
#[unsafe(naked)]
pub unsafe extern "C" fn switch_stack(top: u64, f: extern "C" fn(usize) -> !, arg: usize) -> ! {
    core::arch::naked_asm!("mov rsp, rdi", "mov rdi, rdx", "call rsi", "ud2")
}

/// What a CPU does when it has nothing to do: sleep until the next
/// interrupt, forever.
pub fn idle_loop() -> ! {
    loop {
        x86_64::instructions::interrupts::enable_and_hlt();
    }
}

/// Stop this CPU for good: interrupts off, halt in a loop.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
