//! The common 36-byte header of every System Description Table, full-table
//! validation (signature, length, checksum), and the RSDT/XSDT that list the
//! physical addresses of all other tables. Touches only the slice passed in.

use core::iter::FusedIterator;

use crate::Error;
use crate::bytes::{array, checksum_ok, u8_at, u32_at};

/// Size of the header every SDT starts with. Map this much first to learn the
/// table's length.
pub const SDT_HEADER_LEN: usize = 36;
/// Signature of the RSDT (32-bit entries).
pub const RSDT_SIGNATURE: &[u8; 4] = b"RSDT";
/// Signature of the XSDT (64-bit entries).
pub const XSDT_SIGNATURE: &[u8; 4] = b"XSDT";

/// The common header of a System Description Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdtHeader {
    /// Table signature, e.g. `*b"APIC"` for the MADT.
    pub signature: [u8; 4],
    /// Length of the whole table in bytes, header included (at least 36).
    pub length: u32,
    /// Revision of the table's layout.
    pub revision: u8,
    /// The checksum byte (the whole table sums to zero).
    pub checksum: u8,
    /// Firmware vendor, space padded.
    pub oem_id: [u8; 6],
    /// Vendor's name for this table.
    pub oem_table_id: [u8; 8],
    /// Vendor's revision of this table.
    pub oem_revision: u32,
    /// Vendor ID of the tool that built the table (the ASL compiler).
    pub creator_id: [u8; 4],
    /// Revision of that tool.
    pub creator_revision: u32,
}

/// Parses the header alone: what the kernel reads from a 36-byte mapping to
/// learn a table's signature and length.
///
/// Checks only that `length` is at least [`SDT_HEADER_LEN`] (else
/// [`Error::BadLength`]); signature and checksum are checked by
/// [`validate_sdt`] once the whole table is mapped. The length is firmware
/// data: the kernel should bound it before mapping that much.
pub fn parse_sdt_header(bytes: &[u8]) -> Result<SdtHeader, Error> {
    let header = decode_header(bytes).ok_or(Error::Truncated)?;
    if header.length < SDT_HEADER_LEN as u32 {
        return Err(Error::BadLength);
    }
    Ok(header)
}

/// Validates a whole table: the header parses, the signature is `signature`,
/// `length` bytes are present (else [`Error::Truncated`]) and they sum to
/// zero. Bytes past `length` are ignored.
pub fn validate_sdt(bytes: &[u8], signature: &[u8; 4]) -> Result<SdtHeader, Error> {
    validated(bytes, signature).map(|(header, _)| header)
}

/// [`validate_sdt`], also returning the table's body: the bytes after the
/// header, up to `length`.
pub(crate) fn validated<'a>(bytes: &'a [u8], signature: &[u8; 4]) -> Result<(SdtHeader, &'a [u8]), Error> {
    let header = parse_sdt_header(bytes)?;
    if header.signature != *signature {
        return Err(Error::BadSignature);
    }
    // A length that does not fit in `usize` cannot fit in the slice either.
    let length = usize::try_from(header.length).map_err(|_| Error::Truncated)?;
    let table = bytes.get(..length).ok_or(Error::Truncated)?;
    if !checksum_ok(table) {
        return Err(Error::BadChecksum);
    }
    let body = table.get(SDT_HEADER_LEN..).ok_or(Error::BadLength)?;
    Ok((header, body))
}

fn decode_header(h: &[u8]) -> Option<SdtHeader> {
    Some(SdtHeader {
        signature: array(h, 0)?,
        length: u32_at(h, 4)?,
        revision: u8_at(h, 8)?,
        checksum: u8_at(h, 9)?,
        oem_id: array(h, 10)?,
        oem_table_id: array(h, 16)?,
        oem_revision: u32_at(h, 24)?,
        creator_id: array(h, 28)?,
        creator_revision: u32_at(h, 32)?,
    })
}

/// Which root table: they differ only in signature and entry size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootTableKind {
    /// ACPI 1.0 root table, 4-byte entries.
    Rsdt,
    /// ACPI 2.0+ root table, 8-byte entries.
    Xsdt,
}

impl RootTableKind {
    /// The table's signature.
    pub const fn signature(self) -> &'static [u8; 4] {
        match self {
            RootTableKind::Rsdt => RSDT_SIGNATURE,
            RootTableKind::Xsdt => XSDT_SIGNATURE,
        }
    }

    /// Size of one entry (a physical address) in bytes.
    pub const fn entry_size(self) -> usize {
        match self {
            RootTableKind::Rsdt => 4,
            RootTableKind::Xsdt => 8,
        }
    }
}

/// Validates an RSDT or XSDT (see [`validate_sdt`]) and iterates over its
/// entries: the physical addresses of the other tables. A body that is not a
/// whole number of entries is [`Error::BadLength`]. Entries are yielded as
/// found; the kernel should skip a zero address.
pub fn root_table_entries(table: &[u8], kind: RootTableKind) -> Result<RootTableEntries<'_>, Error> {
    let (_, body) = validated(table, kind.signature())?;
    if !body.len().is_multiple_of(kind.entry_size()) {
        return Err(Error::BadLength);
    }
    Ok(RootTableEntries { rest: body, kind })
}

/// Iterator over the physical addresses listed in an RSDT or XSDT; see
/// [`root_table_entries`].
#[derive(Debug, Clone)]
pub struct RootTableEntries<'a> {
    rest: &'a [u8],
    kind: RootTableKind,
}

impl Iterator for RootTableEntries<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        match self.kind {
            RootTableKind::Rsdt => {
                let (entry, rest) = self.rest.split_first_chunk::<4>()?;
                self.rest = rest;
                Some(u64::from(u32::from_le_bytes(*entry)))
            }
            RootTableKind::Xsdt => {
                let (entry, rest) = self.rest.split_first_chunk::<8>()?;
                self.rest = rest;
                Some(u64::from_le_bytes(*entry))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len().checked_div(self.kind.entry_size()).unwrap_or(0);
        (n, Some(n))
    }
}

impl ExactSizeIterator for RootTableEntries<'_> {}
impl FusedIterator for RootTableEntries<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fix_checksum, rsdt, sdt, xsdt};
    use std::vec::Vec;

    #[test]
    fn header_fields() {
        let t = sdt(b"FACP", &[0u8; 8]);
        let h = parse_sdt_header(&t[..SDT_HEADER_LEN]).unwrap();
        assert_eq!(h.signature, *b"FACP");
        assert_eq!(h.length, 44);
        assert_eq!(h.revision, 1);
        assert_eq!(h.oem_id, *b"BOCHS ");
        assert_eq!(h.oem_table_id, *b"BXPC    ");
        assert_eq!(h.oem_revision, 1);
        assert_eq!(h.creator_id, *b"BXPC");
        assert_eq!(h.creator_revision, 1);
        assert_eq!(validate_sdt(&t, b"FACP"), Ok(h));
    }

    #[test]
    fn header_length_too_small() {
        let mut t = sdt(b"FACP", &[]);
        t[4..8].copy_from_slice(&35u32.to_le_bytes());
        fix_checksum(&mut t, 9);
        assert_eq!(parse_sdt_header(&t), Err(Error::BadLength));
        assert_eq!(validate_sdt(&t, b"FACP"), Err(Error::BadLength));
    }

    #[test]
    fn header_only_table_is_valid() {
        let t = sdt(b"SSDT", &[]);
        assert_eq!(validate_sdt(&t, b"SSDT").unwrap().length, 36);
    }

    #[test]
    fn validate_rejects_wrong_signature() {
        let t = sdt(b"FACP", &[1, 2, 3]);
        assert_eq!(validate_sdt(&t, b"APIC"), Err(Error::BadSignature));
    }

    #[test]
    fn validate_rejects_bad_checksum() {
        let mut t = sdt(b"FACP", &[1, 2, 3]);
        t[37] ^= 0x40;
        assert_eq!(validate_sdt(&t, b"FACP"), Err(Error::BadChecksum));
    }

    #[test]
    fn validate_wants_length_bytes_and_ignores_the_rest() {
        let t = sdt(b"FACP", &[1, 2, 3]);
        assert_eq!(validate_sdt(&t[..38], b"FACP"), Err(Error::Truncated));
        let mut longer = t.clone();
        longer.extend_from_slice(&[0xEE; 9]);
        assert!(validate_sdt(&longer, b"FACP").is_ok());
        let mut huge = t;
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(validate_sdt(&huge, b"FACP"), Err(Error::Truncated));
    }

    #[test]
    fn truncated_at_every_length() {
        let t = sdt(b"FACP", &[9; 20]);
        for n in 0..t.len() {
            let expect = if n < SDT_HEADER_LEN { Err(Error::Truncated) } else { Ok(*b"FACP") };
            assert_eq!(parse_sdt_header(&t[..n]).map(|h| h.signature), expect);
            assert_eq!(validate_sdt(&t[..n], b"FACP"), Err(Error::Truncated));
        }
        assert!(validate_sdt(&t, b"FACP").is_ok());
    }

    #[test]
    fn rsdt_entries() {
        let t = rsdt(&[0x7fe1_4000, 0x7fe1_5000, 0xffff_ffff]);
        let e = root_table_entries(&t, RootTableKind::Rsdt).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e.collect::<Vec<_>>(), [0x7fe1_4000, 0x7fe1_5000, 0xffff_ffff]);
    }

    #[test]
    fn xsdt_entries() {
        let t = xsdt(&[0x7fe1_4000, 0xdead_beef_0000_1000]);
        let mut e = root_table_entries(&t, RootTableKind::Xsdt).unwrap();
        assert_eq!(e.size_hint(), (2, Some(2)));
        assert_eq!(e.next(), Some(0x7fe1_4000));
        assert_eq!(e.next(), Some(0xdead_beef_0000_1000));
        assert_eq!(e.next(), None);
        assert_eq!(e.next(), None);
    }

    #[test]
    fn empty_root_table() {
        let t = xsdt(&[]);
        assert_eq!(root_table_entries(&t, RootTableKind::Xsdt).unwrap().count(), 0);
    }

    #[test]
    fn root_table_kind_must_match_signature() {
        let t = rsdt(&[1, 2]);
        assert_eq!(root_table_entries(&t, RootTableKind::Xsdt).err(), Some(Error::BadSignature));
    }

    #[test]
    fn root_table_partial_entry() {
        let t = sdt(b"RSDT", &[0; 6]);
        assert_eq!(root_table_entries(&t, RootTableKind::Rsdt).err(), Some(Error::BadLength));
        let t = sdt(b"XSDT", &[0; 12]);
        assert_eq!(root_table_entries(&t, RootTableKind::Xsdt).err(), Some(Error::BadLength));
        // 12 bytes is three whole RSDT entries, though.
        let t = sdt(b"RSDT", &[0; 12]);
        assert_eq!(root_table_entries(&t, RootTableKind::Rsdt).unwrap().len(), 3);
    }

    #[test]
    fn root_table_truncated_at_every_length() {
        let t = xsdt(&[0x1000, 0x2000, 0x3000]);
        for n in 0..t.len() {
            assert!(root_table_entries(&t[..n], RootTableKind::Xsdt).is_err());
        }
    }
}
