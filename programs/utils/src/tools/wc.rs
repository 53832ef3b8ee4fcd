//! `wc [-l] [-w] [-c] [FILE...]`: lines, words and bytes of each file (or
//! standard input), each count right-aligned in 7 columns, then the name;
//! with several files, a `total` line. The options pick columns (always in
//! that order, as POSIX says); none means all three.

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

/// Which columns to print: lines, words, bytes.
#[derive(Clone, Copy)]
struct Columns([bool; 3]);

fn show(columns: Columns, counts: Counts, name: &str) {
    let mut line = alloc::string::String::new();
    for (shown, value) in columns.0.iter().zip([counts.lines, counts.words, counts.bytes]) {
        if *shown {
            if !line.is_empty() {
                line.push(' ');
            }
            line += &alloc::format!("{value:>7}");
        }
    }
    if name.is_empty() { println!("{line}") } else { println!("{line} {name}") }
}

pub fn main(args: &[&str]) -> u8 {
    let mut picked = [false; 3];
    let mut files = args;
    while let Some((&option, rest)) = files.split_first() {
        if option == "-" || !option.starts_with('-') {
            break;
        }
        for flag in option[1..].chars() {
            match flag {
                'l' => picked[0] = true,
                'w' => picked[1] = true,
                'c' => picked[2] = true,
                _ => return report::usage("wc", &alloc::format!("unknown option -{flag}")),
            }
        }
        files = rest;
    }
    let columns = Columns(if picked == [false; 3] { [true; 3] } else { picked });
    let args = files;
    if args.is_empty() {
        return match count("-") {
            Ok(counts) => {
                show(columns, counts, "");
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
                show(columns, counts, arg);
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
        show(columns, total, "total");
    }
    status
}
