//! `mkdir DIR...`: creates each directory (`O_CREAT | O_DIRECTORY |
//! O_EXCL`, so an existing one is an error).

use rt::abi::syscall::{O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY};
use rt::fs::File;

use crate::report::{self, FAILED, OK};

pub fn main(args: &[&str]) -> u8 {
    if args.is_empty() {
        return report::usage("mkdir", "missing operand");
    }
    let mut status = OK;
    for &arg in args {
        if let Err(err) = File::open_with(&rt::fs::resolve(arg), O_RDONLY | O_CREAT | O_DIRECTORY | O_EXCL) {
            report::error("mkdir", arg, err);
            status = FAILED;
        }
    }
    status
}
