//! The line editor of `sh` on a console in raw mode: turns the bytes the
//! terminal sends into editing actions on one line, keeps the history, and
//! says which bytes redraw the line.
//!
//! Why a crate of its own: it is a pure state machine (bytes in, bytes and
//! events out), so it lives here, `no_std` + `alloc`, tested on the host
//! (`cargo test -p line-editor`). It touches only its own state; the shell
//! reads the console and writes what [`Editor::feed`] returns.
//!
//! # Keys
//!
//! | input | action |
//! |---|---|
//! | printable text (UTF-8) | insert at the cursor |
//! | `0x7f`, `0x08` (Backspace, Ctrl-H) | delete before the cursor |
//! | `ESC [ 3 ~` (Delete) | delete under the cursor |
//! | `ESC [ D` / `ESC [ C`, Ctrl-B / Ctrl-F | cursor left / right |
//! | `ESC [ H`, `ESC [ 1 ~`, `ESC O H`, Ctrl-A | start of line |
//! | `ESC [ F`, `ESC [ 4 ~`, `ESC O F`, Ctrl-E | end of line |
//! | `ESC [ A` / `ESC [ B`, Ctrl-P / Ctrl-N | previous / next history entry |
//! | Ctrl-U / Ctrl-K | delete to the start / to the end |
//! | Ctrl-C | cancel the line ([`Event::Cancel`]) |
//! | Ctrl-D | on an empty line [`Event::Eof`], else delete under the cursor |
//! | `\r` or `\n` (Enter) | the line is done ([`Event::Line`]) |
//! | Tab | complete the word before the cursor ([`Event::Complete`]) |
//!
//! Other control bytes and unknown escape sequences are ignored. After
//! `\r`, a `\n` that follows at once is ignored (terminals that send both).
//!
//! # Completion
//!
//! The editor knows no files or commands: Tab gives the caller an
//! [`Event::Complete`] with the word before the cursor ([`Word`]), the
//! caller finds what it can become and hands the candidates to
//! [`Editor::complete`], which inserts what they all share (and a blank
//! after a single finished candidate), or says the caller should list them
//! (a second Tab with nothing to add). After listing them on lines of its
//! own, the caller writes the prompt again and [`Editor::redraw_line`].
//!
//! # Output
//!
//! Only text, `\r`, `\n`, `\b`, `ESC [ K` (erase to the end of the line)
//! and `ESC [ n C` / `ESC [ n D` (cursor right / left by n). Every column
//! is one character: the line must fit the terminal's width (it is not
//! wrapped) and wide characters are not measured.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

#[cfg(test)]
mod tests;

/// The most history entries kept (older ones are dropped).
pub const HISTORY_LIMIT: usize = 100;

/// An editing action decoded from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    KillToStart,
    KillToEnd,
    Interrupt,
    EndOfInput,
    Tab,
}

/// Where the decoder is inside a multi-byte input.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decode {
    Ground,
    /// After `\r`: a `\n` right now is part of the same Enter.
    AfterCr,
    Escape,
    /// After `ESC [`: parameter bytes so far.
    Csi(Vec<u8>),
    /// After `ESC O`.
    Ss3,
    /// Inside a UTF-8 sequence: the bytes so far and how many in all.
    Utf8(Vec<u8>, usize),
}

/// Turns terminal input bytes into [`Key`]s.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: Decode,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder { state: Decode::Ground }
    }
}

impl Decoder {
    /// Takes one byte; returns the key it completes, if any.
    pub fn feed(&mut self, byte: u8) -> Option<Key> {
        let state = core::mem::replace(&mut self.state, Decode::Ground);
        match state {
            Decode::AfterCr if byte == b'\n' => None,
            Decode::Ground | Decode::AfterCr => self.ground(byte),
            Decode::Escape => match byte {
                b'[' => {
                    self.state = Decode::Csi(Vec::new());
                    None
                }
                b'O' => {
                    self.state = Decode::Ss3;
                    None
                }
                // ESC then something else: drop the ESC, read the byte.
                _ => self.ground(byte),
            },
            Decode::Ss3 => match byte {
                b'H' => Some(Key::Home),
                b'F' => Some(Key::End),
                b'A' => Some(Key::Up),
                b'B' => Some(Key::Down),
                b'C' => Some(Key::Right),
                b'D' => Some(Key::Left),
                _ => None,
            },
            Decode::Csi(mut params) => match byte {
                0x30..=0x3f if params.len() < 16 => {
                    params.push(byte);
                    self.state = Decode::Csi(params);
                    None
                }
                // Too many parameters, or intermediate bytes: wait for
                // the final byte and ignore the sequence.
                0x20..=0x3f => {
                    self.state = Decode::Csi(params);
                    None
                }
                0x40..=0x7e => csi_key(&params, byte),
                // Not a CSI byte at all: give up on the sequence.
                _ => self.ground(byte),
            },
            Decode::Utf8(mut bytes, want) => {
                if byte & 0xc0 != 0x80 {
                    // A broken sequence: drop it, read this byte afresh.
                    return self.ground(byte);
                }
                bytes.push(byte);
                if bytes.len() < want {
                    self.state = Decode::Utf8(bytes, want);
                    return None;
                }
                core::str::from_utf8(&bytes).ok().and_then(|s| s.chars().next()).map(Key::Char)
            }
        }
    }

    fn ground(&mut self, byte: u8) -> Option<Key> {
        match byte {
            b'\r' => {
                self.state = Decode::AfterCr;
                Some(Key::Enter)
            }
            b'\n' => Some(Key::Enter),
            0x1b => {
                self.state = Decode::Escape;
                None
            }
            0x7f | 0x08 => Some(Key::Backspace),
            0x01 => Some(Key::Home),
            0x02 => Some(Key::Left),
            0x03 => Some(Key::Interrupt),
            0x04 => Some(Key::EndOfInput),
            0x09 => Some(Key::Tab),
            0x05 => Some(Key::End),
            0x06 => Some(Key::Right),
            0x0b => Some(Key::KillToEnd),
            0x0e => Some(Key::Down),
            0x10 => Some(Key::Up),
            0x15 => Some(Key::KillToStart),
            0x20..=0x7e => Some(Key::Char(char::from(byte))),
            0xc2..=0xdf => self.utf8(byte, 2),
            0xe0..=0xef => self.utf8(byte, 3),
            0xf0..=0xf4 => self.utf8(byte, 4),
            _ => None,
        }
    }

    fn utf8(&mut self, first: u8, len: usize) -> Option<Key> {
        self.state = Decode::Utf8(alloc::vec![first], len);
        None
    }
}

fn csi_key(params: &[u8], last: u8) -> Option<Key> {
    match (params, last) {
        ([], b'A') => Some(Key::Up),
        ([], b'B') => Some(Key::Down),
        ([], b'C') => Some(Key::Right),
        ([], b'D') => Some(Key::Left),
        ([], b'H') | (b"1" | b"7", b'~') => Some(Key::Home),
        ([], b'F') | (b"4" | b"8", b'~') => Some(Key::End),
        (b"3", b'~') => Some(Key::Delete),
        _ => None,
    }
}

/// What a byte did to the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Still editing.
    Editing,
    /// Enter: the finished line (without a newline). The editor is empty
    /// again, ready for the next line.
    Line(String),
    /// Ctrl-C: the line was dropped.
    Cancel,
    /// Ctrl-D on an empty line: no more input.
    Eof,
    /// Tab: the caller should find what the word before the cursor can
    /// become and call [`Editor::complete`].
    Complete(Word),
}

/// The word a Tab completes: from the last blank (or `;`, `|`, `&`, `(`,
/// `<`, `>`) before the cursor up to the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text typed so far.
    pub text: String,
    /// Whether it is in a command's place (first on the line or after
    /// `;`, `|`, `&`, `(`), where commands complete; elsewhere paths do.
    pub command: bool,
}

/// What [`Editor::complete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    /// Text was inserted (or there was nothing to complete: a bell).
    Done,
    /// Several candidates and nothing more they share: the caller should
    /// list them, write the prompt and call [`Editor::redraw_line`].
    List,
}

/// Characters that end a word for completion.
fn breaks_word(c: char) -> bool {
    c == ' ' || c == '\t' || matches!(c, ';' | '|' | '&' | '(' | '<' | '>')
}

/// Characters after which a command comes.
fn starts_command(c: char) -> bool {
    matches!(c, ';' | '|' | '&' | '(')
}

/// The longest text every candidate starts with.
pub fn common_prefix(candidates: &[String]) -> String {
    let Some(first) = candidates.first() else { return String::new() };
    let mut end = first.len();
    for other in &candidates[1..] {
        let mut shared = 0;
        for ((i, a), b) in first[..end].char_indices().zip(other.chars()) {
            if a != b {
                break;
            }
            shared = i + a.len_utf8();
        }
        end = shared;
    }
    String::from(&first[..end])
}
/// One line being edited, its cursor, and the history.
#[derive(Debug, Clone, Default)]
pub struct Editor {
    decoder: Decoder,
    line: Vec<char>,
    /// Cursor position in `line` (0..=len); also the screen column after
    /// the prompt.
    cursor: usize,
    history: Vec<String>,
    /// While browsing the history: which entry is shown.
    browsing: Option<usize>,
    /// The last key was a Tab that added nothing.
    tab_again: bool,
    /// The line being written before browsing began.
    draft: Vec<char>,
}

impl Editor {
    pub fn new() -> Editor {
        Editor::default()
    }

    /// The line as it stands.
    pub fn line(&self) -> String {
        self.line.iter().collect()
    }

    /// The cursor position, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The history, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Adds `line` to the history (not blank lines, not a repeat of the
    /// last entry).
    pub fn remember(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.last().is_some_and(|last| last == line) {
            return;
        }
        if self.history.len() == HISTORY_LIMIT {
            self.history.remove(0);
        }
        self.history.push(String::from(line));
    }

    /// Takes one input byte, appends to `out` what redraws the line, and
    /// says what happened. A finished line is also added to the history.
    pub fn feed(&mut self, byte: u8, out: &mut Vec<u8>) -> Event {
        match self.decoder.feed(byte) {
            Some(key) => self.key(key, out),
            None => Event::Editing,
        }
    }

    /// The word before the cursor, for completion.
    pub fn word(&self) -> Word {
        let start = self.line[..self.cursor].iter().rposition(|&c| breaks_word(c)).map_or(0, |i| i + 1);
        let before = self.line[..start].iter().rev().find(|c| !matches!(c, ' ' | '\t'));
        Word {
            text: self.line[start..self.cursor].iter().collect(),
            command: before.is_none_or(|&c| starts_command(c)),
        }
    }

    /// Completes the word before the cursor from `candidates` (whole
    /// words that start with it; a candidate ending in `/` or `:` is a
    /// directory or a scheme, which takes no blank after it). Appends the
    /// redraw to `out`.
    pub fn complete(&mut self, candidates: &[String], out: &mut Vec<u8>) -> Completed {
        let word = self.word().text;
        let fitting: Vec<String> = candidates.iter().filter(|c| c.starts_with(&word)).cloned().collect();
        let mut add: String = match fitting.as_slice() {
            [] => {
                out.push(b'\x07');
                return Completed::Done;
            }
            [only] => {
                let mut rest = String::from(&only[word.len()..]);
                if !only.ends_with('/') && !only.ends_with(':') {
                    rest.push(' ');
                }
                rest
            }
            _ => String::from(&common_prefix(&fitting)[word.len()..]),
        };
        if add.is_empty() {
            if core::mem::replace(&mut self.tab_again, true) {
                self.tab_again = false;
                return Completed::List;
            }
            out.push(b'\x07');
            return Completed::Done;
        }
        self.tab_again = false;
        for c in add.drain(..) {
            self.key(Key::Char(c), out);
        }
        Completed::Done
    }

    /// Draws the whole line (after the caller wrote the prompt at the start
    /// of a fresh line) and puts the cursor back where it was.
    pub fn redraw_line(&self, out: &mut Vec<u8>) {
        let mut text = [0u8; 4];
        for c in &self.line {
            out.extend_from_slice(c.encode_utf8(&mut text).as_bytes());
        }
        move_cursor(self.line.len(), self.cursor, out);
    }

    /// Applies one key.
    pub fn key(&mut self, key: Key, out: &mut Vec<u8>) -> Event {
        if key != Key::Tab {
            self.tab_again = false;
        }
        match key {
            Key::Tab => return Event::Complete(self.word()),
            // Typing at the end of the line is plain echo.
            Key::Char(c) if self.cursor == self.line.len() => {
                self.line.push(c);
                self.cursor += 1;
                let mut text = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut text).as_bytes());
            }
            Key::Char(c) => {
                self.line.insert(self.cursor, c);
                let from = self.cursor;
                self.redraw(from, from + 1, out);
            }
            Key::Backspace if self.cursor > 0 => {
                self.line.remove(self.cursor - 1);
                let from = self.cursor - 1;
                self.redraw(from, from, out);
            }
            Key::Delete if self.cursor < self.line.len() => {
                self.line.remove(self.cursor);
                self.redraw(self.cursor, self.cursor, out);
            }
            Key::Left if self.cursor > 0 => self.move_to(self.cursor - 1, out),
            Key::Right if self.cursor < self.line.len() => self.move_to(self.cursor + 1, out),
            Key::Home => self.move_to(0, out),
            Key::End => self.move_to(self.line.len(), out),
            Key::KillToStart => {
                self.line.drain(..self.cursor);
                self.redraw(0, 0, out);
            }
            Key::KillToEnd => {
                self.line.truncate(self.cursor);
                self.redraw(self.cursor, self.cursor, out);
            }
            Key::Up => self.browse_back(out),
            Key::Down => self.browse_forward(out),
            Key::Enter => {
                let line = self.take_line();
                out.push(b'\n');
                self.remember(&line);
                return Event::Line(line);
            }
            Key::Interrupt => {
                self.take_line();
                out.extend_from_slice(b"^C\n");
                return Event::Cancel;
            }
            Key::EndOfInput if self.line.is_empty() => {
                out.push(b'\n');
                return Event::Eof;
            }
            Key::EndOfInput => return self.key(Key::Delete, out),
            // Backspace at the start, Delete at the end, and so on.
            Key::Backspace | Key::Delete | Key::Left | Key::Right => {}
        }
        Event::Editing
    }

    fn take_line(&mut self) -> String {
        let line = self.line();
        self.line.clear();
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        line
    }

    /// Redraws the line from position `from` (the screen cursor is at the
    /// old `self.cursor`, which is `>= from` or the redraw starts by moving
    /// there), then leaves the cursor at `cursor`.
    fn redraw(&mut self, from: usize, cursor: usize, out: &mut Vec<u8>) {
        move_cursor(self.cursor, from, out);
        let mut text = [0u8; 4];
        for c in &self.line[from..] {
            out.extend_from_slice(c.encode_utf8(&mut text).as_bytes());
        }
        out.extend_from_slice(b"\x1b[K");
        move_cursor(self.line.len(), cursor, out);
        self.cursor = cursor;
    }

    fn move_to(&mut self, cursor: usize, out: &mut Vec<u8>) {
        move_cursor(self.cursor, cursor, out);
        self.cursor = cursor;
    }

    /// Replaces the whole line with `line`, cursor at its end.
    fn replace(&mut self, line: Vec<char>, out: &mut Vec<u8>) {
        move_cursor(self.cursor, 0, out);
        self.cursor = 0;
        self.line = line;
        let end = self.line.len();
        self.redraw(0, end, out);
    }

    fn browse_back(&mut self, out: &mut Vec<u8>) {
        let index = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.line.clone();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(index) => index - 1,
        };
        self.browsing = Some(index);
        let entry = self.history[index].chars().collect();
        self.replace(entry, out);
    }

    fn browse_forward(&mut self, out: &mut Vec<u8>) {
        let Some(index) = self.browsing else { return };
        let line = if index + 1 < self.history.len() {
            self.browsing = Some(index + 1);
            self.history[index + 1].chars().collect()
        } else {
            self.browsing = None;
            core::mem::take(&mut self.draft)
        };
        self.replace(line, out);
    }
}

/// Moves the screen cursor from column `from` to `to` (relative to the
/// line's start): `\b` for one step left, `ESC [ n D`/`C` otherwise.
fn move_cursor(from: usize, to: usize, out: &mut Vec<u8>) {
    use core::fmt::Write;
    struct Bytes<'a>(&'a mut Vec<u8>);
    impl Write for Bytes<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    if to + 1 == from {
        out.push(b'\x08');
    } else if to < from {
        let _ = write!(Bytes(out), "\x1b[{}D", from - to);
    } else if to > from {
        let _ = write!(Bytes(out), "\x1b[{}C", to - from);
    }
}
