//! x86_64: descriptor tables, traps, interrupt controllers, clocks, CPUs.

pub mod serial;

/// Stop this CPU for good: interrupts off, halt in a loop.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
