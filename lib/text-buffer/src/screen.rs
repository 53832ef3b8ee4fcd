//! The terminal as last drawn, and the bytes that bring it to the next
//! frame: only rows that changed are redrawn (a full screen over a 115200
//! baud serial line takes a sixth of a second), each one by moving to it,
//! erasing it and writing its text. The text is never written past the
//! last column, so no terminal scrolls or wraps; rows are written with
//! `ESC [ row ; 1 H` and `ESC [ K`, which `lib/vt` (fbcon) and any ANSI
//! terminal understand.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::layout::clip;

/// Enter the full-screen mode: the alternate screen where there is one
/// (ignored elsewhere), cleared, cursor home.
pub const ENTER: &[u8] = b"\x1b[?1049h\x1b[H\x1b[2J";
/// Leave it: clear, back to the normal screen, cursor shown.
pub const LEAVE: &[u8] = b"\x1b[H\x1b[2J\x1b[?1049l\x1b[?25h";

/// What the terminal shows, as far as we drew it.
#[derive(Clone, Debug)]
pub struct Screen {
    cols: usize,
    rows: usize,
    /// Each row's text, `None` when unknown (redraw it).
    shown: Vec<Option<String>>,
}

impl Screen {
    /// A `cols` x `rows` terminal whose contents are unknown.
    pub fn new(cols: usize, rows: usize) -> Screen {
        let (cols, rows) = (cols.max(1), rows.max(1));
        Screen { cols, rows, shown: (0..rows).map(|_| None).collect() }
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Forget what is shown: the next frame redraws every row.
    pub fn invalidate(&mut self) {
        self.shown.iter_mut().for_each(|row| *row = None);
    }

    /// The bytes that show `lines` (one per row; missing rows are blank,
    /// extra ones ignored, each clipped to the width) with the cursor at
    /// `cursor` (row, column; clamped to the screen).
    pub fn draw(&mut self, lines: &[String], cursor: (usize, usize)) -> Vec<u8> {
        let mut out = String::from("\x1b[?25l");
        for row in 0..self.rows {
            let text = clip(lines.get(row).map_or("", String::as_str), self.cols);
            if self.shown[row].as_deref() != Some(text.as_str()) {
                out.push_str(&format!("\x1b[{};1H\x1b[K{}", row + 1, text));
                self.shown[row] = Some(text);
            }
        }
        let (row, col) = (cursor.0.min(self.rows - 1), cursor.1.min(self.cols - 1));
        out.push_str(&format!("\x1b[{};{}H\x1b[?25h", row + 1, col + 1));
        out.into_bytes()
    }
}
