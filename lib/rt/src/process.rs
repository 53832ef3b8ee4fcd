//! Processes: exit, fork, exec, spawn, wait, kill, process groups, and how `main`'s return
//! value becomes an exit status.
//!
//! Argument lists follow `std::process::Command`: `args` are the arguments
//! *after* the program name, and the child's `argv[0]` is the path it was
//! started from.

use alloc::vec::Vec;
use core::fmt;

use abi::syscall::{self as sc};

use crate::fs::File;
use crate::{Error, Result, sys};

/// Ends the process with exit status `code` (its low 8 bits are what a
/// parent's [`wait`] sees).
pub fn exit(code: i32) -> ! {
    sys::exit((code & 0xff) as usize)
}

/// Ends the process at once with status 134 (like an abort signal).
pub fn abort() -> ! {
    sys::exit(134)
}

/// This process's id.
///
/// # Panics
///
/// If the kernel refuses to say (it never should).
pub fn getpid() -> usize {
    sys::getpid().unwrap_or_else(|err| panic!("getpid: {err}"))
}

/// The parent process's id.
///
/// # Panics
///
/// If the kernel refuses to say (it never should).
pub fn getppid() -> usize {
    sys::getppid().unwrap_or_else(|err| panic!("getppid: {err}"))
}

/// Sends `signal` (`abi::SIGTERM`, `abi::SIGKILL`, ...) to process `pid`.
pub fn kill(pid: usize, signal: usize) -> Result<()> {
    sys::kill(pid, signal)
}

/// Puts process `pid` (0 = this one; otherwise a child of this one) into
/// process group `pgid` (0 = a new group numbered `pid`). The group must be
/// new or have a live member (`EPERM`); other processes are `ESRCH`.
pub fn setpgid(pid: usize, pgid: usize) -> Result<()> {
    sys::setpgid(pid, pgid)
}

/// The process group of process `pid` (0 = this one).
pub fn getpgid(pid: usize) -> Result<usize> {
    sys::getpgid(pid)
}

/// Sends `signal` to every live process of group `pgid` that this
/// process may signal (`ESRCH` if the group is empty, `EPERM` if none may
/// be signalled).
pub fn kill_group(pgid: usize, signal: usize) -> Result<()> {
    if pgid == 0 || (pgid as isize) < 0 {
        return Err(Error::new(sc::EINVAL));
    }
    sys::kill(pgid.wrapping_neg(), signal)
}

/// Which side of a [`fork`] this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fork {
    /// The parent; the child has this pid.
    Parent(usize),
    /// The child.
    Child,
}

/// Duplicates the process: the child gets a copy-on-write copy of the
/// memory (shared mappings stay shared) and the open fds.
pub fn fork() -> Result<Fork> {
    sys::fork().map(|pid| match pid {
        0 => Fork::Child,
        pid => Fork::Parent(pid),
    })
}

/// Replaces this program with the one at `path`, with `argv` = `path`
/// followed by `args` and the environment `env` (`KEY=VALUE` entries).
/// Returns only on failure, with the reason.
pub fn exec(path: &str, args: &[&str], env: &[&str]) -> Error {
    let file = match File::open_with(path, sc::O_RDONLY | sc::O_CLOEXEC) {
        Ok(file) => file,
        Err(err) => return err,
    };
    let env: Vec<&[u8]> = env.iter().map(|var| var.as_bytes()).collect();
    exec_file(&file, path, args, &env)
}

/// `SYS_EXEC` of the program open on `file`, `argv` = `path` then `args`.
fn exec_file(file: &File, path: &str, args: &[&str], env: &[&[u8]]) -> Error {
    let argv: Vec<&[u8]> = core::iter::once(path).chain(args.iter().copied()).map(str::as_bytes).collect();
    sys::exec(file.fd(), &argv, env)
}

/// Starts the program at `path` as a child with `argv` = `path` then
/// `args`, and this process's environment; returns the child's pid.
///
/// The file is opened before the fork, so a missing program is an error
/// here; if the exec itself fails, the child prints why and exits with 127.
pub fn spawn(path: &str, args: &[&str]) -> Result<usize> {
    let file = File::open_with(path, sc::O_RDONLY | sc::O_CLOEXEC)?;
    let env: Vec<&[u8]> = crate::env::vars_bytes().collect();
    match fork()? {
        Fork::Parent(pid) => Ok(pid),
        Fork::Child => {
            let err = exec_file(&file, path, args, &env);
            crate::eprintln!("spawn {path}: {err}");
            exit(127)
        }
    }
}

/// How a child ended, as [`wait`] reports it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus(usize);

impl ExitStatus {
    /// From the raw status `SYS_WAITPID` writes (`abi::status`).
    pub fn from_raw(raw: usize) -> ExitStatus {
        ExitStatus(raw)
    }

    pub fn raw(self) -> usize {
        self.0
    }

    /// The exit status, if the child exited (rather than being killed).
    pub fn code(self) -> Option<u8> {
        abi::status::exit_code(self.0)
    }

    /// The signal that ended the child, if one did.
    pub fn signal(self) -> Option<usize> {
        abi::status::signal(self.0)
    }

    /// Whether the child exited with status 0.
    pub fn success(self) -> bool {
        self.code() == Some(0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code(), self.signal()) {
            (Some(code), _) => write!(f, "exit status {code}"),
            (_, Some(signal)) => write!(f, "killed by signal {signal}"),
            _ => write!(f, "status {:#x}", self.0),
        }
    }
}

impl fmt::Debug for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExitStatus({self})")
    }
}

fn waitpid(pid: usize, flags: usize) -> Result<(usize, usize)> {
    loop {
        match sys::waitpid(pid, flags) {
            Err(err) if err.errno == sc::EINTR => {}
            other => return other,
        }
    }
}

/// Waits for child `pid` to end.
pub fn wait(pid: usize) -> Result<ExitStatus> {
    waitpid(pid, 0).map(|(_, status)| ExitStatus(status))
}

/// Waits for any child to end and returns its pid and status; with
/// `nohang`, returns `None` at once instead of waiting when none has ended
/// yet. `ECHILD` when there are no children.
pub fn wait_any(nohang: bool) -> Result<Option<(usize, ExitStatus)>> {
    let flags = if nohang { abi::WNOHANG } else { 0 };
    let (pid, status) = waitpid(abi::WAIT_ANY, flags)?;
    Ok((pid != 0).then_some((pid, ExitStatus(status))))
}

/// [`wait_any`], except that an interrupted wait returns `EINTR` instead of
/// waiting again: for init, whose wait the kernel interrupts when a power
/// request comes (`power:`).
pub fn wait_any_interruptible(nohang: bool) -> Result<Option<(usize, ExitStatus)>> {
    let flags = if nohang { abi::WNOHANG } else { 0 };
    let (pid, status) = sys::waitpid(abi::WAIT_ANY, flags)?;
    Ok((pid != 0).then_some((pid, ExitStatus(status))))
}

/// An exit status for `main` to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCode(u8);

impl ExitCode {
    pub const SUCCESS: ExitCode = ExitCode(0);
    pub const FAILURE: ExitCode = ExitCode(1);
}

impl From<u8> for ExitCode {
    fn from(code: u8) -> ExitCode {
        ExitCode(code)
    }
}

/// What `main` may return; [`crate::main!`] turns it into the exit status.
pub trait Termination {
    /// The exit status this value stands for (printing anything to say).
    fn report(self) -> i32;
}

impl Termination for () {
    fn report(self) -> i32 {
        0
    }
}

impl Termination for ExitCode {
    fn report(self) -> i32 {
        i32::from(self.0)
    }
}

/// `Ok` reports what it holds; `Err(e)` prints `error: {e}` to stderr and
/// is exit status 1.
impl<T: Termination, E: fmt::Display> Termination for core::result::Result<T, E> {
    fn report(self) -> i32 {
        match self {
            Ok(value) => value.report(),
            Err(err) => {
                crate::eprintln!("error: {err}");
                1
            }
        }
    }
}
