//! The scheduler: preemptive round robin with one run queue per CPU.
//!
//! Policy: a thread runs for up to [`SLICE_TICKS`] timer ticks (10 ms
//! each), then goes to the back of its CPU's queue. New threads go to the
//! CPU with the shortest queue; woken threads go back to the CPU they last
//! ran on; a CPU with an empty queue steals from the longest other queue
//! before it idles, and idle CPUs halt until an interrupt (a thread queued
//! for an idle CPU comes with a wake-up IPI). The kernel is not preempted:
//! a thread switches only when it blocks, yields, exits, or is about to
//! return to user mode with its slice used up.
//!
//! Lock order: a wait queue's lock, then a run queue's lock (never two run
//! queues at once; `SLEEPERS` is only taken alone: by a sleeper, and
//! tried, never waited for, from the timer tick). All scheduler locks are taken with interrupts off, and none
//! is held across `switch`.
//!
//! Hand-off: `Thread::on_cpu` is true from the moment a CPU picks a thread
//! until the thread that CPU switches to next has run `finish_switch`; while
//! it is set no other CPU may resume the thread (its stack is in use). A
//! thread can sit in a run queue with `on_cpu` still set (woken, or put back
//! by a yield, while its old CPU is on its way out). `schedule` never waits
//! for `on_cpu` to clear: a CPU waiting with interrupts off for a thread
//! that another CPU is leaving, while that CPU waits for the first one's,
//! deadlocks both (it did, with four CPUs). It puts such a thread back in
//! its queue and switches to its idle thread instead, which releases its
//! own previous thread and tries again.

use alloc::collections::{BinaryHeap, VecDeque};
use alloc::sync::Arc;
use core::cmp::Reverse;
use core::mem::ManuallyDrop;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use spin::{Mutex, Once};
use x86_64::instructions::interrupts;
use x86_64::registers::control::{Cr3, Cr3Flags};

use super::thread::{State, Thread};
use crate::arch::x86_64::fpu::{self, FpuState};
use crate::arch::x86_64::{apic, idt, percpu, switch};
use crate::memory::paging;

/// Timer ticks in a time slice.
pub const SLICE_TICKS: u32 = 2;

struct CpuScheduler {
    queue: Mutex<VecDeque<Arc<Thread>>>,
    /// This CPU runs its idle thread (read by other CPUs placing a new
    /// thread). The thread itself is `PerCpu::current_thread`, which
    /// holds its reference: only this CPU touches it, so no lock.
    running_idle: AtomicBool,
    idle: Once<Arc<Thread>>,
    slice_left: AtomicU32,
    /// Number of queued threads, read without the lock by other CPUs.
    queued: AtomicUsize,
}

impl CpuScheduler {
    const fn new() -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            running_idle: AtomicBool::new(true),
            idle: Once::new(),
            slice_left: AtomicU32::new(SLICE_TICKS),
            queued: AtomicUsize::new(0),
        }
    }
}

static CPUS: [CpuScheduler; percpu::MAX_CPUS] = [const { CpuScheduler::new() }; percpu::MAX_CPUS];

/// Threads in timed waits, by deadline.
static SLEEPERS: Mutex<BinaryHeap<Reverse<(u64, usize, SleepEntry)>>> = Mutex::new(BinaryHeap::new());

struct SleepEntry(Arc<Thread>);

impl PartialEq for SleepEntry {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for SleepEntry {}
impl PartialOrd for SleepEntry {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SleepEntry {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        Arc::as_ptr(&self.0).cmp(&Arc::as_ptr(&other.0))
    }
}

impl CpuScheduler {
    /// Queue `thread` at the back. `queued` changes under the queue's lock
    /// (here and in `pop`), so it never runs below zero: a thread stolen
    /// the moment it was queued used to be counted out before it was
    /// counted in, and the counter wrapped (a panic in `spawn`'s sum, with
    /// four CPUs).
    fn push(&self, thread: Arc<Thread>) {
        let mut queue = self.queue.lock();
        queue.push_back(thread);
        self.queued.fetch_add(1, Ordering::Release);
    }
}

fn this_cpu() -> &'static CpuScheduler {
    &CPUS[percpu::current().index]
}

/// Run `f` on the thread running on this CPU without touching its
/// reference count (the fast path of every system call).
#[inline]
pub fn with_current<R>(f: impl FnOnce(&Thread) -> R) -> R {
    with_current_on(percpu::current(), f)
}

/// [`with_current`] given this CPU's data (`cpu` must be this CPU's).
#[inline]
fn with_current_on<R>(cpu: &percpu::PerCpu, f: impl FnOnce(&Thread) -> R) -> R {
    let ptr = cpu.current_thread.get().cast::<Thread>();
    assert!(!ptr.is_null(), "no current thread");
    // SAFETY: the pointer holds a strong reference of its own (it came
    // from `Arc::into_raw` in `set_current` or `schedule`), which keeps
    // the thread alive while it runs here; code running on this CPU runs
    // on behalf of that very thread, which cannot be freed before it has
    // switched away for good.
    f(unsafe { &*ptr })
}

/// Whether the scheduler runs on this CPU yet.
pub fn has_current() -> bool {
    !percpu::current().current_thread.get().is_null()
}

/// The thread running on this CPU.
pub fn current() -> Arc<Thread> {
    try_current().expect("no current thread")
}

/// The thread running on this CPU, or None before the scheduler runs here.
/// (One reference count more, taken through the per-CPU pointer: no lock.)
pub fn try_current() -> Option<Arc<Thread>> {
    let ptr = percpu::current().current_thread.get().cast::<Thread>();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the pointer came from `Arc::into_raw` and holds a strong
    // reference of its own (`set_current`, `schedule`), which keeps the
    // thread alive while it runs here, and whatever runs on this CPU runs
    // on its behalf; taking one more strong reference before making an
    // Arc of it keeps the counts balanced.
    unsafe {
        Arc::increment_strong_count(ptr);
        Some(Arc::from_raw(ptr))
    }
}

/// Whether the current thread's process has been told to die.
pub fn current_killed() -> bool {
    with_current(|t| t.process.as_ref().is_some_and(|p| p.pending_signal() != 0))
}

/// Make `thread` this CPU's current thread, its reference held by the
/// per-CPU pointer; the reference of the one before is handed back (null
/// if none). Interrupts are off: nothing else on this CPU may look.
fn set_current(cpu: &CpuScheduler, thread: Arc<Thread>) -> *const Thread {
    cpu.running_idle.store(thread.is_idle(), Ordering::Relaxed);
    percpu::current().current_thread.replace(Arc::into_raw(thread).cast()).cast()
}

/// Make the code running on this CPU its idle thread, then idle forever:
/// run whatever is queued, halt when nothing is.
pub fn run_idle() -> ! {
    let cpu = this_cpu();
    let index = percpu::current().index;
    let idle = cpu.idle.call_once(|| Thread::new_idle(index)).clone();
    let before = interrupts::without_interrupts(|| set_current(cpu, idle));
    debug_assert!(before.is_null(), "run_idle on a CPU that runs a thread");
    loop {
        interrupts::disable();
        if cpu.queued.load(Ordering::Acquire) > 0 || steal_candidate(index).is_some() {
            schedule();
            interrupts::enable();
        } else {
            interrupts::enable_and_hlt();
        }
    }
}

fn steal_candidate(me: usize) -> Option<usize> {
    (0..percpu::MAX_CPUS)
        .filter(|&i| i != me && percpu::get(i).is_some())
        .max_by_key(|&i| CPUS[i].queued.load(Ordering::Relaxed))
        .filter(|&i| CPUS[i].queued.load(Ordering::Relaxed) > 0)
}

fn enqueue(cpu_index: usize, thread: Arc<Thread>) {
    thread.cpu.store(cpu_index, Ordering::Relaxed);
    let cpu = &CPUS[cpu_index];
    interrupts::without_interrupts(|| cpu.push(thread));
    if cpu_index != percpu::current().index {
        // It may be halted in its idle loop.
        if let Some(target) = percpu::get(cpu_index) {
            apic::lapic::send_ipi(target.apic_id.load(Ordering::Relaxed), idt::RESCHEDULE_VECTOR);
        }
    }
}

/// Queue `thread` on this CPU (`me`) from inside `schedule`, which
/// already runs with interrupts off and sends no IPI to itself.
fn push_back(cpu: &CpuScheduler, me: usize, thread: Arc<Thread>) {
    thread.cpu.store(me, Ordering::Relaxed);
    cpu.push(thread);
}

fn pop(cpu: &CpuScheduler) -> Option<Arc<Thread>> {
    let mut queue = cpu.queue.lock();
    let thread = queue.pop_front()?;
    cpu.queued.fetch_sub(1, Ordering::Release);
    Some(thread)
}

/// Start a new thread on the least busy CPU.
pub fn spawn(thread: Arc<Thread>) {
    let target = (0..percpu::MAX_CPUS)
        .filter(|&i| percpu::get(i).is_some_and(|c| c.online.load(Ordering::Acquire)))
        .min_by_key(|&i| CPUS[i].queued.load(Ordering::Relaxed) + usize::from(!is_idle(i)))
        .unwrap_or(0);
    thread.set_state(State::Runnable);
    enqueue(target, thread);
}

fn is_idle(cpu: usize) -> bool {
    CPUS[cpu].running_idle.load(Ordering::Relaxed)
}

/// Make a blocked thread runnable again. False if it was not blocked.
pub fn wake(thread: &Arc<Thread>) -> bool {
    if !thread.unblock() {
        return false;
    }
    let cpu = thread.cpu.load(Ordering::Relaxed);
    enqueue(cpu, thread.clone());
    true
}

/// Switch at the next opportunity (a wake-up IPI arrived).
pub fn request_reschedule() {
    percpu::current().need_resched.store(true, Ordering::Relaxed);
}

/// Make the CPUs running `process`'s threads go through the kernel soon
/// (they pick up changes, like new I/O grants, on the way back).
pub fn nudge(process: &super::process::Process) {
    let me = percpu::current().index;
    let threads: alloc::vec::Vec<Arc<Thread>> = interrupts::without_interrupts(|| process.threads.lock().clone());
    for thread in threads {
        let cpu = thread.cpu.load(Ordering::Relaxed);
        if thread.state() == State::Running
            && cpu != me
            && let Some(target) = percpu::get(cpu)
        {
            apic::lapic::send_ipi(target.apic_id.load(Ordering::Relaxed), idt::RESCHEDULE_VECTOR);
        }
    }
}

/// Give up the CPU to another runnable thread, if there is one.
pub fn yield_now() {
    schedule();
}

/// Block the current thread (already marked `Blocked` and registered with
/// whoever will wake it) until `deadline` at the latest.
pub fn sleep_until(thread: &Arc<Thread>, deadline: u64) {
    thread.wake_at.store(deadline, Ordering::Release);
    interrupts::without_interrupts(|| {
        SLEEPERS.lock().push(Reverse((deadline, Arc::as_ptr(thread) as usize, SleepEntry(thread.clone()))));
    });
    schedule();
    thread.wake_at.store(0, Ordering::Release);
    // Woken before the deadline (an event, a kill): take the entry out, or
    // it would hold the thread -- its kernel stack, its process -- until
    // the deadline, which the caller chose and may be far off.
    if crate::time::now_ns() < deadline {
        let me = Arc::as_ptr(thread) as usize;
        interrupts::without_interrupts(|| SLEEPERS.lock().retain(|Reverse((_, key, _))| *key != me));
    }
}

/// Timer tick on this CPU: wake expired sleepers, account the slice.
pub fn tick() {
    let now = crate::time::now_ns();
    if let Some(mut sleepers) = SLEEPERS.try_lock() {
        while let Some(Reverse((deadline, _, _))) = sleepers.peek() {
            if *deadline > now {
                break;
            }
            let Some(Reverse((_, _, SleepEntry(thread)))) = sleepers.pop() else {
                break;
            };
            wake(&thread);
        }
    }
    crate::scheme::time::tick(now);
    let cpu = this_cpu();
    if cpu.slice_left.fetch_sub(1, Ordering::Relaxed) <= 1 {
        cpu.slice_left.store(SLICE_TICKS, Ordering::Relaxed);
        percpu::current().need_resched.store(true, Ordering::Relaxed);
    }
}

/// Pick the next thread and switch to it. The current thread goes back to
/// the run queue if it is still running (a yield or preemption); a
/// blocked or dead one does not.
pub fn schedule() {
    let enabled = interrupts::are_enabled();
    interrupts::disable();
    let cpu = this_cpu();
    let me = percpu::current().index;
    percpu::current().need_resched.store(false, Ordering::Relaxed);
    cpu.slice_left.store(SLICE_TICKS, Ordering::Relaxed);
    let prev_ptr = percpu::current().current_thread.get().cast::<Thread>();
    assert!(!prev_ptr.is_null(), "schedule before run_idle");
    // SAFETY: the per-CPU pointer holds a strong reference (it came from
    // `Arc::into_raw`); this view of it is never dropped, so the count
    // stays as it is until the switch below hands that reference on.
    let prev = ManuallyDrop::new(unsafe { Arc::from_raw(prev_ptr) });

    if prev.state() == State::Running && !prev.is_idle() {
        prev.set_state(State::Runnable);
        push_back(cpu, me, Arc::clone(&prev));
    }
    let idle = || cpu.idle.get().expect("idle thread").clone();
    let mut next = pop(cpu).or_else(|| steal_candidate(me).and_then(|victim| pop(&CPUS[victim]))).unwrap_or_else(idle);

    // Another CPU may still be switching off `next`'s stack (it was woken
    // or stolen while that CPU was on its way out). Waiting here for it
    // would be a cycle: that CPU may itself be waiting, with interrupts
    // off, for `prev`, which only this switch releases. So never wait:
    // put `next` back and run the idle thread, which releases `prev` and
    // picks `next` up again once its old CPU is done with it.
    if !Arc::ptr_eq(&prev, &next) && next.on_cpu.load(Ordering::Acquire) {
        push_back(cpu, me, next);
        next = idle();
    }
    if Arc::ptr_eq(&prev, &next) {
        prev.set_state(State::Running);
        if enabled {
            interrupts::enable();
        }
        return;
    }
    next.on_cpu.store(true, Ordering::Release);
    next.set_state(State::Running);
    next.cpu.store(me, Ordering::Relaxed);

    // Address space and the stack ring 3 enters on.
    let next_pml4 = match &next.process {
        Some(process) => process.pml4().unwrap_or_else(paging::kernel_pml4),
        None => paging::kernel_pml4(),
    };
    bump(&percpu::current().switches);
    if Cr3::read().0 != next_pml4 {
        bump(&percpu::current().address_space_loads);
        crate::memory::tlb::note_loaded(next_pml4);
        // SAFETY: the PML4 is a live address space whose kernel half is the
        // kernel's; the code and stack in use are kernel mappings.
        unsafe { Cr3::write(next_pml4, Cr3Flags::empty()) };
    }
    if !next.is_idle() {
        percpu::set_kernel_stack(next.stack_top());
    }
    load_io_ports(next.process.as_ref());
    switch_fpu(&prev, &next);

    let save = prev.saved_rsp_ptr();
    // SAFETY: reading the next thread's saved RSP, which no one else
    // touches while `on_cpu` is ours.
    let next_rsp = unsafe { *next.saved_rsp_ptr() };
    // The per-CPU pointer's reference to `prev` moves to `switched_from`.
    let replaced = set_current(cpu, next);
    debug_assert!(core::ptr::eq(replaced, prev_ptr));
    percpu::current().switched_from.set(prev_ptr.cast());
    // SAFETY: `next_rsp` is a context saved by `switch` or built for a new
    // thread on its own stack; `save` lives in `prev`, whose reference
    // `switched_from` holds until the switch is finished.
    unsafe { switch::switch(save, next_rsp) };
    // Back on this thread, possibly on another CPU.
    finish_switch();
    if enabled {
        interrupts::enable();
    }
}

/// The FPU half of a switch from `prev` to `next` (`arch::x86_64::fpu`
/// says why it is lazy): a thread that has used the registers has them
/// saved and restored; one that has not runs with them trapping, and
/// never while they hold another thread's state. The idle thread runs no
/// user code, so it leaves them as they are.
fn switch_fpu(prev: &Thread, next: &Thread) {
    let cpu = percpu::current();
    if prev.uses_fpu() {
        // SAFETY: this CPU owns `prev`'s area during the switch (`on_cpu`),
        // and its state is live here with CR0.TS clear (it ran so).
        unsafe { (*prev.fpu_ptr()).save() };
    }
    if next.is_idle() {
        return;
    }
    if next.uses_fpu() {
        allow_fpu(cpu);
        // SAFETY: this CPU owns `next`'s area during the switch; TS is clear.
        unsafe { (*next.fpu_ptr()).restore() };
        cpu.fpu_held.set(true);
        return;
    }
    if cpu.fpu_held.get() {
        reset_fpu(cpu);
    }
    trap_fpu(cpu);
}

/// Clear CR0.TS on this CPU, if set.
fn allow_fpu(cpu: &percpu::PerCpu) {
    if cpu.fpu_trapping.get() {
        fpu::allow_use();
        cpu.fpu_trapping.set(false);
    }
}

/// Set CR0.TS on this CPU, if clear.
fn trap_fpu(cpu: &percpu::PerCpu) {
    if !cpu.fpu_trapping.get() {
        fpu::trap_use();
        cpu.fpu_trapping.set(true);
    }
}

/// Load the initial image into this CPU's registers: nobody's state is
/// left in them.
fn reset_fpu(cpu: &percpu::PerCpu) {
    allow_fpu(cpu);
    FpuState::initial().restore();
    cpu.fpu_held.set(false);
}

/// The running thread's first x87/SSE instruction trapped (#NM from user
/// mode): from now on it keeps FPU state. Its area (the initial image, or
/// a fork's copy) is loaded and the instruction runs again.
pub fn fpu_first_use() {
    interrupts::without_interrupts(|| {
        let cpu = percpu::current();
        with_current(|thread| {
            thread.set_uses_fpu(true);
            allow_fpu(cpu);
            // SAFETY: the running thread's own area; CR0.TS was just cleared.
            unsafe { (*thread.fpu_ptr()).restore() };
            cpu.fpu_held.set(true);
        });
    });
}

/// exec: the running thread starts over without FPU state (its next use
/// traps and loads the initial image). The registers are reset now if
/// they held its old program's state.
pub fn fpu_forget() {
    interrupts::without_interrupts(|| {
        let cpu = percpu::current();
        with_current(|thread| {
            if thread.uses_fpu() {
                thread.set_uses_fpu(false);
                // SAFETY: the running thread's own area, which only this
                // CPU touches while it runs.
                unsafe { *thread.fpu_ptr() = FpuState::initial() };
                reset_fpu(cpu);
            }
            trap_fpu(cpu);
        });
    });
}

/// The FPU state a child forked now starts with: a copy of the running
/// thread's live registers if it has used them, else none.
pub fn fpu_for_fork() -> Option<FpuState> {
    with_current(|thread| {
        thread.uses_fpu().then(|| {
            let mut state = FpuState::initial();
            state.save();
            state
        })
    })
}

/// Count one on a per-CPU counter only this CPU writes.
#[inline]
fn bump(counter: &core::sync::atomic::AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// Run by the thread that was just switched to: the previous thread may
/// now run elsewhere (or, if dead, be freed).
pub fn finish_switch() {
    let previous = percpu::current().switched_from.replace(core::ptr::null()).cast::<Thread>();
    if !previous.is_null() {
        // SAFETY: `schedule` put a strong reference there (the one the
        // per-CPU current pointer held), and it is taken out once: the
        // slot was swapped for null above, with interrupts off.
        let previous = unsafe { Arc::from_raw(previous) };
        previous.on_cpu.store(false, Ordering::Release);
    }
}

/// Make this CPU's I/O bitmap match `process`'s grants (none for idle or
/// ungranted processes). Costs two loads when nobody has ports.
fn load_io_ports(process: Option<&Arc<super::process::Process>>) {
    let cpu = percpu::current();
    let wanted = process.map_or(0, |p| p.io_generation());
    if wanted == cpu.io_loaded.get() {
        return;
    }
    let ports = match process {
        Some(process) if wanted != 0 => process.io_ports(),
        _ => alloc::vec::Vec::new(),
    };
    percpu::set_io_ports(&ports);
    cpu.io_loaded.set(wanted);
}

/// Before returning to ring 3: die if killed, switch if the slice is up.
/// Every system call ends here, so the common case -- nothing to do -- is
/// a few loads inline; anything else goes to [`return_work`].
#[inline]
pub fn before_return_to_user() {
    interrupts::disable();
    let cpu = percpu::current();
    let quiet = !cpu.need_resched.load(Ordering::Relaxed)
        && with_current_on(cpu, |t| {
            t.process.as_ref().is_some_and(|p| p.pending_signal() == 0 && cpu.io_loaded.get() == p.io_generation())
        });
    if !quiet {
        return_work();
    }
}

/// The slow side of [`before_return_to_user`]: die if killed, load new
/// I/O grants, switch while the slice is up.
#[cold]
fn return_work() {
    loop {
        interrupts::disable();
        let resched = percpu::current().need_resched.load(Ordering::Relaxed);
        // One look at the process: its pending signal, and (when staying on
        // this CPU) any I/O grant made while it ran, which applies from now.
        let signal = with_current(|t| {
            let process = t.process.as_ref();
            if !resched {
                load_io_ports(process);
            }
            process.map_or(0, |p| p.pending_signal())
        });
        if signal != 0 {
            interrupts::enable();
            super::process::exit_current(abi::status::signaled(signal));
        }
        if !resched {
            return;
        }
        schedule();
    }
}

/// Mark the current thread dead and switch away for good.
pub fn exit_thread() -> ! {
    let thread = current();
    thread.set_state(State::Dead);
    drop(thread);
    schedule();
    unreachable!("a dead thread was scheduled again");
}
