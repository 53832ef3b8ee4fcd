//! `utils`: every small utility (`ls`, `cat`, `echo`, `cp`, ...) in one
//! multi-call binary, so the initfs carries their shared runtime once. The
//! binary looks at the name it was run as (the last component of
//! `argv[0]`, after `/` or `:`): `initfs:bin/cat` runs `cat`. Run as
//! `utils NAME ARGS...` it runs `NAME`.
//!
//! The names are listed once, in `names.rs`, which `mk` also reads to
//! stage this binary as `bin/NAME` for each; a compile-time check keeps the
//! dispatch table below equal to that list. Each utility is a module of
//! `tools/`; the errors they print read `NAME: ARGUMENT: description`
//! (`report`), with exit status 1. Every utility answers `NAME --help`
//! (handled here, before the utility runs) with its summary and usage from
//! `names.rs`; a bad option prints `NAME: unknown option -x` and the same
//! usage on standard error, status 2.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod names;
mod net;
mod options;
mod report;
mod stream;
mod tools;
mod walk;

use alloc::vec::Vec;

use rt::prelude::*;
use rt::process::ExitCode;

rt::main!(main);

/// A utility's entry: its arguments after its name; returns the status.
type Tool = fn(&[&str]) -> u8;

/// The dispatch table, in the order of `names::UTILITIES`.
const TABLE: &[(&str, Tool)] = &[
    ("basename", tools::pathname::basename_main),
    ("cat", tools::cat::main),
    ("chan", tools::chan::main),
    ("cp", tools::cp::main),
    ("date", tools::date::main),
    ("dd", tools::dd::main),
    ("df", tools::df::main),
    ("dirname", tools::pathname::dirname_main),
    ("echo", tools::echo::main),
    ("env", tools::env::main),
    ("false", tools::truth::false_main),
    ("find", tools::find::main),
    ("free", tools::free::main),
    ("get", tools::get::main),
    ("grep", tools::grep::main),
    ("head", tools::head::main),
    ("hexdump", tools::hexdump::main),
    ("host", tools::host::main),
    ("httpd", tools::httpd::main),
    ("ifconfig", tools::ifconfig::main),
    ("kill", tools::kill::main),
    ("ls", tools::ls::main),
    ("mkdir", tools::mkdir::main),
    ("mv", tools::mv::main),
    ("nc", tools::nc::main),
    ("ping", tools::ping::main),
    ("poweroff", tools::power::poweroff_main),
    ("printf", tools::printf::main),
    ("ps", tools::ps::main),
    ("pwd", tools::pwd::main),
    ("reboot", tools::power::reboot_main),
    ("rm", tools::rm::main),
    ("rmdir", tools::rm::rmdir_main),
    ("seq", tools::seq::main),
    ("sleep", tools::sleep::main),
    ("sort", tools::sort::main),
    ("stat", tools::stat::main),
    ("sync", tools::sync::main),
    ("tail", tools::tail::main),
    ("tee", tools::tee::main),
    ("touch", tools::touch::main),
    ("true", tools::truth::true_main),
    ("uname", tools::uname::main),
    ("uniq", tools::uniq::main),
    ("uptime", tools::uptime::main),
    ("wc", tools::wc::main),
    ("xargs", tools::xargs::main),
];

const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn table_matches_names() -> bool {
    if TABLE.len() != names::UTILITIES.len() {
        return false;
    }
    let mut i = 0;
    while i < TABLE.len() {
        if !same_str(TABLE[i].0, names::UTILITIES[i]) {
            return false;
        }
        i += 1;
    }
    true
}

const _: () = assert!(table_matches_names(), "the dispatch table and names::UTILITIES differ");

/// The utility a path names: its last component after `/` or `:`.
fn basename(path: &str) -> &str {
    path.rsplit(['/', ':']).next().unwrap_or(path)
}

fn find(name: &str) -> Option<Tool> {
    TABLE.iter().find(|(n, _)| *n == name).map(|&(_, tool)| tool)
}

fn main() -> ExitCode {
    let args: Vec<&str> = rt::env::args().collect();
    let called = args.first().map_or("utils", |arg0| basename(arg0));
    let (name, tool, rest) = match find(called) {
        Some(tool) => (called, tool, args.get(1..).unwrap_or(&[])),
        None => match args.get(1).and_then(|&name| find(name).map(|tool| (name, tool))) {
            Some((name, tool)) => (name, tool, &args[2..]),
            None => {
                eprintln!("utils: run me as one of: {}", names::UTILITIES.join(" "));
                return ExitCode::from(2);
            }
        },
    };
    if rest.first() == Some(&"--help") {
        return ExitCode::from(report::help(name));
    }
    ExitCode::from(tool(rest))
}
