//! Moving bytes between files for the utilities: whole-file copies and
//! reading a named file or standard input (`-` or no argument). Standard
//! output is written with `rt::io::write_stdout` (or `write_out`), which ends the utility
//! quietly when its reader has gone (`hexdump -C zero: | head -n 2`).

use rt::abi::syscall::{self as sc, MODE_DIR, MODE_TYPE};
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
        io::write_out(to, &buf[..n]).map_err(|e| (false, e))?;
        total += n as u64;
    }
}
