//! Device interrupts: a handler table and a delivery count per source.
//! Sources `0..GSI_COUNT` are the IOAPIC's inputs (GSIs), arriving at
//! vector `IRQ_BASE + gsi`; sources `GSI_COUNT..SOURCE_COUNT` are
//! message-signalled interrupts, arriving at `MSI_BASE + k`, whose message
//! a device sends straight to a local APIC ([`msi_message`]). Handlers run
//! in interrupt context with interrupts off and must not block or allocate.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::idt::{IRQ_BASE, IRQ_END, MSI_BASE, MSI_END};

pub const GSI_COUNT: usize = (IRQ_END - IRQ_BASE) as usize;
/// GSIs, then MSI vectors.
pub const SOURCE_COUNT: usize = GSI_COUNT + (MSI_END - MSI_BASE) as usize;
const _: () = assert!(MSI_BASE == IRQ_END, "sources map onto one run of vectors");

static COUNTS: [AtomicU64; SOURCE_COUNT] = [const { AtomicU64::new(0) }; SOURCE_COUNT];
/// `fn()` pointers stored as usize; 0 means no handler.
static HANDLERS: [AtomicUsize; SOURCE_COUNT] = [const { AtomicUsize::new(0) }; SOURCE_COUNT];

/// The MSI message (address, data) that raises source `source` (an MSI
/// one) on the CPU with local APIC id `apic_id`: fixed delivery, physical
/// destination, edge-triggered, as the PCI and Intel SDM (10.11) define it.
pub fn msi_message(source: usize, apic_id: u32) -> (u64, u32) {
    let vector = u32::from(IRQ_BASE) + source as u32;
    (0xfee0_0000 | (u64::from(apic_id & 0xff) << 12), vector)
}

/// Take source `source` (a GSI, or an MSI vector's source) for
/// `handler`; false if someone (the kernel's own console, a driver through
/// `irq:`) has it already. One owner per source.
pub fn claim(source: u8, handler: fn()) -> bool {
    HANDLERS[usize::from(source)].compare_exchange(0, handler as usize, Ordering::AcqRel, Ordering::Acquire).is_ok()
}

/// Give `source` up (its owner masks it first).
pub fn release(source: u8) {
    HANDLERS[usize::from(source)].store(0, Ordering::Release);
}

/// Whether `source` has an owner.
pub fn is_claimed(source: u8) -> bool {
    HANDLERS[usize::from(source)].load(Ordering::Acquire) != 0
}

pub fn count(source: u8) -> u64 {
    COUNTS[usize::from(source)].load(Ordering::Acquire)
}

pub(super) fn dispatch(source: u8) {
    let index = usize::from(source);
    COUNTS[index].fetch_add(1, Ordering::AcqRel);
    let handler = HANDLERS[index].load(Ordering::Acquire);
    if handler != 0 {
        // SAFETY: only `claim` stores non-zero values, and it stores
        // `fn()` pointers.
        let handler: fn() = unsafe { core::mem::transmute::<usize, fn()>(handler) };
        handler();
    }
}
