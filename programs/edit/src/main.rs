//! `edit FILE`: a full-screen text editor on the console. Opens any
//! scheme's file (`tmp:notes`, `file:/home/root/x`, a path relative to the
//! current directory), or starts an empty one when it does not exist;
//! arrow keys, Home/End, PageUp/PageDown move, typing inserts, Backspace
//! and Delete delete, Enter splits the line, Ctrl-S saves, Ctrl-F searches
//! forward, Ctrl-Q quits (twice with unsaved changes), Ctrl-L redraws. The
//! keys and the screen are `lib/text-buffer`'s (`Editor`); this program
//! reads and writes the file and the console.
//!
//! Saving writes the text over the file and then truncates it to the
//! text's length; an error (a read-only `initfs:`, a full `tmp:`) shows on
//! the status line and the text stays marked modified.
//!
//! May touch: the file it is given, and the console on fds 0 and 1.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod term;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rt::abi::syscall as sc;
use rt::fs::File;
use rt::prelude::*;
use rt::process::ExitCode;
use text_buffer::{Action, Editor};

use term::Term;

rt::main!(main);

fn main() -> ExitCode {
    let args: Vec<&str> = rt::env::args().skip(1).collect();
    let [name] = args.as_slice() else {
        eprintln!("usage: edit FILE");
        return ExitCode::from(2);
    };
    let url = rt::fs::resolve(name);
    let (text, note) = match load(&url) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("edit: {name}: {err}");
            return ExitCode::FAILURE;
        }
    };
    if !term::is_console(rt::io::STDIN) || !term::is_console(rt::io::STDOUT) {
        eprintln!("edit: standard input and output must be a console");
        return ExitCode::FAILURE;
    }
    let result = Term::open(rt::io::STDIN, rt::io::STDOUT).and_then(|mut term| {
        let (cols, rows) = term.size();
        let mut editor = Editor::new(&url, &text, cols, rows);
        editor.set_message(&note);
        run(&mut term, &mut editor, &url)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("edit: console: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The file's text and a note for the status line. A file that does not
/// exist is empty (and made by the first save).
fn load(url: &str) -> rt::Result<(String, String)> {
    let mut file = match File::open(url) {
        Ok(file) => file,
        Err(err) if err.errno == sc::ENOENT => return Ok((String::new(), String::from("new file"))),
        Err(err) => return Err(err),
    };
    if file.stat().is_ok_and(|stat| stat.st_mode & sc::MODE_TYPE == sc::MODE_DIR) {
        return Err(rt::Error::new(sc::EISDIR));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, format!("{lines} lines"))),
        Err(err) => Ok((
            String::from_utf8_lossy(err.as_bytes()).into_owned(),
            String::from("not UTF-8: bad bytes show as U+FFFD and are saved so"),
        )),
    }
}

/// The editing loop, until Ctrl-Q.
fn run(term: &mut Term, editor: &mut Editor, url: &str) -> rt::Result<()> {
    loop {
        let (rows, cursor) = editor.frame();
        term.draw(&rows, cursor)?;
        for key in term.keys()? {
            match editor.handle(key) {
                Action::Continue => {}
                Action::Redraw => term.invalidate(),
                Action::Quit => return Ok(()),
                Action::Save => {
                    let text = editor.text();
                    match save(url, text.as_bytes()) {
                        Ok(()) => editor.saved(text.len()),
                        Err(err) => editor.save_failed(&format!("{err}")),
                    }
                }
            }
        }
    }
}

/// Writes `bytes` over the file (creating it) and cuts it to their length.
fn save(url: &str, bytes: &[u8]) -> rt::Result<()> {
    let mut file = File::open_with(url, sc::O_WRONLY | sc::O_CREAT)?;
    file.write_all(bytes)?;
    file.set_len(bytes.len())?;
    file.close()
}
