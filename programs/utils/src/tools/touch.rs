//! `touch FILE...`: creates each file that does not exist (empty); an
//! existing file is left as it is (there are no timestamps to update).

use rt::abi::syscall::{O_CREAT, O_WRONLY};
use rt::fs::File;

use crate::report::{self, FAILED, OK};

pub fn main(args: &[&str]) -> u8 {
    if args.is_empty() {
        return report::usage("touch", "missing file operand");
    }
    let mut status = OK;
    for &arg in args {
        if let Err(err) = File::open_with(&rt::fs::resolve(arg), O_WRONLY | O_CREAT) {
            report::error("touch", arg, err);
            status = FAILED;
        }
    }
    status
}
