//! The scheme daemons init starts on a normal boot (`schemes/`), started
//! here by the test itself (a self-test boot runs no `init.rc`): `zero:`,
//! `null:`, `rand:` and the example `greet:`.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use rt::abi::syscall::{self as sc, O_RDWR};
use rt::fs::File;

use crate::support::{Outcome, WAIT, ensure, fork_child, kill_and_reap, ok, wait_until};

/// A daemon exec'd from the initfs, killed when dropped.
struct Daemon(usize);

impl Drop for Daemon {
    fn drop(&mut self) {
        kill_and_reap(self.0);
    }
}

/// Start `initfs:bin/PROGRAM` and wait until `scheme:` opens.
fn start(program: &str, scheme: &str) -> Result<Daemon, String> {
    let path = format!("initfs:bin/{program}");
    let pid = fork_child(|| {
        let err = rt::process::exec(&path, &[], &[]);
        rt::eprintln!("usertests: exec {path}: {err}");
        127
    })?;
    let daemon = Daemon(pid);
    let url = format!("{scheme}:");
    ensure!(wait_until(WAIT, || File::open(&url).is_ok()), "{program} never served {url}");
    Ok(daemon)
}

pub fn zero_null_and_rand_daemons() -> Outcome {
    let _zero = start("zerod", "zero")?;
    let _null = start("nulld", "null")?;
    let _rand = start("randd", "rand")?;
    let mut zero = ok("open zero:", File::open_with("zero:", O_RDWR))?;
    let mut big = vec![0xffu8; 65_536 + 7];
    let n = ok("read zero:", zero.read(&mut big[7..]))?;
    ensure!(n == 65_536 && big[7..].iter().all(|&b| b == 0), "zero: gave {n} bytes, not all zero");
    ensure!(big[..7].iter().all(|&b| b == 0xff), "zero: wrote outside the buffer");
    ensure!(ok("write zero:", zero.write(b"gone"))? == 4, "zero: refused a write");

    let mut null = ok("open null:", File::open_with("null:", O_RDWR))?;
    let mut buf = [1u8; 16];
    ensure!(ok("read null:", null.read(&mut buf))? == 0, "null: is not end-of-file");
    ensure!(ok("write null:", null.write(&big))? == big.len(), "null: took less than everything");

    let mut rand = ok("open rand:", File::open("rand:"))?;
    let mut a = vec![0u8; 4096];
    let mut b = vec![0u8; 4096];
    ok("read rand:", rand.read_exact(&mut a))?;
    ok("read rand:", rand.read_exact(&mut b))?;
    ensure!(a != b, "two reads of rand: gave the same bytes");
    let mut counts = [0u32; 256];
    for &byte in a.iter().chain(&b) {
        counts[usize::from(byte)] += 1;
    }
    // 8192 bytes over 256 values: 32 expected each; a broken generator
    // (all zero, a short cycle) leaves most values out.
    let seen = counts.iter().filter(|&&c| c > 0).count();
    ensure!(seen > 240, "rand: used only {seen} of 256 byte values in 8 KiB");
    expect_enoent()?;
    Ok(format!("zero: 64 KiB of zeroes, null: EOF and a sink, rand: {seen}/256 byte values"))
}

fn expect_enoent() -> Result<(), String> {
    for url in ["zero:x", "null:x", "rand:x"] {
        crate::support::expect_err(url, File::open(url), sc::ENOENT)?;
    }
    Ok(())
}

pub fn greet_example_daemon() -> Outcome {
    let _greet = start("greetd", "greet")?;
    let hello = ok("read greet:world", rt::fs::read_to_string("greet:world"))?;
    ensure!(hello == "Hello, world!\n", "greet:world says {hello:?}");
    ok("write greet:", rt::fs::write("greet:", b"Howdy\n"))?;
    let howdy = ok("read greet:Ferrite", rt::fs::read_to_string("greet:Ferrite"))?;
    ensure!(howdy == "Howdy, Ferrite!\n", "after the write, greet:Ferrite says {howdy:?}");
    let lines: Vec<&str> = howdy.lines().collect();
    Ok(String::from(lines[0]))
}
