//! `power:` — turning the machine off and resetting it (README "Shutting
//! down"). Root only (`EACCES`).
//!
//! - `write` of `poweroff` or `reboot` (a trailing newline allowed; else
//!   `EINVAL`):
//!   - from init (pid 1), which has stopped everything else: done at once
//!     (`arch::x86_64::power`: ACPI S5, or the reset register); the call
//!     returns only if the machine did not go (`EIO`, logged);
//!   - from any other root process (the `poweroff` and `reboot`
//!     utilities): a request to init. It is recorded (a later one
//!     replaces it) and init's wait for its children is interrupted
//!     (`EINTR`), so init reads it at once, stops the system and writes it
//!     back here.
//! - `read` takes the pending request: `poweroff\n` or `reboot\n`, or 0
//!   bytes when there is none. It never blocks.
//!
//! May touch: the pending request (an atomic), init's child wait queue,
//! and the hardware through `arch::x86_64::power`.

use alloc::string::String;
use core::sync::atomic::{AtomicU8, Ordering};

use abi::syscall::error::{EACCES, EINVAL, EIO, ENOENT, Error};
use abi::syscall::{MODE_CHR, Stat};

use super::{Caller, KernelScheme, Opened};
use crate::context::process::{self, INIT_PID};

const NONE: u8 = 0;
const POWEROFF: u8 = 1;
const REBOOT: u8 = 2;

/// The request init has not read yet.
static PENDING: AtomicU8 = AtomicU8::new(NONE);

/// Whether a request waits for init (its wait for children ends with
/// `EINTR` while one does).
pub fn pending() -> bool {
    PENDING.load(Ordering::Acquire) != NONE
}

pub struct PowerScheme;

/// The one handle number (the scheme keeps no state per open).
const HANDLE: usize = 1;

fn parse(buf: &[u8]) -> Option<u8> {
    match buf.strip_suffix(b"\n").unwrap_or(buf) {
        b"poweroff" => Some(POWEROFF),
        b"reboot" => Some(REBOOT),
        _ => None,
    }
}

impl KernelScheme for PowerScheme {
    fn open(&self, path: &str, _flags: usize, caller: &Caller) -> Result<Opened, Error> {
        if !path.is_empty() {
            return Err(Error::new(ENOENT));
        }
        if caller.uid != 0 {
            crate::caller_log!(Info, "power: pid {} (uid {}) may not open power:", caller.pid, caller.uid);
            return Err(Error::new(EACCES));
        }
        Ok(Opened::Handle(HANDLE))
    }

    /// A buffer too short for the request is `EINVAL` (and leaves it).
    fn read(&self, _handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize, Error> {
        if buf.len() < b"poweroff\n".len() {
            return Err(Error::new(EINVAL));
        }
        let text: &[u8] = match PENDING.swap(NONE, Ordering::AcqRel) {
            POWEROFF => b"poweroff\n",
            REBOOT => b"reboot\n",
            _ => b"",
        };
        buf[..text.len()].copy_from_slice(text);
        Ok(text.len())
    }

    fn write(&self, _handle: usize, buf: &[u8], _flags: usize) -> Result<usize, Error> {
        let request = parse(buf).ok_or(Error::new(EINVAL))?;
        let caller = crate::context::scheduler::with_current(|thread| thread.process.as_ref().map_or(0, |p| p.pid));
        if caller == INIT_PID {
            match request {
                POWEROFF => crate::arch::x86_64::power::off(),
                _ => crate::arch::x86_64::power::reset(),
            }
            return Err(Error::new(EIO));
        }
        log::info!("power: pid {caller} asks init to {}", if request == POWEROFF { "power off" } else { "reboot" });
        PENDING.store(request, Ordering::Release);
        if let Some(init) = process::get(INIT_PID) {
            init.child_exited.wake_all();
        }
        Ok(buf.len())
    }

    fn fstat(&self, _handle: usize, stat: &mut Stat) -> Result<(), Error> {
        stat.st_mode = MODE_CHR | 0o600;
        Ok(())
    }

    fn fpath(&self, _handle: usize) -> Result<String, Error> {
        Ok(String::new())
    }

    fn close(&self, _handle: usize) -> Result<(), Error> {
        Ok(())
    }
}
