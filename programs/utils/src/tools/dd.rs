//! `dd [if=URL] [of=URL] [bs=N] [count=N]`: copies records of `bs` bytes
//! (512 by default; `K`, `M`, `G` suffixes are powers of 1024) from `if`
//! (standard input) to `of` (standard output), at most `count` of them,
//! and reports on standard error like dd:
//!
//! ```text
//! 16+0 records in
//! 16+0 records out
//! 1048576 bytes (1.0 MiB) copied, 0.052 s, 19.2 MiB/s
//! ```
//!
//! `a+b` counts full and partial records (a short read is a partial
//! record, written as it came).

use alloc::format;

use rt::abi::syscall as sc;
use rt::batch::{Batch, On};
use rt::eprintln;
use rt::fs::File;

use crate::report::{self, FAILED, OK};
use crate::stream;
use crate::tools::free::human;

/// A size with an optional `K`/`M`/`G` suffix (powers of 1024).
fn size(text: &str) -> Option<u64> {
    let (digits, scale) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1 << 10),
        b'M' | b'm' => (&text[..text.len() - 1], 1 << 20),
        b'G' | b'g' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

/// The input file at `url`, and (when `read` says so) the result of its
/// first read into `buf`, made with the open: an open that fails is the
/// error, a read that fails is the first record's.
fn open_reading(url: &str, buf: &mut [u8], read: bool) -> rt::Result<(File, Option<rt::Result<usize>>)> {
    if !read {
        return Ok((File::open(url)?, None));
    }
    let mut batch = Batch::new();
    batch.open(url, sc::O_RDONLY);
    batch.read(On::Opened, buf);
    let results = batch.submit()?;
    Ok((File::from_fd(results[0]?), Some(results[1])))
}

/// The output: `path` created with `first` written to it (one system call,
/// [`stream::create_writing`]), or standard output with `first` written.
fn open_output(path: Option<&str>, first: &[u8]) -> rt::Result<File> {
    match path {
        Some(path) => stream::create_writing(&rt::fs::resolve(path), first),
        None => {
            let file = File::from_fd(rt::sys::dup(rt::io::STDOUT, &[]).unwrap_or(rt::io::STDOUT));
            rt::io::write_all(file.fd(), first)?;
            Ok(file)
        }
    }
}

pub fn main(args: &[&str]) -> u8 {
    let (mut input, mut output, mut bs, mut count) = (None, None, 512u64, None);
    for &arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            return report::usage("dd", &format!("unknown operand {arg}"));
        };
        match key {
            "if" => input = Some(value),
            "of" => output = Some(value),
            "bs" => match size(value) {
                Some(n) if n > 0 && n <= 16 << 20 => bs = n,
                _ => return report::usage("dd", &format!("invalid block size {value}")),
            },
            "count" => match value.parse::<u64>() {
                Ok(n) => count = Some(n),
                Err(_) => return report::usage("dd", &format!("invalid count {value}")),
            },
            _ => return report::usage("dd", &format!("unknown operand {arg}")),
        }
    }
    let mut buf = alloc::vec![0u8; bs as usize];
    let start = rt::time::now();
    // A named input is opened with its first record read in the same
    // system call (`rt::batch`: one request to a daemon's scheme).
    let (mut from, mut first) = match input {
        Some(path) => match open_reading(&rt::fs::resolve(path), &mut buf, count != Some(0)) {
            Ok(opened) => opened,
            Err(err) => {
                report::error("dd", path, err);
                return FAILED;
            }
        },
        None => (File::from_fd(rt::sys::dup(rt::io::STDIN, &[]).unwrap_or(rt::io::STDIN)), None),
    };
    // Records read and written, full and partial.
    let (mut full, mut partial, mut bytes) = (0u64, 0u64, 0u64);
    let (mut full_out, mut partial_out) = (0u64, 0u64);
    let mut status = OK;
    // A named output is created with the first record written in the
    // same system call, as the input was opened.
    let (mut to, mut output_tried): (Option<File>, bool) = (None, false);
    while count.is_none_or(|count| full + partial < count) {
        let read = match first.take() {
            Some(read) => read,
            None => from.read(&mut buf),
        };
        let n = match read {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => {
                report::error("dd", input.unwrap_or("standard input"), err);
                status = FAILED;
                break;
            }
        };
        if n as u64 == bs {
            full += 1;
        } else {
            partial += 1;
        }
        let written = match &to {
            Some(file) => rt::io::write_all(file.fd(), &buf[..n]),
            None => {
                output_tried = true;
                open_output(output, &buf[..n]).map(|file| to = Some(file))
            }
        };
        if let Err(err) = written {
            report::error("dd", output.unwrap_or("standard output"), err);
            status = FAILED;
            break;
        }
        if n as u64 == bs {
            full_out += 1;
        } else {
            partial_out += 1;
        }
        bytes += n as u64;
    }
    // Nothing read: the output is made all the same, as dd does.
    if !output_tried && let Err(err) = open_output(output, &[]) {
        report::error("dd", output.unwrap_or("standard output"), err);
        status = FAILED;
    }
    let elapsed = rt::time::now() - start;
    let micros = elapsed.as_micros().max(1) as u64;
    let rate = bytes.saturating_mul(1_000_000) / micros;
    eprintln!("{full}+{partial} records in");
    eprintln!("{full_out}+{partial_out} records out");
    eprintln!(
        "{bytes} bytes ({}) copied, {}.{:03} s, {}/s",
        human(bytes),
        elapsed.as_secs(),
        elapsed.subsec_millis(),
        human(rate)
    );
    status
}
