//! The open handles of a daemon's scheme: the numbers it hands out for
//! opens (and dups), each with its state. Every daemon keeps such a
//! table; this is the one they share.
//!
//! Numbers start at 1 and are never given out twice in a daemon's life, so
//! a stale handle (a caller's race with a close, a daemon's bug) is
//! `EBADF`, never someone else's file.

use alloc::collections::BTreeMap;

use rt::Error;
use rt::abi::syscall::EBADF;

/// Handles and their state `T`.
#[derive(Debug)]
pub struct Handles<T> {
    open: BTreeMap<usize, T>,
    next: usize,
}

impl<T> Default for Handles<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Handles<T> {
    pub const fn new() -> Handles<T> {
        Handles { open: BTreeMap::new(), next: 1 }
    }

    /// A new handle for `state`.
    pub fn insert(&mut self, state: T) -> usize {
        let handle = self.next;
        self.next += 1;
        self.open.insert(handle, state);
        handle
    }

    /// The state of `handle`, or `EBADF`.
    pub fn get(&self, handle: usize) -> Result<&T, Error> {
        self.open.get(&handle).ok_or(Error::new(EBADF))
    }

    /// The state of `handle` to change, or `EBADF`.
    pub fn get_mut(&mut self, handle: usize) -> Result<&mut T, Error> {
        self.open.get_mut(&handle).ok_or(Error::new(EBADF))
    }

    /// Close `handle`: its state, if it was open.
    pub fn remove(&mut self, handle: usize) -> Option<T> {
        self.open.remove(&handle)
    }

    pub fn contains(&self, handle: usize) -> bool {
        self.open.contains_key(&handle)
    }

    /// Every open handle and its state, in handle order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.open.iter().map(|(&handle, state)| (handle, state))
    }

    /// Every open handle and its state, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut T)> {
        self.open.iter_mut().map(|(&handle, state)| (handle, state))
    }
}
