//! The ACPI checksum, and the bounds-checked little-endian reads (from
//! `le_bytes`) the parsers use. Touches only the slices passed in.

pub(crate) use le_bytes::{array, u8_at, u16_at, u32_at, u64_at};

/// ACPI checksums: all bytes of the structure sum to zero modulo 256.
pub(crate) fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum() {
        assert!(checksum_ok(&[]));
        assert!(checksum_ok(&[0x80, 0x80]));
        assert!(!checksum_ok(&[1]));
    }
}
