//! `time:` — the monotonic clock as a file, with timeouts that can be
//! waited for by reading or through `event:`.
//!
//! The path is a clock number as `clock_gettime` takes it (redox_syscall's
//! numbering): `open("time:4")` (`CLOCK_MONOTONIC`, nanoseconds since boot)
//! gives a timer handle, and so does `time:1` (`CLOCK_REALTIME`), whose
//! times, like `clock_gettime(CLOCK_REALTIME)`'s, count from the Unix epoch
//! (the wall clock, `crate::time`). Every other name is `ENOENT`.
//!
//! - `read` (a buffer of at least one `syscall::TimeSpec`, 16 bytes, else
//!   `EINVAL`) returns one `TimeSpec`: with no timeout armed, the time now;
//!   with a timeout that has passed, that timeout, which is then disarmed;
//!   with a timeout still ahead, it waits for it (`EAGAIN` with
//!   `O_NONBLOCK`).
//! - `write` of exactly one `TimeSpec` (an absolute time on this clock)
//!   arms the timeout, replacing any earlier one; a time already past fires
//!   at once. Other sizes, negative seconds and nanoseconds outside
//!   `0..1e9` are `EINVAL`.
//! - `fevent`: `EVENT_READ` whenever a read would not wait (no timeout
//!   armed, or it passed), `EVENT_WRITE` always. When an armed timeout
//!   passes, watchers get `EVENT_READ` from the timer tick ([`tick`]), so
//!   no thread has to be waiting: resolution is one tick (10 ms), and a
//!   timeout never fires early.
//!
//! May touch: its own handle table and list of armed timeouts (both locked
//! with interrupts off, since [`tick`] runs in interrupt context), its wait
//! queue, and the event registry.

use alloc::collections::BinaryHeap;
use alloc::string::String;
use alloc::sync::Arc;
use core::cmp::Reverse;
use core::sync::atomic::{AtomicU64, Ordering};

use abi::syscall::error::{EAGAIN, EINVAL, ENOENT, ETIMEDOUT, Error};
use abi::syscall::{CLOCK_MONOTONIC, CLOCK_REALTIME, EventFlags, MODE_CHR, O_NONBLOCK, Stat, TimeSpec};
use spin::{Mutex, Once};
use x86_64::instructions::interrupts::without_interrupts;

use super::handles::HandleTable;
use super::{Caller, KernelScheme, Opened, event, key_of};
use crate::context::wait_queue::WaitQueue;

/// A timer's deadline when none is armed.
const UNARMED: u64 = u64::MAX;
const NANOS: u64 = 1_000_000_000;
/// Bytes of a `TimeSpec`: seconds (i64), nanoseconds (i32), 4 of padding.
pub const TIMESPEC_SIZE: usize = size_of::<TimeSpec>();
/// Expired timeouts one tick handles; more wait for the next tick.
const PER_TICK: usize = 8;

struct Timer {
    /// The clock it was opened on (for `fpath`).
    clock: usize,
    /// Monotonic nanoseconds of the armed timeout, or [`UNARMED`].
    deadline: AtomicU64,
}

impl Timer {
    /// A monotonic time as a time on this timer's clock.
    fn on_clock(&self, monotonic: u64) -> u64 {
        if self.clock == CLOCK_REALTIME {
            monotonic.saturating_add(crate::time::realtime_offset_ns())
        } else {
            monotonic
        }
    }

    /// A time on this timer's clock as a monotonic time.
    fn monotonic(&self, on_clock: u64) -> u64 {
        if self.clock == CLOCK_REALTIME { on_clock.saturating_sub(crate::time::realtime_offset_ns()) } else { on_clock }
    }

    /// Whether a read would return at once.
    fn ready(&self, now: u64) -> bool {
        let deadline = self.deadline.load(Ordering::Acquire);
        deadline == UNARMED || now >= deadline
    }
}

pub struct TimeScheme {
    timers: HandleTable<Arc<Timer>>,
    /// Armed timeouts, earliest first: (deadline, handle). At most one per
    /// handle (re-arming and closing remove the old one), so it stays as
    /// small as the number of open timers.
    pending: Mutex<BinaryHeap<Reverse<(u64, usize)>>>,
    /// The earliest deadline in `pending` ([`UNARMED`] if none), so the
    /// tick costs one load while nothing is due.
    next_due: AtomicU64,
    /// Readers waiting for a timeout (of any handle: each checks its own).
    readers: WaitQueue,
}

/// The one instance, for the timer tick.
static INSTANCE: Once<Arc<TimeScheme>> = Once::new();

impl TimeScheme {
    /// The scheme (made on first use).
    pub fn instance() -> Arc<TimeScheme> {
        INSTANCE
            .call_once(|| {
                Arc::new(TimeScheme {
                    timers: HandleTable::new(),
                    pending: Mutex::new(BinaryHeap::new()),
                    next_due: AtomicU64::new(UNARMED),
                    readers: WaitQueue::new(),
                })
            })
            .clone()
    }

    fn timer(&self, handle: usize) -> Result<Arc<Timer>, Error> {
        self.timers.get(handle)
    }

    /// Replace `handle`'s entry in the pending list with `deadline` (none
    /// if `None`). Interrupts must be off (the tick takes the lock).
    fn reschedule(&self, handle: usize, deadline: Option<u64>) {
        let mut pending = self.pending.lock();
        pending.retain(|&Reverse((_, id))| id != handle);
        if let Some(deadline) = deadline {
            pending.push(Reverse((deadline, handle)));
        }
        self.next_due.store(pending.peek().map_or(UNARMED, |&Reverse((due, _))| due), Ordering::Release);
    }
}

/// Timer tick (interrupt context, every CPU): wake readers and tell
/// watchers about timeouts that passed. Allocates nothing; takes the
/// pending list only if it is free (else the next tick does the work) and
/// the handle table, which is only ever locked with interrupts off.
/// Triggering events from here is what `debug:`'s IRQ handler does too:
/// every lock on that path (event registry, queues, wait queues, run
/// queues, heap) is taken with interrupts off, so it cannot deadlock
/// against the code it interrupted.
pub fn tick(now: u64) {
    let Some(scheme) = INSTANCE.get() else { return };
    if now < scheme.next_due.load(Ordering::Acquire) {
        return;
    }
    let mut due = [(0u64, 0usize); PER_TICK];
    let mut count = 0;
    {
        let Some(mut pending) = scheme.pending.try_lock() else { return };
        while count < PER_TICK {
            match pending.peek() {
                Some(&Reverse((deadline, id))) if deadline <= now => {
                    pending.pop();
                    due[count] = (deadline, id);
                    count += 1;
                }
                _ => break,
            }
        }
        scheme.next_due.store(pending.peek().map_or(UNARMED, |&Reverse((d, _))| d), Ordering::Release);
    }
    if count == 0 {
        return;
    }
    scheme.readers.wake_all();
    for &(deadline, id) in &due[..count] {
        // Only if it is still that timeout (not re-armed, read or closed).
        let current = scheme.timers.with(id, |t| t.deadline.load(Ordering::Acquire));
        if current == Ok(deadline) {
            event::trigger(key_of(&**scheme), id, EventFlags::EVENT_READ);
        }
    }
}

fn encode(ns: u64, out: &mut [u8]) {
    let seconds = (ns / NANOS) as i64;
    let nanos = (ns % NANOS) as i32;
    out[0..8].copy_from_slice(&seconds.to_ne_bytes());
    out[8..12].copy_from_slice(&nanos.to_ne_bytes());
    out[12..16].fill(0);
}

/// The nanoseconds a user's `TimeSpec` names (`EINVAL` if it is not one).
fn decode(bytes: &[u8]) -> Result<u64, Error> {
    let seconds = bytes.first_chunk::<8>().map(|b| i64::from_ne_bytes(*b)).ok_or(Error::new(EINVAL))?;
    let nanos = bytes.get(8..12).and_then(|b| b.try_into().ok()).map(i32::from_ne_bytes).ok_or(Error::new(EINVAL))?;
    let seconds = u64::try_from(seconds).map_err(|_| Error::new(EINVAL))?;
    let nanos = u64::try_from(nanos).ok().filter(|&n| n < NANOS).ok_or(Error::new(EINVAL))?;
    // Far-future times saturate to the latest time that still counts as
    // armed.
    Ok(seconds.saturating_mul(NANOS).saturating_add(nanos).min(UNARMED - 1))
}

impl KernelScheme for TimeScheme {
    fn open(&self, path: &str, _flags: usize, _caller: &Caller) -> Result<Opened, Error> {
        let clock = [CLOCK_MONOTONIC, CLOCK_REALTIME]
            .into_iter()
            .find(|clock| path == alloc::format!("{clock}"))
            .ok_or(Error::new(ENOENT))?;
        let timer = Arc::new(Timer { clock, deadline: AtomicU64::new(UNARMED) });
        Ok(Opened::Handle(self.timers.insert(timer)))
    }

    fn read(&self, handle: usize, buf: &mut [u8], flags: usize) -> Result<usize, Error> {
        let timer = self.timer(handle)?;
        let out = buf.get_mut(..TIMESPEC_SIZE).ok_or(Error::new(EINVAL))?;
        loop {
            let deadline = timer.deadline.load(Ordering::Acquire);
            let now = crate::time::now_ns();
            if deadline == UNARMED {
                encode(timer.on_clock(now), out);
                return Ok(TIMESPEC_SIZE);
            }
            if now >= deadline {
                // Consume it, unless it was re-armed in the meantime.
                if timer.deadline.compare_exchange(deadline, UNARMED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    encode(timer.on_clock(deadline), out);
                    return Ok(TIMESPEC_SIZE);
                }
                continue;
            }
            if flags & O_NONBLOCK != 0 {
                return Err(Error::new(EAGAIN));
            }
            // Woken by the tick once it passes (or sooner by a re-arm);
            // a timeout that moved later is just waited for again.
            match self.readers.wait_until(|| timer.ready(crate::time::now_ns()), deadline) {
                Ok(()) => {}
                Err(err) if err.errno == ETIMEDOUT => {}
                Err(err) => return Err(err),
            }
        }
    }

    fn write(&self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize, Error> {
        let timer = self.timer(handle)?;
        if buf.len() != TIMESPEC_SIZE {
            return Err(Error::new(EINVAL));
        }
        // Stored as a monotonic time: the wall clock is never set, so the
        // two differ by a constant.
        let deadline = timer.monotonic(decode(buf)?);
        timer.deadline.store(deadline, Ordering::Release);
        let passed = crate::time::now_ns() >= deadline;
        // A passed timeout is reported right here; a future one by the tick.
        without_interrupts(|| self.reschedule(handle, (!passed).then_some(deadline)));
        self.readers.wake_all();
        if passed {
            event::trigger(key_of(self), handle, EventFlags::EVENT_READ);
        }
        Ok(TIMESPEC_SIZE)
    }

    fn fevent(&self, handle: usize, interest: EventFlags) -> Result<EventFlags, Error> {
        let timer = self.timer(handle)?;
        let mut ready = EventFlags::EVENT_WRITE;
        if timer.ready(crate::time::now_ns()) {
            ready |= EventFlags::EVENT_READ;
        }
        Ok(ready & interest)
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        self.timer(handle)?;
        stat.st_mode = MODE_CHR | 0o666;
        stat.st_size = 0;
        Ok(())
    }

    fn fpath(&self, handle: usize) -> Result<String, Error> {
        Ok(alloc::format!("{}", self.timer(handle)?.clock))
    }

    fn close(&self, handle: usize) -> Result<(), Error> {
        let removed = self.timers.remove(handle);
        // (A timeout that fires in between finds no timer and is dropped.)
        without_interrupts(|| self.reschedule(handle, None));
        removed.map(drop)
    }
}
