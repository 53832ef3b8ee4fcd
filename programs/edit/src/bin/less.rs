//! `less [FILE]`: a pager on the console. Shows the file (any scheme's,
//! or a path relative to the current directory), or standard input when
//! no file is given (`cmd | less`), a screenful at a time: Space/PageDown
//! and `b`/PageUp page, `j`/`k`/Down/Up/Enter scroll a line, `g`/`G` go to
//! the start/end, Left/Right scroll sideways, `/pattern` searches forward,
//! `n`/`N` find the next/previous match, Ctrl-L redraws, `q` quits (see
//! `text_buffer::pager`). The keys come from the console: standard input
//! when it is one, else standard error (standard input is then the pipe).
//! When standard output is not a console, `less` copies its input there,
//! like `cat`.
//!
//! May touch: the file it is given or standard input, and the console on
//! fds 0-2.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

#[path = "../term.rs"]
mod term;

use alloc::string::String;
use alloc::vec::Vec;

use rt::abi::syscall as sc;
use rt::fs::File;
use rt::io::{STDERR, STDIN, STDOUT};
use rt::prelude::*;
use rt::process::ExitCode;
use text_buffer::{Key, Pager};

use term::Term;

rt::main!(main);

fn main() -> ExitCode {
    let args: Vec<&str> = rt::env::args().skip(1).collect();
    let name = match args.as_slice() {
        [] => None,
        [name] => Some(*name),
        _ => {
            eprintln!("usage: less [FILE]");
            return ExitCode::from(2);
        }
    };
    let shown = name.unwrap_or("standard input");
    let stdin_console = term::is_console(STDIN);
    if name.is_none() && stdin_console && term::is_console(STDOUT) {
        eprintln!("less: no input: name a file or pipe into less");
        return ExitCode::from(2);
    }
    let bytes = match read_input(name) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("less: {shown}: {err}");
            return ExitCode::FAILURE;
        }
    };
    if !term::is_console(STDOUT) {
        return match rt::io::write_all(STDOUT, &bytes) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("less: write error: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let keys = if name.is_some() && stdin_console {
        STDIN
    } else if term::is_console(STDERR) {
        STDERR
    } else {
        STDOUT
    };
    let text = String::from_utf8_lossy(&bytes);
    let result = Term::open(keys, STDOUT).and_then(|mut term| {
        let (cols, rows) = term.size();
        let mut pager = Pager::new(&text, cols, rows);
        loop {
            let (rows, cursor) = pager.frame();
            term.draw(&rows, cursor)?;
            for key in term.keys()? {
                if key == Key::Ctrl('l') {
                    term.invalidate();
                } else if !pager.handle(key) {
                    return Ok(());
                }
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("less: console: {err}");
            ExitCode::FAILURE
        }
    }
}

/// All of the file, or of standard input.
fn read_input(name: Option<&str>) -> rt::Result<Vec<u8>> {
    let mut file = match name {
        Some(name) => {
            let file = File::open(&rt::fs::resolve(name))?;
            if file.stat().is_ok_and(|stat| stat.st_mode & sc::MODE_TYPE == sc::MODE_DIR) {
                return Err(rt::Error::new(sc::EISDIR));
            }
            file
        }
        None => File::from_fd(rt::sys::dup(STDIN, &[])?),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}
