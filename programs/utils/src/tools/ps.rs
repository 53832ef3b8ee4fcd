//! `ps`: the processes, from the kernel's `sys:context` table: pid,
//! parent, process group, state and program name, one per line under a
//! header. Columns are found by their names in the table's header, so
//! columns the kernel adds do not shift them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::report::{self, FAILED, OK};

/// The columns shown, as `sys:context` names them.
const COLUMNS: [&str; 5] = ["PID", "PPID", "PGID", "STATE", "NAME"];

pub fn main(_args: &[&str]) -> u8 {
    let Some(text) = report::read_text("ps", "sys:context") else {
        return FAILED;
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    let Some(at) = COLUMNS.iter().map(|name| header.iter().position(|h| h == name)).collect::<Option<Vec<usize>>>()
    else {
        rt::eprintln!("ps: sys:context: unexpected header {header:?}");
        return FAILED;
    };
    let mut out = String::from("  PID  PPID  PGID STATE     NAME\n");
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let field = |i: usize| fields.get(at[i]).copied().unwrap_or("?");
        // NAME is the last column and may hold spaces: take the rest.
        let name = fields.get(at[4]..).map(|rest| rest.join(" ")).unwrap_or_default();
        let _ = writeln!(out, "{:>5} {:>5} {:>5} {:<9} {name}", field(0), field(1), field(2), field(3));
    }
    let _ = rt::io::write_stdout(out.as_bytes());
    OK
}
