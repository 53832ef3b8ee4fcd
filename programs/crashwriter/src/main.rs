//! `crashwriter DIR SEED [OPS]`: does the power-cut test's workload
//! (`lib/crash-workload`) in the directory `DIR` (made if absent, with its
//! parent), `OPS` ops (default: until killed). After each op it `fsync`s
//! what the op changed and prints `crashwriter: ack K` (ops counted from
//! 0), and before each `crashwriter: begin K`: whatever the power does
//! after an ack, the disk must keep op K. `mk` cuts the power at a random
//! moment and checks the disk against the same workload
//! (`mk/src/powercut.rs`). Exits 1 with a message at the first error.
//!
//! May touch: `DIR` and its parent.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use crash_workload::{Step, Workload};
use rt::abi::syscall::{EEXIST, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_WRONLY};
use rt::fs::File;
use rt::prelude::*;

rt::main!(main);

fn mkdir(path: &str) -> rt::Result<()> {
    match File::open_with(path, O_CREAT | O_DIRECTORY | O_RDONLY | 0o755) {
        Ok(_) => Ok(()),
        Err(err) if err.errno == EEXIST => Ok(()),
        Err(err) => Err(err),
    }
}

/// Does `step` in `dir`; the file to `fsync` for it.
fn perform(dir: &str, step: &Step) -> rt::Result<File> {
    let path = |name: &str| format!("{dir}/{name}");
    match step {
        Step::Create(name) => File::open_with(&path(name), O_CREAT | O_EXCL | O_WRONLY | 0o644),
        Step::Append(name, data) => {
            let mut file = File::open_with(&path(name), O_WRONLY | O_APPEND)?;
            // One write, so one transaction: the file holds it all or none.
            let n = file.write(data)?;
            if n != data.len() {
                return Err(rt::Error::new(rt::abi::syscall::EIO));
            }
            Ok(file)
        }
        Step::Rename(from, to) => {
            let file = File::open(&path(from))?;
            rt::sys::frename(file.fd(), &path(to))?;
            File::open(dir)
        }
        Step::Unlink(name) => {
            rt::fs::remove_file(&path(name))?;
            File::open(dir)
        }
    }
}

/// A step, for a message (without its data).
fn what(step: &Step) -> String {
    match step {
        Step::Create(name) => format!("create {name}"),
        Step::Append(name, data) => format!("append {} bytes to {name}", data.len()),
        Step::Rename(from, to) => format!("rename {from} to {to}"),
        Step::Unlink(name) => format!("unlink {name}"),
    }
}

fn main() -> Result<(), rt::Error> {
    let mut args = rt::env::args().skip(1);
    let (Some(dir), Some(seed)) = (args.next(), args.next().and_then(|s| s.parse::<u64>().ok())) else {
        eprintln!("usage: crashwriter DIR SEED [OPS]");
        return Err(rt::Error::new(rt::abi::syscall::EINVAL));
    };
    let ops = args.next().and_then(|s| s.parse::<usize>().ok()).unwrap_or(usize::MAX);
    let dir = rt::fs::resolve(dir);
    if let Some((parent, _)) = dir.trim_end_matches('/').rsplit_once('/') {
        mkdir(parent).inspect_err(|err| eprintln!("crashwriter: {parent}: {err}"))?;
    }
    mkdir(&dir).inspect_err(|err| eprintln!("crashwriter: {dir}: {err}"))?;
    for (k, op) in Workload::new(seed).take(ops).enumerate() {
        println!("crashwriter: begin {k}");
        let mut last = None;
        for step in &op.steps {
            let file =
                perform(&dir, step).inspect_err(|err| eprintln!("crashwriter: op {k}, {}: {err}", what(step)))?;
            last = Some(file);
        }
        if let Some(file) = last {
            file.sync().inspect_err(|err| eprintln!("crashwriter: op {k}: fsync: {err}"))?;
        }
        println!("crashwriter: ack {k}");
    }
    println!("crashwriter: done");
    Ok(())
}
