//! The init.rc language: what `init` reads from `initfs:/etc/init.rc` to
//! know which programs to start, in which order, with which environment
//! (docs/architecture.md §1.5).
//!
//! Why a crate of its own: the parser is pure logic that must never panic
//! on whatever the file holds, so it lives here, `no_std` + `alloc`, where
//! it is unit-tested and fuzzed on the host (`cargo test -p initrc`); `init`
//! only executes the commands it returns.
//!
//! # The language
//!
//! ```text
//! # Comments start with `#` at the beginning of a word.
//! export PATH=initfs:bin          # for every program started after this
//! export GREETING="hello, world"  # quotes keep spaces in one word
//! export EMPTY=
//! unset EMPTY
//! run initfs:sbin/ipcd             # start a daemon, wait until it is ready
//! run initfs:sbin/logd --level "info"
//! spawn initfs:bin/sh             # start a program, do not wait
//! console serial: initfs:bin/sh   # a program on a console, restarted when it exits
//! restart on-failure initfs:sbin/tmpd   # like run, and started again if it fails
//! ```
//!
//! - One command per line. Blank lines and lines whose first non-blank
//!   character is `#` are ignored; a `#` that starts a word (at the start
//!   of the line or after a space or tab) begins a comment running to the
//!   end of the line. A `#` inside a word (`a#b`) or inside quotes is an
//!   ordinary character. A `\r` before the line end is dropped.
//! - A line is split into words at spaces and tabs. A double-quoted part
//!   of a word may contain spaces, tabs and `#`; inside quotes `\"` stands
//!   for `"` and `\\` for `\`, and any other backslash escape is an error.
//!   Quoted and unquoted parts join into one word (`a"b c"d` is `ab cd`)
//!   and `""` is an empty word. Quotes only group characters: `"run"` is
//!   the command `run`. Outside quotes a backslash is an ordinary
//!   character. A quote left open at the end of the line is an error, and
//!   so is a NUL byte anywhere in a line (it cannot reach a program).
//! - `export NAME=VALUE` sets the environment variable `NAME` for every
//!   program started after it (replacing an earlier value). `NAME` is
//!   `[A-Za-z_][A-Za-z0-9_]*`; `VALUE` may be empty and may be quoted.
//!   Exactly one `NAME=VALUE` word follows `export`.
//! - `unset NAME` removes the variable (nothing happens if it is not set).
//! - `run PROGRAM ARGS...` starts the program at the URL `PROGRAM` (no
//!   `PATH` lookup) with the arguments `ARGS` and waits until it signals
//!   readiness or exits, before the next line runs.
//! - `spawn PROGRAM ARGS...` starts the program and goes on at once (a
//!   shell at the end of the script, say).
//! - `restart POLICY PROGRAM ARGS...` starts the program as `run` does and
//!   supervises it: with `on-failure` init starts it again when it is
//!   killed or exits with a non-zero status, with `always` whenever it
//!   ends. Restarts that come quickly one after another back off (see
//!   `init`), so a crash loop cannot eat the machine.
//! - `console URL PROGRAM ARGS...` starts the program with its standard
//!   input, output and error opened on the console `URL` (`serial:`,
//!   `fbcon:`), goes on at once, and starts it again whenever it exits: a
//!   shell that is left with `exit` comes back with a fresh prompt.
//! - Anything else is an error.
//!
//! Errors do not stop the parse: [`parse`] returns every command it could
//! read and an [`Error`] for every line it could not, each with its 1-based
//! line number and a reason ([`ErrorKind`]), which display as, for
//! example, `line 3: unknown command "rn"`. `init` logs the errors and runs
//! the rest.
//!
//! # Readiness
//!
//! For `run`, `init` passes the program the environment variable
//! `INIT_NOTIFY=<fd>`: the number of the write end of a pipe whose read end
//! `init` holds. A daemon signals that it is ready (its scheme registered,
//! say) by writing one byte to that fd and closing it; the scheme framework
//! does this for daemons built on it. If the fd is closed without a byte
//! (because the program closed it or exited), `init` reports that the
//! program stopped without signalling and goes on.
//!
//! [`Env`] is the environment `init` keeps while it runs a script:
//! `export` and `unset` applied in order, handed to each program as
//! `NAME=VALUE` entries.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

/// One command of the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `export NAME=VALUE`.
    Export { name: String, value: String },
    /// `unset NAME`.
    Unset { name: String },
    /// `run PROGRAM ARGS...`: start and wait for readiness or exit.
    Run(Program),
    /// `spawn PROGRAM ARGS...`: start and go on.
    Spawn(Program),
    /// `console URL PROGRAM ARGS...`: start on a console, restart on exit.
    Console { console: String, program: Program },
    /// `restart POLICY PROGRAM ARGS...`: start as `run` does, and start
    /// again when it ends as `policy` says.
    Restart { policy: Policy, program: Program },
}

/// When a supervised program is started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Whenever it ends.
    Always,
    /// When it is killed by a signal or exits with a non-zero status.
    OnFailure,
}

impl Policy {
    /// Whether a program that ended this way is started again: `failed`
    /// says whether it was killed or exited with a non-zero status.
    pub fn restarts(self, failed: bool) -> bool {
        match self {
            Policy::Always => true,
            Policy::OnFailure => failed,
        }
    }
}

/// A program to start: its URL and its arguments (after the program name,
/// like `std::process::Command`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The program's URL, `scheme:path` (never empty).
    pub path: String,
    /// The arguments after the program's name.
    pub args: Vec<String>,
}

impl Program {
    /// A short name for logs: the last part of the path, after the last
    /// `/` or `:` (`initfs:sbin/ipcd` is `ipcd`), or the whole path if that
    /// part is empty.
    pub fn name(&self) -> &str {
        match self.path.rsplit(['/', ':']).next() {
            Some(name) if !name.is_empty() => name,
            _ => &self.path,
        }
    }
}

/// The pace of a supervised program's restarts: one that ran for a while
/// before it ended is started again at once; one that ends within
/// [`Backoff::QUICK`] of its start waits [`Backoff::FIRST`], then twice as
/// long after each further quick end in a row, up to [`Backoff::MAX`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Backoff {
    quick_ends: u32,
}

impl Backoff {
    /// An end this soon after the start counts as a quick one.
    pub const QUICK: Duration = Duration::from_secs(2);
    /// The wait after the first quick end.
    pub const FIRST: Duration = Duration::from_millis(100);
    /// The longest wait.
    pub const MAX: Duration = Duration::from_secs(10);

    /// The program ended after running for `lived`: how long to wait
    /// before starting it again.
    pub fn delay(&mut self, lived: Duration) -> Duration {
        if lived >= Self::QUICK {
            self.quick_ends = 0;
            return Duration::ZERO;
        }
        self.quick_ends = self.quick_ends.saturating_add(1);
        let doublings = (self.quick_ends - 1).min(16);
        (Self::FIRST * (1u32 << doublings)).min(Self::MAX)
    }

    /// Quick ends in a row so far.
    pub fn quick_ends(&self) -> u32 {
        self.quick_ends
    }
}

/// A command and the line it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line number.
    pub line: usize,
    pub command: Command,
}

/// A line that is not a valid command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// 1-based line number.
    pub line: usize,
    pub kind: ErrorKind,
}

/// Why a line is not a valid command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The line is not UTF-8 (only from [`parse_bytes`]).
    NotUtf8,
    /// The line holds a NUL byte.
    NulByte,
    /// A `"` is not closed before the end of the line.
    UnterminatedQuote,
    /// A backslash inside quotes is followed by this character rather than
    /// `"` or `\`.
    UnknownEscape(char),
    /// The first word is not a command.
    UnknownCommand(String),
    /// The command needs an argument (`what`) that is missing.
    MissingArgument { command: &'static str, what: &'static str },
    /// The command takes one argument but got `count`.
    ExtraArguments { command: &'static str, count: usize },
    /// `export`'s argument has no `=`.
    MissingEquals(String),
    /// Not a valid variable name (`[A-Za-z_][A-Za-z0-9_]*`).
    BadName(String),
    /// `run`, `spawn`, `console` or `restart` with an empty program (`run ""`).
    EmptyProgram { command: &'static str },
    /// `console` with an empty console URL.
    EmptyConsole,
    /// `restart` with a policy other than `always` or `on-failure`.
    BadPolicy(String),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotUtf8 => f.write_str("not valid UTF-8"),
            ErrorKind::NulByte => f.write_str("contains a NUL byte"),
            ErrorKind::UnterminatedQuote => f.write_str("unterminated quote"),
            ErrorKind::UnknownEscape(c) => {
                write!(f, "unknown escape \\{} inside quotes (only \\\" and \\\\)", c.escape_debug())
            }
            ErrorKind::UnknownCommand(word) => {
                write!(f, "unknown command {word:?} (expected export, unset, run, spawn, console or restart)")
            }
            ErrorKind::MissingArgument { command, what } => write!(f, "{command} needs {what}"),
            ErrorKind::ExtraArguments { command, count } => {
                write!(f, "{command} takes one argument, found {count}")
            }
            ErrorKind::MissingEquals(word) => write!(f, "export {word:?}: expected NAME=VALUE"),
            ErrorKind::BadName(name) => {
                write!(f, "bad variable name {name:?} (letters, digits and _, not starting with a digit)")
            }
            ErrorKind::EmptyProgram { command } => write!(f, "{command}: empty program name"),
            ErrorKind::EmptyConsole => f.write_str("console: empty console URL"),
            ErrorKind::BadPolicy(word) => write!(f, "restart {word:?}: expected always or on-failure"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl core::error::Error for ErrorKind {}
impl core::error::Error for Error {}

/// A parsed script: every valid command in order, and every bad line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub steps: Vec<Step>,
    pub errors: Vec<Error>,
}

/// Parses the text of an init.rc. Never fails as a whole: bad lines become
/// [`Error`]s and the parse goes on with the next line.
pub fn parse(text: &str) -> Script {
    let mut script = Script::default();
    for (index, line) in text.split('\n').enumerate() {
        script.push_line(index + 1, parse_line(line));
    }
    script
}

/// Like [`parse`], for bytes that may not be UTF-8: a line that is not is
/// an [`ErrorKind::NotUtf8`] error and the other lines still count.
pub fn parse_bytes(bytes: &[u8]) -> Script {
    let mut script = Script::default();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let parsed = match core::str::from_utf8(line) {
            Ok(line) => parse_line(line),
            Err(_) => Err(ErrorKind::NotUtf8),
        };
        script.push_line(index + 1, parsed);
    }
    script
}

impl Script {
    fn push_line(&mut self, line: usize, parsed: Result<Option<Command>, ErrorKind>) {
        match parsed {
            Ok(Some(command)) => self.steps.push(Step { line, command }),
            Ok(None) => {}
            Err(kind) => self.errors.push(Error { line, kind }),
        }
    }
}

/// Parses one line (without its `\n`): `None` for a blank or comment line.
pub fn parse_line(line: &str) -> Result<Option<Command>, ErrorKind> {
    let mut words = split_words(line)?.into_iter();
    let Some(first) = words.next() else {
        return Ok(None);
    };
    let mut rest: Vec<String> = words.collect();
    let command = match first.as_str() {
        "export" => {
            let word = one_argument("export", "NAME=VALUE", rest)?;
            let Some((name, value)) = word.split_once('=') else {
                return Err(ErrorKind::MissingEquals(word));
            };
            check_name(name)?;
            Command::Export { name: String::from(name), value: String::from(value) }
        }
        "unset" => {
            let name = one_argument("unset", "a NAME", rest)?;
            check_name(&name)?;
            Command::Unset { name }
        }
        "run" => Command::Run(program("run", rest)?),
        "spawn" => Command::Spawn(program("spawn", rest)?),
        "console" => {
            if rest.is_empty() {
                return Err(ErrorKind::MissingArgument { command: "console", what: "a console URL" });
            }
            let console = rest.remove(0);
            if console.is_empty() {
                return Err(ErrorKind::EmptyConsole);
            }
            Command::Console { console, program: program("console", rest)? }
        }
        "restart" => {
            if rest.is_empty() {
                return Err(ErrorKind::MissingArgument { command: "restart", what: "a policy" });
            }
            let policy = match rest.remove(0).as_str() {
                "always" => Policy::Always,
                "on-failure" => Policy::OnFailure,
                other => return Err(ErrorKind::BadPolicy(String::from(other))),
            };
            Command::Restart { policy, program: program("restart", rest)? }
        }
        _ => return Err(ErrorKind::UnknownCommand(first)),
    };
    Ok(Some(command))
}

fn one_argument(command: &'static str, what: &'static str, mut rest: Vec<String>) -> Result<String, ErrorKind> {
    match rest.len() {
        0 => Err(ErrorKind::MissingArgument { command, what }),
        1 => Ok(rest.remove(0)),
        count => Err(ErrorKind::ExtraArguments { command, count }),
    }
}

fn program(command: &'static str, mut rest: Vec<String>) -> Result<Program, ErrorKind> {
    if rest.is_empty() {
        return Err(ErrorKind::MissingArgument { command, what: "a program" });
    }
    let path = rest.remove(0);
    if path.is_empty() {
        return Err(ErrorKind::EmptyProgram { command });
    }
    Ok(Program { path, args: rest })
}

fn check_name(name: &str) -> Result<(), ErrorKind> {
    if valid_name(name) { Ok(()) } else { Err(ErrorKind::BadName(String::from(name))) }
}

/// Whether `name` is a valid variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits one line into words by the quoting rules above, dropping a
/// comment. A trailing `\r` is ignored.
pub fn split_words(line: &str) -> Result<Vec<String>, ErrorKind> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.contains('\0') {
        return Err(ErrorKind::NulByte);
    }
    let mut words = Vec::new();
    // The word being built, `None` between words.
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '#' if word.is_none() => break,
            '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        None => return Err(ErrorKind::UnterminatedQuote),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            None => return Err(ErrorKind::UnterminatedQuote),
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(other) => return Err(ErrorKind::UnknownEscape(other)),
                        },
                        Some(c) => word.push(c),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// The environment `init` keeps while running a script: variables in the
/// order they were first set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Env {
        Env::default()
    }

    /// From `NAME=VALUE` entries (a process's own environment, say).
    /// Entries without `=` or with a bad name are skipped; a later entry
    /// replaces an earlier one with the same name.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a str>) -> Env {
        let mut env = Env::new();
        for entry in entries {
            if let Some((name, value)) = entry.split_once('=')
                && valid_name(name)
            {
                env.set(name, value);
            }
        }
        env
    }

    /// Sets `name` to `value`, in place if it is already set.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = String::from(value),
            None => self.vars.push((String::from(name), String::from(value))),
        }
    }

    /// Removes `name` if it is set.
    pub fn unset(&mut self, name: &str) {
        self.vars.retain(|(n, _)| n != name);
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Applies an `export` or `unset`; returns whether `command` was one
    /// (`run` and `spawn` leave the environment alone).
    pub fn apply(&mut self, command: &Command) -> bool {
        match command {
            Command::Export { name, value } => self.set(name, value),
            Command::Unset { name } => self.unset(name),
            Command::Run(_) | Command::Spawn(_) | Command::Console { .. } | Command::Restart { .. } => return false,
        }
        true
    }

    /// The variables as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many variables are set.
    pub fn len(&self) -> usize {
        self.vars.len()
    }

    /// Whether no variable is set.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// The `NAME=VALUE` entries a program is started with, in order.
    pub fn entries(&self) -> Vec<String> {
        self.iter().map(|(n, v)| alloc::format!("{n}={v}")).collect()
    }
}
