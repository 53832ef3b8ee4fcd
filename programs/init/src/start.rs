//! Starting the programs of the script: `run` (wait for readiness) and
//! `spawn` (don't).
//!
//! `run` makes a pipe, forks, and in the child execs the program with the
//! script's environment plus `INIT_NOTIFY=<fd>`, the write end of the pipe
//! (pipe ends are not close-on-exec, so the program inherits it). The
//! parent closes its copy of the write end and reads the read end: one
//! byte means ready; end-of-file means every copy of the write end is
//! closed, because the program closed it or exited, without a byte.

use core::fmt;
use core::time::Duration;

use initrc::{Env, Program};
use rt::abi::syscall::{EINTR, Event, EventFlags, TimeSpec};
use rt::fs::File;
use rt::prelude::*;
use rt::process::{ExitStatus, Fork};

/// The environment variable that names the readiness fd.
pub const NOTIFY_VAR: &str = "INIT_NOTIFY";

/// After end-of-file on the pipe, how long to look for the program's exit
/// status: an exiting process closes its files before its status appears.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// How long a `run` program may take to signal readiness before init
/// logs it and goes on (a daemon that hangs must not stop the boot).
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The exit status of a child that could not exec its program.
pub const EXEC_FAILED: i32 = 127;

/// Starts `program` and waits until it signals readiness or stops
/// without signalling; logs which, and how long it took (that it is ready
/// at `ready_level`: a restart's is a warning, so the consoles show it).
/// Returns its pid while it runs (`None` if it could not start or has
/// ended already).
pub fn run(program: &Program, env: &Env, ready_level: log::Level) -> Option<usize> {
    let name = program.name();
    let start = rt::time::now();
    let (mut read_end, write_end) = match rt::fs::pipe() {
        Ok(ends) => ends,
        Err(err) => {
            log::error!("{name}: cannot make its readiness pipe: {err}; starting it without waiting");
            return spawn(program, env);
        }
    };
    let mut vars = env.entries();
    vars.push(format!("{NOTIFY_VAR}={}", write_end.fd()));
    let pid = match rt::process::fork() {
        Ok(Fork::Parent(pid)) => pid,
        Ok(Fork::Child) => {
            drop(read_end);
            exec(program, &vars)
        }
        Err(err) => {
            log::error!("cannot start {}: fork: {err}", program.path);
            return None;
        }
    };
    // Only the child may hold the write end now, so end-of-file on the
    // read end means it let go of it.
    drop(write_end);
    let (readiness, answered) = wait_ready(&mut read_end, pid);
    let took = Millis(answered.saturating_sub(start));
    match readiness {
        Readiness::Ready => log::log!(ready_level, "{name} (pid {pid}) ready after {took}"),
        Readiness::Exited(status) => {
            log::warn!("{name} (pid {pid}) exited before signalling readiness (after {took}): {}", Ended(status));
            return None;
        }
        Readiness::Closed => log::warn!(
            "{name} (pid {pid}) closed {NOTIFY_VAR} without signalling readiness (after {took}); \
             it is still running, going on"
        ),
        Readiness::Failed(err) => {
            log::warn!("{name} (pid {pid}): reading its readiness pipe: {err}; going on")
        }
        Readiness::TimedOut => log::warn!(
            "{name} (pid {pid}) did not signal readiness within {} s; going on without it",
            READY_TIMEOUT.as_secs()
        ),
    }
    Some(pid)
}

/// Starts `program` and goes on at once; init's reaping loop collects it
/// when it ends. Returns its pid.
pub fn spawn(program: &Program, env: &Env) -> Option<usize> {
    let vars = env.entries();
    match rt::process::fork() {
        Ok(Fork::Parent(pid)) => {
            log::info!("started {} (pid {pid})", program.name());
            Some(pid)
        }
        Ok(Fork::Child) => exec(program, &vars),
        Err(err) => {
            log::error!("cannot start {}: fork: {err}", program.path);
            None
        }
    }
}

/// In a child: becomes `program` with the environment `vars`; if that
/// fails, says why and exits with [`EXEC_FAILED`].
pub fn exec(program: &Program, vars: &[String]) -> ! {
    let args: Vec<&str> = program.args.iter().map(String::as_str).collect();
    let env: Vec<&str> = vars.iter().map(String::as_str).collect();
    let err = rt::process::exec(&program.path, &args, &env);
    log::error!("cannot exec {}: {err}", program.path);
    rt::process::exit(EXEC_FAILED)
}

/// How a `run` program's start ended.
enum Readiness {
    /// It wrote a byte.
    Ready,
    /// It exited without writing one.
    Exited(ExitStatus),
    /// It closed the fd without writing, and is still running.
    Closed,
    /// Reading the pipe failed.
    Failed(rt::Error),
    /// Nothing within [`READY_TIMEOUT`]; it still runs.
    TimedOut,
}

/// Reads one byte from `read_end`, the readiness pipe of child `pid`;
/// returns what came of it and when the pipe answered (time since boot).
fn wait_ready(read_end: &mut File, pid: usize) -> (Readiness, Duration) {
    if let Err(readiness) = wait_readable(read_end) {
        return (readiness, rt::time::now());
    }
    let mut byte = [0u8; 1];
    loop {
        match read_end.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => return (Readiness::Ready, rt::time::now()),
            Err(err) if err.errno == EINTR => {}
            Err(err) => return (Readiness::Failed(err), rt::time::now()),
        }
    }
    let answered = rt::time::now();
    let readiness = match exit_status_soon(pid) {
        Some(status) => Readiness::Exited(status),
        None => Readiness::Closed,
    };
    (readiness, answered)
}

/// Waits until `read_end` is readable (a byte, or end-of-file) or
/// [`READY_TIMEOUT`] passes, with an `event:` queue watching it and a
/// `time:` timeout. If the queue or the timer cannot be had, the caller's
/// blocking read does the waiting, unbounded.
fn wait_readable(read_end: &File) -> Result<(), Readiness> {
    const PIPE: usize = 1;
    let Ok(queue) = rt::event::EventQueue::new() else { return Ok(()) };
    let Ok(mut timer) = File::open_with("time:4", rt::abi::syscall::O_RDWR) else { return Ok(()) };
    let deadline = rt::time::now() + READY_TIMEOUT;
    let when = TimeSpec { tv_sec: deadline.as_secs() as i64, tv_nsec: deadline.subsec_nanos() as i32 };
    if timer.write_all(&when).is_err()
        || queue.watch(read_end.fd(), EventFlags::EVENT_READ, PIPE).is_err()
        || queue.watch(timer.fd(), EventFlags::EVENT_READ, PIPE + 1).is_err()
    {
        return Ok(());
    }
    let mut events = [Event::default(); 2];
    loop {
        match queue.wait(&mut events) {
            Ok(n) if events[..n].iter().any(|e| e.data == PIPE) => return Ok(()),
            Ok(_) => return Err(Readiness::TimedOut),
            Err(err) if err.errno == EINTR => {}
            Err(_) => return Ok(()),
        }
    }
}

/// Reaps child `pid` if it ends within [`EXIT_GRACE`].
fn exit_status_soon(pid: usize) -> Option<ExitStatus> {
    let deadline = rt::time::now() + EXIT_GRACE;
    let mut tries = 0u32;
    loop {
        match rt::sys::waitpid(pid, rt::abi::WNOHANG) {
            Ok((0, _)) => {}
            Ok((_, raw)) => return Some(ExitStatus::from_raw(raw)),
            Err(err) if err.errno == EINTR => {}
            Err(_) => return None,
        }
        if rt::time::now() >= deadline {
            return None;
        }
        // The exit is usually a few instructions away: yield first, then
        // sleep so a program that lives on costs little.
        if tries < 16 {
            rt::thread::yield_now();
        } else {
            rt::time::sleep(Duration::from_millis(1));
        }
        tries += 1;
    }
}

/// A duration as milliseconds with one decimal: `3.2 ms`.
struct Millis(Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0.as_micros();
        write!(f, "{}.{} ms", micros / 1000, micros % 1000 / 100)
    }
}

/// How a child ended, for the readiness log: `exited with status 0`.
struct Ended(ExitStatus);

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.code(), self.0.signal()) {
            (Some(code), _) => write!(f, "exited with status {code}"),
            (_, Some(signal)) => write!(f, "killed by signal {signal}"),
            _ => write!(f, "{}", self.0),
        }
    }
}
