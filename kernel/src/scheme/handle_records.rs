//! What a user scheme keeps per handle for the handles that asked for it:
//! read-ahead buffers (§3.12), posted writes (§3.13), bytes handed over
//! (§3.14) of docs/architecture.md. One table type for the three, whose
//! common path on a scheme none of whose handles ever asked (a `chan:`
//! channel, a pipe-like daemon) is one load.
//!
//! May touch: its own map, under its lock with interrupts off; a record
//! replaced or removed is dropped after the lock is let go.

use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Records of type `T`, by handle number.
pub struct HandleRecords<T> {
    /// A record was ever made: until then nothing here is looked at.
    used: AtomicBool,
    records: Mutex<BTreeMap<usize, T>>,
}

impl<T> Default for HandleRecords<T> {
    fn default() -> Self {
        HandleRecords { used: AtomicBool::new(false), records: Mutex::new(BTreeMap::new()) }
    }
}

impl<T> HandleRecords<T> {
    /// Whether a record was ever made (else a call need not look).
    #[inline]
    pub fn used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }

    /// `handle`'s record is `record` from now on (what a closed handle of
    /// the same number left goes).
    pub fn insert(&self, handle: usize, record: T) {
        self.used.store(true, Ordering::Relaxed);
        let old = self.with(|records| records.insert(handle, record));
        drop(old);
    }

    /// `handle` closed, or was opened without asking: its record goes.
    #[inline]
    pub fn forget(&self, handle: usize) {
        if self.used() {
            self.remove(handle);
        }
    }

    /// [`Self::forget`] on a scheme that made records.
    #[inline(never)]
    fn remove(&self, handle: usize) {
        let old = self.with(|records| records.remove(&handle));
        drop(old);
    }

    /// Every record goes (the daemon is gone).
    pub fn clear(&self) {
        let old = self.with(core::mem::take);
        drop(old);
    }

    /// `f` on the records, under their lock (interrupts off).
    pub fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<usize, T>) -> R) -> R {
        without_interrupts(|| f(&mut self.records.lock()))
    }
}

impl<T: Clone> HandleRecords<T> {
    /// `handle`'s record, cloned (records shared with calls are `Arc`s).
    /// A hot path asks [`Self::used`] first.
    pub fn get(&self, handle: usize) -> Option<T> {
        self.with(|records| records.get(&handle).cloned())
    }
}
