//! Device interrupts arriving through the IOAPIC: a handler table indexed
//! by GSI and a delivery count per GSI. Handlers run in interrupt context
//! with interrupts off and must not block or allocate.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::idt::{IRQ_BASE, IRQ_END};

pub const GSI_COUNT: usize = (IRQ_END - IRQ_BASE) as usize;

static COUNTS: [AtomicU64; GSI_COUNT] = [const { AtomicU64::new(0) }; GSI_COUNT];
/// `fn()` pointers stored as usize; 0 means no handler.
static HANDLERS: [AtomicUsize; GSI_COUNT] = [const { AtomicUsize::new(0) }; GSI_COUNT];

/// Take `gsi` for `handler`; false if someone (the kernel's own console,
/// a driver through `irq:`) has it already. One owner per line.
pub fn claim(gsi: u8, handler: fn()) -> bool {
    HANDLERS[usize::from(gsi)].compare_exchange(0, handler as usize, Ordering::AcqRel, Ordering::Acquire).is_ok()
}

/// Give `gsi` up (its owner masks it first).
pub fn release(gsi: u8) {
    HANDLERS[usize::from(gsi)].store(0, Ordering::Release);
}

/// Whether `gsi` has an owner.
pub fn is_claimed(gsi: u8) -> bool {
    HANDLERS[usize::from(gsi)].load(Ordering::Acquire) != 0
}

pub fn count(gsi: u8) -> u64 {
    COUNTS[usize::from(gsi)].load(Ordering::Acquire)
}

pub(super) fn dispatch(gsi: u8) {
    let index = usize::from(gsi);
    COUNTS[index].fetch_add(1, Ordering::AcqRel);
    let handler = HANDLERS[index].load(Ordering::Acquire);
    if handler != 0 {
        // SAFETY: only `claim` stores non-zero values, and it stores
        // `fn()` pointers.
        let handler: fn() = unsafe { core::mem::transmute::<usize, fn()>(handler) };
        handler();
    }
}
