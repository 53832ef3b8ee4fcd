//! Moving bytes between files for the utilities: whole-file copies and
//! reading a named file or standard input (`-` or no argument). Standard
//! output is written with `rt::io::write_stdout` (or `write_out`), which ends the utility
//! quietly when its reader has gone (`hexdump -C zero: | head -n 2`).

use rt::abi::syscall::{self as sc, MODE_DIR, MODE_TYPE};
use rt::batch::{Batch, On};
use rt::fs::File;
use rt::io;

/// How much one read or write moves.
pub const CHUNK: usize = 16 * 1024;

/// The file to read for `arg`: standard input for `-`, else the resolved
/// path (a directory is refused with `EISDIR`).
pub fn open_input(arg: &str) -> rt::Result<File> {
    let file =
        if arg == "-" { File::from_fd(rt::sys::dup(io::STDIN, &[])?) } else { File::open(&rt::fs::resolve(arg))? };
    if arg != "-" && is_dir(&file) {
        return Err(rt::Error::new(sc::EISDIR));
    }
    Ok(file)
}

/// The first read of a file: at most this much, so that on a daemon's
/// scheme the open, the read and the status reach the daemon as one
/// request (a chain, `rt::batch`).
pub const FIRST_READ: usize = rt::batch::CHAIN_READ;

/// [`open_input`] and the file's first bytes (up to `first.len()`) in one
/// system call (`rt::batch`: open, read, fstat; the status last, because
/// a scheme without `fstat` fails it and a failure ends a batch).
/// Standard input is opened as `open_input` does and nothing is read.
/// Returns the file and the count read into `first`.
pub fn open_input_reading(arg: &str, first: &mut [u8]) -> rt::Result<(File, usize)> {
    if arg == "-" {
        return Ok((open_input(arg)?, 0));
    }
    let path = rt::fs::resolve(arg);
    let mut stat = sc::Stat::default();
    let mut batch = Batch::new();
    batch.open(&path, sc::O_RDONLY);
    batch.read(On::Opened, first);
    batch.fstat(On::Opened, &mut stat);
    let results = batch.submit()?;
    let file = File::from_fd(results[0]?);
    let n = results[1]?;
    if results[2].is_ok() && stat.st_mode & MODE_TYPE == MODE_DIR {
        return Err(rt::Error::new(sc::EISDIR));
    }
    Ok((file, n))
}

/// Whether the open file is a directory.
pub fn is_dir(file: &File) -> bool {
    file.stat().is_ok_and(|stat| stat.st_mode & MODE_TYPE == MODE_DIR)
}

/// Whether `url` names a directory: open, status and close in one system
/// call (`rt::batch`: one chain on a daemon's scheme, where an open, an
/// `fstat` and a close were three calls).
pub fn names_dir(url: &str) -> bool {
    let mut stat = sc::Stat::default();
    let mut batch = Batch::new();
    batch.open(url, sc::O_RDONLY);
    batch.fstat(On::Opened, &mut stat);
    batch.close(On::Opened);
    let Ok(results) = batch.submit() else { return false };
    if let (Ok(fd), Err(_)) = (results[0], results[2]) {
        // The status failed, which ended the batch before its close.
        drop(File::from_fd(fd));
        return false;
    }
    results[1].is_ok() && stat.st_mode & MODE_TYPE == MODE_DIR
}

/// Create (or truncate) `url` for writing and write `first` to it, in one
/// system call (`rt::batch`: open and write as one chain on a daemon's
/// scheme). What the write left over is written after.
pub fn create_writing(url: &str, first: &[u8]) -> rt::Result<File> {
    let mut batch = Batch::new();
    batch.open(url, sc::O_WRONLY | sc::O_CREAT | sc::O_TRUNC);
    if !first.is_empty() {
        batch.write(On::Opened, first);
    }
    let results = batch.submit()?;
    let file = File::from_fd(results[0]?);
    let written = results.get(1).copied().unwrap_or(Ok(0))?;
    io::write_all(file.fd(), &first[written.min(first.len())..])?;
    Ok(file)
}

/// Copies everything from `from` to the fd `to`; returns the byte count.
/// A read error is `Err((true, e))`, a write error `Err((false, e))`.
pub fn copy(from: &mut File, to: usize) -> Result<u64, (bool, rt::Error)> {
    let mut buf = alloc::vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf).map_err(|e| (true, e))?;
        if n == 0 {
            return Ok(total);
        }
        io::write_out(to, &buf[..n]).map_err(|e| (false, e))?;
        total += n as u64;
    }
}

/// Standard output gathered into chunks: fewer writes than one per line.
pub struct Output {
    buf: alloc::vec::Vec<u8>,
}

impl Output {
    pub fn new() -> Output {
        Output { buf: alloc::vec::Vec::with_capacity(CHUNK) }
    }

    /// Adds `bytes`, writing out when a chunk is full.
    pub fn push(&mut self, bytes: &[u8]) -> rt::Result<()> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK { self.flush() } else { Ok(()) }
    }

    /// Writes what is gathered.
    pub fn flush(&mut self) -> rt::Result<()> {
        let result = io::write_stdout(&self.buf);
        self.buf.clear();
        result
    }
}

/// Calls `line` with each line of `file` (without its `\n`; a last line
/// without one too), as the bytes come: a pipe's lines are handled as
/// they arrive. After each read's lines, `after_read` runs (to flush
/// output). Stops early when `line` returns `false`.
pub fn for_each_line(
    file: &mut File,
    line: &mut dyn FnMut(&[u8]) -> rt::Result<bool>,
    after_read: &mut dyn FnMut() -> rt::Result<()>,
) -> rt::Result<()> {
    let mut buf = alloc::vec![0u8; CHUNK];
    let mut partial: alloc::vec::Vec<u8> = alloc::vec::Vec::new();
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            if !partial.is_empty() {
                line(&partial)?;
            }
            return after_read();
        }
        let mut start = 0;
        for at in 0..n {
            if buf[at] == b'\n' {
                let keep_going = if partial.is_empty() {
                    line(&buf[start..at])?
                } else {
                    partial.extend_from_slice(&buf[start..at]);
                    let whole = core::mem::take(&mut partial);
                    line(&whole)?
                };
                if !keep_going {
                    return after_read();
                }
                start = at + 1;
            }
        }
        partial.extend_from_slice(&buf[start..n]);
        after_read()?;
    }
}
