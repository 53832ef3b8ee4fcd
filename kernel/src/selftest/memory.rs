//! Self-tests of memory management: the frame allocator under exhaustion,
//! the heap, map/unmap/remap, and the permissions of every kernel mapping.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use goblin::elf::Elf;
use goblin::elf::program_header::{PF_W, PF_X, PT_GNU_RELRO, PT_LOAD};
use x86_64::structures::paging::{Page, PageTableFlags, PhysFrame};
use x86_64::{PhysAddr, VirtAddr};

use super::{Outcome, ensure};
use crate::arch::x86_64::{exception, trap};
use crate::memory::{self, PAGE_SIZE, SCRATCH_REGION_START, frame, heap, kstack, paging, phys_to_virt};

/// Take every free frame, check each is distinct and really usable, give
/// them all back, and check the allocator is exactly where it started.
/// The frames are chained through their own first word, so the test
/// itself needs no memory.
pub fn frame_exhaustion() -> Outcome {
    let before = frame::stats();
    let mut head: u64 = 0; // physical address of the last frame taken, 0 = none
    let mut taken = 0u64;
    while let Some(frame) = frame::allocate() {
        let phys = frame.start_address().as_u64();
        let virt = phys_to_virt(frame.start_address()).as_mut_ptr::<u64>();
        // SAFETY: the frame is ours until freed below; it is mapped through
        // the physical-memory mapping. Word 0 links to the previous frame,
        // word 1 holds the frame's own address as a uniqueness check.
        unsafe {
            virt.write(head);
            virt.add(1).write(phys);
        }
        head = phys;
        taken += 1;
    }
    let exhausted = frame::stats();
    let mut freed = 0u64;
    let mut corrupt = 0u64;
    while head != 0 {
        let virt = phys_to_virt(PhysAddr::new(head)).as_ptr::<u64>();
        // SAFETY: `head` is a frame taken above, still owned by this test.
        let (next, own) = unsafe { (virt.read(), virt.add(1).read()) };
        if own != head {
            corrupt += 1;
        }
        let freed_ok = frame::free(PhysFrame::containing_address(PhysAddr::new(head))).is_ok();
        if freed_ok {
            freed += 1;
        }
        head = next;
    }
    let after = frame::stats();
    ensure!(taken == before.free, "took {taken} frames but {} were free", before.free);
    ensure!(exhausted.free == 0, "{} frames still free after exhaustion", exhausted.free);
    ensure!(corrupt == 0, "{corrupt} frames were handed out twice");
    ensure!(freed == taken, "only {freed} of {taken} frames could be freed");
    ensure!(
        after.free == before.free && after.used == before.used,
        "leak: {} free before, {} after",
        before.free,
        after.free
    );
    Ok(format!("{taken} frames = {} MiB taken and returned", (taken * PAGE_SIZE) >> 20))
}

pub fn heap() -> Outcome {
    let before = heap::stats();
    {
        let mut boxes: Vec<Box<[u8]>> = Vec::new();
        for i in 0..512usize {
            let size = 1 + (i * 37) % 3000;
            boxes.push(alloc::vec![(i % 251) as u8; size].into_boxed_slice());
        }
        for (i, b) in boxes.iter().enumerate() {
            ensure!(b.iter().all(|&x| x == (i % 251) as u8), "allocation {i} was overwritten");
        }
        // Odd-indexed frees, then reuse the holes with aligned allocations.
        let mut kept = Vec::new();
        for (i, b) in boxes.into_iter().enumerate() {
            if i % 2 == 0 {
                kept.push(b);
            }
        }
        for align in [16usize, 64, 256, 4096] {
            let layout = core::alloc::Layout::from_size_align(align * 3, align).unwrap();
            // SAFETY: non-zero size; freed right away with the same layout.
            let ptr = unsafe { alloc::alloc::alloc(layout) };
            ensure!(!ptr.is_null(), "aligned allocation of {align} failed");
            ensure!((ptr as usize).is_multiple_of(align), "allocation not aligned to {align}");
            // SAFETY: as above.
            unsafe { alloc::alloc::dealloc(ptr, layout) };
        }
        drop(kept);
    }
    let after = heap::stats();
    ensure!(after.allocations == before.allocations, "{} allocations leaked", after.allocations - before.allocations);
    ensure!(after.used == before.used, "{} bytes leaked", after.used - before.used);
    Ok(format!("{} KiB in use, {} KiB free", after.used / 1024, after.free / 1024))
}

/// An allocation larger than the whole heap forces it to grow.
pub fn heap_growth() -> Outcome {
    let mapped_before = heap::mapped_bytes();
    let size = (mapped_before as usize) + 1024 * 1024;
    let mut big: Vec<u8> = Vec::new();
    ensure!(big.try_reserve_exact(size).is_ok(), "could not allocate {size} bytes");
    big.resize(size, 0x5a);
    ensure!(big.iter().step_by(4096).all(|&b| b == 0x5a), "grown heap memory does not hold data");
    let mapped_after = heap::mapped_bytes();
    drop(big);
    ensure!(mapped_after > mapped_before, "heap did not grow");
    Ok(format!("grew from {} KiB to {} KiB", mapped_before / 1024, mapped_after / 1024))
}

extern "C" fn write_byte(addr: usize) {
    // SAFETY: deliberately unchecked; run under `trap::try_call`, which
    // turns the expected fault into an error.
    unsafe { core::ptr::write_volatile(addr as *mut u8, 0x42) };
}

extern "C" fn read_byte(addr: usize) {
    // SAFETY: as for `write_byte`.
    unsafe { core::ptr::read_volatile(addr as *const u8) };
}

pub fn map_unmap_remap() -> Outcome {
    let before = frame::stats();
    let page = Page::containing_address(VirtAddr::new(SCRATCH_REGION_START));
    let addr = page.start_address().as_u64() as usize;
    let rw = PageTableFlags::WRITABLE | PageTableFlags::NO_EXECUTE;

    let first = frame::allocate().ok_or("no frame")?;
    let second = frame::allocate().ok_or("no frame")?;
    paging::map(page, first, rw).map_err(|e| format!("map: {e:?}"))?;
    // SAFETY: the scratch page is mapped writable to `first`, owned here.
    unsafe { core::ptr::write_volatile(addr as *mut u64, 0x1111) };
    // SAFETY: `first` is owned here and visible through the physical map.
    let seen = unsafe { phys_to_virt(first.start_address()).as_ptr::<u64>().read_volatile() };
    ensure!(seen == 0x1111, "write through the mapping not visible in the frame");

    // Remap the same page to another frame.
    let old = paging::unmap(page).map_err(|e| format!("unmap: {e:?}"))?;
    ensure!(old == first, "unmap returned the wrong frame");
    // SAFETY: `second` is owned here.
    unsafe { phys_to_virt(second.start_address()).as_mut_ptr::<u64>().write_volatile(0x2222) };
    paging::map(page, second, rw).map_err(|e| format!("remap: {e:?}"))?;
    // SAFETY: the page now maps `second`.
    let seen = unsafe { core::ptr::read_volatile(addr as *const u64) };
    ensure!(seen == 0x2222, "remapped page shows {seen:#x}, not the new frame's contents");

    // Read-only: a write must fault with a protection violation.
    paging::update_flags(page, PageTableFlags::NO_EXECUTE).map_err(|e| format!("update_flags: {e:?}"))?;
    let fault = trap::try_call(write_byte, addr).err().ok_or("write to a read-only page did not fault")?;
    ensure!(
        fault.vector == exception::PAGE_FAULT && fault.address == addr as u64 && fault.error_code & 0b11 == 0b11,
        "unexpected fault on read-only write: {fault:?}"
    );

    // Unmapped: a read must fault with page-not-present.
    let last = paging::unmap(page).map_err(|e| format!("unmap: {e:?}"))?;
    ensure!(paging::translate(VirtAddr::new(addr as u64)).is_none(), "page still translates after unmap");
    let fault = trap::try_call(read_byte, addr).err().ok_or("read of an unmapped page did not fault")?;
    ensure!(
        fault.vector == exception::PAGE_FAULT && fault.error_code & 1 == 0,
        "unexpected fault on unmapped read: {fault:?}"
    );

    frame::free(old).map_err(|e| format!("free: {e:?}"))?;
    frame::free(last).map_err(|e| format!("free: {e:?}"))?;
    let after = frame::stats();
    // The page tables created for the scratch region stay (one-time cost).
    ensure!(after.used <= before.used + 3, "frames leaked: {} used before, {} after", before.used, after.used);
    Ok(String::from("write, remap, read-only and unmapped faults as expected"))
}

/// Every page of every loadable segment of our own ELF file is mapped with
/// exactly the segment's permissions, and none is writable and executable.
/// Pages of the RELRO segment (GOT, `.data.rel.ro`) are read-only: the
/// bootloader write-protects them after relocation.
pub fn kernel_image_permissions() -> Outcome {
    let image = crate::boot::KERNEL_IMAGE.get().ok_or("kernel image location unknown")?;
    // SAFETY: the bootloader left the kernel's ELF file at this physical
    // range and never reuses it; it is read-only here.
    let bytes = unsafe {
        core::slice::from_raw_parts(phys_to_virt(PhysAddr::new(image.phys)).as_ptr::<u8>(), image.len as usize)
    };
    let elf = Elf::parse(bytes).map_err(|e| format!("parsing our own ELF: {e}"))?;
    let page_range = |vaddr: u64, memsz: u64| (vaddr & !(PAGE_SIZE - 1))..(vaddr + memsz).next_multiple_of(PAGE_SIZE);
    let relro: Vec<_> = elf
        .program_headers
        .iter()
        .filter(|ph| ph.p_type == PT_GNU_RELRO)
        .map(|ph| page_range(ph.p_vaddr, ph.p_memsz))
        .collect();
    let mut pages = 0;
    for ph in elf.program_headers.iter().filter(|ph| ph.p_type == PT_LOAD) {
        for addr in page_range(ph.p_vaddr, ph.p_memsz).step_by(PAGE_SIZE as usize) {
            let flags = paging::effective_flags(VirtAddr::new(addr)).ok_or_else(|| format!("{addr:#x} not mapped"))?;
            let writable = flags.contains(PageTableFlags::WRITABLE);
            let executable = !flags.contains(PageTableFlags::NO_EXECUTE);
            ensure!(!(writable && executable), "{addr:#x} is writable and executable");
            let expect_writable = ph.p_flags & PF_W != 0 && !relro.iter().any(|r| r.contains(&addr));
            ensure!(writable == expect_writable, "{addr:#x}: writable={writable}, segment flags {:#x}", ph.p_flags);
            ensure!(
                executable == (ph.p_flags & PF_X != 0),
                "{addr:#x}: executable={executable}, segment flags {:#x}",
                ph.p_flags
            );
            ensure!(!flags.contains(PageTableFlags::USER_ACCESSIBLE), "{addr:#x} is user-accessible");
            pages += 1;
        }
    }
    Ok(format!("{pages} pages: text R-X, rodata and RELRO R, data RW+NX"))
}

/// Heap, stacks, device memory and the physical-memory map are never
/// executable.
pub fn nx_outside_image() -> Outcome {
    let stack = kstack::allocate(4096).ok_or("no stack")?;
    let probes = [
        ("heap", memory::HEAP_START),
        ("kernel stack", stack.bottom()),
        ("physical memory map", phys_to_virt(PhysAddr::new(0x10_0000)).as_u64()),
        ("LAPIC/IOAPIC registers", memory::MMIO_REGION_START),
    ];
    let mut result = Ok(String::from("heap, stacks, MMIO, physical map"));
    for (what, addr) in probes {
        match paging::effective_flags(VirtAddr::new(addr)) {
            Some(flags) if flags.contains(PageTableFlags::NO_EXECUTE) => {}
            Some(_) => result = Err(format!("{what} at {addr:#x} is executable")),
            None => result = Err(format!("{what} at {addr:#x} is not mapped")),
        }
    }
    kstack::free(stack);
    result
}

/// After boot nothing is mapped in the lower half: it belongs to userspace.
pub fn lower_half_empty() -> Outcome {
    for addr in [0u64, 0x1000, 0x8000, 0x10_0000, 0x4000_0000] {
        ensure!(paging::translate(VirtAddr::new(addr)).is_none(), "{addr:#x} is still mapped");
    }
    Ok(String::new())
}

/// The other online CPUs (those a shootdown must reach).
fn other_cpus() -> Vec<usize> {
    let me = crate::arch::x86_64::percpu::current().index;
    crate::arch::x86_64::percpu::all()
        .filter(|cpu| cpu.index != me && cpu.online.load(core::sync::atomic::Ordering::Acquire))
        .map(|cpu| cpu.index)
        .collect()
}

/// Have every CPU in `cpus` read `addr` through its TLB; all must see `want`.
fn probe_all(cpus: &[usize], addr: u64, want: u64, when: &str) -> Result<(), String> {
    for &cpu in cpus {
        match memory::tlb::probe_read(cpu, addr) {
            Some(seen) if seen == want => {}
            Some(seen) => {
                return Err(format!("{when}: CPU {cpu} reads {seen:#x} at {addr:#x}, not {want:#x} (stale TLB entry)"));
            }
            None => return Err(format!("{when}: CPU {cpu} did not answer the probe")),
        }
    }
    Ok(())
}

/// A global kernel page that other CPUs have used is remapped to another
/// frame: after `tlb::shoot_down_kernel` every CPU sees the new frame, not
/// its cached translation of the old one.
pub fn tlb_shootdown_kernel() -> Outcome {
    let cpus = other_cpus();
    if cpus.is_empty() {
        return Ok(String::from("one CPU: nothing to shoot down"));
    }
    let page = Page::containing_address(VirtAddr::new(SCRATCH_REGION_START + 16 * PAGE_SIZE));
    let addr = page.start_address().as_u64();
    let flags = PageTableFlags::WRITABLE | PageTableFlags::NO_EXECUTE | PageTableFlags::GLOBAL;
    let first = frame::allocate().ok_or("no frame")?;
    let second = frame::allocate().ok_or("no frame")?;
    // SAFETY: both frames are owned here and visible through the physical map.
    unsafe {
        phys_to_virt(first.start_address()).as_mut_ptr::<u64>().write_volatile(0x1111_aaaa);
        phys_to_virt(second.start_address()).as_mut_ptr::<u64>().write_volatile(0x2222_bbbb);
    }
    paging::map(page, first, flags).map_err(|e| format!("map: {e:?}"))?;
    let before = memory::tlb::stats();
    let mut result = probe_all(&cpus, addr, 0x1111_aaaa, "first mapping");
    if result.is_ok() {
        let _ = paging::unmap(page);
        memory::tlb::shoot_down_kernel();
        result = paging::map(page, second, flags).map_err(|e| format!("remap: {e:?}"));
        if result.is_ok() {
            result = probe_all(&cpus, addr, 0x2222_bbbb, "after remapping");
        }
    }
    let _ = paging::unmap(page);
    memory::tlb::shoot_down_kernel();
    let after = memory::tlb::stats();
    frame::free(first).map_err(|e| format!("free: {e:?}"))?;
    frame::free(second).map_err(|e| format!("free: {e:?}"))?;
    result?;
    ensure!(after.1 - before.1 >= 2 * cpus.len() as u64, "{} IPIs sent for 2 shootdowns", after.1 - before.1);
    Ok(format!("{} other CPUs see the new frame", cpus.len()))
}

/// A kernel stack used by other CPUs is freed and its slot reused by a new
/// stack with other frames: every CPU sees the new stack's contents.
pub fn kstack_reuse_shootdown() -> Outcome {
    let cpus = other_cpus();
    if cpus.is_empty() {
        return Ok(String::from("one CPU: nothing to shoot down"));
    }
    let old = kstack::allocate(4096).ok_or("no stack")?;
    let (old_top, page) = (old.top(), old.bottom());
    // SAFETY: the stack is mapped, ours, and not running anything.
    unsafe { core::ptr::write_volatile(page as *mut u64, 0x0dd_57ac) };
    let cached = probe_all(&cpus, page, 0x0dd_57ac, "old stack");
    kstack::free(old);
    cached?;
    // Two pages: the old stack's page gets the second frame allocated,
    // which is not the frame it had (that one comes back first, if at all).
    let new = kstack::allocate(8192).ok_or("no stack")?;
    let new_top = new.top();
    let reused = new_top == old_top;
    if reused {
        // SAFETY: the new stack is mapped, ours, and not running anything.
        unsafe {
            core::ptr::write_volatile(new.bottom() as *mut u64, 0xbad_bad);
            core::ptr::write_volatile(page as *mut u64, 0x0e5_57ac);
        }
    }
    let result = if reused { probe_all(&cpus, page, 0x0e5_57ac, "new stack in the same slot") } else { Ok(()) };
    kstack::free(new);
    ensure!(reused, "the freed slot was not reused (new stack top {new_top:#x}, old {old_top:#x})");
    result?;
    Ok(format!("{} other CPUs see the new stack", cpus.len()))
}
