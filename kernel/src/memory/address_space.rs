//! User address spaces: one PML4 per process whose lower half is the
//! process's own and whose upper half is the kernel's (copied entries that
//! never change). The lower half is described by regions (start, end,
//! protection, shared or private) and filled lazily: a page gets a frame
//! on its first touch (zeroed), and a fork shares every present page,
//! marking private writable ones copy-on-write in both processes.
//!
//! Page tables are walked directly through the physical-memory mapping;
//! only 4 KiB pages are used below the kernel half. Callers hold the
//! owning process's address-space lock; nothing here touches user memory
//! through user addresses.
//!
//! TLB: this CPU flushes what it changes when the space is loaded here;
//! whenever an entry is removed, restricted or pointed at another frame,
//! the other CPUs with the space loaded are shot down too
//! (`tlb::shoot_down_space`, one per operation), and only then are the old
//! frames and page tables released. `unmap` does this in two passes: it
//! clears the present bit of every entry (keeping the frame address), shoots
//! down, then releases the frames and clears the entries. The shootdown runs
//! under the space's lock: see `memory/tlb.rs` for why that holds today.

use alloc::collections::BTreeMap;

use abi::syscall::error::{EEXIST, EFAULT, EINVAL, ENOMEM, Error};
use x86_64::instructions::tlb;
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::page_table::PageTableEntry;
use x86_64::structures::paging::{PageTable, PageTableFlags as Flags, PhysFrame};
use x86_64::{PhysAddr, VirtAddr};

use super::paging::{copy_kernel_half, table_at};
use super::{PAGE_SIZE, frame, phys_to_virt};

/// Nothing is ever mapped below this: a null-pointer guard of 64 KiB.
pub const USER_START: u64 = 0x1_0000;
/// End (exclusive) of user space: the lower canonical half.
pub const USER_END: u64 = abi::USER_END as u64;
/// Where `mmap` without a hint starts looking.
pub const MMAP_BASE: u64 = 0x0000_1000_0000_0000;
/// The initial stack: its top, and how far it may grow (lazily).
pub const STACK_TOP: u64 = 0x0000_7fff_ffff_0000;
pub const STACK_SIZE: u64 = 8 << 20;

/// Page-table marker bits (ignored by the CPU).
const COPY_ON_WRITE: Flags = Flags::BIT_9;
const SHARED: Flags = Flags::BIT_10;
/// A frame the address space maps but does not own: a page of a program
/// file in the boot ramdisk, mapped read-only instead of copied. Never
/// freed, never written (a write copies it, as copy-on-write does).
const BORROWED: Flags = Flags::BIT_11;

/// Device memory (or other physical memory that is not RAM the kernel
/// hands out) mapped for a driver: never counted, freed or copied; always
/// shared with children; uncached.
const DEVICE: Flags = Flags::BIT_52;

/// One mapping of `frame` went away.
fn drop_reference(flags: Flags, frame: PhysFrame) {
    if !flags.intersects(BORROWED | DEVICE) {
        frame::release(frame);
    }
}

/// One more mapping of `frame` exists; `false` if its count is full.
#[must_use]
fn add_reference(flags: Flags, frame: PhysFrame) -> bool {
    flags.intersects(BORROWED | DEVICE) || frame::share(frame)
}

/// What kind of frame a mapping of given frames ([`AddressSpace::map_frames`]) uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// Counted RAM (`frame::allocate_user`): the mapping takes a reference.
    Counted,
    /// A boot-ramdisk page: read-only, never freed (a private write copies it).
    Borrowed,
    /// Device memory: not RAM the kernel hands out; uncached, never freed.
    Device,
}
/// Flags of intermediate tables: permissions are decided at the leaf.
const TABLE_FLAGS: Flags = Flags::PRESENT.union(Flags::WRITABLE).union(Flags::USER_ACCESSIBLE);

bitflags::bitflags! {
    /// What a region of user memory allows.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Prot: u8 {
        const READ = 1;
        const WRITE = 1 << 1;
        const EXEC = 1 << 2;
        const RW = Self::READ.bits() | Self::WRITE.bits();
        const RX = Self::READ.bits() | Self::EXEC.bits();
        const R = Self::READ.bits();
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub end: u64,
    pub prot: Prot,
    /// Shared regions stay shared with children after fork; private ones
    /// become copy-on-write.
    pub shared: bool,
}

/// What a faulting access tried to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Execute,
}

/// How `mmap` treats the address it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A hint: use it if free, else anywhere.
    Hint,
    /// Exactly there, replacing what was mapped.
    Fixed,
    /// Exactly there, failing with `EEXIST` if anything is mapped.
    FixedNoReplace,
}

pub struct AddressSpace {
    pml4: PhysFrame,
    regions: BTreeMap<u64, Region>,
    /// Every last-level table, by the 2 MiB-aligned address it covers, so
    /// fork and teardown visit only tables that exist instead of walking
    /// the whole tree.
    leaf_tables: BTreeMap<u64, PhysFrame>,
    /// The intermediate tables (PDPTs and PDs), freed with the space.
    upper_tables: alloc::vec::Vec<PhysFrame>,
    /// Pages of counted RAM mapped (its resident set; a frame shared after
    /// fork counts in each space that maps it).
    resident: u64,
    /// The most `resident` may reach: a fault past it fails (the process
    /// that wants more is the one that dies), a map call gets `ENOMEM`.
    limit: u64,
}

/// Whether a leaf entry maps counted RAM (not a ramdisk page, not a device).
fn counted(flags: Flags) -> bool {
    !flags.intersects(BORROWED | DEVICE)
}

fn leaf_flags(prot: Prot, shared: bool) -> Flags {
    let mut flags = Flags::PRESENT | Flags::USER_ACCESSIBLE;
    if prot.contains(Prot::WRITE) {
        flags |= Flags::WRITABLE;
    }
    if !prot.contains(Prot::EXEC) {
        flags |= Flags::NO_EXECUTE;
    }
    if shared {
        flags |= SHARED;
    }
    flags
}

fn page_down(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

/// `[start, start + len)` as a page-aligned range inside user space.
fn user_range(start: u64, len: u64) -> Result<(u64, u64), Error> {
    if !start.is_multiple_of(PAGE_SIZE) || len == 0 {
        return Err(Error::new(EINVAL));
    }
    let end = start.checked_add(len).and_then(|e| e.checked_next_multiple_of(PAGE_SIZE)).ok_or(Error::new(EINVAL))?;
    if start < USER_START || end > USER_END {
        return Err(Error::new(EINVAL));
    }
    Ok((start, end))
}

impl AddressSpace {
    pub fn new() -> Result<Self, Error> {
        let pml4 = frame::allocate().ok_or(Error::new(ENOMEM))?;
        let table = table_at(pml4);
        table.zero();
        copy_kernel_half(table);
        Ok(Self {
            pml4,
            regions: BTreeMap::new(),
            leaf_tables: BTreeMap::new(),
            upper_tables: alloc::vec::Vec::new(),
            resident: 0,
            limit: u64::MAX,
        })
    }

    /// Hold this space to `pages` resident pages from now on (pages it has
    /// already stay).
    pub fn set_limit(&mut self, pages: u64) {
        self.limit = pages;
    }

    /// Pages of RAM mapped.
    pub fn resident(&self) -> u64 {
        self.resident
    }

    /// Count one more resident page, unless the limit is reached.
    fn charge(&mut self) -> Result<(), Error> {
        if self.resident >= self.limit {
            return Err(Error::new(ENOMEM));
        }
        self.resident += 1;
        Ok(())
    }

    pub fn pml4(&self) -> PhysFrame {
        self.pml4
    }

    pub fn is_active(&self) -> bool {
        Cr3::read().0 == self.pml4
    }

    /// Flush `addr` from this CPU's TLB, if the space is loaded here.
    fn flush(&self, addr: u64) {
        if self.is_active() {
            tlb::flush(VirtAddr::new(addr));
        }
    }

    /// Make the other CPUs that have this space loaded forget it (after
    /// entries were removed or restricted, before their frames are freed).
    fn shoot_down(&self) {
        super::tlb::shoot_down_space(self.pml4);
    }

    /// The leaf entry for `addr`, if its tables exist.
    fn leaf(&self, addr: u64) -> Option<&'static mut PageTableEntry> {
        let virt = VirtAddr::new(addr);
        let mut table: &'static mut PageTable = table_at(self.pml4);
        for index in [virt.p4_index(), virt.p3_index(), virt.p2_index()] {
            let entry = &table[index];
            if entry.is_unused() {
                return None;
            }
            table = table_at(entry.frame().ok()?);
        }
        Some(&mut table[virt.p1_index()])
    }

    /// The leaf entry for `addr`, creating the tables on the way.
    fn leaf_create(&mut self, addr: u64) -> Result<&'static mut PageTableEntry, Error> {
        Ok(&mut self.leaf_table_create(addr)?[VirtAddr::new(addr).p1_index()])
    }

    /// The last-level table covering `addr`, creating it (and the tables
    /// above it) if needed.
    fn leaf_table_create(&mut self, addr: u64) -> Result<&'static mut PageTable, Error> {
        let base = addr & !((1 << 21) - 1);
        if let Some(&frame) = self.leaf_tables.get(&base) {
            return Ok(table_at(frame));
        }
        let virt = VirtAddr::new(addr);
        let mut table: &'static mut PageTable = table_at(self.pml4);
        for (level, index) in [virt.p4_index(), virt.p3_index(), virt.p2_index()].into_iter().enumerate() {
            let entry = &mut table[index];
            if entry.is_unused() {
                let new = frame::allocate().ok_or(Error::new(ENOMEM))?;
                table_at(new).zero();
                entry.set_frame(new, TABLE_FLAGS);
                if level == 2 {
                    self.leaf_tables.insert(base, new);
                } else {
                    self.upper_tables.push(new);
                }
            }
            table = table_at(entry.frame().map_err(|_| Error::new(EFAULT))?);
        }
        Ok(table)
    }

    pub fn regions(&self) -> impl Iterator<Item = (u64, &Region)> {
        self.regions.iter().map(|(&start, region)| (start, region))
    }

    /// The region containing `addr`.
    pub fn region_at(&self, addr: u64) -> Option<(u64, Region)> {
        let (&start, region) = self.regions.range(..=addr).next_back()?;
        (addr < region.end).then_some((start, *region))
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        if let Some((_, region)) = self.regions.range(..start).next_back()
            && region.end > start
        {
            return true;
        }
        self.regions.range(start..end).next().is_some()
    }

    /// A free, page-aligned range of `len` bytes at or after `from`.
    fn find_free(&self, len: u64, from: u64) -> Option<u64> {
        let mut candidate = from.max(USER_START);
        for (&start, region) in self.regions.range(..) {
            if region.end <= candidate {
                continue;
            }
            if start >= candidate && start - candidate >= len {
                break;
            }
            candidate = candidate.max(region.end);
        }
        (candidate.checked_add(len)? <= USER_END).then_some(candidate)
    }

    /// Split the region containing `addr` (if any) so that a region starts there.
    fn split_at(&mut self, addr: u64) {
        if let Some((start, region)) = self.region_at(addr)
            && start < addr
        {
            self.regions.insert(start, Region { end: addr, ..region });
            self.regions.insert(addr, region);
        }
    }

    /// Where a new mapping of `len` bytes (whole pages) goes, as
    /// `placement` says for `at`; with `Fixed`, what was there is unmapped.
    fn place(&mut self, at: u64, len: u64, placement: Placement) -> Result<u64, Error> {
        match placement {
            Placement::Fixed => {
                let (start, end) = user_range(at, len)?;
                self.unmap(start, end - start)?;
                Ok(start)
            }
            Placement::FixedNoReplace => {
                let (start, end) = user_range(at, len)?;
                if self.overlaps(start, end) {
                    return Err(Error::new(EEXIST));
                }
                Ok(start)
            }
            Placement::Hint => match user_range(page_down(at), len) {
                Ok((s, e)) if page_down(at) != 0 && !self.overlaps(s, e) => Ok(s),
                _ => self.find_free(len, MMAP_BASE).ok_or(Error::new(ENOMEM)),
            },
        }
    }

    /// Reserve `[start, start + len)` as a region; pages come on first touch.
    pub fn map(&mut self, start: u64, len: u64, prot: Prot, shared: bool, placement: Placement) -> Result<u64, Error> {
        let len = len.checked_next_multiple_of(PAGE_SIZE).filter(|&l| l > 0).ok_or(Error::new(EINVAL))?;
        let start = self.place(start, len, placement)?;
        self.regions.insert(start, Region { end: start + len, prot, shared });
        if shared {
            // Shared memory is backed at once: a fork hands the child the
            // frames present at that moment, so every page must exist.
            if let Err(err) = self.populate(start, start + len) {
                let _ = self.unmap(start, len);
                return Err(err);
            }
        }
        Ok(start)
    }

    /// Unmap `[start, start + len)`: regions are cut, present pages released.
    pub fn unmap(&mut self, start: u64, len: u64) -> Result<(), Error> {
        let (start, end) = user_range(start, len)?;
        self.split_at(start);
        self.split_at(end);
        while let Some((&region_start, _)) = self.regions.range(start..end).next() {
            self.regions.remove(&region_start);
        }
        let active = self.is_active();
        // Not present from now on, but still naming its frame, which no
        // CPU may use once the shootdown is done.
        self.for_each_present(start, end, |addr, entry| {
            entry.set_flags(entry.flags() - Flags::PRESENT);
            if active {
                tlb::flush(VirtAddr::new(addr));
            }
        });
        self.shoot_down();
        let mut released = 0;
        self.for_each_present(start, end, |_, entry| {
            let (flags, frame) = (entry.flags() | Flags::PRESENT, PhysFrame::containing_address(entry.addr()));
            entry.set_unused();
            released += u64::from(counted(flags));
            drop_reference(flags, frame);
        });
        self.resident -= released;
        self.free_empty_leaf_tables(start, end);
        Ok(())
    }

    /// Free the last-level tables of `[start, end)` that map nothing any
    /// more: a long-lived process (a daemon) that maps and unmaps at ever
    /// new addresses would otherwise keep a table for every 2 MiB it ever
    /// touched.
    fn free_empty_leaf_tables(&mut self, start: u64, end: u64) {
        const TABLE_SPAN: u64 = 1 << 21;
        let empty: alloc::vec::Vec<(u64, PhysFrame)> = self
            .leaf_tables
            .range(start & !(TABLE_SPAN - 1)..end)
            .filter(|&(_, &table)| table_at(table).iter().all(|e| e.is_unused()))
            .map(|(&base, &table)| (base, table))
            .collect();
        if empty.is_empty() {
            return;
        }
        'tables: for &(base, _) in &empty {
            let virt = VirtAddr::new(base);
            let mut directory: &'static mut PageTable = table_at(self.pml4);
            for index in [virt.p4_index(), virt.p3_index()] {
                match directory[index].frame() {
                    Ok(frame) => directory = table_at(frame),
                    Err(_) => continue 'tables,
                }
            }
            directory[virt.p2_index()].set_unused();
            if self.is_active() {
                // Also drops the paging-structure caches' copy of the entry.
                tlb::flush(virt);
            }
            self.leaf_tables.remove(&base);
        }
        // Other CPUs' paging-structure caches may still point at the tables.
        self.shoot_down();
        for (base, table) in empty {
            if !self.leaf_tables.contains_key(&base) {
                let _ = frame::free(table);
            }
        }
    }

    /// Call `f` on every present leaf entry of `[start, end)` with its
    /// page's address. Visits only the last-level tables that exist, so
    /// its cost follows what is mapped, not how large a range the caller
    /// named (a terabyte of address space with nothing in it is a few
    /// tree lookups, not 2^28 page walks).
    fn for_each_present(&self, start: u64, end: u64, mut f: impl FnMut(u64, &mut PageTableEntry)) {
        const TABLE_SPAN: u64 = 1 << 21;
        let first_base = start & !(TABLE_SPAN - 1);
        for (&base, &table) in self.leaf_tables.range(first_base..end) {
            let table = table_at(table);
            let from = start.max(base);
            let to = end.min(base + TABLE_SPAN);
            for addr in (from..to).step_by(PAGE_SIZE as usize) {
                let entry = &mut table[VirtAddr::new(addr).p1_index()];
                if !entry.is_unused() {
                    f(addr, entry);
                }
            }
        }
    }

    /// Change the protection of `[start, start + len)`, which must be
    /// entirely mapped (else `ENOMEM`, as POSIX says).
    pub fn protect(&mut self, start: u64, len: u64, prot: Prot) -> Result<(), Error> {
        let (start, end) = user_range(start, len)?;
        let mut cursor = start;
        while cursor < end {
            let (_, region) = self.region_at(cursor).ok_or(Error::new(ENOMEM))?;
            cursor = region.end;
        }
        self.split_at(start);
        self.split_at(end);
        for (_, region) in self.regions.range_mut(start..end) {
            region.prot = prot;
        }
        let active = self.is_active();
        self.for_each_present(start, end, |page, entry| {
            let Ok(frame) = entry.frame() else { return };
            let old_flags = entry.flags();
            let cow = old_flags.intersects(COPY_ON_WRITE | BORROWED);
            let kept = old_flags & (BORROWED | DEVICE | Flags::NO_CACHE | Flags::WRITE_THROUGH | SHARED);
            let mut flags = leaf_flags(prot, false) | kept;
            if cow && prot.contains(Prot::WRITE) {
                // Still shared with another process: stay read-only
                // until the next write fault copies it.
                flags = (flags - Flags::WRITABLE) | COPY_ON_WRITE;
            }
            entry.set_frame(frame, flags);
            if active {
                tlb::flush(VirtAddr::new(page));
            }
        });
        self.shoot_down();
        Ok(())
    }

    /// Resolve a fault at `addr`: demand-zero a missing page, or copy a
    /// copy-on-write one. False if the access is not allowed.
    pub fn handle_fault(&mut self, addr: u64, access: Access) -> bool {
        let Some((_, region)) = self.region_at(addr) else {
            return false;
        };
        let allowed = match access {
            Access::Read => !region.prot.is_empty(),
            Access::Write => region.prot.contains(Prot::WRITE),
            Access::Execute => region.prot.contains(Prot::EXEC),
        };
        if !allowed {
            return false;
        }
        let page = page_down(addr);
        let Ok(entry) = self.leaf_create(page) else {
            return false;
        };
        let flags = leaf_flags(region.prot, region.shared);
        if entry.is_unused() {
            if self.resident >= self.limit {
                return false;
            }
            let Some(new) = frame::allocate_user() else {
                return false;
            };
            self.resident += 1;
            entry.set_frame(new, flags);
            self.flush(page);
            return true;
        }
        let Ok(old) = entry.frame() else { return false };
        let present = entry.flags();
        if !(access == Access::Write && present.contains(COPY_ON_WRITE)) {
            // Allowed by the page itself: a stale TLB entry. Not allowed:
            // a real violation (the region and the page agree on that).
            let permitted = match access {
                Access::Read => true,
                Access::Write => present.contains(Flags::WRITABLE),
                Access::Execute => !present.contains(Flags::NO_EXECUTE),
            };
            if permitted {
                self.flush(page);
            }
            return permitted;
        }
        {
            let borrowed = present.contains(BORROWED);
            if !borrowed && frame::share_count(old) == 1 {
                entry.set_frame(old, flags);
            } else {
                let Some(new) = frame::allocate_user() else {
                    return false;
                };
                // SAFETY: both frames are RAM visible through the physical
                // map; `new` is ours alone, `old` is only read.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        phys_to_virt(old.start_address()).as_ptr::<u8>(),
                        phys_to_virt(new.start_address()).as_mut_ptr::<u8>(),
                        PAGE_SIZE as usize,
                    );
                }
                entry.set_frame(new, flags);
                // Other CPUs may still read `old` through this space.
                self.flush(page);
                self.shoot_down();
                drop_reference(present, old);
            }
        }
        // Present and allowed: fixed above, or a stale TLB entry.
        self.flush(page);
        true
    }

    /// Map the page at `addr` (inside a region) read-only to `frame`, which
    /// this address space does not own and will never free or write.
    pub fn map_borrowed(&mut self, addr: u64, frame: PhysFrame) -> Result<(), Error> {
        let (_, region) = self.region_at(addr).ok_or(Error::new(EFAULT))?;
        if region.prot.contains(Prot::WRITE) || region.shared {
            return Err(Error::new(EINVAL));
        }
        let entry = self.leaf_create(addr)?;
        let old = entry.frame().ok().map(|old| (old, entry.flags()));
        entry.set_frame(frame, leaf_flags(region.prot, false) | BORROWED);
        self.flush(addr);
        if let Some((old, flags)) = old {
            self.shoot_down();
            drop_reference(flags, old);
            self.resident -= u64::from(counted(flags));
        }
        Ok(())
    }

    /// The frame behind the page at `addr`, made present for `write` (a
    /// private, writable frame: copy-on-write is broken first) or for
    /// reading. Returns it with its kind. `EFAULT` if the region does not
    /// allow the access. For lending a caller's pages to a scheme daemon
    /// and for a daemon's `fmap` answers.
    pub fn pin_page(&mut self, addr: u64, write: bool) -> Result<(PhysFrame, FrameKind), Error> {
        let page = page_down(addr);
        let (_, region) = self.region_at(page).ok_or(Error::new(EFAULT))?;
        let allowed = if write { region.prot.contains(Prot::WRITE) } else { region.prot.intersects(Prot::RW) };
        if !allowed {
            return Err(Error::new(EFAULT));
        }
        let ready = self
            .leaf(page)
            .filter(|e| !e.is_unused())
            .map(|e| e.flags())
            .is_some_and(|flags| !write || (flags.contains(Flags::WRITABLE) && !flags.contains(COPY_ON_WRITE)));
        if !ready && !self.handle_fault(page, if write { Access::Write } else { Access::Read }) {
            return Err(Error::new(EFAULT));
        }
        let entry = self.leaf(page).ok_or(Error::new(EFAULT))?;
        let frame = entry.frame().map_err(|_| Error::new(EFAULT))?;
        let flags = entry.flags();
        let kind = if flags.contains(DEVICE) {
            FrameKind::Device
        } else if flags.contains(BORROWED) {
            FrameKind::Borrowed
        } else {
            FrameKind::Counted
        };
        Ok((frame, kind))
    }

    /// Map `frames` in order as one region, at a free address (or as
    /// `placement` says for `at`), taking a reference to each counted frame.
    /// A shared mapping writes through to the frames; a private one copies a
    /// page on its first write (device memory is always shared). Returns
    /// the address. For lent pages, `fmap` and mapped ramdisk files.
    pub fn map_frames(
        &mut self,
        frames: &[(PhysFrame, FrameKind)],
        prot: Prot,
        shared: bool,
        at: u64,
        placement: Placement,
    ) -> Result<u64, Error> {
        let len = frames.len() as u64 * PAGE_SIZE;
        if len == 0 {
            return Err(Error::new(EINVAL));
        }
        let start = self.place(at, len, placement)?;
        let device = frames.iter().any(|(_, kind)| *kind == FrameKind::Device);
        let shared = shared || device;
        self.regions.insert(start, Region { end: start + len, prot, shared });
        for (i, &(frame, kind)) in frames.iter().enumerate() {
            let addr = start + i as u64 * PAGE_SIZE;
            let entry = match self.leaf_create(addr) {
                Ok(entry) => entry,
                Err(err) => {
                    let _ = self.unmap(start, len);
                    return Err(err);
                }
            };
            let mut flags = leaf_flags(prot, shared);
            match kind {
                FrameKind::Counted => {}
                FrameKind::Borrowed => flags = (flags - Flags::WRITABLE) | BORROWED,
                FrameKind::Device => flags |= DEVICE | Flags::NO_CACHE | Flags::WRITE_THROUGH,
            }
            if !shared && flags.contains(Flags::WRITABLE) {
                flags = (flags - Flags::WRITABLE) | COPY_ON_WRITE;
            }
            if kind == FrameKind::Borrowed && !shared && prot.contains(Prot::WRITE) {
                flags |= COPY_ON_WRITE;
            }
            if counted(flags) && self.charge().is_err() {
                let _ = self.unmap(start, len);
                return Err(Error::new(ENOMEM));
            }
            if !add_reference(flags, frame) {
                self.resident -= u64::from(counted(flags));
                let _ = self.unmap(start, len);
                return Err(Error::new(ENOMEM));
            }
            entry.set_frame(frame, flags);
        }
        Ok(start)
    }

    /// The frames behind `[start, start + len)` (page-aligned, all mapped),
    /// made present for `write` or reading, each with its kind, for a
    /// daemon's `fmap` answer. The caller takes references to counted ones.
    pub fn frames_of(
        &mut self,
        start: u64,
        len: u64,
        write: bool,
    ) -> Result<alloc::vec::Vec<(PhysFrame, FrameKind)>, Error> {
        let (start, end) = user_range(start, len)?;
        let mut frames = alloc::vec::Vec::new();
        frames.try_reserve_exact(((end - start) / PAGE_SIZE) as usize).map_err(|_| Error::new(ENOMEM))?;
        for page in (start..end).step_by(PAGE_SIZE as usize) {
            frames.push(self.pin_page(page, write)?);
        }
        Ok(frames)
    }

    /// Give every page of `[start, end)` a frame (zeroed).
    fn populate(&mut self, start: u64, end: u64) -> Result<(), Error> {
        let (_, region) = self.region_at(start).ok_or(Error::new(EFAULT))?;
        for page in (start..end).step_by(PAGE_SIZE as usize) {
            let entry = self.leaf_create(page)?;
            if entry.is_unused() {
                if self.resident >= self.limit {
                    return Err(Error::new(ENOMEM));
                }
                let frame = frame::allocate_user().ok_or(Error::new(ENOMEM))?;
                entry.set_frame(frame, leaf_flags(region.prot, region.shared));
                self.resident += 1;
            }
        }
        Ok(())
    }

    /// Make sure every page of `[addr, addr + len)` has a frame (for
    /// writing a new program's image before it runs).
    pub fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), Error> {
        let mut offset = 0usize;
        while offset < data.len() {
            let at = addr + offset as u64;
            let page = page_down(at);
            let (_, region) = self.region_at(at).ok_or(Error::new(EFAULT))?;
            let entry = self.leaf_create(page)?;
            if entry.is_unused() {
                if self.resident >= self.limit {
                    return Err(Error::new(ENOMEM));
                }
                let new = frame::allocate_user().ok_or(Error::new(ENOMEM))?;
                entry.set_frame(new, leaf_flags(region.prot, region.shared));
                self.resident += 1;
            }
            let frame = entry.frame().map_err(|_| Error::new(EFAULT))?;
            let in_page = (at - page) as usize;
            let chunk = (PAGE_SIZE as usize - in_page).min(data.len() - offset);
            // SAFETY: the frame belongs to this (not yet running) address
            // space; the copy stays inside the page.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    data[offset..].as_ptr(),
                    phys_to_virt(frame.start_address()).as_mut_ptr::<u8>().add(in_page),
                    chunk,
                );
            }
            offset += chunk;
        }
        Ok(())
    }

    /// The physical address behind a present user page.
    pub fn translate(&self, addr: u64) -> Option<PhysAddr> {
        let entry = self.leaf(page_down(addr))?;
        let frame = entry.frame().ok()?;
        Some(frame.start_address() + (addr - page_down(addr)))
    }

    /// A copy of this address space for a child process: shared regions
    /// map the same frames, private ones become copy-on-write in both.
    pub fn fork(&mut self) -> Result<AddressSpace, Error> {
        let child = self.fork_tables();
        // Private pages were made copy-on-write here, whether or not the
        // copy was finished.
        if self.is_active() {
            tlb::flush_all();
        }
        self.shoot_down();
        child
    }

    fn fork_tables(&mut self) -> Result<AddressSpace, Error> {
        let mut child = AddressSpace::new()?;
        child.regions = self.regions.clone();
        child.limit = self.limit;
        for (&base, &pt) in &self.leaf_tables {
            // The child's table for the same 2 MiB, made on first use.
            let mut child_table: Option<&'static mut PageTable> = None;
            for (index, entry) in table_at(pt).iter_mut().enumerate() {
                if entry.is_unused() {
                    continue;
                }
                let Ok(frame) = entry.frame() else { continue };
                let mut flags = entry.flags();
                // Every private page is copy-on-write from now on, even a
                // read-only one, so that a later mprotect cannot make a frame
                // the other process still maps writable.
                if !flags.contains(SHARED) {
                    flags = (flags - Flags::WRITABLE) | COPY_ON_WRITE;
                    entry.set_flags(flags);
                }
                let table = match child_table.take() {
                    Some(table) => table,
                    None => child.leaf_table_create(base)?,
                };
                if !add_reference(flags, frame) {
                    return Err(Error::new(ENOMEM));
                }
                table[index].set_frame(frame, flags);
                child.resident += u64::from(counted(flags));
                child_table = Some(table);
            }
        }
        Ok(child)
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        debug_assert!(!self.is_active(), "dropping the active address space");
        for &pt in self.leaf_tables.values() {
            for entry in table_at(pt).iter() {
                if !entry.is_unused()
                    && let Ok(frame) = entry.frame()
                {
                    drop_reference(entry.flags(), frame);
                }
            }
            let _ = frame::free(pt);
        }
        for &table in &self.upper_tables {
            let _ = frame::free(table);
        }
        let _ = frame::free(self.pml4);
    }
}
