//! `event:` — readiness queues, so one thread can serve many fds.
//!
//! `open("event:")` makes a queue. Writing a `syscall::Event { id: fd,
//! flags, data }` to it watches the caller's fd `id` for `flags`
//! (`EVENT_READ`, `EVENT_WRITE`; no flags stops watching); reading returns
//! `Event`s for the fds that became ready, with the `data` given when
//! watching, blocking until there is one (or `EAGAIN` with `O_NONBLOCK`).
//!
//! Schemes report readiness with [`trigger`] (user schemes through their
//! daemon's event notifications). Watching asks the scheme (`fevent`) for
//! what is ready already, so nothing that happened before is missed.
//! Events for one fd coalesce until read.
//!
//! The watches of all the queues a process opened count against
//! [`WATCHES_MAX`] (a watch past it is `ENOSPC`, as Linux's epoll says when
//! `max_user_watches` is reached); each watch gives its count back when it
//! goes (unwatched, its fd closed, or its queue closed).
//!
//! May touch: the registry of watches (its own lock, never held while
//! calling a scheme), the current process's file table, and the reader's
//! buffer (through `usercopy`).

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use abi::syscall::error::{EINVAL, ENOSPC, Error};
use abi::syscall::{Event, EventFlags, MODE_CHR, Stat};
use hashbrown::HashMap;
use smallvec::SmallVec;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

use super::handles::HandleTable;
use super::{Caller, KernelScheme, Opened};
use crate::context::wait_queue::WaitQueue;
use crate::memory::usercopy::UserOut;

/// How many watches the queues one process opened may hold together.
pub const WATCHES_MAX: usize = 1024;

/// One queue: the events ready and not yet read, in the order they came.
pub struct EventQueue {
    ready: Mutex<Vec<Event>>,
    wait: WaitQueue,
    /// The opener's watch count (`Process::event_watches`).
    charge: Arc<AtomicUsize>,
}

/// Events a read takes without an allocation.
const TAKEN_INLINE: usize = 4;

type Taken = SmallVec<[Event; TAKEN_INLINE]>;

impl EventQueue {
    /// Events a read took but could not deliver go back to the front, in
    /// their order, each merged with what came for its fd meanwhile (one
    /// event per fd, as [`EventQueue::post`] keeps them).
    fn put_back(&self, events: &[Event]) {
        without_interrupts(|| {
            let mut ready = self.ready.lock();
            for event in events.iter().rev() {
                let mut event = *event;
                if let Some(at) = ready.iter().position(|e| e.id == event.id) {
                    event.flags |= ready.remove(at).flags;
                }
                ready.insert(0, event);
            }
        });
    }

    fn post(&self, id: usize, flags: EventFlags, data: usize) {
        without_interrupts(|| {
            let mut ready = self.ready.lock();
            match ready.iter_mut().find(|e| e.id == id) {
                Some(event) => event.flags |= flags,
                None => ready.push(Event { id, flags, data }),
            }
        });
        self.wait.wake_all();
    }
}

/// A watch: which queue, for which fd number of its owner, and the data.
struct Watch {
    queue: Weak<EventQueue>,
    id: usize,
    data: usize,
    interest: EventFlags,
    /// The count it is charged to; given back on drop.
    charge: Arc<AtomicUsize>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.charge.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Watches by (scheme key, handle); lists are never left empty. A hash
/// map: every read, write and readiness change of a watched fd looks its
/// handle up here, and a B-tree's walk (tuple comparisons down the nodes)
/// cost several times a hash and a probe.
type Watches = HashMap<(usize, usize), Vec<Watch>, Seeded>;

static WATCHES: Mutex<Watches> = Mutex::new(HashMap::with_hasher(Seeded));

/// The registry's hash seed, drawn on the registry's first use (before
/// any watch exists). Daemons choose their handle numbers, so a seed they
/// cannot know keeps them from piling their keys into one probe chain.
static SEED: spin::Once<u64> = spin::Once::new();

/// `foldhash` keyed with [`SEED`].
#[derive(Clone, Copy, Default)]
struct Seeded;

impl core::hash::BuildHasher for Seeded {
    type Hasher = foldhash::fast::FoldHasher<'static>;

    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        foldhash::fast::FixedState::with_seed(*SEED.call_once(seed)).build_hasher()
    }
}

/// Time-stamp counter bits, and the CPU's random number generator's where
/// it has one.
fn seed() -> u64 {
    let tsc = crate::arch::x86_64::tsc::read();
    let mut random = 0u64;
    if crate::arch::x86_64::features().rdrand {
        // SAFETY: RDRAND is present (CPUID said so); it only writes `random`
        // and the carry flag, which says whether it did.
        unsafe { core::arch::x86_64::_rdrand64_step(&mut random) };
    }
    tsc.rotate_left(17) ^ random
}

/// Whether any fd is watched at all: lets every read, write and close
/// skip the registry while no `event:` queue is in use. Updated with the
/// registry locked when it changes; sequentially consistent so that the
/// first watch, added while a scheme changes state, is either seen by its
/// trigger or sees the new state in its `fevent` (while the flag stays set,
/// the registry's lock gives that order: a trigger that took it first
/// happened before the `fevent` that follows the watch).
static WATCHING: AtomicBool = AtomicBool::new(false);

fn with_watches<R>(f: impl FnOnce(&mut Watches) -> R) -> R {
    without_interrupts(|| {
        let mut watches = WATCHES.lock();
        let result = f(&mut watches);
        // Only a change needs the store (and its fence): while the flag
        // stays set, the registry's lock orders watches and triggers.
        let any = !watches.is_empty();
        if WATCHING.load(Ordering::Relaxed) != any {
            WATCHING.store(any, Ordering::SeqCst);
        }
        result
    })
}

/// Whether anything watches any fd (schemes may skip working out
/// readiness nobody will hear about).
pub fn watching() -> bool {
    WATCHING.load(Ordering::SeqCst)
}

/// Where a trigger posts: the queue, the watched fd's number there, the
/// flags that became ready, the watch's data.
type Target = (Arc<EventQueue>, usize, EventFlags, usize);

/// `flags` became ready on `handle` of the scheme known by `key`.
pub fn trigger(key: usize, handle: usize, flags: EventFlags) {
    if !watching() {
        return;
    }
    // Almost always one queue watches a handle: no allocation for two.
    let mut targets: SmallVec<[Target; 2]> = SmallVec::new();
    with_watches(|watches| {
        if let Some(list) = watches.get_mut(&(key, handle)) {
            let mut dead = false;
            for watch in list.iter() {
                let hit = watch.interest & flags;
                if hit.is_empty() {
                    continue;
                }
                match watch.queue.upgrade() {
                    Some(queue) => targets.push((queue, watch.id, hit, watch.data)),
                    None => dead = true,
                }
            }
            // Watches of queues closed since are dropped when found (a
            // pass over the list on every trigger cost more than the
            // trigger's other work).
            if dead {
                list.retain(|w| w.queue.strong_count() > 0);
                if list.is_empty() {
                    watches.remove(&(key, handle));
                }
            }
        }
    });
    for (queue, id, flags, data) in targets {
        queue.post(id, flags, data);
    }
}

/// Every handle of the scheme `key` fails from now on (its daemon died):
/// each watch of one hears of it as readable and writable (what it is
/// interested in of the two), as a hung-up socket is on Linux, so that a
/// program that only waits on such a file (a file system on its disk)
/// calls and learns of the failure (`EIO`) instead of waiting forever.
/// Runs once per daemon death, so a pass over all watches is fine.
pub fn trigger_scheme_gone(key: usize) {
    if !watching() {
        return;
    }
    let flags = EventFlags::EVENT_READ | EventFlags::EVENT_WRITE;
    let mut targets: Vec<Target> = Vec::new();
    with_watches(|watches| {
        for list in watches.iter().filter(|((k, _), _)| *k == key).map(|(_, list)| list) {
            for watch in list {
                let hit = watch.interest & flags;
                if let Some(queue) = watch.queue.upgrade().filter(|_| !hit.is_empty()) {
                    targets.push((queue, watch.id, hit, watch.data));
                }
            }
        }
    });
    for (queue, id, flags, data) in targets {
        queue.post(id, flags, data);
    }
}

/// The handle is gone: drop its watches.
pub fn forget(key: usize, handle: usize) {
    if watching() {
        with_watches(|watches| watches.remove(&(key, handle)));
    }
}

/// The `event:` scheme: a handle is a queue.
pub struct EventScheme {
    queues: HandleTable<Arc<EventQueue>>,
}

impl EventScheme {
    pub fn new() -> EventScheme {
        EventScheme { queues: HandleTable::new() }
    }

    fn queue(&self, handle: usize) -> Result<Arc<EventQueue>, Error> {
        self.queues.get(handle)
    }

    /// Take up to `room` ready events off queue `handle`, waiting for one
    /// unless `flags` has `O_NONBLOCK`.
    fn take(&self, handle: usize, room: usize, flags: usize) -> Result<(Arc<EventQueue>, Taken), Error> {
        if room == 0 {
            return Err(Error::new(EINVAL));
        }
        let queue = self.queue(handle)?;
        let mut taken = Taken::new();
        let mut take = || {
            let mut ready = queue.ready.lock();
            let n = room.min(ready.len());
            taken.extend(ready.drain(..n));
            n > 0
        };
        queue.wait.wait_unless_nonblocking(flags, &mut take)?;
        Ok((queue, taken))
    }

    /// Watch (or stop watching) the caller's fd `event.id` from `queue`.
    fn watch(&self, queue: &Arc<EventQueue>, event: Event) -> Result<(), Error> {
        let file = crate::context::file::current(crate::context::file::Fd(event.id))?;
        let key = (file.scheme.key(), file.handle);
        let mine = |w: &Watch| w.id == event.id && core::ptr::eq(w.queue.as_ptr(), Arc::as_ptr(queue));
        let unwatch = |watches: &mut Watches| {
            if let Some(list) = watches.get_mut(&key) {
                list.retain(|w| !mine(w));
                if list.is_empty() {
                    watches.remove(&key);
                }
            }
        };
        if event.flags.is_empty() {
            with_watches(unwatch);
            return Ok(());
        }
        // Register first, then ask: a change in between is reported twice
        // at worst, never lost. A new watch (not a change of one) must fit
        // under the opener's limit.
        with_watches(|watches| {
            // One look-up: a change of a watch (a server that starts or
            // stops waiting for room to write) is made in place.
            let list = watches.entry(key).or_default();
            if let Some(watch) = list.iter_mut().find(|w| mine(w)) {
                watch.data = event.data;
                watch.interest = event.flags;
                return Ok(());
            }
            if queue.charge.load(Ordering::Acquire) >= WATCHES_MAX {
                if list.is_empty() {
                    watches.remove(&key);
                }
                return Err(Error::new(ENOSPC));
            }
            queue.charge.fetch_add(1, Ordering::AcqRel);
            list.push(Watch {
                queue: Arc::downgrade(queue),
                id: event.id,
                data: event.data,
                interest: event.flags,
                charge: queue.charge.clone(),
            });
            Ok(())
        })
        .inspect_err(|_| {
            crate::caller_log!(Info, "event: a process reached its {WATCHES_MAX} watches (ENOSPC)");
        })?;
        match file.scheme.scheme().fevent(file.handle, event.flags) {
            Ok(ready) => {
                let ready = ready & event.flags;
                if !ready.is_empty() {
                    queue.post(event.id, ready, event.data);
                }
                Ok(())
            }
            Err(err) => {
                with_watches(unwatch);
                Err(err)
            }
        }
    }
}

impl Default for EventScheme {
    fn default() -> Self {
        Self::new()
    }
}

const EVENT_SIZE: usize = size_of::<Event>();

fn event_from_bytes(bytes: &[u8]) -> Event {
    let word = |i: usize| usize::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    Event { id: word(0), flags: EventFlags::from_bits_truncate(word(1)), data: word(2) }
}

fn event_to_bytes(event: &Event, out: &mut [u8]) {
    out[0..8].copy_from_slice(&event.id.to_ne_bytes());
    out[8..16].copy_from_slice(&event.flags.bits().to_ne_bytes());
    out[16..24].copy_from_slice(&event.data.to_ne_bytes());
}

/// Write `events` as whole `Event`s at the start of `out` (room for all of
/// them); the bytes written.
fn events_to_bytes(events: &[Event], out: &mut [u8]) -> usize {
    for (event, slot) in events.iter().zip(out.chunks_exact_mut(EVENT_SIZE)) {
        event_to_bytes(event, slot);
    }
    events.len() * EVENT_SIZE
}

impl KernelScheme for EventScheme {
    fn open(&self, path: &str, _flags: usize, caller: &Caller) -> Result<Opened, Error> {
        if !path.is_empty() {
            return Err(Error::new(abi::syscall::error::ENOENT));
        }
        // The kernel's own opens (no process) share one count.
        static KERNEL_WATCHES: spin::Once<Arc<AtomicUsize>> = spin::Once::new();
        let charge = crate::context::process::get(caller.pid).map_or_else(
            || KERNEL_WATCHES.call_once(|| Arc::new(AtomicUsize::new(0))).clone(),
            |process| process.event_watches.clone(),
        );
        let queue = Arc::new(EventQueue { ready: Mutex::new(Vec::new()), wait: WaitQueue::new(), charge });
        Ok(Opened::Handle(self.queues.insert(queue)))
    }

    /// Ready events, as many whole `Event`s as fit.
    fn read(&self, handle: usize, buf: &mut [u8], flags: usize) -> Result<usize, Error> {
        let (_, taken) = self.take(handle, buf.len() / EVENT_SIZE, flags)?;
        Ok(events_to_bytes(&taken, buf))
    }

    /// Through the kernel's bounce buffer as any read, but all or nothing:
    /// events the caller's buffer could not take go back to the queue
    /// (the default read lost the events it took when the buffer turned
    /// out bad). Copying them straight out from the stack instead was
    /// measured slower under TCG for host -> guest transfers (README
    /// "Network").
    fn read_user(&self, handle: usize, buf: UserOut, flags: usize) -> Result<usize, Error> {
        // Take first, then copy out through a buffer of just what was
        // taken: a daemon reads with room for 16 events (384 bytes, a heap
        // buffer, zeroed, for every wake-up) and a wake-up takes one or two.
        let (queue, taken) = self.take(handle, buf.len().min(super::BOUNCE_MAX) / EVENT_SIZE, flags)?;
        super::with_bounce(taken.len() * EVENT_SIZE, |bounce| {
            let n = events_to_bytes(&taken, bounce);
            if let Err(err) = buf.prefix(n).copy_from_kernel(&bounce[..n]) {
                queue.put_back(&taken);
                return Err(err);
            }
            Ok(n)
        })
    }

    /// Watch requests, whole `Event`s; stops at the first that fails.
    fn write(&self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize, Error> {
        if buf.is_empty() || !buf.len().is_multiple_of(EVENT_SIZE) {
            return Err(Error::new(EINVAL));
        }
        let queue = self.queue(handle)?;
        let mut done = 0;
        for chunk in buf.chunks_exact(EVENT_SIZE) {
            if let Err(err) = self.watch(&queue, event_from_bytes(chunk)) {
                if done == 0 {
                    return Err(err);
                }
                break;
            }
            done += EVENT_SIZE;
        }
        Ok(done)
    }

    fn fevent(&self, handle: usize, interest: EventFlags) -> Result<EventFlags, Error> {
        let queue = self.queue(handle)?;
        let pending = without_interrupts(|| !queue.ready.lock().is_empty());
        Ok(if pending { interest & EventFlags::EVENT_READ } else { EventFlags::empty() })
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        self.queue(handle)?;
        stat.st_mode = MODE_CHR | 0o600;
        Ok(())
    }

    fn fpath(&self, handle: usize) -> Result<alloc::string::String, Error> {
        self.queue(handle)?;
        Ok(alloc::string::String::new())
    }

    /// The queue's watches go with it (and give their counts back).
    fn close(&self, handle: usize) -> Result<(), Error> {
        let queue = self.queues.remove(handle)?;
        if watching() {
            // Dropped after the registry's lock is released.
            let gone: Vec<Watch> = with_watches(|watches| {
                let theirs = |w: &Watch| core::ptr::eq(w.queue.as_ptr(), Arc::as_ptr(&queue));
                let mut gone = Vec::new();
                for list in watches.values_mut() {
                    let mut i = 0;
                    while i < list.len() {
                        if theirs(&list[i]) { gone.push(list.swap_remove(i)) } else { i += 1 }
                    }
                }
                watches.retain(|_, list| !list.is_empty());
                gone
            });
            drop(gone);
        }
        Ok(())
    }
}
