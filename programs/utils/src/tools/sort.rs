//! `sort [-n] [-r] [-u] [-k FIELD] [FILE...]`: the lines of the files (or
//! standard input) in order: by the whole line, or by its FIELD-th
//! blank-separated field (`-k`), as text or as numbers (`-n`); equal keys
//! fall back to the whole line. `-r` reverses, `-u` keeps the first line
//! of each run of equal keys. Reads only.

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use text_tools::sort_key;

use crate::options;
use crate::report::{self, FAILED, OK};
use crate::stream::{self, Output};

pub fn main(args: &[&str]) -> u8 {
    let parsed = match options::parse("sort", args, "nru", "k") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let field = match options::count("sort", &parsed, 'k', 0) {
        Ok(0) if parsed.has('k') => return report::usage("sort", "-k: fields count from 1"),
        Ok(field) => field,
        Err(status) => return status,
    };
    let (numeric, reverse, unique) = (parsed.has('n'), parsed.has('r'), parsed.has('u'));
    let files: &[&str] = if parsed.operands.is_empty() { &["-"] } else { parsed.operands };
    let mut text = String::new();
    let mut status = OK;
    for &name in files {
        let mut bytes = Vec::new();
        match stream::open_input(name).and_then(|mut file| file.read_to_end(&mut bytes)) {
            Ok(_) => {
                text.push_str(&String::from_utf8_lossy(&bytes));
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
            }
            Err(err) => {
                report::error("sort", name, err);
                status = FAILED;
            }
        }
    }
    let key = |line: &str| -> String { if field > 0 { sort_key::field(line, field).into() } else { line.into() } };
    let mut lines: Vec<(String, &str)> = text.lines().map(|line| (key(line), line)).collect();
    let by_key = |a: &(String, &str), b: &(String, &str)| sort_key::compare(&a.0, &b.0, numeric);
    lines.sort_by(|a, b| {
        let order = by_key(a, b).then_with(|| a.1.cmp(b.1));
        if reverse { order.reverse() } else { order }
    });
    if unique {
        lines.dedup_by(|later, first| by_key(first, later) == Ordering::Equal);
    }
    let mut out = Output::new();
    for (_, line) in lines {
        if out.push(line.as_bytes()).and_then(|()| out.push(b"\n")).is_err() {
            return FAILED;
        }
    }
    if out.flush().is_err() {
        return FAILED;
    }
    status
}
