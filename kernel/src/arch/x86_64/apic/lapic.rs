//! The local APIC: x2APIC (MSRs) when the CPU has it, xAPIC (MMIO)
//! otherwise. Provides the periodic timer that drives each CPU's tick,
//! end-of-interrupt, and inter-processor interrupts (INIT/SIPI for start-up,
//! fixed vectors otherwise).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use spin::Once;
use x86_64::registers::model_specific::Msr;
use x86_64::{PhysAddr, VirtAddr};

use super::super::{idt, percpu, tsc};
use crate::memory::mmio;

const IA32_APIC_BASE: u32 = 0x1b;

bitflags::bitflags! {
    /// `IA32_APIC_BASE`'s mode bits (the rest is the base address).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct ApicBase: u64 {
        const X2APIC = 1 << 10;
        const ENABLE = 1 << 11;
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// A local vector table entry, the spurious-vector register and the
    /// interrupt command register: their flag bits and fields; the low
    /// byte is the vector (see [`with_vector`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Lapic: u32 {
        /// SVR: the APIC is software-enabled.
        const SVR_ENABLE = 1 << 8;
        /// LVT: the entry is masked.
        const LVT_MASKED = 1 << 16;
        /// LVT timer: periodic rather than one-shot.
        const LVT_TIMER_PERIODIC = 1 << 17;
        /// ICR delivery modes (a 3-bit field at bit 8).
        const ICR_NMI = 0b100 << 8;
        const ICR_INIT = 0b101 << 8;
        const ICR_STARTUP = 0b110 << 8;
        /// ICR: the last IPI is still being sent.
        const ICR_DELIVERY_PENDING = 1 << 12;
        /// ICR: level assert (every IPI but INIT de-assert).
        const ICR_LEVEL_ASSERT = 1 << 14;
        /// ICR destination shorthand: every CPU but this one.
        const ICR_ALL_EXCLUDING_SELF = 0b11 << 18;
        const _ = !0;
    }
}

/// `flags` with `vector` in the low byte.
fn with_vector(flags: Lapic, vector: u8) -> u32 {
    flags.bits() | u32::from(vector)
}

// Register offsets (xAPIC MMIO offsets; x2APIC MSR = 0x800 + offset / 16).
const REG_ID: u32 = 0x20;
const REG_TPR: u32 = 0x80;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_ESR: u32 = 0x280;
const REG_ICR_LOW: u32 = 0x300;
const REG_ICR_HIGH: u32 = 0x310;
const REG_LVT_TIMER: u32 = 0x320;
const REG_LVT_LINT0: u32 = 0x350;
const REG_LVT_LINT1: u32 = 0x360;
const REG_LVT_ERROR: u32 = 0x370;
const REG_TIMER_INITIAL: u32 = 0x380;
const REG_TIMER_CURRENT: u32 = 0x390;
const REG_TIMER_DIVIDE: u32 = 0x3e0;

const DIVIDE_BY_16: u32 = 0b0011;

/// Timer interrupts per second on every CPU.
pub const TIMER_HZ: u64 = 100;

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    X2Apic,
    XApic(VirtAddr),
}

impl core::fmt::Display for Mode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Mode::X2Apic => f.write_str("x2APIC"),
            Mode::XApic(_) => f.write_str("xAPIC"),
        }
    }
}

static MODE: Once<Mode> = Once::new();
/// Timer counts (at divide-by-16) per timer period, measured on the BSP.
static TICKS_PER_PERIOD: AtomicU32 = AtomicU32::new(0);
static BUS_HZ: AtomicU64 = AtomicU64::new(0);

fn mode() -> Mode {
    *MODE.get().expect("LAPIC used before init")
}

fn read(reg: u32) -> u32 {
    match mode() {
        // SAFETY: x2APIC is enabled on this CPU and `reg` is an architectural
        // register; reading it has no side effects.
        Mode::X2Apic => unsafe { Msr::new(0x800 + (reg >> 4)).read() as u32 },
        // SAFETY: `base` maps this CPU's APIC page (uncached) and `reg` is a
        // 16-byte aligned register inside it.
        Mode::XApic(base) => unsafe { core::ptr::read_volatile((base + u64::from(reg)).as_ptr::<u32>()) },
    }
}

fn write(reg: u32, value: u32) {
    match mode() {
        // SAFETY: as in `read`; the callers write architecturally valid values.
        Mode::X2Apic => unsafe { Msr::new(0x800 + (reg >> 4)).write(u64::from(value)) },
        // SAFETY: as in `read`.
        Mode::XApic(base) => unsafe { core::ptr::write_volatile((base + u64::from(reg)).as_mut_ptr::<u32>(), value) },
    }
}

/// Choose the mode (once, on the BSP) and map the xAPIC page if needed.
pub fn init_bsp(x2apic: bool, mmio_base: PhysAddr) -> Mode {
    *MODE.call_once(|| if x2apic { Mode::X2Apic } else { Mode::XApic(mmio::map(mmio_base, 4096)) })
}

/// Enable this CPU's LAPIC in the chosen mode with every local interrupt
/// masked, then start its periodic timer.
pub fn init_this_cpu() {
    let mut base = Msr::new(IA32_APIC_BASE);
    // SAFETY: enabling the APIC (and x2APIC mode when the CPU has it, which
    // `init_bsp` checked) is how the architecture expects it to be set up.
    unsafe {
        let mut value = ApicBase::from_bits_retain(base.read()) | ApicBase::ENABLE;
        if matches!(mode(), Mode::X2Apic) {
            value |= ApicBase::X2APIC;
        }
        base.write(value.bits());
    }
    write(REG_TPR, 0);
    write(REG_LVT_LINT0, Lapic::LVT_MASKED.bits());
    write(REG_LVT_LINT1, Lapic::LVT_MASKED.bits());
    write(REG_LVT_ERROR, Lapic::LVT_MASKED.bits());
    write(REG_SVR, with_vector(Lapic::SVR_ENABLE, idt::SPURIOUS_VECTOR));
    write(REG_ESR, 0);
    end_of_interrupt();
    if TICKS_PER_PERIOD.load(Ordering::Relaxed) == 0 {
        calibrate_timer();
    }
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, with_vector(Lapic::LVT_TIMER_PERIODIC, idt::TIMER_VECTOR));
    write(REG_TIMER_INITIAL, TICKS_PER_PERIOD.load(Ordering::Relaxed));
}

/// Count the timer down for 10 ms of TSC time to learn its frequency.
fn calibrate_timer() {
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, Lapic::LVT_MASKED.bits());
    write(REG_TIMER_INITIAL, u32::MAX);
    let start = tsc::read();
    tsc::delay_ns(10_000_000);
    let counted = u32::MAX - read(REG_TIMER_CURRENT);
    let elapsed_ns = (u128::from(tsc::read() - start) * 1_000_000_000 / u128::from(tsc::frequency_hz().max(1))) as u64;
    write(REG_TIMER_INITIAL, 0);
    let per_second = u64::from(counted) * 1_000_000_000 / elapsed_ns.max(1);
    BUS_HZ.store(per_second * 16, Ordering::Relaxed);
    let per_period = (per_second / TIMER_HZ).clamp(1, u64::from(u32::MAX)) as u32;
    TICKS_PER_PERIOD.store(per_period, Ordering::Relaxed);
}

/// The APIC timer's input clock, as measured.
pub fn timer_input_hz() -> u64 {
    BUS_HZ.load(Ordering::Relaxed)
}

pub fn id() -> u32 {
    match mode() {
        Mode::X2Apic => read(REG_ID),
        Mode::XApic(_) => read(REG_ID) >> 24,
    }
}

pub fn end_of_interrupt() {
    write(REG_EOI, 0);
}

pub fn timer_tick() {
    percpu::current().timer_ticks.fetch_add(1, Ordering::Relaxed);
    crate::context::scheduler::tick();
}

fn send_icr(dest: u32, low: u32) {
    let pending = Lapic::ICR_DELIVERY_PENDING.bits();
    match mode() {
        // SAFETY: writing the x2APIC ICR sends one IPI, which is the intent.
        Mode::X2Apic => unsafe { Msr::new(0x830).write((u64::from(dest) << 32) | u64::from(low)) },
        // Two register writes: an interrupt handler that sends an IPI
        // between them would change the destination under us.
        Mode::XApic(_) => x86_64::instructions::interrupts::without_interrupts(|| {
            write(REG_ICR_HIGH, dest << 24);
            write(REG_ICR_LOW, low);
            while read(REG_ICR_LOW) & pending != 0 {
                core::hint::spin_loop();
            }
        }),
    }
}

/// INIT, then two STARTUPs to vector `page` (the trampoline's physical page
/// number), with the delays the MP specification asks for.
pub fn start_ap(apic_id: u32, page: u8) {
    send_icr(apic_id, (Lapic::ICR_INIT | Lapic::ICR_LEVEL_ASSERT).bits());
    tsc::delay_ns(10_000_000);
    for _ in 0..2 {
        send_icr(apic_id, with_vector(Lapic::ICR_STARTUP | Lapic::ICR_LEVEL_ASSERT, page));
        tsc::delay_ns(200_000);
    }
}

/// Send `vector` to the CPU with `apic_id`.
pub fn send_ipi(apic_id: u32, vector: u8) {
    send_icr(apic_id, with_vector(Lapic::ICR_LEVEL_ASSERT, vector));
}

/// Send a non-maskable interrupt to every other CPU (used to stop them
/// when this one panics: it gets through even with interrupts off). Does
/// nothing before the LAPIC is set up.
pub fn nmi_others() {
    if MODE.get().is_some() {
        send_icr(0, (Lapic::ICR_ALL_EXCLUDING_SELF | Lapic::ICR_LEVEL_ASSERT | Lapic::ICR_NMI).bits());
    }
}
