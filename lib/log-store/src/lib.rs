//! The lines behind `log:` (served by `schemes/logd`): what daemons and
//! programs write there, each kept with the time it arrived, the writer's
//! pid and a level, and read back through cursors that survive new lines
//! arriving and old ones being dropped.
//!
//! Why a crate of its own: this is the daemon's whole logic (splitting
//! writes into lines, the level tag, the format, the bounded store, what a
//! reader sees), and a writer is any program, so the input is untrusted:
//! it lives here, `no_std` + `alloc`, host-tested with a randomized loop
//! (`cargo test -p log-store`). It touches nothing but its own state; the
//! daemon supplies the time and pid.
//!
//! # What a writer sends
//!
//! Text, split into lines at `\n`. A line may start with a level tag,
//! `<error>`, `<warn>`, `<info>`, `<debug>` or `<trace>` (what
//! `rt::log`'s logger sends for `log::warn!` and the others); without one
//! it is `info`. By convention the text starts with the program's name
//! (`netd: eth0: 10.0.2.15/24 by DHCP`), which `rt::log` adds.
//!
//! # What a reader sees
//!
//! ```text
//! [    5.123456] WARN  pid 9 netd: eth0: no DHCP answer, using 10.0.2.15/24
//! ```
//!
//! the time since boot, the level, the pid and the text, one line each
//! (the kernel's log lines have the same shape, with the CPU in place of
//! the pid). A [`Cursor`] is a position in the endless sequence of every
//! line kept since the daemon started: reading at the end gives nothing
//! (end of file) and a later read gives the lines that arrived since,
//! which is what `tail -f` needs. When lines a reader has not reached are
//! dropped for room, the reader gets a note saying how many instead.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

#[cfg(test)]
mod tests;

/// How much a line matters, most severe first (the order `log`'s levels
/// have, so `level <= threshold` means "at least as severe").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    pub const ALL: [Level; 5] = [Level::Error, Level::Warn, Level::Info, Level::Debug, Level::Trace];

    /// The lower-case name used in tags and by `log:console-level`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    /// The column shown in a line: upper case, five wide.
    pub fn column(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }

    /// A level's name, any case, surrounding blanks and a newline allowed
    /// (`warning` is `warn`).
    pub fn parse(text: &[u8]) -> Option<Level> {
        let word = text.trim_ascii();
        if word.eq_ignore_ascii_case(b"warning") {
            return Some(Level::Warn);
        }
        Level::ALL.into_iter().find(|level| word.eq_ignore_ascii_case(level.name().as_bytes()))
    }
}

/// Splits a written line into its level (from a leading `<level>` tag,
/// else [`Level::Info`]) and the text after the tag.
pub fn split_level(line: &[u8]) -> (Level, &[u8]) {
    if let Some(rest) = line.strip_prefix(b"<")
        && let Some(end) = rest.iter().position(|&b| b == b'>')
        && let Some(level) = Level::parse(&rest[..end])
    {
        return (level, &rest[end + 1..]);
    }
    (Level::Info, line)
}

/// The tag a writer puts before a line of `level`.
pub fn tag(level: Level) -> &'static str {
    match level {
        Level::Error => "<error>",
        Level::Warn => "<warn>",
        Level::Info => "<info>",
        Level::Debug => "<debug>",
        Level::Trace => "<trace>",
    }
}

/// The longest line kept, in bytes of text (longer ones are cut, and say so).
pub const LINE_MAX: usize = 1024;

/// One line as readers see it, with its `\n`. Control characters other
/// than tab in the text become `?`, so a writer cannot move a console's
/// cursor or clear its screen through the log.
pub fn format_line(time: Duration, pid: usize, level: Level, text: &[u8]) -> String {
    let cut = text.len() > LINE_MAX;
    let text = String::from_utf8_lossy(&text[..text.len().min(LINE_MAX)]);
    let text: String =
        text.trim_end_matches('\r').chars().map(|c| if c.is_control() && c != '\t' { '?' } else { c }).collect();
    format!(
        "[{:5}.{:06}] {} pid {pid} {}{}\n",
        time.as_secs(),
        time.subsec_micros(),
        level.column(),
        text,
        if cut { " [cut]" } else { "" }
    )
}

/// A writer's unfinished line: bytes wait here until their `\n`.
#[derive(Debug, Default)]
pub struct Pending {
    partial: Vec<u8>,
}

impl Pending {
    /// Adds written bytes; returns the lines they complete (without their
    /// `\n`). A partial line longer than [`LINE_MAX`] is complete as it is.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut complete = Vec::new();
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            if let Some(line) = piece.strip_suffix(b"\n") {
                self.partial.extend_from_slice(line);
                complete.push(core::mem::take(&mut self.partial));
            } else {
                self.partial.extend_from_slice(piece);
                if self.partial.len() > LINE_MAX {
                    complete.push(core::mem::take(&mut self.partial));
                }
            }
        }
        complete
    }

    /// What is left when the writer closes: the last line, if it did not
    /// end with `\n`.
    pub fn finish(self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then_some(self.partial)
    }
}

/// A reader's position: the number of the next line to read and how
/// much of it was read already.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor {
    line: u64,
    offset: usize,
    /// A dropped-lines note being read, and how much of it was read.
    note: Option<(String, usize)>,
}

struct Entry {
    /// Whether the consoles show it (decided when it arrived).
    console: bool,
    text: String,
}

/// Which lines a read gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Every line.
    All,
    /// The lines pushed for the consoles.
    Console,
}

impl Lines {
    fn wants(self, entry: &Entry) -> bool {
        self == Lines::All || entry.console
    }
}

/// The newest lines that fit in a byte budget.
pub struct Store {
    entries: VecDeque<Entry>,
    /// The number of `entries[0]`: lines ever dropped.
    first: u64,
    bytes: usize,
    capacity: usize,
}

impl Store {
    /// A store of at most `capacity` bytes of formatted lines (at least
    /// the newest line is always kept).
    pub fn new(capacity: usize) -> Store {
        Store { entries: VecDeque::new(), first: 0, bytes: 0, capacity }
    }

    /// Keeps one formatted line (from [`format_line`]), marked for the
    /// consoles or not; drops the oldest ones while the store is over its
    /// budget.
    pub fn push(&mut self, text: String, console: bool) {
        self.bytes += text.len();
        self.entries.push_back(Entry { console, text });
        while self.bytes > self.capacity && self.entries.len() > 1 {
            let Some(old) = self.entries.pop_front() else { break };
            self.bytes -= old.text.len();
            self.first += 1;
        }
    }

    /// A cursor at the oldest line kept.
    pub fn start(&self) -> Cursor {
        Cursor { line: self.first, offset: 0, note: None }
    }

    /// A cursor after the newest line: it sees only lines kept later.
    pub fn end(&self) -> Cursor {
        Cursor { line: self.first + self.entries.len() as u64, offset: 0, note: None }
    }

    /// Lines dropped for room since the store began.
    pub fn dropped(&self) -> u64 {
        self.first
    }

    /// Bytes of formatted lines held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether a read at `cursor` of `lines` would give anything (a line,
    /// or a dropped-lines note).
    pub fn has_news(&self, cursor: &Cursor, lines: Lines) -> bool {
        if cursor.line < self.first || cursor.note.is_some() {
            return true;
        }
        let from = (cursor.line - self.first) as usize;
        self.entries.iter().skip(from).any(|entry| lines.wants(entry))
    }

    /// Copies `lines` from `cursor` into
    /// `out`, as many as fit (a line that does not fit whole is continued by
    /// the next read), and moves the cursor. If lines the cursor had not
    /// reached were dropped, the read starts with a note saying how many
    /// (a note too may take several reads). Returns the bytes copied: 0 at the end.
    pub fn read(&self, cursor: &mut Cursor, lines: Lines, out: &mut [u8]) -> usize {
        if cursor.line < self.first {
            // A line cut off halfway is ended first, so the note stands alone.
            let broken = if cursor.offset > 0 { "\n" } else { "" };
            let dropped = self.first - cursor.line;
            cursor.note = Some((format!("{broken}(log: {dropped} lines dropped before this one)\n"), 0));
            cursor.line = self.first;
            cursor.offset = 0;
        }
        let mut written = 0;
        if let Some((note, read)) = &mut cursor.note {
            let rest = &note.as_bytes()[*read..];
            let n = rest.len().min(out.len());
            out[..n].copy_from_slice(&rest[..n]);
            *read += n;
            written = n;
            if *read == note.len() {
                cursor.note = None;
            }
        }
        while written < out.len() {
            let Some(entry) = self.entries.get((cursor.line - self.first) as usize) else { break };
            if !lines.wants(entry) {
                cursor.line += 1;
                cursor.offset = 0;
                continue;
            }
            let rest = &entry.text.as_bytes()[cursor.offset.min(entry.text.len())..];
            let n = rest.len().min(out.len() - written);
            out[written..written + n].copy_from_slice(&rest[..n]);
            written += n;
            if n == rest.len() {
                cursor.line += 1;
                cursor.offset = 0;
            } else {
                cursor.offset += n;
            }
        }
        written
    }
}
