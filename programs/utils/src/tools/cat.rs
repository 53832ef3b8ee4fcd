//! `cat [FILE...]`: writes each file (standard input for `-` or none) to
//! standard output, in order.

use crate::report::{self, FAILED, OK};
use crate::stream;

pub fn main(args: &[&str]) -> u8 {
    let args: &[&str] = if args.is_empty() { &["-"] } else { args };
    let mut status = OK;
    for &arg in args {
        let mut file = match stream::open_input(arg) {
            Ok(file) => file,
            Err(err) => {
                report::error("cat", arg, err);
                status = FAILED;
                continue;
            }
        };
        match stream::copy(&mut file, rt::io::STDOUT) {
            Ok(_) => {}
            Err((true, err)) => {
                report::error("cat", arg, err);
                status = FAILED;
            }
            Err((false, err)) => {
                report::error("cat", "write error", err);
                return FAILED;
            }
        }
    }
    status
}
