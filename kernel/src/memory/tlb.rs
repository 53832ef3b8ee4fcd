//! TLB shootdown: making other CPUs forget translations this CPU removed or
//! restricted, before the frames behind them are reused.
//!
//! Each CPU has a mailbox with two generation counters. An initiator that
//! changed page tables takes a ticket on every target
//! (`requested.fetch_add`), sends it [`TLB_SHOOTDOWN_VECTOR`], and waits
//! until the target's `done` reaches its ticket. The target's handler reads
//! `requested`, flushes its whole TLB (global entries too, by toggling
//! CR4.PGE) and raises `done` to what it read: one flush answers every
//! request made so far, however many CPUs asked. A CPU waiting for others
//! services its own mailbox in its wait loop, so two CPUs that shoot each
//! other down with interrupts disabled both make progress.
//!
//! Which CPUs are targets:
//! - kernel mappings (every kernel page is shared by all address spaces,
//!   and the heap's and stacks' are global): every other online CPU
//!   ([`shoot_down_kernel`]);
//! - a user address space: the CPUs whose loaded PML4 is that space
//!   ([`shoot_down_space`]). Each CPU publishes the PML4 it loads
//!   ([`note_loaded`]) before writing CR3; an initiator changes the entries,
//!   then (after a full fence) reads the published PML4s. A CPU that loads
//!   the space after that read walks the changed tables; one that loaded it
//!   before is seen and flushed. A CPU that publishes another PML4 is still
//!   in `schedule` with the old one for a moment, touching no user memory.
//!
//! Rules (also in `docs/architecture.md` §8):
//! - **Initiate a shootdown holding no lock that a target could be spinning
//!   on with interrupts off.** The target cannot take the IPI while it
//!   spins, and the initiator waits for it: a deadlock. Kernel shootdowns
//!   (every CPU is a target) therefore hold no lock at all: kernel stacks
//!   are reaped from `kstack::allocate`, whose callers hold none. User
//!   shootdowns run under the space's own lock and target only CPUs running
//!   that process; that is safe while a process has one thread (no other
//!   CPU runs it, so the target set is empty in practice) and would need the
//!   page-fault path to stop spinning on the space lock with interrupts off
//!   once processes have several.
//! - The handler takes no lock; it may run at any point where interrupts
//!   are enabled, and [`service`] runs inside wait loops with them off.
//! - Frames (and page tables) are freed only after the shootdown returns.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

use x86_64::registers::control::{Cr3, Cr4, Cr4Flags};
use x86_64::structures::paging::PhysFrame;

use crate::arch::x86_64::{apic, idt, percpu};

struct Mailbox {
    /// Flush requests made of this CPU (a generation, only ever grows).
    requested: AtomicU64,
    /// The newest request this CPU's flush has answered.
    done: AtomicU64,
    /// The PML4 this CPU has loaded (physical address; 0 before its first
    /// switch: the kernel's).
    loaded: AtomicU64,
    /// Self-test probe: an address to read without flushing, its value,
    /// and whether the read is done.
    probe_addr: AtomicU64,
    probe_value: AtomicU64,
    probe_done: AtomicBool,
}

impl Mailbox {
    const fn new() -> Self {
        Self {
            requested: AtomicU64::new(0),
            done: AtomicU64::new(0),
            loaded: AtomicU64::new(0),
            probe_addr: AtomicU64::new(0),
            probe_value: AtomicU64::new(0),
            probe_done: AtomicBool::new(false),
        }
    }
}

static MAILBOXES: [Mailbox; percpu::MAX_CPUS] = [const { Mailbox::new() }; percpu::MAX_CPUS];

/// Shootdowns that had at least one target, and the IPIs they sent.
static SHOOTDOWNS: AtomicU64 = AtomicU64::new(0);
static IPIS: AtomicU64 = AtomicU64::new(0);

/// Sent to a CPU that must flush its TLB.
pub const TLB_SHOOTDOWN_VECTOR: u8 = idt::TLB_SHOOTDOWN_VECTOR;

/// `(shootdowns, IPIs sent)` since boot, for `sys:cpu`.
pub fn stats() -> (u64, u64) {
    (SHOOTDOWNS.load(Ordering::Relaxed), IPIS.load(Ordering::Relaxed))
}

/// Record that this CPU is about to load `pml4` into CR3. Call with
/// interrupts off, right before the write.
pub fn note_loaded(pml4: PhysFrame) {
    MAILBOXES[percpu::current().index].loaded.store(pml4.start_address().as_u64(), Ordering::SeqCst);
}

/// Flush this CPU's whole TLB, global entries included.
pub fn flush_local_all() {
    let cr4 = Cr4::read();
    if cr4.contains(Cr4Flags::PAGE_GLOBAL) {
        // SAFETY: clearing and restoring PGE only drops TLB entries (the
        // architectural way to flush global ones); paging stays on.
        unsafe {
            Cr4::write(cr4 - Cr4Flags::PAGE_GLOBAL);
            Cr4::write(cr4);
        }
    } else {
        let (frame, flags) = Cr3::read();
        // SAFETY: reloading the current PML4 changes no mapping.
        unsafe { Cr3::write(frame, flags) };
    }
}

/// Answer every flush request made of this CPU so far.
pub fn service() {
    let mailbox = &MAILBOXES[percpu::current().index];
    let wanted = mailbox.requested.load(Ordering::SeqCst);
    if mailbox.done.load(Ordering::Acquire) < wanted {
        flush_local_all();
        // `fetch_max`: a handler that interrupts a wait loop's `service`
        // may answer a newer request first; `done` never goes back.
        mailbox.done.fetch_max(wanted, Ordering::SeqCst);
    }
}

/// The shootdown IPI handler (the caller sends the EOI).
pub fn handle_ipi() {
    service();
}

/// Flush every CPU in `mask` (bit n = CPU n; this CPU's bit is ignored) and
/// wait until all have.
fn shoot_down(mask: u64) {
    let me = percpu::current().index;
    let mask = mask & !(1u64 << me);
    if mask == 0 {
        return;
    }
    SHOOTDOWNS.fetch_add(1, Ordering::Relaxed);
    let mut tickets = [0u64; percpu::MAX_CPUS];
    for (cpu, ticket) in tickets.iter_mut().enumerate().filter(|(cpu, _)| mask & (1 << cpu) != 0) {
        *ticket = MAILBOXES[cpu].requested.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(target) = percpu::get(cpu) {
            apic::lapic::send_ipi(target.apic_id.load(Ordering::Relaxed), TLB_SHOOTDOWN_VECTOR);
            IPIS.fetch_add(1, Ordering::Relaxed);
        }
    }
    for (cpu, &ticket) in tickets.iter().enumerate().filter(|(cpu, _)| mask & (1 << cpu) != 0) {
        while MAILBOXES[cpu].done.load(Ordering::Acquire) < ticket {
            // Someone may be waiting for us, maybe with interrupts off.
            service();
            core::hint::spin_loop();
        }
    }
}

/// Make every other online CPU drop its translations of kernel pages this
/// CPU unmapped or restricted (and flushed locally). Call holding no lock.
pub fn shoot_down_kernel() {
    fence(Ordering::SeqCst);
    let mask = (0..percpu::MAX_CPUS)
        .filter(|&i| percpu::get(i).is_some_and(|cpu| cpu.online.load(Ordering::Acquire)))
        .fold(0u64, |mask, i| mask | (1 << i));
    shoot_down(mask);
}

/// Make every other CPU that has `pml4` loaded drop its translations of it
/// (this CPU flushes its own).
pub fn shoot_down_space(pml4: PhysFrame) {
    // The entries were changed before this: a CPU we do not see with the
    // space loaded will load it after this fence and walk the new tables.
    fence(Ordering::SeqCst);
    let addr = pml4.start_address().as_u64();
    let mask = (0..percpu::MAX_CPUS)
        .filter(|&i| MAILBOXES[i].loaded.load(Ordering::SeqCst) == addr)
        .fold(0u64, |mask, i| mask | (1 << i));
    shoot_down(mask);
}

/// Self-test support: have `cpu` read the `u64` at kernel address `addr`
/// through whatever translation its TLB holds (no flush first), and return
/// what it read; `None` if it did not answer within a second.
pub fn probe_read(cpu: usize, addr: u64) -> Option<u64> {
    let target = percpu::get(cpu)?;
    let mailbox = &MAILBOXES[cpu];
    mailbox.probe_done.store(false, Ordering::SeqCst);
    mailbox.probe_addr.store(addr, Ordering::SeqCst);
    apic::lapic::send_ipi(target.apic_id.load(Ordering::Relaxed), idt::TLB_PROBE_VECTOR);
    let deadline = crate::time::now_ns() + 1_000_000_000;
    while !mailbox.probe_done.load(Ordering::Acquire) {
        if crate::time::now_ns() > deadline {
            return None;
        }
        core::hint::spin_loop();
    }
    Some(mailbox.probe_value.load(Ordering::Acquire))
}

/// The probe IPI handler (the caller sends the EOI).
pub fn handle_probe() {
    let mailbox = &MAILBOXES[percpu::current().index];
    let addr = mailbox.probe_addr.swap(0, Ordering::SeqCst);
    if addr != 0 {
        // SAFETY: `probe_read`'s caller (a self-test) keeps `addr` mapped to
        // a frame it owns for as long as the probe may run.
        let value = unsafe { core::ptr::read_volatile(addr as *const u64) };
        mailbox.probe_value.store(value, Ordering::Release);
        mailbox.probe_done.store(true, Ordering::Release);
    }
}
