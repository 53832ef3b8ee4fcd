//! Rate limits for the log lines a process causes.
//!
//! A process can make the kernel log something on purpose: a fault it
//! takes, a daemon's bad answer, a read of `debug:` while a driver owns
//! COM1. Each such line goes through [`caller_log!`], which lets a process
//! have [`PER_PROCESS`] lines in each [`WINDOW_NS`] and all processes
//! together [`ALL_PROCESSES`]; the rest are counted, and the first line a
//! process logs in a later window says how many of its lines were dropped.
//! So no process (nor a crowd of them) can flood the console or push
//! everything else out of `sys:log`. Lines the kernel logs on its own
//! behalf (boot, hardware) do not go through this.
//!
//! May touch: the current process's budget and the global one, each under
//! its own lock taken with interrupts off; never allocates.

use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Length of one window.
pub const WINDOW_NS: u64 = 5_000_000_000;
/// Lines one process may cause per window.
pub const PER_PROCESS: u32 = 10;
/// Lines all processes together may cause per window.
pub const ALL_PROCESSES: u32 = 50;

/// A window's count of lines allowed and dropped.
pub struct Budget {
    window_start: u64,
    used: u32,
    dropped: u64,
}

impl Budget {
    pub const fn new() -> Budget {
        Budget { window_start: 0, used: 0, dropped: 0 }
    }

    /// Take one line at time `now` if `limit` allows it. Returns how many
    /// lines were dropped since the last one allowed (`Some(0)`: none), or
    /// `None` if this one is dropped too.
    fn take(&mut self, now: u64, limit: u32) -> Option<u64> {
        if now.saturating_sub(self.window_start) >= WINDOW_NS {
            self.window_start = now;
            self.used = 0;
        }
        if self.used >= limit {
            self.dropped += 1;
            return None;
        }
        self.used += 1;
        Some(core::mem::take(&mut self.dropped))
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::new()
    }
}

static GLOBAL: Mutex<Budget> = Mutex::new(Budget::new());

/// Whether the current process may log one more line now. On `true`, a
/// line about lines dropped before it has been logged already.
pub fn allow() -> bool {
    let now = crate::time::now_ns();
    let process = crate::context::current_process();
    let own = match &process {
        Some(p) => without_interrupts(|| p.log_budget.lock().take(now, PER_PROCESS)),
        None => Some(0),
    };
    let global = own.and_then(|_| without_interrupts(|| GLOBAL.lock().take(now, ALL_PROCESSES)));
    let (Some(own), Some(global)) = (own, global) else {
        return false;
    };
    if own > 0
        && let Some(p) = &process
    {
        log::warn!("pid {}: {own} more log lines it caused were dropped (rate limit)", p.pid);
    }
    if global > 0 {
        log::warn!("{global} log lines caused by processes were dropped (rate limit)");
    }
    true
}

/// `log::log!` for a line the current process caused: rate-limited per
/// process and for all together (see the module documentation).
#[macro_export]
macro_rules! caller_log {
    ($level:ident, $($arg:tt)+) => {
        if log::log_enabled!(log::Level::$level) && $crate::log_limit::allow() {
            log::log!(log::Level::$level, $($arg)+);
        }
    };
}
