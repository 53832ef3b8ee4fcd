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
//! Read-ahead: a read of a few blocks right after the one before it (the
//! mount's scan of the header ring, a file read from start to end) fetches
//! [`WINDOW`] blocks at once and serves the next reads from them; writes
//! update what of the window they overlap. Reads elsewhere go straight to
//! the disk, so a walk through the tree does not drag in blocks it never
//! uses.
//!
//! May touch: the one `disk:` file it is given.

#![no_std]

extern crate alloc;

use alloc::vec::Vec;

use redox_syscall_06::error::{EIO, Error, Result};
use rt::fs::{File, SeekFrom};

/// Blocks fetched at once by a sequential read (256 KiB).
pub const WINDOW: u64 = 64;

/// Blocks read ahead: `data` holds the blocks from `first` on.
struct Window {
    first: u64,
    data: Vec<u8>,
}

impl Window {
    fn blocks(&self) -> u64 {
        self.data.len() as u64 / redoxfs::BLOCK_SIZE
    }

    /// Where the blocks `block..block + count` are in `data`, if all are.
    fn range(&self, block: u64, count: u64) -> Option<core::ops::Range<usize>> {
        let end = block.checked_add(count)?;
        if block < self.first || end > self.first + self.blocks() {
            return None;
        }
        let start = ((block - self.first) * redoxfs::BLOCK_SIZE) as usize;
        Some(start..start + (count * redoxfs::BLOCK_SIZE) as usize)
    }
}

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
    /// The blocks read ahead, and the block a sequential read would ask
    /// for next.
    window: Option<Window>,
    next: u64,
    /// Reads that went to the disk, for the figures.
    pub reads: u64,
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
        Ok(SchemeDisk { file, size, flushes: 0, failed: None, window: None, next: u64::MAX, reads: 0 })
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

    /// Reads `buffer.len()` bytes at `block` from the disk.
    fn read_direct(&mut self, block: u64, buffer: &mut [u8]) -> Result<()> {
        self.seek_block(block)?;
        self.reads += 1;
        let result = self.file.read_exact(buffer);
        result.map_err(|err| note(&mut self.failed, err)).or_else(eio)
    }

    fn seek_block(&mut self, block: u64) -> Result<()> {
        let offset = block.checked_mul(redoxfs::BLOCK_SIZE).ok_or(Error::new(EIO))?;
        let result = self.file.seek(SeekFrom::Start(offset));
        result.map_err(|err| note(&mut self.failed, err)).or_else(eio).map(drop)
    }
}

impl redoxfs::Disk for SchemeDisk {
    unsafe fn read_at(&mut self, block: u64, buffer: &mut [u8]) -> Result<usize> {
        let count = (buffer.len() as u64).div_ceil(redoxfs::BLOCK_SIZE);
        let sequential = block == self.next;
        self.next = block.saturating_add(count);
        if let Some(range) = self.window.as_ref().and_then(|w| w.range(block, count)) {
            let data = &self.window.as_ref().map_or(&[][..], |w| &w.data[..])[range];
            buffer.copy_from_slice(&data[..buffer.len()]);
            return Ok(buffer.len());
        }
        let disk_blocks = self.size / redoxfs::BLOCK_SIZE;
        let ahead = WINDOW.min(disk_blocks.saturating_sub(block));
        if sequential && count < WINDOW && ahead >= count && buffer.len() as u64 == count * redoxfs::BLOCK_SIZE {
            let mut data = alloc::vec![0u8; (ahead * redoxfs::BLOCK_SIZE) as usize];
            self.read_direct(block, &mut data)?;
            buffer.copy_from_slice(&data[..buffer.len()]);
            self.window = Some(Window { first: block, data });
            return Ok(buffer.len());
        }
        self.read_direct(block, buffer)?;
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
        // What of the window this write covers now reads as written.
        if let Some(window) = &mut self.window {
            let end = block.saturating_add((buffer.len() as u64).div_ceil(redoxfs::BLOCK_SIZE));
            let (from, to) = (block.max(window.first), end.min(window.first + window.blocks()));
            if from < to {
                let in_window = ((from - window.first) * redoxfs::BLOCK_SIZE) as usize;
                let in_buffer = ((from - block) * redoxfs::BLOCK_SIZE) as usize;
                let len = (((to - from) * redoxfs::BLOCK_SIZE) as usize).min(buffer.len() - in_buffer);
                window.data[in_window..in_window + len].copy_from_slice(&buffer[in_buffer..in_buffer + len]);
            }
        }
        if header {
            self.flush().or_else(eio)?;
        }
        Ok(buffer.len())
    }

    fn size(&mut self) -> Result<u64> {
        Ok(self.size)
    }
}
