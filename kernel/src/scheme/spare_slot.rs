//! One `Arc` kept for reuse without a lock: a user scheme's finished call
//! (`user.rs`), put back by whichever thread lets go of it last and taken
//! by the next call, on any CPU. A round trip puts one back and takes one;
//! through a locked list (with interrupts off around the lock) that cost
//! about 60 instructions of a 2,800-instruction round trip
//! (docs/performance-log.md).
//!
//! May touch: only its own slot.

use alloc::sync::Arc;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

/// Empty, or holding one strong count of an `Arc<T>` as its raw pointer.
pub struct SpareSlot<T> {
    raw: AtomicPtr<T>,
    /// It owns what it holds: sendable and shareable as an `Arc<T>` is.
    _owns: PhantomData<Arc<T>>,
}

impl<T> SpareSlot<T> {
    pub const fn new() -> SpareSlot<T> {
        SpareSlot { raw: AtomicPtr::new(ptr::null_mut()), _owns: PhantomData }
    }

    /// What it holds, if anything; it is empty after.
    #[inline]
    pub fn take(&self) -> Option<Arc<T>> {
        let raw = self.raw.swap(ptr::null_mut(), Ordering::Acquire);
        if raw.is_null() {
            return None;
        }
        // SAFETY: a pointer in the slot came from `Arc::into_raw` in `put`
        // and carries that strong count; the swap took it out, so no other
        // `take` (nor `drop`) can turn it back into an `Arc` too.
        Some(unsafe { Arc::from_raw(raw) })
    }

    /// Keeps `value` if the slot is empty, else gives it back.
    #[inline]
    pub fn put(&self, value: Arc<T>) -> Option<Arc<T>> {
        let raw = Arc::into_raw(value).cast_mut();
        match self.raw.compare_exchange(ptr::null_mut(), raw, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => None,
            // SAFETY: `raw` came from `Arc::into_raw` just above and did not
            // enter the slot, so its strong count is still ours to take back.
            Err(_) => Some(unsafe { Arc::from_raw(raw) }),
        }
    }
}

impl<T> Default for SpareSlot<T> {
    fn default() -> SpareSlot<T> {
        SpareSlot::new()
    }
}

impl<T> Drop for SpareSlot<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}
