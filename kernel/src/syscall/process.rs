//! Process control: exit, fork, exec, wait, identity (uid, namespace),
//! process groups, signals, yielding, and granting I/O ports to drivers.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::syscall::error::{E2BIG, EAGAIN, EINVAL, ENODEV, EPERM, ESRCH, Error};
use abi::{SIGINT, SIGKILL, SIGTERM, UserStr, WNOHANG};

use crate::arch::x86_64::trap::TrapFrame;
use crate::context::exec::{self, MAX_ARG_BYTES, MAX_ARGS};
use crate::context::file::Fd;
use crate::context::process::{self, Process};
use crate::context::scheduler;
use crate::context::thread::Thread;
use crate::memory::usercopy::{self, Out, UserIn, UserPtr};

pub fn exit(status: usize) -> Result<usize, Error> {
    process::exit_current(abi::status::exited(status as u8))
}

#[inline]
pub fn getpid() -> Result<usize, Error> {
    Ok(super::with_me(|me| me.pid))
}

#[inline]
pub fn getppid() -> Result<usize, Error> {
    Ok(super::with_me(|me| me.ppid()))
}

pub fn yield_now() -> Result<usize, Error> {
    scheduler::yield_now();
    Ok(0)
}

pub fn fork(frame: &TrapFrame) -> Result<usize, Error> {
    let parent = super::me();
    if !process::may_fork(parent.uid()) {
        crate::caller_log!(
            Info,
            "pid {}: fork refused: uid {} has {} processes",
            parent.pid,
            parent.uid(),
            process::MAX_PROCESSES_PER_USER
        );
        return Err(Error::new(EAGAIN));
    }
    let space = parent.with_space(|space| space.fork()).ok_or(Error::new(ESRCH))??;
    let files = parent.files.lock().clone();
    let name = parent.name.lock().clone();
    let child = Process::new(
        parent.pid,
        Some(parent.pgid()),
        name,
        space,
        files,
        (parent.uid(), parent.gid()),
        parent.namespace(),
    );
    let mut child_frame = *frame;
    child_frame.rax = 0;
    // The parent's FPU registers, if it used them, are live on this CPU:
    // the child starts with a copy.
    let fpu = scheduler::fpu_for_fork();
    let thread = match Thread::new_user(Arc::clone(&child), &child_frame, fpu) {
        Ok(thread) => thread,
        Err(err) => {
            process::discard(&child);
            return Err(err);
        }
    };
    child.threads.lock().push(thread.clone());
    scheduler::spawn(thread);
    Ok(child.pid)
}

/// Copy an array of `UserStr` and the strings it points to.
fn user_strings(array: usize, count: usize) -> Result<Vec<Vec<u8>>, Error> {
    if count > MAX_ARGS {
        return Err(Error::new(E2BIG));
    }
    let entries = if count == 0 { Vec::new() } else { usercopy::read_array::<UserStr>(array, count)? };
    let mut total = 0usize;
    let mut strings = Vec::with_capacity(count);
    for entry in entries {
        total = total.saturating_add(entry.len);
        if total > MAX_ARG_BYTES {
            return Err(Error::new(E2BIG));
        }
        strings.push(UserIn::new(entry.ptr, entry.len)?.to_vec()?);
    }
    Ok(strings)
}

pub fn exec(fd: Fd, argv: usize, argc: usize, envp: usize, envc: usize, frame: &mut TrapFrame) -> Result<usize, Error> {
    let process = super::me();
    let args = user_strings(argv, argc)?;
    let env = user_strings(envp, envc)?;
    let file = process.files.lock().get(fd)?;
    let mut program = exec::load(&exec::Executable::of(&file)?, &args, &env)?;
    program.space.set_limit(process::memory_limit(process.uid()));
    let name = args
        .first()
        .map(|a| String::from_utf8_lossy(a.rsplit(|&b| b == b'/').next().unwrap_or(a)).into_owned())
        .unwrap_or_default();
    *frame = program.initial_frame();
    let old = process.replace_space(program.space);
    drop(old);
    *process.name.lock() = name;
    process.files.lock().close_on_exec();
    scheduler::fpu_forget();
    Ok(0)
}

pub fn waitpid(pid: usize, status: usize, flags: usize) -> Result<usize, Error> {
    if flags & !WNOHANG != 0 {
        return Err(Error::new(EINVAL));
    }
    // Check the status pointer before reaping, so a bad one loses nothing.
    let out = if status != 0 {
        let ptr = UserPtr::<usize, Out>::new(status)?;
        ptr.write(&0)?;
        Some(ptr)
    } else {
        None
    };
    match process::wait_child(&super::me(), pid, flags & WNOHANG != 0)? {
        None => Ok(0),
        Some((child, code)) => {
            if let Some(out) = out {
                out.write(&code)?;
            }
            Ok(child)
        }
    }
}

/// `SYS_KILL`: `pid` names one process, or, read as a negative `isize`,
/// the process group `-pid` (every live member the caller may signal).
pub fn kill(pid: usize, signal: usize) -> Result<usize, Error> {
    if ![SIGKILL, SIGTERM, SIGINT].contains(&signal) {
        return Err(Error::new(EINVAL));
    }
    let sender = super::me();
    // Nobody signals init, root included (as on Linux): its death would
    // take every console and every supervised daemon with it.
    let may_signal =
        |target: &Process| target.pid != process::INIT_PID && (sender.uid() == 0 || sender.uid() == target.uid());
    if (pid as isize) < 0 {
        let pgid = (pid as isize).unsigned_abs();
        let members = process::group_members(pgid);
        if members.is_empty() {
            return Err(Error::new(ESRCH));
        }
        let allowed: Vec<&Arc<Process>> = members.iter().filter(|p| may_signal(p)).collect();
        if allowed.is_empty() {
            return Err(Error::new(EPERM));
        }
        for target in allowed {
            target.kill(signal);
        }
        return Ok(0);
    }
    let target = process::get(pid).filter(|p| p.exit_status().is_none()).ok_or(Error::new(ESRCH))?;
    if !may_signal(&target) {
        return Err(Error::new(EPERM));
    }
    target.kill(signal);
    Ok(0)
}

/// `SYS_SETPGID`: put process `pid` (0 = the caller), which must be the
/// caller or a live child of it, into group `pgid` (0 = its own pid). The
/// group must be the process's own pid (a new group) or one that has a
/// live member already.
pub fn setpgid(pid: usize, pgid: usize) -> Result<usize, Error> {
    if (pid as isize) < 0 || (pgid as isize) < 0 {
        return Err(Error::new(EINVAL));
    }
    let me = super::me();
    let target = if pid == 0 || pid == me.pid {
        me.clone()
    } else {
        process::get(pid).filter(|p| p.ppid() == me.pid && p.exit_status().is_none()).ok_or(Error::new(ESRCH))?
    };
    let pgid = if pgid == 0 { target.pid } else { pgid };
    if pgid != target.pid && process::group_members(pgid).is_empty() {
        return Err(Error::new(EPERM));
    }
    target.set_pgid(pgid);
    Ok(0)
}

/// `SYS_GETPGID`: the group of process `pid` (0 = the caller).
pub fn getpgid(pid: usize) -> Result<usize, Error> {
    if pid == 0 {
        return Ok(super::with_me(|me| me.pgid()));
    }
    let target = process::get(pid).filter(|p| p.exit_status().is_none()).ok_or(Error::new(ESRCH))?;
    Ok(target.pgid())
}

/// Let process `pid` use ports `first..first + count` (root only, and not
/// from the null namespace: a driver that confined itself keeps the ports
/// it took but cannot take more).
pub fn port_grant(pid: usize, first: usize, count: usize) -> Result<usize, Error> {
    let me = super::me();
    if me.uid() != 0 {
        return Err(Error::new(EPERM));
    }
    if me.namespace().is_null() {
        crate::caller_log!(Debug, "pid {}: port_grant refused: it is in the null namespace", me.pid);
        return Err(Error::new(EPERM));
    }
    let end = first.checked_add(count).filter(|&end| end <= 0x1_0000 && count > 0).ok_or(Error::new(EINVAL))?;
    let target = process::get(pid).filter(|p| p.exit_status().is_none()).ok_or(Error::new(ESRCH))?;
    target.grant_ports(first as u32..end as u32);
    // If it is running on another CPU, make that CPU pass through the
    // return-to-user path, where the grant is loaded.
    scheduler::nudge(&target);
    Ok(0)
}

/// Narrow the namespace to the named schemes (none: the null namespace).
pub fn ns_restrict(names: usize, count: usize) -> Result<usize, Error> {
    let process = super::me();
    let names: Vec<String> = user_strings(names, count)?
        .into_iter()
        .map(|name| String::from_utf8(name).map_err(|_| Error::new(EINVAL)))
        .collect::<Result<_, _>>()?;
    let narrowed = process.namespace().subset(&names).map_err(|missing| {
        crate::caller_log!(Debug, "pid {}: cannot keep scheme {missing:?}: not in its namespace", process.pid);
        Error::new(ENODEV)
    })?;
    process.set_namespace(Arc::new(narrowed));
    Ok(0)
}

/// Become user `uid`, group `gid` (root only).
pub fn setuid(uid: usize, gid: usize) -> Result<usize, Error> {
    let process = super::me();
    if process.uid() != 0 {
        return Err(Error::new(EPERM));
    }
    let uid = u32::try_from(uid).map_err(|_| Error::new(EINVAL))?;
    let gid = u32::try_from(gid).map_err(|_| Error::new(EINVAL))?;
    process.set_ids(uid, gid);
    Ok(0)
}
