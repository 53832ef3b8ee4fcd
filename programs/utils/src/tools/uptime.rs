//! `uptime`: how long the system has run, from the monotonic clock
//! (`CLOCK_MONOTONIC`, which starts at boot), as `up 1 day, 2:03:04` or
//! `up 0:01:05`. There is no load average or user count to show. Reads
//! only the clock.

use rt::println;

use crate::report::{self, OK};

pub fn main(args: &[&str]) -> u8 {
    if !args.is_empty() {
        return report::usage("uptime", "takes no arguments");
    }
    let seconds = rt::time::now().as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let clock = alloc::format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => println!("up {clock}"),
        1 => println!("up 1 day, {clock}"),
        days => println!("up {days} days, {clock}"),
    }
    OK
}
