//! Read-ahead for user-scheme files (docs/architecture.md §3.12): a
//! sequential reader of a daemon's file gets most of its small reads from
//! a kernel buffer, without a round trip to the daemon.
//!
//! A daemon opts in per handle when it answers the open
//! (`scheme_proto::OPEN_READ_AHEAD`): it promises that the handle's bytes
//! change only through calls on its scheme (a regular file, a disk) and
//! that reading more than was asked is harmless. Then, once a handle has
//! had a whole read answered, its next small read asks the daemon for
//! [`WINDOW`] bytes (a whole multiple of the read's length) into a buffer
//! of kernel frames lent to the daemon, hands the caller what it asked for
//! and keeps the rest here; the following reads copy out of it.
//!
//! What keeps it correct:
//! - **Offsets**: the daemon's offset for the handle is past the bytes
//!   kept here. A call that depends on the offset first gives them back
//!   ([`ReadAhead::give_back`]): a `SEEK_CUR` seek folds them into its
//!   offset, a write or dup is preceded by a seek back.
//! - **Coherence**: every call on the scheme that may change data (a
//!   write, a truncate, a rename, an unlink, an open that creates or
//!   truncates, ...) moves the scheme's generation on when it finishes,
//!   and a buffer filled before that is stale: its bytes are given back
//!   unread. So a read that starts after a write returned sees the write,
//!   from any process, as it would on the daemon.
//! - **Death**: when the daemon's socket closes every buffer goes, so a
//!   read fails with `EIO` as every call on a dead scheme does.
//! - **Bounds**: all buffers together hold at most [`BUDGET`] bytes; a
//!   handle that finds none left reads as before.
//!
//! May touch: frames (its buffers' own references) and the caller's
//! buffer, never while holding its lock.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use abi::syscall::error::Error;
use x86_64::structures::paging::PhysFrame;

use crate::memory::usercopy::UserOut;
use crate::memory::{PAGE_SIZE, frame, phys_to_virt};

use super::handle_records::HandleRecords;

/// Bytes asked of the daemon per fill (rounded down to a whole number of
/// the reader's requests).
pub const WINDOW: usize = 64 << 10;

/// The most bytes all read-ahead buffers hold together.
pub const BUDGET: usize = 4 << 20;

/// Bytes held by all buffers now.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// Kernel frames the daemon reads a window into: read-only to the kernel
/// once filled (a fill reuses a buffer only when nobody else holds it).
pub struct Buffer {
    frames: Vec<PhysFrame>,
}

impl Buffer {
    /// A buffer of [`WINDOW`] bytes, if the budget and free memory allow.
    fn new() -> Option<Buffer> {
        HELD.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            (held + WINDOW <= BUDGET).then_some(held + WINDOW)
        })
        .ok()?;
        let mut buffer = Buffer { frames: Vec::new() };
        for _ in 0..WINDOW / PAGE_SIZE as usize {
            // On failure, `drop` gives back the budget and the frames so far.
            buffer.frames.push(frame::allocate_user()?);
        }
        Some(buffer)
    }

    pub fn frames(&self) -> &[PhysFrame] {
        &self.frames
    }

    /// Copy the buffer's bytes from `from` to the caller's `buf` (all of it).
    pub fn copy_out(&self, from: usize, buf: UserOut) -> Result<(), Error> {
        let page = PAGE_SIZE as usize;
        let mut done = 0;
        while done < buf.len() {
            let at = from + done;
            let (index, within) = (at / page, at % page);
            let n = (page - within).min(buf.len() - done);
            buf.skip(done).prefix(n).copy_from_kernel(&frame_bytes(self.frames[index])[within..within + n])?;
            done += n;
        }
        Ok(())
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        for frame in self.frames.drain(..) {
            frame::release(frame);
        }
        HELD.fetch_sub(WINDOW, Ordering::AcqRel);
    }
}

/// The bytes of one of a buffer's frames.
fn frame_bytes(frame: PhysFrame) -> &'static [u8] {
    // SAFETY: a frame from `allocate_user` that the buffer holds a
    // reference to (so it stays RAM of ours), seen through the physical
    // map. The daemon wrote it while it was lent, before the fill's answer
    // unmapped it; from then on nothing writes it: a fill reuses a buffer
    // only when no copy holds it (`Arc::try_unwrap`).
    unsafe { core::slice::from_raw_parts(phys_to_virt(frame.start_address()).as_ptr::<u8>(), PAGE_SIZE as usize) }
}

/// What the kernel keeps for one handle.
#[derive(Default)]
struct Handle {
    /// Bytes `pos..end` of `buffer` follow the caller's offset; the
    /// daemon's offset is past them.
    buffer: Option<Arc<Buffer>>,
    pos: usize,
    end: usize,
    /// The scheme's generation when the buffer's fill was asked for.
    generation: u64,
    /// The fill met the end of the file: the buffer is all there is.
    eof: bool,
    /// The last read on the handle got all it asked for (and nothing moved
    /// the offset since): the next one may read ahead.
    sequential: bool,
    /// A fill is out (one at a time per handle).
    filling: bool,
}

impl Handle {
    fn remaining(&self) -> usize {
        self.end - self.pos
    }
}

/// How a read on a read-ahead handle goes ([`ReadAhead::plan`]).
pub struct Plan {
    /// Copy `n` bytes from `from` of this buffer to the caller first.
    pub serve: Option<(Arc<Buffer>, usize, usize)>,
    /// The read is complete after that.
    pub done: bool,
    /// Stale bytes the daemon's offset is past: seek back by this first.
    pub give_back: usize,
    /// Read the rest through a fill (the caller called `start_fill`).
    pub fill: bool,
}

/// The read-ahead state of one user scheme.
#[derive(Default)]
pub struct ReadAhead {
    /// Moved on by every finished call that may change data.
    generation: AtomicU64,
    handles: HandleRecords<Handle>,
}

impl ReadAhead {
    /// Whether any handle of the scheme reads ahead (cheap).
    #[inline]
    pub fn used(&self) -> bool {
        self.handles.used()
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<usize, Handle>) -> R) -> R {
        self.handles.with(f)
    }

    /// The daemon opened `handle` for read-ahead.
    pub fn enable(&self, handle: usize) {
        self.handles.insert(handle, Handle::default());
    }

    /// `handle` closed.
    #[inline]
    pub fn forget(&self, handle: usize) {
        self.handles.forget(handle);
    }

    /// The daemon is gone: so is every buffer.
    pub fn clear(&self) {
        self.handles.clear();
    }

    /// A call that may have changed data finished.
    pub fn changed(&self) {
        if self.used() {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A read of `len` bytes on `handle`: `None` if it is not a read-ahead
    /// handle. Claims what the buffer can give; a fill is claimed too
    /// (give it back with [`Self::filled`] or [`Self::fill_failed`]).
    #[inline]
    pub fn plan(&self, handle: usize, len: usize, fill_max: usize) -> Option<Plan> {
        if !self.used() {
            return None;
        }
        self.plan_used(handle, len, fill_max)
    }

    fn plan_used(&self, handle: usize, len: usize, fill_max: usize) -> Option<Plan> {
        let current = self.generation();
        self.with(|handles| {
            let h = handles.get_mut(&handle)?;
            let mut plan = Plan { serve: None, done: false, give_back: 0, fill: false };
            if h.remaining() > 0 {
                if h.generation != current {
                    plan.give_back = h.remaining();
                    h.pos = h.end;
                    h.sequential = false;
                } else if let Some(buffer) = &h.buffer {
                    let n = h.remaining().min(len);
                    plan.serve = Some((buffer.clone(), h.pos, n));
                    h.pos += n;
                    plan.done = n == len || (h.eof && h.remaining() == 0);
                }
            }
            let rest = len - plan.serve.as_ref().map_or(0, |s| s.2);
            if !plan.done && h.sequential && !h.filling && rest > 0 && rest <= fill_max {
                h.filling = true;
                plan.fill = true;
            }
            Some(plan)
        })
    }

    /// A copy out of a served buffer failed: its bytes were not consumed.
    pub fn unclaim(&self, handle: usize, buffer: &Arc<Buffer>, from: usize, n: usize) {
        self.with(|handles| {
            if let Some(h) = handles.get_mut(&handle)
                && h.buffer.as_ref().is_some_and(|b| Arc::ptr_eq(b, buffer))
                && h.pos == from + n
            {
                h.pos = from;
            }
        });
    }

    /// A buffer to fill for `handle` (its old one when nobody else holds
    /// it, else a new one; `None` when the budget is spent).
    pub fn buffer_for_fill(&self, handle: usize) -> Option<Buffer> {
        let old = self.with(|handles| handles.get_mut(&handle).and_then(|h| h.buffer.take()));
        match old.map(Arc::try_unwrap) {
            Some(Ok(buffer)) => Some(buffer),
            _ => Buffer::new(),
        }
    }

    /// A fill asked at `generation` for `window` bytes answered `got`, of
    /// which the first `given` went to the caller.
    pub fn filled(&self, handle: usize, buffer: Buffer, generation: u64, window: usize, got: usize, given: usize) {
        let unused = self.with(|handles| {
            let Some(h) = handles.get_mut(&handle) else { return Some(Arc::new(buffer)) };
            h.filling = false;
            h.sequential = given > 0;
            (h.pos, h.end, h.generation, h.eof) = (given, got, generation, got < window);
            h.buffer.replace(Arc::new(buffer))
        });
        // Freed outside the lock.
        drop(unused);
    }

    /// A fill failed (nothing was read): the handle reads as before.
    pub fn fill_failed(&self, handle: usize, buffer: Option<Buffer>) {
        self.with(|handles| {
            if let Some(h) = handles.get_mut(&handle) {
                h.filling = false;
                h.sequential = false;
            }
        });
        drop(buffer);
    }

    /// A read that did not go through a fill got `got` of `wanted` bytes.
    pub fn read_done(&self, handle: usize, wanted: usize, got: usize) {
        self.with(|handles| {
            if let Some(h) = handles.get_mut(&handle) {
                h.sequential = got == wanted && got > 0;
            }
        });
    }

    /// Before a call that depends on `handle`'s offset: the bytes kept for
    /// it (the daemon's offset is past them by this much), forgotten now.
    #[inline]
    pub fn give_back(&self, handle: usize) -> usize {
        if !self.used() {
            return 0;
        }
        self.give_back_used(handle)
    }

    fn give_back_used(&self, handle: usize) -> usize {
        self.with(|handles| {
            let Some(h) = handles.get_mut(&handle) else { return 0 };
            let back = h.remaining();
            h.pos = h.end;
            h.sequential = false;
            back
        })
    }
}
