//! `cp SOURCE DEST`: copies a file; when `DEST` is a directory the copy
//! goes inside it under the source's name. Also the copy half of `mv`
//! across schemes ([`copy_file`]).

use alloc::format;
use alloc::string::String;

use crate::report::{self, FAILED, OK};
use crate::stream;

/// Where a copy (or move) of `source` to `dest` lands: `dest`, or
/// `dest/NAME` when `dest` is an existing directory.
pub fn target(source: &str, dest: &str) -> String {
    let url = rt::fs::resolve(dest);
    if !stream::names_dir(&url) {
        return url;
    }
    let name = source.rsplit(['/', ':']).find(|part| !part.is_empty()).unwrap_or(source);
    if url.ends_with(':') || url.ends_with('/') { format!("{url}{name}") } else { format!("{url}/{name}") }
}

/// Copies the file `source` (as typed) to the URL `to`; errors are
/// reported under `tool` and make the result `false`. The source's open
/// and first read are one system call, and so are the destination's
/// create and first write (`rt::batch`: each one request to a daemon's
/// scheme), so a small file costs two calls and the read that finds its
/// end.
pub fn copy_file(tool: &str, source: &str, to: &str, dest: &str) -> bool {
    let mut first = [0u8; stream::FIRST_READ];
    let (mut from, n) = match stream::open_input_reading(source, &mut first) {
        Ok(opened) => opened,
        Err(err) => {
            report::error(tool, source, err);
            return false;
        }
    };
    let out = match stream::create_writing(to, &first[..n]) {
        Ok(file) => file,
        Err(err) => {
            report::error(tool, dest, err);
            return false;
        }
    };
    if n == 0 && source != "-" {
        // Empty: the first read found the end already.
        return true;
    }
    match stream::copy(&mut from, out.fd()) {
        Ok(_) => true,
        Err((true, err)) => {
            report::error(tool, source, err);
            false
        }
        Err((false, err)) => {
            report::error(tool, dest, err);
            false
        }
    }
}

pub fn main(args: &[&str]) -> u8 {
    let [source, dest] = args else {
        return report::usage("cp", "needs a source and a destination");
    };
    if copy_file("cp", source, &target(source, dest), dest) { OK } else { FAILED }
}
