//! `console URL PROGRAM ARGS...`: programs that live on a console (the
//! shells on `serial:` and `fbcon:`), started with standard input, output
//! and error on the console and started again whenever they exit, the way
//! a getty brings a login prompt back.
//!
//! init opens the console itself before it forks, so a console that does
//! not exist (no framebuffer, a driver that failed) is reported once and
//! the program is not started at all. A program that keeps exiting right
//! after its start is restarted after the same back-off as a supervised
//! daemon (`initrc::Backoff`), and after [`GIVE_UP`] such exits in a row
//! init stops restarting it and says so, so a broken program cannot flood
//! the log or the CPU.
//!
//! May touch: the consoles it opens, its children; nothing else.

use core::time::Duration;

use initrc::{Backoff, Env, Program};
use rt::abi::syscall::O_RDWR;
use rt::fs::File;
use rt::prelude::*;
use rt::process::{ExitStatus, Fork};

/// Quick exits in a row after which the program is left stopped.
const GIVE_UP: u32 = 5;

/// One `console` line of the script and the process running it.
struct Entry {
    console: String,
    program: Program,
    pid: usize,
    started: Duration,
    backoff: Backoff,
}

/// The console programs init keeps running.
#[derive(Default)]
pub struct Consoles {
    entries: Vec<Entry>,
}

impl Consoles {
    /// Starts `program` on `console` and remembers it for restarts.
    pub fn start(&mut self, console: &str, program: &Program, env: &Env) {
        if let Some(pid) = start_on(console, program, env) {
            self.entries.push(Entry {
                console: String::from(console),
                program: program.clone(),
                pid,
                started: rt::time::now(),
                backoff: Backoff::default(),
            });
        }
    }

    /// Called for every child init reaps: if it was a console program,
    /// start it again (or give up on it). Returns whether it was one.
    pub fn reaped(&mut self, pid: usize, status: ExitStatus, env: &Env) -> bool {
        let Some(index) = self.entries.iter().position(|e| e.pid == pid) else { return false };
        let mut entry = self.entries.swap_remove(index);
        let name = entry.program.name();
        let delay = entry.backoff.delay(rt::time::now().saturating_sub(entry.started));
        if entry.backoff.quick_ends() >= GIVE_UP {
            log::warn!(
                "{name} on {} ended ({status}) {} times in a row right after starting; not restarting it",
                entry.console,
                entry.backoff.quick_ends()
            );
            return true;
        }
        rt::time::sleep(delay);
        log::warn!("{name} on {} ended ({status}); starting it again", entry.console);
        if let Some(pid) = start_on(&entry.console, &entry.program, env) {
            entry.pid = pid;
            entry.started = rt::time::now();
            self.entries.push(entry);
        }
        true
    }
}

/// Opens `console` and starts `program` with fds 0, 1 and 2 on it, in a
/// process group of its own (a shell then hands the console's foreground
/// to its jobs; Ctrl-C never reaches init). Returns the pid.
fn start_on(console: &str, program: &Program, env: &Env) -> Option<usize> {
    let name = program.name();
    let file = match File::open_with(console, O_RDWR) {
        Ok(file) => file,
        Err(err) => {
            log::warn!("console {console}: {err}; not starting {name} there");
            return None;
        }
    };
    let vars = env.entries();
    match rt::process::fork() {
        Ok(Fork::Parent(pid)) => {
            log::info!("started {name} on {console} (pid {pid})");
            Some(pid)
        }
        Ok(Fork::Child) => {
            if let Err(err) = rt::process::setpgid(0, 0) {
                log::error!("{name}: cannot get a process group of its own: {err}");
            }
            for fd in 0..3 {
                if let Err(err) = rt::sys::dup2(file.fd(), fd, &[]) {
                    log::error!("{name}: cannot put {console} on fd {fd}: {err}");
                    rt::process::exit(crate::start::EXEC_FAILED);
                }
            }
            drop(file);
            crate::start::exec(program, &vars)
        }
        Err(err) => {
            log::error!("cannot start {name} on {console}: fork: {err}");
            None
        }
    }
}
