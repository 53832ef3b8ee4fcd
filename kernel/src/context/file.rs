//! Open files. A file description is a scheme and that scheme's handle;
//! descriptors in a process's table point at shared descriptions, so a
//! fork shares offsets as POSIX says, and the scheme's `close` runs when
//! the last descriptor goes.

use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::syscall::error::{EBADF, EMFILE, Error};

use crate::scheme::{self, SchemeRef};

/// The most descriptors a process may have open.
pub const MAX_FILES: usize = 1024;

pub struct FileDescription {
    pub scheme: SchemeRef,
    pub handle: usize,
}

impl Drop for FileDescription {
    fn drop(&mut self) {
        if let Err(err) = self.scheme.scheme().close(self.handle) {
            log::debug!("close on {}: {err}", self.scheme.name());
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

    pub fn get(&self, fd: usize) -> Result<Arc<FileDescription>, Error> {
        self.slots.get(fd).and_then(Option::as_ref).map(|s| s.file.clone()).ok_or(Error::new(EBADF))
    }

    pub fn remove(&mut self, fd: usize) -> Result<Arc<FileDescription>, Error> {
        self.slots.get_mut(fd).and_then(Option::take).map(|s| s.file).ok_or(Error::new(EBADF))
    }

    /// Descriptors 0, 1, 2 on the kernel console, for the first process.
    pub fn with_console() -> Result<Self, Error> {
        let mut table = Self::default();
        for _ in 0..3 {
            let file = scheme::open_kernel("debug:", abi::syscall::O_RDWR)?;
            table.insert(Arc::new(file), false)?;
        }
        Ok(table)
    }
}
