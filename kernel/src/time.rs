//! The kernel's notion of time: nanoseconds since boot from the TSC clock.

pub fn now_ns() -> u64 {
    crate::arch::x86_64::tsc::now_ns()
}
