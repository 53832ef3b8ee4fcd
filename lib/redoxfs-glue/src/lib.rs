//! The glue between the `redoxfs` crate and a disk served by a Ferrite
//! driver (`disk:N`): [`SchemeDisk`] implements `redoxfs::Disk`, whose
//! methods are declared `unsafe fn` (nothing in them is unsafe; the crate
//! marks them so to steer callers to its file system API). That signature
//! is the only reason this is a crate of its own: the `file:` daemon above
//! stays `#![forbid(unsafe_code)]`.
//!
//! Durability: RedoxFS never overwrites live data; a commit writes new
//! blocks, then a new header into its ring of [`redoxfs::HEADER_RING`]
//! blocks at the start of the file system. So that a power cut leaves
//! either the old header or a new one whose blocks are all on the disk,
//! every header write is fenced by the device's flush (`fsync` on the
//! `disk:` file): once before it (the blocks it points at are durable) and
//! once after (the commit is durable when the call returns).
//!
//! May touch: the one `disk:` file it is given.

#![no_std]

extern crate alloc;

use redox_syscall_06::error::{EIO, Error, Result};
use rt::fs::{File, SeekFrom};

/// A disk, as `redoxfs` reads and writes it: 4 KiB blocks at block
/// offsets, the file system starting at byte 0 of the file.
pub struct SchemeDisk {
    file: File,
    size: u64,
    /// Flushes made (two per commit), for the figures.
    pub flushes: u64,
    /// The disk failed a read, write or flush (its driver died, or the
    /// device reported an error); see [`SchemeDisk::failed`].
    failed: Option<rt::Error>,
}

fn eio<T>(_: rt::Error) -> Result<T> {
    Err(Error::new(EIO))
}

/// Remember the first failure.
fn note(failed: &mut Option<rt::Error>, err: rt::Error) -> rt::Error {
    failed.get_or_insert(err);
    err
}

impl SchemeDisk {
    /// The disk open on `file` (read-write); its size from `fstat`.
    pub fn new(file: File) -> rt::Result<SchemeDisk> {
        let size = file.stat()?.st_size;
        Ok(SchemeDisk { file, size, flushes: 0, failed: None })
    }

    /// Make everything written so far durable.
    pub fn flush(&mut self) -> rt::Result<()> {
        self.flushes += 1;
        rt::sys::fsync(self.file.fd()).map_err(|err| note(&mut self.failed, err))
    }

    /// The first error the disk gave, if any. A disk file whose driver
    /// restarted keeps failing (`EIO`), so the file system cannot go on:
    /// `redoxfsd` exits and init starts it again on the new driver.
    pub fn failed(&self) -> Option<rt::Error> {
        self.failed
    }

    fn seek_block(&mut self, block: u64) -> Result<()> {
        let offset = block.checked_mul(redoxfs::BLOCK_SIZE).ok_or(Error::new(EIO))?;
        let result = self.file.seek(SeekFrom::Start(offset));
        result.map_err(|err| note(&mut self.failed, err)).or_else(eio).map(drop)
    }
}

impl redoxfs::Disk for SchemeDisk {
    unsafe fn read_at(&mut self, block: u64, buffer: &mut [u8]) -> Result<usize> {
        self.seek_block(block)?;
        let result = self.file.read_exact(buffer);
        result.map_err(|err| note(&mut self.failed, err)).or_else(eio)?;
        Ok(buffer.len())
    }

    unsafe fn write_at(&mut self, block: u64, buffer: &[u8]) -> Result<usize> {
        let header = block < redoxfs::HEADER_RING;
        if header {
            self.flush().or_else(eio)?;
        }
        self.seek_block(block)?;
        let result = self.file.write_all(buffer);
        result.map_err(|err| note(&mut self.failed, err)).or_else(eio)?;
        if header {
            self.flush().or_else(eio)?;
        }
        Ok(buffer.len())
    }

    fn size(&mut self) -> Result<u64> {
        Ok(self.size)
    }
}
