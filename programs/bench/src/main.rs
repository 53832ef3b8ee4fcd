//! `bench`: Ferrite's microbenchmarks, the peers of the Linux baseline's
//! (`../shared/bench/linux-baseline.sh`): a null system call (`getppid`),
//! two processes handing the CPU to each other with `sched_yield`,
//! fork+exit+wait, fork+exec+wait of this same binary with `--exit`,
//! calls on a userspace scheme daemon (`schemes`), `ipcd`'s channels
//! and shared memory (`ipc`), sequential, small-file and `fsync`
//! figures of `file:` and the raw `disk:1` (`disk`), TCP, ICMP and
//! HTTP figures against peers `cargo mk bench` runs on the host (`net`),
//! and, last, calls on one scheme daemon per CPU from as many clients at
//! once (`scale`: `cargo mk bench` boots it on 1, 2 and 4 CPUs and stops
//! the machine once that figure is in; it comes last so that its
//! processes, scheme and sleeps come after every other figure).
//!
//! `cargo mk bench` boots an image whose `sbin/init` is this program and
//! reads one line per benchmark:
//!
//! ```text
//! bench NAME: <ns per op> ns/op (<iterations> iterations)
//! ```
//!
//! then `bench done`. Each benchmark calibrates a batch size (doubling
//! until a batch takes 1/200 of the target time, which doubles as warm-up)
//! and then runs whole batches until [`TARGET`] has passed, as the Linux
//! baseline does. Under `-icount shift=0` the guest clock counts
//! instructions, so ns/op is then instructions per operation.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod disk;
mod ipc;
mod net;
mod scale;
mod schemes;

use core::sync::atomic::{AtomicU64, Ordering};

use rt::abi::syscall::{O_CLOEXEC, O_RDONLY};
use rt::prelude::*;
use rt::process::{ExitCode, Fork};

rt::main!(main);

/// Measured time per benchmark, in nanoseconds of the guest clock.
const TARGET: u64 = 500_000_000;

/// This program, as the fork+exec benchmark execs it.
const SELF: &str = "initfs:libexec/bench";

fn main() -> ExitCode {
    let args: Vec<&str> = rt::env::args().collect();
    if args.get(1) == Some(&"--exit") {
        return ExitCode::SUCCESS;
    }
    println!("bench: Ferrite microbenchmarks, {} ms each (pid {})", TARGET / 1_000_000, rt::process::getpid());
    let mut ok = report("null_syscall_getppid", 1, measure(getppid));
    ok &= match yield_pingpong() {
        Ok(result) => report("yield_pingpong", 2, Ok(result)),
        Err(err) => report("yield_pingpong", 2, Err(err)),
    };
    ok &= report("fork_exit_wait", 1, measure_fallible(fork_exit_wait));
    ok &= match rt::fs::File::open_with(SELF, O_RDONLY | O_CLOEXEC) {
        Ok(file) => report("fork_exec_wait", 1, measure_fallible(|| fork_exec_wait(file.fd()))),
        Err(err) => report("fork_exec_wait", 1, Err(format!("open {SELF}: {err}"))),
    };
    ok &= scheme_benchmarks();
    ok &= ipc_benchmarks();
    ok &= report("pipe_write_64k", 1, ipc::pipe_write());
    ok &= disk::benchmarks();
    ok &= net::benchmarks();
    ok &= match scale::cpus() {
        Ok(cpus) => report("scheme_scaling", 1, scale::measure(cpus)),
        Err(err) => report("scheme_scaling", 1, Err(err)),
    };
    println!("bench done");
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// The userspace-scheme benchmarks, all on one forked daemon.
fn scheme_benchmarks() -> bool {
    let names = [
        "scheme_read_1byte",
        "scheme_open_read_close",
        "scheme_read_4k",
        "scheme_read_64k",
        "scheme_open_read_close_batch",
    ];
    let daemon = match schemes::start() {
        Ok(daemon) => daemon,
        Err(err) => {
            for name in names {
                report(name, 1, Err(err.clone()));
            }
            return false;
        }
    };
    let mut ok = true;
    match rt::fs::File::open(schemes::URL) {
        Ok(mut file) => {
            for (name, len) in [(names[0], 1usize), (names[2], 4096), (names[3], 65_536)] {
                let mut buf = vec![0u8; len];
                ok &= report(name, 1, measure_fallible(|| schemes::read_whole(&mut file, &mut buf)));
            }
        }
        Err(err) => ok = report(names[0], 1, Err(format!("open: {err}"))),
    }
    ok &= report(names[1], 1, measure_fallible(schemes::open_read_close));
    ok &= report(names[4], 1, measure_fallible(schemes::open_read_close_batch));
    drop(daemon);
    ok
}

/// The `chan:` and `shm:` benchmarks, on the `ipcd`s started for them.
fn ipc_benchmarks() -> bool {
    let names = ["chan_pingpong_1byte", "chan_pingpong_write_read", "chan_write_64k", "shm_pass_64k", "shm_map_64k"];
    let _ipcd = match ipc::start_ipcd() {
        Ok(daemon) => daemon,
        Err(err) => {
            for name in names {
                report(name, 1, Err(err.clone()));
            }
            return false;
        }
    };
    let mut ok = report(names[0], 1, ipc::chan_pingpong());
    ok &= report(names[1], 1, ipc::chan_pingpong_write_read());
    ok &= report(names[2], 1, ipc::chan_write());
    ok &= report(names[3], 1, ipc::shm_pass());
    ok &= report(names[4], 1, ipc::shm_map());
    ok
}

fn getppid() {
    let _ = rt::sys::getppid();
}

/// Operations run and the guest time they took.
struct Measured {
    ops: u64,
    ns: u64,
}

/// Prints one result line; an operation counts `per_op` times (a yield
/// round trip is two switches). Whether the benchmark ran.
fn report(name: &str, per_op: u64, result: Result<Measured, String>) -> bool {
    match result {
        Ok(Measured { ops, ns }) => {
            let count = ops * per_op;
            // ns per op with one decimal, in integers.
            let tenths = (u128::from(ns) * 10 + u128::from(count) / 2) / u128::from(count.max(1));
            println!("bench {name}: {}.{} ns/op ({count} iterations)", tenths / 10, tenths % 10);
            true
        }
        Err(err) => {
            println!("bench {name}: failed: {err}");
            false
        }
    }
}

fn measure(mut op: impl FnMut()) -> Result<Measured, String> {
    measure_fallible(|| {
        op();
        Ok(())
    })
}

/// Calibrates a batch size, then runs batches of `op` for [`TARGET`] ns.
fn measure_fallible(mut op: impl FnMut() -> Result<(), String>) -> Result<Measured, String> {
    let warm_start = rt::time::now_ns();
    let mut batch = 1u64;
    loop {
        let start = rt::time::now_ns();
        for _ in 0..batch {
            op()?;
        }
        let end = rt::time::now_ns();
        if end - start >= TARGET / 200 || end - warm_start >= TARGET / 5 {
            break;
        }
        batch *= 2;
    }
    let start = rt::time::now_ns();
    let mut ops = 0;
    let mut now = start;
    while now - start < TARGET {
        for _ in 0..batch {
            op()?;
        }
        ops += batch;
        now = rt::time::now_ns();
    }
    Ok(Measured { ops, ns: now - start })
}

fn fork_exit_wait() -> Result<(), String> {
    match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => rt::process::exit(0),
        Fork::Parent(pid) => wait_ok(pid),
    }
}

fn fork_exec_wait(fd: usize) -> Result<(), String> {
    match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            let err = rt::sys::exec(fd, &[SELF.as_bytes(), b"--exit"], &[]);
            eprintln!("bench: exec {SELF}: {err}");
            rt::process::exit(127)
        }
        Fork::Parent(pid) => wait_ok(pid),
    }
}

fn wait_ok(pid: usize) -> Result<(), String> {
    let status = rt::process::wait(pid).map_err(|e| format!("waitpid: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("child {pid} ended with {status}")) }
}

/// Two processes take turns through a shared counter, each calling
/// `sched_yield` while it is the other's turn. One operation is a round
/// trip (two hand-overs).
fn yield_pingpong() -> Result<Measured, String> {
    let shared = rt::mem::map_shared(rt::mem::PAGE_SIZE).map_err(|e| format!("map_shared: {e}"))?;
    let words = shared.atomic_u64s();
    let (turn, stop) = (&words[0], &words[1]);
    let pid = match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            // Answer every odd turn until told to stop.
            loop {
                let seen = turn.load(Ordering::Acquire);
                if stop.load(Ordering::Acquire) != 0 {
                    rt::process::exit(0);
                }
                if seen % 2 == 1 {
                    turn.store(seen + 1, Ordering::Release);
                }
                rt::thread::yield_now();
            }
        }
        Fork::Parent(pid) => pid,
    };
    let yields = AtomicU64::new(0);
    let result = measure_fallible(|| round_trip(turn, &yields));
    stop.store(1, Ordering::Release);
    wait_ok(pid)?;
    let measured = result?;
    let tenths = yields.load(Ordering::Relaxed) * 10 / measured.ops.max(1);
    eprintln!(
        "bench: yield_pingpong: {}.{} yields per round trip on the measuring side (1.0: both on one CPU)",
        tenths / 10,
        tenths % 10
    );
    Ok(measured)
}

/// The longest a round trip may take before the benchmark gives up (the
/// other process may have died, or never be scheduled).
const ROUND_TRIP_LIMIT: u64 = 2_000_000_000;

fn round_trip(turn: &AtomicU64, yields: &AtomicU64) -> Result<(), String> {
    let mine = turn.load(Ordering::Acquire) + 1;
    turn.store(mine, Ordering::Release);
    let mut spins = 0u32;
    let mut started = None;
    while turn.load(Ordering::Acquire) == mine {
        rt::thread::yield_now();
        yields.fetch_add(1, Ordering::Relaxed);
        // Check the clock only once in a while: it costs a system call.
        spins += 1;
        if spins.is_multiple_of(1024) {
            let now = rt::time::now_ns();
            let start = *started.get_or_insert(now);
            if now - start > ROUND_TRIP_LIMIT {
                return Err(format!("no answer from the other process within {} s", ROUND_TRIP_LIMIT / 1_000_000_000));
            }
        }
    }
    Ok(())
}
