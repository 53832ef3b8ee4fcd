//! `free`: physical memory and kernel heap, from `sys:memory`, in
//! human-readable units (`B`, `KiB`, `MiB`, `GiB`, one decimal):
//!
//! ```text
//!              total       used       free
//! Mem:     239.9 MiB    3.1 MiB  236.8 MiB
//! Heap:    256.0 KiB  120.5 KiB  135.5 KiB
//! ```

use alloc::format;
use alloc::string::String;

use rt::println;

use crate::report::{self, FAILED, OK};

/// `bytes` in the largest binary unit that keeps it at least 1.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 0;
    let mut scale = 1u64;
    while unit + 1 < UNITS.len() && bytes >= scale * 1024 {
        scale *= 1024;
        unit += 1;
    }
    let tenths = bytes * 10 / scale;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

fn number(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(':')?.trim().parse().ok())
}

pub fn main(_args: &[&str]) -> u8 {
    let Some(text) = report::read_text("free", "sys:memory") else {
        return FAILED;
    };
    let figures = (|| {
        Some((
            number(&text, "bytes_total")?,
            number(&text, "bytes_used")?,
            number(&text, "bytes_free")?,
            number(&text, "heap_mapped")?,
            number(&text, "heap_used")?,
            number(&text, "heap_free")?,
        ))
    })();
    let Some((total, used, free, heap_total, heap_used, heap_free)) = figures else {
        rt::eprintln!("free: sys:memory: unexpected contents");
        return FAILED;
    };
    println!("{:<6}{:>11}{:>11}{:>11}", "", "total", "used", "free");
    println!("{:<6}{:>11}{:>11}{:>11}", "Mem:", human(total), human(used), human(free));
    println!("{:<6}{:>11}{:>11}{:>11}", "Heap:", human(heap_total), human(heap_used), human(heap_free));
    OK
}
