//! `sync [PATH...]`: make what was written to the file systems the paths
//! are on durable now (`fsync` on each), instead of within the second
//! `file:` allows itself; without paths, `file:` and `tmp:`, each when it
//! is there. Prints nothing when all went well.

use alloc::vec::Vec;

use rt::abi::syscall::{ENODEV, ENOENT};
use rt::fs::File;

use crate::report::{self, FAILED, OK};

/// What `sync` makes durable when given no paths.
const DEFAULT: &[&str] = &["file:", "tmp:"];

pub fn main(args: &[&str]) -> u8 {
    if args.iter().any(|arg| arg.starts_with('-')) {
        return report::usage("sync", "unknown option");
    }
    let explicit = !args.is_empty();
    let paths: Vec<&str> = if explicit { args.to_vec() } else { DEFAULT.to_vec() };
    let mut status = OK;
    for path in paths {
        match File::open(&rt::fs::resolve(path)).and_then(|file| file.sync()) {
            Ok(()) => {}
            // A default file system that is not there (no disk) is left out.
            Err(err) if !explicit && matches!(err.errno, ENOENT | ENODEV) => {}
            Err(err) => {
                report::error("sync", path, err);
                status = FAILED;
            }
        }
    }
    status
}
