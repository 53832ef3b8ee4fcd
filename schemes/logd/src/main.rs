//! `logd` serves `log:`, the system log: daemons, drivers and programs
//! write lines there (through `rt::log`'s logger, so a daemon says
//! `log::warn!(...)`), and the consoles show the ones that matter.
//!
//! What it keeps and how readers see it is `lib/log-store` (levels, the
//! line format, the bounded store, cursors). The paths:
//!
//! - `log:` opened for writing: each line written is kept with the time it
//!   arrived, the writer's pid and its level (a leading `<warn>`-style tag,
//!   else info). A partial line waits, per handle, for its newline, or is
//!   kept as it is when the handle closes. Opened for reading: every line
//!   kept, oldest first, then end of file; a later read gives what arrived
//!   since, so `tail -f log:` follows the log.
//! - `log:console` (read only): the lines that were at least as severe as
//!   the console level when they arrived, from the moment of the open; a read waits for one (`EAGAIN`
//!   with `O_NONBLOCK`) and `event:` says when one came. The console
//!   daemons (`seriald`, `fbcond`) read it and show the lines without
//!   breaking the line being typed. While no console has it open, `logd`
//!   writes those lines to its own standard error (the kernel's `debug:`
//!   console), so nothing said during early boot is lost from the screen.
//! - `log:console-level`: reading gives the level (`info` at boot) and a
//!   newline; root writes `error`, `warn`, `info`, `debug` or `trace` to
//!   change it. init writes `warn` once the shells are started: after boot
//!   only warnings and errors reach the consoles.
//!
//! Lines are kept up to [`CAPACITY`] bytes; the oldest go first, and a
//! reader that had not reached them gets a note saying how many. Serves
//! from the null namespace; touches nothing but its socket and stderr.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use log_store::{Cursor, Level, Lines, Pending, Store};
use rt::prelude::*;
use scheme::sc::{EACCES, EAGAIN, EBADF, EINVAL, ENOENT, MODE_CHR, O_ACCMODE, O_RDONLY};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Server, Stat};

extern crate alloc;

rt::main!(main);

/// Bytes of lines kept.
const CAPACITY: usize = 256 * 1024;
/// The most bytes one write takes (a longer one is short: the writer
/// writes the rest), so one call cannot keep the daemon busy for long.
const WRITE_MAX: usize = 16 * 1024;

enum Handle {
    /// `log:` for reading: where it has read up to.
    Reader(Cursor),
    /// `log:` for writing: the unfinished line.
    Writer { pid: usize, pending: Pending },
    /// `log:console`: a console's follower.
    Console(Cursor),
    /// `log:console-level`: how much of the level's name was read.
    ConsoleLevel { read: usize },
}

struct Log {
    store: Store,
    /// The least severe level the consoles show.
    console_level: Level,
    handles: Handles<Handle>,
    /// A line the consoles show arrived since events were last drained.
    console_news: bool,
}

impl Log {
    fn keep(&mut self, pid: usize, line: &[u8]) {
        let (level, text) = log_store::split_level(line);
        let shown = log_store::format_line(rt::time::now(), pid, level, text);
        let console = level <= self.console_level;
        if console {
            if self.handles.iter().any(|(_, h)| matches!(h, Handle::Console(_))) {
                self.console_news = true;
            } else {
                // No console follows the log yet (early boot) or any more
                // (its driver died): straight to the kernel's console.
                let _ = rt::io::write_all(rt::io::STDERR, shown.as_bytes());
            }
        }
        self.store.push(shown, console);
    }
}

impl Scheme for Log {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        let reading = flags & O_ACCMODE == O_RDONLY;
        let handle = match path {
            "" if reading => Handle::Reader(self.store.start()),
            "" => Handle::Writer { pid: caller.pid, pending: Pending::default() },
            "console" if reading => Handle::Console(self.store.end()),
            "console" => return Err(Error::new(EACCES)),
            "console-level" if reading || caller.uid == 0 => Handle::ConsoleLevel { read: 0 },
            "console-level" => return Err(Error::new(EACCES)),
            _ => return Err(Error::new(ENOENT)),
        };
        Ok(Opened::Handle(self.handles.insert(handle)))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let level = self.console_level;
        match self.handles.get_mut(handle)? {
            Handle::Reader(cursor) => Ok(self.store.read(cursor, Lines::All, buf)),
            Handle::Console(cursor) => match self.store.read(cursor, Lines::Console, buf) {
                0 if !buf.is_empty() => Err(Error::new(EAGAIN)),
                n => Ok(n),
            },
            Handle::ConsoleLevel { read } => {
                let text = format!("{}\n", level.name());
                let rest = text.as_bytes().get(*read..).unwrap_or_default();
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                *read += n;
                Ok(n)
            }
            Handle::Writer { .. } => Err(Error::new(EBADF)),
        }
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let buf = &buf[..buf.len().min(WRITE_MAX)];
        let (pid, lines) = match self.handles.get_mut(handle)? {
            Handle::Writer { pid, pending } => (*pid, pending.feed(buf)),
            Handle::ConsoleLevel { read } => {
                let level = Level::parse(buf).ok_or(Error::new(EINVAL))?;
                *read = 0;
                self.console_level = level;
                return Ok(buf.len());
            }
            Handle::Reader(_) | Handle::Console(_) => return Err(Error::new(EBADF)),
        };
        for line in lines {
            self.keep(pid, &line);
        }
        Ok(buf.len())
    }

    fn close(&mut self, handle: usize) {
        if let Some(Handle::Writer { pid, pending }) = self.handles.remove(handle)
            && let Some(line) = pending.finish()
        {
            self.keep(pid, &line);
        }
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        let handle = self.handles.get(handle)?;
        stat.st_mode = MODE_CHR | if matches!(handle, Handle::ConsoleLevel { .. }) { 0o644 } else { 0o666 };
        if let Handle::Reader(_) = handle {
            stat.st_size = self.store.bytes() as u64;
        }
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        Ok(String::from(match self.handles.get(handle)? {
            Handle::Reader(_) | Handle::Writer { .. } => "",
            Handle::Console(_) => "console",
            Handle::ConsoleLevel { .. } => "console-level",
        }))
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        let ready = match self.handles.get(handle)? {
            Handle::Console(cursor) if !self.store.has_news(cursor, Lines::Console) => EventFlags::EVENT_WRITE,
            _ => EventFlags::EVENT_READ | EventFlags::EVENT_WRITE,
        };
        Ok(ready & interest)
    }

    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        if !core::mem::take(&mut self.console_news) {
            return;
        }
        for (id, handle) in self.handles.iter() {
            if let Handle::Console(cursor) = handle
                && self.store.has_news(cursor, Lines::Console)
            {
                events.push((id, EventFlags::EVENT_READ));
            }
        }
    }
}

fn main() -> Result<()> {
    let log =
        Log { store: Store::new(CAPACITY), console_level: Level::Info, handles: Handles::new(), console_news: false };
    let mut server = Server::new("log", log)?;
    server.confine()?;
    server.ready();
    server.run()
}
