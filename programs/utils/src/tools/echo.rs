//! `echo [-n] [WORD...]`: the words separated by single spaces, then a
//! newline unless `-n` comes first. A failed write says why
//! (`echo: write error: ...`), status 1.

use alloc::string::String;

use crate::report::{self, FAILED, OK};

pub fn main(args: &[&str]) -> u8 {
    let (newline, words) = match args.split_first() {
        Some((&"-n", rest)) => (false, rest),
        _ => (true, args),
    };
    let mut text = String::from(words.join(" ").as_str());
    if newline {
        text.push('\n');
    }
    match rt::io::write_stdout(text.as_bytes()) {
        Ok(()) => OK,
        Err(err) => {
            report::error("echo", "write error", err);
            FAILED
        }
    }
}
