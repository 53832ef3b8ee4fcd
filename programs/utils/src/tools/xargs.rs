//! `xargs [-n MAX] [COMMAND [ARG...]]`: runs COMMAND (`echo` by default)
//! with the blank-separated words of standard input after ARG, all at
//! once or MAX at a time, waiting for each run. COMMAND is found as the
//! shell finds it: a path or URL as is, else in each directory of `PATH`
//! (separated by `;`). Status: 0, 123 when a run failed, 125 when one was
//! killed, 127 when COMMAND is not found. Starts only the command given.

use alloc::string::String;
use alloc::vec::Vec;

use rt::fs::File;

use crate::options;
use crate::report::{self, FAILED, OK};

/// The separator of `PATH` entries (a URL holds `:`).
const PATH_SEPARATOR: char = ';';

/// The URL of the program `name` names, if there is one.
fn find_program(name: &str) -> Option<String> {
    if name.contains('/') || rt::fs::is_url(name) {
        let url = rt::fs::resolve(name);
        return File::open(&url).is_ok().then_some(url);
    }
    let path = rt::env::var("PATH").unwrap_or("initfs:bin");
    path.split(PATH_SEPARATOR).filter(|dir| !dir.is_empty()).find_map(|dir| {
        let url = crate::walk::child(&rt::fs::resolve(dir), name);
        File::open(&url).is_ok().then_some(url)
    })
}

pub fn main(args: &[&str]) -> u8 {
    let parsed = match options::parse("xargs", args, "", "n") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let max = match options::count("xargs", &parsed, 'n', 0) {
        Ok(0) if parsed.has('n') => return report::usage("xargs", "-n: at least 1"),
        Ok(max) => max,
        Err(status) => return status,
    };
    let (command, fixed) = match parsed.operands.split_first() {
        Some((&command, fixed)) => (command, fixed),
        None => ("echo", &[][..]),
    };
    let mut input = Vec::new();
    let mut buf = alloc::vec![0u8; crate::stream::CHUNK];
    loop {
        match rt::io::read(rt::io::STDIN, &mut buf) {
            Ok(0) => break,
            Ok(n) => input.extend_from_slice(&buf[..n]),
            Err(err) => {
                report::error("xargs", "standard input", err);
                return FAILED;
            }
        }
    }
    let input = String::from_utf8_lossy(&input);
    let words: Vec<&str> = input.split_ascii_whitespace().collect();
    let Some(program) = find_program(command) else {
        rt::eprintln!("xargs: {command}: command not found");
        return 127;
    };
    let batches: Vec<&[&str]> = if words.is_empty() {
        alloc::vec![&[][..]]
    } else {
        words.chunks(if max == 0 { words.len() } else { max }).collect()
    };
    let mut status = OK;
    for batch in batches {
        let argv: Vec<&str> = fixed.iter().chain(batch).copied().collect();
        let result = rt::process::spawn(&program, &argv).and_then(rt::process::wait);
        match result {
            Ok(exit) if exit.success() => {}
            Ok(exit) if exit.signal().is_some() => {
                rt::eprintln!("xargs: {command}: {exit}");
                return 125;
            }
            Ok(_) => status = 123,
            Err(err) => {
                report::error("xargs", command, err);
                return 126;
            }
        }
    }
    status
}
