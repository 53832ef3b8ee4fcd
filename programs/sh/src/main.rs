//! `sh`: the shell. Reads command lines and scripts (the language is in
//! `lib/shell-syntax`: words, quotes, parameters, `$(…)`, pipes, `;`,
//! `&&`, `||`, `&`, redirections to URLs, here-documents, `if`, `while`,
//! `until`, `for`, `case`, functions) and runs them: builtins and
//! functions in the shell itself, programs found on `$PATH` as children.
//!
//! ```text
//! sh                          interactive on a console (line editing,
//!                             history, job control, `> ` to go on with an
//!                             unfinished command), otherwise reads
//!                             commands from stdin
//! sh -c 'COMMANDS' [NAME [ARG...]]  runs COMMANDS ($0 = NAME, $1... = ARGs)
//!                             and exits with the last status
//! sh FILE [ARG...]            runs the script FILE (a path or URL) with
//!                             $0 = FILE, $1... = ARGs
//! ```
//!
//! The kernel has no current directory: the shell keeps one (a URL such as
//! `initfs:` or `tmp:dir`) and exports it as `PWD`, which utilities use to
//! resolve relative paths (`rt::fs::resolve`). `PATH` lists directories
//! separated by `;` (URLs contain `:`). Modules: `shell` (variables,
//! directory, status, parameters, functions), `execute` (lists,
//! pipelines, simple commands, jobs), `compound` (`if`, loops, `case`,
//! function calls), `expand` (parameters, command substitution),
//! `redirect` (redirections, here-documents), `builtins`, `test` (`test`
//! and `[`), `search` (finding programs), `script` (reading commands from
//! a file or pipe), `terminal` (the interactive console).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod builtins;
mod complete;
mod compound;
mod execute;
mod expand;
mod redirect;
mod script;
mod search;
mod shell;
mod terminal;
mod test;

use alloc::string::String;
use alloc::vec::Vec;

use rt::fs::File;
use rt::prelude::*;
use rt::process::ExitCode;

use shell::Shell;

rt::main!(main);

const USAGE: &str = "usage: sh [-c COMMANDS [NAME [ARG...]] | FILE [ARG...]]";

fn main() -> ExitCode {
    let args: Vec<&str> = rt::env::args().skip(1).collect();
    let mut shell = Shell::new(args.is_empty());
    let status = match args.as_slice() {
        ["-c", commands, rest @ ..] => {
            if let [name, arguments @ ..] = rest {
                shell.arg0 = String::from(*name);
                shell.positional = arguments.iter().map(|arg| String::from(*arg)).collect();
            }
            shell.run_text(commands);
            shell.status
        }
        ["-c"] => {
            eprintln!("sh: -c needs an argument\n{USAGE}");
            2
        }
        [file, arguments @ ..] if !file.starts_with('-') => match File::open(&shell.resolve(file)) {
            Ok(mut script) => {
                shell.arg0 = String::from(*file);
                shell.positional = arguments.iter().map(|arg| String::from(*arg)).collect();
                script::run(&mut shell, &mut script);
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
        // Unknown options.
        _ => {
            eprintln!("sh: bad arguments: {}\n{USAGE}", args.join(" "));
            2
        }
    };
    ExitCode::from(shell.exit_code.unwrap_or(status) as u8)
}
