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
//! - **Streams** (`scheme_proto::OPEN_POSTED_WITHIN_ROOM`, a socket): a
//!   stream's write may take less than all, or wait, when its buffer is
//!   full, so its daemon cannot promise to take any write. It reports
//!   instead, in every answer to a write, how many bytes it would take
//!   whole now (its room); the kernel posts a write only within the room
//!   less what it posted since ([`Room`]), and only while no write of the
//!   handle that was not posted is out (its bytes are not counted in the
//!   room it left). A handle starts with the room its open's (or dup's)
//!   answer gave, and an event that tells it ready for writing tells
//!   its room too ([`PostedWrites::room_told`]).
//! - **Disks** (`scheme_proto::OPEN_ROOM_FROM_OFFSET`): posted within the
//!   room as a stream's, but the room counts bytes from the handle's
//!   offset (it ends where the disk ends), so a read or a seek uses it up
//!   ([`PostedWrites::moved`]) until a write's answer tells it again.
//!
//! May touch: its own counters and table, never while a caller waits.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

use abi::syscall::error::{ENOSPC, Error};
use scheme_proto::INLINE_MAX;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

use super::handle_records::HandleRecords;

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
    /// A stream's handle: what its daemon said it can take. Its lock is
    /// held while a write within the room is reserved *and* queued, so a
    /// write that is not posted (which stops posting until answered)
    /// cannot slip in between the two.
    room: Option<Mutex<Room>>,
}

/// What a stream's daemon can take ([`Posted::room`]). The daemon answers
/// the handle's writes in order, so the writes posted and not answered
/// are exactly those queued after the write whose answer reported
/// `reported`: the daemon takes `reported - posted` more bytes whole.
#[derive(Default)]
pub struct Room {
    /// The room told last: by the latest answer to one of the handle's
    /// writes, by its open's answer, or by an event
    /// ([`PostedWrites::room_told`]).
    reported: usize,
    /// Bytes of the handle's posted writes not answered yet.
    posted: usize,
    /// The handle's writes that were not posted and are not answered yet.
    /// While one is out nothing is posted (the room reported does not
    /// count its bytes). One whose caller gave up and whose answer never
    /// comes stops posting on the handle for good: the safe side.
    plain: usize,
    /// The room counts from the handle's offset (a disk's): a read or a
    /// seek uses it up ([`PostedWrites::moved`]).
    from_offset: bool,
}

impl Room {
    /// Whether a write of `len` bytes may be posted now.
    fn fits(&self, len: usize) -> bool {
        self.plain == 0 && len <= self.reported.saturating_sub(self.posted)
    }
}

/// How [`PostedWrites::before_write`] says a write goes.
pub enum Write {
    /// As an ordinary call.
    Plain,
    /// Posted, with room taken for it in the handle's record.
    Post(Arc<Posted>),
    /// On a stream's handle, whose record decides under its lock
    /// ([`PostedWrites::post_within_room`]).
    Stream(Arc<Posted>),
}

impl Posted {
    fn new(stream: Option<usize>, from_offset: bool) -> Posted {
        let room = stream.map(|reported| Mutex::new(Room { reported, from_offset, ..Room::default() }));
        Posted { room, ..Default::default() }
    }

    /// Whether it is a stream's record.
    pub fn is_stream(&self) -> bool {
        self.room.is_some()
    }

    /// An answer to one of a stream's writes came, reporting `room` (the
    /// answer's flags): `posted` is the write's length if it was posted.
    pub fn write_answered(&self, room: u32, posted: Option<usize>) {
        let Some(lock) = &self.room else { return };
        without_interrupts(|| {
            let mut state = lock.lock();
            match posted {
                Some(len) => state.posted = state.posted.saturating_sub(len),
                None => state.plain = state.plain.saturating_sub(1),
            }
            state.reported = room as usize;
        });
    }

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
    /// The common path of a scheme none of whose handles ever opted in is
    /// one load.
    handles: HandleRecords<Arc<Posted>>,
    /// Writes posted and not answered, all handles together.
    out: AtomicUsize,
    /// Some handle's room counts from its offset: reads and seeks look
    /// ([`Self::moved`]); a scheme of streams alone pays one load.
    from_offset: AtomicBool,
}

impl PostedWrites {
    /// The daemon opened `handle` with posted writes: within the room it
    /// reports if `stream` is `Some`, starting with that room, which
    /// counts from the handle's offset if `from_offset` (a disk's).
    pub fn enable(&self, handle: usize, stream: Option<usize>, from_offset: bool) {
        if from_offset {
            self.from_offset.store(true, Ordering::Relaxed);
        }
        self.handles.insert(handle, Arc::new(Posted::new(stream, from_offset && stream.is_some())));
    }

    /// A read or a seek of `handle` is done (answered, so after the
    /// answers of every write posted before it): if its room counts from
    /// its offset, the offset has moved and the room is used up; nothing
    /// is posted on it until a write's answer tells the room again.
    #[inline]
    pub fn moved(&self, handle: usize) {
        if self.from_offset.load(Ordering::Relaxed) {
            self.room_used_up(handle);
        }
    }

    /// [`Self::moved`] on a scheme some handle of which is a disk's.
    #[inline(never)]
    fn room_used_up(&self, handle: usize) {
        let Some(posted) = self.handles.get(handle) else { return };
        let Some(lock) = &posted.room else { return };
        without_interrupts(|| {
            let mut state = lock.lock();
            if state.from_offset {
                state.reported = 0;
            }
        });
    }

    /// Whether any handle of the scheme ever posted (else a write need not
    /// look).
    #[inline]
    pub fn used(&self) -> bool {
        self.handles.used()
    }

    /// `handle` closed: its record goes (posted calls still hold theirs).
    #[inline]
    pub fn forget(&self, handle: usize) {
        self.handles.forget(handle);
    }

    /// The failure of one of `handle`'s posted writes not reported yet,
    /// taken (so it is reported once).
    pub fn take_failure(&self, handle: usize) -> Option<Error> {
        if !self.used() {
            return None;
        }
        self.handles.get(handle)?.take_failure()
    }

    /// Before a write on `handle`: the failure to report first, if one
    /// waits (taken); else how the write goes: for a file's handle, if
    /// `small` and the bounds allow one more, posted, the room for it
    /// taken (its record goes with the call, and back to [`Self::finish`]
    /// or [`Self::unpost`]). One look-up for all of it.
    #[inline]
    pub fn before_write(&self, handle: usize, small: bool) -> Result<Write, Error> {
        if !self.used() {
            return Ok(Write::Plain);
        }
        self.before_posting_write(handle, small)
    }

    /// [`Self::before_write`] on a scheme some handle of which posts.
    #[inline(never)]
    fn before_posting_write(&self, handle: usize, small: bool) -> Result<Write, Error> {
        let Some(posted) = self.handles.get(handle) else { return Ok(Write::Plain) };
        if let Some(err) = posted.take_failure() {
            return Err(err);
        }
        if posted.is_stream() {
            return Ok(Write::Stream(posted));
        }
        if !small || !self.reserve(&posted) {
            return Ok(Write::Plain);
        }
        Ok(Write::Post(posted))
    }

    /// One more posted write on `posted`'s handle, if the bounds allow.
    fn reserve(&self, posted: &Posted) -> bool {
        let taken = posted.out.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < PER_HANDLE).then_some(n + 1));
        if taken.is_err() {
            return false;
        }
        if self.out.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < PER_SCHEME).then_some(n + 1)).is_err() {
            posted.out.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// A write of `len` bytes on a stream's handle (`stream`, a record of
    /// [`Write::Stream`]): if it fits the room and the bounds, `queue`
    /// queues it posted, under the record's lock (`Ok(true)`; its error
    /// otherwise, the room given back); else it is not posted
    /// (`Ok(false)`), and counted as a write out that was not posted
    /// ([`Room::plain`]), which the caller then makes as an ordinary call.
    pub fn post_within_room(
        &self,
        stream: &Posted,
        len: usize,
        queue: impl FnOnce() -> Result<(), Error>,
    ) -> Result<bool, Error> {
        let Some(lock) = &stream.room else { return Ok(false) };
        without_interrupts(|| {
            let mut room = lock.lock();
            if len == 0 || len > INLINE_MAX || !room.fits(len) || !self.reserve(stream) {
                room.plain += 1;
                return Ok(false);
            }
            room.posted += len;
            queue().inspect_err(|_| {
                room.posted -= len;
                self.unpost(stream);
            })?;
            Ok(true)
        })
    }

    /// The daemon told that `handle`, ready for writing, has `room`
    /// (an event's, [`scheme_proto::Response::event_with_room`]). Like a
    /// write's answer it comes in order with the answers, so the room is
    /// less what was posted and not answered yet; it counts only while
    /// no unposted write is out (whose answer will tell the room after it).
    pub fn room_told(&self, handle: usize, room: u64) {
        if !self.used() {
            return;
        }
        let Some(posted) = self.handles.get(handle) else { return };
        let Some(lock) = &posted.room else { return };
        without_interrupts(|| {
            let mut state = lock.lock();
            if state.plain == 0 {
                state.reported = usize::try_from(room).unwrap_or(usize::MAX);
            }
        });
    }

    /// A write [`Self::post_within_room`] did not post (and counted as
    /// out) that never reached the daemon.
    pub fn plain_write_not_sent(&self, stream: &Posted) {
        if let Some(lock) = &stream.room {
            without_interrupts(|| {
                let mut room = lock.lock();
                room.plain = room.plain.saturating_sub(1);
            });
        }
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
