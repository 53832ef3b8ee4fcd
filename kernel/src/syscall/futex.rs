//! Futexes: wait while a 32-bit word holds a value, wake waiters on it.
//! A word in shared memory (`MAP_SHARED`) is keyed by its physical address,
//! so every process mapping it meets on the same queue; a word in private
//! memory is keyed by its address space and virtual address, so a parent
//! and child whose private pages still share a copy-on-write frame do not
//! wake each other.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;

use abi::syscall::error::{EAGAIN, EFAULT, EINVAL, Error};
use abi::syscall::{FUTEX_WAIT, FUTEX_WAKE, TimeSpec};
use spin::Mutex;
use x86_64::PhysAddr;
use x86_64::instructions::interrupts::without_interrupts;

use crate::context::wait_queue::WaitQueue;
use crate::context::with_current_space;
use crate::memory::phys_to_virt;
use crate::memory::usercopy::{In, UserPtr};

/// (0, physical address) for shared words; (PML4 address, virtual
/// address) for private ones.
type Key = (u64, u64);

/// Queues exist only while someone waits on them: a waiter creates its
/// key's queue and the last one to leave removes it ([`leave`]), so the
/// table never holds more entries than there are waiting threads, whatever
/// addresses callers pick.
static QUEUES: Mutex<BTreeMap<Key, Arc<WaitQueue>>> = Mutex::new(BTreeMap::new());

fn queue(key: Key) -> Arc<WaitQueue> {
    without_interrupts(|| QUEUES.lock().entry(key).or_insert_with(|| Arc::new(WaitQueue::new())).clone())
}

/// A waiter is done with `queue`: if nobody else holds it (no other
/// waiter, no waker in the middle of a wake), take it out of the table.
fn leave(key: Key, queue: Arc<WaitQueue>) {
    without_interrupts(|| {
        let mut queues = QUEUES.lock();
        // The table's reference and ours: nobody else can reach it, and no
        // one can get a new reference without this lock.
        if Arc::strong_count(&queue) == 2 {
            queues.remove(&key);
        }
    });
}

/// The queue key of the user word at `addr` and where it is physically
/// (faulting the page in first).
fn key(addr: usize) -> Result<(Key, u64), Error> {
    if !addr.is_multiple_of(4) {
        return Err(Error::new(EINVAL));
    }
    UserPtr::<u32, In>::new(addr)?.read()?;
    with_current_space(|space| {
        let phys = space.translate(addr as u64)?.as_u64();
        let shared = space.region_at(addr as u64)?.1.shared;
        let key = if shared { (0, phys) } else { (space.pml4().start_address().as_u64(), addr as u64) };
        Some((key, phys))
    })
    .flatten()
    .ok_or(Error::new(EFAULT))
}

pub fn futex(addr: usize, op: usize, value: usize, timeout: usize) -> Result<usize, Error> {
    match op {
        FUTEX_WAIT => {
            let deadline = if timeout == 0 {
                0
            } else {
                let ts = UserPtr::<TimeSpec, In>::new(timeout)?.read()?;
                crate::time::now_ns().saturating_add(super::time::from_timespec(&ts)?).max(1)
            };
            let (key, phys) = key(addr)?;
            let expected = value as u32;
            let word = phys_to_virt(PhysAddr::new(phys)).as_ptr::<u32>();
            let queue = queue(key);
            // SAFETY: `word` is the user word's frame seen through the
            // physical map; the page stays mapped (and the frame alive)
            // while this process, which is the one waiting, maps it.
            let still_equal = || unsafe { core::ptr::read_volatile(word) } == expected;
            let woken = queue.wait_for_wake(still_equal, deadline);
            leave(key, queue);
            if woken? { Ok(0) } else { Err(Error::new(EAGAIN)) }
        }
        FUTEX_WAKE => {
            let (key, _) = key(addr)?;
            let existing = without_interrupts(|| QUEUES.lock().get(&key).cloned());
            Ok(existing.map_or(0, |queue| queue.wake(value)))
        }
        _ => Err(Error::new(EINVAL)),
    }
}
