//! `sh`: the shell. Reads command lines (the language is in
//! `lib/shell-syntax`: words, quotes, `$VAR`, pipes, `;`, `&&`, `||`, `&`,
//! redirections to URLs) and runs them: builtins in the shell itself,
//! programs found on `$PATH` as children.
//!
//! ```text
//! sh                  interactive on a console (line editing, history,
//!                     job control), otherwise reads commands from stdin
//! sh -c 'COMMANDS'    runs COMMANDS and exits with the last status
//! sh FILE             runs the script FILE (a path or URL)
//! ```
//!
//! The kernel has no current directory: the shell keeps one (a URL such as
//! `initfs:` or `tmp:dir`) and exports it as `PWD`, which utilities use to
//! resolve relative paths (`rt::fs::resolve`). `PATH` lists directories
//! separated by `;` (URLs contain `:`). Modules: `shell` (variables,
//! directory, status), `execute` (pipelines, redirections, jobs),
//! `builtins`, `search` (finding programs), `script` (reading commands
//! from a file or pipe), `terminal` (the interactive console).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod builtins;
mod execute;
mod script;
mod search;
mod shell;
mod terminal;

use alloc::vec::Vec;

use rt::fs::File;
use rt::prelude::*;
use rt::process::ExitCode;

use shell::Shell;

rt::main!(main);

const USAGE: &str = "usage: sh [-c COMMANDS | FILE]";

fn main() -> ExitCode {
    let args: Vec<&str> = rt::env::args().skip(1).collect();
    let mut shell = Shell::new(args.is_empty());
    let status = match args.as_slice() {
        ["-c", commands] => {
            shell.run_text(commands);
            shell.status
        }
        ["-c"] => {
            eprintln!("sh: -c needs an argument\n{USAGE}");
            2
        }
        [file] if !file.starts_with('-') => match File::open(&shell.resolve(file)) {
            Ok(mut file) => {
                script::run(&mut shell, &mut file);
                shell.status
            }
            Err(err) => {
                eprintln!("sh: {file}: {err}");
                127
            }
        },
        [] => match terminal::Terminal::open() {
            Some(terminal) => terminal::interact(&mut shell, terminal),
            None => {
                let mut stdin = File::from_fd(rt::io::STDIN);
                script::run(&mut shell, &mut stdin);
                // Standard input stays open for the children that share it.
                let _ = stdin.into_fd();
                shell.status
            }
        },
        // Unknown options, or words after the script or commands (there
        // are no positional parameters).
        _ => {
            eprintln!("sh: bad arguments: {}\n{USAGE}", args.join(" "));
            2
        }
    };
    ExitCode::from(shell.exit_code.unwrap_or(status) as u8)
}
