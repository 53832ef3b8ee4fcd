//! Running parsed commands: and-or lists, background jobs, pipelines,
//! redirections, builtins and programs.
//!
//! A lone builtin runs in the shell itself (its redirections applied to
//! the shell's own descriptors for the time it runs, then undone); every
//! other command runs in a child: a builtin inside a pipeline as a forked
//! copy of the shell, a program by exec. Children set up their standard
//! streams (pipe ends, then redirections) and close every other pipe end
//! before they exec, so end-of-file reaches each reader.

use alloc::string::String;
use alloc::vec::Vec;

use rt::abi::syscall::{O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use rt::fs::File;
use rt::prelude::*;
use rt::process::Fork;
use shell_syntax::{AndOr, Command, Connector, Part, Pipeline, RedirectKind, Word, is_name};

use crate::builtins;
use crate::search::{self, NotFound};
use crate::shell::{Job, Shell, status_of};

/// Status of a command that was not found.
const NOT_FOUND: i32 = 127;
/// Status of a program that was found but would not run.
const NOT_EXECUTABLE: i32 = 126;

/// A command with its words expanded.
struct Prepared {
    /// `NAME=VALUE` words before the command name.
    assignments: Vec<(String, String)>,
    /// The command name and its arguments.
    argv: Vec<String>,
    /// Redirections with their targets resolved to URLs.
    redirects: Vec<(RedirectKind, String, String)>,
}

/// Runs one and-or list (in the background if it ended with `&`).
pub fn and_or(shell: &mut Shell, list: &AndOr, text: &str) {
    if list.background {
        background(shell, list, text);
    } else {
        run_and_or(shell, list);
    }
}

fn run_and_or(shell: &mut Shell, list: &AndOr) {
    pipeline(shell, &list.first);
    for (connector, next) in &list.rest {
        if shell.exit_code.is_some() {
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
            shell.status = 0;
        }
        Err(err) => {
            eprintln!("sh: fork: {err}");
            shell.status = 1;
        }
    }
}

/// `NAME=VALUE` as a name and the word for the value, if `word` is one.
fn assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Part::Text(text)) = word.parts.first() else { return None };
    let (name, rest) = text.split_once('=')?;
    if !is_name(name) {
        return None;
    }
    let mut value = word.clone();
    value.parts[0] = Part::Text(String::from(rest));
    Some((String::from(name), value))
}

fn prepare(shell: &Shell, command: &Command) -> Prepared {
    let var = |name: &str| shell.vars.get(name).cloned();
    let mut prepared = Prepared { assignments: Vec::new(), argv: Vec::new(), redirects: Vec::new() };
    for word in &command.words {
        if prepared.argv.is_empty()
            && let Some((name, value)) = assignment(word)
        {
            prepared.assignments.push((name, value.expand(&var, shell.status)));
            continue;
        }
        let value = word.expand(&var, shell.status);
        if !word.vanishes(&value) {
            prepared.argv.push(value);
        }
    }
    for redirect in &command.redirects {
        let target = redirect.target.expand(&var, shell.status);
        prepared.redirects.push((redirect.kind, shell.resolve(&target), target));
    }
    prepared
}

/// Opens a redirection's file.
fn open_redirect(kind: RedirectKind, url: &str) -> rt::Result<File> {
    let flags = match kind {
        RedirectKind::Input => O_RDONLY,
        RedirectKind::Output | RedirectKind::Error => O_WRONLY | O_CREAT | O_TRUNC,
        RedirectKind::Append | RedirectKind::ErrorAppend => O_WRONLY | O_CREAT | O_APPEND,
    };
    File::open_with(url, flags)
}

fn pipeline(shell: &mut Shell, pipeline: &Pipeline) {
    let commands: Vec<Prepared> = pipeline.commands.iter().map(|command| prepare(shell, command)).collect();
    if let [only] = commands.as_slice() {
        if only.argv.is_empty() {
            shell.status = assign_only(shell, only);
            return;
        }
        if let Some(builtin) = builtins::find(&only.argv[0]) {
            shell.status = builtin_here(shell, only, builtin);
            return;
        }
    }
    shell.status = run_children(shell, &commands);
}

/// A command of only assignments and redirections: sets the variables in
/// the shell, creates (or checks) the redirection files.
fn assign_only(shell: &mut Shell, command: &Prepared) -> i32 {
    for (name, value) in &command.assignments {
        shell.vars.insert(name.clone(), value.clone());
        if name == "PWD" {
            shell.cwd = value.clone();
        }
    }
    for (kind, url, target) in &command.redirects {
        if let Err(err) = open_redirect(*kind, url) {
            eprintln!("sh: {target}: {err}");
            return 1;
        }
    }
    0
}

/// Runs a builtin in the shell with its redirections in place, then puts
/// the shell's own descriptors back.
fn builtin_here(shell: &mut Shell, command: &Prepared, builtin: builtins::Builtin) -> i32 {
    let mut saved: Vec<(usize, usize)> = Vec::new();
    let mut status = None;
    for (kind, url, target) in &command.redirects {
        let fd = kind.fd();
        let file = match open_redirect(*kind, url) {
            Ok(file) => file,
            Err(err) => {
                eprintln!("sh: {target}: {err}");
                status = Some(1);
                break;
            }
        };
        match rt::sys::dup(fd, &[]) {
            Ok(copy) => saved.push((fd, copy)),
            Err(err) => {
                eprintln!("sh: saving fd {fd}: {err}");
                status = Some(1);
                break;
            }
        }
        if let Err(err) = rt::sys::dup2(file.fd(), fd, &[]) {
            eprintln!("sh: {target}: {err}");
            status = Some(1);
            break;
        }
    }
    let status = status.unwrap_or_else(|| builtin(shell, &command.argv));
    for (fd, copy) in saved.into_iter().rev() {
        let _ = rt::sys::dup2(copy, fd, &[]);
        let _ = rt::sys::close(copy);
    }
    status
}

/// Starts every command of a pipeline as a child, joined by pipes, waits
/// for all of them and returns the last one's status.
fn run_children(shell: &mut Shell, commands: &[Prepared]) -> i32 {
    let mut pipes: Vec<(File, File)> = Vec::new();
    for _ in 1..commands.len() {
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
    for (i, command) in commands.iter().enumerate() {
        let stdin = if i > 0 { Some(pipes[i - 1].0.fd()) } else { None };
        let stdout = pipes.get(i).map(|pipe| pipe.1.fd());
        match rt::process::fork() {
            Ok(Fork::Child) => {
                if let Some(control) = &shell.job_control {
                    control.join(group);
                }
                shell.job_control = None;
                child(shell, command, stdin, stdout, pipes)
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
            Ok(ended) => status_of(ended),
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

/// The child's side: standard streams, redirections, then the builtin or
/// the program. Never returns.
fn child(
    shell: &mut Shell,
    command: &Prepared,
    stdin: Option<usize>,
    stdout: Option<usize>,
    pipes: Vec<(File, File)>,
) -> ! {
    let fail = |what: &str, err: rt::Error| -> ! {
        eprintln!("sh: {what}: {err}");
        rt::process::exit(1)
    };
    for (from, to) in [(stdin, 0), (stdout, 1)] {
        if let Some(fd) = from
            && let Err(err) = rt::sys::dup2(fd, to, &[])
        {
            fail("pipe", err);
        }
    }
    drop(pipes);
    for (kind, url, target) in &command.redirects {
        match open_redirect(*kind, url) {
            Ok(file) => {
                if let Err(err) = rt::sys::dup2(file.fd(), kind.fd(), &[]) {
                    fail(target, err);
                }
            }
            Err(err) => fail(target, err),
        }
    }
    if command.argv.is_empty() {
        rt::process::exit(assign_only(shell, command));
    }
    let name = command.argv[0].as_str();
    if let Some(builtin) = builtins::find(name) {
        let status = builtin(shell, &command.argv);
        rt::process::exit(shell.exit_code.unwrap_or(status));
    }
    let program = match search::find(shell, name) {
        Ok(program) => program,
        Err(NotFound::Command) => {
            eprintln!("sh: {name}: command not found");
            rt::process::exit(NOT_FOUND)
        }
        Err(NotFound::Path(err)) => {
            eprintln!("sh: {name}: {err}");
            rt::process::exit(NOT_FOUND)
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
    rt::process::exit(NOT_EXECUTABLE)
}
