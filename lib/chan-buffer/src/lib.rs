//! The byte-stream state of one `chan:` connection (served by `ipcd`),
//! kept apart from the daemon so the host can test it: a bounded [`Ring`]
//! per direction and whether each side has hung up.
//!
//! A [`Channel`] has two sides, [`Side::Client`] (the end that connected)
//! and [`Side::Server`] (the end a listener accepted). Each side writes
//! into the ring the other side reads. The rules, which `ipcd` answers
//! callers with:
//!
//! - a write takes as many bytes as fit ([`Write::Accepted`] with the
//!   count, possibly fewer than offered), [`Write::Full`] if none fit,
//!   [`Write::Broken`] once the reader has hung up (`EPIPE`);
//! - a read takes what is there ([`Read::Data`]), or says [`Read::Empty`]
//!   (wait, or `EAGAIN`) while the writer is still there, or
//!   [`Read::Eof`] once the writer hung up and everything was read.
//!
//! No byte is ever dropped or repeated: what a write accepts is read
//! exactly once, in order. Touches nothing but its own memory.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec;

/// A bounded FIFO of bytes. Its storage is allocated on the first write
/// that needs it, so an idle direction costs nothing.
#[derive(Debug)]
pub struct Ring {
    storage: Option<Box<[u8]>>,
    capacity: usize,
    /// Index of the oldest byte.
    head: usize,
    /// Bytes held.
    len: usize,
}

impl Ring {
    /// An empty ring that holds at most `capacity` bytes.
    pub const fn new(capacity: usize) -> Ring {
        Ring { storage: None, capacity, head: 0, len: 0 }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes waiting to be read.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room for this many more bytes.
    pub fn free(&self) -> usize {
        self.capacity - self.len
    }

    /// Appends as much of `bytes` as fits; returns how many were taken.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.free());
        if n == 0 {
            return 0;
        }
        let capacity = self.capacity;
        let storage = self.storage.get_or_insert_with(|| vec![0u8; capacity].into_boxed_slice());
        let tail = (self.head + self.len) % capacity;
        let first = n.min(capacity - tail);
        storage[tail..tail + first].copy_from_slice(&bytes[..first]);
        storage[..n - first].copy_from_slice(&bytes[first..n]);
        self.len += n;
        n
    }

    /// Moves the oldest bytes into `out`; returns how many.
    pub fn pop(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        let Some(storage) = &self.storage else { return 0 };
        if n == 0 {
            return 0;
        }
        let first = n.min(self.capacity - self.head);
        out[..first].copy_from_slice(&storage[self.head..self.head + first]);
        out[first..n].copy_from_slice(&storage[..n - first]);
        self.head = (self.head + n) % self.capacity;
        self.len -= n;
        if self.len == 0 {
            self.head = 0;
        }
        n
    }
}

/// One end of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The end that connected.
    Client,
    /// The end a listener accepted (or will accept).
    Server,
}

impl Side {
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// What a read got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// This many bytes (at least one).
    Data(usize),
    /// Nothing yet; the writer is still there.
    Empty,
    /// Nothing, ever again: the writer hung up and all was read.
    Eof,
}

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// This many bytes were taken (at least one, or zero for an empty write).
    Accepted(usize),
    /// No room: nothing was taken.
    Full,
    /// The reader hung up: nothing was taken, nothing ever will be.
    Broken,
}

/// Which of reading and writing would not wait on a side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// A read returns data or end-of-file.
    pub read: bool,
    /// A write takes bytes or fails with a broken channel.
    pub write: bool,
    /// The peer hung up.
    pub hung_up: bool,
}

/// A connection: one ring per direction, and which sides are still open.
#[derive(Debug)]
pub struct Channel {
    /// `inbox[side]`: the bytes waiting for `side` to read.
    inbox: [Ring; 2],
    open: [bool; 2],
}

impl Channel {
    /// A channel whose rings hold `capacity` bytes each way.
    pub const fn new(capacity: usize) -> Channel {
        Channel { inbox: [Ring::new(capacity), Ring::new(capacity)], open: [true, true] }
    }

    pub fn is_open(&self, side: Side) -> bool {
        self.open[side.index()]
    }

    /// Both sides hung up: the channel can go.
    pub fn is_dead(&self) -> bool {
        !self.open[0] && !self.open[1]
    }

    /// Bytes waiting for `side` to read.
    pub fn pending(&self, side: Side) -> usize {
        self.inbox[side.index()].len()
    }

    /// `side` writes `bytes` towards its peer.
    pub fn write(&mut self, side: Side, bytes: &[u8]) -> Write {
        if !self.is_open(side.peer()) {
            return Write::Broken;
        }
        if bytes.is_empty() {
            return Write::Accepted(0);
        }
        match self.inbox[side.peer().index()].push(bytes) {
            0 => Write::Full,
            n => Write::Accepted(n),
        }
    }

    /// `side` reads into `out`.
    pub fn read(&mut self, side: Side, out: &mut [u8]) -> Read {
        let inbox = &mut self.inbox[side.index()];
        if inbox.is_empty() {
            return if self.open[side.peer().index()] { Read::Empty } else { Read::Eof };
        }
        if out.is_empty() {
            return Read::Data(0);
        }
        Read::Data(inbox.pop(out))
    }

    /// `side` hangs up: its peer reads what is left and then end-of-file,
    /// and can no longer write. What was waiting for `side` is dropped
    /// (nobody will read it).
    pub fn close(&mut self, side: Side) {
        self.open[side.index()] = false;
        self.inbox[side.index()] = Ring::new(self.inbox[side.index()].capacity());
    }

    /// What `side` could do without waiting.
    pub fn readiness(&self, side: Side) -> Readiness {
        let peer_open = self.is_open(side.peer());
        Readiness {
            read: !self.inbox[side.index()].is_empty() || !peer_open,
            write: !peer_open || self.inbox[side.peer().index()].free() > 0,
            hung_up: !peer_open,
        }
    }
}

#[cfg(test)]
mod tests {
    use xorshift::Rng;
    extern crate std;

    use std::collections::VecDeque;
    use std::vec::Vec;

    use super::*;

    #[test]
    fn ring_wraps_and_keeps_order() {
        let mut ring = Ring::new(8);
        assert_eq!(ring.push(b"abcdef"), 6);
        let mut out = [0u8; 4];
        assert_eq!(ring.pop(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(ring.push(b"ghijklmn"), 6, "only the free room is taken");
        assert_eq!(ring.free(), 0);
        assert_eq!(ring.push(b"x"), 0);
        let mut all = [0u8; 16];
        assert_eq!(ring.pop(&mut all), 8);
        assert_eq!(&all[..8], b"efghijkl");
        assert!(ring.is_empty());
        assert_eq!(ring.pop(&mut all), 0);
    }

    #[test]
    fn idle_ring_allocates_nothing() {
        let mut ring = Ring::new(1 << 16);
        assert!(ring.storage.is_none());
        assert_eq!(ring.pop(&mut [0u8; 4]), 0);
        assert!(ring.storage.is_none());
        ring.push(b"a");
        assert_eq!(ring.storage.as_ref().map(|s| s.len()), Some(1 << 16));
    }

    #[test]
    fn ring_matches_a_model_under_random_use() {
        for capacity in [1usize, 7, 64, 4096] {
            let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15 ^ capacity as u64);
            let mut ring = Ring::new(capacity);
            let mut model: VecDeque<u8> = VecDeque::new();
            let mut counter = 0u8;
            for _ in 0..20_000 {
                if rng.below(2) == 0 {
                    let chunk: Vec<u8> = (0..rng.below(2 * capacity + 2))
                        .map(|_| {
                            counter = counter.wrapping_add(1);
                            counter
                        })
                        .collect();
                    let taken = ring.push(&chunk);
                    assert_eq!(taken, chunk.len().min(capacity - model.len()));
                    model.extend(&chunk[..taken]);
                    counter = counter.wrapping_sub((chunk.len() - taken) as u8);
                } else {
                    let mut out = std::vec![0u8; rng.below(2 * capacity + 2)];
                    let n = ring.pop(&mut out);
                    assert_eq!(n, out.len().min(model.len()));
                    let expected: Vec<u8> = model.drain(..n).collect();
                    assert_eq!(&out[..n], &expected[..]);
                }
                assert_eq!(ring.len(), model.len());
            }
        }
    }

    #[test]
    fn channel_directions_are_independent() {
        let mut chan = Channel::new(16);
        assert_eq!(chan.write(Side::Client, b"to server"), Write::Accepted(9));
        assert_eq!(chan.write(Side::Server, b"to client"), Write::Accepted(9));
        let mut buf = [0u8; 32];
        assert_eq!(chan.read(Side::Server, &mut buf), Read::Data(9));
        assert_eq!(&buf[..9], b"to server");
        assert_eq!(chan.read(Side::Client, &mut buf), Read::Data(9));
        assert_eq!(&buf[..9], b"to client");
        assert_eq!(chan.read(Side::Client, &mut buf), Read::Empty);
    }

    #[test]
    fn full_channel_takes_part_then_nothing() {
        let mut chan = Channel::new(10);
        assert_eq!(chan.write(Side::Client, b"0123456"), Write::Accepted(7));
        assert_eq!(chan.write(Side::Client, b"789abc"), Write::Accepted(3));
        assert_eq!(chan.write(Side::Client, b"d"), Write::Full);
        assert!(!chan.readiness(Side::Client).write);
        assert!(chan.readiness(Side::Server).read);
        let mut buf = [0u8; 4];
        assert_eq!(chan.read(Side::Server, &mut buf), Read::Data(4));
        assert!(chan.readiness(Side::Client).write);
        assert_eq!(chan.write(Side::Client, b""), Write::Accepted(0));
    }

    #[test]
    fn hang_up_drains_then_eof_and_breaks_writes() {
        let mut chan = Channel::new(16);
        chan.write(Side::Client, b"last words");
        chan.close(Side::Client);
        let ready = chan.readiness(Side::Server);
        assert!(ready.read && ready.write && ready.hung_up);
        assert_eq!(chan.write(Side::Server, b"reply"), Write::Broken);
        let mut buf = [0u8; 4];
        let mut got = Vec::new();
        while let Read::Data(n) = chan.read(Side::Server, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"last words");
        assert_eq!(chan.read(Side::Server, &mut buf), Read::Eof);
        assert!(!chan.is_dead());
        chan.close(Side::Server);
        assert!(chan.is_dead());
    }

    #[test]
    fn closing_drops_what_the_closer_never_read() {
        let mut chan = Channel::new(16);
        chan.write(Side::Server, b"unread");
        chan.close(Side::Client);
        assert_eq!(chan.pending(Side::Client), 0);
        assert_eq!(chan.write(Side::Server, b"more"), Write::Broken);
    }
}
