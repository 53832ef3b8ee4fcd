//! `head [-n N] [FILE...]`: the first N lines (10 by default) of each file
//! or of standard input; with several files, each under a `==> NAME <==`
//! line, separated by blank lines.

use alloc::vec::Vec;

use rt::println;

use crate::report::{self, FAILED, OK};
use crate::stream;

pub fn main(args: &[&str]) -> u8 {
    let (lines, files) = match args {
        ["-n", count, rest @ ..] => match count.parse::<usize>() {
            Ok(n) => (n, rest),
            Err(_) => return report::usage("head", "-n needs a number of lines"),
        },
        ["-n"] => return report::usage("head", "-n needs a number of lines"),
        rest => (10, rest),
    };
    let files: &[&str] = if files.is_empty() { &["-"] } else { files };
    let mut status = OK;
    for (i, &arg) in files.iter().enumerate() {
        if files.len() > 1 {
            println!("{}==> {arg} <==", if i > 0 { "\n" } else { "" });
        }
        if let Err(err) = head(arg, lines) {
            report::error("head", arg, err);
            status = FAILED;
        }
    }
    status
}

/// Writes the first `lines` lines of `arg`, reading no further than needed.
fn head(arg: &str, lines: usize) -> rt::Result<()> {
    let mut file = stream::open_input(arg)?;
    let mut buf = alloc::vec![0u8; stream::CHUNK];
    let mut left = lines;
    let mut out: Vec<u8> = Vec::new();
    while left > 0 {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut end = n;
        for (at, &byte) in buf[..n].iter().enumerate() {
            if byte == b'\n' {
                left -= 1;
                if left == 0 {
                    end = at + 1;
                    break;
                }
            }
        }
        out.extend_from_slice(&buf[..end]);
    }
    rt::io::write_stdout(&out)
}
