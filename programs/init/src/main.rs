//! `init`: the first program of a normal boot, until the init that runs
//! `initfs:/etc/init.rc` exists (DESIGN.md §1). It says the system is up,
//! runs `initfs:bin/hello` and reports how it ended, then does the one job
//! every pid 1 has: it reaps children, its own and the orphans the kernel
//! hands it, forever.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::time::Duration;

use rt::abi::syscall::{ECHILD, EINTR};
use rt::prelude::*;

rt::main!(main);

/// The program started once the system is up.
const FIRST: &str = "initfs:bin/hello";

/// How long to sleep when there are no children to wait for.
const IDLE: Duration = Duration::from_secs(1);

fn main() {
    println!("init: Ferrite userspace up (pid {})", rt::process::getpid());
    match rt::process::spawn(FIRST, &[]) {
        Ok(pid) => match rt::process::wait(pid) {
            Ok(status) => println!("init: {FIRST} (pid {pid}) ended: {status}"),
            Err(err) => println!("init: waiting for {FIRST} (pid {pid}): {err}"),
        },
        Err(err) => println!("init: cannot start {FIRST}: {err}"),
    }
    loop {
        match rt::process::wait_any(false) {
            Ok(Some((pid, status))) => println!("init: reaped pid {pid}: {status}"),
            Ok(None) => {}
            Err(err) if err.errno == ECHILD => rt::time::sleep(IDLE),
            Err(err) if err.errno == EINTR => {}
            Err(err) => {
                println!("init: waitpid: {err}");
                rt::time::sleep(IDLE);
            }
        }
    }
}
