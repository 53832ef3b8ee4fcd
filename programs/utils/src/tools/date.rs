//! `date`: the wall-clock time (`CLOCK_REALTIME`, which the kernel starts
//! from the machine's real-time clock), as `Thu Dec  3 11:50:50 UTC 2026`;
//! `date +%s` prints the seconds since the Unix epoch instead.

use rt::abi::syscall::CLOCK_REALTIME;
use rt::println;

use crate::report::{self, FAILED, OK};

pub fn main(args: &[&str]) -> u8 {
    let now = match rt::time::clock(CLOCK_REALTIME) {
        Ok(now) => now.as_secs(),
        Err(err) => {
            rt::eprintln!("date: clock_gettime: {err}");
            return FAILED;
        }
    };
    match args {
        [] => match wall_clock::Date::from_unix(now as i64) {
            Some(date) => println!("{date}"),
            None => println!("{now} s after the epoch"),
        },
        ["+%s"] => println!("{now}"),
        _ => return report::usage("date", "unknown arguments"),
    }
    OK
}
