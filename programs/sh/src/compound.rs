//! Compound commands and functions: `if`, `while`/`until`, `for`, `case`,
//! `{ … }` in the shell itself, `( … )` in a forked copy; calls of the
//! functions `NAME() { … }` defined, with their own positional
//! parameters; and how `break N`, `continue N` and `return` (set by the
//! builtins as `Shell::flow`) end the loops and calls they are for.
//!
//! Statuses follow sh: an `if` whose conditions all failed, a loop whose
//! body never ran and a `case` with no match are 0; otherwise the status
//! of the last command run in a body.
//!
//! May touch: what the commands inside touch.

use alloc::rc::Rc;

use rt::prelude::*;
use shell_syntax::{Command, Compound, Word, pattern_matches};

use crate::execute::{self, Prepared, Stage};
use crate::expand;
use crate::redirect;
use crate::shell::{Flow, Shell};

/// How deep function calls may nest (each is a few stack frames; a
/// runaway recursion ends with an error instead of a crash).
pub const MAX_CALLS: usize = 200;

/// Runs `compound` and returns its status.
pub fn run(shell: &mut Shell, compound: &Compound) -> i32 {
    match compound {
        Compound::Brace(lists) => {
            execute::list(shell, lists, "");
            shell.status
        }
        Compound::Subshell(lists) => execute::run_children(shell, &[Stage::Subshell(lists)]),
        Compound::If { branches, otherwise } => {
            for (condition, body) in branches {
                execute::list(shell, condition, "");
                if shell.stopping() {
                    return shell.status;
                }
                if shell.status == 0 {
                    execute::list(shell, body, "");
                    return shell.status;
                }
            }
            match otherwise {
                Some(body) => {
                    execute::list(shell, body, "");
                    shell.status
                }
                None => 0,
            }
        }
        Compound::Loop { until, condition, body } => in_loop(shell, |shell| {
            execute::list(shell, condition, "");
            if shell.stopping() {
                return Turn::Stopped;
            }
            if (shell.status == 0) == *until {
                return Turn::Finished;
            }
            execute::list(shell, body, "");
            Turn::Ran(shell.status)
        }),
        Compound::For { name, words, body } => {
            let values = match words {
                Some(words) => {
                    let mut values = alloc::vec::Vec::new();
                    for word in words {
                        values.extend(expand::fields(shell, word));
                    }
                    values
                }
                None => shell.positional.clone(),
            };
            if expand::failed(shell) {
                return execute::EXPANSION_FAILED;
            }
            let mut values = values.into_iter();
            in_loop(shell, |shell| {
                let Some(value) = values.next() else { return Turn::Finished };
                shell.vars.insert(name.clone(), value);
                execute::list(shell, body, "");
                Turn::Ran(shell.status)
            })
        }
        Compound::Case { word, arms } => {
            let value = expand::string(shell, word);
            if expand::failed(shell) {
                return execute::EXPANSION_FAILED;
            }
            for arm in arms {
                if arm.patterns.iter().any(|pattern| matches(shell, pattern, &value)) {
                    if arm.body.is_empty() {
                        return 0;
                    }
                    execute::list(shell, &arm.body, "");
                    return shell.status;
                }
            }
            0
        }
    }
}

fn matches(shell: &mut Shell, pattern: &Word, value: &str) -> bool {
    let pattern = expand::pattern(shell, pattern);
    pattern_matches(&pattern, value)
}

/// What one turn of a loop did.
enum Turn {
    /// The body ran, with this status.
    Ran(i32),
    /// The loop is over (its condition said so, or no words are left).
    Finished,
    /// The condition was cut short (`exit`, `break`, Ctrl-C…).
    Stopped,
}

/// Runs turns until one finishes the loop or a `break`, `continue`,
/// `return`, `exit` or Ctrl-C ends it; returns the last body's status (0
/// if the body never ran).
fn in_loop(shell: &mut Shell, mut turn: impl FnMut(&mut Shell) -> Turn) -> i32 {
    let mut status = 0;
    shell.loops += 1;
    loop {
        shell.check_interrupt();
        if shell.stopping() {
            break;
        }
        match turn(shell) {
            Turn::Ran(ran) => status = ran,
            Turn::Finished => break,
            Turn::Stopped => {}
        }
        match shell.flow {
            Some(Flow::Break(n)) => {
                shell.flow = if n > 1 { Some(Flow::Break(n - 1)) } else { None };
                break;
            }
            Some(Flow::Continue(n)) if n > 1 => {
                shell.flow = Some(Flow::Continue(n - 1));
                break;
            }
            Some(Flow::Continue(_)) => shell.flow = None,
            Some(Flow::Return) => break,
            None if shell.stopping() => break,
            None => {}
        }
    }
    shell.loops -= 1;
    status
}

/// Calls the function `body` with `command`'s arguments as its positional
/// parameters and its redirections applied; returns its status (the one
/// given to `return`, else its last command's).
pub fn call(shell: &mut Shell, body: &Rc<Command>, command: &Prepared) -> i32 {
    if shell.calls >= MAX_CALLS {
        eprintln!("sh: {}: functions nested deeper than {MAX_CALLS} calls", command.argv[0]);
        return 1;
    }
    let arguments = command.argv[1..].to_vec();
    let saved_positional = core::mem::replace(&mut shell.positional, arguments);
    let saved_loops = core::mem::replace(&mut shell.loops, 0);
    shell.calls += 1;
    let mut status = redirect::around(shell, &command.redirects, |shell| execute::command(shell, body));
    shell.calls -= 1;
    shell.loops = saved_loops;
    shell.positional = saved_positional;
    if shell.flow == Some(Flow::Return) {
        shell.flow = None;
        status = shell.status;
    }
    status
}
