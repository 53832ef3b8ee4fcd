//! The shell's state: its variables (every one is exported to the
//! programs it starts), the current directory (kept in `PWD`), the last
//! status (`$?`), the positional parameters (`$0`, `$1`…), the functions,
//! the background jobs, and what stops the commands running now (`exit`,
//! `break`/`continue`/`return`, a job ended by Ctrl-C).

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use shell_syntax::Command;

use rt::prelude::*;

/// The home directory when `HOME` names none that exists (no disk, or
/// its file system refused): the in-memory `tmp:`.
pub const FALLBACK_HOME: &str = "tmp:";
/// Where the shell starts when neither `PWD` nor a home is usable.
pub const DEFAULT_DIR: &str = "initfs:";

/// Whether `url` names a directory that can be opened now.
pub fn is_dir(url: &str) -> rt::Result<()> {
    use rt::abi::syscall::{ENOTDIR, MODE_DIR, MODE_TYPE};
    let stat = rt::fs::File::open(url)?.stat()?;
    if stat.st_mode & MODE_TYPE == MODE_DIR { Ok(()) } else { Err(rt::Error::new(ENOTDIR)) }
}

/// The home directory: `HOME` if it is a directory, else
/// [`FALLBACK_HOME`] (said on standard error when `HOME` was set), else
/// `None`. `HOME` is set to the answer.
fn home(vars: &mut BTreeMap<String, String>) -> Option<String> {
    if let Some(home) = vars.get("HOME") {
        match is_dir(home) {
            Ok(()) => return Some(home.clone()),
            Err(err) => eprintln!("sh: HOME {home}: {err}; using {FALLBACK_HOME}"),
        }
    }
    is_dir(FALLBACK_HOME).ok()?;
    vars.insert(String::from("HOME"), String::from(FALLBACK_HOME));
    Some(String::from(FALLBACK_HOME))
}

/// A job started with `&`.
pub struct Job {
    /// The job number `jobs` shows, from 1.
    pub id: usize,
    /// The process that runs it.
    pub pid: usize,
    /// The command line, for `jobs` and the completion notice.
    pub text: String,
}

/// A jump out of the commands running now, pending until the construct
/// it is for takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `break N`: leave N enclosing loops.
    Break(usize),
    /// `continue N`: leave N - 1 loops and go on with the next turn of the
    /// one enclosing them.
    Continue(usize),
    /// `return`: leave the function.
    Return,
}

pub struct Shell {
    pub vars: BTreeMap<String, String>,
    /// The current directory, a URL; always equal to `vars["PWD"]`.
    pub cwd: String,
    /// The last status: the exit code, or 128 + the signal that ended it.
    pub status: i32,
    /// Set by `exit`: the shell ends with this status.
    pub exit_code: Option<i32>,
    pub jobs: Vec<Job>,
    /// The process group to put children in and the terminal to hand the
    /// foreground to, when interactive.
    pub job_control: Option<crate::terminal::JobControl>,
    /// `$0`: `sh`, or the script's name.
    pub arg0: String,
    /// `$1`, `$2`, …: the script's or the function's arguments.
    pub positional: Vec<String>,
    /// The functions defined, by name.
    pub functions: BTreeMap<String, Rc<Command>>,
    /// A `break`, `continue` or `return` on its way out.
    pub flow: Option<Flow>,
    /// How many loops enclose the command running now (in the current
    /// function: a function starts with none).
    pub loops: usize,
    /// How many function calls are running.
    pub calls: usize,
    /// `$$`: the shell's pid (a subshell keeps its parent's, as in sh).
    pub pid: usize,
    /// `$!`: the pid of the last background job.
    pub last_background: Option<usize>,
    /// The status of the last command substitution of the command being
    /// expanded (an assignment-only command takes it as its status).
    pub substitution_status: Option<i32>,
    /// An expansion failed (`$((1/0))`); see `expand::failed`.
    pub expansion_failed: bool,
    /// A foreground job was ended by Ctrl-C: the interactive shell stops
    /// the rest of the line, as the job's Ctrl-C would have stopped it.
    pub interrupted: bool,
}

impl Shell {
    /// A shell with the environment it was given; the directory is `PWD`
    /// when that is a URL (a shell started by another), else, for a shell
    /// that reads commands from its input (`login`: the consoles' shells),
    /// the home directory (see [`home`]), else [`DEFAULT_DIR`].
    pub fn new(login: bool) -> Shell {
        let mut vars = BTreeMap::new();
        for (key, value) in rt::env::vars() {
            vars.entry(String::from(key)).or_insert_with(|| String::from(value));
        }
        let cwd = match vars.get("PWD") {
            Some(pwd) if rt::fs::is_url(pwd) => pwd.clone(),
            _ if login => home(&mut vars).unwrap_or_else(|| String::from(DEFAULT_DIR)),
            _ => String::from(DEFAULT_DIR),
        };
        let mut shell = Shell {
            vars,
            cwd: String::new(),
            status: 0,
            exit_code: None,
            jobs: Vec::new(),
            job_control: None,
            arg0: String::from("sh"),
            positional: Vec::new(),
            functions: BTreeMap::new(),
            flow: None,
            loops: 0,
            calls: 0,
            pid: rt::process::getpid(),
            last_background: None,
            substitution_status: None,
            expansion_failed: false,
            interrupted: false,
        };
        shell.set_cwd(cwd);
        shell
    }

    pub fn set_cwd(&mut self, cwd: String) {
        self.vars.insert(String::from("PWD"), cwd.clone());
        self.cwd = cwd;
    }

    /// `path` as a URL, relative to the current directory.
    pub fn resolve(&self, path: &str) -> String {
        rt::fs::resolve_in(&self.cwd, path)
    }

    /// The environment for a program: every variable as `NAME=VALUE`.
    pub fn environment(&self) -> Vec<String> {
        self.vars.iter().map(|(key, value)| format!("{key}={value}")).collect()
    }

    /// Whether the commands running now are to stop: the shell exits, a
    /// `break`, `continue` or `return` is on its way out, or Ctrl-C ended
    /// a job.
    pub fn stopping(&self) -> bool {
        self.exit_code.is_some() || self.flow.is_some() || self.interrupted
    }

    /// Notes a Ctrl-C typed between jobs (see `terminal`'s guard).
    pub fn check_interrupt(&mut self) {
        if let Some(control) = &mut self.job_control
            && control.guard_interrupted()
        {
            self.interrupted = true;
        }
    }

    /// Parses and runs `text` (a line or a script); a syntax error is
    /// reported and sets the status to 2.
    pub fn run_text(&mut self, text: &str) {
        self.interrupted = false;
        match shell_syntax::parse(text) {
            Ok(lists) => crate::execute::list(self, &lists, text),
            Err(err) => {
                eprintln!("sh: {err}");
                self.status = 2;
            }
        }
        // `break`, `continue` and `return` only start where they may end.
        self.flow = None;
        if self.interrupted {
            self.status = crate::terminal::INTERRUPTED;
        }
    }

    /// Collects background jobs that ended; returns `(job, status)` for
    /// each.
    pub fn reap_jobs(&mut self) -> Vec<(Job, i32)> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.jobs.len() {
            match rt::sys::waitpid(self.jobs[i].pid, rt::abi::WNOHANG) {
                Ok((0, _)) => i += 1,
                Ok((_, raw)) => {
                    let job = self.jobs.remove(i);
                    done.push((job, status_of(rt::process::ExitStatus::from_raw(raw))));
                }
                Err(_) => {
                    // Not our child any more (already collected): forget it.
                    let job = self.jobs.remove(i);
                    done.push((job, 0));
                }
            }
        }
        done
    }
}

/// A child's ending as a status: its exit code, or 128 + the signal.
pub fn status_of(status: rt::process::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => i32::from(code),
        (None, Some(signal)) => 128 + signal as i32,
        (None, None) => 255,
    }
}
