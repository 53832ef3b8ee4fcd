//! Read timeouts, for a [`crate::Server`] that offers them
//! ([`crate::Server::offer_read_timeouts`]; `netd`'s `tcp:`, `udp:` and
//! `icmp:`): `dup(fd, "read_timeout")` gives a file whose write of a
//! `TimeSpec` sets how long a read of `fd` that has to wait may wait (zero:
//! as long as it takes; anything but 16 bytes of a non-negative time with
//! fewer than a billion nanoseconds: `EINVAL`) and whose read gives it, as
//! Redox's sockets take `SO_RCVTIMEO`. A read parked that long is answered
//! with `ETIMEDOUT` by the retry after its deadline (`Server::prepare`). The limit belongs to the handle, so
//! every fd of it shares it; a setting whose handle closed gives `EBADF`.
//!
//! The server keeps the settings itself, so a scheme needs no code for
//! them: their handles are numbered from [`SETTING`] up, above any the
//! scheme's own [`crate::Handles`] give out (docs/architecture.md §3.7).
//!
//! May touch: nothing outside its maps.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::time::Duration;

use rt::Error;
use rt::abi::syscall::{EBADF, EINVAL};

/// The name `dup` takes.
pub const NAME: &[u8] = b"read_timeout";
/// The first handle number of a setting.
pub const SETTING: usize = 1 << (usize::BITS - 2);

#[derive(Debug, Default)]
pub struct ReadTimeouts {
    /// Setting handle → the handle it sets (`None` once that closed).
    settings: BTreeMap<usize, Option<usize>>,
    /// Handle → how long its reads may wait.
    limits: BTreeMap<usize, Duration>,
    /// Parked reads with a limit: request id → when it runs out (from
    /// when the read was first parked).
    deadlines: Vec<(u64, Duration)>,
    next: usize,
}

impl ReadTimeouts {
    /// Whether `handle` is one of the settings' numbers.
    pub fn is_setting(handle: usize) -> bool {
        handle >= SETTING
    }

    /// A new setting of `handle` (which the scheme knows: the caller
    /// checked); `EINVAL` for a setting of a setting.
    pub fn dup(&mut self, handle: usize) -> Result<usize, Error> {
        if Self::is_setting(handle) {
            return Err(Error::new(EINVAL));
        }
        let setting = SETTING + self.next;
        self.next += 1;
        self.settings.insert(setting, Some(handle));
        Ok(setting)
    }

    /// How long a read of `handle` may wait, if it is bounded.
    pub fn limit(&self, handle: usize) -> Option<Duration> {
        self.limits.get(&handle).copied()
    }

    /// The handle `setting` sets, while both are open.
    fn target(&self, setting: usize) -> Result<usize, Error> {
        self.settings.get(&setting).copied().flatten().ok_or(Error::new(EBADF))
    }

    /// Whether read `id` of `handle`, about to be parked, has waited its
    /// limit out; a read parked for the first time starts its clock.
    pub fn past_deadline(&mut self, id: u64, handle: usize) -> bool {
        if let Some(at) = self.deadlines.iter().position(|&(parked, _)| parked == id) {
            if rt::time::now() < self.deadlines[at].1 {
                return false;
            }
            self.deadlines.swap_remove(at);
            return true;
        }
        // A limit too far to add to the clock is as good as none.
        if let Some(until) = self.limit(handle).and_then(|limit| rt::time::now().checked_add(limit)) {
            self.deadlines.push((id, until));
        }
        false
    }

    /// Forget the deadlines of reads `parked` says are no longer parked.
    pub fn keep_deadlines(&mut self, parked: impl Fn(u64) -> bool) {
        if !self.deadlines.is_empty() {
            self.deadlines.retain(|&(id, _)| parked(id));
        }
    }

    /// The earliest deadline of a parked read.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.deadlines.iter().map(|&(_, at)| at).min()
    }

    /// A read of `setting`: its handle's limit as a `TimeSpec` (all zero
    /// for none), cut to `buf`.
    pub fn read(&self, setting: usize, buf: &mut [u8]) -> Result<usize, Error> {
        let handle = self.target(setting)?;
        let bytes = rt::time::timespec_bytes(self.limit(handle).unwrap_or_default());
        let n = buf.len().min(bytes.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(n)
    }

    /// A write of `setting`: sets its handle's limit (zero: none).
    pub fn write(&mut self, setting: usize, buf: &[u8]) -> Result<usize, Error> {
        let handle = self.target(setting)?;
        let limit = rt::time::timespec_duration(buf).ok_or(Error::new(EINVAL))?;
        if limit.is_zero() {
            self.limits.remove(&handle);
        } else {
            self.limits.insert(handle, limit);
        }
        Ok(buf.len())
    }

    /// `handle` (a setting or the scheme's own) closed.
    pub fn closed(&mut self, handle: usize) {
        if Self::is_setting(handle) {
            self.settings.remove(&handle);
            return;
        }
        self.limits.remove(&handle);
        // Its settings stay open, to say `EBADF`.
        for target in self.settings.values_mut().filter(|target| **target == Some(handle)) {
            *target = None;
        }
    }
}
