//! The FADT (Fixed ACPI Description Table, signature `"FACP"`): where the
//! DSDT is, and the fixed hardware the kernel drives itself to power off
//! (the PM1 control blocks, the SMI command that hands ACPI to the OS) and
//! to reset (the reset register). Only those fields are decoded. Touches
//! only the slice passed in.

use crate::Error;
use crate::bytes::{u8_at, u32_at, u64_at};
use crate::sdt::validated;

/// Signature of the FADT.
pub const FADT_SIGNATURE: &[u8; 4] = b"FACP";

// Offsets from the start of the table (ACPI 6.5, table 5.9).
const DSDT: usize = 40;
const SMI_CMD: usize = 48;
const ACPI_ENABLE: usize = 52;
const PM1A_CNT_BLK: usize = 64;
const PM1B_CNT_BLK: usize = 68;
const FLAGS: usize = 112;
const RESET_REG: usize = 116;
const RESET_VALUE: usize = 128;
const X_DSDT: usize = 140;
const X_PM1A_CNT_BLK: usize = 172;
const X_PM1B_CNT_BLK: usize = 184;
/// Size of a Generic Address Structure.
const GAS_LEN: usize = 12;
/// FADT flags bit 10: the reset register is supported.
const RESET_REG_SUP: u32 = 1 << 10;

/// Which address space a [`GenericAddress`] is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSpace {
    /// Physical memory.
    SystemMemory,
    /// x86 I/O ports.
    SystemIo,
    /// PCI configuration space (segment 0; device, function and offset
    /// packed in the address).
    PciConfig,
    /// Any other space (embedded controller, SMBus, functional fixed
    /// hardware, ...), by its ACPI number.
    Other(u8),
}

impl From<u8> for AddressSpace {
    fn from(id: u8) -> Self {
        match id {
            0 => AddressSpace::SystemMemory,
            1 => AddressSpace::SystemIo,
            2 => AddressSpace::PciConfig,
            other => AddressSpace::Other(other),
        }
    }
}

/// An ACPI Generic Address Structure, reduced to what the kernel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenericAddress {
    /// The space `address` is in.
    pub space: AddressSpace,
    /// Register width in bits (0 when the table does not say).
    pub bit_width: u8,
    /// The register's address.
    pub address: u64,
}

fn generic_address(t: &[u8], offset: usize) -> Option<GenericAddress> {
    let space = AddressSpace::from(u8_at(t, offset)?);
    let bit_width = u8_at(t, offset.checked_add(1)?)?;
    let address = u64_at(t, offset.checked_add(4)?)?;
    Some(GenericAddress { space, bit_width, address })
}

/// The fields of a validated FADT the kernel uses. Fields a short (older
/// revision) table lacks are read as absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fadt {
    /// The I/O port that takes [`Fadt::acpi_enable`] to switch the chipset
    /// from firmware (SMM) to OS control of power management; 0 if the
    /// system is always in ACPI mode.
    pub smi_command: u32,
    /// The value to write to [`Fadt::smi_command`].
    pub acpi_enable: u8,
    dsdt32: u32,
    dsdt64: Option<u64>,
    pm1a_port: u32,
    pm1b_port: u32,
    x_pm1a: Option<GenericAddress>,
    x_pm1b: Option<GenericAddress>,
    reset: Option<(GenericAddress, u8)>,
}

/// Parses a whole FADT: validates it as an SDT with signature
/// [`FADT_SIGNATURE`]. A table too short for the ACPI 1.0 fields up to
/// `PM1b_CNT_BLK` is [`Error::BadLength`]; later fields are optional.
pub fn parse_fadt(table: &[u8]) -> Result<Fadt, Error> {
    let (header, _) = validated(table, FADT_SIGNATURE)?;
    let length = usize::try_from(header.length).map_err(|_| Error::BadLength)?;
    let t = table.get(..length).ok_or(Error::Truncated)?;
    let need = |offset| u32_at(t, offset).ok_or(Error::BadLength);
    let gas = |offset: usize| {
        generic_address(t, offset)
            .filter(|g| g.address != 0 && offset.checked_add(GAS_LEN).is_some_and(|end| end <= length))
    };
    let flags = u32_at(t, FLAGS).unwrap_or(0);
    let reset =
        if flags & RESET_REG_SUP != 0 { gas(RESET_REG).and_then(|g| Some((g, u8_at(t, RESET_VALUE)?))) } else { None };
    Ok(Fadt {
        smi_command: need(SMI_CMD)?,
        acpi_enable: u8_at(t, ACPI_ENABLE).ok_or(Error::BadLength)?,
        dsdt32: need(DSDT)?,
        dsdt64: u64_at(t, X_DSDT).filter(|&a| a != 0),
        pm1a_port: need(PM1A_CNT_BLK)?,
        pm1b_port: need(PM1B_CNT_BLK)?,
        x_pm1a: gas(X_PM1A_CNT_BLK),
        x_pm1b: gas(X_PM1B_CNT_BLK),
        reset,
    })
}

impl Fadt {
    /// Physical address of the DSDT: `X_DSDT` when set, else `DSDT`.
    pub fn dsdt(&self) -> u64 {
        self.dsdt64.unwrap_or(u64::from(self.dsdt32))
    }

    /// The PM1a control register, where `SLP_TYP | SLP_EN` enters a sleep
    /// state: `X_PM1a_CNT_BLK` when set, else the `PM1a_CNT_BLK` port.
    pub fn pm1a_control(&self) -> Option<GenericAddress> {
        self.x_pm1a.or_else(|| legacy_port(self.pm1a_port))
    }

    /// The PM1b control register, if the chipset has a second one.
    pub fn pm1b_control(&self) -> Option<GenericAddress> {
        self.x_pm1b.or_else(|| legacy_port(self.pm1b_port))
    }

    /// The reset register and the value that resets the machine, if the
    /// FADT says the register is supported.
    pub fn reset(&self) -> Option<(GenericAddress, u8)> {
        self.reset
    }
}

fn legacy_port(port: u32) -> Option<GenericAddress> {
    (port != 0).then_some(GenericAddress { space: AddressSpace::SystemIo, bit_width: 16, address: u64::from(port) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fadt_v1, qemu_fadt, sdt};

    #[test]
    fn qemu_q35() {
        let f = parse_fadt(&qemu_fadt(0x7fe0_0000)).unwrap();
        assert_eq!(f.dsdt(), 0x7fe0_0000);
        assert_eq!(f.smi_command, 0xb2);
        assert_eq!(f.acpi_enable, 0xf1);
        let io = |address| Some(GenericAddress { space: AddressSpace::SystemIo, bit_width: 16, address });
        assert_eq!(f.pm1a_control(), io(0x604));
        assert_eq!(f.pm1b_control(), None);
        let reset = GenericAddress { space: AddressSpace::SystemIo, bit_width: 8, address: 0xcf9 };
        assert_eq!(f.reset(), Some((reset, 6)));
    }

    #[test]
    fn acpi_1_table_has_no_reset_and_legacy_blocks() {
        let f = parse_fadt(&fadt_v1(0x1234_5000, 0x404)).unwrap();
        assert_eq!(f.dsdt(), 0x1234_5000);
        assert_eq!(f.pm1a_control().map(|g| g.address), Some(0x404));
        assert_eq!(f.reset(), None);
    }

    #[test]
    fn too_short() {
        assert_eq!(parse_fadt(&sdt(b"FACP", &[0; 20])), Err(Error::BadLength));
        assert_eq!(parse_fadt(&sdt(b"APIC", &[0; 200])), Err(Error::BadSignature));
    }

    #[test]
    fn reset_needs_its_flag() {
        let mut t = qemu_fadt(0x1000);
        t[FLAGS + 1] &= !((RESET_REG_SUP >> 8) as u8);
        crate::testutil::fix_checksum(&mut t, 9);
        assert_eq!(parse_fadt(&t).unwrap().reset(), None);
    }
}
