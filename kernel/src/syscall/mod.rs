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
    let result = dispatch(frame.rax as usize, args, frame);
    frame.rax = Error::mux(result) as u64;
    scheduler::before_return_to_user();
}

#[inline(always)]
fn dispatch(number: usize, [a, b, c, d, e, _f]: [usize; 6], frame: &mut TrapFrame) -> Result<usize, Error> {
    match number {
        SYS_OPEN => fs::open(fs::path(a, b)?, c),
        SYS_UNLINK => fs::unlink(fs::path(a, b)?),
        SYS_RMDIR => fs::rmdir(fs::path(a, b)?),

        SYS_CLOSE => fs::close(Fd(a)),
        SYS_READ => fs::read(Fd(a), UserOut::new(b, c)?),
        SYS_WRITE => fs::write(Fd(a), UserIn::new(b, c)?),
        SYS_WRITE_READ => fs::write_read(Fd(a), UserIn::new(b, c)?, UserOut::new(d, e)?),
        SYS_SUBMIT => batch::submit(a, b, c),
        SYS_LSEEK => fs::lseek(Fd(a), b as isize, c),
        SYS_FSTAT => fs::fstat(Fd(a), b, c),
        SYS_FSTATVFS => fs::fstatvfs(Fd(a), b, c),
        SYS_FPATH => fs::fpath(Fd(a), UserOut::new(b, c)?),
        SYS_DUP => fs::dup(Fd(a), fs::path(b, c)?),
        SYS_DUP2 => fs::dup2(Fd(a), Fd(b), fs::path(c, d)?),
        SYS_FCNTL => fs::fcntl(Fd(a), b, c),
        SYS_FSYNC => fs::fsync(Fd(a)),
        SYS_FTRUNCATE => fs::ftruncate(Fd(a), b),
        SYS_FRENAME => fs::frename(Fd(a), fs::path(b, c)?),
        SYS_SENDFD => fs::sendfd(Fd(a), Fd(b), c, d),

        SYS_EXIT => process::exit(a),
        SYS_FORK => process::fork(frame),
        SYS_EXEC => process::exec(Fd(a), b, c, d, e, frame),
        SYS_WAITPID => process::waitpid(a, b, c),
        SYS_GETPID => process::getpid(),
        SYS_GETPPID => process::getppid(),
        SYS_KILL => process::kill(a, b),
        SYS_YIELD => process::yield_now(),
        SYS_PORT_GRANT => process::port_grant(a, b, c),
        SYS_NS_RESTRICT => process::ns_restrict(a, b),
        SYS_SETUID => process::setuid(a, b),
        SYS_SETPGID => process::setpgid(a, b),
        SYS_GETPGID => process::getpgid(a),

        SYS_MMAP => memory::mmap(a, b, c),
        SYS_FMAP => memory::fmap(Fd(a), b, c),
        SYS_FUNMAP => memory::munmap(a, b),
        SYS_MPROTECT => memory::mprotect(a, b, c),

        SYS_CLOCK_GETTIME => time::clock_gettime(a, b),
        SYS_NANOSLEEP => time::nanosleep(a, b),
        SYS_FUTEX => futex::futex(a, b, c, d),

        _ => Err(Error::new(ENOSYS)),
    }
}
