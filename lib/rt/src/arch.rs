//! The machine-level pieces: the raw `syscall` stubs and the process entry.
//!
//! Kernel ABI (docs/architecture.md §2, `abi`): RAX = number; RDI, RSI, RDX, R10, R8,
//! R9 = arguments 1-6; RAX = result, a negative errno on error (decode with
//! [`abi::decode_result`]); RCX and R11 are clobbered (SYSCALL keeps
//! the return address and RFLAGS there). The kernel does not touch the user
//! stack, hence `nostack`.
//!
//! The stubs are `unsafe`: a system call can write memory anywhere the
//! process may (through a pointer argument), unmap memory Rust still uses,
//! or end the process. The safe wrappers are in [`crate::sys`].

use core::arch::{asm, naked_asm};

/// System call with no arguments; returns RAX as the kernel left it.
///
/// # Safety
///
/// The call must not break any of Rust's assumptions about this process's
/// memory (see the module documentation); that depends on `n`.
#[inline(always)]
pub unsafe fn syscall0(n: usize) -> usize {
    let ret;
    // SAFETY: the caller vouches for the call's effects on memory; the
    // clobbered registers are declared.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret,
            lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// System call with one argument.
///
/// # Safety
///
/// As for [`syscall0`]; any pointer argument must be valid for what the
/// call does with it.
#[inline(always)]
pub unsafe fn syscall1(n: usize, a: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a,
            lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// System call with two arguments.
///
/// # Safety
///
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall2(n: usize, a: usize, b: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b,
            lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// System call with three arguments.
///
/// # Safety
///
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall3(n: usize, a: usize, b: usize, c: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b, in("rdx") c,
            lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// System call with four arguments (the fourth in R10, not RCX).
///
/// # Safety
///
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b, in("rdx") c,
            in("r10") d, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// System call with five arguments.
///
/// # Safety
///
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall5(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b, in("rdx") c,
            in("r10") d, in("r8") e, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// System call with six arguments (the sixth in R9, which `redox_syscall`'s
/// own stubs lack).
///
/// # Safety
///
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall6(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", inlateout("rax") n => ret, in("rdi") a, in("rsi") b, in("rdx") c,
            in("r10") d, in("r8") e, in("r9") f, lateout("rcx") _, lateout("r11") _,
            options(nostack));
    }
    ret
}

/// `SYS_EXIT`: ends the process; never returns.
pub fn exit(status: usize) -> ! {
    // SAFETY: exiting touches no memory of ours; if the kernel ever returned
    // from it, `ud2` stops the process rather than running on.
    unsafe {
        asm!("syscall", "ud2", in("rax") abi::SYS_EXIT, in("rdi") status,
            options(noreturn, nostack));
    }
}

/// The process entry point (the ELF entry, `_start` by the linker's
/// default). The kernel starts the program here with RSP pointing at
/// `argc` (System V layout, 16-byte aligned) and every other register zero.
/// It hands that stack pointer to [`crate::start::start`], keeping the
/// stack aligned as a call expects, and clears RBP so backtraces end here.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "xor ebp, ebp",
        "mov rdi, rsp",
        "and rsp, -16",
        "call {start}",
        "ud2",
        start = sym crate::start::start,
    )
}
