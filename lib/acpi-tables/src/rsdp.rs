//! The RSDP (Root System Description Pointer): the one structure whose
//! physical address the bootloader hands the kernel, pointing at the RSDT
//! and, from ACPI 2.0 on, the XSDT. Touches only the slice passed in.

use crate::Error;
use crate::bytes::{array, checksum_ok, u8_at, u32_at, u64_at};
use crate::sdt::RootTableKind;

/// The RSDP signature, `"RSD PTR "` (note the trailing space).
pub const RSDP_SIGNATURE: &[u8; 8] = b"RSD PTR ";
/// Size of the ACPI 1.0 RSDP, covered by the first checksum.
pub const RSDP_V1_LEN: usize = 20;
/// Size of the ACPI 2.0+ RSDP. Mapping this many bytes is enough for every
/// RSDP in the wild (its `length` field is 36).
pub const RSDP_V2_LEN: usize = 36;

/// A validated RSDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rsdp {
    /// 0 for ACPI 1.0, 2 for ACPI 2.0 and later.
    pub revision: u8,
    /// Firmware vendor, space padded.
    pub oem_id: [u8; 6],
    /// Physical address of the RSDT (32-bit entries).
    pub rsdt_address: u32,
    /// Physical address of the XSDT (64-bit entries): `None` for an ACPI 1.0
    /// RSDP, or when the firmware left the field zero.
    pub xsdt_address: Option<u64>,
}

impl Rsdp {
    /// The root table to walk: the XSDT when there is one (as the spec asks),
    /// otherwise the RSDT. Returns its kind and physical address.
    pub fn root_table(&self) -> (RootTableKind, u64) {
        match self.xsdt_address {
            Some(address) => (RootTableKind::Xsdt, address),
            None => (RootTableKind::Rsdt, u64::from(self.rsdt_address)),
        }
    }
}

/// Parses and validates an RSDP.
///
/// Checks the signature and the ACPI 1.0 checksum over the first 20 bytes;
/// for revision 2 and later also the `length` field (at least 36) and the
/// extended checksum over `length` bytes. Revisions below 2 (1 is undefined
/// but seen in the wild) are read as ACPI 1.0, as ACPICA does. Bytes past the
/// structure are ignored, so the caller may pass a larger mapping.
pub fn parse_rsdp(bytes: &[u8]) -> Result<Rsdp, Error> {
    let v1 = bytes.get(..RSDP_V1_LEN).ok_or(Error::Truncated)?;
    if array(v1, 0) != Some(*RSDP_SIGNATURE) {
        return Err(Error::BadSignature);
    }
    if !checksum_ok(v1) {
        return Err(Error::BadChecksum);
    }
    let (revision, oem_id, rsdt_address) = decode_v1(v1).ok_or(Error::Truncated)?;
    let mut rsdp = Rsdp { revision, oem_id, rsdt_address, xsdt_address: None };
    if revision < 2 {
        return Ok(rsdp);
    }

    let length = u32_at(bytes, 20).ok_or(Error::Truncated)?;
    // A length that does not fit in `usize` cannot fit in the slice either.
    let length = usize::try_from(length).map_err(|_| Error::Truncated)?;
    if length < RSDP_V2_LEN {
        return Err(Error::BadLength);
    }
    let whole = bytes.get(..length).ok_or(Error::Truncated)?;
    if !checksum_ok(whole) {
        return Err(Error::BadChecksum);
    }
    let xsdt_address = u64_at(whole, 24).ok_or(Error::Truncated)?;
    rsdp.xsdt_address = (xsdt_address != 0).then_some(xsdt_address);
    Ok(rsdp)
}

fn decode_v1(v1: &[u8]) -> Option<(u8, [u8; 6], u32)> {
    Some((u8_at(v1, 15)?, array(v1, 9)?, u32_at(v1, 16)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fix_checksum, rsdp_v1, rsdp_v2};

    #[test]
    fn v1() {
        let b = rsdp_v1(0x7fe1_4d2a);
        let r = parse_rsdp(&b).unwrap();
        assert_eq!(r, Rsdp { revision: 0, oem_id: *b"BOCHS ", rsdt_address: 0x7fe1_4d2a, xsdt_address: None });
        assert_eq!(r.root_table(), (RootTableKind::Rsdt, 0x7fe1_4d2a));
    }

    #[test]
    fn v2() {
        let b = rsdp_v2(0x7fe1_4d2a, 0x1_2345_6780);
        let r = parse_rsdp(&b).unwrap();
        assert_eq!(r.revision, 2);
        assert_eq!(r.rsdt_address, 0x7fe1_4d2a);
        assert_eq!(r.xsdt_address, Some(0x1_2345_6780));
        assert_eq!(r.root_table(), (RootTableKind::Xsdt, 0x1_2345_6780));
    }

    #[test]
    fn v2_with_zero_xsdt_falls_back_to_rsdt() {
        let r = parse_rsdp(&rsdp_v2(0x1000, 0)).unwrap();
        assert_eq!(r.xsdt_address, None);
        assert_eq!(r.root_table(), (RootTableKind::Rsdt, 0x1000));
    }

    #[test]
    fn revision_1_reads_as_v1() {
        let mut b = rsdp_v1(0x1000);
        b[15] = 1;
        fix_checksum(&mut b, 8);
        let r = parse_rsdp(&b).unwrap();
        assert_eq!((r.revision, r.xsdt_address), (1, None));
    }

    #[test]
    fn trailing_bytes_ignored() {
        let mut b = rsdp_v1(0x1000);
        b.extend_from_slice(&[0xAB; 100]);
        assert!(parse_rsdp(&b).is_ok());
        let mut b = rsdp_v2(0x1000, 0x2000);
        b.extend_from_slice(&[0xAB; 100]);
        assert_eq!(parse_rsdp(&b).unwrap().xsdt_address, Some(0x2000));
    }

    #[test]
    fn v2_longer_length_is_checksummed_over_length() {
        let mut b = rsdp_v2(0x1000, 0x2000);
        b.extend_from_slice(&[7, 7, 7, 7]);
        b[20..24].copy_from_slice(&40u32.to_le_bytes());
        fix_checksum(&mut b, 32);
        assert!(parse_rsdp(&b).is_ok());
        assert_eq!(parse_rsdp(&b[..36]), Err(Error::Truncated));
        b[37] ^= 1; // inside `length`: the extended checksum must catch it
        assert_eq!(parse_rsdp(&b), Err(Error::BadChecksum));
    }

    #[test]
    fn bad_signature() {
        let mut b = rsdp_v1(0x1000);
        b[7] = b'_';
        fix_checksum(&mut b, 8);
        assert_eq!(parse_rsdp(&b), Err(Error::BadSignature));
    }

    #[test]
    fn bad_checksum_v1() {
        let mut b = rsdp_v1(0x1000);
        b[16] ^= 0x10;
        assert_eq!(parse_rsdp(&b), Err(Error::BadChecksum));
        let mut b = rsdp_v2(0x1000, 0x2000);
        b[8] = b[8].wrapping_add(1);
        assert_eq!(parse_rsdp(&b), Err(Error::BadChecksum));
    }

    #[test]
    fn bad_extended_checksum() {
        let mut b = rsdp_v2(0x1000, 0x2000);
        b[25] ^= 0x01; // in the XSDT address: v1 checksum still fine
        assert_eq!(parse_rsdp(&b), Err(Error::BadChecksum));
    }

    #[test]
    fn v2_length_too_small() {
        let mut b = rsdp_v2(0x1000, 0x2000);
        b[20..24].copy_from_slice(&20u32.to_le_bytes());
        fix_checksum(&mut b, 32);
        assert_eq!(parse_rsdp(&b), Err(Error::BadLength));
    }

    #[test]
    fn v2_length_huge() {
        let mut b = rsdp_v2(0x1000, 0x2000);
        b[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        fix_checksum(&mut b, 32);
        assert_eq!(parse_rsdp(&b), Err(Error::Truncated));
    }

    #[test]
    fn truncated_at_every_length() {
        let b = rsdp_v1(0x1000);
        for n in 0..b.len() {
            assert_eq!(parse_rsdp(&b[..n]), Err(Error::Truncated), "v1 len {n}");
        }
        let b = rsdp_v2(0x1000, 0x2000);
        for n in 0..b.len() {
            assert_eq!(parse_rsdp(&b[..n]), Err(Error::Truncated), "v2 len {n}");
        }
    }
}
