//! System calls: one dispatcher from the number in RAX to a handler that
//! returns `Result<usize, Error>`, turned into the register value
//! (`Error::mux`) in one place. Handlers live by topic: `fs` (file
//! descriptors and scheme paths), `process`, `memory`, `time`, `futex`.
//!
//! The dispatcher turns registers into typed values before a handler sees
//! them: an fd is an [`Fd`], a buffer the kernel reads is a [`UserIn`] and
//! one it writes a [`UserOut`] (checked to lie in user space, or `EFAULT`
//! before the handler runs), so a handler cannot write into a caller's
//! input or take a length for an fd.

mod batch;
mod fs;
mod futex;
mod memory;
mod process;
mod time;

use alloc::sync::Arc;

use abi::syscall::error::{ENOSYS, Error};
use abi::*;
use x86_64::instructions::interrupts;

use crate::arch::x86_64::trap::TrapFrame;
use crate::context::file::Fd;
use crate::context::process::Process;
use crate::context::scheduler;
use crate::memory::usercopy::{UserIn, UserOut};

/// The calling process (system calls only come from user threads).
fn me() -> Arc<Process> {
    with_me(Arc::clone)
}

/// Run `f` on the calling process without taking a reference.
fn with_me<R>(f: impl FnOnce(&Arc<Process>) -> R) -> R {
    scheduler::with_current(|thread| f(thread.process.as_ref().expect("system call from an idle thread")))
}

/// Entry from the SYSCALL stub: RAX number, RDI/RSI/RDX/R10/R8/R9 arguments.
pub fn handle(frame: &mut TrapFrame) {
    interrupts::enable();
    let args = [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9].map(|a| a as usize);
    frame.rax = dispatch(frame.rax as usize, args, frame) as u64;
    scheduler::before_return_to_user();
}

/// From the number to the handler. Each arm runs out of line, in a
/// function of its own ([`out_of_line`]), so the path every call takes
/// (this match, [`handle`]) saves only the few registers it uses itself,
/// not the many the largest handler needs.
#[inline(always)]
fn dispatch(number: usize, [a, b, c, d, e, _f]: [usize; 6], frame: &mut TrapFrame) -> usize {
    match number {
        SYS_OPEN => out_of_line(move || fs::open(fs::path(a, b)?, c)),
        SYS_UNLINK => out_of_line(move || fs::unlink(fs::path(a, b)?)),
        SYS_RMDIR => out_of_line(move || fs::rmdir(fs::path(a, b)?)),

        SYS_CLOSE => out_of_line(move || fs::close(Fd(a))),
        SYS_READ => out_of_line(move || fs::read(Fd(a), UserOut::new(b, c)?)),
        SYS_WRITE => out_of_line(move || fs::write(Fd(a), UserIn::new(b, c)?)),
        SYS_WRITE_READ => out_of_line(move || fs::write_read(Fd(a), UserIn::new(b, c)?, UserOut::new(d, e)?)),
        SYS_SUBMIT => out_of_line(move || batch::submit(a, b, c)),
        SYS_LSEEK => out_of_line(move || fs::lseek(Fd(a), b as isize, c)),
        SYS_FSTAT => out_of_line(move || fs::fstat(Fd(a), b, c)),
        SYS_FSTATVFS => out_of_line(move || fs::fstatvfs(Fd(a), b, c)),
        SYS_FPATH => out_of_line(move || fs::fpath(Fd(a), UserOut::new(b, c)?)),
        SYS_DUP => out_of_line(move || fs::dup(Fd(a), fs::path(b, c)?)),
        SYS_DUP2 => out_of_line(move || fs::dup2(Fd(a), Fd(b), fs::path(c, d)?)),
        SYS_FCNTL => out_of_line(move || fs::fcntl(Fd(a), b, c)),
        SYS_FSYNC => out_of_line(move || fs::fsync(Fd(a))),
        SYS_FTRUNCATE => out_of_line(move || fs::ftruncate(Fd(a), b)),
        SYS_FRENAME => out_of_line(move || fs::frename(Fd(a), fs::path(b, c)?)),
        SYS_SENDFD => out_of_line(move || fs::sendfd(Fd(a), Fd(b), c, d)),

        SYS_EXIT => out_of_line(move || process::exit(a)),
        SYS_FORK => out_of_line(move || process::fork(frame)),
        SYS_EXEC => out_of_line(move || process::exec(Fd(a), b, c, d, e, frame)),
        SYS_WAITPID => out_of_line(move || process::waitpid(a, b, c)),
        SYS_GETPID => out_of_line(process::getpid),
        SYS_GETPPID => out_of_line(process::getppid),
        SYS_KILL => out_of_line(move || process::kill(a, b)),
        SYS_YIELD => out_of_line(process::yield_now),
        SYS_PORT_GRANT => out_of_line(move || process::port_grant(a, b, c)),
        SYS_NS_RESTRICT => out_of_line(move || process::ns_restrict(a, b)),
        SYS_SETUID => out_of_line(move || process::setuid(a, b)),
        SYS_SETPGID => out_of_line(move || process::setpgid(a, b)),
        SYS_GETPGID => out_of_line(move || process::getpgid(a)),

        SYS_MMAP => out_of_line(move || memory::mmap(a, b, c)),
        SYS_FMAP => out_of_line(move || memory::fmap(Fd(a), b, c)),
        SYS_FUNMAP => out_of_line(move || memory::munmap(a, b)),
        SYS_MPROTECT => out_of_line(move || memory::mprotect(a, b, c)),

        SYS_CLOCK_GETTIME => out_of_line(move || time::clock_gettime(a, b)),
        SYS_NANOSLEEP => out_of_line(move || time::nanosleep(a, b)),
        SYS_FUTEX => out_of_line(move || futex::futex(a, b, c, d)),

        _ => Error::mux(Err(Error::new(ENOSYS))),
    }
}

/// Run a handler as a function of its own (one per arm: each closure is a
/// type of its own) and turn its result into the register value, so it
/// comes back in RAX. Measured: the null system call took 140 instructions
/// with every handler inlined into [`handle`], whose prologue then saved
/// six registers and set up a 2 KiB frame for each call.
#[inline(never)]
fn out_of_line(handler: impl FnOnce() -> Result<usize, Error>) -> usize {
    Error::mux(handler())
}
