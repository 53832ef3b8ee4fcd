//! Several Ethernet frames in one buffer: what a read or a write of
//! `network:N/batch` carries (README "Network card"), so that `netd` and
//! the card's driver pay one scheme call for many frames instead of one
//! each. Each frame is its length as two little-endian bytes, then its
//! bytes; frames follow one another with nothing between them.
//!
//! The driver takes batches from `netd`, and `netd` from the driver:
//! [`frames`] checks every length before anything is used, and a bad
//! batch is refused whole. `no_std`, host-tested, fuzzed by its tests.
//!
//! May touch: nothing (functions on byte slices).

#![no_std]
#![forbid(unsafe_code)]

/// Bytes before each frame: its length.
pub const HEADER: usize = 2;
/// The shortest and longest frame (an Ethernet header; 1500 bytes of
/// payload, no FCS).
pub const MIN_FRAME: usize = 14;
pub const MAX_FRAME: usize = 1514;

/// Append `frame` to the batch in `buf` whose first `at` bytes are used;
/// the new length, or `None` when it does not fit (or is not a frame).
pub fn put(buf: &mut [u8], at: usize, frame: &[u8]) -> Option<usize> {
    if !(MIN_FRAME..=MAX_FRAME).contains(&frame.len()) {
        return None;
    }
    let end = at.checked_add(HEADER + frame.len())?;
    let out = buf.get_mut(at..end)?;
    out[..HEADER].copy_from_slice(&(frame.len() as u16).to_le_bytes());
    out[HEADER..].copy_from_slice(frame);
    Some(end)
}

/// Why a batch is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// A length outside [`MIN_FRAME`]..=[`MAX_FRAME`].
    Length,
    /// The last frame runs past the end (or a lone byte is left).
    Truncated,
    /// No frame at all.
    Empty,
}

/// The frames of `batch`, each a slice of it; `Err` if any is bad.
pub fn frames(batch: &[u8]) -> Result<Frames<'_>, Bad> {
    if batch.is_empty() {
        return Err(Bad::Empty);
    }
    let mut at = 0;
    let mut count = 0;
    while at < batch.len() {
        let header = batch.get(at..at + HEADER).ok_or(Bad::Truncated)?;
        let len = usize::from(u16::from_le_bytes([header[0], header[1]]));
        if !(MIN_FRAME..=MAX_FRAME).contains(&len) {
            return Err(Bad::Length);
        }
        at += HEADER;
        if batch.len() - at < len {
            return Err(Bad::Truncated);
        }
        at += len;
        count += 1;
    }
    Ok(Frames { batch, at: 0, count })
}

/// The frames of a checked batch, in order.
pub struct Frames<'a> {
    batch: &'a [u8],
    at: usize,
    count: usize,
}

impl<'a> Frames<'a> {
    /// How many frames the batch holds.
    pub fn frame_count(&self) -> usize {
        self.count
    }

    /// Where the frame the next call gives starts (the bytes before it
    /// are the frames already given, headers included).
    pub fn offset(&self) -> usize {
        self.at
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let header = self.batch.get(self.at..self.at + HEADER)?;
        let len = usize::from(u16::from_le_bytes([header[0], header[1]]));
        let frame = self.batch.get(self.at + HEADER..self.at + HEADER + len)?;
        self.at += HEADER + len;
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    use super::*;

    #[test]
    fn frames_go_in_and_come_out() {
        let a = [0xaau8; 60];
        let b = [0xbbu8; MAX_FRAME];
        let c = [0xccu8; MIN_FRAME];
        let mut buf = vec![0u8; 4096];
        let mut at = 0;
        for f in [&a[..], &b[..], &c[..]] {
            at = put(&mut buf, at, f).unwrap();
        }
        assert_eq!(at, 3 * HEADER + 60 + MAX_FRAME + MIN_FRAME);
        let got = frames(&buf[..at]).unwrap();
        assert_eq!(got.frame_count(), 3);
        let got: Vec<&[u8]> = got.collect();
        assert_eq!(got, [&a[..], &b[..], &c[..]]);
    }

    #[test]
    fn what_does_not_fit_is_not_put() {
        let mut buf = [0u8; 100];
        assert_eq!(put(&mut buf, 0, &[1u8; 98]), Some(100));
        assert_eq!(put(&mut buf, 0, &[1u8; 99]), None);
        assert_eq!(put(&mut buf, 90, &[1u8; 14]), None);
        assert_eq!(put(&mut buf, usize::MAX, &[1u8; 14]), None);
        assert_eq!(put(&mut buf, 0, &[1u8; 13]), None);
        assert_eq!(put(&mut [0u8; 4096], 0, &[1u8; MAX_FRAME + 1]), None);
    }

    #[test]
    fn bad_batches_are_refused_whole() {
        assert_eq!(frames(&[]).err(), Some(Bad::Empty));
        assert_eq!(frames(&[5, 0, 1, 2, 3, 4, 5]).err(), Some(Bad::Length));
        let mut buf = vec![0u8; 200];
        let at = put(&mut buf, 0, &[7u8; 20]).unwrap();
        assert_eq!(frames(&buf[..at - 1]).err(), Some(Bad::Truncated));
        assert_eq!(frames(&buf[..at + 1]).err(), Some(Bad::Truncated));
        buf[at..at + 2].copy_from_slice(&(MAX_FRAME as u16 + 1).to_le_bytes());
        assert_eq!(frames(&buf[..at + 2 + 20]).err(), Some(Bad::Length));
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift: the same bytes every run.
        let mut state = 0x6261_7463_6866_7a7au64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 300) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Now and then plausible lengths, so some batches pass.
            if len >= 16 && next() % 2 == 0 {
                let n = (len - 2) as u16;
                bytes[..2].copy_from_slice(&n.to_le_bytes());
            }
            if let Ok(frames) = frames(&bytes) {
                let count = frames.frame_count();
                let mut seen = 0;
                for frame in frames {
                    assert!((MIN_FRAME..=MAX_FRAME).contains(&frame.len()));
                    seen += 1;
                }
                assert_eq!(seen, count);
            }
        }
    }
}
