//! Posted writes for user-scheme files (docs/architecture.md §3.13): a
//! small write to a regular file is queued for its daemon and the caller
//! goes on at once, instead of sleeping through a round trip per write.
//!
//! A daemon opts in per handle when it answers the open
//! (`scheme_proto::OPEN_POSTED_WRITES`): it promises to answer the handle's
//! calls in the order they came, never to park a write, and to write all
//! of a write or fail it. Then a write of up to `INLINE_MAX` bytes becomes
//! a call nobody waits on; its answer comes back to [`Posted::finish`].
//!
//! What keeps it correct:
//! - **Order**: the daemon's queue is first in, first out, and the promise
//!   covers the answers: any later call (a read, a seek, an `fstat`, an
//!   `fsync`, from any process) finds the write done.
//! - **Failures**: a write that failed (or wrote less than all, reported
//!   as `ENOSPC`) is remembered on the handle and reported once, by its
//!   next write or by the answer of its next `fsync`: as Linux reports a
//!   failed write-back. Every failure is also logged.
//! - **Bounds**: a handle has at most [`PER_HANDLE`] writes posted and a
//!   scheme [`PER_SCHEME`]; past them a write waits for its answer as
//!   before, which holds a writer to the daemon's pace.
//! - **Death**: the daemon's socket closing fails what is queued with
//!   `EIO`, recorded as any failure (the handle fails from then on anyway).
//!
//! May touch: its own counters and table, never while a caller waits.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

use abi::syscall::error::{ENOSPC, Error};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Writes posted and not answered, per handle and per scheme.
pub const PER_HANDLE: usize = 16;
pub const PER_SCHEME: usize = 64;

/// One handle's posted writes: how many are out, and the first failure
/// not reported yet. A posted call holds it, so an answer that comes after
/// the handle closed (and its number was given to another open) lands here
/// and not on the new handle.
#[derive(Default)]
pub struct Posted {
    out: AtomicUsize,
    /// The errno to report (0: none).
    failed: AtomicI32,
}

impl Posted {
    /// The answer to one of its writes came: `Ok(n)` of `len` bytes
    /// written, or an error. Returns the failure to log, if it failed.
    fn finish(&self, outcome: Result<usize, Error>, len: usize) -> Option<Error> {
        self.out.fetch_sub(1, Ordering::AcqRel);
        let failure = match outcome {
            Ok(n) if n == len => return None,
            Ok(_) => Error::new(ENOSPC),
            Err(err) => err,
        };
        // The first failure is the one reported.
        let _ = self.failed.compare_exchange(0, failure.errno, Ordering::AcqRel, Ordering::Acquire);
        Some(failure)
    }

    /// The failure not reported yet, taken (so it is reported once).
    fn take_failure(&self) -> Option<Error> {
        match self.failed.swap(0, Ordering::AcqRel) {
            0 => None,
            errno => Some(Error::new(errno)),
        }
    }
}

/// The handles of one scheme whose writes may be posted.
#[derive(Default)]
pub struct PostedWrites {
    /// Whether any handle ever opted in: the common path of a scheme that
    /// never does is one load.
    used: AtomicBool,
    handles: Mutex<BTreeMap<usize, Arc<Posted>>>,
    /// Writes posted and not answered, all handles together.
    out: AtomicUsize,
}

impl PostedWrites {
    /// The daemon opened `handle` with posted writes.
    pub fn enable(&self, handle: usize) {
        self.used.store(true, Ordering::Relaxed);
        without_interrupts(|| self.handles.lock().insert(handle, Arc::new(Posted::default())));
    }

    /// `handle` closed: its record goes (posted calls still hold theirs).
    pub fn forget(&self, handle: usize) {
        if self.used.load(Ordering::Relaxed) {
            without_interrupts(|| self.handles.lock().remove(&handle));
        }
    }

    /// The failure of one of `handle`'s posted writes not reported yet,
    /// taken (so it is reported once).
    pub fn take_failure(&self, handle: usize) -> Option<Error> {
        if !self.used.load(Ordering::Relaxed) {
            return None;
        }
        self.record(handle)?.take_failure()
    }

    /// `handle`'s record, if it posts.
    fn record(&self, handle: usize) -> Option<Arc<Posted>> {
        without_interrupts(|| self.handles.lock().get(&handle).cloned())
    }

    /// Before a write on `handle`: the failure to report first, if one
    /// waits (taken); else, if `small` and the handle posts its writes
    /// and the bounds allow one more, the room for it, taken: its record,
    /// to go with the call (and back to [`Self::finish`] or
    /// [`Self::unpost`]). One look-up for both.
    #[inline]
    pub fn before_write(&self, handle: usize, small: bool) -> Result<Option<Arc<Posted>>, Error> {
        if !self.used.load(Ordering::Relaxed) {
            return Ok(None);
        }
        self.before_posting_write(handle, small)
    }

    /// [`Self::before_write`] on a scheme some handle of which posts.
    #[inline(never)]
    fn before_posting_write(&self, handle: usize, small: bool) -> Result<Option<Arc<Posted>>, Error> {
        let Some(posted) = self.record(handle) else { return Ok(None) };
        if let Some(err) = posted.take_failure() {
            return Err(err);
        }
        if !small {
            return Ok(None);
        }
        let taken = posted.out.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < PER_HANDLE).then_some(n + 1));
        if taken.is_err() {
            return Ok(None);
        }
        if self.out.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < PER_SCHEME).then_some(n + 1)).is_err() {
            posted.out.fetch_sub(1, Ordering::AcqRel);
            return Ok(None);
        }
        Ok(Some(posted))
    }

    /// A reservation whose call never went out (the daemon is gone, or
    /// the caller's buffer was bad).
    pub fn unpost(&self, posted: &Posted) {
        posted.out.fetch_sub(1, Ordering::AcqRel);
        self.out.fetch_sub(1, Ordering::AcqRel);
    }

    /// A posted write was answered (see [`Posted::finish`]).
    pub fn finish(&self, posted: &Posted, outcome: Result<usize, Error>, len: usize) -> Option<Error> {
        self.out.fetch_sub(1, Ordering::AcqRel);
        posted.finish(outcome, len)
    }
}
