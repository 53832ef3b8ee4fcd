//! The glue between the `redoxfs` crate and a disk served by a Ferrite
//! driver (`disk:N`): [`SchemeDisk`] implements `redoxfs::Disk`, whose
//! methods are declared `unsafe fn` (nothing in them is unsafe; the crate
//! marks them so to steer callers to its file system API), and [`Group`]
//! commits many of its transactions at once, which needs the crate's
//! `unsafe` allocator access. Those signatures are the only reason this is
//! a crate of its own: the `file:` daemon above stays
//! `#![forbid(unsafe_code)]`.
//!
//! Durability: RedoxFS never overwrites live data; a commit writes new
//! blocks, then a new header into its ring of [`redoxfs::HEADER_RING`]
//! blocks at the start of the file system. Here a header write is kept
//! back ([`SchemeDisk::make_durable`] writes the last one): so that a
//! power cut leaves either the old header or a new one whose blocks are
//! all on the disk, the header is fenced by the device's flush (`fsync` on
//! the `disk:` file), once before it (the blocks it points at are durable)
//! and once after (the commit is durable when the call returns). Why
//! keeping headers back is safe, and what makes it so, is in [`group`].
//!
//! Write-back: written blocks wait in memory (the last version of each)
//! until the commit is made durable, or until [`PENDING_MAX`] bytes wait;
//! then they go to the disk in block order, runs of consecutive blocks as
//! one request of up to [`GATHER`] bytes, before the flush that fences the
//! header. A block rewritten by many transactions in between (a directory
//! that gains a thousand files) goes to the disk once.
//!
//! Caching: the blocks read and written are kept in a
//! [`block_cache::BlockCache`] of [`CACHED`] blocks (write-through), since
//! every transaction walks the same tree nodes again. A read of a few
//! blocks right after the one before it (the mount's scan of the header
//! ring, a file read from start to end) fetches [`WINDOW`] blocks at once
//! into the cache. Reads and writes of [`UNCACHED`] blocks or more (file
//! data, whole records) bypass it.
//!
//! May touch: the one `disk:` file it is given, the file system's
//! in-memory allocator ([`group`]).

#![no_std]

extern crate alloc;

pub mod group;

pub use group::Group;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use redox_syscall_06::error::{EIO, Error, Result};
use rt::fs::{File, SeekFrom};

/// Blocks fetched at once by a sequential read (256 KiB).
pub const WINDOW: u64 = 64;
/// Reads of this many blocks or more (a file's record is up to 32) go
/// to the disk straight into the caller's buffer and are not cached: the
/// data of a file read from start to end is seldom read again, and keeping
/// it would cost two copies and push out the tree's blocks, which every
/// transaction reads.
pub const UNCACHED: u64 = 16;
/// Blocks cached (4 MiB).
pub const CACHED: usize = 1024;
/// The most bytes of consecutive blocks sent as one request.
pub const GATHER: usize = 1 << 20;
/// The most bytes of written blocks kept back (8 MiB).
pub const PENDING_MAX: usize = 8 << 20;

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
    /// What was read and written, and the block a sequential read would
    /// ask for next.
    pub cache: block_cache::BlockCache,
    next: u64,
    /// Blocks written and not yet sent to the disk.
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    /// The last header written and not yet on the disk: its block and
    /// bytes ([`SchemeDisk::make_durable`]).
    header: Option<(u64, Vec<u8>)>,
    /// The buffer of the last sequential read's window, kept for the next
    /// (a new one each time would be a zeroed mapping of 256 KiB).
    window: Vec<u8>,
    /// Reads and writes that went to the disk, for the figures.
    pub reads: u64,
    pub writes: u64,
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
        Ok(SchemeDisk {
            file,
            size,
            flushes: 0,
            failed: None,
            cache: block_cache::BlockCache::new(redoxfs::BLOCK_SIZE as usize, CACHED),
            next: u64::MAX,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            header: None,
            window: Vec::new(),
            reads: 0,
            writes: 0,
        })
    }

    /// Make everything written so far durable.
    fn flush(&mut self) -> rt::Result<()> {
        self.send_pending()?;
        self.flushes += 1;
        rt::sys::fsync(self.file.fd()).map_err(|err| note(&mut self.failed, err))
    }

    /// Make the last commit durable: the blocks written so far, a flush,
    /// the header kept back, a flush. Nothing to do when no commit is
    /// pending. Call it through [`Group::make_durable`], which also gives
    /// the blocks held back to the allocator.
    pub fn make_durable(&mut self) -> rt::Result<()> {
        let Some((block, header)) = self.header.take() else { return Ok(()) };
        self.flush()?;
        let result = self
            .file
            .seek(SeekFrom::Start(block * redoxfs::BLOCK_SIZE))
            .and_then(|_| self.file.write_all(&header))
            .map_err(|err| note(&mut self.failed, err));
        self.writes += 1;
        result?;
        self.flush()?;
        Ok(())
    }

    /// The disk file's fd, to watch with `event:`: its driver's death is
    /// reported there (then [`SchemeDisk::probe`] finds it out).
    pub fn fd(&self) -> usize {
        self.file.fd()
    }

    /// Asks the disk whether it still answers (an `fstat`); a failure is
    /// remembered as any other ([`SchemeDisk::failed`]).
    pub fn probe(&mut self) {
        if let Err(err) = self.file.stat() {
            note(&mut self.failed, err);
        }
    }

    /// Whether a commit waits to be made durable.
    pub fn commit_pending(&self) -> bool {
        self.header.is_some()
    }

    /// The first error the disk gave, if any. A disk file whose driver
    /// restarted keeps failing (`EIO`), so the file system cannot go on:
    /// `redoxfsd` exits and init starts it again on the new driver.
    pub fn failed(&self) -> Option<rt::Error> {
        self.failed
    }

    /// Sends the blocks kept back, in order, consecutive ones together.
    fn send_pending(&mut self) -> rt::Result<()> {
        let pending = core::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let mut run: Vec<u8> = Vec::new();
        let mut first = 0;
        for (block, data) in pending {
            let next = first + run.len() as u64 / redoxfs::BLOCK_SIZE;
            if !run.is_empty() && (block != next || run.len() + data.len() > GATHER) {
                self.write_run(first, &run)?;
                run.clear();
            }
            if run.is_empty() {
                first = block;
            }
            run.extend_from_slice(&data);
        }
        if !run.is_empty() {
            self.write_run(first, &run)?;
        }
        Ok(())
    }

    fn write_run(&mut self, first: u64, data: &[u8]) -> rt::Result<()> {
        self.writes += 1;
        let result =
            self.file.seek(SeekFrom::Start(first * redoxfs::BLOCK_SIZE)).and_then(|_| self.file.write_all(data));
        result.map_err(|err| note(&mut self.failed, err))
    }

    /// Reads `buffer.len()` bytes at `block` from the disk, with the blocks
    /// kept back laid over them (so that it reads, and the cache keeps,
    /// what was last written).
    fn read_direct(&mut self, block: u64, buffer: &mut [u8]) -> Result<()> {
        self.seek_block(block)?;
        self.reads += 1;
        let result = self.file.read_exact(buffer);
        result.map_err(|err| note(&mut self.failed, err)).or_else(eio)?;
        let count = buffer.len() as u64 / redoxfs::BLOCK_SIZE;
        for (&at, data) in self.pending.range(block..block + count) {
            let start = ((at - block) * redoxfs::BLOCK_SIZE) as usize;
            buffer[start..start + data.len()].copy_from_slice(data);
        }
        // The header kept back is newer than the disk's copy.
        if let Some((at, header)) = &self.header {
            let start = at.wrapping_sub(block).wrapping_mul(redoxfs::BLOCK_SIZE);
            if *at >= block && start + header.len() as u64 <= buffer.len() as u64 {
                buffer[start as usize..][..header.len()].copy_from_slice(header);
            }
        }
        Ok(())
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
        if self.cache.read(block, buffer) {
            return Ok(buffer.len());
        }
        if count >= UNCACHED {
            self.read_direct(block, buffer)?;
            return Ok(buffer.len());
        }
        let disk_blocks = self.size / redoxfs::BLOCK_SIZE;
        let ahead = WINDOW.min(disk_blocks.saturating_sub(block));
        if sequential && count < WINDOW && ahead >= count && buffer.len() as u64 == count * redoxfs::BLOCK_SIZE {
            let mut data = core::mem::take(&mut self.window);
            // Whatever it held is overwritten by the read.
            data.resize((ahead * redoxfs::BLOCK_SIZE) as usize, 0);
            let read = self.read_direct(block, &mut data);
            if read.is_ok() {
                buffer.copy_from_slice(&data[..buffer.len()]);
                self.cache.store(block, &data);
            }
            self.window = data;
            return read.map(|()| buffer.len());
        }
        self.read_direct(block, buffer)?;
        self.cache.store(block, buffer);
        Ok(buffer.len())
    }

    unsafe fn write_at(&mut self, block: u64, buffer: &[u8]) -> Result<usize> {
        // Reads of these blocks now get what is written: from the cache,
        // or for a record's worth or more (not cached, as for reads) from
        // the blocks kept back below, which reads from the disk overlay.
        let count = (buffer.len() as u64).div_ceil(redoxfs::BLOCK_SIZE);
        if count >= UNCACHED {
            self.cache.forget(block, count);
        } else {
            self.cache.store(block, buffer);
        }
        let header = block < redoxfs::HEADER_RING;
        let whole = (buffer.len() as u64).is_multiple_of(redoxfs::BLOCK_SIZE);
        if !header && whole {
            for (n, data) in buffer.chunks(redoxfs::BLOCK_SIZE as usize).enumerate() {
                if let Some(old) = self.pending.insert(block + n as u64, data.to_vec()) {
                    self.pending_bytes -= old.len();
                }
                self.pending_bytes += data.len();
            }
            if self.pending_bytes > PENDING_MAX {
                self.send_pending().or_else(eio)?;
            }
            return Ok(buffer.len());
        }
        if header {
            // Kept back until the commit is made durable (a write of a
            // header is always one whole header: `Header` is one block).
            self.header = Some((block, buffer.to_vec()));
            return Ok(buffer.len());
        }
        // A write of part of a block: straight to the disk, after the
        // blocks kept back (one of them may be this one).
        self.send_pending().or_else(eio)?;
        self.seek_block(block)?;
        self.writes += 1;
        let result = self.file.write_all(buffer);
        result.map_err(|err| note(&mut self.failed, err)).or_else(eio)?;
        Ok(buffer.len())
    }

    fn size(&mut self) -> Result<u64> {
        Ok(self.size)
    }
}
