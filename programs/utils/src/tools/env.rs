//! `env`: prints the environment, one `NAME=VALUE` per line, in the order
//! the program received it.

use crate::report::OK;

pub fn main(args: &[&str]) -> u8 {
    if !args.is_empty() {
        return crate::report::usage("env", "takes no arguments");
    }
    for entry in rt::env::vars_bytes() {
        let _ = rt::io::write_stdout(entry);
        let _ = rt::io::write_stdout(b"\n");
    }
    OK
}
