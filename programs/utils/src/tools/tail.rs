//! `tail [-n N] [-f] [FILE]`: the last N lines (10) of a file or of
//! standard input. With `-f` it then keeps reading the same open file,
//! printing what is added, polling every quarter second when there is
//! nothing new, until Ctrl-C: a `tmp:` or `file:` file that grows, or the
//! system log (`tail -f log:`: a `log:` reader at the end reads 0, and a
//! later read gives the lines logged since). Reads only.

use alloc::vec::Vec;
use core::time::Duration;

use rt::fs::File;

use crate::options;
use crate::report::{self, FAILED, OK};
use crate::stream;

/// How long `-f` waits before reading again after finding nothing new.
const POLL: Duration = Duration::from_millis(250);

/// Where the last `lines` lines of `text` start.
fn last_lines_start(text: &[u8], lines: usize) -> usize {
    if lines == 0 {
        return text.len();
    }
    // A final newline ends the last line; it starts no new one.
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let mut seen = 0;
    for (at, &byte) in body.iter().enumerate().rev() {
        if byte == b'\n' {
            seen += 1;
            if seen == lines {
                return at + 1;
            }
        }
    }
    0
}

/// Reads `file` to its end, keeping only the last `lines` lines.
fn last_lines(file: &mut File, lines: usize) -> rt::Result<Vec<u8>> {
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = alloc::vec![0u8; stream::CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            let start = last_lines_start(&kept, lines);
            return Ok(kept.split_off(start));
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 4 * stream::CHUNK {
            let start = last_lines_start(&kept, lines);
            kept.drain(..start);
        }
    }
}

fn follow(file: &mut File) -> rt::Result<()> {
    let mut buf = alloc::vec![0u8; stream::CHUNK];
    loop {
        match file.read(&mut buf)? {
            0 => rt::time::sleep(POLL),
            n => rt::io::write_stdout(&buf[..n])?,
        }
    }
}

pub fn main(args: &[&str]) -> u8 {
    let parsed = match options::parse("tail", args, "f", "n") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let lines = match options::count("tail", &parsed, 'n', 10) {
        Ok(lines) => lines,
        Err(status) => return status,
    };
    let name = match parsed.operands {
        [] => "-",
        [name] => name,
        _ => return report::usage("tail", "one file at most"),
    };
    let result = stream::open_input(name).and_then(|mut file| {
        rt::io::write_stdout(&last_lines(&mut file, lines)?)?;
        if parsed.has('f') { follow(&mut file) } else { Ok(()) }
    });
    match result {
        Ok(()) => OK,
        Err(err) => {
            report::error("tail", name, err);
            FAILED
        }
    }
}
