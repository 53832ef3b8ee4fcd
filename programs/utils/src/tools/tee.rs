//! `tee [-a] [FILE...]`: copies standard input to standard output and to
//! each file (created or truncated; appended to with `-a`). A file that
//! cannot be opened or written is reported and dropped; the copy goes on.
//! Writes only the files it is given.

use alloc::vec::Vec;

use rt::abi::syscall::{O_APPEND, O_CREAT, O_TRUNC, O_WRONLY};
use rt::fs::File;

use crate::options;
use crate::report::{self, FAILED, OK};
use crate::stream;

pub fn main(args: &[&str]) -> u8 {
    let parsed = match options::parse("tee", args, "a", "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let flags = O_WRONLY | O_CREAT | if parsed.has('a') { O_APPEND } else { O_TRUNC };
    let mut status = OK;
    let mut files: Vec<(&str, File)> = Vec::new();
    for &name in parsed.operands {
        match File::open_with(&rt::fs::resolve(name), flags) {
            Ok(file) => files.push((name, file)),
            Err(err) => {
                report::error("tee", name, err);
                status = FAILED;
            }
        }
    }
    let mut buf = alloc::vec![0u8; stream::CHUNK];
    loop {
        let n = match rt::io::read(rt::io::STDIN, &mut buf) {
            Ok(0) => return status,
            Ok(n) => n,
            Err(err) => {
                report::error("tee", "standard input", err);
                return FAILED;
            }
        };
        if rt::io::write_stdout(&buf[..n]).is_err() {
            status = FAILED;
        }
        files.retain_mut(|(name, file)| match file.write_all(&buf[..n]) {
            Ok(()) => true,
            Err(err) => {
                report::error("tee", name, err);
                status = FAILED;
                false
            }
        });
    }
}
