//! `host NAME`: look a name up through DNS (`netcfg:resolve/NAME`, which
//! `netd` answers with its DNS servers) and print its IPv4 addresses.

use rt::abi::syscall::ENOENT;
use rt::println;

use crate::report::{self, FAILED, OK};

pub fn main(args: &[&str]) -> u8 {
    let [name] = args else { return report::usage("host", "one name expected") };
    if name.starts_with('-') {
        return report::usage("host", "unknown option");
    }
    match rt::fs::read_to_string(&alloc::format!("netcfg:resolve/{name}")) {
        Ok(text) => {
            for addr in text.lines() {
                println!("{name} has address {addr}");
            }
            OK
        }
        Err(err) if err.errno == ENOENT => {
            rt::eprintln!("host: {name}: not found");
            FAILED
        }
        Err(err) => {
            report::error("host", name, err);
            FAILED
        }
    }
}
