//! `test EXPR` and `[ EXPR ]`: the expression is `lib/shell-syntax`'s
//! (`evaluate_test`); this answers its questions about files, for a path
//! or URL of any scheme (relative ones against the current directory), by
//! opening it and asking `fstat`. Status 0 true, 1 false, 2 for an
//! expression that does not parse.
//!
//! May touch: the files named (opened for reading and closed).

use alloc::string::String;
use alloc::vec::Vec;

use rt::abi::syscall::{MODE_DIR, MODE_FILE, MODE_TYPE};
use rt::fs::File;
use rt::prelude::*;
use shell_syntax::{FileTest, evaluate_test};

use crate::shell::Shell;

/// The answer to `test` about the file at `path`.
fn file_test(shell: &Shell, test: FileTest, path: &str) -> bool {
    if path.is_empty() {
        return false;
    }
    let Ok(file) = File::open(&shell.resolve(path)) else { return false };
    if test == FileTest::Exists {
        return true;
    }
    let Ok(stat) = file.stat() else { return false };
    let mode = stat.st_mode;
    match test {
        FileTest::Exists => true,
        FileTest::File => mode & MODE_TYPE == MODE_FILE,
        FileTest::Directory => mode & MODE_TYPE == MODE_DIR,
        FileTest::NonEmpty => stat.st_size > 0,
        // The shell runs as root: any permission bit will do.
        FileTest::Readable => mode & 0o444 != 0,
        FileTest::Writable => mode & 0o222 != 0,
        FileTest::Executable => mode & 0o111 != 0,
    }
}

fn run(shell: &mut Shell, name: &str, args: &[String]) -> i32 {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut file = |test: FileTest, path: &str| file_test(shell, test, path);
    match evaluate_test(&args, &mut file) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(err) => {
            eprintln!("sh: {name}: {err}");
            2
        }
    }
}

/// `test EXPR`.
pub fn test(shell: &mut Shell, argv: &[String]) -> i32 {
    run(shell, "test", &argv[1..])
}

/// `[ EXPR ]`.
pub fn bracket(shell: &mut Shell, argv: &[String]) -> i32 {
    match argv[1..].split_last() {
        Some((last, args)) if last == "]" => run(shell, "[", args),
        _ => {
            eprintln!("sh: [: missing `]`");
            2
        }
    }
}
