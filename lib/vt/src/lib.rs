//! A terminal's text grid, for the framebuffer console (`drivers/fbcon`):
//! feed it the bytes programs write, and it keeps the characters on screen,
//! the cursor, and which cells changed, so a renderer redraws only those.
//!
//! What it understands:
//!
//! - printable text (UTF-8; malformed bytes show as U+FFFD), wrapping at
//!   the right edge (the wrap happens when the next character arrives, as on
//!   a VT100, so a full line followed by `\r\n` leaves no blank line);
//! - `\r` (column 0), `\n` (next line *and* column 0: no tty layer below us
//!   adds the carriage return), `\b` (one column left, nothing erased), `\t`
//!   (next multiple of 8), scrolling up at the bottom;
//! - `ESC [` sequences: `n A`/`B`/`C`/`D` cursor up/down/right/left (n
//!   defaults to 1, stops at the edges), `r;c H` (and `f`) cursor position
//!   (1-based, default 1;1, clamped), `K` erase in line (0: to the end, 1:
//!   to the cursor, 2: all), `J` erase in display (0: to the end, 1: to the
//!   cursor, 2 and 3: all), `?25l`/`?25h` hide/show the cursor;
//! - everything else (SGR `m`, other `ESC [` sequences, other `ESC x`
//!   pairs and `ESC ( B`-style designations, `ESC ] ... BEL` titles, C0
//!   controls such as BEL) is consumed and ignored; CAN and SUB abort a
//!   sequence, ESC starts a new one. No input can move the cursor off the
//!   grid or panic.
//!
//! `no_std` + `alloc` (the grid); touches only its own state.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

/// Tab stops every this many columns.
const TAB: usize = 8;
/// At most this many numeric parameters in one sequence; more are ignored.
const MAX_PARAMS: usize = 8;
/// A parameter larger than this is read as this (no overflow).
const MAX_PARAM: u16 = 9999;

/// Where the parser is in the byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ground,
    /// After ESC.
    Escape,
    /// After ESC and intermediate bytes (`ESC ( B` picks a character set).
    EscapeIntermediate,
    /// After `ESC [`.
    Csi,
    /// Inside an operating system command (`ESC ] ... BEL`, a window
    /// title): skipped up to BEL or the next ESC.
    Osc,
}

/// The parameters of the `ESC [` sequence being read.
#[derive(Clone, Copy, Debug, Default)]
struct Params {
    values: [u16; MAX_PARAMS],
    /// Parameters started so far (a `;` starts the next).
    count: usize,
    /// A `?` (or other private marker) came first.
    private: bool,
}

impl Params {
    /// Parameter `i`, or `default` when absent or 0.
    fn get(&self, i: usize, default: u16) -> u16 {
        match self.values.get(i) {
            Some(&v) if i < self.count && v != 0 => v,
            _ => default,
        }
    }
}

/// A text grid with a cursor.
#[derive(Clone, Debug)]
pub struct Terminal {
    cols: usize,
    rows: usize,
    cells: Vec<char>,
    dirty: Vec<bool>,
    row: usize,
    col: usize,
    /// The last column was written: the next printable character wraps.
    wrap_pending: bool,
    cursor_visible: bool,
    state: State,
    params: Params,
    /// The UTF-8 sequence being read: the code point so far and how many
    /// continuation bytes are still due.
    utf8: (u32, u8),
}

impl Terminal {
    /// A blank grid of `cols` x `rows` (at least 1 x 1), cursor at the top
    /// left, every cell dirty (nothing has been drawn yet).
    pub fn new(cols: usize, rows: usize) -> Terminal {
        let (cols, rows) = (cols.max(1), rows.max(1));
        Terminal {
            cols,
            rows,
            cells: vec![' '; cols * rows],
            dirty: vec![true; cols * rows],
            row: 0,
            col: 0,
            wrap_pending: false,
            cursor_visible: true,
            state: State::Ground,
            params: Params::default(),
            utf8: (0, 0),
        }
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The cursor as (row, column), 0-based.
    pub fn cursor(&self) -> (usize, usize) {
        (self.row, self.col)
    }

    pub fn cursor_visible(&self) -> bool {
        self.cursor_visible
    }

    /// The character at (row, column); a space outside the grid.
    pub fn cell(&self, row: usize, col: usize) -> char {
        if row < self.rows && col < self.cols { self.cells[row * self.cols + col] } else { ' ' }
    }

    /// Row `row` as a string without trailing spaces (for tests and logs).
    pub fn line(&self, row: usize) -> alloc::string::String {
        let mut text: alloc::string::String = (0..self.cols).map(|c| self.cell(row, c)).collect();
        text.truncate(text.trim_end_matches(' ').len());
        text
    }

    /// Calls `draw(row, column, character)` for every cell that changed
    /// since the last call, and forgets they changed.
    pub fn take_dirty(&mut self, mut draw: impl FnMut(usize, usize, char)) {
        for (i, dirty) in self.dirty.iter_mut().enumerate() {
            if core::mem::take(dirty) {
                draw(i / self.cols, i % self.cols, self.cells[i]);
            }
        }
    }

    /// Whether any cell changed since the last `take_dirty`.
    pub fn is_dirty(&self) -> bool {
        self.dirty.contains(&true)
    }

    /// Feed bytes a program wrote.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.byte(byte);
        }
    }

    fn byte(&mut self, byte: u8) {
        // CAN and SUB abort a sequence; ESC restarts one.
        match byte {
            0x18 | 0x1a => {
                self.state = State::Ground;
                return;
            }
            0x1b => {
                self.utf8 = (0, 0);
                self.state = State::Escape;
                return;
            }
            _ => {}
        }
        match self.state {
            State::Ground => self.ground(byte),
            State::Escape => {
                self.state = match byte {
                    b'[' => {
                        self.params = Params::default();
                        State::Csi
                    }
                    b']' => State::Osc,
                    0x20..=0x2f => State::EscapeIntermediate,
                    // Any other ESC x pair: nothing we act on.
                    _ => State::Ground,
                };
            }
            State::EscapeIntermediate => {
                if !(0x20..=0x2f).contains(&byte) {
                    self.state = State::Ground;
                }
            }
            State::Osc => {
                if byte == 0x07 {
                    self.state = State::Ground;
                }
            }
            State::Csi => self.csi_byte(byte),
        }
    }

    fn ground(&mut self, byte: u8) {
        if byte < 0x80 {
            if self.utf8.1 != 0 {
                self.utf8 = (0, 0);
                self.print('\u{fffd}');
            }
            match byte {
                b'\r' => self.carriage_return(),
                b'\n' | 0x0b | 0x0c => {
                    self.carriage_return();
                    self.line_feed();
                }
                0x08 => {
                    self.wrap_pending = false;
                    self.col = self.col.saturating_sub(1);
                }
                b'\t' => {
                    self.wrap_pending = false;
                    self.col = ((self.col / TAB + 1) * TAB).min(self.cols - 1);
                }
                0x20..=0x7e => self.print(byte as char),
                // Other C0 controls (BEL, NUL, ...) and DEL: nothing.
                _ => {}
            }
            return;
        }
        self.utf8_byte(byte);
    }

    fn utf8_byte(&mut self, byte: u8) {
        let (code, due) = self.utf8;
        if byte & 0xc0 == 0x80 {
            if due == 0 {
                self.print('\u{fffd}');
                return;
            }
            let code = (code << 6) | u32::from(byte & 0x3f);
            if due == 1 {
                self.utf8 = (0, 0);
                self.print(char::from_u32(code).unwrap_or('\u{fffd}'));
            } else {
                self.utf8 = (code, due - 1);
            }
            return;
        }
        if due != 0 {
            self.print('\u{fffd}');
        }
        self.utf8 = match byte {
            0xc2..=0xdf => (u32::from(byte & 0x1f), 1),
            0xe0..=0xef => (u32::from(byte & 0x0f), 2),
            0xf0..=0xf4 => (u32::from(byte & 0x07), 3),
            _ => {
                self.print('\u{fffd}');
                (0, 0)
            }
        };
    }

    fn csi_byte(&mut self, byte: u8) {
        let p = &mut self.params;
        match byte {
            b'0'..=b'9' => {
                if p.count == 0 {
                    p.count = 1;
                }
                if let Some(v) = p.values.get_mut(p.count - 1) {
                    let value = u32::from(*v) * 10 + u32::from(byte - b'0');
                    *v = value.min(u32::from(MAX_PARAM)) as u16;
                }
            }
            b';' => {
                // An empty first parameter still counts as one.
                p.count = p.count.max(1).saturating_add(1);
            }
            b'?' | b'<' | b'=' | b'>' => p.private = true,
            // Intermediate bytes: part of sequences we ignore anyway.
            0x20..=0x2f => {}
            0x40..=0x7e => {
                self.state = State::Ground;
                let params = self.params;
                self.csi(byte, &params);
            }
            // Control characters inside a sequence act as usual.
            _ => self.ground(byte),
        }
    }

    fn csi(&mut self, command: u8, p: &Params) {
        if p.private {
            if p.get(0, 0) == 25 {
                match command {
                    b'h' => self.cursor_visible = true,
                    b'l' => self.cursor_visible = false,
                    _ => {}
                }
            }
            return;
        }
        let n = usize::from(p.get(0, 1));
        match command {
            b'A' => self.move_to(self.row.saturating_sub(n), self.col),
            b'B' => self.move_to(self.row.saturating_add(n), self.col),
            b'C' => self.move_to(self.row, self.col.saturating_add(n)),
            b'D' => self.move_to(self.row, self.col.saturating_sub(n)),
            b'H' | b'f' => self.move_to(usize::from(p.get(0, 1)) - 1, usize::from(p.get(1, 1)) - 1),
            b'K' => {
                let start = self.row * self.cols;
                let at = start + self.col;
                match p.get(0, 0) {
                    0 => self.erase(at, start + self.cols),
                    1 => self.erase(start, at + 1),
                    2 => self.erase(start, start + self.cols),
                    _ => {}
                }
            }
            b'J' => {
                let at = self.row * self.cols + self.col;
                match p.get(0, 0) {
                    0 => self.erase(at, self.cells.len()),
                    1 => self.erase(0, at + 1),
                    2 | 3 => self.erase(0, self.cells.len()),
                    _ => {}
                }
            }
            // SGR (colours, bold...) and every other command: ignored.
            _ => {}
        }
    }

    /// Moves the cursor, clamped to the grid.
    fn move_to(&mut self, row: usize, col: usize) {
        self.wrap_pending = false;
        self.row = row.min(self.rows - 1);
        self.col = col.min(self.cols - 1);
    }

    /// Blanks cells `[from, to)` of the grid (indices into `cells`).
    fn erase(&mut self, from: usize, to: usize) {
        self.wrap_pending = false;
        let to = to.min(self.cells.len());
        for i in from.min(to)..to {
            self.set(i, ' ');
        }
    }

    fn set(&mut self, i: usize, c: char) {
        if self.cells[i] != c {
            self.cells[i] = c;
            self.dirty[i] = true;
        }
    }

    fn print(&mut self, c: char) {
        if self.wrap_pending {
            self.carriage_return();
            self.line_feed();
        }
        let i = self.row * self.cols + self.col;
        self.set(i, c);
        if self.col + 1 == self.cols {
            self.wrap_pending = true;
        } else {
            self.col += 1;
        }
    }

    fn carriage_return(&mut self) {
        self.wrap_pending = false;
        self.col = 0;
    }

    fn line_feed(&mut self) {
        self.wrap_pending = false;
        if self.row + 1 < self.rows {
            self.row += 1;
        } else {
            self.scroll_up();
        }
    }

    /// Every line moves up one; the bottom line is blank. Only cells whose
    /// character changed become dirty, so scrolling mostly-blank text costs
    /// the renderer little.
    fn scroll_up(&mut self) {
        let cols = self.cols;
        for i in 0..self.cells.len() {
            let below = if i + cols < self.cells.len() { self.cells[i + cols] } else { ' ' };
            self.set(i, below);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::string::String;

    fn term(cols: usize, rows: usize, input: &str) -> Terminal {
        let mut t = Terminal::new(cols, rows);
        t.feed(input.as_bytes());
        t
    }

    fn screen(t: &Terminal) -> Vec<String> {
        (0..t.rows()).map(|r| t.line(r)).collect()
    }

    #[test]
    fn text_wraps_at_the_edge_only_when_more_comes() {
        let t = term(4, 3, "abcd");
        assert_eq!(screen(&t), ["abcd", "", ""]);
        assert_eq!(t.cursor(), (0, 3));
        let t = term(4, 3, "abcd\r\nx");
        assert_eq!(screen(&t), ["abcd", "x", ""], "a full line then CR LF leaves no blank line");
        let t = term(4, 3, "abcdef");
        assert_eq!(screen(&t), ["abcd", "ef", ""]);
        assert_eq!(t.cursor(), (1, 2));
    }

    #[test]
    fn cr_lf_backspace_tab() {
        let t = term(20, 3, "hello\rJ\nab\x08\x08X\tY");
        assert_eq!(screen(&t), ["Jello", "Xb      Y", ""]);
        assert_eq!(t.cursor(), (1, 9));
        let t = term(10, 2, "\x08\x08a\t\t\tb");
        assert_eq!(screen(&t), ["a        b", ""], "tab stops at the last column");
    }

    #[test]
    fn scrolling_keeps_the_last_lines() {
        let t = term(5, 3, "1\n2\n3\n4\n5");
        assert_eq!(screen(&t), ["3", "4", "5"]);
        assert_eq!(t.cursor(), (2, 1));
    }

    #[test]
    fn cursor_movement_and_position_are_clamped() {
        let mut t = term(10, 5, "\x1b[3;4H");
        assert_eq!(t.cursor(), (2, 3));
        t.feed(b"\x1b[A\x1b[2C");
        assert_eq!(t.cursor(), (1, 5));
        t.feed(b"\x1b[99B\x1b[99D");
        assert_eq!(t.cursor(), (4, 0));
        t.feed(b"\x1b[H");
        assert_eq!(t.cursor(), (0, 0));
        t.feed(b"\x1b[0;0H\x1b[999;999f");
        assert_eq!(t.cursor(), (4, 9));
        t.feed(b"\x1b[5A\x1b[D\x1b[;3H");
        assert_eq!(t.cursor(), (0, 2));
    }

    #[test]
    fn erase_in_line_and_display() {
        let mut t = term(6, 3, "abcdef\r\nghijkl\r\nmnopqr\x1b[2;3H");
        t.feed(b"\x1b[K");
        assert_eq!(screen(&t), ["abcdef", "gh", "mnopqr"]);
        t.feed(b"\x1b[1;3H\x1b[1K");
        assert_eq!(screen(&t), ["   def", "gh", "mnopqr"]);
        t.feed(b"\x1b[3;1H\x1b[2K");
        assert_eq!(screen(&t), ["   def", "gh", ""]);
        let mut t = term(4, 3, "abcdefghijkl\x1b[2;2H\x1b[J");
        assert_eq!(screen(&t), ["abcd", "e", ""]);
        t.feed(b"\x1b[1J");
        assert_eq!(screen(&t), ["", "", ""]);
        let mut t = term(4, 2, "abcdefgh");
        t.feed(b"\x1b[2J");
        assert_eq!(screen(&t), ["", ""]);
        assert_eq!(t.cursor(), (1, 3), "2J does not move the cursor");
    }

    #[test]
    fn a_line_editor_redraw() {
        // What a line editor sends after a backspace in the middle:
        // cursor left, rest of the line, erase to the end, cursor back.
        let mut t = term(20, 2, "$ echo hxi");
        t.feed(b"\x1b[2D\x1b[Ki\x1b[1D");
        assert_eq!(t.line(0), "$ echo hi");
        assert_eq!(t.cursor(), (0, 8));
    }

    #[test]
    fn sgr_and_unknown_sequences_are_ignored() {
        let t = term(
            20,
            2,
            "\x1b[1;31mred\x1b[0m \x1b[?1049h\x1b(B\x1b]0;title\x07x\x1b[5n\x1b[12;34;56;78;90;12;34;56;78;90mok",
        );
        assert_eq!(t.line(0), "red xok");
        let t = term(10, 2, "\x1b[?25l");
        assert!(!t.cursor_visible());
        let t = term(10, 2, "\x1b[99999999999999999A\x1b[3\x18x");
        assert_eq!((t.line(0).as_str(), t.cursor()), ("x", (0, 1)), "huge parameters and CAN");
        let t = term(10, 2, "a\x07\x00\x7fb");
        assert_eq!(t.line(0), "ab");
    }

    #[test]
    fn utf8_and_malformed_bytes() {
        let t = term(10, 1, "é€😀");
        assert_eq!(t.line(0), "é€😀");
        let t = term(10, 1, "a\u{0}\u{0}");
        assert_eq!(t.line(0), "a");
        let mut t = Terminal::new(10, 1);
        t.feed(&[b'a', 0xff, 0x80, 0xc3, b'b', 0xe2, 0x82]);
        t.feed(b"\x1b[m");
        assert_eq!(t.line(0), "a\u{fffd}\u{fffd}\u{fffd}b");
    }

    #[test]
    fn dirty_cells_are_what_changed() {
        let mut t = Terminal::new(4, 2);
        let mut n = 0;
        t.take_dirty(|_, _, _| n += 1);
        assert_eq!(n, 8, "everything starts dirty");
        assert!(!t.is_dirty());
        t.feed(b"ab\r\n");
        let mut seen = Vec::new();
        t.take_dirty(|r, c, ch| seen.push((r, c, ch)));
        assert_eq!(seen, [(0, 0, 'a'), (0, 1, 'b')]);
        t.feed(b"\x1b[1;1Ha");
        assert!(!t.is_dirty(), "rewriting the same character changes nothing");
        // Scrolling: the cells whose character changed, nothing else.
        t.feed(b"\x1b[2;1Hcb\n");
        seen.clear();
        t.take_dirty(|r, c, ch| seen.push((r, c, ch)));
        assert_eq!(seen, [(0, 0, 'c'), (1, 0, ' '), (1, 1, ' ')]);
        assert_eq!(screen(&t), ["cb", ""]);
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_escape_the_grid() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for size in [(1, 1), (3, 2), (80, 25)] {
            let mut t = Terminal::new(size.0, size.1);
            for _ in 0..20_000 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Bias towards the interesting bytes.
                let pick = [0x1b, b'[', b';', b'0' + (seed % 10) as u8, b'A', b'H', b'J', b'K', b'\n', b'\x08'];
                let byte = if seed & 1 == 0 { pick[(seed >> 8) as usize % pick.len()] } else { (seed >> 16) as u8 };
                t.feed(&[byte]);
                let (r, c) = t.cursor();
                assert!(r < t.rows() && c < t.cols());
            }
            t.take_dirty(|r, c, _| assert!(r < size.1 && c < size.0));
        }
    }
}
