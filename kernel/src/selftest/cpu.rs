//! Self-tests of the CPUs themselves: all of them came up, each applied
//! the same hardening, and the clock is monotonic.

use alloc::format;
use alloc::string::String;

use super::{Outcome, ensure};
use x86_64::VirtAddr;

use crate::arch::x86_64::{self as arch, percpu, tsc};
use crate::memory::{kstack, paging};

pub fn all_online() -> Outcome {
    let platform = arch::PLATFORM.get().ok_or("no ACPI platform information")?;
    let expected = platform.cpu_apic_ids.len().min(percpu::MAX_CPUS);
    let online = percpu::online_count();
    ensure!(online == expected, "{online} CPUs online, ACPI lists {expected}");
    let mut ids = String::new();
    for cpu in percpu::all() {
        ids += &format!(" {}", cpu.apic_id.load(core::sync::atomic::Ordering::Relaxed));
    }
    Ok(format!("{online} CPUs, APIC IDs{ids}"))
}

/// Every CPU turned on every protection the CPU model offers.
pub fn protections() -> Outcome {
    let features = arch::features();
    let boot = arch::protections();
    ensure!(boot.nxe && boot.wp, "NXE/WP not enabled: {boot}");
    ensure!(
        boot.smep == features.smep && boot.smap == features.smap && boot.umip == features.umip,
        "supported protection left off: {boot}"
    );
    for cpu in percpu::all() {
        let theirs = cpu.protections.get().copied().unwrap_or_default();
        ensure!(theirs == boot, "CPU {} has {theirs}, boot CPU has {boot}", cpu.index);
    }
    Ok(format!("{boot} on {} CPUs", percpu::all().count()))
}

/// The boot CPU runs on a kernel stack with an unmapped guard page below.
pub fn boot_stack_guarded() -> Outcome {
    let local = 0u8;
    let rsp = core::ptr::addr_of!(local) as u64;
    let stack = kstack::stack_containing(rsp).ok_or_else(|| format!("RSP {rsp:#x} is not on a kernel stack"))?;
    let guard = stack.start - 4096;
    ensure!(paging::translate(VirtAddr::new(guard)).is_none(), "guard page {guard:#x} is mapped");
    ensure!(
        kstack::guard_page_owner(guard) == Some(stack.clone()),
        "guard page {guard:#x} not attributed to the stack"
    );
    Ok(format!("stack {:#x}..{:#x}, guard page {guard:#x} unmapped", stack.start, stack.end))
}

pub fn monotonic_clock() -> Outcome {
    let mut last = tsc::now_ns();
    for _ in 0..10_000 {
        let now = tsc::now_ns();
        ensure!(now >= last, "clock went backwards: {last} -> {now}");
        last = now;
    }
    let start = tsc::now_ns();
    tsc::delay_ns(1_000_000);
    let elapsed = tsc::now_ns() - start;
    ensure!(elapsed >= 1_000_000, "a 1 ms delay took {elapsed} ns");
    Ok(format!("TSC at {} MHz", tsc::frequency_hz() / 1_000_000))
}
