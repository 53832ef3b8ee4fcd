//! Per-CPU data, reached through the GS base: `gs:[0]` holds a pointer to
//! the CPU's own [`PerCpu`]. Each CPU installs its block once at start-up
//! and never frees it; other CPUs may read the atomic fields (the timer
//! self-test reads every CPU's tick count).

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use x86_64::structures::tss::TaskStateSegment;

use spin::Once;
use x86_64::VirtAddr;
use x86_64::registers::model_specific::{GsBase, KernelGsBase};

/// The most CPUs the kernel brings up.
pub const MAX_CPUS: usize = 64;

/// A place to resume after an expected fault (see `trap::try_call`).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Recovery {
    pub rsp: u64,
    pub rip: u64,
}

/// What the last recovered fault was, for the code that expected it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultRecord {
    pub vector: u8,
    pub error_code: u64,
    pub address: u64,
}

#[repr(C)]
pub struct PerCpu {
    /// Must stay first: `gs:[0]`.
    self_ptr: *const PerCpu,
    pub index: usize,
    /// Set once the LAPIC is up.
    pub apic_id: AtomicU32,
    /// This CPU's TSS (its ring-0 stack changes with every context switch).
    pub tss: Cell<*mut TaskStateSegment>,
    pub online: AtomicBool,
    pub protections: Once<super::cpu::Protections>,
    pub timer_ticks: AtomicU64,
    pub breakpoints: AtomicU64,
    /// Only touched by this CPU, with interrupts in whatever state the
    /// expecting code left them; the fault handler runs on the same CPU.
    pub recovery: Cell<Recovery>,
    pub last_fault: Cell<FaultRecord>,
}

// SAFETY: the `Cell` fields are only accessed by the owning CPU (through
// `current()`), the other fields are atomics or immutable after init.
unsafe impl Sync for PerCpu {}

static CPUS: [Once<&'static PerCpu>; MAX_CPUS] = [const { Once::new() }; MAX_CPUS];

/// Create CPU `index`'s block and make it this CPU's GS base.
pub fn install(index: usize) -> &'static PerCpu {
    let block = alloc::boxed::Box::leak(alloc::boxed::Box::new(PerCpu {
        self_ptr: core::ptr::null(),
        index,
        apic_id: AtomicU32::new(0),
        tss: Cell::new(core::ptr::null_mut()),
        online: AtomicBool::new(false),
        protections: Once::new(),
        timer_ticks: AtomicU64::new(0),
        breakpoints: AtomicU64::new(0),
        recovery: Cell::new(Recovery::default()),
        last_fault: Cell::new(FaultRecord::default()),
    }));
    block.self_ptr = block;
    let block: &'static PerCpu = block;
    CPUS[index].call_once(|| block);
    GsBase::write(VirtAddr::from_ptr(block));
    KernelGsBase::write(VirtAddr::zero());
    block
}

/// This CPU's block. Must not be called before `install` on this CPU
/// (checked in debug builds).
pub fn current() -> &'static PerCpu {
    debug_assert!(
        GsBase::read().as_u64() != 0,
        "per-CPU data used before install"
    );
    let ptr: *const PerCpu;
    // SAFETY: after `install`, gs:[0] holds the block's own address.
    unsafe {
        core::arch::asm!("mov {}, gs:[0]", out(reg) ptr, options(nostack, readonly, preserves_flags))
    };
    // SAFETY: `install` stored a pointer to a leaked, never-freed block.
    unsafe { &*ptr }
}

/// This CPU's index, or 0 before per-CPU data exists (early boot log lines).
pub fn current_index() -> usize {
    if GsBase::read().as_u64() == 0 {
        0
    } else {
        current().index
    }
}

/// CPU `index`'s block, if that CPU was brought up.
pub fn get(index: usize) -> Option<&'static PerCpu> {
    CPUS.get(index).and_then(|once| once.get().copied())
}

/// Every CPU that has a block, in index order.
pub fn all() -> impl Iterator<Item = &'static PerCpu> {
    CPUS.iter().filter_map(|once| once.get().copied())
}

pub fn online_count() -> usize {
    all()
        .filter(|cpu| cpu.online.load(Ordering::Acquire))
        .count()
}
