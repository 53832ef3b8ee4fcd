//! A bounded cache of fixed-size disk blocks (README "Files that stay"):
//! `redoxfsd` re-reads the same tree nodes in every transaction, and each
//! read is a round trip through the kernel to the disk driver, so the
//! blocks it reads and writes are kept here (write-through: the disk is
//! always written too). When full, the block cached longest ago goes.
//!
//! May touch: nothing; pure logic, host-tested.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

pub struct BlockCache {
    block_size: usize,
    capacity: usize,
    blocks: BTreeMap<u64, Vec<u8>>,
    /// Block numbers in the order they came in (each once).
    order: VecDeque<u64>,
    /// Lookups answered and not, for the figures.
    pub hits: u64,
    pub misses: u64,
}

impl BlockCache {
    /// A cache of up to `capacity` blocks of `block_size` bytes.
    pub fn new(block_size: usize, capacity: usize) -> BlockCache {
        BlockCache {
            block_size,
            capacity: capacity.max(1),
            blocks: BTreeMap::new(),
            order: VecDeque::new(),
            hits: 0,
            misses: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Fills `out` (whole blocks) with the blocks from `first` on if every
    /// one is cached; whether it did.
    pub fn read(&mut self, first: u64, out: &mut [u8]) -> bool {
        let size = self.block_size;
        if !out.len().is_multiple_of(size) {
            return false;
        }
        let all =
            (0..(out.len() / size) as u64).all(|i| first.checked_add(i).is_some_and(|b| self.blocks.contains_key(&b)));
        if !all {
            self.misses += 1;
            return false;
        }
        for (i, chunk) in out.chunks_exact_mut(size).enumerate() {
            if let Some(block) = self.blocks.get(&(first + i as u64)) {
                chunk.copy_from_slice(block);
            }
        }
        self.hits += 1;
        true
    }

    /// Keeps the whole blocks of `data`, the first at `first` (a partial
    /// block at the end is dropped from the cache, since its rest is not
    /// known).
    pub fn store(&mut self, first: u64, data: &[u8]) {
        let size = self.block_size;
        for (i, chunk) in data.chunks(size).enumerate() {
            let Some(block) = first.checked_add(i as u64) else { return };
            if chunk.len() < size {
                self.blocks.remove(&block);
                continue;
            }
            match self.blocks.get_mut(&block) {
                Some(old) => old.copy_from_slice(chunk),
                None => {
                    // A full cache gives up its oldest block first and its
                    // buffer holds the new one: a sequential reader stores
                    // thousands of blocks, and each would otherwise be an
                    // allocation and a free.
                    let buffer = match self.evict_oldest() {
                        Some(mut buffer) => {
                            buffer.copy_from_slice(chunk);
                            buffer
                        }
                        None => chunk.to_vec(),
                    };
                    self.blocks.insert(block, buffer);
                    self.order.push_back(block);
                }
            }
        }
        while self.blocks.len() > self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            self.blocks.remove(&oldest);
        }
        // Entries for blocks already dropped (a partial write) would keep
        // the queue growing; drop them once they are most of it.
        if self.order.len() > 2 * self.capacity {
            let blocks = &self.blocks;
            self.order.retain(|b| blocks.contains_key(b));
        }
    }

    /// Drops blocks `first..first + count` (written elsewhere, so what the
    /// cache holds of them is stale). Their queue entries go when reached.
    pub fn forget(&mut self, first: u64, count: u64) {
        let end = first.saturating_add(count);
        if count > self.blocks.len() as u64 {
            self.blocks.retain(|b, _| !(first..end).contains(b));
        } else {
            for block in first..end {
                self.blocks.remove(&block);
            }
        }
    }

    /// When the cache is full: takes out the block cached longest ago and
    /// returns its buffer.
    fn evict_oldest(&mut self) -> Option<Vec<u8>> {
        if self.blocks.len() < self.capacity {
            return None;
        }
        // Entries of blocks already dropped (partial writes) are skipped.
        while let Some(oldest) = self.order.pop_front() {
            if let Some(buffer) = self.blocks.remove(&oldest) {
                return Some(buffer);
            }
        }
        None
    }

    /// Forgets everything (the disk may have changed under the cache).
    pub fn clear(&mut self) {
        self.blocks.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::vec;

    fn block(tag: u8) -> Vec<u8> {
        vec![tag; 8]
    }

    #[test]
    fn keeps_and_returns_blocks() {
        let mut cache = BlockCache::new(8, 4);
        let mut data = block(1);
        data.extend(block(2));
        cache.store(10, &data);
        let mut out = vec![0u8; 16];
        assert!(cache.read(10, &mut out));
        assert_eq!(out, data);
        let mut one = vec![0u8; 8];
        assert!(cache.read(11, &mut one));
        assert_eq!(one, block(2));
        // Not all there: no answer, and `out` is not half filled.
        let mut out = vec![9u8; 16];
        assert!(!cache.read(11, &mut out));
        assert_eq!(out, vec![9u8; 16]);
        assert_eq!((cache.hits, cache.misses), (2, 1));
    }

    #[test]
    fn a_write_replaces_what_was_cached() {
        let mut cache = BlockCache::new(8, 4);
        cache.store(3, &block(1));
        cache.store(3, &block(7));
        let mut out = vec![0u8; 8];
        assert!(cache.read(3, &mut out));
        assert_eq!(out, block(7));
        // A partial block is not known whole: dropped.
        cache.store(3, &[5u8; 4]);
        assert!(!cache.read(3, &mut out));
    }

    #[test]
    fn the_oldest_goes_first_and_the_size_is_bounded() {
        let mut cache = BlockCache::new(8, 3);
        for b in 0..10u64 {
            cache.store(b, &block(b as u8));
            assert!(cache.len() <= 3);
        }
        let mut out = vec![0u8; 8];
        assert!(!cache.read(6, &mut out));
        assert!(cache.read(7, &mut out) && cache.read(9, &mut out));
        // Partial writes never grow the queue without bound.
        for _ in 0..100 {
            cache.store(20, &[1u8; 4]);
        }
        assert!(cache.order.len() <= 2 * 3 + 1);
    }

    #[test]
    fn a_full_cache_reuses_the_oldest_buffer_and_keeps_contents_right() {
        let mut cache = BlockCache::new(8, 3);
        // Blocks 0..3, then a partial write drops block 1 (its queue entry stays).
        for b in 0..3u64 {
            cache.store(b, &block(b as u8));
        }
        cache.store(1, &[9u8; 4]);
        // Two new blocks in one store: room for one (block 1 is gone), then
        // block 0 goes; the stale entry of block 1 is skipped on the way.
        let mut data = block(30);
        data.extend(block(40));
        cache.store(30, &data);
        let mut out = vec![0u8; 8];
        assert!(!cache.read(0, &mut out) && !cache.read(1, &mut out));
        for (b, tag) in [(2u64, 2u8), (30, 30), (31, 40)] {
            assert!(cache.read(b, &mut out), "block {b}");
            assert_eq!(out, block(tag));
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn forgotten_blocks_are_not_answered() {
        let mut cache = BlockCache::new(8, 4);
        for b in 0..4u64 {
            cache.store(b, &block(b as u8));
        }
        cache.forget(1, 2);
        let mut out = vec![0u8; 8];
        assert!(!cache.read(1, &mut out) && !cache.read(2, &mut out));
        assert!(cache.read(0, &mut out) && cache.read(3, &mut out));
        // A range longer than the cache, and one at the end of the numbers.
        cache.forget(0, 1000);
        cache.forget(u64::MAX - 1, 5);
        assert!(cache.is_empty());
        // Room again for new blocks; the stale queue entries are skipped.
        for b in 10..14u64 {
            cache.store(b, &block(b as u8));
        }
        assert_eq!(cache.len(), 4);
        assert!(cache.read(13, &mut out));
        assert_eq!(out, block(13));
    }

    #[test]
    fn odd_lengths_and_the_end_of_numbers_are_refused() {
        let mut cache = BlockCache::new(8, 4);
        cache.store(u64::MAX, &[1u8; 16]);
        let mut out = vec![0u8; 16];
        assert!(!cache.read(u64::MAX, &mut out));
        assert!(!cache.read(0, &mut [0u8; 5]));
    }
}
