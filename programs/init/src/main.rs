//! `init`: the first program of a normal boot after `bootstrap`
//! (docs/architecture.md §1.5). It runs the script `initfs:/etc/init.rc` (the language
//! is described and parsed by the `initrc` crate), then does the one job
//! every pid 1 has: it reaps children, its own and the orphans the kernel
//! hands it (quietly), forever.
//!
//! The script, line by line:
//! - a line that does not parse is logged (`init: initfs:etc/init.rc:
//!   line 3: unknown command "rn"`) and skipped; the rest still runs;
//! - `export` and `unset` change the environment init keeps (it starts
//!   from init's own) and that every later program gets;
//! - `run` starts a daemon and waits until it signals readiness or exits
//!   (see [`start`]), then logs how long that took;
//! - `spawn` starts a program and goes on at once;
//! - `console` starts a program on a console and starts it again whenever
//!   it exits (see [`console`]);
//! - `restart` starts a daemon as `run` does and starts it again when it
//!   ends as its policy says (see [`supervise`]).
//!
//! A `poweroff` or `reboot` request (written to the kernel's `power:` by a
//! root process) ends init's wait; init then stops everything and has the
//! kernel turn the machine off or reset it (see [`shutdown`]).
//!
//! If the script cannot be read, init says why and starts
//! `initfs:bin/hello` instead, so a broken image still shows a sign of
//! life.
//!
//! A daemon signals readiness by writing one byte to the fd named by the
//! environment variable `INIT_NOTIFY` and closing it (the scheme framework
//! does this for daemons built on it); a program that closes the fd or
//! exits without writing counts as not ready, and init goes on.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod console;
mod shutdown;
mod start;
mod supervise;

use core::time::Duration;

use initrc::{Command, Env, Program};
use rt::abi::syscall::{ECHILD, EINTR};
use rt::prelude::*;

rt::main!(main);

/// The script init runs.
const SCRIPT: &str = "initfs:etc/init.rc";

/// What init starts when it cannot read the script.
const FALLBACK: &str = "initfs:bin/hello";

/// How long to sleep when there are no children to wait for.
const IDLE: Duration = Duration::from_secs(1);
/// The longest sleep between polls while a restart waits for its time.
const POLL: Duration = Duration::from_millis(10);

fn main() {
    rt::log::init();
    log::info!("Ferrite userspace up (pid {})", rt::process::getpid());
    let own = rt::env::vars_bytes().filter_map(|entry| core::str::from_utf8(entry).ok());
    let mut env = Env::from_entries(own);
    // Only a `run` child gets a readiness fd; never pass one on by accident.
    env.unset(start::NOTIFY_VAR);
    let mut consoles = console::Consoles::default();
    let mut services = supervise::Services::default();
    match rt::fs::read(SCRIPT) {
        Ok(bytes) => run_script(&bytes, &mut env, &mut consoles, &mut services),
        Err(err) => {
            log::error!("cannot read {SCRIPT}: {err}; starting {FALLBACK} instead");
            start::spawn(&Program { path: String::from(FALLBACK), args: Vec::new() }, &env);
        }
    }
    // Booted: from now on the consoles show only warnings and errors.
    console_level("warn", true);
    let mut power = match rt::fs::File::open_with("power:", rt::abi::syscall::O_RDWR) {
        Ok(power) => Some(power),
        Err(err) => {
            log::error!("cannot open power: ({err}); poweroff and reboot will not work");
            None
        }
    };
    reap_forever(&env, &mut consoles, &mut services, &mut power)
}

/// Sets the least severe level of log line the consoles show, for the
/// system log (`log:console-level`, see `schemes/logd`) and, with
/// `kernel_too`, for the kernel's (`debug:level`).
pub fn console_level(level: &str, kernel_too: bool) {
    for knob in CONSOLE_LEVELS.iter().take(if kernel_too { 2 } else { 1 }) {
        let set = rt::fs::File::open_with(knob, rt::abi::syscall::O_WRONLY)
            .and_then(|mut file| file.write_all(level.as_bytes()));
        if let Err(err) = set {
            log::warn!("{knob}: {err}; its console level stays");
        }
    }
}

/// Where the consoles' log levels are set.
const CONSOLE_LEVELS: [&str; 2] = ["log:console-level", "debug:level"];

/// Runs every command of the script in order, after logging its bad lines.
fn run_script(bytes: &[u8], env: &mut Env, consoles: &mut console::Consoles, services: &mut supervise::Services) {
    let script = initrc::parse_bytes(bytes);
    for err in &script.errors {
        log::warn!("{SCRIPT}: {err}");
    }
    for step in &script.steps {
        match &step.command {
            Command::Export { .. } | Command::Unset { .. } => {
                env.apply(&step.command);
            }
            Command::Run(program) => {
                start::run(program, env, log::Level::Info);
            }
            Command::Spawn(program) => {
                start::spawn(program, env);
            }
            Command::Console { console, program } => consoles.start(console, program, env),
            Command::Restart { policy, program } => services.start(program, *policy, env),
        }
    }
}

/// Collects every child that ends, and says how it ended; console
/// programs and supervised daemons are started again. While a restart
/// waits for its time, the wait for children only polls. A power request
/// interrupts the wait (`EINTR`) and stops the system.
fn reap_forever(
    env: &Env,
    consoles: &mut console::Consoles,
    services: &mut supervise::Services,
    power: &mut Option<rt::fs::File>,
) -> ! {
    loop {
        if let Some(file) = power.as_mut()
            && let Some(request) = shutdown::pending(file)
        {
            // Shutting down: show every step, as during boot (init's and the
            // daemons'; the kernel's own lines would only cut into them).
            console_level("info", false);
            shutdown::run(request, file, services);
            // Still here: the kernel could not do it. Go on reaping.
            log::warn!(
                "the machine did not {}; still running",
                if request == shutdown::Request::PowerOff { "power off" } else { "reset" }
            );
        }
        services.restart_due(env);
        let pending = services.next_due();
        match rt::process::wait_any_interruptible(pending.is_some()) {
            Ok(Some((pid, status))) => {
                // Anything else is an orphan the kernel handed over (or a
                // `spawn`ed program): collected quietly, as every Unix init
                // does; its parent was the one to care how it ended.
                let _ = consoles.reaped(pid, status, env) || services.reaped(pid, status);
            }
            Ok(None) => rt::time::sleep(pending.unwrap_or(IDLE).min(POLL)),
            Err(err) if err.errno == ECHILD => rt::time::sleep(pending.unwrap_or(IDLE).min(IDLE)),
            Err(err) if err.errno == EINTR => {}
            Err(err) => {
                log::warn!("waitpid: {err}");
                rt::time::sleep(IDLE);
            }
        }
    }
}
