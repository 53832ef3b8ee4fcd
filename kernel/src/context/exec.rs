//! Turning an ELF file into a ready-to-run address space: validate it
//! (`elf_loader` refuses anything malformed, overlapping, W+X, or outside
//! user space), map its segments with their permissions, and build the
//! initial stack: argc, argv, envp and the auxiliary vector, System V style,
//! with a guard page below the stack.

use alloc::vec::Vec;

use abi::auxv::{AT_ENTRY, AT_NULL, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM};
use abi::syscall::error::{E2BIG, EACCES, ENOEXEC, Error};
use elf_loader::Limits;

use super::file::FileDescription;
use crate::arch::x86_64::gdt;
use crate::arch::x86_64::trap::TrapFrame;
use crate::memory::address_space::{AddressSpace, Placement, Prot, STACK_SIZE, STACK_TOP, USER_END, USER_START};
use crate::memory::{PAGE_SIZE, paging};
use crate::scheme;
use x86_64::VirtAddr;
use x86_64::structures::paging::PhysFrame;

/// Largest executable the kernel will load.
pub const MAX_EXECUTABLE: usize = 64 << 20;
/// Limits on what a new program is handed.
pub const MAX_ARGS: usize = 4096;
pub const MAX_ARG_BYTES: usize = 256 * 1024;

const LIMITS: Limits = Limits {
    user_start: USER_START,
    user_end: STACK_TOP - STACK_SIZE - PAGE_SIZE,
    max_segments: 16,
    max_memory: 1 << 30,
};

/// A loaded program, not yet running.
pub struct Program {
    pub space: AddressSpace,
    pub entry: u64,
    pub stack_pointer: u64,
}

impl Program {
    /// The registers a new program starts with: all zero but RIP and RSP.
    pub fn initial_frame(&self) -> TrapFrame {
        TrapFrame {
            rip: self.entry,
            rsp: self.stack_pointer,
            cs: u64::from(gdt::USER_CODE.0),
            ss: u64::from(gdt::USER_DATA.0),
            rflags: 0x202,
            ..TrapFrame::default()
        }
    }
}

/// An executable's bytes: read into the kernel heap, or resident in kernel
/// memory for good (a file of the boot ramdisk), whose read-only pages can
/// then be mapped instead of copied.
pub enum Executable {
    Read(Vec<u8>),
    Resident(&'static [u8]),
}

impl Executable {
    /// The bytes of the file open as `file`, without copying when possible.
    pub fn of(file: &FileDescription) -> Result<Self, Error> {
        if let Some(bytes) = super::bootstrap::resident_file(file) {
            return Ok(Executable::Resident(bytes));
        }
        // Only a regular file of a size the kernel takes, as its `fstat`
        // says: a device or a stream (`zero:`, a pipe) would have the
        // kernel read until the limit, on the caller's behalf.
        let mut stat = crate::memory::usercopy::zeroed::<abi::syscall::Stat>();
        file.scheme.scheme().fstat(file.handle, &mut stat)?;
        if stat.st_mode & abi::syscall::MODE_TYPE != abi::syscall::MODE_FILE {
            return Err(Error::new(EACCES));
        }
        let size = usize::try_from(stat.st_size).ok().filter(|&s| s <= MAX_EXECUTABLE).ok_or(Error::new(E2BIG))?;
        // Read from the start whatever the descriptor's offset.
        let _ = file.scheme.scheme().seek(file.handle, 0, abi::syscall::SEEK_SET);
        Ok(Executable::Read(scheme::read_all(file, size)?))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Executable::Read(bytes) => bytes,
            Executable::Resident(bytes) => bytes,
        }
    }
}

/// The frame holding `addr` of a resident file, if its page can be mapped
/// as is.
fn resident_frame(addr: *const u8) -> Option<PhysFrame> {
    let (phys, _) = paging::translate(VirtAddr::new(addr as u64))?;
    Some(PhysFrame::containing_address(phys))
}

pub fn load(executable: &Executable, args: &[Vec<u8>], env: &[Vec<u8>]) -> Result<Program, Error> {
    let (mut space, plan) = load_segments(executable)?;
    // The stack, and an inaccessible guard page under it.
    let stack_bottom = STACK_TOP - STACK_SIZE;
    space.map(stack_bottom, STACK_SIZE, Prot::RW, false, Placement::FixedNoReplace)?;
    space.map(stack_bottom - PAGE_SIZE, PAGE_SIZE, Prot::default(), false, Placement::FixedNoReplace)?;

    let mut auxv = alloc::vec![(AT_PAGESZ, PAGE_SIZE as usize), (AT_ENTRY, plan.entry as usize)];
    if let Some(phdr) = plan.phdr_vaddr {
        auxv.extend([
            (AT_PHDR, phdr as usize),
            (AT_PHENT, usize::from(plan.phent)),
            (AT_PHNUM, usize::from(plan.phnum)),
        ]);
    }
    let stack_pointer = build_stack(&mut space, args, env, &auxv)?;
    Ok(Program { space, entry: plan.entry, stack_pointer })
}

/// Load a program's segments only: no stack, RSP 0 (bootstrap, whose own
/// code makes its stack).
pub fn load_bare(executable: &Executable) -> Result<Program, Error> {
    let (space, plan) = load_segments(executable)?;
    Ok(Program { space, entry: plan.entry, stack_pointer: 0 })
}

/// A new address space with the program's segments mapped.
fn load_segments(executable: &Executable) -> Result<(AddressSpace, elf_loader::LoadPlan), Error> {
    let file = executable.bytes();
    let plan = elf_loader::plan(file, &LIMITS).map_err(|err| {
        crate::caller_log!(Warn, "exec: refusing ELF file: {err}");
        Error::new(ENOEXEC)
    })?;
    let mut space = AddressSpace::new()?;
    for segment in &plan.segments {
        let pages = segment.page_range();
        let mut prot = Prot::empty();
        prot.set(Prot::READ, segment.readable);
        prot.set(Prot::WRITE, segment.writable);
        prot.set(Prot::EXEC, segment.executable);
        space.map(pages.start, pages.end - pages.start, prot, false, Placement::FixedNoReplace)?;
        let data = &file[segment.file_offset as usize..(segment.file_offset + segment.file_size) as usize];
        // Read-only pages of a resident file are shared, not copied: file
        // page n is segment page n when the file offset is page-aligned too
        // (vaddr and offset agree modulo the page size, checked by the plan).
        let shareable = matches!(executable, Executable::Resident(_))
            && !segment.writable
            && segment.mem_size == segment.file_size
            && (file.as_ptr() as u64).is_multiple_of(PAGE_SIZE);
        if shareable {
            let first_file_page = segment.file_offset & !(PAGE_SIZE - 1);
            for (index, page) in pages.clone().step_by(PAGE_SIZE as usize).enumerate() {
                let offset = first_file_page as usize + index * PAGE_SIZE as usize;
                match file.get(offset..).and_then(|rest| resident_frame(rest.as_ptr())) {
                    Some(frame) => space.map_borrowed(page, frame)?,
                    None => {
                        let start = page.max(segment.vaddr);
                        let end = (page + PAGE_SIZE).min(segment.vaddr + segment.file_size);
                        let from = (start - segment.vaddr) as usize;
                        space.write_bytes(start, &data[from..from + (end - start) as usize])?;
                    }
                }
            }
        } else {
            space.write_bytes(segment.vaddr, data)?;
        }
    }
    Ok((space, plan))
}

/// Lay out strings at the top of the stack and the pointer block below
/// them; returns the initial RSP (16-byte aligned, pointing at argc).
fn build_stack(
    space: &mut AddressSpace,
    args: &[Vec<u8>],
    env: &[Vec<u8>],
    auxv: &[(usize, usize)],
) -> Result<u64, Error> {
    let total: usize = args.iter().chain(env).map(|s| s.len() + 1).sum();
    if args.len() + env.len() > MAX_ARGS || total > MAX_ARG_BYTES {
        return Err(Error::new(E2BIG));
    }
    let strings_base = (STACK_TOP - total as u64) & !15;
    let mut strings = Vec::with_capacity(total);
    let pointers = |list: &[Vec<u8>], strings: &mut Vec<u8>| -> Vec<usize> {
        list.iter()
            .map(|s| {
                let at = strings_base as usize + strings.len();
                strings.extend_from_slice(s);
                strings.push(0);
                at
            })
            .collect()
    };
    let argv = pointers(args, &mut strings);
    let envp = pointers(env, &mut strings);

    let mut words: Vec<usize> = Vec::with_capacity(3 + argv.len() + envp.len() + 2 * auxv.len() + 2);
    words.push(args.len());
    words.extend(&argv);
    words.push(0);
    words.extend(&envp);
    words.push(0);
    for &(key, value) in auxv {
        words.extend([key, value]);
    }
    words.extend([AT_NULL, 0]);
    let stack_pointer = (strings_base - (words.len() * 8) as u64) & !15;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    space.write_bytes(stack_pointer, &bytes)?;
    space.write_bytes(strings_base, &strings)?;
    debug_assert!(stack_pointer < USER_END);
    Ok(stack_pointer)
}
