//! The interactive shell on a console (`serial:`, `fbcon:`): the shell is
//! interactive when its standard input answers `dup(0, "mode")`. While a
//! line is edited the console is in `raw` mode and the shell echoes and
//! edits itself (`lib/line-editor`: cursor keys, history, Ctrl-A/E/U/K);
//! while a job runs it is back in `cooked` mode, so the program reads
//! lines the console edits and Ctrl-C interrupts it.
//!
//! The prompt is the current directory and ` $ ` (`initfs: $ `). Ctrl-C
//! at the prompt drops the line (status 130); Ctrl-D on an empty line
//! leaves the shell. Finished background jobs are announced before the
//! next prompt (`[1] Done (0) sleep 1 &`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use line_editor::{Editor, Event};
use rt::fs::File;
use rt::prelude::*;

use crate::shell::Shell;

/// Status after Ctrl-C at the prompt (128 + SIGINT, as shells report it).
const INTERRUPTED: i32 = 130;

/// The console's controls: its line discipline mode, and (when the console
/// has one) the file that names its foreground process group.
pub struct Terminal {
    mode: File,
}

impl Terminal {
    /// The console on standard input, if it is one.
    pub fn open() -> Option<Terminal> {
        let mode = File::from_fd(rt::sys::dup(rt::io::STDIN, b"mode").ok()?);
        Some(Terminal { mode })
    }

    fn set_mode(&self, mode: &str) {
        if let Err(err) = rt::io::write_all(self.mode.fd(), mode.as_bytes()) {
            eprintln!("sh: console mode {mode}: {err}");
        }
    }
}

/// What the shell does around each job when it is interactive: the
/// console goes back to `cooked` for the job and to `raw` at the prompt.
pub struct JobControl {
    mode: File,
}

impl JobControl {
    /// Before a foreground job starts: the console edits lines again.
    pub fn before_job(&self) {
        let _ = rt::io::write_all(self.mode.fd(), b"cooked");
    }

    /// In a child, before it runs its command (`group` 0: it is the
    /// first of its pipeline).
    pub fn join(&self, _group: usize) {}

    /// In the shell, after forking `pid` into `group`.
    pub fn adopt(&self, _pid: usize, _group: usize) {}

    /// Makes `group` the one the console's Ctrl-C reaches.
    pub fn give_foreground(&self, _group: usize) {}

    /// After the foreground job ended.
    pub fn after_job(&self) {}

    /// In a background job's shell: it never takes the console.
    pub fn leave_foreground(&self) {}
}

fn write_out(bytes: &[u8]) {
    let _ = rt::io::write_all(rt::io::STDOUT, bytes);
}

/// The interactive loop; returns the status to exit with.
pub fn interact(shell: &mut Shell, terminal: Terminal) -> i32 {
    match terminal.mode.try_clone() {
        Ok(mode) => shell.job_control = Some(JobControl { mode }),
        Err(err) => eprintln!("sh: console: {err}"),
    }
    let mut editor = Editor::new();
    let mut buf = [0u8; 64];
    'prompt: while shell.exit_code.is_none() {
        for (job, status) in shell.reap_jobs() {
            println!("[{}] Done ({status}) {}", job.id, job.text);
        }
        terminal.set_mode("raw");
        write_out(format!("{} $ ", shell.cwd).as_bytes());
        loop {
            let n = match rt::io::read(rt::io::STDIN, &mut buf) {
                Ok(0) => break 'prompt,
                Ok(n) => n,
                Err(err) => {
                    eprintln!("sh: read: {err}");
                    break 'prompt;
                }
            };
            let mut out: Vec<u8> = Vec::new();
            for &byte in &buf[..n] {
                match editor.feed(byte, &mut out) {
                    Event::Editing => {}
                    Event::Line(line) => {
                        write_out(&out);
                        terminal.set_mode("cooked");
                        run_line(shell, &line);
                        // Bytes typed after Enter in the same read are
                        // dropped: the job had the console meanwhile.
                        continue 'prompt;
                    }
                    Event::Cancel => {
                        write_out(&out);
                        shell.status = INTERRUPTED;
                        continue 'prompt;
                    }
                    Event::Eof => {
                        write_out(&out);
                        break 'prompt;
                    }
                }
            }
            write_out(&out);
        }
    }
    terminal.set_mode("cooked");
    shell.exit_code.unwrap_or(shell.status)
}

fn run_line(shell: &mut Shell, line: &str) {
    let text = String::from(line);
    shell.run_text(&text);
}
