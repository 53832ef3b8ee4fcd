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
//! - `memory:pci/BB:DD.F` (root only): the 4 KiB PCI Express
//!   configuration space of that function, through the ECAM window the
//!   ACPI MCFG gives (`ENODEV` without one or for a bus outside it): a
//!   window as above, of one page. This is how a driver reads its
//!   device's capabilities and programs its MSI-X and BARs without the
//!   shared 0xCF8/0xCFC ports, which would let it reach every device.
//!   One handle per function at a time (`EBUSY`): it stands for owning
//!   the device. When it closes (the driver exits or dies) the kernel
//!   clears the function's bus master bit (`arch::x86_64::pci`), so the
//!   device stops DMA before the driver's buffers are freed (files close
//!   before a dying process's memory goes).
//! - `read` on a window (`physical/START/LEN` or `pci/...`) gives its
//!   start address as a native-endian `u64`, so a driver learns where to
//!   map (the fmap offset is the physical address).
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

use abi::syscall::error::{EACCES, EBUSY, EINVAL, ENODEV, ENOENT, ENOMEM, EPERM, Error};
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
    /// One function's PCI Express configuration space at `start`.
    Pci {
        address: pci_config::Address,
        start: u64,
    },
}

pub struct MemoryScheme {
    handles: HandleTable<Handle>,
    /// The functions a `memory:pci` handle is open on.
    owned: spin::Mutex<alloc::collections::BTreeSet<pci_config::Address>>,
}

impl MemoryScheme {
    pub fn new() -> MemoryScheme {
        MemoryScheme { handles: HandleTable::new(), owned: spin::Mutex::new(alloc::collections::BTreeSet::new()) }
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

/// Where function `text` (`BB:DD.F`) has its configuration space.
fn pci_config_page(text: &str) -> Result<(pci_config::Address, u64), Error> {
    let address = pci_config::Address::parse(text).ok_or(Error::new(ENOENT))?;
    let ecam = crate::arch::x86_64::PLATFORM.get().map(|p| p.ecam.as_slice()).unwrap_or_default();
    ecam.iter()
        .filter(|region| region.segment == 0)
        .find_map(|region| region.function_address(address.bus, address.device, address.function))
        .map(|start| (address, start))
        .ok_or_else(|| {
            crate::caller_log!(Info, "memory:pci/{text}: no PCI Express configuration window covers it");
            Error::new(ENODEV)
        })
}

/// `Frames` for `len` bytes at physical `offset`, all inside `start..end`
/// and none of them RAM.
fn window_frames(start: u64, end: u64, offset: usize, len: usize) -> Result<Mapping, Error> {
    let mut frames = Vec::new();
    frames.try_reserve_exact(len / PAGE_SIZE as usize).map_err(|_| Error::new(ENOMEM))?;
    for page in (0..len).step_by(PAGE_SIZE as usize) {
        let addr = offset.checked_add(page).ok_or(Error::new(EPERM))? as u64;
        if addr < start || addr >= end {
            crate::caller_log!(Warn, "memory:physical: {addr:#x} is outside the window {start:#x}..{end:#x}");
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
                && (path == "physical"
                    || path.starts_with("physical/")
                    || path.starts_with("dma/")
                    || path.starts_with("pci/")) =>
            {
                return Err(Error::new(EACCES));
            }
            "physical" => Handle::Physical { start: 0, end: PHYSICAL_END },
            _ => {
                if let Some(window) = path.strip_prefix("physical/") {
                    let (start, end) = parse_window(window).ok_or(Error::new(EINVAL))?;
                    Handle::Physical { start, end }
                } else if let Some(function) = path.strip_prefix("pci/") {
                    let (address, start) = pci_config_page(function)?;
                    if !x86_64::instructions::interrupts::without_interrupts(|| self.owned.lock().insert(address)) {
                        return Err(Error::new(EBUSY));
                    }
                    Handle::Pci { address, start }
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

    /// A DMA buffer's or a window's physical address.
    fn read(&self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize, Error> {
        let address = match self.handles.get(handle)? {
            Handle::Dma(dma) => dma.first.start_address().as_u64(),
            Handle::Physical { start, end } if (start, end) != (0, PHYSICAL_END) => start,
            Handle::Pci { start, .. } => start,
            _ => return Err(Error::new(EINVAL)),
        };
        let address = address.to_ne_bytes();
        let out = buf.get_mut(..address.len()).ok_or(Error::new(EINVAL))?;
        out.copy_from_slice(&address);
        Ok(address.len())
    }

    fn fmap(&self, handle: usize, offset: usize, len: usize, flags: MapFlags) -> Result<Mapping, Error> {
        match self.handles.get(handle)? {
            Handle::Zero => Ok(Mapping::Anonymous),
            Handle::Physical { start, end } => window_frames(start, end, offset, len),
            Handle::Pci { start, .. } => window_frames(start, start + PAGE_SIZE, offset, len),
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
            Handle::Pci { .. } => {
                stat.st_mode = MODE_CHR | 0o600;
                stat.st_size = PAGE_SIZE;
            }
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
            Handle::Pci { address, .. } => alloc::format!("pci/{address}"),
        })
    }

    fn close(&self, handle: usize) -> Result<(), Error> {
        if let Handle::Pci { address, .. } = self.handles.remove(handle)? {
            crate::arch::x86_64::pci::disable_bus_master(address);
            x86_64::instructions::interrupts::without_interrupts(|| self.owned.lock().remove(&address));
        }
        Ok(())
    }
}
