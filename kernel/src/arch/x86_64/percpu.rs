//! Per-CPU data, reached through the GS base: `gs:[0]` holds a pointer to
//! the CPU's own [`PerCpu`]. Each CPU installs its block once at start-up
//! and never frees it; other CPUs may read the atomic fields (the timer
//! self-test reads every CPU's tick count).

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

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
    /// Top of the running thread's kernel stack: where the SYSCALL entry
    /// switches to (read by assembly at `KERNEL_RSP_OFFSET`).
    pub kernel_rsp: Cell<u64>,
    /// The user RSP, parked by the SYSCALL entry while it switches stacks.
    pub user_rsp: Cell<u64>,
    pub index: usize,
    /// Set once the LAPIC is up.
    pub apic_id: AtomicU32,
    /// This CPU's TSS and I/O bitmap (they change with context switches).
    pub tss: Cell<*mut super::gdt::TssBlock>,
    /// The port ranges currently open in this CPU's I/O bitmap.
    pub open_ports: spin::Mutex<alloc::vec::Vec<core::ops::Range<u32>>>,
    pub online: AtomicBool,
    pub protections: Once<super::cpu::Protections>,
    pub timer_ticks: AtomicU64,
    /// Thread switches on this CPU, and those that loaded another address
    /// space (`sys:cpu`: how many switches a workload costs). Written only
    /// by this CPU, so a load and a store, no locked add.
    pub switches: AtomicU64,
    pub address_space_loads: AtomicU64,
    pub breakpoints: AtomicU64,
    /// Only touched by this CPU, with interrupts in whatever state the
    /// expecting code left them; the fault handler runs on the same CPU.
    pub recovery: Cell<Recovery>,
    pub last_fault: Cell<FaultRecord>,
    /// Set while the kernel copies to or from user memory.
    pub in_usercopy: AtomicBool,
    /// The thread running on this CPU, holding a strong reference to it
    /// (owned by the scheduler; opaque here).
    pub current_thread: Cell<*const ()>,
    /// The thread this CPU just switched away from, with its strong
    /// reference, released by the next thread once it runs (the
    /// scheduler's `finish_switch`).
    pub switched_from: Cell<*const ()>,
    /// Which grants the I/O bitmap holds: a process's grant generation
    /// (unique system-wide, see `Process::grant_ports`; 0 = no ports).
    pub io_loaded: Cell<u64>,
    /// Switch before returning to user mode (the slice is up, or another
    /// CPU asked by IPI). Only this CPU reads or writes it; here rather
    /// than in the scheduler's per-CPU array so every system call's exit
    /// reaches it straight through GS.
    pub need_resched: AtomicBool,
    /// CR0.TS is set on this CPU (x87/SSE instructions trap).
    pub fpu_trapping: Cell<bool>,
    /// The FPU registers hold a thread's state rather than the initial
    /// image (so they are reset before a thread that has not used them
    /// runs). Both only touched by this CPU (`fpu`, the scheduler).
    pub fpu_held: Cell<bool>,
}

// SAFETY: the `Cell` fields are only accessed by the owning CPU (through
// `current()`), the other fields are atomics or immutable after init.
unsafe impl Sync for PerCpu {}

/// Offsets of the fields the SYSCALL entry stub reaches through GS.
pub const KERNEL_RSP_OFFSET: usize = core::mem::offset_of!(PerCpu, kernel_rsp);
pub const USER_RSP_OFFSET: usize = core::mem::offset_of!(PerCpu, user_rsp);

static CPUS: [Once<&'static PerCpu>; MAX_CPUS] = [const { Once::new() }; MAX_CPUS];

/// Create CPU `index`'s block and make it this CPU's GS base.
pub fn install(index: usize) -> &'static PerCpu {
    let block = alloc::boxed::Box::leak(alloc::boxed::Box::new(PerCpu {
        self_ptr: core::ptr::null(),
        kernel_rsp: Cell::new(0),
        user_rsp: Cell::new(0),
        index,
        apic_id: AtomicU32::new(0),
        tss: Cell::new(core::ptr::null_mut()),
        open_ports: spin::Mutex::new(alloc::vec::Vec::new()),
        online: AtomicBool::new(false),
        protections: Once::new(),
        timer_ticks: AtomicU64::new(0),
        switches: AtomicU64::new(0),
        address_space_loads: AtomicU64::new(0),
        breakpoints: AtomicU64::new(0),
        recovery: Cell::new(Recovery::default()),
        last_fault: Cell::new(FaultRecord::default()),
        in_usercopy: AtomicBool::new(false),
        current_thread: Cell::new(core::ptr::null()),
        switched_from: Cell::new(core::ptr::null()),
        io_loaded: Cell::new(0),
        need_resched: AtomicBool::new(false),
        fpu_trapping: Cell::new(false),
        fpu_held: Cell::new(false),
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
    debug_assert!(GsBase::read().as_u64() != 0, "per-CPU data used before install");
    let ptr: *const PerCpu;
    // SAFETY: after `install`, gs:[0] holds the block's own address.
    unsafe { core::arch::asm!("mov {}, gs:[0]", out(reg) ptr, options(nostack, readonly, preserves_flags)) };
    // SAFETY: `install` stored a pointer to a leaked, never-freed block.
    unsafe { &*ptr }
}

/// Set the stack that traps and system calls from ring 3 enter on: the
/// TSS's RSP0 (interrupts, exceptions) and `kernel_rsp` (SYSCALL).
pub fn set_kernel_stack(top: u64) {
    let cpu = current();
    cpu.kernel_rsp.set(top);
    let tss = cpu.tss.get();
    if !tss.is_null() {
        // SAFETY: the TSS belongs to this CPU and lives forever; the CPU
        // only reads RSP0 on the next ring 3 -> 0 transition, which cannot
        // happen while this (kernel) code runs with the write half done.
        unsafe { (*tss).tss.privilege_stack_table[0] = VirtAddr::new(top) };
    }
}

/// Open exactly `ranges` of I/O ports to ring 3 on this CPU (the running
/// process's grants), closing whatever was open before.
pub fn set_io_ports(ranges: &[core::ops::Range<u32>]) {
    let cpu = current();
    let block = cpu.tss.get();
    if block.is_null() {
        return;
    }
    let mut open = cpu.open_ports.lock();
    if open.as_slice() == ranges {
        return;
    }
    let set = |port: u32, deny: bool| {
        let (byte, bit) = ((port / 8) as usize, port % 8);
        // SAFETY: this CPU's own bitmap; `port < 0x10000` keeps `byte`
        // inside its 8192 bytes. The CPU reads it only on port access from
        // ring 3, which cannot run while this kernel code does.
        unsafe {
            let cell = &mut (*block).iomap[byte];
            if deny { *cell |= 1 << bit } else { *cell &= !(1 << bit) }
        }
    };
    for range in open.iter() {
        range.clone().for_each(|port| set(port, true));
    }
    for range in ranges {
        range.clone().for_each(|port| set(port, false));
    }
    *open = ranges.to_vec();
}

/// This CPU's index, or 0 before per-CPU data exists (early boot log lines).
pub fn current_index() -> usize {
    if GsBase::read().as_u64() == 0 { 0 } else { current().index }
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
    all().filter(|cpu| cpu.online.load(Ordering::Acquire)).count()
}
