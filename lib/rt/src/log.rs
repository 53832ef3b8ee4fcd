//! The `log` crate's backend for userspace: after [`init`], a program's
//! `log::info!`, `log::warn!`, ... become lines in `log:` (the system log,
//! `schemes/logd`), each `<level>NAME: text` with the program's name from
//! `argv[0]`; logd adds the time and pid, and the consoles show what is at
//! least as severe as their level (see logd's header).
//!
//! Where `log:` is not there (before logd has started, or in a program
//! whose namespace does not have it), lines go to standard error instead,
//! prefixed with their level when it is a warning or an error; the logger
//! tries `log:` again at the next line, so init's lines move there as soon
//! as logd is up. A daemon that narrows its namespace opens `log:` first:
//! [`init`] does, at once.
//!
//! The level shown is `info` and above, or what the `LOG` environment
//! variable says (`LOG=debug`). May touch: the fd it opens on `log:` and
//! standard error.

use alloc::format;
use alloc::string::String;

use abi::syscall as sc;
use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::sync::Mutex;
use crate::{io, sys};

/// The logger `log` calls: the program's name and its fd on `log:`.
struct Logger {
    state: Mutex<State>,
}

struct State {
    name: String,
    /// The fd on `log:`, when open.
    fd: Option<usize>,
}

static LOGGER: Logger = Logger { state: Mutex::new(State { name: String::new(), fd: None }) };

/// Installs the logger for this program (once; later calls do nothing)
/// and opens `log:`. The name on every line is `argv[0]`'s last component.
pub fn init() {
    let name = crate::env::args_bytes().next().map(|arg0| {
        let arg0 = String::from_utf8_lossy(arg0);
        String::from(arg0.rsplit(['/', ':']).next().unwrap_or(&arg0))
    });
    init_named(name.as_deref().unwrap_or("?"));
}

/// [`init`] with a name other than `argv[0]`'s.
pub fn init_named(name: &str) {
    {
        let mut state = LOGGER.state.lock();
        state.name = String::from(name);
        if state.fd.is_none() {
            state.fd = open_log();
        }
    }
    let level = crate::env::var("LOG").and_then(|value| value.parse::<LevelFilter>().ok());
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level.unwrap_or(LevelFilter::Info));
    }
}

fn open_log() -> Option<usize> {
    sys::open("log:", sc::O_WRONLY | sc::O_CLOEXEC).ok()
}

/// The tag `log:` reads the level from (`lib/log-store`).
fn tag(level: Level) -> &'static str {
    log_store::tag(match level {
        Level::Error => log_store::Level::Error,
        Level::Warn => log_store::Level::Warn,
        Level::Info => log_store::Level::Info,
        Level::Debug => log_store::Level::Debug,
        Level::Trace => log_store::Level::Trace,
    })
}

/// Says `message` as an error through the logger, for the panic handler:
/// false when no logger is installed or its lock is held (a panic inside
/// the logger), so the caller says it on standard error instead.
pub(crate) fn report_panic(message: core::fmt::Arguments) -> bool {
    let Some(mut state) = LOGGER.state.try_lock() else { return false };
    let Some(fd) = state.fd.filter(|_| !state.name.is_empty()) else { return false };
    let line = format!("{}{}: {message}\n", tag(Level::Error), state.name);
    if io::write_all(fd, line.as_bytes()).is_ok() {
        return true;
    }
    state.fd = None;
    false
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut state = self.state.lock();
        let line = format!("{}{}: {}\n", tag(record.level()), state.name, record.args());
        for _ in 0..2 {
            if state.fd.is_none() {
                state.fd = open_log();
            }
            let Some(fd) = state.fd else { break };
            // One write per line: logd keeps what one write completes.
            if io::write_all(fd, line.as_bytes()).is_ok() {
                return;
            }
            // logd died (its fds fail) or the fd went bad: try a new one.
            let _ = sys::close(fd);
            state.fd = None;
        }
        let plain = line.split_once('>').map_or(line.as_str(), |(_, rest)| rest);
        let shown = match record.level() {
            Level::Error => format!("ERROR {plain}"),
            Level::Warn => format!("WARN  {plain}"),
            _ => String::from(plain),
        };
        let _ = io::write_all(io::STDERR, shown.as_bytes());
    }

    fn flush(&self) {}
}
