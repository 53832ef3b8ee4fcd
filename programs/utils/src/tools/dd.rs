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

use rt::eprintln;
use rt::fs::File;

use crate::report::{self, FAILED, OK};
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
    let mut from = match input {
        Some(path) => match File::open(&rt::fs::resolve(path)) {
            Ok(file) => file,
            Err(err) => {
                report::error("dd", path, err);
                return FAILED;
            }
        },
        None => File::from_fd(rt::sys::dup(rt::io::STDIN, &[]).unwrap_or(rt::io::STDIN)),
    };
    let to = match output {
        Some(path) => match File::create(&rt::fs::resolve(path)) {
            Ok(file) => file,
            Err(err) => {
                report::error("dd", path, err);
                return FAILED;
            }
        },
        None => File::from_fd(rt::sys::dup(rt::io::STDOUT, &[]).unwrap_or(rt::io::STDOUT)),
    };
    let mut buf = alloc::vec![0u8; bs as usize];
    // Records read and written, full and partial.
    let (mut full, mut partial, mut bytes) = (0u64, 0u64, 0u64);
    let (mut full_out, mut partial_out) = (0u64, 0u64);
    let start = rt::time::now();
    let mut status = OK;
    while count.is_none_or(|count| full + partial < count) {
        let n = match from.read(&mut buf) {
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
        if let Err(err) = rt::io::write_all(to.fd(), &buf[..n]) {
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
