//! The MCFG (PCI Express memory-mapped configuration, signature `"MCFG"`):
//! where each PCI segment's ECAM window lives, so PCI configuration space,
//! including the extended 4 KiB per function that MSI-X and virtio
//! capabilities may sit in, can be read as memory. Touches only the slice
//! passed in.

use core::iter::FusedIterator;

use crate::Error;
use crate::bytes::{u8_at, u16_at, u64_at};
use crate::sdt::validated;

/// Signature of the MCFG.
pub const MCFG_SIGNATURE: &[u8; 4] = b"MCFG";

/// Bytes reserved between the header and the first allocation entry.
const RESERVED: usize = 8;
/// Size of one allocation entry.
const ENTRY_LEN: usize = 16;

/// A validated MCFG.
#[derive(Debug, Clone, Copy)]
pub struct Mcfg<'a> {
    entries: &'a [u8],
}

/// One ECAM window: configuration space of buses `start_bus..=end_bus` of
/// PCI segment `segment`, 1 MiB per bus, starting at `base` (the address
/// bus 0 would have, even when `start_bus` is not 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcamRegion {
    /// Physical address of bus 0's configuration space in this window.
    pub base: u64,
    /// PCI segment group.
    pub segment: u16,
    /// First bus decoded.
    pub start_bus: u8,
    /// Last bus decoded.
    pub end_bus: u8,
}

impl EcamRegion {
    /// Physical address of the 4 KiB configuration space of
    /// `bus:device.function`, if this window decodes that bus and the
    /// device (0-31) and function (0-7) are in range.
    pub fn function_address(&self, bus: u8, device: u8, function: u8) -> Option<u64> {
        if !(self.start_bus..=self.end_bus).contains(&bus) || device > 31 || function > 7 {
            return None;
        }
        let offset = (u64::from(bus) << 20) | (u64::from(device) << 15) | (u64::from(function) << 12);
        self.base.checked_add(offset)
    }
}

/// Parses a whole MCFG: validates it as an SDT with signature
/// [`MCFG_SIGNATURE`] and checks the entries fill the rest of the table
/// exactly (else [`Error::BadLength`]). Each entry is checked as
/// [`Mcfg::entries`] walks it.
pub fn parse_mcfg(table: &[u8]) -> Result<Mcfg<'_>, Error> {
    let (_, body) = validated(table, MCFG_SIGNATURE)?;
    let entries = body.get(RESERVED..).ok_or(Error::BadLength)?;
    if !entries.len().is_multiple_of(ENTRY_LEN) {
        return Err(Error::BadLength);
    }
    Ok(Mcfg { entries })
}

impl<'a> Mcfg<'a> {
    /// The ECAM windows in table order. An entry whose end bus is below its
    /// start bus is an `Err(Error::BadLength)`; the walk goes on after it.
    pub fn entries(&self) -> McfgEntries<'a> {
        McfgEntries { rest: self.entries }
    }
}

/// Iterator over an MCFG's windows; see [`Mcfg::entries`].
#[derive(Debug, Clone)]
pub struct McfgEntries<'a> {
    rest: &'a [u8],
}

impl Iterator for McfgEntries<'_> {
    type Item = Result<EcamRegion, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let (entry, rest) = self.rest.split_first_chunk::<ENTRY_LEN>()?;
        self.rest = rest;
        Some(decode(entry).ok_or(Error::BadLength))
    }
}

impl FusedIterator for McfgEntries<'_> {}

fn decode(e: &[u8; ENTRY_LEN]) -> Option<EcamRegion> {
    let region =
        EcamRegion { base: u64_at(e, 0)?, segment: u16_at(e, 8)?, start_bus: u8_at(e, 10)?, end_bus: u8_at(e, 11)? };
    (region.start_bus <= region.end_bus).then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fix_checksum, mcfg};
    use std::vec::Vec;

    #[test]
    fn qemu_q35_window() {
        let t = mcfg(&[(0xb000_0000, 0, 0, 0xff)]);
        let regions: Vec<_> = parse_mcfg(&t).unwrap().entries().collect();
        let r = EcamRegion { base: 0xb000_0000, segment: 0, start_bus: 0, end_bus: 0xff };
        assert_eq!(regions, [Ok(r)]);
        assert_eq!(r.function_address(0, 3, 0), Some(0xb001_8000));
        assert_eq!(r.function_address(1, 0, 1), Some(0xb010_1000));
        assert_eq!(r.function_address(0, 32, 0), None);
        assert_eq!(r.function_address(0, 0, 8), None);
    }

    #[test]
    fn several_windows_and_a_bad_one() {
        let t = mcfg(&[(0x1000_0000, 0, 0, 7), (0x2000_0000, 1, 9, 3), (0x3000_0000, 1, 16, 31)]);
        let regions: Vec<_> = parse_mcfg(&t).unwrap().entries().collect();
        assert_eq!(regions.len(), 3);
        assert_eq!(regions[1], Err(Error::BadLength));
        let r = regions[2].unwrap();
        assert_eq!(r.function_address(15, 0, 0), None);
        assert_eq!(r.function_address(16, 0, 0), Some(0x3000_0000 + (16 << 20)));
    }

    #[test]
    fn bad_tables() {
        let mut t = mcfg(&[(0xb000_0000, 0, 0, 0xff)]);
        t.push(0);
        t[4] += 1;
        fix_checksum(&mut t, 9);
        assert_eq!(parse_mcfg(&t).err(), Some(Error::BadLength));
        let t = mcfg(&[]);
        assert_eq!(parse_mcfg(&t).unwrap().entries().count(), 0);
        assert_eq!(parse_mcfg(&t[..t.len() - 1]).err(), Some(Error::Truncated));
        let base = EcamRegion { base: u64::MAX, segment: 0, start_bus: 0, end_bus: 1 };
        assert_eq!(base.function_address(1, 0, 0), None);
    }
}
