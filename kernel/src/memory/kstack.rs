//! Kernel stacks with guard pages. The stack region is cut into fixed
//! slots; a stack occupies the top of its slot and everything below it in
//! the slot stays unmapped, so running off the bottom faults (on the IST
//! double-fault stack) instead of corrupting memory. Slot ownership and
//! sizes are atomics, so the fault path can ask "whose guard page is this?"
//! without taking a lock.
//!
//! Stacks are mapped global and used by whichever CPU runs their thread,
//! so any CPU may cache their translations. A freed stack is therefore only
//! retired: it stays mapped, its slot taken, until the next [`allocate`]
//! reaps every retired stack at once: unmap, one TLB shootdown of all
//! other CPUs (`tlb::shoot_down_kernel`), then free the frames and slots.
//! Reaping there, not in [`free`], is what makes the shootdown safe: a
//! stack is freed when its thread is dropped, which can happen under a lock
//! (with interrupts off) that another CPU may be spinning on with
//! interrupts off, unable to answer; `allocate`'s callers hold no lock.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use x86_64::VirtAddr;
use x86_64::structures::paging::{Page, PageTableFlags, PhysFrame};

use super::{KSTACK_REGION_START, PAGE_SIZE, frame, paging};

/// Virtual size of a slot; a stack may use all of it but the guard page.
pub const SLOT_SIZE: u64 = 256 * 1024;
pub const MAX_STACK_SIZE: u64 = SLOT_SIZE - PAGE_SIZE;
const SLOTS: usize = 4096;

/// One bit per slot: taken or not.
static TAKEN: [AtomicU64; SLOTS / 64] = [const { AtomicU64::new(0) }; SLOTS / 64];
/// Mapped size of each taken slot's stack (0 while being set up).
static SIZES: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];
/// One bit per slot whose stack was freed but is still mapped.
static RETIRED: [AtomicU64; SLOTS / 64] = [const { AtomicU64::new(0) }; SLOTS / 64];
/// Mapped size of each retired slot's stack.
static RETIRED_SIZES: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];

/// A mapped kernel stack. Not freed on drop: call [`free`] when no CPU can
/// be running on it any more.
#[derive(Debug)]
#[must_use = "a stack is freed with kstack::free or kept with keep_forever"]
pub struct KernelStack {
    slot: usize,
    size: u64,
}

impl KernelStack {
    /// The initial stack pointer (16-byte aligned, one past the top).
    pub fn top(&self) -> u64 {
        slot_base(self.slot) + SLOT_SIZE
    }

    /// The lowest mapped address.
    pub fn bottom(&self) -> u64 {
        self.top() - self.size
    }

    /// Keep the stack mapped for the kernel's lifetime (a CPU's own stacks).
    /// Says in code what dropping the handle would do silently.
    pub fn keep_forever(self) {}

    /// The guard page just below the stack.
    pub fn guard_page(&self) -> u64 {
        self.bottom() - PAGE_SIZE
    }
}

fn slot_base(slot: usize) -> u64 {
    KSTACK_REGION_START + slot as u64 * SLOT_SIZE
}

fn claim_slot() -> Option<usize> {
    for (word_index, word) in TAKEN.iter().enumerate() {
        let mut current = word.load(Ordering::Relaxed);
        while current != u64::MAX {
            let bit = current.trailing_ones() as usize;
            match word.compare_exchange_weak(current, current | (1 << bit), Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(word_index * 64 + bit),
                Err(now) => current = now,
            }
        }
    }
    None
}

fn release_slot(slot: usize) {
    SIZES[slot].store(0, Ordering::Release);
    TAKEN[slot / 64].fetch_and(!(1 << (slot % 64)), Ordering::AcqRel);
}

/// Map a new stack of `size` bytes (rounded up to pages) with an unmapped
/// guard page below it. `None` if memory or slots run out. Reaps retired
/// stacks first, which may wait for every other CPU: call holding no lock.
pub fn allocate(size: usize) -> Option<KernelStack> {
    let size = (size as u64).next_multiple_of(PAGE_SIZE);
    assert!(size > 0 && size <= MAX_STACK_SIZE, "kernel stack size {size} out of range");
    reap();
    let slot = claim_slot()?;
    let stack = KernelStack { slot, size };
    let flags = PageTableFlags::WRITABLE | PageTableFlags::NO_EXECUTE | PageTableFlags::GLOBAL;
    let mut mapped = 0;
    while mapped < size {
        let page = Page::containing_address(VirtAddr::new(stack.bottom() + mapped));
        let Some(frame) = frame::allocate() else {
            break;
        };
        if paging::map(page, frame, flags).is_err() {
            let _ = frame::free(frame);
            break;
        }
        mapped += PAGE_SIZE;
    }
    if mapped < size {
        // Never used: no CPU can have cached these pages.
        unmap_range(stack.bottom(), mapped, |frame| {
            let _ = frame::free(frame);
        });
        release_slot(slot);
        return None;
    }
    SIZES[slot].store(size as u32, Ordering::Release);
    Some(stack)
}

/// Retire the stack: no longer live (for the fault path), unmapped and
/// freed by the next [`allocate`]. Lock-free; any context.
pub fn free(stack: KernelStack) {
    SIZES[stack.slot].store(0, Ordering::Release);
    RETIRED_SIZES[stack.slot].store(stack.size as u32, Ordering::Relaxed);
    RETIRED[stack.slot / 64].fetch_or(1 << (stack.slot % 64), Ordering::AcqRel);
}

/// Unmap every retired stack, make the other CPUs forget them, then free
/// their frames and slots. One shootdown for the lot.
fn reap() {
    let mut retired = [0u64; SLOTS / 64];
    let mut pages = 0;
    for (word, bits) in RETIRED.iter().zip(retired.iter_mut()) {
        if word.load(Ordering::Relaxed) != 0 {
            *bits = word.swap(0, Ordering::AcqRel);
            pages +=
                slots_in(*bits).map(|slot| RETIRED_SIZES[slot].load(Ordering::Relaxed) as u64 / PAGE_SIZE).sum::<u64>();
        }
    }
    if pages == 0 {
        return;
    }
    let mut frames = alloc::vec::Vec::new();
    if frames.try_reserve_exact(pages as usize).is_err() {
        // Try again next time.
        for (word, &bits) in RETIRED.iter().zip(retired.iter()) {
            word.fetch_or(bits, Ordering::AcqRel);
        }
        return;
    }
    let slots = || retired.iter().enumerate().flat_map(|(w, &bits)| slots_in(bits).map(move |b| w * 64 + b));
    for slot in slots() {
        let size = u64::from(RETIRED_SIZES[slot].swap(0, Ordering::Relaxed));
        let top = slot_base(slot) + SLOT_SIZE;
        unmap_range(top - size, size, |frame| frames.push(frame));
    }
    crate::memory::tlb::shoot_down_kernel();
    for frame in frames {
        let _ = frame::free(frame);
    }
    for slot in slots() {
        release_slot(slot);
    }
}

/// The bit positions set in `bits`.
fn slots_in(bits: u64) -> impl Iterator<Item = usize> {
    (0..64).filter(move |b| bits & (1 << b) != 0)
}

/// Unmap `[start, start + len)` (flushing only this CPU) and hand each
/// frame to `unmapped`.
fn unmap_range(start: u64, len: u64, mut unmapped: impl FnMut(PhysFrame)) {
    for offset in (0..len).step_by(PAGE_SIZE as usize) {
        let page = Page::containing_address(VirtAddr::new(start + offset));
        if let Ok(frame) = paging::unmap(page) {
            unmapped(frame);
        }
    }
}

/// If `addr` lies in the unmapped part of a live stack's slot (its guard
/// area), the `bottom..top` range of the stack it guards. Lock-free, for the
/// fault path.
pub fn guard_page_owner(addr: u64) -> Option<core::ops::Range<u64>> {
    let offset = addr.checked_sub(KSTACK_REGION_START)?;
    let slot = usize::try_from(offset / SLOT_SIZE).ok().filter(|&s| s < SLOTS)?;
    let size = u64::from(SIZES[slot].load(Ordering::Acquire));
    let top = slot_base(slot) + SLOT_SIZE;
    (size != 0 && addr < top - size).then_some(top - size..top)
}

/// The `bottom..top` range of the live stack containing `addr`, if any.
pub fn stack_containing(addr: u64) -> Option<core::ops::Range<u64>> {
    let offset = addr.checked_sub(KSTACK_REGION_START)?;
    let slot = usize::try_from(offset / SLOT_SIZE).ok().filter(|&s| s < SLOTS)?;
    let size = u64::from(SIZES[slot].load(Ordering::Acquire));
    let top = slot_base(slot) + SLOT_SIZE;
    (size != 0 && addr >= top - size).then_some(top - size..top)
}
