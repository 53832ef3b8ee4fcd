//! A fixed-capacity ring of whole text lines, for the kernel's log (read
//! back through `sys:log`).
//!
//! Every byte ever appended has a sequence number: its offset in the
//! endless stream of everything logged since boot. The ring holds the
//! newest bytes that fit, and what it holds always starts at the beginning
//! of a line: when a new line needs room, the oldest *whole* lines go, never
//! part of one. A reader keeps the offset it has read up to;
//! [`LogRing::read`] copies from there and says how many bytes were dropped
//! before the reader came back for them.
//!
//! No allocation and no `unsafe`: the kernel keeps one ring in a static and
//! fills it from its logger, which may run in interrupt context.
//! [`LineBuf`] formats a line on the stack first, so whoever guards the ring
//! holds its lock only for a copy.

#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

use core::fmt;

/// A ring of `N` bytes holding the newest whole lines appended to it.
///
/// Invariants: `head <= tail`, `tail - head <= N`, the bytes held are
/// `bytes[s % N]` for `s` in `head..tail`, `head` is the start of a line,
/// and every line held ends with `\n`.
pub struct LogRing<const N: usize> {
    bytes: [u8; N],
    /// Offset of the oldest byte held.
    head: u64,
    /// Offset one past the newest byte held: every byte ever appended.
    tail: u64,
    /// Lines dropped to make room so far.
    dropped_lines: u64,
}

/// What [`LogRing::read`] copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// Offset of the first byte copied (the one asked for, unless it was
    /// dropped already or lies beyond the end).
    pub start: u64,
    /// Bytes copied.
    pub len: usize,
    /// Bytes between the offset asked for and `start` that were dropped
    /// before this read: what the reader missed.
    pub missed: u64,
}

impl Read {
    /// Where the next read should start.
    pub fn next(&self) -> u64 {
        self.start + self.len as u64
    }
}

impl<const N: usize> Default for LogRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LogRing<N> {
    /// An empty ring (all zero bytes, so a `static` of it costs no image
    /// space).
    pub const fn new() -> Self {
        const { assert!(N >= 2, "a log ring must hold at least one byte and its newline") };
        LogRing { bytes: [0; N], head: 0, tail: 0, dropped_lines: 0 }
    }

    /// The most bytes the ring holds.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Offset of the oldest byte still held (the start of a line).
    pub fn oldest(&self) -> u64 {
        self.head
    }

    /// Offset one past the newest byte: how many bytes were ever appended.
    pub fn end(&self) -> u64 {
        self.tail
    }

    /// Bytes held now.
    pub fn len(&self) -> usize {
        (self.tail - self.head) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Whole lines dropped to make room since the ring was made.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped_lines
    }

    /// Append `line` and a newline (a trailing newline in `line` is not
    /// doubled; newlines inside it make it several lines). A line longer
    /// than the ring keeps its first `N - 1` bytes. Drops the oldest whole
    /// lines as needed to make room.
    pub fn push_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let body = &line[..line.len().min(N - 1)];
        let needed = body.len() + 1;
        while N - self.len() < needed {
            self.drop_oldest_line();
        }
        self.put(body);
        self.put(b"\n");
    }

    /// Remove the oldest line held (the ring is not empty when called).
    fn drop_oldest_line(&mut self) {
        let (first, second) = self.segments(self.head, self.len());
        let newline = first
            .iter()
            .position(|&b| b == b'\n')
            .or_else(|| second.iter().position(|&b| b == b'\n').map(|i| first.len() + i));
        match newline {
            Some(at) => {
                self.head += at as u64 + 1;
                self.dropped_lines += 1;
            }
            // Every line held ends with a newline, so this does not happen;
            // emptying the ring keeps the invariants if it ever did.
            None => self.head = self.tail,
        }
    }

    /// The `len` bytes held from offset `start` (within `head..=tail`, with
    /// `start + len <= tail`), as the part up to the end of the array and
    /// the part that wrapped around to its beginning.
    fn segments(&self, start: u64, len: usize) -> (&[u8], &[u8]) {
        let at = (start % N as u64) as usize;
        let first = len.min(N - at);
        (&self.bytes[at..at + first], &self.bytes[..len - first])
    }

    /// Append `data` (at most `N` bytes, with room made for it already).
    fn put(&mut self, data: &[u8]) {
        let at = (self.tail % N as u64) as usize;
        let first = data.len().min(N - at);
        self.bytes[at..at + first].copy_from_slice(&data[..first]);
        self.bytes[..data.len() - first].copy_from_slice(&data[first..]);
        self.tail += data.len() as u64;
    }

    /// Copy into `out` what is held from offset `from` on, as much as fits.
    /// An offset already dropped reads from the oldest byte held (and
    /// reports the gap as `missed`); one beyond the end reads nothing.
    pub fn read(&self, from: u64, out: &mut [u8]) -> Read {
        let start = from.clamp(self.head, self.tail);
        let missed = self.head.saturating_sub(from);
        let len = out.len().min((self.tail - start) as usize);
        let (first, second) = self.segments(start, len);
        out[..first.len()].copy_from_slice(first);
        out[first.len()..len].copy_from_slice(second);
        Read { start, len, missed }
    }
}

/// One line formatted on the stack: a [`fmt::Write`] that keeps the first
/// `M` bytes written, cut at a character boundary, and remembers that it
/// cut. Writing never fails, so a long line is shortened, not lost.
pub struct LineBuf<const M: usize> {
    bytes: [u8; M],
    len: usize,
    truncated: bool,
}

impl<const M: usize> Default for LineBuf<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const M: usize> LineBuf<M> {
    pub const fn new() -> Self {
        LineBuf { bytes: [0; M], len: 0, truncated: false }
    }

    /// The text kept so far (always valid UTF-8 if only `str`s were
    /// written, which is all [`fmt::Write`] writes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Whether something was cut off.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl<const M: usize> fmt::Write for LineBuf<M> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            // Keep the text a prefix of what was written.
            return Ok(());
        }
        let mut take = s.len().min(M - self.len);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        self.truncated = take < s.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use std::vec;
    use std::vec::Vec;
    use xorshift::Rng;

    /// Everything held, read in one go from the oldest byte.
    fn contents<const N: usize>(ring: &LogRing<N>) -> Vec<u8> {
        let mut out = vec![0u8; N];
        let read = ring.read(ring.oldest(), &mut out);
        assert_eq!(read.start, ring.oldest());
        assert_eq!(read.missed, 0);
        out.truncate(read.len);
        out
    }

    #[test]
    fn empty_ring_reads_nothing() {
        let ring = LogRing::<8>::new();
        let mut out = [0u8; 4];
        assert_eq!(ring.read(0, &mut out), Read { start: 0, len: 0, missed: 0 });
        assert!(ring.is_empty());
        assert_eq!((ring.len(), ring.oldest(), ring.end(), ring.capacity()), (0, 0, 0, 8));
    }

    #[test]
    fn lines_get_one_newline_each() {
        let mut ring = LogRing::<64>::new();
        ring.push_line(b"one");
        ring.push_line(b"two\n");
        ring.push_line(b"");
        ring.push_line(b"three\nfour");
        assert_eq!(contents(&ring), b"one\ntwo\n\nthree\nfour\n");
        assert_eq!(ring.end(), 20);
        assert_eq!(ring.dropped_lines(), 0);
    }

    #[test]
    fn oldest_whole_lines_make_room() {
        let mut ring = LogRing::<16>::new();
        ring.push_line(b"aaaa"); // 0..5
        ring.push_line(b"bbbb"); // 5..10
        ring.push_line(b"cccc"); // 10..15
        assert_eq!(ring.oldest(), 0);
        // 5 more bytes do not fit in 16: the first line goes, and only it.
        ring.push_line(b"dddd"); // 15..20
        assert_eq!(ring.oldest(), 5);
        assert_eq!(contents(&ring), b"bbbb\ncccc\ndddd\n");
        assert_eq!(ring.dropped_lines(), 1);
        // A long line pushes out several.
        ring.push_line(b"eeeeeeeeee"); // 20..31
        assert_eq!(ring.oldest(), 15);
        assert_eq!(contents(&ring), b"dddd\neeeeeeeeee\n");
        assert_eq!(ring.dropped_lines(), 3);
    }

    #[test]
    fn wrap_around_keeps_order_and_offsets() {
        let mut ring = LogRing::<10>::new();
        let mut expected_end = 0;
        for i in 0..100u32 {
            let line = [b'a' + (i % 26) as u8; 3];
            ring.push_line(&line);
            expected_end += 4;
            assert_eq!(ring.end(), expected_end);
            // Two whole 4-byte lines fit in 10 bytes, never a third.
            let held = contents(&ring);
            assert_eq!(held.len(), if i == 0 { 4 } else { 8 });
            assert_eq!(&held[held.len() - 4..], &[line[0], line[0], line[0], b'\n']);
            assert_eq!(ring.oldest(), ring.end() - held.len() as u64);
        }
    }

    #[test]
    fn reads_report_what_was_missed() {
        let mut ring = LogRing::<12>::new();
        for line in [b"11111", b"22222", b"33333", b"44444"] {
            ring.push_line(line);
        }
        // Held: "33333\n44444\n" at 12..24.
        let mut out = [0u8; 32];
        let read = ring.read(0, &mut out);
        assert_eq!(read, Read { start: 12, len: 12, missed: 12 });
        assert_eq!(&out[..read.len], b"33333\n44444\n");
        assert_eq!(read.next(), ring.end());
        // From the middle of a held line, in small pieces.
        let read = ring.read(14, &mut out[..3]);
        assert_eq!(read, Read { start: 14, len: 3, missed: 0 });
        assert_eq!(&out[..3], b"333");
        // At and beyond the end: nothing, nothing missed.
        assert_eq!(ring.read(24, &mut out), Read { start: 24, len: 0, missed: 0 });
        assert_eq!(ring.read(1000, &mut out), Read { start: 24, len: 0, missed: 0 });
        // An empty buffer copies nothing but still reports the gap.
        assert_eq!(ring.read(3, &mut []), Read { start: 12, len: 0, missed: 9 });
    }

    #[test]
    fn a_line_longer_than_the_ring_is_cut() {
        let mut ring = LogRing::<8>::new();
        ring.push_line(b"ab");
        ring.push_line(b"0123456789");
        assert_eq!(contents(&ring), b"0123456\n");
        assert_eq!(ring.oldest(), 3);
        assert_eq!(ring.end(), 11);
        ring.push_line(b"x");
        assert_eq!(contents(&ring), b"x\n");
    }

    #[test]
    fn smallest_ring() {
        let mut ring = LogRing::<2>::new();
        ring.push_line(b"hello");
        assert_eq!(contents(&ring), b"h\n");
        ring.push_line(b"");
        assert_eq!(contents(&ring), b"\n");
        assert_eq!(ring.end(), 3);
    }

    /// Random pushes and reads against a model: the whole stream ever
    /// appended and where its lines start.
    fn random_against_model<const N: usize>(seed: u64, ops: usize) {
        let mut rng = Rng::new(seed);
        let mut ring = LogRing::<N>::new();
        let mut stream: Vec<u8> = Vec::new();
        let mut line_starts: Vec<u64> = vec![0];
        let mut head = 0u64;
        for _ in 0..ops {
            if rng.below_u64(3) > 0 {
                // Mostly short lines, some longer than the ring, some with
                // newlines inside or at the end.
                let len = match rng.below_u64(10) {
                    0 => rng.below_u64(N as u64 + 8) as usize,
                    1 => 0,
                    _ => rng.below_u64((N as u64 / 3).max(2)) as usize,
                };
                let line: Vec<u8> = (0..len)
                    .map(|_| if rng.below_u64(12) == 0 { b'\n' } else { b'a' + rng.below_u64(26) as u8 })
                    .collect();
                ring.push_line(&line);
                let trimmed = line.strip_suffix(b"\n").unwrap_or(&line);
                for &b in &trimmed[..trimmed.len().min(N - 1)] {
                    stream.push(b);
                    if b == b'\n' {
                        line_starts.push(stream.len() as u64);
                    }
                }
                stream.push(b'\n');
                line_starts.push(stream.len() as u64);
                let tail = stream.len() as u64;
                // The model: the first line start at or after the old head
                // from which the rest fits.
                head = *line_starts.iter().find(|&&s| s >= head && tail - s <= N as u64).expect("the last line fits");
            } else {
                let from = rng.below_u64(stream.len() as u64 + 4);
                let mut out = vec![0u8; rng.below_u64(N as u64 + 4) as usize];
                let read = ring.read(from, &mut out);
                let tail = stream.len() as u64;
                let start = from.clamp(head, tail);
                assert_eq!(read.start, start);
                assert_eq!(read.missed, head.saturating_sub(from));
                assert_eq!(read.len, out.len().min((tail - start) as usize));
                assert_eq!(&out[..read.len], &stream[start as usize..start as usize + read.len]);
            }
            assert_eq!(ring.oldest(), head);
            assert_eq!(ring.end(), stream.len() as u64);
            assert!(ring.len() <= N);
            let held = contents(&ring);
            assert_eq!(&held[..], &stream[head as usize..]);
            assert!(held.is_empty() || held.ends_with(b"\n"));
            assert!(head == 0 || stream[head as usize - 1] == b'\n', "the ring starts mid-line");
        }
        assert_eq!(ring.dropped_lines(), line_starts.iter().filter(|&&s| s > 0 && s <= head).count() as u64);
    }

    #[test]
    fn random_operations_match_the_model() {
        random_against_model::<2>(1, 2000);
        random_against_model::<3>(2, 2000);
        random_against_model::<16>(0x1234_5678_9abc_def1, 5000);
        random_against_model::<100>(0x0fed_cba9_8765_4321, 5000);
        random_against_model::<4096>(42, 3000);
    }

    #[test]
    fn line_buf_keeps_a_prefix_at_a_char_boundary() {
        let mut line = LineBuf::<8>::new();
        write!(line, "ab{}", 12).unwrap();
        assert_eq!(line.as_bytes(), b"ab12");
        assert!(!line.is_truncated());
        // "é" is two bytes: with 4 left, "xyzé" needs 5, so it is cut
        // before the "é", and nothing after the cut is kept.
        line.write_str("xyzé").unwrap();
        line.write_str("q").unwrap();
        assert_eq!(line.as_bytes(), b"ab12xyz");
        assert!(line.is_truncated());
        let mut exact = LineBuf::<3>::new();
        exact.write_str("abc").unwrap();
        assert_eq!((exact.as_bytes(), exact.is_truncated()), (&b"abc"[..], false));
    }
}
