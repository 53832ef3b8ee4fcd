//! `uname [-a|-s|-r|-m]`: the system's name (the default), release or
//! machine, from `sys:uname` (`Ferrite 0.1.0 x86_64`); `-a` prints all
//! three.

use rt::println;

use crate::report::{self, FAILED, OK};

pub fn main(args: &[&str]) -> u8 {
    let Some(text) = report::read_text("uname", "sys:uname") else {
        return FAILED;
    };
    let fields: alloc::vec::Vec<&str> = text.split_whitespace().collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or("unknown");
    match args {
        [] | ["-s"] => println!("{}", field(0)),
        ["-r"] => println!("{}", field(1)),
        ["-m"] => println!("{}", field(2)),
        ["-a"] => println!("{}", fields.join(" ")),
        _ => return report::usage("uname", "unknown arguments"),
    }
    OK
}
