//! Standard input, output and error (fds 0, 1, 2, inherited from the
//! parent) and the print macros.
//!
//! `print!` and friends format into a small buffer on the stack and write it
//! with as few `SYS_WRITE`s as the text needs (one for a short line), so a
//! line rarely interleaves with other output on a shared console. Write
//! errors are ignored: there is nowhere to report them.
//!
//! One error is not ignored: when standard output's reader has gone
//! (`EPIPE`: `hexdump -C zero: | head -n 2` once `head` has its lines), the
//! program ends at once and quietly with [`BROKEN_PIPE`], as a Unix program
//! dies of `SIGPIPE` by default; nobody is left to read the rest, and a
//! program with endless input would otherwise write forever. Ferrite has no
//! `SIGPIPE`: on every other fd `EPIPE` is an ordinary error (a `chan:`
//! whose peer left, a pipe the program writes with [`write_all`]).

use core::fmt;

use crate::{Result, sys};

/// File descriptor of standard input.
pub const STDIN: usize = 0;
/// File descriptor of standard output.
pub const STDOUT: usize = 1;
/// File descriptor of standard error.
pub const STDERR: usize = 2;

/// The exit status of a program whose standard output lost its reader:
/// 128 + `SIGPIPE`, what a shell shows for a process that signal ended.
pub const BROKEN_PIPE: i32 = 128 + 13;

/// Writes all of `buf` to standard output, like [`write_all`], except that
/// a reader that has gone ends the program (see the module header).
pub fn write_stdout(buf: &[u8]) -> Result<()> {
    match write_all(STDOUT, buf) {
        Err(err) if err.errno == abi::syscall::EPIPE => crate::process::exit(BROKEN_PIPE),
        other => other,
    }
}

/// Writes all of `buf` to `fd`: [`write_stdout`] for fd 1 (its reader gone
/// ends the program), [`write_all`] for any other.
pub fn write_out(fd: usize, buf: &[u8]) -> Result<()> {
    if fd == STDOUT { write_stdout(buf) } else { write_all(fd, buf) }
}

/// Writes all of `buf` to `fd`, retrying after partial writes and `EINTR`.
/// A write of 0 bytes ends with `EIO`.
pub fn write_all(fd: usize, mut buf: &[u8]) -> Result<()> {
    while !buf.is_empty() {
        match sys::write(fd, buf) {
            Ok(0) => return Err(crate::Error::new(abi::syscall::EIO)),
            Ok(n) => buf = &buf[n..],
            Err(err) if err.errno == abi::syscall::EINTR => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Reads from `fd` into `buf`, retrying after `EINTR`; returns the count.
pub fn read(fd: usize, buf: &mut [u8]) -> Result<usize> {
    loop {
        match sys::read(fd, buf) {
            Err(err) if err.errno == abi::syscall::EINTR => {}
            other => return other,
        }
    }
}

/// Handle to standard input.
#[derive(Clone, Copy, Debug)]
pub struct Stdin;

/// Handle to standard output; `write!` works on it.
#[derive(Clone, Copy, Debug)]
pub struct Stdout;

/// Handle to standard error; `write!` works on it.
#[derive(Clone, Copy, Debug)]
pub struct Stderr;

pub fn stdin() -> Stdin {
    Stdin
}

pub fn stdout() -> Stdout {
    Stdout
}

pub fn stderr() -> Stderr {
    Stderr
}

impl Stdin {
    /// Reads what is available (at most `buf.len()` bytes); 0 at the end.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        read(STDIN, buf)
    }
}

impl Stdout {
    pub fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        write_stdout(buf)
    }
}

impl Stderr {
    pub fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        write_all(STDERR, buf)
    }
}

impl fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_stdout(s.as_bytes()).map_err(|_| fmt::Error)
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        write_fmt_buffered(STDOUT, args)
    }
}

impl fmt::Write for Stderr {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_all(STDERR, s.as_bytes()).map_err(|_| fmt::Error)
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        write_fmt_buffered(STDERR, args)
    }
}

/// Collects formatted text in a stack buffer and writes it out when full
/// and at the end.
struct Buffered {
    fd: usize,
    len: usize,
    buf: [u8; 512],
    failed: bool,
}

impl Buffered {
    fn flush(&mut self) {
        if self.len > 0 && write_out(self.fd, &self.buf[..self.len]).is_err() {
            self.failed = true;
        }
        self.len = 0;
    }
}

impl fmt::Write for Buffered {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        if self.len + bytes.len() > self.buf.len() {
            self.flush();
        }
        if bytes.len() > self.buf.len() {
            if write_out(self.fd, bytes).is_err() {
                self.failed = true;
            }
        } else {
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
        Ok(())
    }
}

fn write_fmt_buffered(fd: usize, args: fmt::Arguments<'_>) -> fmt::Result {
    let mut out = Buffered { fd, len: 0, buf: [0; 512], failed: false };
    let formatted = fmt::write(&mut out, args);
    out.flush();
    if out.failed { Err(fmt::Error) } else { formatted }
}

#[doc(hidden)]
pub fn _print(fd: usize, args: fmt::Arguments<'_>) {
    let _ = write_fmt_buffered(fd, args);
}

/// Prints to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::io::_print($crate::io::STDOUT, format_args!($($arg)*))
    };
}

/// Prints to standard output, with a newline.
#[macro_export]
macro_rules! println {
    () => {
        $crate::io::_print($crate::io::STDOUT, format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::io::_print($crate::io::STDOUT, format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints to standard error.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::io::_print($crate::io::STDERR, format_args!($($arg)*))
    };
}

/// Prints to standard error, with a newline.
#[macro_export]
macro_rules! eprintln {
    () => {
        $crate::io::_print($crate::io::STDERR, format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::io::_print($crate::io::STDERR, format_args!("{}\n", format_args!($($arg)*)))
    };
}
