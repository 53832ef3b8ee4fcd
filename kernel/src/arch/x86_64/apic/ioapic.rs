//! IOAPICs: route a global system interrupt (GSI) to a vector on one CPU.
//! All redirection entries start masked; drivers unmask what they use.

use alloc::vec::Vec;

use spin::Mutex;
use x86_64::{PhysAddr, VirtAddr};

use crate::memory::mmio;

const REG_VERSION: u32 = 0x01;
const REG_REDIRECTION: u32 = 0x10;
bitflags::bitflags! {
    /// The low word of a redirection entry: its flags; the low byte is the
    /// vector, and fixed delivery to a physical destination is all zero.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Redirection: u32 {
        const ACTIVE_LOW = 1 << 13;
        const LEVEL_TRIGGERED = 1 << 15;
        const MASKED = 1 << 16;
        const _ = !0;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Edge,
    Level,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    ActiveHigh,
    ActiveLow,
}

struct IoApic {
    base: VirtAddr,
    gsi_base: u32,
    entries: u32,
}

impl IoApic {
    fn read(&self, reg: u32) -> u32 {
        // SAFETY: `base` maps this IOAPIC's register window (uncached);
        // IOREGSEL is at 0x00 and IOWIN at 0x10. Callers hold the lock, so
        // the select/access pair is not interleaved.
        unsafe {
            core::ptr::write_volatile(self.base.as_mut_ptr::<u32>(), reg);
            core::ptr::read_volatile((self.base + 0x10u64).as_ptr::<u32>())
        }
    }

    fn write(&self, reg: u32, value: u32) {
        // SAFETY: as in `read`.
        unsafe {
            core::ptr::write_volatile(self.base.as_mut_ptr::<u32>(), reg);
            core::ptr::write_volatile((self.base + 0x10u64).as_mut_ptr::<u32>(), value);
        }
    }

    fn contains(&self, gsi: u32) -> bool {
        gsi >= self.gsi_base && gsi < self.gsi_base + self.entries
    }
}

static IOAPICS: Mutex<Vec<IoApic>> = Mutex::new(Vec::new());

/// Map an IOAPIC and mask all its inputs. Returns its number of inputs.
pub fn add(id: u8, phys: PhysAddr, gsi_base: u32) -> u32 {
    let base = mmio::map(phys, 0x20);
    let mut ioapic = IoApic { base, gsi_base, entries: 0 };
    ioapic.entries = ((ioapic.read(REG_VERSION) >> 16) & 0xff) + 1;
    for entry in 0..ioapic.entries {
        ioapic.write(REG_REDIRECTION + 2 * entry, Redirection::MASKED.bits());
        ioapic.write(REG_REDIRECTION + 2 * entry + 1, 0);
    }
    let entries = ioapic.entries;
    log::info!("IOAPIC {id} at {:#x}: GSIs {gsi_base}..{}", phys.as_u64(), gsi_base + entries);
    x86_64::instructions::interrupts::without_interrupts(|| IOAPICS.lock().push(ioapic));
    entries
}

/// Deliver `gsi` as `vector` to the CPU with `apic_id` (fixed delivery,
/// physical destination) and unmask it. False if no IOAPIC has that GSI.
pub fn route(gsi: u32, vector: u8, apic_id: u32, trigger: Trigger, polarity: Polarity) -> bool {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let ioapics = IOAPICS.lock();
        let Some(ioapic) = ioapics.iter().find(|io| io.contains(gsi)) else {
            return false;
        };
        let entry = gsi - ioapic.gsi_base;
        let mut low = Redirection::from_bits_retain(u32::from(vector));
        low.set(Redirection::LEVEL_TRIGGERED, trigger == Trigger::Level);
        low.set(Redirection::ACTIVE_LOW, polarity == Polarity::ActiveLow);
        let low = low.bits();
        ioapic.write(REG_REDIRECTION + 2 * entry + 1, apic_id << 24);
        ioapic.write(REG_REDIRECTION + 2 * entry, low);
        true
    })
}

/// Whether an IOAPIC has an input for `gsi`.
pub fn has(gsi: u32) -> bool {
    x86_64::instructions::interrupts::without_interrupts(|| IOAPICS.lock().iter().any(|io| io.contains(gsi)))
}

/// Mask `gsi` again.
pub fn mask(gsi: u32) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let ioapics = IOAPICS.lock();
        if let Some(ioapic) = ioapics.iter().find(|io| io.contains(gsi)) {
            let reg = REG_REDIRECTION + 2 * (gsi - ioapic.gsi_base);
            ioapic.write(reg, (Redirection::from_bits_retain(ioapic.read(reg)) | Redirection::MASKED).bits());
        }
    });
}

pub fn count() -> usize {
    x86_64::instructions::interrupts::without_interrupts(|| IOAPICS.lock().len())
}
