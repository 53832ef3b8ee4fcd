//! The console's state and its scheme: one terminal (a [`Terminal`] for
//! output and a line discipline for input), the foreground process group,
//! and the handles open on it (see the crate header for the protocol).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use line_discipline::{LineDiscipline, Mode};
use rt::abi::SIGINT;
use scheme::sc::{EAGAIN, EINVAL, MODE_CHR};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat};

/// The device side of a console: where output (program output and echo) goes.
pub trait Terminal {
    fn output(&mut self, bytes: &[u8]);
    /// The terminal's size in character cells, `(columns, rows)`, for
    /// `dup(fd, "size")`.
    fn size(&self) -> (usize, usize);
}

/// What a handle is.
enum Handle {
    Terminal,
    /// `dup(fd, "mode")` / `dup(fd, "pgrp")`: how much of the current value
    /// has been read since the last write.
    Mode {
        read: usize,
    },
    Pgrp {
        read: usize,
    },
    /// `dup(fd, "size")`: how much of `COLSxROWS\n` has been read.
    Size {
        read: usize,
    },
}

/// A console: the terminal scheme over `T`.
pub struct Console<T: Terminal> {
    terminal: T,
    discipline: LineDiscipline,
    /// The foreground process group (0: none).
    foreground: usize,
    handles: Handles<Handle>,
    /// Input arrived that readers may be waiting for (for `drain_events`).
    input_arrived: bool,
    /// What was sent to the device since the last newline (the prompt and
    /// the line being typed, with the editor's own redraws), so a log line
    /// can be shown above it and the line put back ([`Console::notice`]).
    tail: Vec<u8>,
    /// The tail outgrew [`TAIL_MAX`] and was not kept.
    tail_lost: bool,
}

/// The most of the current line kept for redrawing it.
const TAIL_MAX: usize = 4096;

impl<T: Terminal> Console<T> {
    pub fn new(terminal: T) -> Self {
        Console {
            terminal,
            discipline: LineDiscipline::new(),
            foreground: 0,
            handles: Handles::new(),
            input_arrived: false,
            tail: Vec::new(),
            tail_lost: false,
        }
    }

    /// Sends `bytes` to the device and keeps track of the current line.
    fn emit(&mut self, bytes: &[u8]) {
        self.terminal.output(bytes);
        match bytes.iter().rposition(|&b| b == b'\n') {
            Some(end) => {
                self.tail.clear();
                self.tail_lost = false;
                self.keep_tail(&bytes[end + 1..]);
            }
            None => self.keep_tail(bytes),
        }
    }

    fn keep_tail(&mut self, bytes: &[u8]) {
        if self.tail_lost || self.tail.len() + bytes.len() > TAIL_MAX {
            self.tail.clear();
            self.tail_lost = true;
        } else {
            self.tail.extend_from_slice(bytes);
        }
    }

    /// Log lines to show (from `log:console`): they go above the line
    /// being typed, which is erased first and then put back as it was
    /// (prompt, text and cursor), so a message never lands in the middle
    /// of what the user types. Each `\n` is sent as `\r\n`.
    pub fn notice(&mut self, lines: &[u8]) {
        let line = core::mem::take(&mut self.tail);
        if core::mem::take(&mut self.tail_lost) {
            // Too long to put back: leave it and start below it.
            self.emit(b"\r\n");
        } else if !line.is_empty() {
            self.emit(b"\r\x1b[K");
        }
        self.output(lines);
        if !lines.ends_with(b"\n") {
            self.emit(b"\r\n");
        }
        self.emit(&line);
    }

    /// Bytes typed on the device (keyboard / UART): runs the line discipline.
    pub fn input(&mut self, bytes: &[u8]) {
        let effects = self.discipline.input(bytes);
        if !effects.echo.is_empty() {
            self.emit(&effects.echo);
        }
        if effects.interrupt
            && self.foreground != 0
            && let Err(err) = rt::process::kill_group(self.foreground, SIGINT)
        {
            log::warn!("Ctrl-C: cannot signal process group {}: {err}", self.foreground);
        }
        let dropped = self.discipline.take_dropped();
        if dropped > 0 {
            log::warn!("{dropped} typed bytes dropped (line or input queue full)");
        }
        self.input_arrived |= self.discipline.readable();
    }

    pub fn terminal(&mut self) -> &mut T {
        &mut self.terminal
    }

    /// The mode typed input is read in.
    pub fn mode(&self) -> Mode {
        self.discipline.mode()
    }

    /// The foreground process group (0: none).
    pub fn foreground(&self) -> usize {
        self.foreground
    }

    /// Program output: to the device with each `\n` sent as `\r\n`, in
    /// one piece (the device may share its line with other writers, as
    /// COM1 does with the kernel: a line and its end stay together).
    fn output(&mut self, bytes: &[u8]) {
        if !bytes.contains(&b'\n') {
            self.emit(bytes);
            return;
        }
        let mut shown = Vec::with_capacity(bytes.len() + bytes.len() / 16 + 2);
        for &byte in bytes {
            if byte == b'\n' {
                shown.push(b'\r');
            }
            shown.push(byte);
        }
        self.emit(&shown);
    }

    fn handle(&mut self, id: usize) -> Result<&mut Handle> {
        self.handles.get_mut(id)
    }
}

/// Copy what is left of `text` after `read` bytes into `buf`.
fn read_text(text: &str, read: &mut usize, buf: &mut [u8]) -> usize {
    let rest = text.as_bytes().get(*read..).unwrap_or_default();
    let n = rest.len().min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    *read += n;
    n
}

/// A decimal pgid, surrounding whitespace allowed.
fn parse_pgid(bytes: &[u8]) -> Option<usize> {
    let digits = bytes.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(digits).ok()?.parse().ok().filter(|&pgid: &usize| (pgid as isize) >= 0)
}

impl<T: Terminal> Scheme for Console<T> {
    fn open(&mut self, _path: &str, _flags: usize, _caller: &Caller) -> Result<Opened> {
        Ok(Opened::Handle(self.handles.insert(Handle::Terminal)))
    }

    fn dup(&mut self, handle: usize, name: &[u8], _caller: &Caller) -> Result<Opened> {
        self.handle(handle)?;
        let new = match name {
            b"mode" => Handle::Mode { read: 0 },
            b"pgrp" => Handle::Pgrp { read: 0 },
            b"size" => Handle::Size { read: 0 },
            _ => return Err(Error::new(EINVAL)),
        };
        Ok(Opened::Handle(self.handles.insert(new)))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let mode = self.discipline.mode();
        let foreground = self.foreground;
        let (cols, rows) = self.terminal.size();
        match self.handle(handle)? {
            Handle::Terminal => self.discipline.read(buf).ok_or(Error::new(EAGAIN)),
            Handle::Mode { read } => Ok(read_text(&format!("{}\n", mode.name()), read, buf)),
            Handle::Pgrp { read } => Ok(read_text(&format!("{foreground}\n"), read, buf)),
            Handle::Size { read } => Ok(read_text(&format!("{cols}x{rows}\n"), read, buf)),
        }
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        match self.handle(handle)? {
            Handle::Terminal => self.output(buf),
            Handle::Mode { read } => {
                let mode = Mode::parse(buf).ok_or(Error::new(EINVAL))?;
                *read = 0;
                self.discipline.set_mode(mode);
                // Switching to raw can make a half-typed line readable.
                self.input_arrived |= self.discipline.readable();
            }
            Handle::Pgrp { read } => {
                let pgid = parse_pgid(buf).ok_or(Error::new(EINVAL))?;
                *read = 0;
                self.foreground = pgid;
            }
            Handle::Size { .. } => return Err(Error::new(EINVAL)),
        }
        Ok(buf.len())
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        self.handle(handle)?;
        stat.st_mode = MODE_CHR | 0o666;
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        self.handle(handle)?;
        Ok(String::new())
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        let readable = self.discipline.readable();
        let ready = match self.handle(handle)? {
            Handle::Terminal if !readable => EventFlags::EVENT_WRITE,
            _ => EventFlags::EVENT_READ | EventFlags::EVENT_WRITE,
        };
        Ok(ready & interest)
    }

    fn close(&mut self, handle: usize) {
        self.handles.remove(handle);
        if !self.handles.iter().any(|(_, h)| matches!(h, Handle::Terminal)) && !self.tail.is_empty() {
            // Nobody has the terminal open any more: the line being typed
            // is a dead program's (a shell's prompt at shutdown), not one
            // to draw again under each log line. Leave it behind.
            self.emit(b"\r\n");
        }
    }

    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        if core::mem::take(&mut self.input_arrived) && self.discipline.readable() {
            for (id, handle) in self.handles.iter() {
                if matches!(handle, Handle::Terminal) {
                    events.push((id, EventFlags::EVENT_READ));
                }
            }
        }
    }
}
