//! `kill [-SIGNAL] PID...`: sends a signal (default `TERM`) to each
//! process; a PID written `-N` (after the signal) means every process of
//! process group N. SIGNAL is a number or a name, with or without `SIG`:
//! `INT` (2), `KILL` (9), `TERM` (15).

use rt::abi::{SIGINT, SIGKILL, SIGTERM};

use crate::report::{self, FAILED, OK};

fn signal(name: &str) -> Option<usize> {
    if let Ok(number) = name.parse::<usize>() {
        return Some(number);
    }
    match name.strip_prefix("SIG").unwrap_or(name) {
        "INT" => Some(SIGINT),
        "KILL" => Some(SIGKILL),
        "TERM" => Some(SIGTERM),
        _ => None,
    }
}

pub fn main(args: &[&str]) -> u8 {
    let (signal, pids) = match args.split_first() {
        Some((first, rest)) if first.starts_with('-') => match signal(&first[1..]) {
            Some(signal) => (signal, rest),
            None => return report::usage("kill", &alloc::format!("unknown signal {}", &first[1..])),
        },
        _ => (SIGTERM, args),
    };
    if pids.is_empty() {
        return report::usage("kill", "no process given");
    }
    let mut status = OK;
    for &arg in pids {
        let result = match arg.strip_prefix('-').map(str::parse::<usize>) {
            Some(Ok(group)) => rt::process::kill_group(group, signal),
            Some(Err(_)) => Err(rt::Error::new(rt::abi::syscall::EINVAL)),
            None => match arg.parse::<usize>() {
                Ok(pid) => rt::process::kill(pid, signal),
                Err(_) => Err(rt::Error::new(rt::abi::syscall::EINVAL)),
            },
        };
        if let Err(err) = result {
            report::error("kill", arg, err);
            status = FAILED;
        }
    }
    status
}
