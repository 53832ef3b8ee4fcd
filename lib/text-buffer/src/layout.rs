//! How a line of text takes up screen columns: a tab runs to the next
//! multiple of [`TAB`], a control character shows as `^X` (two columns),
//! anything else takes one. The editor and the pager both draw a window of
//! columns `left..left + width` of a line ([`visible`]), so a long line is
//! clipped the same way everywhere and scrolls horizontally.

use alloc::string::String;

/// Tab stops every this many columns.
pub const TAB: usize = 8;

/// The cells `c` shows as when it starts at column `at`, handed one by one
/// to `cell`; returns how many columns it took.
fn cells(c: char, at: usize, mut cell: impl FnMut(char)) -> usize {
    match c {
        '\t' => {
            let n = TAB - at % TAB;
            (0..n).for_each(|_| cell(' '));
            n
        }
        c if c.is_control() => {
            cell('^');
            // DEL shows as `^?`; C1 controls as `^?` too.
            let shown = u32::from(c).checked_add(0x40).filter(|&v| v < 0x7f).and_then(char::from_u32);
            cell(shown.unwrap_or('?'));
            2
        }
        c => {
            cell(c);
            1
        }
    }
}

/// The column where character `index` of `line` starts (the line's width
/// for `index == line.len()`).
pub fn column(line: &[char], index: usize) -> usize {
    line.iter().take(index).fold(0, |at, &c| at + cells(c, at, |_| {}))
}

/// The index of the character that covers column `target` (or the line's
/// length when the line is narrower).
pub fn index_at(line: &[char], target: usize) -> usize {
    let mut at = 0;
    for (i, &c) in line.iter().enumerate() {
        let width = cells(c, at, |_| {});
        if at + width > target {
            return i;
        }
        at += width;
    }
    line.len()
}

/// Columns `left..left + width` of `line` as they show.
pub fn visible(line: &[char], left: usize, width: usize) -> String {
    let mut out = String::new();
    let mut at = 0;
    for &c in line {
        if at >= left + width {
            break;
        }
        let mut col = at;
        at += cells(c, at, |cell| {
            if col >= left && col < left + width {
                out.push(cell);
            }
            col += 1;
        });
    }
    out
}

/// `text` cut to `width` characters.
pub fn clip(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}
