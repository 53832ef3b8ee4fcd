//! Wait queues: a thread blocks on one until another thread (or an
//! interrupt, or another CPU) wakes it. Waits are interruptible: a thread
//! whose process is being killed is woken and the wait returns `EINTR`.
//!
//! The condition is checked with the queue locked, and wakers change the
//! condition before taking the lock, so a wake-up cannot fall between the
//! check and the sleep.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use core::sync::atomic::Ordering;

use abi::syscall::O_NONBLOCK;
use abi::syscall::error::{EAGAIN, EINTR, ETIMEDOUT, Error};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

use super::scheduler;
use super::thread::{State, Thread};

/// What [`block`] decided (and, first, whether the wait was over).
enum Block {
    /// The condition holds: no need to sleep.
    Ready,
    /// Marked blocked: queue it and sleep.
    Sleep,
    /// Its process is being killed and nobody woke it: it stays running.
    Killed,
    /// Its process is being killed and the killer already woke it (it sits
    /// in a run queue): it must pass through the scheduler once, then the
    /// wait ends with `EINTR`.
    KilledAndWoken,
}

/// Mark `me` blocked, unless its process is being killed. The fence pairs
/// with the one in `Process::kill`: either the killer sees the thread
/// blocked and wakes it, or the thread sees the signal here; a kill can
/// never fall in between.
fn block(me: &Arc<Thread>) -> Block {
    me.set_state(State::Blocked);
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    if !scheduler::current_killed() {
        return Block::Sleep;
    }
    if me.blocked_to_running() { Block::Killed } else { Block::KilledAndWoken }
}

/// Sleep until `ready()` holds, for a wait whose waker knows the one
/// thread waiting (a scheme call's caller: the call records it) and wakes
/// it with [`scheduler::wake`] -- no queue to lock, fill and empty. The
/// waker must change the condition and wake under one lock that `ready`
/// takes too: then a waiter that saw the condition hold was either woken
/// already (it passes through the scheduler once, so that run-queue entry
/// is used up) or never will be by this waker, and no wake-up is left
/// over to hit a later wait. Spurious wake-ups (a kill, a stale waker of
/// an earlier wait) only make it look again. `EINTR` if the process is
/// being killed.
pub fn wait_alone(mut ready: impl FnMut() -> bool) -> Result<(), Error> {
    loop {
        // None: sleep. Some((ready, woken)): the wait is over (the
        // condition holds, or the process is being killed), and whether a
        // waker queued this thread to run meanwhile.
        let over = without_interrupts(|| {
            scheduler::with_current(|me| {
                me.set_state(State::Blocked);
                core::sync::atomic::fence(Ordering::SeqCst);
                let done = ready();
                if !done && !scheduler::current_killed() {
                    return None;
                }
                Some((done, !me.blocked_to_running()))
            })
        });
        let Some((done, woken)) = over else {
            scheduler::schedule();
            // Woken: most often the condition holds now (the waker set it
            // and woke this thread under the lock `ready` takes), and a
            // look says so without blocking again first. This thread is
            // running, so no waker can queue it meanwhile; one woken for
            // another reason (a kill, a stale waker) goes round.
            if without_interrupts(&mut ready) {
                return Ok(());
            }
            continue;
        };
        if woken {
            scheduler::schedule();
        }
        return if done { Ok(()) } else { Err(Error::new(EINTR)) };
    }
}

pub struct WaitQueue {
    waiters: Mutex<Waiters>,
}

/// The threads waiting, oldest first. The oldest sits in a slot of its
/// own, so a queue with one waiter at a time -- a scheme call's caller, a
/// daemon waiting for requests, most pipes -- never allocates.
struct Waiters {
    first: Option<Arc<Thread>>,
    rest: VecDeque<Arc<Thread>>,
}

impl Waiters {
    const fn new() -> Waiters {
        Waiters { first: None, rest: VecDeque::new() }
    }

    fn push_back(&mut self, thread: Arc<Thread>) {
        thread.in_wait_queue.store(true, Ordering::Relaxed);
        if self.first.is_none() {
            self.first = Some(thread);
        } else {
            self.rest.push_back(thread);
        }
    }

    fn pop_front(&mut self) -> Option<Arc<Thread>> {
        let front = self.first.take();
        self.first = self.rest.pop_front();
        if let Some(thread) = &front {
            thread.in_wait_queue.store(false, Ordering::Relaxed);
        }
        front
    }

    fn contains(&self, thread: &Arc<Thread>) -> bool {
        self.first.as_ref().is_some_and(|t| Arc::ptr_eq(t, thread)) || self.rest.iter().any(|t| Arc::ptr_eq(t, thread))
    }

    /// Take `thread` out; whether it was there.
    fn remove(&mut self, thread: &Arc<Thread>) -> bool {
        if self.first.as_ref().is_some_and(|t| Arc::ptr_eq(t, thread)) {
            self.first = self.rest.pop_front();
            thread.in_wait_queue.store(false, Ordering::Relaxed);
            return true;
        }
        match self.rest.iter().position(|t| Arc::ptr_eq(t, thread)) {
            Some(at) => {
                self.rest.remove(at);
                thread.in_wait_queue.store(false, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueue {
    pub const fn new() -> Self {
        Self { waiters: Mutex::new(Waiters::new()) }
    }

    /// Sleep until `ready()` holds. `deadline` (monotonic ns, 0 = none)
    /// bounds the wait with `ETIMEDOUT`.
    pub fn wait_until(&self, mut ready: impl FnMut() -> bool, deadline: u64) -> Result<(), Error> {
        let me = scheduler::current();
        loop {
            if !self.enqueue_unless(&me, &mut ready)? {
                return Ok(());
            }
            if deadline != 0 {
                scheduler::sleep_until(&me, deadline);
            } else {
                scheduler::schedule();
            }
            // Still queued only if something else woke it (a kill, the
            // deadline): the queue's own wake-up took it out already.
            if me.in_wait_queue.load(Ordering::Relaxed) {
                self.remove(&me);
            }
            if scheduler::current_killed() {
                return Err(Error::new(EINTR));
            }
            // Woken: most often the condition holds now, and a look
            // without the queue's lock says so (the lock is only needed to
            // check and queue as one step).
            if without_interrupts(&mut ready) {
                return Ok(());
            }
            if deadline != 0 && crate::time::now_ns() >= deadline {
                return Err(Error::new(ETIMEDOUT));
            }
        }
    }

    /// What a read or write on a file with status `flags` does when it
    /// cannot go on: wait until `ready()` holds, or, with `O_NONBLOCK`,
    /// fail at once with `EAGAIN` if it does not hold now.
    pub fn wait_unless_nonblocking(&self, flags: usize, mut ready: impl FnMut() -> bool) -> Result<(), Error> {
        if flags & O_NONBLOCK == 0 {
            return self.wait_until(ready, 0);
        }
        if without_interrupts(&mut ready) { Ok(()) } else { Err(Error::new(EAGAIN)) }
    }

    /// Futex-style wait: if `still_valid()` holds (checked with the queue
    /// locked), sleep until a waker takes this thread off the queue.
    /// `Ok(false)` if it did not hold; `ETIMEDOUT` after `deadline`
    /// (monotonic ns, 0 = none); `EINTR` if the process is killed.
    pub fn wait_for_wake(&self, still_valid: impl FnOnce() -> bool, deadline: u64) -> Result<bool, Error> {
        let me = scheduler::current();
        if !self.enqueue_unless(&me, || !still_valid())? {
            return Ok(false);
        }
        loop {
            if deadline != 0 {
                scheduler::sleep_until(&me, deadline);
            } else {
                scheduler::schedule();
            }
            let outcome = without_interrupts(|| {
                let mut waiters = self.waiters.lock();
                if !waiters.contains(&me) {
                    return Some(Ok(true));
                }
                if scheduler::current_killed() {
                    waiters.remove(&me);
                    return Some(Err(Error::new(EINTR)));
                }
                if deadline != 0 && crate::time::now_ns() >= deadline {
                    waiters.remove(&me);
                    return Some(Err(Error::new(ETIMEDOUT)));
                }
                // Woken for another reason: wait again.
                me.set_state(State::Blocked);
                None
            });
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    /// With the queue locked: unless `done()` holds, mark `me` blocked
    /// and queue it. The check and the queuing are one step under the
    /// lock, so a waker cannot fall between them. `Ok(true)`: queued, go
    /// to sleep; `Ok(false)`: done already; `EINTR`: the process is being
    /// killed.
    fn enqueue_unless(&self, me: &Arc<Thread>, done: impl FnOnce() -> bool) -> Result<bool, Error> {
        let decision = without_interrupts(|| {
            let mut waiters = self.waiters.lock();
            if done() {
                return Block::Ready;
            }
            let decision = block(me);
            if matches!(decision, Block::Sleep) {
                waiters.push_back(me.clone());
            }
            decision
        });
        match decision {
            Block::Sleep => Ok(true),
            Block::Ready => Ok(false),
            Block::Killed => Err(Error::new(EINTR)),
            Block::KilledAndWoken => {
                // Queued to run by the killer: pass through the scheduler
                // once so that queue entry is used up.
                scheduler::schedule();
                Err(Error::new(EINTR))
            }
        }
    }

    fn remove(&self, thread: &Arc<Thread>) {
        without_interrupts(|| self.waiters.lock().remove(thread));
    }

    /// Wake up to `count` waiters; returns how many were woken.
    pub fn wake(&self, count: usize) -> usize {
        let mut woken = 0;
        while woken < count {
            // The last waiter taken says so, which spares a second look
            // (most queues have one waiter at a time).
            let taken = without_interrupts(|| {
                let mut waiters = self.waiters.lock();
                waiters.pop_front().map(|thread| (thread, waiters.first.is_some()))
            });
            let Some((thread, more)) = taken else {
                break;
            };
            if scheduler::wake(&thread) {
                woken += 1;
            }
            if !more {
                break;
            }
        }
        woken
    }

    pub fn wake_all(&self) -> usize {
        self.wake(usize::MAX)
    }
}
