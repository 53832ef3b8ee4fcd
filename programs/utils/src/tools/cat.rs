//! `cat [FILE...]`: writes each file (standard input for `-` or none) to
//! standard output, in order.

use crate::report::{self, FAILED, OK};
use crate::stream;

pub fn main(args: &[&str]) -> u8 {
    let args: &[&str] = if args.is_empty() { &["-"] } else { args };
    let mut status = OK;
    let mut first = [0u8; stream::FIRST_READ];
    for &arg in args {
        // Open and first read in one call: a small file takes two (this
        // and the read that finds its end).
        let (mut file, n) = match stream::open_input_reading(arg, &mut first) {
            Ok(opened) => opened,
            Err(err) => {
                report::error("cat", arg, err);
                status = FAILED;
                continue;
            }
        };
        if let Err(err) = rt::io::write_out(rt::io::STDOUT, &first[..n]) {
            report::error("cat", "write error", err);
            return FAILED;
        }
        if n == 0 && arg != "-" {
            continue;
        }
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
