//! `wc [FILE...]`: lines, words and bytes of each file (or standard
//! input), each count right-aligned in 7 columns, then the name; with
//! several files, a `total` line.

use rt::println;

use crate::report::{self, FAILED, OK};
use crate::stream;

#[derive(Default, Clone, Copy)]
struct Counts {
    lines: u64,
    words: u64,
    bytes: u64,
}

fn count(arg: &str) -> rt::Result<Counts> {
    let mut file = stream::open_input(arg)?;
    let mut buf = alloc::vec![0u8; stream::CHUNK];
    let mut counts = Counts::default();
    let mut in_word = false;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(counts);
        }
        counts.bytes += n as u64;
        for &byte in &buf[..n] {
            if byte == b'\n' {
                counts.lines += 1;
            }
            let blank = byte.is_ascii_whitespace();
            if !blank && !in_word {
                counts.words += 1;
            }
            in_word = !blank;
        }
    }
}

fn show(counts: Counts, name: &str) {
    let line = alloc::format!("{:>7} {:>7} {:>7}", counts.lines, counts.words, counts.bytes);
    if name.is_empty() { println!("{line}") } else { println!("{line} {name}") }
}

pub fn main(args: &[&str]) -> u8 {
    if args.is_empty() {
        return match count("-") {
            Ok(counts) => {
                show(counts, "");
                OK
            }
            Err(err) => {
                report::error("wc", "-", err);
                FAILED
            }
        };
    }
    let mut status = OK;
    let mut total = Counts::default();
    for &arg in args {
        match count(arg) {
            Ok(counts) => {
                show(counts, arg);
                total.lines += counts.lines;
                total.words += counts.words;
                total.bytes += counts.bytes;
            }
            Err(err) => {
                report::error("wc", arg, err);
                status = FAILED;
            }
        }
    }
    if args.len() > 1 {
        show(total, "total");
    }
    status
}
