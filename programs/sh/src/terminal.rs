//! The interactive shell on a console (`serial:`, `fbcon:`): the shell is
//! interactive when its standard input answers `dup(0, "mode")`. While a
//! line is edited the console is in `raw` mode and the shell echoes and
//! edits itself (`lib/line-editor`: cursor keys, history, Ctrl-A/E/U/K,
//! Tab completion from [`crate::complete`]);
//! while a job runs it is back in `cooked` mode, so the program reads
//! lines the console edits and Ctrl-C interrupts it.
//!
//! Each job gets a process group of its own, which the shell writes to the
//! console's `dup(0, "pgrp")` file while the job runs, so Ctrl-C
//! interrupts the job and not the shell. Between the jobs of a command
//! line (the turns of a loop, the commands of a list) the foreground is a
//! guard: a child of the shell in a group of its own that only waits to
//! be killed. The kernel has no signal handlers, so the shell's own group
//! must not be the foreground while the console is cooked (Ctrl-C would
//! end the shell). A lone simple command needs no guard (the shell is the
//! foreground only for the instant after its job), any other line gets
//! one; then Ctrl-C ends the guard (and any command
//! substitution running, which joins the guard's group), the shell sees
//! that between two commands and stops the command line, as a job ended
//! by Ctrl-C stops it too.
//!
//! The prompt is the current directory and ` $ ` (`initfs: $ `). A line
//! that leaves a command unfinished (an open quote, `if` without `fi`, a
//! here-document, a trailing `|`…) gets the prompt `> ` for the next line,
//! until the command is complete; then it runs. Ctrl-C at either prompt
//! drops what was typed (status 130); Ctrl-D on an empty line leaves the
//! shell, or at `> ` reports the unfinished command. What is typed (or
//! pasted) after an Enter waits for the next prompt, so several lines at
//! once run one after the other. Finished background jobs are announced
//! before the next prompt (`[1] Done (0) sleep 1 &`).

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use line_editor::{Completed, Editor, Event};
use rt::fs::File;
use rt::prelude::*;
use rt::process::Fork;
use shell_syntax::{Command, Part, Word};

use crate::shell::Shell;

/// The width Tab's lists of candidates are laid out for.
const LIST_WIDTH: usize = 80;

/// The prompt for the next line of an unfinished command.
const CONTINUATION: &str = "> ";

/// Status after Ctrl-C at the prompt or between the jobs of a command
/// line (128 + SIGINT, as shells report it).
pub const INTERRUPTED: i32 = 130;

/// The console's controls: its line discipline mode, and (when the console
/// has one) the file that names its foreground process group.
pub struct Terminal {
    mode: File,
    pgrp: Option<File>,
}

impl Terminal {
    /// The console on standard input, if it is one.
    pub fn open() -> Option<Terminal> {
        let mode = File::from_fd(rt::sys::dup(rt::io::STDIN, b"mode").ok()?);
        let pgrp = rt::sys::dup(rt::io::STDIN, b"pgrp").ok().map(File::from_fd);
        Some(Terminal { mode, pgrp })
    }

    fn set_mode(&self, mode: &str) {
        if let Err(err) = rt::io::write_all(self.mode.fd(), mode.as_bytes()) {
            eprintln!("sh: console mode {mode}: {err}");
        }
    }
}

/// Job control on the console: each job runs in a process group of its
/// own (the first process of a pipeline leads it, the others join), which
/// the console's Ctrl-C reaches while the job is in the foreground; the
/// shell takes the foreground back when the job ends. The console is
/// `cooked` while a job runs.
pub struct JobControl {
    mode: File,
    /// Where the foreground group is written (`dup(0, "pgrp")`), if the
    /// console has one.
    pgrp: Option<File>,
    /// The shell's own process group.
    shell_group: usize,
    /// While a command line runs: the guard (its pid, which is its group).
    guard: Option<usize>,
}

impl JobControl {
    /// Puts the shell in a group of its own and makes it the foreground.
    fn new(terminal: &Terminal) -> rt::Result<JobControl> {
        let mode = terminal.mode.try_clone()?;
        let pgrp = terminal.pgrp.as_ref().map(File::try_clone).transpose()?;
        if let Err(err) = rt::process::setpgid(0, 0) {
            eprintln!("sh: setpgid: {err}");
        }
        let shell_group = rt::process::getpgid(0)?;
        let control = JobControl { mode, pgrp, shell_group, guard: None };
        control.give_foreground(shell_group);
        Ok(control)
    }

    /// Before a foreground job starts: the console edits lines again.
    pub fn before_job(&self) {
        let _ = rt::io::write_all(self.mode.fd(), b"cooked");
    }

    /// In a child, before it runs its command: it leads a new group
    /// (`group` 0, the first of its pipeline) or joins `group`.
    pub fn join(&self, group: usize) {
        let _ = rt::process::setpgid(0, group);
    }

    /// In the shell, after forking `pid` into `group` (also done here, so
    /// the group exists whichever side runs first; an error means the
    /// child already did it or has ended).
    pub fn adopt(&self, pid: usize, group: usize) {
        let _ = rt::process::setpgid(pid, group);
    }

    /// Makes `group` the one the console's Ctrl-C reaches.
    pub fn give_foreground(&self, group: usize) {
        if let Some(pgrp) = &self.pgrp
            && let Err(err) = rt::io::write_all(pgrp.fd(), format!("{group}").as_bytes())
        {
            eprintln!("sh: console foreground group {group}: {err}");
        }
    }

    /// After the foreground job ended: the guard (or, without one, the
    /// shell) is the foreground again.
    pub fn after_job(&self) {
        self.give_foreground(self.guard.unwrap_or(self.shell_group));
    }

    /// Before a command line runs: starts the guard and makes it the
    /// foreground. Without one (fork failed) the shell stays the
    /// foreground, and Ctrl-C between jobs would end it.
    pub fn start_guard(&mut self) {
        match rt::process::fork() {
            Ok(Fork::Child) => {
                let _ = rt::process::setpgid(0, 0);
                // Wait on a pipe nobody writes, until killed.
                if let Ok((reader, _writer)) = rt::fs::pipe() {
                    let _ = rt::io::read(reader.fd(), &mut [0u8; 1]);
                }
                loop {
                    rt::time::sleep(core::time::Duration::from_secs(3600));
                }
            }
            Ok(Fork::Parent(pid)) => {
                let _ = rt::process::setpgid(pid, pid);
                self.guard = Some(pid);
                self.give_foreground(pid);
            }
            Err(err) => eprintln!("sh: fork: {err}"),
        }
    }

    /// Whether Ctrl-C ended the guard (then it is collected and gone).
    pub fn guard_interrupted(&mut self) -> bool {
        let Some(pid) = self.guard else { return false };
        match rt::sys::waitpid(pid, rt::abi::WNOHANG) {
            Ok((0, _)) => false,
            Ok((_, raw)) => {
                self.guard = None;
                rt::process::ExitStatus::from_raw(raw).signal() == Some(rt::abi::SIGINT)
            }
            Err(_) => {
                self.guard = None;
                false
            }
        }
    }

    /// In a command substitution's child: joins the guard's group, so
    /// Ctrl-C ends it (and what it runs) too.
    pub fn join_guard(&self) {
        if let Some(guard) = self.guard {
            let _ = rt::process::setpgid(0, guard);
        }
    }

    /// After the command line: ends the guard; the shell is the
    /// foreground again.
    pub fn stop_guard(&mut self) {
        if let Some(pid) = self.guard.take() {
            let _ = rt::process::kill(pid, rt::abi::SIGTERM);
            let _ = rt::process::wait(pid);
        }
        self.give_foreground(self.shell_group);
    }

    /// In a background job's shell: a group of its own, so Ctrl-C for the
    /// foreground does not reach it.
    pub fn leave_foreground(&self) {
        let _ = rt::process::setpgid(0, 0);
    }
}

fn write_out(bytes: &[u8]) {
    let _ = rt::io::write_all(rt::io::STDOUT, bytes);
}

/// Whether `word` holds a command substitution.
fn substitutes(word: &Word) -> bool {
    word.parts.iter().any(|part| matches!(part, Part::Command { .. }))
}

/// Whether the shell may be left in the foreground while `text` runs:
/// it has commands after its first job, or it runs something in the
/// shell between jobs (a compound command, a function, a command
/// substitution). Then it needs a guard; a lone simple command does not
/// (and runs without the extra process).
fn needs_guard(shell: &Shell, text: &str) -> bool {
    let Ok(lists) = shell_syntax::parse(text) else { return false };
    let [only] = lists.as_slice() else { return true };
    if !only.rest.is_empty() {
        return true;
    }
    only.first.commands.iter().any(|command| match command {
        Command::Simple(simple) => {
            simple.words.first().and_then(Word::plain).is_some_and(|name| shell.functions.contains_key(name))
                || simple.words.iter().any(substitutes)
                || simple.redirects.iter().any(|redirect| substitutes(&redirect.target))
        }
        _ => true,
    })
}

/// Runs a command line typed at the prompt: the console cooked, a guard
/// in the foreground between jobs when it needs one.
fn run_line(shell: &mut Shell, terminal: &Terminal, text: &str) {
    terminal.set_mode("cooked");
    if needs_guard(shell, text)
        && let Some(control) = &mut shell.job_control
    {
        control.start_guard();
    }
    shell.run_text(text);
    if let Some(control) = &mut shell.job_control {
        control.stop_guard();
    }
}

/// The interactive loop; returns the status to exit with.
pub fn interact(shell: &mut Shell, terminal: Terminal) -> i32 {
    match JobControl::new(&terminal) {
        Ok(control) => shell.job_control = Some(control),
        Err(err) => eprintln!("sh: job control: {err}"),
    }
    let mut editor = Editor::new();
    // Bytes read but not yet fed to the editor: what was typed (or pasted)
    // after an Enter, kept for the next prompt.
    let mut typed: VecDeque<u8> = VecDeque::new();
    let mut buf = [0u8; 64];
    // The lines of an unfinished command, each with its newline.
    let mut unfinished = String::new();
    'prompt: while shell.exit_code.is_none() {
        for (job, status) in shell.reap_jobs() {
            println!("[{}] Done ({status}) {}", job.id, job.text);
        }
        terminal.set_mode("raw");
        write_out(format!("{} $ ", shell.cwd).as_bytes());
        loop {
            if typed.is_empty() {
                match rt::io::read(rt::io::STDIN, &mut buf) {
                    Ok(0) => break 'prompt,
                    Ok(n) => typed.extend(&buf[..n]),
                    Err(err) => {
                        eprintln!("sh: read: {err}");
                        break 'prompt;
                    }
                }
            }
            let mut out: Vec<u8> = Vec::new();
            while let Some(byte) = typed.pop_front() {
                match editor.feed(byte, &mut out) {
                    Event::Editing => {}
                    Event::Line(line) => {
                        write_out(&out);
                        out.clear();
                        unfinished.push_str(&line);
                        unfinished.push('\n');
                        if shell_syntax::parse(&unfinished).is_err_and(|err| err.incomplete()) {
                            write_out(CONTINUATION.as_bytes());
                            continue;
                        }
                        run_line(shell, &terminal, &core::mem::take(&mut unfinished));
                        continue 'prompt;
                    }
                    Event::Cancel => {
                        write_out(&out);
                        unfinished.clear();
                        shell.status = INTERRUPTED;
                        continue 'prompt;
                    }
                    Event::Eof if !unfinished.is_empty() => {
                        // The command cannot be finished: say why.
                        write_out(&out);
                        write_out(b"\n");
                        run_line(shell, &terminal, &core::mem::take(&mut unfinished));
                        continue 'prompt;
                    }
                    Event::Eof => {
                        write_out(&out);
                        break 'prompt;
                    }
                    Event::Complete(word) => {
                        let candidates = crate::complete::candidates(shell, &word);
                        if editor.complete(&candidates, &mut out) == Completed::List {
                            // Several, and nothing more they share: list
                            // them below, then the prompt and the line.
                            out.push(b'\n');
                            out.extend_from_slice(crate::complete::columns(&candidates, LIST_WIDTH).as_bytes());
                            let prompt = if unfinished.is_empty() {
                                format!("{} $ ", shell.cwd)
                            } else {
                                String::from(CONTINUATION)
                            };
                            out.extend_from_slice(prompt.as_bytes());
                            editor.redraw_line(&mut out);
                        }
                    }
                }
            }
            write_out(&out);
        }
    }
    terminal.set_mode("cooked");
    shell.exit_code.unwrap_or(shell.status)
}
