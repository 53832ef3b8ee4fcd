//! Moving bytes between files for the utilities: whole-file copies,
//! reading a named file or standard input (`-` or no argument), and
//! writing standard output.
//!
//! When the reader of standard output goes away (`EPIPE`: `hexdump zero: |
//! head -n 2` once `head` has its lines), a utility stops at once and
//! quietly with status [`BROKEN_PIPE`], as a Unix program dies of
//! `SIGPIPE`: nobody is left to read the rest, and an endless input would
//! otherwise keep it writing forever. Ferrite has no `SIGPIPE`; other
//! writes that fail with `EPIPE` (to a `chan:` whose peer left, say) are
//! errors like any other.

use rt::abi::syscall::{self as sc, MODE_DIR, MODE_TYPE};
use rt::fs::File;
use rt::io;

/// The status of a utility whose standard output lost its reader: 128 +
/// `SIGPIPE`, what a shell shows for a process that signal ended.
pub const BROKEN_PIPE: i32 = 128 + 13;

/// Writes all of `bytes` to standard output; ends the program quietly if
/// its reader is gone (see the module header).
pub fn write_stdout(bytes: &[u8]) -> rt::Result<()> {
    write_to(io::STDOUT, bytes)
}

/// Writes all of `bytes` to `fd`, with standard output's `EPIPE` rule.
fn write_to(fd: usize, bytes: &[u8]) -> rt::Result<()> {
    match io::write_all(fd, bytes) {
        Err(err) if err.errno == sc::EPIPE && fd == io::STDOUT => rt::process::exit(BROKEN_PIPE),
        other => other,
    }
}

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

/// Whether the open file is a directory.
pub fn is_dir(file: &File) -> bool {
    file.stat().is_ok_and(|stat| stat.st_mode & MODE_TYPE == MODE_DIR)
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
        write_to(to, &buf[..n]).map_err(|e| (false, e))?;
        total += n as u64;
    }
}
