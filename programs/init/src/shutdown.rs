//! Stopping the system for `poweroff` and `reboot` (README "Shutting
//! down"). A root process writes the request to the kernel's `power:`,
//! which interrupts init's wait for its children; init reads it there and:
//!
//! 1. stops every process that serves no scheme (the shells, their jobs,
//!    anything else running): `SIGTERM`, then `SIGKILL` for what is still
//!    there after [`GRACE`];
//! 2. stops the supervised daemons in the reverse order of `init.rc` (not
//!    of their last start: a restarted driver still outlives the file
//!    system over it),
//!    each the same way, so a daemon never outlives one started after it
//!    (which may use it); before a daemon that serves a file system (a
//!    scheme whose root is a directory: `file:`, `tmp:`) is stopped, init
//!    `fsync`s that root, which `redoxfsd` answers by making every commit
//!    durable and `virtio-blkd` (`disk:`) by writing what it kept back and
//!    flushing each disk ([`sync`]);
//! 3. writes the request back to `power:`, where, coming from init, it
//!    turns the machine off (ACPI S5) or resets it.
//!
//! The initfs daemon (`bootstrap`, which serves `initfs:`) is left: it
//! holds nothing that needs saving. Nothing is restarted from the moment
//! the request is read.
//!
//! May touch: every process (signals), `power:`, `sys:context` and
//! `sys:daemon` (to find what runs).

use core::time::Duration;

use rt::abi::syscall::{EAGAIN, EIO, MODE_DIR, MODE_TYPE, O_DIRECTORY, O_NONBLOCK, O_RDONLY};
use rt::abi::{SIGKILL, SIGTERM};
use rt::fs::File;
use rt::prelude::*;

use crate::supervise::Services;

/// How long a process has to end after `SIGTERM`, and a file system or
/// disk to make what it holds durable.
const GRACE: Duration = Duration::from_secs(2);
/// How often init asks again while a sync is under way.
const SYNC_POLL: Duration = Duration::from_millis(5);

/// What a power request asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Request {
    PowerOff,
    Reboot,
}

impl Request {
    fn word(self) -> &'static str {
        match self {
            Request::PowerOff => "poweroff",
            Request::Reboot => "reboot",
        }
    }
}

/// The request waiting in `power:`, if any (`power` is init's handle).
pub fn pending(power: &mut File) -> Option<Request> {
    let mut buf = [0u8; 16];
    match power.read(&mut buf) {
        Ok(n) => match buf[..n].strip_suffix(b"\n").unwrap_or(&buf[..n]) {
            b"poweroff" => Some(Request::PowerOff),
            b"reboot" => Some(Request::Reboot),
            _ => None,
        },
        Err(_) => None,
    }
}

/// The pids `sys:FILE` lists in column 0 (`sys:context`) or 1
/// (`sys:daemon`), under its header.
fn pids(file: &str, column: usize) -> Vec<usize> {
    let text = rt::fs::read_to_string(file).unwrap_or_default();
    text.lines().skip(1).filter_map(|line| line.split_whitespace().nth(column)?.parse().ok()).collect()
}

/// Makes each file system `pid` serves keep what it holds: the schemes
/// `sys:daemon` lists for it whose root opens as a directory get an
/// `fsync` there (others answer `ENOSYS`, `EISDIR` or `EINVAL`, which is
/// fine; only `EIO` is reported).
fn sync(pid: usize) {
    let text = rt::fs::read_to_string("sys:daemon").unwrap_or_default();
    let schemes = text.lines().skip(1).filter_map(|line| {
        let mut fields = line.split_whitespace();
        let name = fields.next()?;
        (fields.next()?.parse() == Ok(pid)).then_some(name)
    });
    for name in schemes {
        let root = format!("{name}:");
        let Ok(dir) = File::open_with(&root, O_RDONLY | O_DIRECTORY | O_NONBLOCK) else { continue };
        if dir.stat().map_or(true, |stat| stat.st_mode & MODE_TYPE != MODE_DIR) {
            continue;
        }
        // Opened without blocking: a daemon that has to wait for its
        // device says EAGAIN, and is asked again for up to `GRACE`.
        let deadline = rt::time::now() + GRACE;
        let mut result = rt::sys::fsync(dir.fd());
        while matches!(&result, Err(err) if err.errno == EAGAIN) && rt::time::now() < deadline {
            rt::time::sleep(SYNC_POLL);
            result = rt::sys::fsync(dir.fd());
        }
        match result {
            Ok(()) => log::info!("synced {root}"),
            // What keeps nothing answers ENOSYS, EISDIR or EINVAL; only a
            // failure to store is worth a line.
            Err(err) if err.errno != EIO => {}
            Err(err) => log::warn!("syncing {root}: {err}"),
        }
    }
}

/// Whether `pid` is still there and not yet ended (reaping what init can).
fn alive(pid: usize) -> bool {
    while let Ok(Some(_)) = rt::process::wait_any(true) {}
    let text = rt::fs::read_to_string("sys:context").unwrap_or_default();
    text.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.first().and_then(|p| p.parse::<usize>().ok()) == Some(pid)
            && fields.get(5).is_some_and(|state| !state.starts_with("exit:") && !state.starts_with("signal:"))
    })
}

/// `SIGTERM` to `targets`, then `SIGKILL` to those left after the grace.
fn stop(targets: &[usize]) {
    for &pid in targets {
        let _ = rt::process::kill(pid, SIGTERM);
    }
    let deadline = rt::time::now() + GRACE;
    while targets.iter().any(|&pid| alive(pid)) && rt::time::now() < deadline {
        rt::time::sleep(Duration::from_millis(10));
    }
    for &pid in targets.iter().filter(|&&pid| alive(pid)) {
        log::warn!("pid {pid} did not end in {} s; killing it", GRACE.as_secs());
        let _ = rt::process::kill(pid, SIGKILL);
    }
}

/// Stop everything and carry out `request`. Returns only if the kernel
/// could not (the machine is then left with init alone).
pub fn run(request: Request, power: &mut File, services: &Services) {
    let me = rt::process::getpid();
    let daemons = pids("sys:daemon", 1);
    let others: Vec<usize> =
        pids("sys:context", 0).into_iter().filter(|&pid| pid != me && !daemons.contains(&pid)).collect();
    let order = services.running_in_reverse_order();
    log::info!("{}: stopping {} processes, then {} daemons", request.word(), others.len(), order.len());
    stop(&others);
    for (name, pid) in order {
        sync(pid);
        stop(&[pid]);
        log::info!("stopped {name} (pid {pid})");
    }
    log::info!("{}", if request == Request::PowerOff { "powering off" } else { "rebooting" });
    if let Err(err) = power.write_all(request.word().as_bytes()) {
        log::warn!("power:{}: {err}", request.word());
    }
}
