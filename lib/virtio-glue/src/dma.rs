//! DMA memory for a virtio device: a pool of physically contiguous
//! buffers from `memory:dma`, mapped once at start and carved into pages
//! (`frame_alloc::FrameBitmap` keeps the free pages), and the
//! `virtio_drivers::Hal` the crate's queues and transports call.
//!
//! Every buffer a request lends the device comes from the pool, so
//! `share` only translates addresses: nothing is bounced or copied.
//!
//! May touch: the pool's mappings and the MMIO windows [`register_mmio`]
//! was given.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::NonNull;

use frame_alloc::FrameBitmap;
use rt::fs::File;
use rt::mem::{PAGE_SIZE, SharedMapping};
use rt::{Error, Result};
use spin::Mutex;
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

/// One `memory:dma` buffer: physically contiguous, mapped at `virt`.
struct Region {
    phys: u64,
    virt: usize,
    pages: usize,
    free: FrameBitmap<'static>,
    /// Keeps the mapping (and so the RAM) for as long as the process runs.
    _mapping: SharedMapping,
}

/// A device register window mapped from `memory:physical`.
struct Window {
    phys: u64,
    len: u64,
    virt: usize,
    _mapping: SharedMapping,
}

struct State {
    regions: Vec<Region>,
    windows: Vec<Window>,
}

static STATE: Mutex<State> = Mutex::new(State { regions: Vec::new(), windows: Vec::new() });

/// The largest buffer `memory:dma` gives (the kernel's `DMA_MAX`).
pub const REGION_MAX: usize = 4 << 20;

/// Make the pool: `bytes` of DMA memory (rounded up to pages) in buffers
/// of at most [`REGION_MAX`]. Called before the driver is confined.
pub fn init(bytes: usize) -> Result<()> {
    let mut left = bytes.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    while left > 0 {
        let len = left.min(REGION_MAX);
        let mut file = File::open_with(&alloc::format!("memory:dma/{len:#x}"), rt::abi::syscall::O_RDWR)?;
        let mut phys = [0u8; 8];
        if file.read(&mut phys)? != 8 {
            return Err(Error::new(rt::abi::syscall::EIO));
        }
        let mapping = rt::mem::map_file_shared(file.fd(), 0, len)?;
        let pages = len / PAGE_SIZE;
        let storage = Box::leak(alloc::vec![0u64; FrameBitmap::words_needed(pages as u64)].into_boxed_slice());
        let mut free = FrameBitmap::new(storage, pages as u64);
        free.add_free_range(0, pages as u64);
        let region = Region { phys: u64::from_ne_bytes(phys), virt: mapping.addr(), pages, free, _mapping: mapping };
        STATE.lock().regions.push(region);
        left -= len;
    }
    Ok(())
}

/// Map the device registers at physical `phys..phys + len` (page-aligned)
/// through a `memory:physical` window, for [`FerriteHal`] to hand out.
pub fn register_mmio(phys: u64, len: u64) -> Result<()> {
    let path = alloc::format!("memory:physical/{phys:#x}/{len:#x}");
    let file = File::open_with(&path, rt::abi::syscall::O_RDWR)?;
    let offset = usize::try_from(phys).map_err(|_| Error::new(rt::abi::syscall::EINVAL))?;
    let size = usize::try_from(len).map_err(|_| Error::new(rt::abi::syscall::EINVAL))?;
    let mapping = rt::mem::map_file_shared(file.fd(), offset, size)?;
    STATE.lock().windows.push(Window { phys, len, virt: mapping.addr(), _mapping: mapping });
    Ok(())
}

/// The mapped address of device registers at `phys..phys + len`, if a
/// registered window holds them all.
pub fn mmio_address(phys: u64, len: u64) -> Option<usize> {
    let state = STATE.lock();
    let end = phys.checked_add(len)?;
    let window = state.windows.iter().find(|w| phys >= w.phys && end <= w.phys + w.len)?;
    Some(window.virt + (phys - window.phys) as usize)
}

/// Pages taken from the pool: `pages` pages at physical `phys`, mapped at
/// `virt`. Freed with [`free`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pages {
    pub phys: u64,
    pub virt: usize,
    pub pages: usize,
}

impl Pages {
    pub fn len(&self) -> usize {
        self.pages * PAGE_SIZE
    }

    pub fn is_empty(&self) -> bool {
        self.pages == 0
    }
}

/// `pages` contiguous zeroed pages from the pool, or `None` when no
/// region has that many free in a row.
pub fn allocate(pages: usize) -> Option<Pages> {
    allocate_pages(pages, true)
}

/// [`allocate`] without zeroing, for request buffers the device or the
/// driver fills completely before anything reads them (they hold only
/// this driver's own earlier data).
pub fn allocate_unzeroed(pages: usize) -> Option<Pages> {
    allocate_pages(pages, false)
}

fn allocate_pages(pages: usize, zero: bool) -> Option<Pages> {
    if pages == 0 {
        return None;
    }
    let mut state = STATE.lock();
    for region in &mut state.regions {
        if let Some(first) = region.free.allocate_contiguous(pages as u64, 1) {
            let offset = first as usize * PAGE_SIZE;
            let taken = Pages { phys: region.phys + offset as u64, virt: region.virt + offset, pages };
            if !zero {
                return Some(taken);
            }
            let start: *mut u8 = core::ptr::with_exposed_provenance_mut(taken.virt);
            // SAFETY: the pages lie inside this region's mapping (the
            // bitmap only hands out pages below `region.pages`), which
            // lives for the whole process, and were free: nothing else
            // refers to them.
            unsafe { core::ptr::write_bytes(start, 0, taken.len()) };
            return Some(taken);
        }
    }
    None
}

/// Give pages back to the pool. Pages that are not the pool's are
/// ignored (and reported as `false`).
pub fn free(taken: Pages) -> bool {
    let mut state = STATE.lock();
    for region in &mut state.regions {
        let end = region.phys + (region.pages * PAGE_SIZE) as u64;
        if taken.phys >= region.phys && taken.phys < end {
            let first = (taken.phys - region.phys) / PAGE_SIZE as u64;
            return region.free.free_range(first, taken.pages as u64).is_ok();
        }
    }
    false
}

/// The physical address of `len` bytes at virtual `virt`, if they are all
/// inside one pool region.
pub fn physical(virt: usize, len: usize) -> Option<u64> {
    let state = STATE.lock();
    let end = virt.checked_add(len)?;
    let region = state.regions.iter().find(|r| virt >= r.virt && end <= r.virt + r.pages * PAGE_SIZE)?;
    Some(region.phys + (virt - region.virt) as u64)
}

/// Free pages left in the pool.
pub fn free_pages() -> usize {
    STATE.lock().regions.iter().map(|r| r.free.stats().free as usize).sum()
}

/// The `virtio_drivers::Hal` of Ferrite's drivers.
pub struct FerriteHal;

// SAFETY: `dma_alloc` returns page-aligned, zeroed pages from a mapping
// that lives as long as the process and that no other allocation uses
// until `dma_dealloc`; `mmio_phys_to_virt` returns addresses inside
// windows mapped for exactly those registers; `share` returns the true
// physical address of pool memory (the device sees what the driver wrote,
// x86 DMA being cache-coherent).
unsafe impl Hal for FerriteHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match allocate(pages) {
            Some(taken) => match NonNull::new(core::ptr::with_exposed_provenance_mut(taken.virt)) {
                Some(ptr) => (taken.phys, ptr),
                None => (0, NonNull::dangling()),
            },
            // virtio-drivers turns a 0 physical address into `DmaError`.
            None => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        if free(Pages { phys: paddr, virt: vaddr.as_ptr().addr(), pages }) { 0 } else { -1 }
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        // virtio-drivers only asks for ranges inside the BARs it read, all
        // of which `pci::Function::map_bars` registered.
        let virt = mmio_address(paddr, size as u64)
            .unwrap_or_else(|| panic!("virtio: registers at {paddr:#x} (+{size:#x}) are in no mapped BAR"));
        NonNull::new(core::ptr::with_exposed_provenance_mut(virt)).unwrap_or_else(|| panic!("virtio: null window"))
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let virt = buffer.as_ptr().cast::<u8>().addr();
        // Every buffer the glue lends comes from the pool (`blk` and `net`
        // allocate them there), so this is a translation; anything else is
        // a bug in the glue, not bad input.
        physical(virt, buffer.len())
            .unwrap_or_else(|| panic!("virtio: buffer at {virt:#x} (+{:#x}) is not DMA memory", buffer.len()))
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}
