//! I/O port grants: a process uses a port only once a privileged process
//! (uid 0: the suite runs as root) granted it (`SYS_PORT_GRANT`), only that
//! port, the grant reaches a process that is running at the time, and it
//! does not leak to later processes on the same CPU.

use alloc::string::String;
use core::sync::atomic::Ordering;

use rt::abi::SIGSEGV;
use rt::abi::syscall as sc;
use rt::port::inb;

use crate::support::{
    Outcome, WAIT, await_flag, dies_with, ensure, expect_errno, expect_exit, expect_signal, fork_child, ok, raise_flag,
    shared_page, syscall, wait_for, wait_until,
};

/// The POST diagnostic port: reading it has no effect.
const PORT: usize = 0x80;

/// Forks a child that waits for the flag, then reads `port`; grants it
/// `PORT` before raising the flag; returns the child's status.
fn granted_child_reads(port: u16) -> Result<rt::process::ExitStatus, String> {
    let page = shared_page()?;
    let go = &page.atomic_u32s()[0];
    let pid = fork_child(|| {
        if !await_flag(go, WAIT) {
            return 1;
        }
        inb(port);
        0
    })?;
    let granted = rt::sys::port_grant(pid, PORT, 1);
    raise_flag(go);
    let status = wait_for(pid, WAIT)?;
    ok("port_grant", granted)?;
    Ok(status)
}

pub fn port_grant_allows_the_port() -> Outcome {
    let status = granted_child_reads(PORT as u16)?;
    expect_exit("the granted child reading port 0x80", status, 0)?;
    Ok(String::from("port 0x80 readable after the grant"))
}

pub fn port_grant_is_only_that_port() -> Outcome {
    let status = granted_child_reads(PORT as u16 + 4)?;
    expect_signal("a child granted 0x80 reading 0x84", status, SIGSEGV)?;
    Ok(String::from("0x84 still refused"))
}

pub fn port_grant_does_not_leak() -> Outcome {
    // A granted child runs and ends; ungranted processes after it (on
    // whichever CPU it used) still may not touch the port.
    let status = granted_child_reads(PORT as u16)?;
    expect_exit("the granted child", status, 0)?;
    for _ in 0..4 {
        dies_with(SIGSEGV, || {
            inb(PORT as u16);
        })?;
    }
    Ok(String::from("4 later processes refused"))
}

pub fn port_grant_reaches_a_running_process() -> Outcome {
    // The child spins without ever blocking or making a system call: the
    // grant must reach it while it stays on its CPU.
    let page = shared_page()?;
    let spinning = &page.atomic_u32s()[0];
    let go = &page.atomic_u32s()[1];
    let pid = fork_child(|| {
        spinning.store(1, Ordering::Release);
        // No system call from here on: only the timer interrupt takes it
        // into the kernel. (The parent always sets the flag, or kills it.)
        while go.load(Ordering::Acquire) == 0 {
            core::hint::spin_loop();
        }
        inb(PORT as u16);
        0
    })?;
    let started = wait_until(WAIT, || spinning.load(Ordering::Acquire) != 0);
    let granted = rt::sys::port_grant(pid, PORT, 1);
    // Long enough for several timer ticks on its CPU.
    crate::support::sleep_ms(50);
    go.store(1, Ordering::Release);
    let status = wait_for(pid, WAIT)?;
    ensure!(started, "the child never started");
    ok("port_grant", granted)?;
    expect_exit("a spinning child granted port 0x80 (killed = the grant never reached its CPU)", status, 0)?;
    Ok(String::from("granted while running"))
}

pub fn port_grant_to_self() -> Outcome {
    // A privileged process grants itself a port and uses it at once.
    let status = crate::support::run_child(|| {
        if rt::sys::port_grant(rt::process::getpid(), PORT, 1).is_err() {
            return 1;
        }
        inb(PORT as u16);
        0
    })?;
    ensure!(status.code() != Some(1), "port_grant to itself failed");
    expect_exit("a child that granted itself port 0x80 (killed = the grant did not apply at once)", status, 0)?;
    Ok(String::from("usable right after the call"))
}

pub fn port_grant_refused_in_the_null_namespace() -> Outcome {
    // A confined driver (null namespace) cannot widen its grants, even as
    // root: it keeps the ports it took before confining itself.
    let status = crate::support::run_child(|| {
        if rt::sys::port_grant(rt::process::getpid(), PORT, 1).is_err() {
            return 1;
        }
        if rt::sys::ns_restrict(&[]).is_err() {
            return 2;
        }
        match rt::sys::port_grant(rt::process::getpid(), PORT + 1, 1) {
            Err(err) if err.errno == sc::EPERM => {}
            _ => return 3,
        }
        inb(PORT as u16);
        0
    })?;
    ensure!(status.code() != Some(3), "a process in the null namespace granted itself a port");
    expect_exit("a confined child using the port it had", status, 0)?;
    Ok(String::from("EPERM once confined; earlier grants stay"))
}

pub fn port_grant_bad_arguments() -> Outcome {
    let me = rt::process::getpid();
    let grant = |pid: usize, base: usize, count: usize| syscall(rt::abi::SYS_PORT_GRANT, &[pid, base, count]);
    expect_errno("grant of 0 ports", grant(me, PORT, 0), sc::EINVAL)?;
    expect_errno("grant past port 0xffff", grant(me, 0xfff0, 0x20), sc::EINVAL)?;
    expect_errno("grant of port 0x10000", grant(me, 0x1_0000, 1), sc::EINVAL)?;
    expect_errno("grant with a wrapping range", grant(me, usize::MAX, 2), sc::EINVAL)?;
    expect_errno("grant to pid 999999", grant(999_999, PORT, 1), sc::ESRCH)?;
    Ok(String::from("EINVAL, ESRCH"))
}
