//! `hexdump [-C] [FILE...]`: the canonical hex+ASCII dump (what `hexdump
//! -C` prints; `-C` is accepted and is the only format): per 16 bytes the
//! offset in 8 hex digits, the bytes in hex in two groups of 8, and the
//! printable ones between `|`, then a line with the total length. The
//! files are dumped as one stream. Repeated lines are not folded into `*`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::report::{self, FAILED, OK};
use crate::stream;

/// One dump line for `bytes` (at most 16) at `offset`.
pub fn line(offset: u64, bytes: &[u8]) -> String {
    let mut text = String::new();
    let _ = write!(text, "{offset:08x} ");
    for i in 0..16 {
        if i == 8 {
            text.push(' ');
        }
        match bytes.get(i) {
            Some(byte) => {
                let _ = write!(text, " {byte:02x}");
            }
            None => text.push_str("   "),
        }
    }
    text.push_str("  |");
    text.extend(bytes.iter().map(|&b| if (0x20..0x7f).contains(&b) { char::from(b) } else { '.' }));
    text.push_str("|\n");
    text
}

pub fn main(args: &[&str]) -> u8 {
    let files: Vec<&str> = args.iter().copied().filter(|&arg| arg != "-C").collect();
    let files: &[&str] = if files.is_empty() { &["-"] } else { &files };
    let mut status = OK;
    let mut offset = 0u64;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = alloc::vec![0u8; stream::CHUNK];
    for &arg in files {
        let mut file = match stream::open_input(arg) {
            Ok(file) => file,
            Err(err) => {
                report::error("hexdump", arg, err);
                status = FAILED;
                continue;
            }
        };
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) => {
                    report::error("hexdump", arg, err);
                    status = FAILED;
                    break;
                }
            };
            pending.extend_from_slice(&buf[..n]);
            let whole = pending.len() / 16 * 16;
            let mut out = String::new();
            for chunk in pending[..whole].chunks(16) {
                out.push_str(&line(offset, chunk));
                offset += 16;
            }
            pending.drain(..whole);
            if let Err(err) = rt::io::write_stdout(out.as_bytes()) {
                report::error("hexdump", "write error", err);
                return FAILED;
            }
        }
    }
    let mut out = String::new();
    if !pending.is_empty() {
        out.push_str(&line(offset, &pending));
        offset += pending.len() as u64;
    }
    if offset > 0 {
        let _ = writeln!(out, "{offset:08x}");
    }
    if let Err(err) = rt::io::write_stdout(out.as_bytes()) {
        report::error("hexdump", "write error", err);
        return FAILED;
    }
    status
}
