//! The console as a full-screen terminal, shared by `edit` and `less`:
//! switches it to raw mode, reads its size (`dup(fd, "size")`, see
//! `lib/console`), decodes the keys typed and draws frames (only the rows
//! that changed, `text_buffer::Screen`). Dropping the [`Term`] clears the
//! screen, leaves the alternate screen and puts the console back in cooked
//! mode, so the shell's prompt comes back on a sane screen on every way
//! out (a normal quit or an error).
//!
//! May touch: the console fds it is given (reads keys from one, writes to
//! the other) and the control handles it dups from them; nothing else.

use alloc::vec::Vec;

use rt::abi::syscall as sc;
use rt::fs::File;
use text_buffer::screen::{ENTER, LEAVE};
use text_buffer::{Decoder, Key, Screen};

/// Whether `fd` is a console (it answers `dup(fd, "mode")`).
pub fn is_console(fd: usize) -> bool {
    rt::sys::dup(fd, b"mode").map(|mode| drop(File::from_fd(mode))).is_ok()
}

/// A console in raw mode, drawn on full-screen.
pub struct Term {
    /// Where keys are read from (not owned: one of fds 0-2).
    input: usize,
    /// Where frames are written (not owned).
    output: usize,
    /// The console's mode control handle.
    mode: File,
    screen: Screen,
    decoder: Decoder,
}

impl Term {
    /// Takes over the console: keys from `input`, frames to `output` (both
    /// consoles, normally the same one).
    pub fn open(input: usize, output: usize) -> rt::Result<Term> {
        let mode = File::from_fd(rt::sys::dup(output, b"mode")?);
        let mut size = File::from_fd(rt::sys::dup(output, b"size")?);
        let mut text = Vec::new();
        size.read_to_end(&mut text)?;
        let (cols, rows) = text_buffer::parse_size(&text).ok_or(rt::Error::new(sc::EINVAL))?;
        rt::io::write_all(mode.fd(), b"raw")?;
        // From here on, dropping the Term puts everything back.
        let term = Term { input, output, mode, screen: Screen::new(cols, rows), decoder: Decoder::new() };
        rt::io::write_all(output, ENTER)?;
        Ok(term)
    }

    /// The screen's size, `(columns, rows)`.
    pub fn size(&self) -> (usize, usize) {
        (self.screen.cols(), self.screen.rows())
    }

    /// Shows `rows` with the cursor at `cursor` (row, column).
    pub fn draw(&mut self, rows: &[alloc::string::String], cursor: (usize, usize)) -> rt::Result<()> {
        let bytes = self.screen.draw(rows, cursor);
        rt::io::write_all(self.output, &bytes)
    }

    /// The next frame redraws the whole screen.
    pub fn invalidate(&mut self) {
        self.screen.invalidate();
    }

    /// Waits for input; the keys it makes (possibly none, when only part
    /// of a sequence came). The console closing is `EPIPE`.
    pub fn keys(&mut self) -> rt::Result<Vec<Key>> {
        let mut buf = [0u8; 256];
        let n = rt::sys::read(self.input, &mut buf)?;
        if n == 0 {
            return Err(rt::Error::new(sc::EPIPE));
        }
        let mut keys = Vec::new();
        self.decoder.feed(&buf[..n], &mut keys);
        Ok(keys)
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = rt::io::write_all(self.output, LEAVE);
        let _ = rt::io::write_all(self.mode.fd(), b"cooked");
    }
}
