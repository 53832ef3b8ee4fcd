//! Threads: what the scheduler runs. A thread owns a kernel stack (whose
//! top holds its saved user registers while it is in the kernel), its saved
//! kernel context, and its FPU/SSE state. Each CPU also has an idle thread
//! that runs on the CPU's own boot stack and belongs to no process.

use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use abi::syscall::error::{ENOMEM, Error};

use super::process::Process;
use crate::arch::x86_64::fpu::FpuState;
use crate::arch::x86_64::switch;
use crate::arch::x86_64::trap::TrapFrame;
use crate::memory::kstack::{self, KernelStack};

pub type Tid = usize;

/// Kernel stack size of every user thread.
pub const KERNEL_STACK_SIZE: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// In a run queue (or about to be put in one).
    Runnable = 0,
    /// On a CPU.
    Running = 1,
    /// Waiting; a waker moves it back to `Runnable` and queues it.
    Blocked = 2,
    /// Finished; freed once the CPU has switched away from it.
    Dead = 3,
}

pub struct Thread {
    pub tid: Tid,
    /// None for idle threads.
    pub process: Option<Arc<Process>>,
    stack: Option<KernelStack>,
    stack_top: u64,
    /// The saved kernel RSP while not running (see `arch::switch`).
    saved_rsp: UnsafeCell<u64>,
    fpu: UnsafeCell<FpuState>,
    /// It has run an x87/SSE instruction (or was forked from a thread
    /// that had): its `fpu` area is saved and restored at each switch.
    uses_fpu: AtomicBool,
    state: AtomicU8,
    /// True from the moment a CPU picks the thread until that CPU has
    /// switched off its stack; no other CPU may resume it meanwhile.
    pub on_cpu: AtomicBool,
    /// The CPU whose run queue it last joined.
    pub cpu: AtomicUsize,
    /// Monotonic-clock deadline of a timed wait (0 = none).
    pub wake_at: AtomicU64,
    /// Whether it sits among a wait queue's waiters: set and cleared under
    /// that queue's lock (`wait_queue::Waiters`), so a thread woken by the
    /// queue (which took it out) need not look again.
    pub in_wait_queue: AtomicBool,
}

// SAFETY: `saved_rsp` and `fpu` are only accessed by the CPU that is
// switching the thread in or out, which `on_cpu` makes exclusive.
unsafe impl Sync for Thread {}
// SAFETY: as above; the kernel stack is plain memory owned by the thread.
unsafe impl Send for Thread {}

static NEXT_TID: AtomicUsize = AtomicUsize::new(1);

impl Thread {
    /// A thread of `process` that will enter user mode with `frame`; `fpu`
    /// is its FPU state when it has one to start with (a fork's copy of a
    /// parent that used the registers), else it starts without.
    pub fn new_user(process: Arc<Process>, frame: &TrapFrame, fpu: Option<FpuState>) -> Result<Arc<Thread>, Error> {
        let stack = kstack::allocate(KERNEL_STACK_SIZE).ok_or(Error::new(ENOMEM))?;
        let top = stack.top();
        // SAFETY: the stack is fresh, mapped, and only this thread will use it.
        let rsp = unsafe { switch::prepare_new_thread(top, frame) };
        Ok(Arc::new(Thread {
            tid: NEXT_TID.fetch_add(1, Ordering::Relaxed),
            process: Some(process),
            stack: Some(stack),
            stack_top: top,
            saved_rsp: UnsafeCell::new(rsp),
            uses_fpu: AtomicBool::new(fpu.is_some()),
            fpu: UnsafeCell::new(fpu.unwrap_or_else(FpuState::initial)),
            state: AtomicU8::new(State::Runnable as u8),
            on_cpu: AtomicBool::new(false),
            in_wait_queue: AtomicBool::new(false),
            cpu: AtomicUsize::new(0),
            wake_at: AtomicU64::new(0),
        }))
    }

    /// The idle thread of the CPU calling this: it stands for the code
    /// already running on the CPU's stack.
    pub fn new_idle(cpu: usize) -> Arc<Thread> {
        Arc::new(Thread {
            tid: 0,
            process: None,
            stack: None,
            stack_top: 0,
            saved_rsp: UnsafeCell::new(0),
            fpu: UnsafeCell::new(FpuState::initial()),
            uses_fpu: AtomicBool::new(false),
            state: AtomicU8::new(State::Running as u8),
            on_cpu: AtomicBool::new(true),
            in_wait_queue: AtomicBool::new(false),
            cpu: AtomicUsize::new(cpu),
            wake_at: AtomicU64::new(0),
        })
    }

    pub fn is_idle(&self) -> bool {
        self.process.is_none()
    }

    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            0 => State::Runnable,
            1 => State::Running,
            2 => State::Blocked,
            _ => State::Dead,
        }
    }

    pub fn set_state(&self, state: State) {
        self.state.store(state as u8, Ordering::Release);
    }

    /// Blocked -> Running, for a thread that changes its mind about
    /// blocking; false if a waker got there first (it is queued to run).
    pub fn blocked_to_running(&self) -> bool {
        self.state
            .compare_exchange(State::Blocked as u8, State::Running as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Blocked -> Runnable; false if it was not blocked (already woken).
    pub fn unblock(&self) -> bool {
        self.state
            .compare_exchange(State::Blocked as u8, State::Runnable as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Top of the kernel stack (0 for idle threads, which keep the CPU's).
    pub fn stack_top(&self) -> u64 {
        self.stack_top
    }

    /// The saved user registers of a user thread that is in the kernel.
    pub fn user_frame(&self) -> *mut TrapFrame {
        switch::user_frame_at(self.stack_top)
    }

    pub(super) fn saved_rsp_ptr(&self) -> *mut u64 {
        self.saved_rsp.get()
    }

    pub(super) fn fpu_ptr(&self) -> *mut FpuState {
        self.fpu.get()
    }

    /// Whether its FPU state is its own to keep (see `arch::x86_64::fpu`).
    pub fn uses_fpu(&self) -> bool {
        self.uses_fpu.load(Ordering::Relaxed)
    }

    pub(super) fn set_uses_fpu(&self, uses: bool) {
        self.uses_fpu.store(uses, Ordering::Relaxed);
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        if let Some(stack) = self.stack.take() {
            kstack::free(stack);
        }
    }
}
