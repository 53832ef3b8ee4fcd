//! One fuzzing child: an unprivileged process that makes random system
//! calls. It starts with standard input and output on `null:`, in a
//! namespace without the consoles, as user `1000 + slot`, with a few fds
//! open on every kind of scheme, a scratch buffer for call data, a
//! read-only page and a 64 MiB playground for memory calls. Then it makes
//! its calls (`rt::testing::raw_syscall`: the point is to pass what no
//! well-behaved program would), remembering the fds and children they
//! give it. A child of its own (a `fork` call) exits at once.

use alloc::string::String;
use alloc::vec::Vec;

use fuzz_spec::{SCRATCH_LEN, SPECS, World};
use rt::abi::{SYS_DUP, SYS_DUP2, SYS_FORK, SYS_OPEN};
use rt::prelude::*;
use xorshift::Rng;

use crate::progress::Progress;

const PLAYGROUND: usize = 64 << 20;
/// Fds remembered (closed ones stay: they are hostile values too).
const MAX_FDS: usize = 48;
const MAX_CHILDREN: usize = 8;

/// The exit status of a child that could not set itself up.
pub const SET_UP_FAILED: u8 = 3;

/// The namespace a child gets: every scheme it sees but the consoles
/// (see `fuzz_spec::SCHEMES_SPARED`). Read by each child, since schemes
/// come and go (the hostile daemon may even hand its own socket away).
fn namespace() -> rt::Result<Vec<String>> {
    let text = rt::fs::read_to_string("sys:scheme")?;
    Ok(text
        .lines()
        .filter(|name| !name.is_empty() && !fuzz_spec::SCHEMES_SPARED.contains(name))
        .map(String::from)
        .collect())
}

/// Files of every kind to start with, so calls on fds reach the schemes.
const STARTERS: &[(&str, usize)] = &[
    ("null:", 0),
    ("zero:", 0),
    ("rand:", 0),
    ("pipe:", 0),
    ("event:", 0),
    ("sys:context", 0),
    ("time:4", 0),
    ("log:", 0),
    ("pci:", 0),
    ("initfs:bin/hello", 0),
    ("memory:", 0),
    ("fuzzcon:", 0),
    ("netcfg:eth0", 0),
    ("udp:10.0.2.2:9", 0),
    ("icmp:echo/10.0.2.2", 0),
];

fn set_up(slot: usize, progress: &Progress) -> rt::Result<Vec<usize>> {
    let mut step = 0;
    let mut mark = || {
        progress.setup_step(slot, step);
        step += 1;
    };
    mark();
    let null = rt::sys::open("null:", rt::abi::syscall::O_RDWR)?;
    for fd in 0..3 {
        rt::sys::dup2(null, fd, &[])?;
    }
    let _ = rt::sys::close(null);
    let _ = rt::process::setpgid(0, 0);
    // The user first: what the child makes (files, channels, shared
    // memory) is charged to it, under its quotas, not to root.
    let id = 1000 + slot as u32;
    rt::sys::setuid(id, id)?;
    let mut fds = Vec::new();
    let nonblocking = rt::abi::syscall::O_NONBLOCK;
    for &(path, flags) in STARTERS {
        mark();
        if let Ok(fd) = rt::sys::open(path, flags | nonblocking | rt::abi::syscall::O_RDWR) {
            fds.push(fd);
        } else if let Ok(fd) = rt::sys::open(path, flags | nonblocking) {
            fds.push(fd);
        }
    }
    mark();
    let dir = format!("tmp:fuzz{}", slot % 4);
    let _ = rt::fs::File::open_with(&dir, rt::abi::syscall::O_CREAT | rt::abi::syscall::O_DIRECTORY);
    if let Ok(fd) =
        rt::sys::open(&format!("{dir}/f"), rt::abi::syscall::O_CREAT | rt::abi::syscall::O_RDWR | nonblocking)
    {
        fds.push(fd);
    }
    mark();
    if let Ok(fd) = rt::sys::open(&format!("chan:fuzz{slot}"), rt::abi::syscall::O_CREAT | nonblocking) {
        fds.push(fd);
    }
    mark();
    if let Ok(fd) = rt::sys::open(&format!("shm:fuzz{slot}"), rt::abi::syscall::O_CREAT | rt::abi::syscall::O_RDWR) {
        let _ = rt::sys::ftruncate(fd, 8192);
        fds.push(fd);
    }
    mark();
    let namespace = namespace()?;
    let names: Vec<&str> = namespace.iter().map(String::as_str).collect();
    rt::sys::ns_restrict(&names)?;
    Ok(fds)
}

/// Run `calls` calls from `seed` in fuzzer slot `slot`; never returns.
/// `keys` is the private console's keyboard (inherited; its fd joins the
/// ones the calls use).
pub fn run(slot: usize, seed: u64, calls: u64, progress: &Progress, keys: usize) -> ! {
    let mut fds = match set_up(slot, progress) {
        Ok(fds) => fds,
        Err(_) => rt::process::exit(i32::from(SET_UP_FAILED)),
    };
    fds.push(keys);
    let (Ok(scratch), Ok(read_only), Ok(playground)) = (
        rt::mem::map_anonymous(SCRATCH_LEN),
        rt::mem::map_anonymous(4096).and_then(|m| m.into_read_only()),
        rt::mem::map_anonymous(PLAYGROUND),
    ) else {
        rt::process::exit(4)
    };
    let scratch_addr = scratch.addr();
    let scratch = scratch.leak();
    let playground = (playground.addr(), PLAYGROUND);
    let pid = rt::process::getpid();
    let ppid = rt::process::getppid();
    let mut children: Vec<usize> = Vec::new();
    let mut rng = Rng::new(seed);
    for _ in 0..calls {
        let world = World {
            scratch_addr,
            read_only: read_only.addr(),
            playground,
            fds: &fds,
            pid,
            ppid,
            children: &children,
            slot,
        };
        let call = fuzz_spec::generate(&mut rng, &world, scratch);
        progress.begin(slot, call.spec, &call.args, path_of(&call, scratch_addr, scratch));
        let number = SPECS[call.spec].number;
        let result = rt::testing::raw_syscall(number, call.args);
        if number == SYS_FORK && result == 0 {
            // The fuzzer's own child: it has nothing to do.
            rt::sys::exit(0);
        }
        if result < 0 {
            continue;
        }
        let value = result as usize;
        match number {
            SYS_OPEN | SYS_DUP | SYS_DUP2 => remember(&mut fds, value, MAX_FDS, &mut rng),
            SYS_FORK => remember(&mut children, value, MAX_CHILDREN, &mut rng),
            _ => {}
        }
    }
    rt::process::exit(0)
}

fn remember(list: &mut Vec<usize>, value: usize, max: usize, rng: &mut Rng) {
    if list.len() < max {
        list.push(value);
    } else {
        let i = rng.below(max);
        list[i] = value;
    }
}

/// The bytes of `call`'s path argument when they lie in the scratch buffer
/// (for the report of a call that hangs).
fn path_of<'a>(call: &fuzz_spec::Call, scratch_addr: usize, scratch: &'a [u8]) -> &'a [u8] {
    let mut register = 0;
    for &arg in SPECS[call.spec].args {
        if arg == fuzz_spec::Arg::Path {
            let (ptr, len) = (call.args[register], call.args[register + 1]);
            return ptr
                .checked_sub(scratch_addr)
                .and_then(|start| scratch.get(start..start.checked_add(len.min(64))?))
                .unwrap_or(&[]);
        }
        register += arg.slots();
    }
    &[]
}
