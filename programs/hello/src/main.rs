//! `hello`: the first userspace program and the runtime's smoke test. It
//! prints its pid, arguments and environment, reads the clock, and exits 0.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use rt::prelude::*;

rt::main!(main);

fn main() -> Result<(), rt::Error> {
    let start = rt::time::now();
    println!("hello from userspace: pid {}", rt::process::getpid());
    println!("parent pid {}", rt::process::getppid());
    let args: Vec<&str> = rt::env::args().collect();
    println!("args ({}): {args:?}", args.len());
    for (key, value) in rt::env::vars() {
        println!("env {key}={value}");
    }
    let greeting = format!("{} bytes on the heap", String::from("hello").repeat(100).len());
    println!("{greeting}");
    println!("monotonic clock: {:?} since boot", start);
    rt::thread::yield_now();
    println!("took {:?}", rt::time::now().saturating_sub(start));
    Ok(())
}
