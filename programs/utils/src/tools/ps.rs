//! `ps`: the processes, from the kernel's `sys:context` table: pid,
//! parent, state and program name, one per line under a header.

use alloc::string::String;
use core::fmt::Write;

use crate::report::{self, FAILED, OK};

pub fn main(_args: &[&str]) -> u8 {
    let text = match rt::fs::read_to_string("sys:context") {
        Ok(text) => text,
        Err(err) => {
            report::error("ps", "sys:context", err);
            return FAILED;
        }
    };
    let mut out = String::from("  PID  PPID STATE     NAME\n");
    // Columns of sys:context: PID PPID UID GID STATE THREADS VIRT_KIB NAME.
    for line in text.lines().skip(1) {
        let fields: alloc::vec::Vec<&str> = line.split_whitespace().collect();
        if let [pid, ppid, _uid, _gid, state, _threads, _virt, name @ ..] = fields.as_slice() {
            let _ = writeln!(out, "{pid:>5} {ppid:>5} {state:<9} {}", name.join(" "));
        }
    }
    let _ = rt::io::write_all(rt::io::STDOUT, out.as_bytes());
    OK
}
