//! `find [PATH...] [-name GLOB] [-type f|d]`: every file and directory
//! under each PATH (the current directory by default), the PATH itself
//! included, parents first, printed as URLs (`tmp:a/b`); `-name` keeps
//! those whose last component matches GLOB (`*`, `?`, `[...]`), `-type`
//! only files (`f`) or directories (`d`). Reads only.

use alloc::vec::Vec;

use rt::println;

use crate::report::{self, FAILED, OK};
use crate::walk;

pub fn main(args: &[&str]) -> u8 {
    let split = args.iter().position(|arg| arg.starts_with('-') && *arg != "-").unwrap_or(args.len());
    let (paths, mut tests) = args.split_at(split);
    let mut name: Option<&str> = None;
    let mut kind: Option<bool> = None;
    while let Some((&test, rest)) = tests.split_first() {
        let Some((&value, rest)) = rest.split_first() else {
            return report::usage("find", &alloc::format!("{test} needs a value"));
        };
        match (test, value) {
            ("-name", glob) => name = Some(glob),
            ("-type", "f") => kind = Some(false),
            ("-type", "d") => kind = Some(true),
            ("-type", other) => return report::usage("find", &alloc::format!("-type {other}: f or d expected")),
            (other, _) => return report::unknown_option("find", other),
        }
        tests = rest;
    }
    let paths: Vec<&str> = if paths.is_empty() { alloc::vec!["."] } else { paths.to_vec() };
    let mut status = OK;
    for path in paths {
        let root = rt::fs::resolve(path);
        walk::walk(
            &root,
            &mut |url, is_dir| {
                if kind.is_some_and(|want_dir| want_dir != is_dir) {
                    return;
                }
                if let Some(glob) = name {
                    let last = text_tools::url::basename(url, "");
                    if !text_tools::glob::matches(glob, last) {
                        return;
                    }
                }
                println!("{url}");
            },
            &mut |url, err| {
                report::error("find", url, err);
                status = FAILED;
            },
        );
    }
    status
}
