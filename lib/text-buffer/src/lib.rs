//! The pure logic of the console's full-screen programs, `edit` and
//! `less` (`programs/edit`): the bytes a terminal sends decoded into keys
//! ([`keys`]), a text buffer with a cursor, insertion, deletion and search
//! ([`buffer`]), how a line is laid out in columns (tabs, control
//! characters, horizontal scrolling: [`layout`]), the editor's and the
//! pager's state machines ([`editor`], [`pager`]), and the bytes that bring
//! a terminal from the last frame to the next ([`screen`]).
//!
//! Why a crate of its own: all of it is bytes and keys in, bytes out, so it
//! is `no_std` + `alloc` and tested on the host (`cargo test -p
//! text-buffer`), including random key sequences that must never panic.
//! It touches only its own state; the programs read the console and write
//! what it returns.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod buffer;
pub mod editor;
pub mod keys;
pub mod layout;
pub mod pager;
pub mod screen;

#[cfg(test)]
mod tests;

pub use buffer::{Buffer, Pos};
pub use editor::{Action, Editor};
pub use keys::{Decoder, Key};
pub use pager::Pager;
pub use screen::Screen;

/// The console's answer to `dup(fd, "size")`, `COLSxROWS` plus a newline
/// (surrounding whitespace allowed): the size in character cells, or
/// `None` when it is malformed or has a zero dimension.
pub fn parse_size(text: &[u8]) -> Option<(usize, usize)> {
    let text = core::str::from_utf8(text).ok()?.trim();
    let (cols, rows) = text.split_once('x')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(cols) || !digits(rows) {
        return None;
    }
    let (cols, rows) = (cols.parse().ok()?, rows.parse().ok()?);
    (cols > 0 && rows > 0).then_some((cols, rows))
}
