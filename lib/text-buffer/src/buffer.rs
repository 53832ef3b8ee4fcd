//! The text being edited: lines of characters and the edits on them. A
//! file's text is split at every `\n`, so joining the lines with `\n`
//! gives back exactly the text that was loaded (a final newline is an
//! empty last line). Every operation takes a position and returns the
//! cursor's new one; positions outside the text are clamped first, so no
//! call panics.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// A position: a line index and a character index in that line (`col` may
/// equal the line's length: after its last character).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub const fn new(line: usize, col: usize) -> Pos {
        Pos { line, col }
    }
}

/// Lines of text; never empty (an empty text is one empty line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffer {
    lines: Vec<Vec<char>>,
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer::new()
    }
}

impl Buffer {
    /// An empty text.
    pub fn new() -> Buffer {
        Buffer { lines: vec![Vec::new()] }
    }

    pub fn from_text(text: &str) -> Buffer {
        Buffer { lines: text.split('\n').map(|line| line.chars().collect()).collect() }
    }

    /// The text: the lines joined with `\n`.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.extend(line.iter());
        }
        text
    }

    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// Line `index` (empty past the end).
    pub fn line(&self, index: usize) -> &[char] {
        self.lines.get(index).map_or(&[], Vec::as_slice)
    }

    /// `pos` moved inside the text.
    pub fn clamp(&self, pos: Pos) -> Pos {
        let line = pos.line.min(self.lines.len() - 1);
        Pos { line, col: pos.col.min(self.lines[line].len()) }
    }

    /// Inserts `c` (not `\n`: see [`Buffer::split_line`]) at `pos`.
    pub fn insert(&mut self, pos: Pos, c: char) -> Pos {
        if c == '\n' {
            return self.split_line(pos);
        }
        let pos = self.clamp(pos);
        self.lines[pos.line].insert(pos.col, c);
        Pos { col: pos.col + 1, ..pos }
    }

    /// Breaks the line at `pos`: what follows goes to a new line.
    pub fn split_line(&mut self, pos: Pos) -> Pos {
        let pos = self.clamp(pos);
        let rest = self.lines[pos.line].split_off(pos.col);
        self.lines.insert(pos.line + 1, rest);
        Pos::new(pos.line + 1, 0)
    }

    /// Deletes the character before `pos` (at a line's start: joins it to
    /// the line above). Returns where the cursor goes.
    pub fn delete_before(&mut self, pos: Pos) -> Pos {
        let pos = self.clamp(pos);
        if pos.col > 0 {
            self.lines[pos.line].remove(pos.col - 1);
            Pos { col: pos.col - 1, ..pos }
        } else if pos.line > 0 {
            let line = self.lines.remove(pos.line);
            let above = &mut self.lines[pos.line - 1];
            let col = above.len();
            above.extend(line);
            Pos::new(pos.line - 1, col)
        } else {
            pos
        }
    }

    /// Deletes the character at `pos` (at a line's end: joins the next
    /// line to it). The cursor stays.
    pub fn delete_at(&mut self, pos: Pos) -> Pos {
        let pos = self.clamp(pos);
        if pos.col < self.lines[pos.line].len() {
            self.lines[pos.line].remove(pos.col);
        } else if pos.line + 1 < self.lines.len() {
            let next = self.lines.remove(pos.line + 1);
            self.lines[pos.line].extend(next);
        }
        pos
    }

    /// The first place after `from` where `pattern` starts (searching
    /// forward to the end, then from the top down to `from` itself).
    /// Matches do not span lines; an empty pattern matches nothing.
    pub fn find(&self, from: Pos, pattern: &[char]) -> Option<Pos> {
        if pattern.is_empty() {
            return None;
        }
        let from = self.clamp(from);
        let count = self.lines.len();
        for step in 0..=count {
            let line = (from.line + step) % count;
            let text = &self.lines[line];
            let start = if step == 0 { from.col + 1 } else { 0 };
            // The last round (back on `from`'s line) looks before `from`.
            let end = if step == count { (from.col + 1).min(text.len()) } else { text.len() };
            if let Some(col) = find_in(text, pattern, start, end) {
                return Some(Pos::new(line, col));
            }
        }
        None
    }
}

/// The first index in `start..end` where `pattern` starts in `text`.
pub fn find_in(text: &[char], pattern: &[char], start: usize, end: usize) -> Option<usize> {
    if pattern.is_empty() || pattern.len() > text.len() {
        return None;
    }
    let last = (text.len() - pattern.len() + 1).min(end);
    (start..last).find(|&at| text[at..].starts_with(pattern))
}
