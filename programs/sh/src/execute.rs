//! Running parsed commands: lists, and-or lists, background jobs,
//! pipelines, simple commands (assignments, functions, builtins,
//! programs). Compound commands and function calls are `compound`'s.
//!
//! A lone simple command that is a builtin or a function, and a lone
//! compound command, run in the shell itself (redirections applied to the
//! shell's own descriptors for the time they run, then undone); a program
//! runs in a child by exec. In a pipeline every command is a child: a
//! program is exec'd, anything else runs in a forked copy of the shell
//! that exits with its status. Children set up their standard streams
//! (pipe ends, then redirections) and close every other pipe end before
//! they run, so end-of-file reaches each reader.
//!
//! May touch: this process's descriptors, children, pipes.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use rt::fs::File;
use rt::prelude::*;
use rt::process::Fork;
use shell_syntax::{AndOr, Command, Connector, Part, Pipeline, Simple, Word, is_name};

use crate::builtins;
use crate::compound;
use crate::expand;
use crate::redirect;
use crate::search::{self, NotFound};
use crate::shell::{Job, Shell, status_of};

/// Status of a command that was not found.
const NOT_FOUND: i32 = 127;
/// Status of a program that was found but would not run.
const NOT_EXECUTABLE: i32 = 126;
/// Status of a command not run because an expansion failed.
pub const EXPANSION_FAILED: i32 = 1;

/// A simple command with its words expanded.
pub struct Prepared {
    /// `NAME=VALUE` words before the command name.
    pub assignments: Vec<(String, String)>,
    /// The command name and its arguments.
    pub argv: Vec<String>,
    pub redirects: Vec<redirect::Prepared>,
}

/// Runs and-or lists in order until one stops the shell (`exit`,
/// `break`, `continue`, `return`, Ctrl-C). `text` is the source, shown
/// for background jobs.
pub fn list(shell: &mut Shell, lists: &[AndOr], text: &str) {
    for and_or in lists {
        shell.check_interrupt();
        if shell.stopping() {
            return;
        }
        if and_or.background {
            background(shell, and_or, text);
        } else {
            run_and_or(shell, and_or);
        }
    }
}

fn run_and_or(shell: &mut Shell, list: &AndOr) {
    pipeline(shell, &list.first);
    for (connector, next) in &list.rest {
        if shell.stopping() {
            return;
        }
        let run = match connector {
            Connector::And => shell.status == 0,
            Connector::Or => shell.status != 0,
        };
        if run {
            pipeline(shell, next);
        }
    }
}

/// Forks a copy of the shell that runs `list` and exits with its status;
/// the job is remembered for `jobs` and `wait`.
fn background(shell: &mut Shell, list: &AndOr, text: &str) {
    match rt::process::fork() {
        Ok(Fork::Child) => {
            if let Some(control) = &shell.job_control {
                control.leave_foreground();
            }
            shell.job_control = None;
            shell.jobs.clear();
            run_and_or(shell, list);
            rt::process::exit(shell.exit_code.unwrap_or(shell.status))
        }
        Ok(Fork::Parent(pid)) => {
            if let Some(control) = &shell.job_control {
                control.adopt(pid, pid);
            }
            let id = shell.jobs.iter().map(|job| job.id).max().unwrap_or(0) + 1;
            if shell.job_control.is_some() {
                println!("[{id}] {pid}");
            }
            shell.jobs.push(Job { id, pid, text: String::from(text.trim()) });
            shell.last_background = Some(pid);
            shell.status = 0;
        }
        Err(err) => {
            eprintln!("sh: fork: {err}");
            shell.status = 1;
        }
    }
}

fn pipeline(shell: &mut Shell, pipeline: &Pipeline) {
    let status = match pipeline.commands.as_slice() {
        [only] => command(shell, only),
        commands => {
            let stages: Vec<Stage> = commands.iter().map(Stage::Command).collect();
            run_children(shell, &stages)
        }
    };
    shell.status = if pipeline.negated { i32::from(status == 0) } else { status };
}

/// Runs one command in the shell (a program in a child) and returns its
/// status.
pub fn command(shell: &mut Shell, command: &Command) -> i32 {
    match command {
        Command::Simple(simple) => simple_command(shell, simple),
        Command::Compound(compound, redirects) => {
            let redirects = redirect::prepare(shell, redirects);
            if expand::failed(shell) {
                return EXPANSION_FAILED;
            }
            redirect::around(shell, &redirects, |shell| compound::run(shell, compound))
        }
        Command::Function { name, body } => {
            shell.functions.insert(name.clone(), Rc::new((**body).clone()));
            0
        }
    }
}

fn simple_command(shell: &mut Shell, simple: &Simple) -> i32 {
    let command = prepare(shell, simple);
    if expand::failed(shell) {
        return EXPANSION_FAILED;
    }
    run_prepared(shell, &command)
}

/// Runs an expanded simple command: assignments, a function, a builtin,
/// else a program in a child.
fn run_prepared(shell: &mut Shell, command: &Prepared) -> i32 {
    let Some(name) = command.argv.first() else { return assign_only(shell, command) };
    if let Some(body) = shell.functions.get(name).cloned() {
        return compound::call(shell, &body, command);
    }
    if let Some(builtin) = builtins::find(name) {
        return redirect::around(shell, &command.redirects, |shell| builtin(shell, &command.argv));
    }
    run_children(shell, &[Stage::Program(command)])
}

/// `NAME=VALUE` as a name and the word for the value, if `word` is one.
fn assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Part::Text { text, quoted: false }) = word.parts.first() else { return None };
    let (name, rest) = text.split_once('=')?;
    if !is_name(name) {
        return None;
    }
    let mut value = word.clone();
    value.parts[0] = Part::Text { text: String::from(rest), quoted: false };
    Some((String::from(name), value))
}

/// Expands a simple command's words and redirection targets.
fn prepare(shell: &mut Shell, simple: &Simple) -> Prepared {
    shell.substitution_status = None;
    let mut prepared = Prepared { assignments: Vec::new(), argv: Vec::new(), redirects: Vec::new() };
    for word in &simple.words {
        if prepared.argv.is_empty()
            && let Some((name, value)) = assignment(word)
        {
            let value = expand::string(shell, &value);
            prepared.assignments.push((name, value));
            continue;
        }
        let fields = expand::fields(shell, word);
        prepared.argv.extend(fields);
    }
    prepared.redirects = redirect::prepare(shell, &simple.redirects);
    prepared
}

/// A command of only assignments and redirections: sets the variables in
/// the shell, creates (or checks) the redirection files. Its status is the
/// last command substitution's, else 0.
fn assign_only(shell: &mut Shell, command: &Prepared) -> i32 {
    for (name, value) in &command.assignments {
        if name == "PWD" {
            shell.set_cwd(value.clone());
        } else {
            shell.vars.insert(name.clone(), value.clone());
        }
    }
    let status = shell.substitution_status.unwrap_or(0);
    match redirect::apply_saved(&command.redirects) {
        Ok(saved) => {
            redirect::restore(saved);
            status
        }
        Err(failed) => failed,
    }
}

/// What one child of a pipeline runs.
#[derive(Clone, Copy)]
pub enum Stage<'a> {
    /// An expanded command that names a program (or nothing found).
    Program(&'a Prepared),
    /// Any command, run by a copy of the shell.
    Command(&'a Command),
    /// The list of a `( … )`, run by a copy of the shell.
    Subshell(&'a [AndOr]),
}

/// Starts every stage as a child, joined by pipes, waits for all of them
/// and returns the last one's status. With job control they form one
/// process group, the console's foreground while they run; one ended by
/// Ctrl-C stops the rest of the command line.
pub fn run_children(shell: &mut Shell, stages: &[Stage]) -> i32 {
    let mut pipes: Vec<(File, File)> = Vec::new();
    for _ in 1..stages.len() {
        match rt::fs::pipe() {
            Ok(pipe) => pipes.push(pipe),
            Err(err) => {
                eprintln!("sh: pipe: {err}");
                return 1;
            }
        }
    }
    if let Some(control) = &shell.job_control {
        control.before_job();
    }
    let mut pids: Vec<usize> = Vec::new();
    let mut group = 0;
    for (i, stage) in stages.iter().enumerate() {
        let stdin = if i > 0 { Some(pipes[i - 1].0.fd()) } else { None };
        let stdout = pipes.get(i).map(|pipe| pipe.1.fd());
        match rt::process::fork() {
            Ok(Fork::Child) => {
                if let Some(control) = &shell.job_control {
                    control.join(group);
                }
                shell.job_control = None;
                shell.jobs.clear();
                child(shell, *stage, stdin, stdout, pipes)
            }
            Ok(Fork::Parent(pid)) => {
                if group == 0 {
                    group = pid;
                }
                if let Some(control) = &shell.job_control {
                    control.adopt(pid, group);
                }
                pids.push(pid);
            }
            Err(err) => {
                eprintln!("sh: fork: {err}");
                break;
            }
        }
    }
    drop(pipes);
    if let Some(control) = &shell.job_control
        && group != 0
    {
        control.give_foreground(group);
    }
    let mut status = 1;
    for pid in pids {
        status = match rt::process::wait(pid) {
            Ok(ended) => {
                if shell.job_control.is_some() && ended.signal() == Some(rt::abi::SIGINT) {
                    shell.interrupted = true;
                }
                status_of(ended)
            }
            Err(err) => {
                eprintln!("sh: wait for {pid}: {err}");
                1
            }
        };
    }
    if let Some(control) = &shell.job_control {
        control.after_job();
    }
    status
}

/// The child's side: standard streams, then the stage. Never returns.
fn child(shell: &mut Shell, stage: Stage, stdin: Option<usize>, stdout: Option<usize>, pipes: Vec<(File, File)>) -> ! {
    for (from, to) in [(stdin, 0), (stdout, 1)] {
        if let Some(fd) = from
            && let Err(err) = rt::sys::dup2(fd, to, &[])
        {
            eprintln!("sh: pipe: {err}");
            rt::process::exit(1)
        }
    }
    drop(pipes);
    let status = match stage {
        Stage::Program(command) => exec(shell, command),
        Stage::Subshell(lists) => {
            list(shell, lists, "");
            shell.status
        }
        Stage::Command(Command::Simple(simple)) => {
            let command = prepare(shell, simple);
            if expand::failed(shell) {
                rt::process::exit(EXPANSION_FAILED);
            }
            match command.argv.first() {
                Some(name) if !shell.functions.contains_key(name) && builtins::find(name).is_none() => {
                    exec(shell, &command)
                }
                _ => run_prepared(shell, &command),
            }
        }
        Stage::Command(other) => command(shell, other),
    };
    rt::process::exit(shell.exit_code.unwrap_or(status))
}

/// Applies the redirections and execs the program; returns only the
/// status of a failure.
fn exec(shell: &mut Shell, command: &Prepared) -> i32 {
    if let Err(status) = redirect::apply(&command.redirects) {
        return status;
    }
    let Some(name) = command.argv.first() else { return 0 };
    let program = match search::find(shell, name) {
        Ok(program) => program,
        Err(NotFound::Command) => {
            eprintln!("sh: {name}: command not found");
            return NOT_FOUND;
        }
        Err(NotFound::Path(err)) => {
            eprintln!("sh: {name}: {err}");
            return NOT_FOUND;
        }
    };
    for (name, value) in &command.assignments {
        shell.vars.insert(name.clone(), value.clone());
    }
    let env = shell.environment();
    let env: Vec<&str> = env.iter().map(String::as_str).collect();
    let args: Vec<&str> = command.argv[1..].iter().map(String::as_str).collect();
    let err = rt::process::exec(&program, &args, &env);
    eprintln!("sh: {name}: {err}");
    NOT_EXECUTABLE
}
