//! Futexes: wait while a 32-bit word holds a value, wake waiters on it.
//! Waiters are keyed by the word's physical address, so processes sharing
//! memory (`MAP_SHARED`) meet on the same queue.

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
use crate::memory::usercopy::UserPtr;

static QUEUES: Mutex<BTreeMap<u64, Arc<WaitQueue>>> = Mutex::new(BTreeMap::new());

fn queue(key: u64) -> Arc<WaitQueue> {
    without_interrupts(|| QUEUES.lock().entry(key).or_insert_with(|| Arc::new(WaitQueue::new())).clone())
}

/// The physical address of the user word at `addr`, faulting it in first.
fn key(addr: usize) -> Result<(u64, u32), Error> {
    if !addr.is_multiple_of(4) {
        return Err(Error::new(EINVAL));
    }
    let value = UserPtr::<u32>::new(addr)?.read()?;
    let phys = with_current_space(|space| space.translate(addr as u64)).flatten().ok_or(Error::new(EFAULT))?;
    Ok((phys.as_u64(), value))
}

pub fn futex(addr: usize, op: usize, value: usize, timeout: usize) -> Result<usize, Error> {
    match op {
        FUTEX_WAIT => {
            let deadline = if timeout == 0 {
                0
            } else {
                let ts = UserPtr::<TimeSpec>::new(timeout)?.read()?;
                crate::time::now_ns().saturating_add(super::time::from_timespec(&ts)?).max(1)
            };
            let (phys, _) = key(addr)?;
            let expected = value as u32;
            let word = phys_to_virt(PhysAddr::new(phys)).as_ptr::<u32>();
            let queue = queue(phys);
            // SAFETY: `word` is the user word's frame seen through the
            // physical map; the page stays mapped (and the frame alive)
            // while this process, which is the one waiting, maps it.
            let still_equal = || unsafe { core::ptr::read_volatile(word) } == expected;
            if queue.wait_for_wake(still_equal, deadline)? { Ok(0) } else { Err(Error::new(EAGAIN)) }
        }
        FUTEX_WAKE => {
            let (phys, _) = key(addr)?;
            let existing = without_interrupts(|| QUEUES.lock().get(&phys).cloned());
            Ok(existing.map_or(0, |queue| queue.wake(value)))
        }
        _ => Err(Error::new(EINVAL)),
    }
}
