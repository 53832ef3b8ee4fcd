//! Anonymous memory mappings as owning types, unmapped when dropped.
//!
//! * [`Mapping`] — private memory (copy-on-write after a fork), used as a
//!   `[u8]`; [`Mapping::into_read_only`] turns it into a [`ReadOnlyMapping`]
//!   (the page protection really changes, `SYS_MPROTECT`).
//! * [`SharedMapping`] — memory that stays shared with children forked
//!   after it was made. Another process may change it at any time, so it is
//!   only handed out as atomics (which is also what futexes wait on).
//!
//! Lengths are rounded up to whole pages; the slices cover the length asked
//! for. Raw `mmap`/`munmap`/`mprotect` on arbitrary addresses are the
//! `unsafe` functions in [`crate::sys`].

use core::ops::{Deref, DerefMut};
use core::slice;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64};

use abi::syscall::{self as sc, MAP_PRIVATE, MAP_SHARED, MapFlags, PROT_READ, PROT_WRITE};

use crate::{Error, Result, sys};

/// The page size.
pub const PAGE_SIZE: usize = 4096;

/// A mapped range: `len` bytes asked for at `addr`, `size` bytes mapped.
/// The types holding it own the mapping; `Range` itself is plain data.
#[derive(Clone, Copy, Debug)]
struct Range {
    addr: usize,
    len: usize,
    size: usize,
}

impl Range {
    fn map_file(fd: usize, offset: usize, len: usize, flags: MapFlags) -> Result<Range> {
        let size = len.checked_next_multiple_of(PAGE_SIZE).filter(|&size| size > 0).ok_or(Error::new(sc::EINVAL))?;
        // SAFETY: no MAP_FIXED: the kernel picks addresses nothing uses.
        let addr = unsafe { sys::fmap(fd, offset, size, flags, 0)? };
        Ok(Range { addr, len, size })
    }

    fn map(len: usize, flags: MapFlags) -> Result<Range> {
        let size = len.checked_next_multiple_of(PAGE_SIZE).filter(|&size| size > 0).ok_or(Error::new(sc::EINVAL))?;
        // SAFETY: no MAP_FIXED: the kernel picks addresses nothing uses.
        let addr = unsafe { sys::mmap(0, size, flags)? };
        Ok(Range { addr, len, size })
    }

    fn ptr<T>(&self) -> *mut T {
        core::ptr::with_exposed_provenance_mut(self.addr)
    }

    fn unmap(&self) -> Result<()> {
        // SAFETY: the range was mapped for the owner of this `Range`, which
        // is going away (all borrows of it have ended).
        unsafe { sys::munmap(self.addr, self.size) }
    }
}

/// Private anonymous memory, zeroed when mapped, readable and writable.
#[derive(Debug)]
pub struct Mapping {
    range: Range,
}

/// Maps `len` bytes of zeroed private memory (copy-on-write after a fork).
pub fn map_anonymous(len: usize) -> Result<Mapping> {
    Range::map(len, PROT_READ | PROT_WRITE | MAP_PRIVATE).map(|range| Mapping { range })
}

/// Maps `len` bytes of zeroed memory that stays shared with the children
/// this process forks afterwards.
pub fn map_shared(len: usize) -> Result<SharedMapping> {
    Range::map(len, PROT_READ | PROT_WRITE | MAP_SHARED).map(|range| SharedMapping { range })
}

/// Maps `len` bytes of the file open on `fd` from `offset` (page-aligned)
/// shared and writable: what this process writes the file's other
/// mappings see, and the other way round (shared memory, `shm:`). Seen as
/// atomics, since another process may change it at any time.
pub fn map_file_shared(fd: usize, offset: usize, len: usize) -> Result<SharedMapping> {
    Range::map_file(fd, offset, len, PROT_READ | PROT_WRITE | MAP_SHARED).map(|range| SharedMapping { range })
}

/// Maps `len` bytes of the file open on `fd` from `offset` (page-aligned),
/// read-only and shared with the file's pages (no copy: an initfs file's
/// mapping is its pages in the boot ramdisk). Seen as atomics: a file
/// others may write changes under the mapping.
pub fn map_file_read_only(fd: usize, offset: usize, len: usize) -> Result<SharedMapping> {
    Range::map_file(fd, offset, len, PROT_READ | MAP_SHARED).map(|range| SharedMapping { range })
}

impl Mapping {
    /// The address of the first byte.
    pub fn addr(&self) -> usize {
        self.range.addr
    }

    /// Unmaps the memory, reporting an error that dropping it would ignore.
    pub fn unmap(self) -> Result<()> {
        let range = self.into_range();
        range.unmap()
    }

    /// Keeps the memory mapped for good.
    pub fn leak(self) -> &'static mut [u8] {
        let range = self.into_range();
        // SAFETY: the range is mapped readable and writable and, since its
        // owner is gone without unmapping it, nothing else refers to it.
        unsafe { slice::from_raw_parts_mut(range.ptr(), range.len) }
    }

    /// Makes the memory read-only (its pages become non-writable). On
    /// failure the memory is unmapped.
    pub fn into_read_only(self) -> Result<ReadOnlyMapping> {
        let range = self.into_range();
        // SAFETY: we own the range and no `&mut` to it survives (`self` was
        // consumed); the `ReadOnlyMapping` only reads it.
        match unsafe { sys::mprotect(range.addr, range.size, PROT_READ) } {
            Ok(()) => Ok(ReadOnlyMapping { range }),
            Err(err) => {
                let _ = range.unmap();
                Err(err)
            }
        }
    }

    fn into_range(self) -> Range {
        let range = self.range;
        core::mem::forget(self);
        range
    }
}

impl Deref for Mapping {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `len` bytes at `addr` are mapped readable for as long as
        // `self` lives, and only reachable through `self`.
        unsafe { slice::from_raw_parts(self.range.ptr(), self.range.len) }
    }
}

impl DerefMut for Mapping {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and writable; `&mut self` makes the borrow
        // exclusive.
        unsafe { slice::from_raw_parts_mut(self.range.ptr(), self.range.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        let _ = self.range.unmap();
    }
}

/// Private memory whose pages are read-only; from
/// [`Mapping::into_read_only`].
#[derive(Debug)]
pub struct ReadOnlyMapping {
    range: Range,
}

impl ReadOnlyMapping {
    pub fn addr(&self) -> usize {
        self.range.addr
    }

    /// Makes the memory writable again.
    pub fn into_writable(self) -> Result<Mapping> {
        let range = self.range;
        core::mem::forget(self);
        // SAFETY: we own the range; only shared borrows of `self` existed
        // and they ended when it was consumed.
        match unsafe { sys::mprotect(range.addr, range.size, PROT_READ | PROT_WRITE) } {
            Ok(()) => Ok(Mapping { range }),
            Err(err) => {
                let _ = range.unmap();
                Err(err)
            }
        }
    }
}

impl Deref for ReadOnlyMapping {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `len` bytes at `addr` are mapped readable while `self`
        // lives, and nothing writes them.
        unsafe { slice::from_raw_parts(self.range.ptr(), self.range.len) }
    }
}

impl Drop for ReadOnlyMapping {
    fn drop(&mut self) {
        let _ = self.range.unmap();
    }
}

/// Anonymous memory shared with the children forked after it was made, seen
/// as atomics. Each process unmaps its own view when its `SharedMapping`
/// drops.
#[derive(Debug)]
pub struct SharedMapping {
    range: Range,
}

impl SharedMapping {
    pub fn addr(&self) -> usize {
        self.range.addr
    }

    /// The length asked for, in bytes.
    pub fn len(&self) -> usize {
        self.range.len
    }

    pub fn is_empty(&self) -> bool {
        self.range.len == 0
    }

    /// The memory as bytes.
    pub fn atomic_u8s(&self) -> &[AtomicU8] {
        // SAFETY: `len` bytes at `addr` are mapped readable and writable
        // while `self` lives; atomics are the one way it is ever accessed
        // (here and in every process sharing it), so concurrent changes are
        // sound. `AtomicU8` has the size and alignment of `u8`.
        unsafe { slice::from_raw_parts(self.range.ptr(), self.range.len) }
    }

    /// The memory as 32-bit words (the futex type); a partial word at the
    /// end is left out.
    pub fn atomic_u32s(&self) -> &[AtomicU32] {
        // SAFETY: as for `atomic_u8s`; `addr` is page-aligned, so aligned
        // for `AtomicU32`, and the slice stays within `len`.
        unsafe { slice::from_raw_parts(self.range.ptr(), self.range.len / 4) }
    }

    /// The memory as 64-bit words; a partial word at the end is left out.
    pub fn atomic_u64s(&self) -> &[AtomicU64] {
        // SAFETY: as for `atomic_u32s`, with 8-byte words.
        unsafe { slice::from_raw_parts(self.range.ptr(), self.range.len / 8) }
    }

    /// Unmaps this process's view, reporting an error that dropping it
    /// would ignore.
    pub fn unmap(self) -> Result<()> {
        let range = self.range;
        core::mem::forget(self);
        range.unmap()
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        let _ = self.range.unmap();
    }
}
