//! The calling thread. Processes are single-threaded for now.

/// Gives the CPU to another runnable thread, if there is one.
pub fn yield_now() {
    let _ = crate::sys::sched_yield();
}
