//! Self-tests of traps and interrupts: a breakpoint resumes, faults are
//! caught by the fixup path (including a real stack overflow into a guard
//! page), every CPU takes timer interrupts, and a device IRQ arrives
//! through the IOAPIC.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use super::{Outcome, ensure};
use crate::arch::x86_64::apic::ioapic::{self, Polarity, Trigger};
use crate::arch::x86_64::{self as arch, exception, idt, irq, percpu, pit, trap, tsc};
use crate::memory::kstack;

pub fn breakpoint() -> Outcome {
    let cpu = percpu::current();
    let before = cpu.breakpoints.load(Ordering::Relaxed);
    x86_64::instructions::interrupts::int3();
    let after = cpu.breakpoints.load(Ordering::Relaxed);
    ensure!(after == before + 1, "breakpoint handler ran {} times", after - before);
    Ok(String::from("int3 handled, execution resumed"))
}

extern "C" fn undefined_instruction(_: usize) {
    // SAFETY: raises #UD on purpose, under `trap::try_call`.
    unsafe { core::arch::asm!("ud2") };
}

extern "C" fn divide_by_zero(divisor: usize) {
    // SAFETY: raises #DE on purpose (divisor is 0), under `trap::try_call`.
    unsafe { core::arch::asm!("div {0}", in(reg) divisor, inout("rax") 1usize => _, inout("rdx") 0usize => _) };
}

extern "C" fn non_canonical_read(addr: usize) {
    // SAFETY: a non-canonical address raises #GP on purpose, under
    // `trap::try_call`.
    unsafe { core::ptr::read_volatile(addr as *const u64) };
}

pub fn exception_recovery() -> Outcome {
    let cases: [(&str, extern "C" fn(usize), usize, u8); 3] = [
        ("#UD", undefined_instruction, 0, exception::INVALID_OPCODE),
        ("#DE", divide_by_zero, 0, exception::DIVIDE_ERROR),
        ("#GP", non_canonical_read, 0x8000_0000_0000_0000, exception::GENERAL_PROTECTION),
    ];
    for (name, f, arg, vector) in cases {
        let fault = trap::try_call(f, arg).err().ok_or_else(|| format!("{name} did not fault"))?;
        ensure!(fault.vector == vector, "{name} arrived as vector {}", fault.vector);
    }
    Ok(String::from("#UD, #DE, #GP caught and resumed"))
}

/// Switch to the stack top passed in and push until something gives.
#[unsafe(naked)]
extern "C" fn overflow_stack(top: usize) {
    core::arch::naked_asm!("mov rsp, rdi", "2:", "push rax", "jmp 2b")
}

pub fn guard_page_overflow() -> Outcome {
    let stack = kstack::allocate(16 * 1024).ok_or("no stack")?;
    let (bottom, guard) = (stack.bottom(), stack.guard_page());
    let result = trap::try_call(overflow_stack, stack.top() as usize);
    kstack::free(stack);
    let fault = result.err().ok_or("overflowing the stack did not fault")?;
    // The push into the guard page is a page fault the CPU cannot deliver on
    // the same stack, so it escalates to a double fault on its IST stack.
    ensure!(fault.vector == exception::DOUBLE_FAULT, "expected a double fault, got vector {}", fault.vector);
    ensure!(
        fault.address >= guard && fault.address < bottom,
        "faulting address {:#x} is not in the guard page {guard:#x}",
        fault.address
    );
    Ok(format!("overflow hit guard page {guard:#x}, double fault on IST stack, resumed"))
}

pub fn timer_every_cpu() -> Outcome {
    let before: Vec<u64> = percpu::all().map(|cpu| cpu.timer_ticks.load(Ordering::Relaxed)).collect();
    tsc::delay_ns(200_000_000);
    let mut counts = String::new();
    for (cpu, start) in percpu::all().zip(before) {
        let ticks = cpu.timer_ticks.load(Ordering::Relaxed) - start;
        ensure!(ticks >= 5, "CPU {} took only {ticks} timer interrupts in 200 ms", cpu.index);
        counts += &format!(" cpu{}={ticks}", cpu.index);
    }
    Ok(format!("ticks in 200 ms:{counts}"))
}

/// ISA IRQ 0 (the PIT) routed through the IOAPIC to this CPU arrives.
pub fn ioapic_pit_irq() -> Outcome {
    let platform = arch::PLATFORM.get().ok_or("no ACPI platform information")?;
    ensure!(ioapic::count() > 0, "no IOAPIC");
    let route = platform.isa_routes[0];
    let gsi =
        u8::try_from(route.gsi).ok().filter(|&g| usize::from(g) < irq::GSI_COUNT).ok_or("PIT GSI out of range")?;
    let before = irq::count(gsi);
    let polarity = if route.active_low { Polarity::ActiveLow } else { Polarity::ActiveHigh };
    let trigger = if route.level_triggered { Trigger::Level } else { Trigger::Edge };
    let apic_id = percpu::current().apic_id.load(Ordering::Relaxed);
    ensure!(ioapic::route(route.gsi, idt::IRQ_BASE + gsi, apic_id, trigger, polarity), "GSI {gsi} not on any IOAPIC");
    pit::one_shot_channel0(1193); // 1 ms
    let deadline = tsc::now_ns() + 500_000_000;
    while irq::count(gsi) == before && tsc::now_ns() < deadline {
        core::hint::spin_loop();
    }
    ioapic::mask(route.gsi);
    let arrived = irq::count(gsi) - before;
    ensure!(arrived >= 1, "no interrupt on GSI {gsi} within 500 ms");
    Ok(format!("ISA IRQ 0 -> GSI {gsi} -> vector {:#x}", idt::IRQ_BASE + gsi))
}
