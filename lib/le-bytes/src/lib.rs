//! Bounds-checked little-endian reads from untrusted byte slices, for the
//! parsers of on-disk and firmware formats (ACPI tables, the initfs image),
//! and the partial words at the end of a buffer moved a word at a time
//! (the frame rings, the Internet checksum).
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

/// The first bytes (at most 8) of a word: `bytes` at its start, zeros
/// after. Copied in pieces of fixed size (4, 2, 1): moves, where a copy of
/// a length known only at run time is a call to `memcpy`. For the last
/// bytes of a buffer moved or summed a word at a time.
#[inline]
pub fn padded_word(bytes: &[u8]) -> [u8; 8] {
    let bytes = &bytes[..bytes.len().min(8)];
    if let Ok(whole) = <[u8; 8]>::try_from(bytes) {
        return whole;
    }
    let mut word = [0u8; 8];
    let mut at = 0;
    if bytes.len() >= at + 4 {
        word[at..at + 4].copy_from_slice(&bytes[at..at + 4]);
        at += 4;
    }
    if bytes.len() >= at + 2 {
        word[at..at + 2].copy_from_slice(&bytes[at..at + 2]);
        at += 2;
    }
    if let Some(&byte) = bytes.get(at) {
        word[at] = byte;
    }
    word
}

/// The first `out.len()` (at most 8) bytes of `word` into `out`, in the
/// same pieces as [`padded_word`].
#[inline]
pub fn store_partial(out: &mut [u8], word: [u8; 8]) {
    let len = out.len().min(8);
    if len == 8 {
        out[..8].copy_from_slice(&word);
        return;
    }
    let mut at = 0;
    if len >= at + 4 {
        out[at..at + 4].copy_from_slice(&word[at..at + 4]);
        at += 4;
    }
    if len >= at + 2 {
        out[at..at + 2].copy_from_slice(&word[at..at + 2]);
        at += 2;
    }
    if len > at {
        out[at] = word[at];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_words() {
        let bytes = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        for len in 0..=9 {
            let word = padded_word(&bytes[..len]);
            let n = len.min(8);
            assert_eq!(word[..n], bytes[..n]);
            assert!(word[n..].iter().all(|&b| b == 0), "{len}");
            let mut out = [0xeeu8; 9];
            store_partial(&mut out[..len], [1, 2, 3, 4, 5, 6, 7, 8]);
            assert_eq!(out[..n], bytes[..n]);
            assert!(out[n..].iter().all(|&b| b == 0xee), "{len}");
        }
    }

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
