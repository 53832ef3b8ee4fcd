//! `rm FILE...` removes files (`unlink`); `rmdir DIR...` removes empty
//! directories.

use crate::report::{self, FAILED, OK};

fn remove_each(tool: &str, args: &[&str], remove: fn(&str) -> rt::Result<()>) -> u8 {
    if args.is_empty() {
        return report::usage(tool, "missing operand");
    }
    let mut status = OK;
    for &arg in args {
        if let Err(err) = remove(&rt::fs::resolve(arg)) {
            report::error(tool, arg, err);
            status = FAILED;
        }
    }
    status
}

pub fn main(args: &[&str]) -> u8 {
    remove_each("rm", args, rt::fs::remove_file)
}

pub fn rmdir_main(args: &[&str]) -> u8 {
    remove_each("rmdir", args, rt::fs::remove_dir)
}
