//! The editor's state machine: a [`Buffer`], its cursor and the window on
//! it, the status line and the search prompt. Keys go in
//! ([`Editor::handle`]); what to do comes out ([`Action`]: save, quit);
//! [`Editor::frame`] says what the screen shows.
//!
//! | key | action |
//! |---|---|
//! | text, Tab | insert at the cursor |
//! | Enter | split the line at the cursor |
//! | Backspace / Delete | delete before / at the cursor (joining lines at their ends) |
//! | arrows, Home, End | move; up and down keep the column aimed at |
//! | PageUp / PageDown | move a screenful |
//! | Ctrl-S | save |
//! | Ctrl-Q | quit; with unsaved changes, only when pressed twice in a row |
//! | Ctrl-F | search forward (Enter: search, empty: the last pattern again; Escape, Ctrl-C, Ctrl-G: cancel) |
//! | Ctrl-L | redraw the whole screen |

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::buffer::{Buffer, Pos};
use crate::keys::Key;
use crate::layout::{clip, column, index_at, visible};

/// What the program does after a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// Write [`Editor::text`] to the file, then call [`Editor::saved`] or
    /// [`Editor::save_failed`].
    Save,
    Quit,
    /// Redraw every row (Ctrl-L).
    Redraw,
}

/// An editor on one file.
#[derive(Clone, Debug)]
pub struct Editor {
    buffer: Buffer,
    cursor: Pos,
    /// The column up and down aim for.
    goal: usize,
    /// The first line and the first column shown.
    top: usize,
    left: usize,
    cols: usize,
    /// Rows of text (the screen's rows less the status line).
    text_rows: usize,
    name: String,
    modified: bool,
    /// Shown on the status line until the next key.
    message: String,
    /// The search prompt's text while it is open.
    prompt: Option<Vec<char>>,
    last_search: Vec<char>,
    /// Ctrl-Q was pressed with unsaved changes; a second one quits.
    quit_armed: bool,
}

impl Editor {
    /// An editor on `text` (the file `name`) for a `cols` x `rows` screen.
    pub fn new(name: &str, text: &str, cols: usize, rows: usize) -> Editor {
        Editor {
            buffer: Buffer::from_text(text),
            cursor: Pos::default(),
            goal: 0,
            top: 0,
            left: 0,
            cols: cols.max(1),
            text_rows: rows.max(2) - 1,
            name: String::from(name),
            modified: false,
            message: String::new(),
            prompt: None,
            last_search: Vec::new(),
            quit_armed: false,
        }
    }

    pub fn buffer(&self) -> &Buffer {
        &self.buffer
    }

    pub fn cursor(&self) -> Pos {
        self.cursor
    }

    /// The first line and column shown.
    pub fn view(&self) -> (usize, usize) {
        (self.top, self.left)
    }

    pub fn modified(&self) -> bool {
        self.modified
    }

    /// The text to save.
    pub fn text(&self) -> String {
        self.buffer.to_text()
    }

    /// Puts `message` on the status line (until the next key).
    pub fn set_message(&mut self, message: &str) {
        self.message = String::from(message);
    }

    /// The save of [`Action::Save`] wrote `bytes` bytes.
    pub fn saved(&mut self, bytes: usize) {
        self.modified = false;
        self.message = format!("wrote {bytes} bytes");
    }

    /// The save failed with `why`: the text stays modified.
    pub fn save_failed(&mut self, why: &str) {
        self.message = format!("cannot save: {why}");
    }

    pub fn handle(&mut self, key: Key) -> Action {
        self.message.clear();
        if self.prompt.is_some() {
            self.prompt_key(key);
            return Action::Continue;
        }
        let armed = core::mem::take(&mut self.quit_armed);
        let mut keep_goal = false;
        match key {
            Key::Char(c) => self.edit(|b, at| b.insert(at, c)),
            Key::Tab => self.edit(|b, at| b.insert(at, '\t')),
            Key::Enter => self.edit(Buffer::split_line),
            Key::Backspace => {
                if self.cursor != Pos::default() {
                    self.edit(Buffer::delete_before);
                }
            }
            Key::Delete => {
                let at_end = self.cursor.line + 1 == self.buffer.line_count()
                    && self.cursor.col == self.buffer.line(self.cursor.line).len();
                if !at_end {
                    self.edit(Buffer::delete_at);
                }
            }
            Key::Left => {
                if self.cursor.col > 0 {
                    self.cursor.col -= 1;
                } else if self.cursor.line > 0 {
                    self.cursor.line -= 1;
                    self.cursor.col = self.buffer.line(self.cursor.line).len();
                }
            }
            Key::Right => {
                if self.cursor.col < self.buffer.line(self.cursor.line).len() {
                    self.cursor.col += 1;
                } else if self.cursor.line + 1 < self.buffer.line_count() {
                    self.cursor = Pos::new(self.cursor.line + 1, 0);
                }
            }
            Key::Up => {
                keep_goal = true;
                self.vertical(-1);
            }
            Key::Down => {
                keep_goal = true;
                self.vertical(1);
            }
            Key::PageUp => {
                keep_goal = true;
                self.top = self.top.saturating_sub(self.text_rows);
                self.vertical(-(self.text_rows as isize));
            }
            Key::PageDown => {
                keep_goal = true;
                let last_top = self.buffer.line_count().saturating_sub(self.text_rows);
                self.top = (self.top + self.text_rows).min(last_top);
                self.vertical(self.text_rows as isize);
            }
            Key::Home => self.cursor.col = 0,
            Key::End => self.cursor.col = self.buffer.line(self.cursor.line).len(),
            Key::Ctrl('s') => return Action::Save,
            Key::Ctrl('q') => {
                if !self.modified || armed {
                    return Action::Quit;
                }
                self.quit_armed = true;
                self.message = String::from("unsaved changes: Ctrl-Q again quits without saving, Ctrl-S saves");
            }
            Key::Ctrl('f') => self.prompt = Some(Vec::new()),
            Key::Ctrl('l') => {
                self.scroll();
                return Action::Redraw;
            }
            Key::Escape | Key::Ctrl(_) => {}
        }
        if !keep_goal {
            self.goal = column(self.buffer.line(self.cursor.line), self.cursor.col);
        }
        self.scroll();
        Action::Continue
    }

    /// Runs an edit at the cursor; the text is modified now.
    fn edit(&mut self, op: impl FnOnce(&mut Buffer, Pos) -> Pos) {
        self.cursor = op(&mut self.buffer, self.cursor);
        self.modified = true;
    }

    /// Moves `lines` up (negative) or down, to the goal column.
    fn vertical(&mut self, lines: isize) {
        let last = self.buffer.line_count() - 1;
        let line = self.cursor.line.saturating_add_signed(lines).min(last);
        self.cursor = Pos::new(line, index_at(self.buffer.line(line), self.goal));
    }

    fn prompt_key(&mut self, key: Key) {
        let Some(prompt) = &mut self.prompt else { return };
        match key {
            Key::Char(c) => prompt.push(c),
            Key::Tab => prompt.push('\t'),
            Key::Backspace => {
                prompt.pop();
            }
            Key::Escape | Key::Ctrl('c') | Key::Ctrl('g') => self.prompt = None,
            Key::Enter => {
                let pattern = self.prompt.take().unwrap_or_default();
                if !pattern.is_empty() {
                    self.last_search = pattern;
                }
                self.search();
            }
            _ => {}
        }
    }

    /// Moves to the next match of the last pattern.
    fn search(&mut self) {
        if self.last_search.is_empty() {
            self.message = String::from("no pattern yet");
            return;
        }
        match self.buffer.find(self.cursor, &self.last_search) {
            Some(at) => {
                if at <= self.cursor {
                    self.message = String::from("search wrapped to the top");
                }
                self.cursor = at;
                self.goal = column(self.buffer.line(at.line), at.col);
                self.scroll();
            }
            None => {
                let pattern: String = self.last_search.iter().collect();
                self.message = format!("not found: {pattern}");
            }
        }
    }

    /// Moves the window so the cursor is in it.
    fn scroll(&mut self) {
        if self.cursor.line < self.top {
            self.top = self.cursor.line;
        } else if self.cursor.line >= self.top + self.text_rows {
            self.top = self.cursor.line + 1 - self.text_rows;
        }
        let col = column(self.buffer.line(self.cursor.line), self.cursor.col);
        if col < self.left {
            self.left = col;
        } else if col >= self.left + self.cols {
            self.left = col + 1 - self.cols;
        }
    }

    /// The status line: the name, `[modified]`, a message or the prompt,
    /// and `line:column` (1-based) at the right.
    fn status(&self) -> String {
        if let Some(prompt) = &self.prompt {
            let text: String = prompt.iter().collect();
            let shown = visible(&text.chars().collect::<Vec<_>>(), 0, usize::MAX / 2);
            return format!("Search: {shown}");
        }
        let flag = if self.modified { " [modified]" } else { "" };
        let mut left = format!("{}{flag}", self.name);
        if !self.message.is_empty() {
            left.push_str(" - ");
            left.push_str(&self.message);
        }
        let right = format!("{}:{}", self.cursor.line + 1, self.cursor.col + 1);
        let room = self.cols.saturating_sub(right.chars().count() + 1);
        let left = clip(&left, room);
        let pad = self.cols.saturating_sub(left.chars().count() + right.chars().count());
        format!("{left}{:pad$}{right}", "")
    }

    /// The screen's rows (text, then the status line) and where the
    /// cursor is on it (row, column).
    pub fn frame(&self) -> (Vec<String>, (usize, usize)) {
        let mut rows: Vec<String> = (self.top..self.top + self.text_rows)
            .map(|line| {
                if line < self.buffer.line_count() {
                    visible(self.buffer.line(line), self.left, self.cols)
                } else {
                    String::from("~")
                }
            })
            .collect();
        let status = clip(&self.status(), self.cols);
        let cursor = if self.prompt.is_some() {
            (self.text_rows, status.chars().count().min(self.cols - 1))
        } else {
            let col = column(self.buffer.line(self.cursor.line), self.cursor.col);
            (self.cursor.line - self.top, col - self.left)
        };
        rows.push(status);
        (rows, cursor)
    }
}
