//! `bootstrap`, the first userspace program (docs/architecture.md §1.3). The kernel
//! starts it from the initfs image with no stack; its assembly stub
//! ([`stub`]) makes one. Then it:
//!
//! 1. protects its own segments as its ELF headers declare (text R-X,
//!    rodata R, data RW), read from its own file in the image;
//! 2. forks the `initfs:` daemon, which serves the image read-only, with
//!    directory listings and zero-copy `fmap` of file pages, from the null
//!    namespace, and waits until it is ready;
//! 3. execs `initfs:sbin/init` (or, on a self-test boot, the test suite),
//!    which stays pid 1.
//!
//! Its `unsafe` is the stub, the view of the image the kernel mapped and
//! the `mprotect` of its own segments ([`image`], [`protect`]).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod image;
mod protect;
mod stub;

use rt::abi::auxv::{AT_FERRITE_IMAGE_ADDR, AT_FERRITE_IMAGE_LEN, AT_FERRITE_SELFTEST};
use rt::prelude::*;
use rt::process::Fork;

rt::main!(main);

const INIT: &str = "initfs:sbin/init";
const USER_TESTS: &str = "initfs:libexec/usertests";

fn main() -> Result<(), String> {
    let addr = rt::env::auxv(AT_FERRITE_IMAGE_ADDR).ok_or("no initfs image from the kernel")?;
    let len = rt::env::auxv(AT_FERRITE_IMAGE_LEN).ok_or("no initfs image length")?;
    let selftest = rt::env::auxv(AT_FERRITE_SELFTEST) == Some(1);
    let image = image::from_kernel(addr, len);
    let segments = protect::own_segments(image).map_err(|e| format!("protecting own segments: {e}"))?;
    println!("bootstrap: {segments} segments protected; initfs image of {} KiB", len / 1024);

    let (ready_read, ready_write) = rt::fs::pipe().map_err(|e| format!("pipe: {e}"))?;
    match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            drop(ready_read);
            let result = initfsd::serve(image, move || {
                let mut ready_write = ready_write;
                let _ = ready_write.write_all(b"R");
            });
            if let Err(err) = result {
                eprintln!("initfsd: {err}");
            }
            rt::process::exit(1)
        }
        Fork::Parent(pid) => {
            drop(ready_write);
            let mut byte = [0u8; 1];
            let mut ready_read = ready_read;
            match ready_read.read(&mut byte) {
                Ok(1) => println!("bootstrap: initfs: served by pid {pid}"),
                _ => return Err(format!("the initfs daemon (pid {pid}) ended before it was ready")),
            }
        }
    }
    let target = if selftest { USER_TESTS } else { INIT };
    let err = rt::process::exec(target, &[], &[]);
    Err(format!("exec {target}: {err}"))
}
