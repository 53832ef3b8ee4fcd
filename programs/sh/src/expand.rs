//! Expanding words with the shell's state: what `$NAME`, `$1`, `$#`, `$?`,
//! `$$` and `$!` hold (and `${NAME=WORD}` sets), and command substitution (`$(…)`, `` `…` ``), which
//! runs its list in a forked copy of the shell writing into a pipe and
//! takes what it printed. The splitting and quoting rules are
//! `lib/shell-syntax`'s.
//!
//! May touch: a pipe and a child per command substitution.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rt::prelude::*;
use rt::process::Fork;
use shell_syntax::{AndOr, Context, Param, Word};

use crate::shell::{Shell, status_of};

struct Expander<'a> {
    shell: &'a mut Shell,
}

impl Context for Expander<'_> {
    fn param(&mut self, param: &Param) -> Option<String> {
        let shell = &*self.shell;
        match param {
            Param::Name(name) => shell.vars.get(name).cloned(),
            Param::Positional(0) => Some(shell.arg0.clone()),
            Param::Positional(n) => shell.positional.get(n - 1).cloned(),
            Param::Status => Some(format!("{}", shell.status)),
            Param::Count => Some(format!("{}", shell.positional.len())),
            Param::Pid => Some(format!("{}", shell.pid)),
            Param::LastBackground => shell.last_background.map(|pid| format!("{pid}")),
            Param::All | Param::AllJoined => Some(shell.positional.join(" ")),
        }
    }

    fn positional(&mut self) -> Vec<String> {
        self.shell.positional.clone()
    }

    fn substitute(&mut self, list: &[AndOr]) -> String {
        substitute(self.shell, list)
    }

    fn fail(&mut self, message: String) {
        eprintln!("sh: {message}");
        self.shell.expansion_failed = true;
    }

    fn assign(&mut self, name: &str, value: String) {
        if name == "PWD" {
            self.shell.set_cwd(value);
        } else {
            self.shell.vars.insert(String::from(name), value);
        }
    }
}

/// Whether an expansion since the last call failed (`$((1/0))`, reported
/// already): the command it was for must not run.
pub fn failed(shell: &mut Shell) -> bool {
    core::mem::take(&mut shell.expansion_failed)
}

/// The fields (arguments) `word` expands to.
pub fn fields(shell: &mut Shell, word: &Word) -> Vec<String> {
    word.fields(&mut Expander { shell })
}

/// `word` as one string (no field splitting).
pub fn string(shell: &mut Shell, word: &Word) -> String {
    word.string(&mut Expander { shell })
}

/// `word` as a `case` pattern.
pub fn pattern(shell: &mut Shell, word: &Word) -> String {
    word.pattern(&mut Expander { shell })
}

/// Runs `list` in a forked copy of the shell with its standard output on
/// a pipe; returns what it printed. Its status is kept in
/// `substitution_status`.
fn substitute(shell: &mut Shell, list: &[AndOr]) -> String {
    let (mut reader, writer) = match rt::fs::pipe() {
        Ok(pipe) => pipe,
        Err(err) => {
            eprintln!("sh: command substitution: {err}");
            shell.substitution_status = Some(1);
            return String::new();
        }
    };
    match rt::process::fork() {
        Ok(Fork::Child) => {
            drop(reader);
            if let Err(err) = rt::sys::dup2(writer.fd(), rt::io::STDOUT, &[]) {
                eprintln!("sh: command substitution: {err}");
                rt::process::exit(1);
            }
            drop(writer);
            if let Some(control) = &shell.job_control {
                control.join_guard();
            }
            shell.job_control = None;
            shell.jobs.clear();
            crate::execute::list(shell, list, "");
            rt::process::exit(shell.exit_code.unwrap_or(shell.status))
        }
        Ok(Fork::Parent(pid)) => {
            drop(writer);
            let mut out = Vec::new();
            if let Err(err) = reader.read_to_end(&mut out) {
                eprintln!("sh: command substitution: {err}");
            }
            drop(reader);
            let status = match rt::process::wait(pid) {
                Ok(ended) => status_of(ended),
                Err(err) => {
                    eprintln!("sh: wait for {pid}: {err}");
                    1
                }
            };
            shell.substitution_status = Some(status);
            String::from_utf8_lossy(&out).into_owned()
        }
        Err(err) => {
            eprintln!("sh: fork: {err}");
            shell.substitution_status = Some(1);
            String::new()
        }
    }
}
