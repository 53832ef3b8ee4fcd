//! Group commit: many RedoxFS transactions made durable at once.
//!
//! `redoxfsd` runs every call in a transaction of its own (so that a call
//! that fails, `ENOSPC` half-way through a write, undoes only itself), and
//! each commit writes a new header. Flushing the device twice per commit
//! would cost two host `fdatasync`s per `write`; instead the glue keeps the
//! header back ([`SchemeDisk::make_durable`]) until the daemon asks for
//! durability: on `fsync`, when the commits have waited [`Group::due`]'s
//! interval, and before shutdown (init syncs `file:`). A power cut in between leaves the last durable header, and
//! the file system as it was then: the calls since are lost, as on Linux
//! before a journal commit, but nothing is torn.
//!
//! That holds only if no block the durable header's tree uses is
//! overwritten before the next header is durable. RedoxFS never writes a
//! live block, but once a commit frees a block (a file's old copy of a
//! record, its old tree nodes) the next transaction may allocate and
//! overwrite it, and that block may still be live in the durable tree.
//! So after each commit [`Group::after_commit`] holds back every block
//! that is free now but was not free when the last header became durable
//! (taking it from the in-memory allocator, so no transaction is handed
//! it), and [`Group::make_durable`] gives them back once the new header is
//! on the disk. The on-disk allocation log never learns of this: the held
//! blocks are free there, as they are once given back. One RedoxFS
//! transaction in [`redoxfs::ALLOC_GC_THRESHOLD`] rewrites that log from
//! the in-memory allocator, which would record held blocks as used, so
//! [`Group::before_tx`] makes the group durable (nothing held) before it.
//!
//! Only the last header of a group is written, into the ring slot its
//! generation names; were that the durable header's own slot (the group
//! made a multiple of [`redoxfs::HEADER_RING`] commits), a torn write
//! could lose both, so [`Group::make_durable`] first makes one more,
//! empty, commit.
//!
//! Every block written while a group is open was free when its durable
//! header was written (it was handed out by an allocator whose free blocks
//! were all free then), so the writes may go to the disk at any time
//! (the glue sends them as they come): only the header waits.
//!
//! May touch: the file system's in-memory allocator and its disk.

use alloc::vec::Vec;
use core::time::Duration;

use redoxfs::{Allocator, BlockAddr, BlockMeta, FileSystem};

use crate::SchemeDisk;

/// The most blocks held back (2 MiB); past it the group is made durable
/// (more would also split the allocator's free ranges, which each commit
/// walks).
pub const HELD_MAX: usize = 512;
/// How long a commit may wait to be made durable.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Free blocks as sorted, merged `[start, end)` ranges.
fn free_ranges(allocator: &Allocator) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for (level, indexes) in allocator.levels().iter().enumerate() {
        ranges.extend(indexes.iter().map(|&index| (index, index + (1u64 << level))));
    }
    block_ranges::merged(ranges)
}

/// A level-0 block address.
fn block(index: u64) -> BlockAddr {
    // SAFETY: a level-0 address of a block inside the file system (the
    // allocator listed it as free, or we took it from there); making it
    // only names the block, and the allocator checks what it is given.
    unsafe { BlockAddr::new(index, BlockMeta::default()) }
}

/// The commits not yet durable and the blocks held back for them.
pub struct Group {
    /// Free blocks when the last durable header was written.
    durable_free: Vec<(u64, u64)>,
    /// Blocks taken from the allocator until the next durable header.
    held: Vec<u64>,
    /// The durable header's generation.
    durable: u64,
    /// When the oldest commit not yet durable was made.
    since: Option<Duration>,
}

impl Group {
    /// Makes what `fs` committed so far (the mount's clean-up) durable and
    /// starts a group there.
    pub fn new(fs: &mut FileSystem<SchemeDisk>) -> rt::Result<Group> {
        fs.disk.make_durable()?;
        Ok(Group {
            durable_free: free_ranges(fs.allocator()),
            held: Vec::new(),
            durable: fs.header.generation(),
            since: None,
        })
    }

    /// Call before each transaction: makes the group durable first when
    /// the transaction would rewrite the allocation log from memory.
    pub fn before_tx(&mut self, fs: &mut FileSystem<SchemeDisk>) -> rt::Result<()> {
        let generation = fs.header.generation();
        if !self.held.is_empty()
            && generation >= redoxfs::ALLOC_GC_THRESHOLD
            && generation.is_multiple_of(redoxfs::ALLOC_GC_THRESHOLD)
        {
            self.make_durable(fs)?;
        }
        Ok(())
    }

    /// Call after each transaction: holds back the blocks it freed that the
    /// durable header still uses, and makes the group durable when it is
    /// as large as it may grow.
    pub fn after_commit(&mut self, fs: &mut FileSystem<SchemeDisk>, now: Duration) -> rt::Result<()> {
        if !fs.disk.commit_pending() {
            return Ok(());
        }
        self.since.get_or_insert(now);
        let freed = block_ranges::blocks_not_in(&free_ranges(fs.allocator()), &self.durable_free);
        if !freed.is_empty() {
            // SAFETY: only blocks the allocator lists as free are taken, and
            // they stay free on the disk's allocation log; see the module
            // comment for why the log never records them as used.
            let allocator = unsafe { fs.allocator_mut() };
            for &index in &freed {
                if allocator.allocate_exact(block(index)).is_some() {
                    self.held.push(index);
                }
            }
        }
        if self.held.len() >= HELD_MAX {
            self.make_durable(fs)?;
        }
        Ok(())
    }

    /// Whether a commit has waited [`INTERVAL`] at `now`, and if not, when
    /// the oldest waiting one will have.
    pub fn due(&self, now: Duration) -> (bool, Option<Duration>) {
        match self.since {
            Some(since) => (now >= since + INTERVAL, Some(since + INTERVAL)),
            None => (false, None),
        }
    }

    /// Blocks held back now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Writes the last commit's header, fenced by flushes, then gives the
    /// held blocks back and starts a new group.
    pub fn make_durable(&mut self, fs: &mut FileSystem<SchemeDisk>) -> rt::Result<()> {
        let generation = fs.header.generation();
        if generation != self.durable && (generation - self.durable).is_multiple_of(redoxfs::HEADER_RING) {
            fs.tx(|tx| {
                tx.header_changed = true;
                Ok(())
            })
            .map_err(|e| rt::Error::new(e.errno))?;
        }
        fs.disk.make_durable()?;
        self.durable = fs.header.generation();
        if !self.held.is_empty() {
            // SAFETY: the blocks go back to the allocator that lent them;
            // they are free on the disk's allocation log as well, and no
            // durable header uses them any more.
            let allocator = unsafe { fs.allocator_mut() };
            for index in self.held.drain(..) {
                allocator.deallocate(block(index));
            }
        }
        self.durable_free = free_ranges(fs.allocator());
        self.since = None;
        Ok(())
    }
}
