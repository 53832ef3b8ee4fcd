//! The pager's state machine (`less`): lines of text in a window of the
//! screen's height less one, the last row a status line (`:`, `(END)`, a
//! message, or the `/` search prompt). Long lines are clipped and the
//! window scrolls sideways by half a screen.
//!
//! | key | action |
//! |---|---|
//! | Space, PageDown, `f`, Ctrl-F | a screenful forward |
//! | `b`, PageUp, Ctrl-B | a screenful back |
//! | `j`, Down, Enter | a line forward |
//! | `k`, Up | a line back |
//! | `g`, Home / `G`, End | the first / last screenful |
//! | Right / Left | half a screen sideways |
//! | `/pattern` Enter | the next line with `pattern` goes to the top |
//! | `n` / `N` | the next / previous match |
//! | `q`, `Q`, Ctrl-C | quit |

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::buffer::find_in;
use crate::keys::Key;
use crate::layout::{clip, visible};

/// A pager over a text.
#[derive(Clone, Debug)]
pub struct Pager {
    lines: Vec<Vec<char>>,
    /// The first line and first column shown.
    top: usize,
    left: usize,
    cols: usize,
    text_rows: usize,
    prompt: Option<Vec<char>>,
    pattern: Vec<char>,
    /// The line of the last match, where `n` and `N` go on from while it
    /// is on screen (near the end it need not be the top line).
    matched: Option<usize>,
    message: String,
}

impl Pager {
    /// A pager on `text` for a `cols` x `rows` screen. A final newline
    /// ends the last line (it starts no empty one).
    pub fn new(text: &str, cols: usize, rows: usize) -> Pager {
        let text = text.strip_suffix('\n').unwrap_or(text);
        let lines = if text.is_empty() { Vec::new() } else { text.split('\n').map(|l| l.chars().collect()).collect() };
        Pager {
            lines,
            top: 0,
            left: 0,
            cols: cols.max(1),
            text_rows: rows.max(2) - 1,
            prompt: None,
            pattern: Vec::new(),
            matched: None,
            message: String::new(),
        }
    }

    /// The first line shown.
    pub fn top(&self) -> usize {
        self.top
    }

    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// The largest first line: the last screenful.
    fn last_top(&self) -> usize {
        self.lines.len().saturating_sub(self.text_rows)
    }

    /// Whether the last line is on screen.
    pub fn at_end(&self) -> bool {
        self.top + self.text_rows >= self.lines.len()
    }

    /// Handles a key; `false` when the pager is to quit.
    pub fn handle(&mut self, key: Key) -> bool {
        self.message.clear();
        if let Some(prompt) = &mut self.prompt {
            match key {
                Key::Char(c) => prompt.push(c),
                Key::Tab => prompt.push('\t'),
                // Backspace on an empty prompt closes it.
                Key::Backspace if prompt.is_empty() => self.prompt = None,
                Key::Backspace => {
                    prompt.pop();
                }
                Key::Escape | Key::Ctrl('c') | Key::Ctrl('g') => self.prompt = None,
                Key::Enter => {
                    let pattern = self.prompt.take().unwrap_or_default();
                    if !pattern.is_empty() {
                        self.pattern = pattern;
                    }
                    self.search(true);
                }
                _ => {}
            }
            return true;
        }
        let page = self.text_rows;
        match key {
            Key::Char('q' | 'Q') | Key::Ctrl('c') => return false,
            Key::Char(' ' | 'f') | Key::PageDown | Key::Ctrl('f') => self.scroll_to(self.top + page),
            Key::Char('b') | Key::PageUp | Key::Ctrl('b') => self.scroll_to(self.top.saturating_sub(page)),
            Key::Char('j') | Key::Down | Key::Enter => self.scroll_to(self.top + 1),
            Key::Char('k') | Key::Up => self.scroll_to(self.top.saturating_sub(1)),
            Key::Char('g') | Key::Home => self.top = 0,
            Key::Char('G') | Key::End => self.top = self.last_top(),
            Key::Right => self.left += (self.cols / 2).max(1),
            Key::Left => self.left = self.left.saturating_sub((self.cols / 2).max(1)),
            Key::Char('/') => self.prompt = Some(Vec::new()),
            Key::Char('n') => self.search(true),
            Key::Char('N') => self.search(false),
            _ => {}
        }
        true
    }

    fn scroll_to(&mut self, top: usize) {
        self.top = top.min(self.last_top());
    }

    /// Puts the next (or previous) line holding the pattern at the top,
    /// as far as the end allows.
    fn search(&mut self, forward: bool) {
        if self.pattern.is_empty() {
            self.message = String::from("no pattern yet");
            return;
        }
        let pattern = &self.pattern;
        let holds = |line: &Vec<char>| find_in(line, pattern, 0, line.len()).is_some();
        let shown = self.top..self.top + self.text_rows;
        let from = self.matched.filter(|line| shown.contains(line)).unwrap_or(self.top);
        let found = if forward {
            (from + 1..self.lines.len()).find(|&i| holds(&self.lines[i]))
        } else {
            (0..from).rev().find(|&i| holds(&self.lines[i]))
        };
        match found {
            Some(line) => {
                self.matched = Some(line);
                self.scroll_to(line);
            }
            None => {
                let pattern: String = pattern.iter().collect();
                self.message = format!("pattern not found: {pattern}");
            }
        }
    }

    /// The screen's rows and the cursor's place (on the status line).
    pub fn frame(&self) -> (Vec<String>, (usize, usize)) {
        let mut rows: Vec<String> = (self.top..self.top + self.text_rows)
            .map(|line| match self.lines.get(line) {
                Some(text) => visible(text, self.left, self.cols),
                None => String::from("~"),
            })
            .collect();
        let status = if let Some(prompt) = &self.prompt {
            format!("/{}", visible(prompt, 0, self.cols))
        } else if !self.message.is_empty() {
            self.message.clone()
        } else if self.at_end() {
            String::from("(END)")
        } else {
            String::from(":")
        };
        let status = clip(&status, self.cols.saturating_sub(1));
        let cursor = (self.text_rows, status.chars().count());
        rows.push(status);
        (rows, cursor)
    }
}
