//! Interrupt controllers: the local APIC of each CPU (timer, IPIs, EOI), the
//! IOAPICs that route device interrupts, and the legacy PIC, which is only
//! ever masked.

pub mod ioapic;
pub mod lapic;
pub mod pic;

pub use lapic::{end_of_interrupt, timer_tick};
