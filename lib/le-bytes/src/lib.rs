//! Bounds-checked little-endian reads from untrusted byte slices, for the
//! parsers of on-disk and firmware formats (ACPI tables, the initfs image).
//! Touches only the slice passed in; every read returns `None` rather than
//! panicking when it would go out of range.

#![no_std]
#![forbid(unsafe_code)]

/// `N` bytes at `offset`, or `None` if they are not all inside `bytes`.
pub fn array<const N: usize>(bytes: &[u8], offset: usize) -> Option<[u8; N]> {
    bytes.get(offset..)?.first_chunk::<N>().copied()
}

pub fn u8_at(bytes: &[u8], offset: usize) -> Option<u8> {
    bytes.get(offset).copied()
}

pub fn u16_at(bytes: &[u8], offset: usize) -> Option<u16> {
    array(bytes, offset).map(u16::from_le_bytes)
}

pub fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    array(bytes, offset).map(u32::from_le_bytes)
}

pub fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    array(bytes, offset).map(u64::from_le_bytes)
}

/// `len` bytes at `offset` (both from the image, so untrusted), or `None` if
/// they do not fit inside `bytes` or do not fit in a `usize`.
pub fn range(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let len = usize::try_from(len).ok()?;
    let end = start.checked_add(len)?;
    bytes.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_little_endian_and_bounded() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u8_at(&b, 8), Some(9));
        assert_eq!(u8_at(&b, 9), None);
        assert_eq!(u16_at(&b, 0), Some(0x0201));
        assert_eq!(u16_at(&b, 8), None);
        assert_eq!(u32_at(&b, 5), Some(0x0908_0706));
        assert_eq!(u32_at(&b, 6), None);
        assert_eq!(u64_at(&b, 1), Some(0x0908_0706_0504_0302));
        assert_eq!(u64_at(&b, 2), None);
        assert_eq!(u64_at(&b, usize::MAX), None);
        assert_eq!(array::<0>(&b, 9), Some([]));
        assert_eq!(array::<0>(&b, 10), None);
    }

    #[test]
    fn ranges_are_bounded() {
        let b = [1, 2, 3, 4];
        assert_eq!(range(&b, 0, 4), Some(&b[..]));
        assert_eq!(range(&b, 4, 0), Some(&[][..]));
        assert_eq!(range(&b, 1, 2), Some(&b[1..3]));
        assert_eq!(range(&b, 3, 2), None);
        assert_eq!(range(&b, 5, 0), None);
        assert_eq!(range(&b, u64::MAX, 1), None);
        assert_eq!(range(&b, 1, u64::MAX), None);
    }
}
