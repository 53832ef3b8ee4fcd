//! `memory:` — memory to map with `fmap`, and the memory capabilities of
//! drivers.
//!
//! - `memory:` (or `memory:zero`): anonymous zeroed memory, private or
//!   shared, as `mmap` gives.
//! - `memory:physical` (root only): physical memory at the fmap offset,
//!   for drivers (MMIO registers, the framebuffer). RAM the kernel hands
//!   out is refused (`EPERM`): a driver maps devices, not other processes'
//!   pages. Mapped uncached, always shared.
//! - `memory:physical/START/LEN` (root only; `START` and `LEN` in hex with
//!   `0x` or decimal, `START` page-aligned, `LEN` a whole number of pages,
//!   at most [`WINDOW_MAX`]): the same, limited to that window. This is
//!   what a driver keeps for its device's BARs: it opens the window, enters
//!   the null namespace, and can map nothing outside it (`EPERM`).
//! - `memory:dma/LEN` (root only; `LEN` as above, 1 byte to [`DMA_MAX`],
//!   rounded up to pages): a buffer of physically contiguous, zeroed RAM
//!   for a device to read and write. `read` gives its physical address as a
//!   native-endian `u64` (what the driver tells the device); `fmap` maps
//!   it at an offset inside it (`MAP_SHARED` only: a private copy would
//!   hide the device's writes); `fstat` gives its size. The RAM is freed
//!   when the last fd and mapping go. No IOMMU stands between the device
//!   and memory: a driver must stop its device's DMA before it lets a
//!   buffer go, and only root can make one.
//!
//! May touch: the frame allocator (DMA buffers), its own handle table.

use alloc::string::String;
use alloc::vec::Vec;

use abi::syscall::error::{EACCES, EINVAL, ENOENT, ENOMEM, EPERM, Error};
use abi::syscall::{MODE_CHR, MapFlags, Stat};
use x86_64::PhysAddr;
use x86_64::structures::paging::PhysFrame;

use super::handles::HandleTable;
use super::{Caller, Frames, KernelScheme, Mapping, Opened};
use crate::memory::address_space::FrameKind;
use crate::memory::{PAGE_SIZE, frame};

/// The largest `memory:physical/START/LEN` window (a BAR, a framebuffer).
pub const WINDOW_MAX: u64 = 1 << 30;
/// The largest DMA buffer.
pub const DMA_MAX: u64 = 4 << 20;
/// Physical addresses end here (52 bits).
const PHYSICAL_END: u64 = 1 << 52;

/// A DMA buffer: its first frame and page count; holds one reference on
/// each frame until the handle closes.
struct Dma {
    first: PhysFrame,
    pages: u64,
}

impl Drop for Dma {
    fn drop(&mut self) {
        for i in 0..self.pages {
            frame::release(self.first + i);
        }
    }
}

#[derive(Clone)]
enum Handle {
    Zero,
    /// Physical memory in `start..end`, not RAM.
    Physical {
        start: u64,
        end: u64,
    },
    Dma(alloc::sync::Arc<Dma>),
}

pub struct MemoryScheme {
    handles: HandleTable<Handle>,
}

impl MemoryScheme {
    pub fn new() -> MemoryScheme {
        MemoryScheme { handles: HandleTable::new() }
    }
}

impl Default for MemoryScheme {
    fn default() -> Self {
        Self::new()
    }
}

/// A number in `0x` hex or decimal.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) if !hex.is_empty() => u64::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    }
}

/// `START/LEN` of a window: page-aligned, whole pages, not past the end
/// of physical addresses.
fn parse_window(text: &str) -> Option<(u64, u64)> {
    let (start, len) = text.split_once('/')?;
    let (start, len) = (parse_number(start)?, parse_number(len)?);
    let end = start.checked_add(len)?;
    let aligned = start.is_multiple_of(PAGE_SIZE) && len.is_multiple_of(PAGE_SIZE);
    (aligned && len > 0 && len <= WINDOW_MAX && end <= PHYSICAL_END).then_some((start, end))
}

/// Make a DMA buffer of `len` bytes (rounded up to pages).
fn allocate_dma(len: u64) -> Result<Dma, Error> {
    if len == 0 || len > DMA_MAX {
        return Err(Error::new(EINVAL));
    }
    let pages = len.div_ceil(PAGE_SIZE);
    let first = frame::allocate_user_contiguous(pages).ok_or_else(|| {
        crate::caller_log!(Warn, "memory:dma: no {pages} contiguous free pages");
        Error::new(ENOMEM)
    })?;
    Ok(Dma { first, pages })
}

impl KernelScheme for MemoryScheme {
    fn open(&self, path: &str, _flags: usize, caller: &Caller) -> Result<Opened, Error> {
        let handle = match path {
            "" | "zero" => Handle::Zero,
            _ if caller.uid != 0
                && (path == "physical" || path.starts_with("physical/") || path.starts_with("dma/")) =>
            {
                return Err(Error::new(EACCES));
            }
            "physical" => Handle::Physical { start: 0, end: PHYSICAL_END },
            _ => {
                if let Some(window) = path.strip_prefix("physical/") {
                    let (start, end) = parse_window(window).ok_or(Error::new(EINVAL))?;
                    Handle::Physical { start, end }
                } else if let Some(len) = path.strip_prefix("dma/") {
                    let len = parse_number(len).ok_or(Error::new(EINVAL))?;
                    Handle::Dma(alloc::sync::Arc::new(allocate_dma(len)?))
                } else {
                    return Err(Error::new(ENOENT));
                }
            }
        };
        Ok(Opened::Handle(self.handles.insert(handle)))
    }

    /// A DMA buffer's physical address.
    fn read(&self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize, Error> {
        match self.handles.get(handle)? {
            Handle::Dma(dma) => {
                let address = dma.first.start_address().as_u64().to_ne_bytes();
                let out = buf.get_mut(..address.len()).ok_or(Error::new(EINVAL))?;
                out.copy_from_slice(&address);
                Ok(address.len())
            }
            _ => Err(Error::new(EINVAL)),
        }
    }

    fn fmap(&self, handle: usize, offset: usize, len: usize, flags: MapFlags) -> Result<Mapping, Error> {
        match self.handles.get(handle)? {
            Handle::Zero => Ok(Mapping::Anonymous),
            Handle::Physical { start, end } => {
                let mut frames = Vec::new();
                frames.try_reserve_exact(len / PAGE_SIZE as usize).map_err(|_| Error::new(ENOMEM))?;
                for page in (0..len).step_by(PAGE_SIZE as usize) {
                    let addr = offset.checked_add(page).ok_or(Error::new(EPERM))? as u64;
                    if addr < start || addr >= end {
                        crate::caller_log!(
                            Warn,
                            "memory:physical: {addr:#x} is outside the window {start:#x}..{end:#x}"
                        );
                        return Err(Error::new(EPERM));
                    }
                    if frame::is_ram(addr) {
                        crate::caller_log!(Warn, "memory:physical: refusing {addr:#x} (RAM)");
                        return Err(Error::new(EPERM));
                    }
                    frames.push((PhysFrame::containing_address(PhysAddr::new(addr)), FrameKind::Device));
                }
                Ok(Mapping::Frames(Frames::new(frames)?))
            }
            Handle::Dma(dma) => {
                if !flags.contains(MapFlags::MAP_SHARED) {
                    return Err(Error::new(EINVAL));
                }
                let size = dma.pages * PAGE_SIZE;
                let (offset, len) = (offset as u64, len as u64);
                if offset.checked_add(len).is_none_or(|end| end > size) {
                    return Err(Error::new(EINVAL));
                }
                let mut frames = Vec::new();
                frames.try_reserve_exact((len / PAGE_SIZE) as usize).map_err(|_| Error::new(ENOMEM))?;
                for page in (offset / PAGE_SIZE)..((offset + len) / PAGE_SIZE) {
                    frames.push((dma.first + page, FrameKind::Counted));
                }
                Ok(Mapping::Frames(Frames::new(frames)?))
            }
        }
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        match self.handles.get(handle)? {
            Handle::Zero => stat.st_mode = MODE_CHR | 0o666,
            Handle::Physical { .. } => stat.st_mode = MODE_CHR | 0o600,
            Handle::Dma(dma) => {
                stat.st_mode = MODE_CHR | 0o600;
                stat.st_size = dma.pages * PAGE_SIZE;
            }
        }
        Ok(())
    }

    fn fpath(&self, handle: usize) -> Result<String, Error> {
        Ok(match self.handles.get(handle)? {
            Handle::Zero => String::from("zero"),
            Handle::Physical { start: 0, end: PHYSICAL_END } => String::from("physical"),
            Handle::Physical { start, end } => alloc::format!("physical/{start:#x}/{:#x}", end - start),
            Handle::Dma(dma) => alloc::format!("dma/{:#x}", dma.pages * PAGE_SIZE),
        })
    }

    fn close(&self, handle: usize) -> Result<(), Error> {
        self.handles.remove(handle).map(drop)
    }
}
