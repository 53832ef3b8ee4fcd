//! `basename NAME [SUFFIX]` and `dirname NAME`: the last part of a path
//! or URL (without SUFFIX) and what leads to it, where a scheme's root is
//! a directory as `/` is: `dirname tmp:a/b` is `tmp:a`, `dirname tmp:a` is
//! `tmp:`. Pure text: touches no file.

use rt::println;

use crate::report::{self, OK};

pub fn basename_main(args: &[&str]) -> u8 {
    let (name, suffix) = match args {
        [name] => (name, ""),
        [name, suffix] => (name, *suffix),
        _ => return report::usage("basename", "a name and an optional suffix expected"),
    };
    println!("{}", text_tools::url::basename(name, suffix));
    OK
}

pub fn dirname_main(args: &[&str]) -> u8 {
    let [name] = args else { return report::usage("dirname", "one name expected") };
    println!("{}", text_tools::url::dirname(name));
    OK
}
