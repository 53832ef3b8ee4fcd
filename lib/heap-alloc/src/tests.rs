//! Host tests for the free-list heap.
//!
//! Why this exists: the heap's invariants (no overlap, alignment, coalescing,
//! first fit, exact accounting) are checked here on the host, where a bug is
//! an assertion message rather than a kernel fault.
//!
//! What it may touch: only buffers it allocates from the host's allocator
//! ([`Region`]) and hands to the heap under test; every buffer outlives the
//! heap using it.

use super::*;
use std::alloc::{alloc_zeroed, dealloc};
use std::collections::BTreeMap;
use std::vec::Vec;
use xorshift::Rng;

/// A host buffer aligned to 4096 that the heap under test may own.
struct Region {
    ptr: *mut u8,
    layout: Layout,
}

impl Region {
    fn new(size: usize) -> Self {
        let layout = Layout::from_size_align(size, 4096).unwrap();
        // SAFETY: `layout` has a non-zero size (all tests pass one).
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }

    /// Address `offset` bytes into the buffer, with its provenance exposed
    /// so the heap can use it.
    fn addr(&self, offset: usize) -> usize {
        self.ptr.wrapping_add(offset).expose_provenance()
    }

    fn start(&self) -> usize {
        self.addr(0)
    }

    fn end(&self) -> usize {
        self.addr(self.layout.size())
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) };
    }
}

/// A heap owning all of `region`.
fn heap_over(region: &Region) -> FreeListHeap {
    let mut heap = FreeListHeap::new();
    // SAFETY: the region is a live, unused buffer that outlives the heap.
    unsafe { heap.add_region(region.start(), region.layout.size()) };
    heap
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

fn rounded(size: usize) -> usize {
    size.max(1).next_multiple_of(MIN_BLOCK)
}

fn fill(ptr: NonNull<u8>, len: usize, seed: u8) {
    for i in 0..len {
        // SAFETY: `ptr` is a live allocation of at least `len` bytes.
        unsafe { ptr.as_ptr().add(i).write(seed.wrapping_add(i as u8)) };
    }
}

fn verify(ptr: NonNull<u8>, len: usize, seed: u8) {
    for i in 0..len {
        // SAFETY: `ptr` is a live allocation of at least `len` bytes.
        let byte = unsafe { ptr.as_ptr().add(i).read() };
        assert_eq!(byte, seed.wrapping_add(i as u8), "byte {i} of {ptr:p}");
    }
}

#[test]
fn constants() {
    assert_eq!(MIN_BLOCK, 16);
    assert_eq!(BLOCK_ALIGN, 16);
    assert!(MIN_BLOCK >= size_of::<Node>());
}

/// The shape of the kernel's `#[global_allocator]`: a lock around the heap
/// in a static (the kernel uses a spin lock; `Send` is what makes it `Sync`).
struct Locked(std::sync::Mutex<FreeListHeap>);

// SAFETY: forwards to the heap under the lock; `allocate`/`deallocate` keep
// the `GlobalAlloc` contract (blocks of at least `layout.size()` bytes,
// aligned to `layout.align()`, freed with the same layout).
unsafe impl core::alloc::GlobalAlloc for Locked {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut heap = self.0.lock().unwrap();
        heap.allocate(layout).map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut heap = self.0.lock().unwrap();
        // SAFETY: `GlobalAlloc::dealloc`'s contract: `ptr` came from `alloc`
        // on this allocator with `layout`, so it is non-null and live.
        unsafe { heap.deallocate(NonNull::new_unchecked(ptr), layout) };
    }
}

static LOCKED: Locked = Locked(std::sync::Mutex::new(FreeListHeap::new()));

#[test]
fn works_as_a_locked_static() {
    use core::alloc::GlobalAlloc;
    let region = Region::new(4096);
    // SAFETY: a live buffer; the heap is emptied of it again below by
    // replacing the heap before the buffer is dropped.
    unsafe { LOCKED.0.lock().unwrap().add_region(region.start(), 4096) };
    let l = layout(24, 8);
    // SAFETY: `l` has a non-zero size; the block is freed with `l`.
    unsafe {
        let p = LOCKED.alloc(l);
        assert!(!p.is_null());
        LOCKED.dealloc(p, l);
    }
    let heap = core::mem::take(&mut *LOCKED.0.lock().unwrap());
    assert_eq!(heap.stats().used, 0);
    assert_eq!(heap.largest_free_block(), 4096);
}

#[test]
fn empty_heap() {
    let mut heap = FreeListHeap::default();
    assert_eq!(heap.allocate(layout(1, 1)), None);
    assert_eq!(heap.allocate(layout(0, 1)), None);
    assert_eq!(heap.stats(), HeapStats { total: 0, used: 0, free: 0, allocations: 0 });
    assert_eq!(heap.largest_free_block(), 0);
    assert_eq!(heap.free_block_count(), 0);
}

#[test]
fn basic_allocate_and_free() {
    let region = Region::new(4096);
    let mut heap = heap_over(&region);
    assert_eq!(heap.stats().total, 4096);
    assert_eq!(heap.stats().free, 4096);
    let a = heap.allocate(layout(10, 1)).unwrap();
    let b = heap.allocate(layout(100, 8)).unwrap();
    assert_eq!(a.as_ptr().addr(), region.start());
    assert_eq!(b.as_ptr().addr(), region.start() + 16);
    assert_eq!(heap.stats(), HeapStats { total: 4096, used: 16 + 112, free: 4096 - 128, allocations: 2 });
    // SAFETY: `a` and `b` come from this heap with these layouts.
    unsafe {
        heap.deallocate(a, layout(10, 1));
        assert_eq!(heap.free_block_count(), 2);
        heap.deallocate(b, layout(100, 8));
    }
    assert_eq!(heap.free_block_count(), 1);
    assert_eq!(heap.largest_free_block(), 4096);
    assert_eq!(heap.stats().used, 0);
    assert_eq!(heap.stats().allocations, 0);
}

#[test]
fn zero_size_layouts() {
    let region = Region::new(4096);
    let mut heap = heap_over(&region);
    let mut ptrs = Vec::new();
    for align in [1, 2, 8, 64] {
        let p = heap.allocate(layout(0, align)).unwrap();
        assert_eq!(p.as_ptr().addr() % align, 0);
        ptrs.push((p, align));
    }
    ptrs.sort_by_key(|(p, _)| p.as_ptr().addr());
    ptrs.dedup_by_key(|(p, _)| p.as_ptr().addr());
    assert_eq!(ptrs.len(), 4, "zero-size allocations must be distinct");
    assert_eq!(heap.stats().used, 4 * MIN_BLOCK);
    for (p, align) in ptrs {
        // SAFETY: from this heap with this layout.
        unsafe { heap.deallocate(p, layout(0, align)) };
    }
    assert_eq!(heap.free_block_count(), 1);
    assert_eq!(heap.largest_free_block(), 4096);
}

#[test]
fn alignment_honoured() {
    // Start the heap 16 bytes into a page so large alignments need a gap.
    let region = Region::new(1 << 20);
    let mut heap = FreeListHeap::new();
    // SAFETY: part of a live buffer that outlives the heap.
    unsafe { heap.add_region(region.addr(16), (1 << 20) - 16) };
    let total = heap.stats().total;
    let mut live = Vec::new();
    for round in 0..3 {
        for shift in 0..=13 {
            let align = 1usize << shift;
            for size in [0, 1, 7, 16, 17, 100, align, 3 * align + round] {
                let l = layout(size, align);
                let p = heap.allocate(l).unwrap();
                let addr = p.as_ptr().addr();
                assert_eq!(addr % align, 0, "align {align} size {size}");
                assert!(addr >= region.addr(16) && addr + size <= region.end());
                live.push((p, l));
            }
        }
    }
    check_no_overlap(&live);
    for (i, &(p, l)) in live.iter().enumerate() {
        fill(p, l.size(), i as u8);
    }
    for (i, &(p, l)) in live.iter().enumerate() {
        verify(p, l.size(), i as u8);
    }
    for (p, l) in live {
        // SAFETY: from this heap with this layout.
        unsafe { heap.deallocate(p, l) };
    }
    assert_eq!(heap.stats().used, 0);
    assert_eq!(heap.free_block_count(), 1);
    assert_eq!(heap.largest_free_block(), total);
}

fn check_no_overlap(live: &[(NonNull<u8>, Layout)]) {
    let mut spans: Vec<(usize, usize)> =
        live.iter().map(|(p, l)| (p.as_ptr().addr(), p.as_ptr().addr() + rounded(l.size()))).collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "{:x?} overlaps {:x?}", w[0], w[1]);
    }
}

#[test]
fn patterns_survive_churn() {
    let region = Region::new(256 * 1024);
    let mut heap = heap_over(&region);
    let mut rng = Rng::new(99);
    let mut live: Vec<(NonNull<u8>, Layout, u8)> = Vec::new();
    for i in 0..2000u32 {
        if live.len() > 50 && rng.below(3) == 0 {
            let (p, l, seed) = live.swap_remove(rng.below(live.len()));
            verify(p, l.size(), seed);
            // SAFETY: from this heap with this layout.
            unsafe { heap.deallocate(p, l) };
        } else {
            let l = layout(rng.below(700), 1 << rng.below(7));
            if let Some(p) = heap.allocate(l) {
                fill(p, l.size(), i as u8);
                live.push((p, l, i as u8));
            }
        }
    }
    for &(p, l, seed) in &live {
        verify(p, l.size(), seed);
    }
}

#[test]
fn too_big_returns_none_and_changes_nothing() {
    let region = Region::new(8192);
    let mut heap = heap_over(&region);
    let a = heap.allocate(layout(100, 16)).unwrap();
    let before = heap.stats();
    let blocks: Vec<_> = heap.free_blocks().collect();
    assert_eq!(heap.allocate(layout(8192, 1)), None);
    assert_eq!(heap.allocate(layout(8192 - 112 + 1, 1)), None);
    assert_eq!(heap.allocate(layout(isize::MAX as usize, 1)), None);
    assert_eq!(heap.allocate(layout(1, 1 << 40)), None);
    // Fits by size but not with this alignment: the free block starts at
    // +112 (the region is page-aligned), so the first page-aligned address
    // in it is +4096, which leaves only 4096 bytes.
    assert_eq!(heap.allocate(layout(4112, 4096)), None);
    assert_eq!(heap.largest_free_block(), 8080);
    assert_eq!(heap.stats(), before);
    assert_eq!(heap.free_blocks().collect::<Vec<_>>(), blocks);
    // Exactly what is left (8080 bytes, a multiple of 16) does fit.
    let b = heap.allocate(layout(8192 - 112, 1)).unwrap();
    assert_eq!(heap.stats().free, 0);
    assert_eq!(heap.allocate(layout(0, 1)), None);
    // SAFETY: from this heap with these layouts.
    unsafe {
        heap.deallocate(b, layout(8192 - 112, 1));
        heap.deallocate(a, layout(100, 16));
    }
    assert_eq!(heap.largest_free_block(), 8192);
}

#[test]
fn first_fit_reuses_lowest_hole() {
    let region = Region::new(4096);
    let mut heap = heap_over(&region);
    let l = layout(64, 8);
    let ptrs: Vec<_> = (0..8).map(|_| heap.allocate(l).unwrap()).collect();
    // SAFETY: from this heap with this layout.
    unsafe {
        heap.deallocate(ptrs[5], l);
        heap.deallocate(ptrs[2], l);
    }
    assert_eq!(heap.allocate(l), Some(ptrs[2]));
    assert_eq!(heap.allocate(l), Some(ptrs[5]));
    assert_eq!(heap.allocate(l).unwrap().as_ptr().addr(), region.start() + 8 * 64);
}

#[test]
fn coalescing_in_every_order() {
    let region = Region::new(4096);
    let l = layout(48, 16);
    // Free three neighbours in all six orders: always one block at the end.
    let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for order in orders {
        let mut heap = heap_over(&region);
        let p: Vec<_> = (0..3).map(|_| heap.allocate(l).unwrap()).collect();
        // Keep a fourth allocation so the three don't merge with the tail.
        let guard = heap.allocate(l).unwrap();
        for &i in &order {
            // SAFETY: from this heap with this layout, freed once.
            unsafe { heap.deallocate(p[i], l) };
        }
        let blocks: Vec<_> = heap.free_blocks().collect();
        assert_eq!(blocks, [(region.start(), 144), (region.start() + 192, 4096 - 192)], "order {order:?}");
        // SAFETY: from this heap with this layout.
        unsafe { heap.deallocate(guard, l) };
        assert_eq!(heap.free_blocks().collect::<Vec<_>>(), [(region.start(), 4096)]);
    }
}

#[test]
fn add_region_adjacent_to_end_merges() {
    let region = Region::new(8192);
    let mut heap = FreeListHeap::new();
    // SAFETY: the first half of a live buffer that outlives the heap.
    unsafe { heap.add_region(region.start(), 4096) };
    let a = heap.allocate(layout(1000, 8)).unwrap();
    // SAFETY: the second half, adjacent to the first.
    unsafe { heap.add_region(region.start() + 4096, 4096) };
    assert_eq!(heap.free_block_count(), 1, "growing the end extends the last block");
    assert_eq!(heap.largest_free_block(), 8192 - 1008);
    assert_eq!(heap.stats().total, 8192);
    // A request bigger than either half now fits.
    let b = heap.allocate(layout(6000, 8)).unwrap();
    // SAFETY: from this heap with these layouts.
    unsafe {
        heap.deallocate(a, layout(1000, 8));
        heap.deallocate(b, layout(6000, 8));
    }
    assert_eq!(heap.free_blocks().collect::<Vec<_>>(), [(region.start(), 8192)]);
}

#[test]
fn add_region_after_full_block_coalesces_on_free() {
    let region = Region::new(8192);
    let mut heap = FreeListHeap::new();
    // SAFETY: the first half of a live buffer that outlives the heap.
    unsafe { heap.add_region(region.start(), 4096) };
    let a = heap.allocate(layout(4096, 4096)).unwrap();
    assert_eq!(heap.allocate(layout(1, 1)), None);
    // SAFETY: the second half; the kernel grows the heap just like this.
    unsafe { heap.add_region(region.start() + 4096, 4096) };
    assert_eq!(heap.free_block_count(), 1);
    // SAFETY: from this heap with this layout.
    unsafe { heap.deallocate(a, layout(4096, 4096)) };
    assert_eq!(heap.free_blocks().collect::<Vec<_>>(), [(region.start(), 8192)]);
}

#[test]
fn add_region_before_and_between() {
    let region = Region::new(3 * 4096);
    let mut heap = FreeListHeap::new();
    // SAFETY: disjoint parts of a live buffer that outlives the heap.
    unsafe {
        heap.add_region(region.start() + 2 * 4096, 4096);
        heap.add_region(region.start(), 4096);
    }
    assert_eq!(heap.free_block_count(), 2);
    assert_eq!(heap.largest_free_block(), 4096);
    // SAFETY: the middle part, touching both.
    unsafe { heap.add_region(region.start() + 4096, 4096) };
    assert_eq!(heap.free_blocks().collect::<Vec<_>>(), [(region.start(), 3 * 4096)]);
}

#[test]
fn add_region_trims_and_ignores_tiny() {
    let region = Region::new(4096);
    let mut heap = FreeListHeap::new();
    // SAFETY: parts of a live buffer that outlives the heap.
    unsafe {
        heap.add_region(region.addr(1), 30); // [1, 31) has no aligned 16 bytes
        heap.add_region(region.addr(100), 0);
        heap.add_region(region.addr(3), 40); // trims to [16, 32)
    }
    assert_eq!(heap.free_blocks().collect::<Vec<_>>(), [(region.addr(16), 16)]);
    // SAFETY: as above, disjoint from what was added.
    unsafe { heap.add_region(region.addr(33), 4096 - 33 - 5) }; // [48, 4080)
    assert_eq!(heap.stats().total, 16 + 4032);
    assert_eq!(heap.free_block_count(), 2);
    // Address 0 and wrap-around are not used.
    let mut nowhere = FreeListHeap::new();
    // SAFETY: a region that trims to nothing is never touched.
    unsafe {
        nowhere.add_region(0, 15);
        nowhere.add_region(usize::MAX - 20, 100);
    }
    assert_eq!(nowhere.stats().total, 0);
}

#[test]
#[should_panic(expected = "double free")]
fn double_free_panics() {
    let region = Region::new(4096);
    let mut heap = heap_over(&region);
    let a = heap.allocate(layout(32, 8)).unwrap();
    let _b = heap.allocate(layout(32, 8)).unwrap();
    // SAFETY: deliberately wrong: the second call is a double free, which
    // the heap catches before touching memory.
    unsafe {
        heap.deallocate(a, layout(32, 8));
        heap.deallocate(a, layout(32, 8));
    }
}

#[test]
#[should_panic(expected = "overlaps")]
fn adding_a_region_twice_panics() {
    let region = Region::new(4096);
    let mut heap = heap_over(&region);
    // SAFETY: deliberately wrong; caught before memory is touched.
    unsafe { heap.add_region(region.addr(1024), 64) };
}

#[test]
fn reallocate_in_place_and_moving() {
    let region = Region::new(4096);
    let mut heap = heap_over(&region);
    let l = layout(100, 8);
    let a = heap.allocate(l).unwrap();
    fill(a, 100, 7);
    // Grow into the free space right behind it.
    // SAFETY: `a` is live with layout `l`.
    let a2 = unsafe { heap.reallocate(a, l, 300) }.unwrap();
    assert_eq!(a2, a);
    verify(a2, 100, 7);
    assert_eq!(heap.stats().used, rounded(300));
    // Shrink in place; the tail goes back to the free list.
    // SAFETY: `a2` is live with size 300.
    let a3 = unsafe { heap.reallocate(a2, layout(300, 8), 40) }.unwrap();
    assert_eq!(a3, a);
    verify(a3, 40, 7);
    assert_eq!(heap.stats().used, 48);
    assert_eq!(heap.free_block_count(), 1);
    // Block the neighbour, then grow: must move and keep the bytes.
    let b = heap.allocate(layout(16, 1)).unwrap();
    assert_eq!(b.as_ptr().addr(), a.as_ptr().addr() + 48);
    // SAFETY: `a3` is live with size 40.
    let a4 = unsafe { heap.reallocate(a3, layout(40, 8), 1000) }.unwrap();
    assert_ne!(a4, a);
    verify(a4, 40, 7);
    assert_eq!(heap.stats().allocations, 2);
    assert_eq!(heap.stats().used, 16 + 1008);
    // Growing beyond what exists fails and leaves the block alone.
    // SAFETY: `a4` is live with size 1000.
    let too_big = unsafe { heap.reallocate(a4, layout(1000, 8), 1 << 20) };
    assert_eq!(too_big, None);
    verify(a4, 40, 7);
    // Growing exactly into a neighbour that is just big enough.
    // SAFETY: live blocks with these layouts.
    unsafe {
        heap.deallocate(b, layout(16, 1));
        let a5 = heap.reallocate(a4, layout(1000, 8), 1000 + 4096 - 1008 - 48 - 16);
        let a5 = a5.unwrap();
        assert_eq!(heap.stats().free, 48 + 16);
        verify(a5, 40, 7);
        heap.deallocate(a5, layout(4096 - 48 - 16 - 8, 8));
    }
    assert_eq!(heap.free_blocks().collect::<Vec<_>>(), [(region.start(), 4096)]);
    assert_eq!(heap.stats().allocations, 0);
}

#[test]
fn region_size_for_is_enough() {
    for shift in 0..=13 {
        let align = 1usize << shift;
        for size in [0, 1, 100, 4096, 5000] {
            let l = layout(size, align);
            let need = FreeListHeap::region_size_for(l).unwrap();
            // Any BLOCK_ALIGN-aligned start must do.
            for offset in (0..align.max(BLOCK_ALIGN)).step_by(BLOCK_ALIGN).take(40) {
                let region = Region::new(need + 8192);
                let mut heap = FreeListHeap::new();
                // SAFETY: part of a live buffer that outlives the heap.
                unsafe { heap.add_region(region.addr(offset), need) };
                assert!(heap.allocate(l).is_some(), "size {size} align {align} offset {offset} need {need}");
            }
        }
    }
    assert_eq!(FreeListHeap::region_size_for(layout(1, 1)), Some(16));
    assert_eq!(FreeListHeap::region_size_for(layout(4096, 4096)), Some(8192 - 16));
}

/// Checks every invariant the heap keeps, against the live allocations.
fn check_heap(heap: &FreeListHeap, live: &BTreeMap<usize, (Layout, u8)>, regions: &[&Region]) {
    let stats = heap.stats();
    let used: usize = live.values().map(|(l, _)| rounded(l.size())).sum();
    assert_eq!(stats.used, used);
    assert_eq!(stats.allocations, live.len());
    assert_eq!(stats.total, stats.used + stats.free);
    let blocks: Vec<_> = heap.free_blocks().collect();
    assert_eq!(blocks.iter().map(|b| b.1).sum::<usize>(), stats.free);
    for w in blocks.windows(2) {
        assert!(w[0].0 + w[0].1 < w[1].0, "free blocks {w:x?} unsorted, overlapping or not coalesced");
    }
    // Free blocks and live allocations tile the regions without overlap.
    let mut spans: Vec<(usize, usize)> = blocks.iter().map(|&(a, s)| (a, a + s)).collect();
    spans.extend(live.iter().map(|(&a, (l, _))| (a, a + rounded(l.size()))));
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "{:x?} overlaps {:x?}", w[0], w[1]);
    }
    for &(a, e) in &spans {
        assert!(regions.iter().any(|r| a >= r.start() && e <= r.end()), "{a:#x}..{e:#x} outside every region");
        assert_eq!(a % BLOCK_ALIGN, 0);
    }
    for (&a, &(l, seed)) in live {
        verify(NonNull::new(ptr_at(a)).unwrap(), l.size(), seed);
    }
}

/// Where first fit must put `layout`, computed from the free list.
fn expected_first_fit(heap: &FreeListHeap, layout: Layout) -> Option<usize> {
    let size = rounded(layout.size());
    let align = layout.align().max(BLOCK_ALIGN);
    heap.free_blocks().find_map(|(a, s)| {
        let start = a.next_multiple_of(align);
        (start + size <= a + s).then_some(start)
    })
}

fn stress(seed: u64, ops: usize) {
    let r1 = Region::new(64 * 1024);
    let r2 = Region::new(32 * 1024);
    let mut heap = heap_over(&r1);
    // SAFETY: a second live buffer that outlives the heap.
    unsafe { heap.add_region(r2.start(), 32 * 1024) };
    let regions = [&r1, &r2];
    let mut rng = Rng::new(seed);
    let mut live: BTreeMap<usize, (Layout, u8)> = BTreeMap::new();
    for op in 0..ops {
        let seed = op as u8;
        match rng.below(10) {
            0..=4 => {
                let size = match rng.below(10) {
                    0 => 0,
                    1 => rng.below(20_000),
                    _ => rng.below(600),
                };
                let l = layout(size, 1 << rng.below(13));
                let expect = expected_first_fit(&heap, l);
                let got = heap.allocate(l);
                assert_eq!(got.map(|p| p.as_ptr().addr()), expect, "op {op}: {l:?}");
                if let Some(p) = got {
                    assert_eq!(p.as_ptr().addr() % l.align(), 0);
                    fill(p, size, seed);
                    live.insert(p.as_ptr().addr(), (l, seed));
                }
            }
            5..=7 => {
                if !live.is_empty() {
                    let &addr = live.keys().nth(rng.below(live.len())).unwrap();
                    let (l, s) = live.remove(&addr).unwrap();
                    let p = NonNull::new(ptr_at(addr)).unwrap();
                    verify(p, l.size(), s);
                    // SAFETY: a live allocation of this heap with layout `l`.
                    unsafe { heap.deallocate(p, l) };
                }
            }
            _ => {
                if !live.is_empty() {
                    let &addr = live.keys().nth(rng.below(live.len())).unwrap();
                    let (l, s) = live[&addr];
                    let new_size = rng.below(2000);
                    let p = NonNull::new(ptr_at(addr)).unwrap();
                    // SAFETY: a live allocation of this heap with layout `l`.
                    match unsafe { heap.reallocate(p, l, new_size) } {
                        Some(q) => {
                            live.remove(&addr);
                            verify(q, l.size().min(new_size), s);
                            assert_eq!(q.as_ptr().addr() % l.align(), 0);
                            fill(q, new_size, seed);
                            let nl = layout(new_size, l.align());
                            live.insert(q.as_ptr().addr(), (nl, seed));
                        }
                        None => verify(p, l.size(), s),
                    }
                }
            }
        }
        if op % 50 == 0 {
            check_heap(&heap, &live, &regions);
        }
    }
    check_heap(&heap, &live, &regions);
    let total = heap.stats().total;
    for (addr, (l, _)) in core::mem::take(&mut live) {
        // SAFETY: a live allocation of this heap with layout `l`.
        unsafe { heap.deallocate(NonNull::new(ptr_at(addr)).unwrap(), l) };
    }
    check_heap(&heap, &live, &regions);
    assert_eq!(heap.stats(), HeapStats { total, used: 0, free: total, allocations: 0 });
    // One block per region, unless the host happened to place them adjacent.
    let mut expect = [(r1.start(), 64 * 1024), (r2.start(), 32 * 1024)];
    expect.sort();
    if expect[0].0 + expect[0].1 == expect[1].0 {
        assert_eq!(heap.free_blocks().collect::<Vec<_>>(), [(expect[0].0, total)]);
    } else {
        assert_eq!(heap.free_blocks().collect::<Vec<_>>(), expect);
    }
}

#[test]
fn randomized_stress_against_model() {
    // Miri (`cargo +nightly miri test -p heap-alloc`) is slow; fewer ops.
    let ops = if cfg!(miri) { 300 } else { 4000 };
    stress(1, ops);
    stress(0xdead_beef, ops);
    stress(0x1234_5678_9abc_def0, ops);
}
