//! Open files. A file description is a scheme and that scheme's handle;
//! descriptors in a process's table point at shared descriptions, so a
//! fork shares offsets as POSIX says, and the scheme's `close` runs when
//! the last descriptor goes.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use abi::syscall::error::{EBADF, EMFILE, Error};
use abi::syscall::{O_ACCMODE, O_APPEND, O_NONBLOCK};

use crate::scheme::{self, SchemeRef};

/// The most descriptors a process may have open.
pub const MAX_FILES: usize = 1024;

/// A file descriptor as a system call names it: an index into the
/// caller's [`FileTable`], never a handle of a scheme (those are plain
/// numbers the schemes give out). The dispatcher makes one from the
/// register that carries it, so a handler cannot mix the two up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fd(pub usize);

pub struct FileDescription {
    pub scheme: SchemeRef,
    pub handle: usize,
    /// Access mode and status flags (`O_NONBLOCK`, `O_APPEND`), shared by
    /// every descriptor of this description, changed by `F_SETFL`.
    flags: AtomicUsize,
}

/// The status flags `F_SETFL` may change.
pub const SETTABLE_FLAGS: usize = O_NONBLOCK | O_APPEND;
/// The flags a description keeps from its open (what its reads and
/// writes pass on to the scheme).
pub const KEPT_FLAGS: usize = O_ACCMODE | SETTABLE_FLAGS;

impl FileDescription {
    pub fn new(scheme: SchemeRef, handle: usize, open_flags: usize) -> FileDescription {
        FileDescription { scheme, handle, flags: AtomicUsize::new(open_flags & KEPT_FLAGS) }
    }

    pub fn flags(&self) -> usize {
        self.flags.load(Ordering::Relaxed)
    }

    /// `F_SETFL`: replace the settable status flags.
    pub fn set_status_flags(&self, flags: usize) {
        let _ = self.flags.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
            Some(old & !SETTABLE_FLAGS | flags & SETTABLE_FLAGS)
        });
    }
}

impl Drop for FileDescription {
    fn drop(&mut self) {
        scheme::event::forget(self.scheme.key(), self.handle);
        if let Err(err) = self.scheme.scheme().close(self.handle) {
            crate::caller_log!(Debug, "close on {}: {err}", self.scheme.name());
        }
    }
}

/// One descriptor: the open file, and whether exec closes it.
#[derive(Clone)]
struct Slot {
    file: Arc<FileDescription>,
    close_on_exec: bool,
}

/// A process's descriptors: index = fd.
#[derive(Clone, Default)]
pub struct FileTable {
    slots: Vec<Option<Slot>>,
}

impl FileTable {
    /// The lowest free descriptor gets `file`.
    pub fn insert(&mut self, file: Arc<FileDescription>, close_on_exec: bool) -> Result<usize, Error> {
        let slot = Some(Slot { file, close_on_exec });
        if let Some(fd) = self.slots.iter().position(Option::is_none) {
            self.slots[fd] = slot;
            return Ok(fd);
        }
        if self.slots.len() >= MAX_FILES {
            return Err(Error::new(EMFILE));
        }
        self.slots.push(slot);
        Ok(self.slots.len() - 1)
    }

    /// Close every descriptor opened with `O_CLOEXEC` (on exec).
    pub fn close_on_exec(&mut self) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|s| s.close_on_exec) {
                *slot = None;
            }
        }
    }

    pub fn get(&self, Fd(fd): Fd) -> Result<Arc<FileDescription>, Error> {
        self.slots.get(fd).and_then(Option::as_ref).map(|s| s.file.clone()).ok_or(Error::new(EBADF))
    }

    /// Whether exec closes `fd`.
    pub fn close_on_exec_flag(&self, Fd(fd): Fd) -> Result<bool, Error> {
        self.slots.get(fd).and_then(Option::as_ref).map(|s| s.close_on_exec).ok_or(Error::new(EBADF))
    }

    pub fn set_close_on_exec(&mut self, Fd(fd): Fd, value: bool) -> Result<(), Error> {
        let slot = self.slots.get_mut(fd).and_then(Option::as_mut).ok_or(Error::new(EBADF))?;
        slot.close_on_exec = value;
        Ok(())
    }

    /// Put `file` at exactly `fd` (dup2), returning what was there.
    pub fn insert_at(
        &mut self,
        Fd(fd): Fd,
        file: Arc<FileDescription>,
        close_on_exec: bool,
    ) -> Result<Option<Arc<FileDescription>>, Error> {
        if fd >= MAX_FILES {
            return Err(Error::new(EBADF));
        }
        if self.slots.len() <= fd {
            self.slots.resize(fd + 1, None);
        }
        Ok(self.slots[fd].replace(Slot { file, close_on_exec }).map(|s| s.file))
    }

    pub fn remove(&mut self, Fd(fd): Fd) -> Result<Arc<FileDescription>, Error> {
        self.slots.get_mut(fd).and_then(Option::take).map(|s| s.file).ok_or(Error::new(EBADF))
    }

    /// Descriptors 0, 1, 2 on the kernel console, for the first process.
    pub fn with_console() -> Result<Self, Error> {
        let mut table = Self::default();
        for _ in 0..3 {
            let file = scheme::open_kernel("debug:", abi::syscall::O_RDWR)?;
            table.insert(file, false)?;
        }
        Ok(table)
    }
}

/// The current process's open file `fd` (on every file call: inlined).
#[inline]
pub fn current(fd: Fd) -> Result<Arc<FileDescription>, Error> {
    with_current_files(|files| files.get(fd))
}

/// Take `fd` out of the current process's table (it is being handed on).
pub fn take_current(fd: Fd) -> Result<Arc<FileDescription>, Error> {
    with_current_files(|files| files.remove(fd))
}

/// Give the current process `file` as its lowest free fd.
pub fn insert_current(file: Arc<FileDescription>, close_on_exec: bool) -> Result<usize, Error> {
    with_current_files(|files| files.insert(file, close_on_exec))
}

/// Run `f` on the current process's file table (without taking a
/// reference to the thread or the process: this runs on every file call).
fn with_current_files<R>(f: impl FnOnce(&mut FileTable) -> Result<R, Error>) -> Result<R, Error> {
    super::scheduler::with_current(|thread| {
        let process = thread.process.as_ref().ok_or(Error::new(EBADF))?;
        let mut files = process.files.lock();
        f(&mut files)
    })
}
