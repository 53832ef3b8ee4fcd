//! Bytes a stream's daemon hands the kernel ahead of the reads
//! (docs/architecture.md §3.14): a socket's reader gets what arrived
//! without a round trip to its daemon.
//!
//! A handle opened as a stream's (`scheme_proto::OPEN_POSTED_WITHIN_ROOM`)
//! may be sent `Kind::Data` messages: the bytes that arrived on it, at most
//! [`HELD_MAX`] held per handle. The daemon keeps its own copy until the
//! kernel took them (its write of the message succeeded), so nothing is
//! lost when the kernel refuses.
//!
//! What keeps it correct:
//! - **Order**: the kernel takes bytes only while no read of the handle is
//!   out at the daemon, and sends a read to the daemon only when it holds
//!   none (both decided under the handle's lock). So whatever the daemon
//!   hands over comes before what a later read of it gets, and a read the
//!   daemon holds (parked, waiting for data) is answered by the daemon
//!   itself, with its timeout.
//! - **Readiness**: taking bytes reports the handle readable to `event:`;
//!   an `fevent` of a handle with bytes held reports it readable whatever
//!   the daemon says. When the kernel refused bytes because it held
//!   [`HELD_MAX`] already, the read that empties its buffer reports the
//!   handle readable again, so a reader that waits for an event comes back
//!   for what the daemon still has (the daemon reported it once).
//! - **Bounds**: [`HELD_MAX`] bytes per handle; they go when it closes.
//!
//! May touch: its own table and buffers; the caller's buffer is copied to
//! outside its locks.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::syscall::error::{EAGAIN, EBADF, Error};
use scheme_proto::INLINE_MAX;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

use super::handle_records::HandleRecords;
use super::pipe;

/// The most bytes held for one handle: one message's worth.
pub const HELD_MAX: usize = INLINE_MAX;

/// One stream handle's bytes held and its reads out at the daemon.
#[derive(Default)]
pub struct Received {
    bytes: VecDeque<u8>,
    /// Reads of the handle sent to the daemon and not answered yet.
    reads_out: usize,
    /// Bytes were refused for want of room since the buffer last emptied.
    refused: bool,
}

/// How a read of a stream's handle goes ([`PushedReads::before_read`]).
pub enum Read {
    /// To the daemon, as any read (not a stream's handle).
    Daemon,
    /// From the bytes held: these were taken (give them back with
    /// [`PushedReads::give_back`] if they cannot be delivered); `again`:
    /// the buffer emptied after a refusal, so report the handle readable.
    Held { bytes: Vec<u8>, again: bool },
    /// To the daemon, counted as out until [`PushedReads::read_done`].
    Out(Arc<Mutex<Received>>),
}

/// The stream handles of one scheme.
#[derive(Default)]
pub struct PushedReads {
    /// The common path of a scheme that serves no stream is one load.
    handles: HandleRecords<Arc<Mutex<Received>>>,
}

impl PushedReads {
    /// `handle` is a stream's (opened or dup'ed as one).
    pub fn enable(&self, handle: usize) {
        self.handles.insert(handle, Arc::new(Mutex::new(Received::default())));
    }

    /// `handle` closed (or its number was given to a handle that is not a
    /// stream's): what it held goes.
    #[inline]
    pub fn forget(&self, handle: usize) {
        self.handles.forget(handle);
    }

    #[inline]
    pub fn used(&self) -> bool {
        self.handles.used()
    }

    /// Before a read of up to `len` bytes of `handle`.
    pub fn before_read(&self, handle: usize, len: usize) -> Read {
        let Some(record) = self.handles.get(handle) else { return Read::Daemon };
        let held = without_interrupts(|| {
            let mut received = record.lock();
            if received.bytes.is_empty() || len == 0 {
                received.reads_out += 1;
                return None;
            }
            let n = len.min(received.bytes.len());
            let mut bytes = Vec::with_capacity(n);
            pipe::take_front(&mut received.bytes, n, |part| bytes.extend_from_slice(part));
            let again = received.bytes.is_empty() && core::mem::take(&mut received.refused);
            Some((bytes, again))
        });
        match held {
            Some((bytes, again)) => Read::Held { bytes, again },
            None => Read::Out(record),
        }
    }

    /// A read [`Read::Out`] counted was answered (or given up).
    pub fn read_done(&self, record: &Mutex<Received>) {
        without_interrupts(|| {
            let mut received = record.lock();
            received.reads_out = received.reads_out.saturating_sub(1);
        });
    }

    /// Bytes [`Read::Held`] took that could not be delivered (the caller's
    /// buffer was bad): they go back in front.
    pub fn give_back(&self, handle: usize, bytes: &[u8]) {
        let Some(record) = self.handles.get(handle) else { return };
        without_interrupts(|| {
            let mut received = record.lock();
            for &byte in bytes.iter().rev() {
                received.bytes.push_front(byte);
            }
        });
    }

    /// The daemon hands over `bytes` that arrived on `handle`: taken
    /// whole, or refused with `EAGAIN` (a read of the handle is out at the
    /// daemon, which answers it with them; or no room) or `EBADF` (not a
    /// stream's handle, or not yet known as one).
    pub fn push(&self, handle: usize, bytes: &[u8]) -> Result<(), Error> {
        let record = self.handles.get(handle).ok_or(Error::new(EBADF))?;
        without_interrupts(|| {
            let mut received = record.lock();
            if received.reads_out > 0 {
                return Err(Error::new(EAGAIN));
            }
            if received.bytes.len() + bytes.len() > HELD_MAX {
                received.refused = true;
                return Err(Error::new(EAGAIN));
            }
            received.bytes.extend(bytes);
            Ok(())
        })
    }

    /// Whether bytes are held for `handle` (it is readable).
    pub fn holds(&self, handle: usize) -> bool {
        self.used()
            && self.handles.get(handle).is_some_and(|record| without_interrupts(|| !record.lock().bytes.is_empty()))
    }
}
