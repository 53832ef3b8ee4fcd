//! `pwd`: prints the current directory, the `PWD` the shell exports (the
//! shell's own builtin answers the same).

use rt::println;

use crate::report::{FAILED, OK};

pub fn main(_args: &[&str]) -> u8 {
    match rt::env::var("PWD") {
        Some(pwd) => {
            println!("{pwd}");
            OK
        }
        None => {
            rt::eprintln!("pwd: PWD is not set");
            FAILED
        }
    }
}
