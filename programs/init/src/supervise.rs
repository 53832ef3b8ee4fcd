//! `restart POLICY PROGRAM ARGS...`: daemons init keeps running. Each is
//! started as `run` starts a program (waiting for its readiness); when it
//! ends, init says how (`init: tmpd (pid 8) killed by signal 9`) on the
//! console and in `log:`, and if the policy says so starts it again, at
//! once or after a back-off when it keeps ending right after its start
//! (`initrc::Backoff`). The new instance registers its scheme again, so
//! new opens reach it; fds opened on the old one keep failing with `EIO`
//! (the kernel never lets them reach the new instance's handles).
//!
//! Restarts that must wait are kept with their due time; the reaping loop
//! asks [`Services::next_due`] how long it may block.
//!
//! May touch: its children, `log:` (to leave a line there); nothing else.

use core::time::Duration;

use initrc::{Backoff, Env, Policy, Program};
use rt::prelude::*;
use rt::process::ExitStatus;

/// One `restart` line of the script.
struct Service {
    program: Program,
    policy: Policy,
    /// Running as this pid, or waiting to be started again at `due`.
    pid: Option<usize>,
    started: Duration,
    due: Option<Duration>,
    backoff: Backoff,
    restarts: u32,
}

/// The supervised daemons.
#[derive(Default)]
pub struct Services {
    list: Vec<Service>,
}

impl Services {
    /// Starts `program` (as `run` does) and supervises it.
    pub fn start(&mut self, program: &Program, policy: Policy, env: &Env) {
        let pid = crate::start::run(program, env, log::Level::Info);
        self.list.push(Service {
            program: program.clone(),
            policy,
            pid,
            started: rt::time::now(),
            due: None,
            backoff: Backoff::default(),
            restarts: 0,
        });
    }

    /// Called for every child init reaps: if it was a supervised daemon,
    /// log how it ended and plan its restart. Returns whether it was one.
    pub fn reaped(&mut self, pid: usize, status: ExitStatus) -> bool {
        let Some(index) = self.list.iter().position(|s| s.pid == Some(pid)) else { return false };
        let now = rt::time::now();
        let service = &mut self.list[index];
        service.pid = None;
        let name = String::from(service.program.name());
        let failed = !status.success();
        if !service.policy.restarts(failed) {
            log::warn!("{name} (pid {pid}) ended: {status}; not restarting it (its policy)");
            return true;
        }
        let delay = service.backoff.delay(now.saturating_sub(service.started));
        service.due = Some(now + delay);
        let when = if delay.is_zero() {
            String::from("restarting it")
        } else {
            format!("restarting it in {} ms ({} quick ends in a row)", delay.as_millis(), service.backoff.quick_ends())
        };
        log::warn!("{name} (pid {pid}) ended: {status}; {when}");
        true
    }

    /// The daemons running now, in the reverse order of the script that
    /// started them: (name, pid). The script's order, not the time of the
    /// last start: a driver restarted after the file system above it was
    /// started must still be stopped after it (the file system syncs to it).
    pub fn running_in_reverse_order(&self) -> Vec<(String, usize)> {
        self.list.iter().rev().filter_map(|s| Some((String::from(s.program.name()), s.pid?))).collect()
    }

    /// How long until the next restart is due (`None`: none is pending).
    pub fn next_due(&self) -> Option<Duration> {
        let now = rt::time::now();
        self.list.iter().filter_map(|s| s.due).min().map(|due| due.saturating_sub(now))
    }

    /// Starts again every daemon whose restart is due.
    pub fn restart_due(&mut self, env: &Env) {
        let now = rt::time::now();
        for index in 0..self.list.len() {
            if self.list[index].due.is_none_or(|due| due > now) {
                continue;
            }
            let service = &mut self.list[index];
            service.due = None;
            service.restarts += 1;
            service.started = rt::time::now();
            service.pid = crate::start::run(&service.program, env, log::Level::Warn);
            let (name, restarts) = (String::from(service.program.name()), service.restarts);
            match service.pid {
                Some(pid) => log::warn!("{name} restarted as pid {pid} (restart {restarts})"),
                None => {
                    // It ended before it was ready: count that as a quick end.
                    let delay = self.list[index].backoff.delay(Duration::ZERO);
                    self.list[index].due = Some(rt::time::now() + delay);
                    log::warn!("{name} did not come back; trying again in {} ms", delay.as_millis());
                }
            }
        }
    }
}
