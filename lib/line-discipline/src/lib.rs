//! A terminal's line discipline: what happens to the bytes typed on a
//! console device before a program reads them, and what is echoed back.
//!
//! Why a crate of its own: it is a pure state machine (bytes in; readable
//! bytes, echo and "interrupt the foreground group" out) shared by every
//! console (serial, framebuffer), so it lives here, `no_std` + `alloc`,
//! and `cargo test -p line-discipline` checks it on the host. It touches
//! nothing but its own buffers; the `console` crate does the device output
//! and the signalling.
//!
//! # Cooked mode (the default)
//!
//! Typed bytes are collected into a line being edited and echoed:
//!
//! | typed | effect | echo |
//! |---|---|---|
//! | printable, tab, UTF-8 | appended to the line (at most [`MAX_LINE`] bytes; more are dropped) | the byte (BEL for a dropped one) |
//! | `\r` or `\n` | the line plus `\n` becomes readable (`\r\n` counts once) | `\r\n` |
//! | Backspace (0x7f or 0x08) | erases the last character (a whole UTF-8 sequence); nothing at the line start | `\b \b` |
//! | Ctrl-U (0x15) | erases the line | `\b \b` per character |
//! | Ctrl-C (0x03) | discards the line; [`Input::interrupt`] is set | `^C\r\n` |
//! | Ctrl-D (0x04) | on an empty line: an end-of-file mark (a read returns 0); otherwise the line so far becomes readable without a `\n` | nothing |
//! | `ESC [ ...` / `ESC O x` | the escape sequence (arrow keys) is dropped | nothing |
//! | other control bytes | dropped | nothing |
//!
//! A read returns at most one line (or the end-of-file mark, as 0); a
//! buffer shorter than the line gets its start, the next read the rest.
//!
//! # Raw mode
//!
//! Every byte is readable as typed, no echo, no signals; a read returns as
//! many bytes as are waiting (so `ESC [ A` arrives as three bytes).
//! Switching to raw makes a half-edited line readable as it is and drops
//! end-of-file marks; switching back to cooked leaves unread raw bytes
//! readable as one piece.
//!
//! At most [`MAX_PENDING`] bytes wait for readers; input beyond that is
//! dropped and counted ([`LineDiscipline::take_dropped`]).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// The longest line cooked mode edits, in bytes (without the `\n`).
pub const MAX_LINE: usize = 4095;
/// The most bytes waiting for readers.
pub const MAX_PENDING: usize = 64 * 1024;

const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7f;
const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const CTRL_U: u8 = 0x15;
const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const ERASE: &[u8] = b"\x08 \x08";

/// How typed bytes are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Cooked,
    Raw,
}

impl Mode {
    /// The mode's name (`cooked` / `raw`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Cooked => "cooked",
            Mode::Raw => "raw",
        }
    }

    /// The mode named `name` (surrounding ASCII whitespace ignored).
    pub fn parse(name: &[u8]) -> Option<Mode> {
        match name.trim_ascii() {
            b"cooked" => Some(Mode::Cooked),
            b"raw" => Some(Mode::Raw),
            _ => None,
        }
    }
}

/// What one batch of input did besides queueing bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Input {
    /// Bytes to send to the device (echo), in order.
    pub echo: Vec<u8>,
    /// Ctrl-C was typed (cooked mode): interrupt the foreground group.
    pub interrupt: bool,
}

/// A piece of input ready for readers.
#[derive(Debug)]
enum Piece {
    /// Bytes (a line, or raw input); `read` of them have been returned.
    Bytes { bytes: Vec<u8>, read: usize },
    /// Ctrl-D on an empty line.
    EndOfFile,
}

/// Where cooked mode is inside an escape sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Start,
    /// After `ESC [`: parameters until a final byte (0x40-0x7e).
    Csi,
    /// After `ESC O`: one more byte.
    Ss3,
}

/// One terminal's line discipline.
#[derive(Debug)]
pub struct LineDiscipline {
    mode: Mode,
    /// The line being edited (cooked mode).
    line: Vec<u8>,
    ready: VecDeque<Piece>,
    /// Bytes in `ready` not yet read (an end-of-file mark counts as one).
    pending: usize,
    /// The previous byte was `\r` (so a `\n` right after it is the same Enter).
    after_cr: bool,
    escape: Escape,
    dropped: usize,
}

impl Default for LineDiscipline {
    fn default() -> Self {
        Self::new()
    }
}

impl LineDiscipline {
    /// An empty discipline in cooked mode.
    pub fn new() -> LineDiscipline {
        LineDiscipline {
            mode: Mode::Cooked,
            line: Vec::new(),
            ready: VecDeque::new(),
            pending: 0,
            after_cr: false,
            escape: Escape::None,
            dropped: 0,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Switch modes (see the crate header for what happens to waiting input).
    pub fn set_mode(&mut self, mode: Mode) {
        if mode == self.mode {
            return;
        }
        if mode == Mode::Raw {
            let line = core::mem::take(&mut self.line);
            let marks = self.ready.len();
            self.ready.retain(|piece| matches!(piece, Piece::Bytes { .. }));
            self.pending -= marks - self.ready.len();
            self.push_bytes(line);
        }
        self.escape = Escape::None;
        self.after_cr = false;
        self.mode = mode;
    }

    /// The bytes of the line being edited (cooked mode).
    pub fn line(&self) -> &[u8] {
        &self.line
    }

    /// Whether a read would return something now (data or end of file).
    pub fn readable(&self) -> bool {
        !self.ready.is_empty()
    }

    /// How many input bytes were dropped since the last call (full buffers).
    pub fn take_dropped(&mut self) -> usize {
        core::mem::take(&mut self.dropped)
    }

    /// Feed bytes typed on the device.
    pub fn input(&mut self, bytes: &[u8]) -> Input {
        let mut out = Input::default();
        match self.mode {
            Mode::Raw => self.push_bytes(bytes.to_vec()),
            Mode::Cooked => {
                for &byte in bytes {
                    self.cooked(byte, &mut out);
                }
            }
        }
        out
    }

    /// Read into `buf`: `None` if nothing is ready (the reader waits),
    /// `Some(0)` at an end-of-file mark (or for an empty `buf`).
    pub fn read(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.ready.is_empty() {
            return None;
        }
        let mut n = 0;
        while n < buf.len() {
            let Some(piece) = self.ready.front_mut() else { break };
            match piece {
                Piece::EndOfFile => {
                    if n == 0 {
                        self.ready.pop_front();
                        self.pending -= 1;
                    }
                    break;
                }
                Piece::Bytes { bytes, read } => {
                    let take = (bytes.len() - *read).min(buf.len() - n);
                    buf[n..n + take].copy_from_slice(&bytes[*read..*read + take]);
                    *read += take;
                    n += take;
                    self.pending -= take;
                    if *read == bytes.len() {
                        self.ready.pop_front();
                    }
                    // Cooked reads end with the line.
                    if self.mode == Mode::Cooked {
                        break;
                    }
                }
            }
        }
        Some(n)
    }

    /// Queue `bytes` for readers (dropping what does not fit).
    fn push_bytes(&mut self, mut bytes: Vec<u8>) {
        let room = MAX_PENDING - self.pending;
        if bytes.len() > room {
            self.dropped += bytes.len() - room;
            bytes.truncate(room);
        }
        if bytes.is_empty() {
            return;
        }
        self.pending += bytes.len();
        // Raw input joins unread raw input, so one read returns it all.
        if self.mode == Mode::Raw
            && let Some(Piece::Bytes { bytes: last, .. }) = self.ready.back_mut()
        {
            last.extend_from_slice(&bytes);
            return;
        }
        self.ready.push_back(Piece::Bytes { bytes, read: 0 });
    }

    fn cooked(&mut self, byte: u8, out: &mut Input) {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match self.escape {
            Escape::None => {}
            Escape::Start => {
                self.escape = match byte {
                    b'[' => Escape::Csi,
                    b'O' => Escape::Ss3,
                    _ => Escape::None,
                };
                return;
            }
            Escape::Csi => {
                if (0x40..=0x7e).contains(&byte) {
                    self.escape = Escape::None;
                }
                return;
            }
            Escape::Ss3 => {
                self.escape = Escape::None;
                return;
            }
        }
        match byte {
            b'\n' if after_cr => {}
            b'\r' | b'\n' => {
                let mut line = core::mem::take(&mut self.line);
                line.push(b'\n');
                self.push_bytes(line);
                out.echo.extend_from_slice(b"\r\n");
            }
            // (At the line start there is nothing to erase: the guard
            // fails and the byte falls through to the dropped ones.)
            DELETE | BACKSPACE if self.erase_char() => out.echo.extend_from_slice(ERASE),
            CTRL_U => {
                while self.erase_char() {
                    out.echo.extend_from_slice(ERASE);
                }
            }
            CTRL_C => {
                self.line.clear();
                out.echo.extend_from_slice(b"^C\r\n");
                out.interrupt = true;
            }
            CTRL_D => {
                if self.line.is_empty() {
                    if self.pending < MAX_PENDING {
                        self.ready.push_back(Piece::EndOfFile);
                        self.pending += 1;
                    } else {
                        self.dropped += 1;
                    }
                } else {
                    let line = core::mem::take(&mut self.line);
                    self.push_bytes(line);
                }
            }
            ESC => self.escape = Escape::Start,
            b'\t' | 0x20..=0x7e | 0x80..=0xff => {
                if self.line.len() < MAX_LINE {
                    self.line.push(byte);
                    out.echo.push(byte);
                } else {
                    self.dropped += 1;
                    out.echo.push(BEL);
                }
            }
            _ => {}
        }
    }

    /// Remove the last character of the line (all bytes of a UTF-8
    /// sequence); whether there was one.
    fn erase_char(&mut self) -> bool {
        while let Some(byte) = self.line.pop() {
            // Continuation bytes (10xxxxxx) belong to the character before.
            if byte & 0xc0 != 0x80 {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests;
