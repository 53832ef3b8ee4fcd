//! ACPI table parsing: the CPUs, I/O APICs and interrupt overrides the kernel
//! needs to bring up SMP and route IRQs, read from the firmware's RSDP,
//! RSDT/XSDT and MADT; the PCI Express configuration windows (MCFG); and
//! how to power off and reset (FADT, and `\_S5` in the DSDT).
//!
//! What it may touch: only the byte slices it is handed. It maps nothing,
//! dereferences no physical address, allocates nothing and contains no
//! `unsafe`. The kernel maps a physical range and passes a `&[u8]`; every
//! offset and length read out of those bytes is bounds-checked, so corrupt or
//! truncated firmware tables give an [`Error`], never a panic. (Outside tests
//! the crate denies indexing, slicing, unchecked arithmetic and `unwrap` to
//! keep it that way.)
//!
//! The kernel's walk:
//! 1. map [`RSDP_V2_LEN`] bytes at the RSDP address from the bootloader,
//!    [`parse_rsdp`], then [`Rsdp::root_table`] for the XSDT (or RSDT);
//! 2. map [`SDT_HEADER_LEN`] bytes of the root table, [`parse_sdt_header`] to
//!    learn its length, map that much, [`root_table_entries`];
//! 3. for each entry, map its header and look for [`MADT_SIGNATURE`]; map the
//!    whole MADT and [`parse_madt`]; walk [`Madt::entries`] and use
//!    [`Madt::isa_irq_to_gsi`] for legacy IRQs;
//! 4. likewise [`parse_mcfg`] for the ECAM windows, and [`parse_fadt`] then
//!    [`find_s5`] on the table at [`Fadt::dsdt`] for poweroff.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

#[cfg(test)]
extern crate std;

mod bytes;
mod fadt;
mod madt;
mod mcfg;
mod rsdp;
mod sdt;
mod sleep;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod testutil;

pub use fadt::{AddressSpace, FADT_SIGNATURE, Fadt, GenericAddress, parse_fadt};
pub use madt::{IsaRoute, MADT_SIGNATURE, Madt, MadtEntries, MadtEntry, Polarity, Trigger, parse_madt};
pub use mcfg::{EcamRegion, MCFG_SIGNATURE, Mcfg, McfgEntries, parse_mcfg};
pub use rsdp::{RSDP_SIGNATURE, RSDP_V1_LEN, RSDP_V2_LEN, Rsdp, parse_rsdp};
pub use sdt::{
    RSDT_SIGNATURE, RootTableEntries, RootTableKind, SDT_HEADER_LEN, SdtHeader, XSDT_SIGNATURE, parse_sdt_header,
    root_table_entries, validate_sdt,
};
pub use sleep::{DSDT_SIGNATURE, SleepState, find_s5};

/// Why a table was rejected.
///
/// `Truncated` means the slice handed in is shorter than the data says it
/// needs (map more, or the mapping is wrong); `BadLength` means a length field
/// inside the data is itself inconsistent (corrupt firmware).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The slice ends before the structure (or its declared length) does.
    Truncated,
    /// The signature is not the one expected.
    BadSignature,
    /// The bytes do not sum to zero.
    BadChecksum,
    /// A length field is too small, not a whole number of entries, or runs
    /// past the end of its table.
    BadLength,
    /// The object looked for is not in the table.
    NotFound,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::Truncated => "ACPI table truncated",
            Error::BadSignature => "ACPI table has the wrong signature",
            Error::BadChecksum => "ACPI table checksum mismatch",
            Error::BadLength => "ACPI table has an invalid length field",
            Error::NotFound => "ACPI object not found",
        })
    }
}
