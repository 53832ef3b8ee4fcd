//! Processes, threads and the scheduler: everything that runs user code.
//!
//! `process` owns the process table and exit/wait; `thread` the kernel
//! side of a thread; `scheduler` the per-CPU run queues and context
//! switches; `wait_queue` blocking; `file` the per-process table of open
//! files; `exec` turns an ELF file into a fresh address space.

pub mod bootstrap;
pub mod exec;
pub mod file;
pub mod oom;
pub mod process;
pub mod scheduler;
pub mod thread;
pub mod wait_queue;

use alloc::sync::Arc;

use self::process::Process;
use crate::memory::address_space::AddressSpace;

/// The process of the thread running on this CPU (None on idle threads).
pub fn current_process() -> Option<Arc<Process>> {
    if !scheduler::has_current() {
        return None;
    }
    scheduler::with_current(|thread| thread.process.clone())
}

/// Run `f` on the current process's address space.
pub fn with_current_space<R>(f: impl FnOnce(&mut AddressSpace) -> R) -> Option<R> {
    current_process()?.with_space(f)
}

/// What the kernel does when the first process ends: in self-test mode
/// that is the end of the user tests, so QEMU exits with their verdict.
pub fn first_process_exited(status: usize) {
    if crate::boot::mode() == crate::boot::Mode::SelfTest {
        log::info!("first process exited with status {status:#x}");
        let (shootdowns, ipis) = crate::memory::tlb::stats();
        log::info!("TLB shootdowns since boot: {shootdowns} ({ipis} IPIs)");
    } else {
        // Nothing restarts init: orphans have no reaper, consoles and
        // daemons no supervisor. Say so where nobody can miss it.
        for _ in 0..3 {
            log::error!("INIT (pid 1) HAS ENDED (status {status:#x}): no more supervision, consoles or reaping");
        }
    }
    if crate::boot::mode() == crate::boot::Mode::SelfTest {
        let code = match abi::status::exit_code(status) {
            Some(0) => crate::qemu::ExitCode::Success,
            _ => crate::qemu::ExitCode::Failure,
        };
        crate::qemu::exit(code);
    }
}
