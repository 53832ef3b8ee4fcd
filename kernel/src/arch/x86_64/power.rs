//! Powering the machine off and resetting it, as the firmware's ACPI
//! tables describe (`acpi::discover` fills in [`Power`]; the parsing is
//! `acpi_tables`', which finds `\_S5` by its byte pattern in the DSDT).
//!
//! - Off: ACPI sleep state S5. If the firmware left ACPI off (SCI_EN
//!   clear), it is switched on through SMI_CMD first; then SLP_TYPa (and
//!   SLP_TYPb) from `\_S5` and SLP_EN are written to PM1a_CNT (and
//!   PM1b_CNT).
//! - Reset: the FADT's reset register (an I/O port or memory address and a
//!   value), then the 8042 keyboard controller's reset line, then a triple
//!   fault, which resets every PC.
//!
//! Both are called by `scheme::power` when init asks, after init stopped
//! every other process. They return only if the machine did not go.
//!
//! May touch: the ACPI PM1 control ports, SMI_CMD, the reset register,
//! port 0x64, and (last resort) this CPU's IDT.

use x86_64::instructions::port::Port;

/// `PM1_CNT.SCI_EN`: ACPI mode is on.
const SCI_EN: u16 = 1;
/// `PM1_CNT.SLP_EN`: enter the sleep state in SLP_TYP.
const SLP_EN: u16 = 1 << 13;
/// Where SLP_TYP sits in PM1_CNT.
const SLP_TYP_SHIFT: u16 = 10;

/// The firmware's reset register.
#[derive(Clone, Copy, Debug)]
pub enum ResetRegister {
    /// An I/O port and the byte to write.
    Port(u16, u8),
    /// A physical address and the byte to write.
    Memory(u64, u8),
}

/// What the ACPI tables say about power.
#[derive(Clone, Copy, Debug, Default)]
pub struct Power {
    pub pm1a_control: Option<u16>,
    pub pm1b_control: Option<u16>,
    /// SLP_TYPa and SLP_TYPb of `\_S5`.
    pub s5: Option<(u8, u8)>,
    pub smi_command: u16,
    pub acpi_enable: u8,
    pub reset: Option<ResetRegister>,
}

fn power() -> Power {
    super::PLATFORM.get().map(|p| p.power).unwrap_or_default()
}

fn read_u16(port: u16) -> u16 {
    // SAFETY: a PM1 control port the FADT names; reading it has no effect.
    unsafe { Port::<u16>::new(port).read() }
}

fn write_u16(port: u16, value: u16) {
    // SAFETY: a PM1 control port the FADT names; only called to power off.
    unsafe { Port::<u16>::new(port).write(value) }
}

fn write_u8(port: u16, value: u8) {
    // SAFETY: SMI_CMD, the reset port or the 8042's command port, written
    // only to enable ACPI or to reset the machine.
    unsafe { Port::<u8>::new(port).write(value) }
}

/// Wait a little (the CPU's TSC clock), so a device can act on a write.
fn settle(ms: u64) {
    let until = super::tsc::now_ns() + ms * 1_000_000;
    while super::tsc::now_ns() < until {
        core::hint::spin_loop();
    }
}

/// Enter S5. Returns only if the machine is still on (logged).
pub fn off() {
    let power = power();
    let (Some(pm1a), Some((typ_a, typ_b))) = (power.pm1a_control, power.s5) else {
        log::error!(
            "power off: the ACPI tables give no PM1a_CNT or \\_S5 (pm1a {:?}, s5 {:?})",
            power.pm1a_control,
            power.s5
        );
        return;
    };
    log::warn!("power off: S5 (SLP_TYPa {typ_a}, SLP_TYPb {typ_b}) through PM1a_CNT {pm1a:#x}");
    x86_64::instructions::interrupts::disable();
    if read_u16(pm1a) & SCI_EN == 0 && power.smi_command != 0 {
        write_u8(power.smi_command, power.acpi_enable);
        for _ in 0..300 {
            if read_u16(pm1a) & SCI_EN != 0 {
                break;
            }
            settle(1);
        }
    }
    write_u16(pm1a, ((u16::from(typ_a) & 7) << SLP_TYP_SHIFT) | SLP_EN);
    if let Some(pm1b) = power.pm1b_control {
        write_u16(pm1b, ((u16::from(typ_b) & 7) << SLP_TYP_SHIFT) | SLP_EN);
    }
    settle(1000);
    x86_64::instructions::interrupts::enable();
    log::error!("power off: the machine is still on after S5");
}

/// Reset the machine. Returns only if every way failed (logged).
pub fn reset() {
    log::warn!("reboot: resetting the machine");
    x86_64::instructions::interrupts::disable();
    match power().reset {
        Some(ResetRegister::Port(port, value)) => write_u8(port, value),
        Some(ResetRegister::Memory(address, value)) => {
            let Ok(address) = x86_64::PhysAddr::try_new(address) else {
                log::error!("reboot: reset register {address:#x} is not a physical address");
                return reset_by_8042();
            };
            let register = crate::memory::mmio::map(address, 1);
            // SAFETY: the FADT's reset register, mapped uncached just now;
            // writing its reset value is what it is for.
            unsafe { core::ptr::write_volatile(register.as_mut_ptr::<u8>(), value) };
        }
        None => {}
    }
    settle(100);
    reset_by_8042();
}

/// The 8042's reset line, then a triple fault.
fn reset_by_8042() {
    // The 8042's pulse on the CPU's reset line.
    write_u8(0x64, 0xfe);
    settle(100);
    // A fault with no IDT to take it: a triple fault resets the CPU.
    static EMPTY: x86_64::structures::idt::InterruptDescriptorTable =
        x86_64::structures::idt::InterruptDescriptorTable::new();
    // SAFETY: deliberately loads an IDT whose entries are all absent, then
    // raises an exception: the CPU cannot deliver it and resets.
    unsafe {
        EMPTY.load_unsafe();
        core::arch::asm!("int3");
    }
    log::error!("reboot: the machine did not reset");
}
