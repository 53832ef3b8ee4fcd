//! The open handles of a kernel scheme: numbers handed out for opens, each
//! with the scheme's state for it, behind one lock taken with interrupts
//! off (schemes are reached from interrupt handlers too). Every kernel
//! scheme with per-open state keeps it here; daemons have the same thing
//! in `lib/scheme` (`Handles`).
//!
//! Numbers start at 1 and are never reused, so a stale handle is `EBADF`.
//! The lock is never held while calling out: `with` runs a short closure
//! on the state, `get` clones it out (schemes keep `Arc`s there when the
//! work is long).
//!
//! Lock order: a table's lock is taken alone or before the locks of the
//! objects its states point to, never after them.

use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicUsize, Ordering};

use abi::syscall::error::{EBADF, Error};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

pub struct HandleTable<T> {
    open: Mutex<BTreeMap<usize, T>>,
    next: AtomicUsize,
}

impl<T> Default for HandleTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> HandleTable<T> {
    pub const fn new() -> HandleTable<T> {
        HandleTable { open: Mutex::new(BTreeMap::new()), next: AtomicUsize::new(1) }
    }

    /// A new handle for `state`.
    pub fn insert(&self, state: T) -> usize {
        let handle = self.next.fetch_add(1, Ordering::Relaxed);
        without_interrupts(|| self.open.lock().insert(handle, state));
        handle
    }

    /// A new handle for the state `make` builds from its number (for state
    /// that must know its own handle); nothing is inserted if it fails.
    pub fn insert_with<E>(&self, make: impl FnOnce(usize) -> Result<T, E>) -> Result<usize, E> {
        let handle = self.next.fetch_add(1, Ordering::Relaxed);
        let state = make(handle)?;
        without_interrupts(|| self.open.lock().insert(handle, state));
        Ok(handle)
    }

    /// Run `f` on `handle`'s state (with the table locked: keep it short),
    /// or `EBADF`.
    pub fn with<R>(&self, handle: usize, f: impl FnOnce(&mut T) -> R) -> Result<R, Error> {
        without_interrupts(|| self.open.lock().get_mut(&handle).map(f)).ok_or(Error::new(EBADF))
    }

    /// Close `handle`: its state, or `EBADF`.
    pub fn remove(&self, handle: usize) -> Result<T, Error> {
        without_interrupts(|| self.open.lock().remove(&handle)).ok_or(Error::new(EBADF))
    }
}

impl<T: Clone> HandleTable<T> {
    /// A copy of `handle`'s state (an `Arc`, usually), or `EBADF`.
    pub fn get(&self, handle: usize) -> Result<T, Error> {
        self.with(handle, |state| state.clone())
    }
}
