//! `poweroff` and `reboot` (root only): ask init, through the kernel's
//! `power:`, to stop every program and daemon (the shells first, then the
//! daemons in the reverse order of their start) and to turn the machine
//! off (ACPI S5) or reset it. They return at once; init does the rest.

use rt::abi::syscall::O_WRONLY;
use rt::fs::File;

use crate::report::{self, FAILED, OK};

pub fn poweroff_main(args: &[&str]) -> u8 {
    request("poweroff", args)
}

pub fn reboot_main(args: &[&str]) -> u8 {
    request("reboot", args)
}

fn request(word: &str, args: &[&str]) -> u8 {
    if !args.is_empty() {
        return report::usage(word, "no arguments expected");
    }
    let result = File::open_with("power:", O_WRONLY).and_then(|mut power| power.write_all(word.as_bytes()));
    match result {
        Ok(()) => OK,
        Err(err) => {
            rt::eprintln!("{word}: power:: {err}");
            FAILED
        }
    }
}
