//! The physical frame allocator: the bookkeeping of `frame_alloc` over the
//! bootloader's memory map, behind one lock. Frames are 4 KiB; freed frames
//! go back to the pool at once.

use bootloader_api::info::{MemoryRegionKind, MemoryRegions};
use core::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use frame_alloc::{FRAME_SIZE, FrameBitmap, FreeError};

use spin::{Mutex, Once};
use x86_64::PhysAddr;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::structures::paging::{FrameAllocator, PhysFrame, Size4KiB};

pub use frame_alloc::Stats;

static FRAMES: Mutex<Option<FrameBitmap<'static>>> = Mutex::new(None);

/// The first MiB: the bitmap is kept out of it, and the AP trampoline
/// (which must start in real mode) needs one frame from it.
const LOW_MEMORY_FRAMES: u64 = 0x100;

/// Reference counts of user frames, indexed by frame number.
static REFS: Once<&'static [AtomicU16]> = Once::new();

/// The frame set aside at boot for the AP start-up trampoline.
static TRAMPOLINE_FRAME: AtomicU64 = AtomicU64::new(0);

fn with<R>(f: impl FnOnce(&mut FrameBitmap<'static>) -> R) -> R {
    without_interrupts(|| f(FRAMES.lock().as_mut().expect("frame allocator used before init")))
}

/// The usable RAM regions of the memory map (`[start, end)` physical),
/// to tell RAM from device memory. More regions than this are merged into
/// the last slot (erring towards "RAM", the safe side).
static RAM: Mutex<([(u64, u64); 64], usize)> = Mutex::new(([(0, 0); 64], 0));

/// Whether `phys` lies in RAM the kernel manages.
pub fn is_ram(phys: u64) -> bool {
    without_interrupts(|| {
        let ram = RAM.lock();
        ram.0[..ram.1].iter().any(|&(start, end)| (start..end).contains(&phys))
    })
}

pub(super) fn init(regions: &MemoryRegions) {
    let usable = || regions.iter().filter(|r| r.kind == MemoryRegionKind::Usable);
    {
        let mut ram = RAM.lock();
        for region in usable() {
            let n = ram.1;
            if n < ram.0.len() {
                ram.0[n] = (region.start, region.end);
                ram.1 += 1;
            } else {
                let last = &mut ram.0[n - 1];
                *last = (last.0.min(region.start), last.1.max(region.end));
            }
        }
    }
    let frame_count = usable().map(|r| r.end / FRAME_SIZE).max().unwrap_or(0);
    let words = FrameBitmap::words_needed(frame_count);
    let bitmap_bytes = (words * 8) as u64;
    // Behind the bitmap: one reference count per frame, for frames that
    // several address spaces map (copy-on-write, shared memory).
    let bytes = bitmap_bytes + frame_count * 2;

    // Both live in the first usable region above 1 MiB that holds them.
    let home = usable()
        .find(|r| r.start >= LOW_MEMORY_FRAMES * FRAME_SIZE && r.end - r.start >= bytes)
        .expect("no usable region can hold the frame bitmap");
    let storage_virt = super::phys_to_virt(PhysAddr::new(home.start));
    // SAFETY: the region is usable RAM that nothing else owns yet, mapped at
    // `storage_virt` by the bootloader's physical-memory mapping, and it is
    // reserved in the bitmap below so it is never handed out.
    let storage = unsafe { core::slice::from_raw_parts_mut(storage_virt.as_mut_ptr::<u64>(), words) };
    let mut bitmap = FrameBitmap::new(storage, frame_count);
    let refs_virt = storage_virt + bitmap_bytes;
    // SAFETY: the bytes right after the bitmap in the same reserved region;
    // zeroed before they are viewed as counters (0 = not shared-counted).
    let refs = unsafe {
        core::ptr::write_bytes(refs_virt.as_mut_ptr::<u8>(), 0, (frame_count * 2) as usize);
        core::slice::from_raw_parts(refs_virt.as_ptr::<AtomicU16>(), frame_count as usize)
    };
    REFS.call_once(|| refs);
    for region in usable() {
        let start = region.start.div_ceil(FRAME_SIZE);
        let end = region.end / FRAME_SIZE;
        if end > start {
            bitmap.add_free_range(start, end - start);
        }
    }
    bitmap.reserve_range(home.start / FRAME_SIZE, bytes.div_ceil(FRAME_SIZE));
    bitmap.reserve_range(0, 1); // physical page 0: never a valid frame
    // Set aside a real-mode-reachable frame for the AP trampoline before
    // anything else can take the low ones.
    if let Some(frame) = bitmap.allocate_below(LOW_MEMORY_FRAMES) {
        TRAMPOLINE_FRAME.store(frame * FRAME_SIZE, Ordering::Relaxed);
    }
    *FRAMES.lock() = Some(bitmap);
}

/// A free frame, or `None` when memory is exhausted. Its contents are
/// whatever the last owner left.
pub fn allocate() -> Option<PhysFrame> {
    with(|b| b.allocate()).map(to_frame)
}

/// The frame below 1 MiB reserved at boot for starting the other CPUs, if
/// the memory map had one.
pub fn trampoline_frame() -> Option<PhysFrame> {
    match TRAMPOLINE_FRAME.load(Ordering::Relaxed) {
        0 => None,
        addr => Some(PhysFrame::containing_address(PhysAddr::new(addr))),
    }
}

/// A free frame below physical address `limit`.
pub fn allocate_below(limit: u64) -> Option<PhysFrame> {
    with(|b| b.allocate_below(limit / FRAME_SIZE)).map(to_frame)
}

/// Give a frame back. Freeing a frame that is not allocated is a kernel
/// bug, reported as an error rather than corrupting the pool.
pub fn free(frame: PhysFrame) -> Result<(), FreeError> {
    with(|b| b.free(frame.start_address().as_u64() / FRAME_SIZE))
}

pub fn stats() -> Stats {
    with(|b| b.stats())
}

fn to_frame(number: u64) -> PhysFrame {
    PhysFrame::containing_address(PhysAddr::new(number * FRAME_SIZE))
}

/// Feeds page-table frames to the `x86_64` crate's mapper.
pub struct FrameSource;

// SAFETY: `allocate` returns frames that are free and now owned by the
// caller, never the same frame twice.
unsafe impl FrameAllocator<Size4KiB> for FrameSource {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        allocate()
    }
}

fn refcount(frame: PhysFrame) -> &'static AtomicU16 {
    let refs = REFS.get().expect("frame allocator used before init");
    &refs[(frame.start_address().as_u64() / FRAME_SIZE) as usize]
}

/// Frames user memory may never take: what the kernel heap, page tables
/// and kernel stacks can still count on when processes have eaten the rest
/// (1/32 of RAM, at least 512 KiB). Without it the process that runs
/// memory out makes the next kernel allocation fail, in whatever process or
/// interrupt needs it.
fn kernel_reserve(managed: u64) -> u64 {
    (managed / 32).max(128)
}

/// Whether user memory can have a frame now (more than the kernel's
/// reserve is free).
pub fn user_frames_available() -> bool {
    with(|b| {
        let stats = b.stats();
        stats.free > kernel_reserve(stats.managed)
    })
}

/// A zeroed frame for user memory, with a reference count of 1; `None`
/// once only the kernel's reserve is left.
pub fn allocate_user() -> Option<PhysFrame> {
    let frame = with(|b| {
        let stats = b.stats();
        if stats.free <= kernel_reserve(stats.managed) {
            return None;
        }
        b.allocate()
    })
    .map(to_frame)?;
    // SAFETY: the frame is free RAM now owned by the caller, visible through
    // the physical-memory mapping.
    unsafe {
        core::ptr::write_bytes(super::phys_to_virt(frame.start_address()).as_mut_ptr::<u8>(), 0, FRAME_SIZE as usize)
    };
    refcount(frame).store(1, Ordering::Release);
    Some(frame)
}

/// `count` physically consecutive zeroed frames for user memory (a
/// driver's DMA buffer), each with a reference count of 1; returns the
/// first. `None` when no such run is free above the kernel's reserve.
pub fn allocate_user_contiguous(count: u64) -> Option<PhysFrame> {
    let first = with(|b| {
        let stats = b.stats();
        if stats.free <= kernel_reserve(stats.managed).saturating_add(count) {
            return None;
        }
        b.allocate_contiguous(count, 1)
    })
    .map(to_frame)?;
    for i in 0..count {
        let frame = first + i;
        // SAFETY: the run is free RAM now owned by the caller, visible
        // through the physical-memory mapping.
        unsafe {
            core::ptr::write_bytes(
                super::phys_to_virt(frame.start_address()).as_mut_ptr::<u8>(),
                0,
                FRAME_SIZE as usize,
            )
        };
        refcount(frame).store(1, Ordering::Release);
    }
    Some(first)
}

/// One more address space maps `frame` (from `allocate_user`): fork and
/// mappings of a daemon's or a scheme's pages. `false` (the caller fails
/// with `ENOMEM`) when the count is full: processes choose how often a
/// frame is mapped, so a full count is their doing, not a kernel bug.
#[must_use]
pub fn share(frame: PhysFrame) -> bool {
    share_below(frame, u16::MAX)
}

/// Like [`share`], but keeps 1024 references free for forks and mappings,
/// for references a process can make many of cheaply (lending pages to
/// daemons, handing frames out for an fmap).
#[must_use]
pub fn try_share(frame: PhysFrame) -> bool {
    share_below(frame, u16::MAX - 1024)
}

fn share_below(frame: PhysFrame, limit: u16) -> bool {
    refcount(frame)
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n != 0 && n < limit).then_some(n + 1))
        .is_ok()
}

/// How many address spaces map `frame`.
pub fn share_count(frame: PhysFrame) -> u16 {
    refcount(frame).load(Ordering::Acquire)
}

/// One mapping of a user frame went away; the last one frees it.
pub fn release(frame: PhysFrame) {
    let previous = refcount(frame).fetch_sub(1, Ordering::AcqRel);
    assert!(previous != 0, "releasing unreferenced frame {frame:?}");
    if previous == 1
        && let Err(err) = free(frame)
    {
        log::error!("freeing user frame {frame:?}: {err:?}");
    }
}
