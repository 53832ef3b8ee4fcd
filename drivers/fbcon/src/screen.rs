//! The screen: a `vt` text grid drawn on the framebuffer with the built-in
//! font. Output bytes go into the grid; the cells that changed, and the
//! cursor, are redrawn right away.
//!
//! Touches only the framebuffer mapping it owns (through atomics: the
//! mapping is device memory another process could also map).

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use font::Font;
use framebuffer::{Color, Layout, Target};
use rt::mem::SharedMapping;
use vt::Terminal;

/// Light grey on black, the VGA text look.
const FOREGROUND: Color = Color::rgb(0xcc, 0xcc, 0xcc);
const BACKGROUND: Color = Color::rgb(0x00, 0x00, 0x00);

/// The framebuffer's bytes, from the start of its (page-aligned) mapping:
/// written eight bytes at a time where they are aligned, else one by one.
struct Pixels<'a> {
    bytes: &'a [AtomicU8],
    words: &'a [AtomicU64],
    /// Where the first pixel is.
    start: usize,
}

impl<'a> Pixels<'a> {
    fn new(mapping: &'a SharedMapping, start: usize) -> Pixels<'a> {
        Pixels { bytes: mapping.atomic_u8s(), words: mapping.atomic_u64s(), start }
    }
}

impl Target for Pixels<'_> {
    fn store(&mut self, offset: usize, bytes: &[u8]) {
        let at = self.start + offset;
        if at.checked_add(bytes.len()).is_none_or(|end| end > self.bytes.len()) {
            return;
        }
        let mut i = 0;
        while i < bytes.len() {
            let here = at + i;
            if here.is_multiple_of(8)
                && let (Some(chunk), Some(word)) = (bytes.get(i..i + 8), self.words.get(here / 8))
            {
                let mut value = [0u8; 8];
                value.copy_from_slice(chunk);
                word.store(u64::from_ne_bytes(value), Ordering::Relaxed);
                i += 8;
            } else {
                self.bytes[here].store(bytes[i], Ordering::Relaxed);
                i += 1;
            }
        }
    }
}

pub struct Screen {
    layout: Layout,
    /// The mapping, from the page the first pixel is on.
    mapping: SharedMapping,
    /// Where the first pixel is in `mapping`.
    start: usize,
    font: Font<'static>,
    grid: Terminal,
    /// Where the cursor was drawn, if it was.
    drawn_cursor: Option<(usize, usize)>,
}

impl Screen {
    /// A blank screen on the framebuffer mapped at `mapping` (the first
    /// pixel `start` bytes in).
    pub fn new(layout: Layout, mapping: SharedMapping, start: usize) -> Screen {
        let font = font::builtin();
        let (cols, rows) = layout.cells(&font);
        let mut line = alloc::vec![0u8; layout.width * layout.bytes_per_pixel];
        layout.clear(&mut Pixels::new(&mapping, start), BACKGROUND, &mut line);
        // The cleared screen is the blank grid already: only the cursor is
        // left to draw.
        let mut grid = Terminal::new(cols, rows);
        grid.take_dirty(|_, _, _| {});
        let mut screen = Screen { layout, mapping, start, font, grid, drawn_cursor: None };
        screen.render();
        screen
    }

    /// (columns, rows) of text.
    pub fn size(&self) -> (usize, usize) {
        (self.grid.cols(), self.grid.rows())
    }

    /// Bytes a program wrote: into the grid, then onto the screen.
    pub fn write(&mut self, bytes: &[u8]) {
        self.grid.feed(bytes);
        self.render();
    }

    /// Draw the cells that changed and the cursor.
    fn render(&mut self) {
        let Screen { layout, mapping, start, font, grid, drawn_cursor } = self;
        let mut pixels = Pixels::new(mapping, *start);
        let cursor = grid.cursor_visible().then(|| grid.cursor());
        let mut cursor_drawn = false;
        grid.take_dirty(|row, col, c| {
            let at_cursor = cursor == Some((row, col));
            cursor_drawn |= at_cursor;
            layout.draw_cell(&mut pixels, row, col, font.glyph(c), FOREGROUND, BACKGROUND, at_cursor);
        });
        if *drawn_cursor != cursor
            && let Some((row, col)) = *drawn_cursor
        {
            let c = grid.cell(row, col);
            layout.draw_cell(&mut pixels, row, col, font.glyph(c), FOREGROUND, BACKGROUND, false);
        }
        if let Some((row, col)) = cursor
            && !cursor_drawn
        {
            let c = grid.cell(row, col);
            layout.draw_cell(&mut pixels, row, col, font.glyph(c), FOREGROUND, BACKGROUND, true);
        }
        *drawn_cursor = cursor;
    }
}
