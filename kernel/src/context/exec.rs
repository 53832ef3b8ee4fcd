//! Turning an ELF file into a ready-to-run address space: validate it
//! (`elf_loader` refuses anything malformed, overlapping, W+X, or outside
//! user space), map its segments with their permissions, and build the
//! initial stack: argc, argv, envp and the auxiliary vector, System V style,
//! with a guard page below the stack.

use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::auxv::{AT_ENTRY, AT_NULL, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM};
use abi::syscall::error::{E2BIG, ENOEXEC, Error};
use elf_loader::Limits;

use super::file::FileTable;
use super::process::Process;
use super::scheduler;
use super::thread::Thread;
use crate::arch::x86_64::fpu::FpuState;
use crate::arch::x86_64::gdt;
use crate::arch::x86_64::trap::TrapFrame;
use crate::memory::PAGE_SIZE;
use crate::memory::address_space::{AddressSpace, Placement, Prot, STACK_SIZE, STACK_TOP, USER_END, USER_START};
use crate::scheme;

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

pub fn load(file: &[u8], args: &[Vec<u8>], env: &[Vec<u8>]) -> Result<Program, Error> {
    let plan = elf_loader::plan(file, &LIMITS).map_err(|err| {
        log::warn!("exec: refusing ELF file: {err}");
        Error::new(ENOEXEC)
    })?;
    let mut space = AddressSpace::new()?;
    for segment in &plan.segments {
        let pages = segment.page_range();
        let prot = Prot { read: segment.readable, write: segment.writable, exec: segment.executable };
        space.map(pages.start, pages.end - pages.start, prot, false, Placement::FixedNoReplace)?;
        let data = &file[segment.file_offset as usize..(segment.file_offset + segment.file_size) as usize];
        space.write_bytes(segment.vaddr, data)?;
    }
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

/// Start the first process from a file on the boot ramdisk, with fds 0-2 on
/// the kernel console. Returns its pid.
pub fn spawn_first(url: &str) -> Result<usize, Error> {
    let file = scheme::open_kernel(url, abi::syscall::O_RDONLY)?;
    let data = scheme::read_all(&file, MAX_EXECUTABLE)?;
    let name = url.rsplit(['/', ':']).next().unwrap_or(url);
    let program = load(&data, &[Vec::from(name.as_bytes())], &[])?;
    let frame = program.initial_frame();
    let process = Process::new(0, alloc::string::String::from(name), program.space, FileTable::with_console()?, 0, 0);
    let thread = Thread::new_user(Arc::clone(&process), &frame, FpuState::initial())?;
    process.threads.lock().push(thread.clone());
    scheduler::spawn(thread);
    log::info!("started {url} as pid {}", process.pid);
    Ok(process.pid)
}
