//! `scheme_scaling`: how calls on userspace scheme daemons scale with the
//! CPUs. With N CPUs (`sys:cpu`'s `cpus:` line) the program forks N
//! daemons (`benchscale0:` ... , each serving zeroes like `benchzero:`)
//! and N clients, client K doing 1-byte reads on daemon K as fast as it
//! can. One daemon per client, so nothing but the kernel is shared: a
//! global lock on the kernel's path of a scheme call shows up as an
//! aggregate rate that does not grow with the CPUs (one shared daemon
//! would measure that daemon's single thread instead).
//!
//! The clients start together on a flag in a shared page, run
//! [`WARMUP`] before the measuring window opens and [`TARGET`] within it,
//! each counting its calls in its own cache line of that page; this
//! process sleeps meanwhile and reads the counters at both ends of the
//! window. It prints the aggregate as `bench scheme_scaling: X ns/op
//! (N iterations)`: guest nanoseconds per call over all clients together
//! (calls per second = 10^9 / X), and the calls of each client on a
//! `bench: ` line. It runs after every other benchmark. `cargo mk bench`
//! boots it on 1, 2 and 4 vCPUs under QEMU's multi-threaded TCG, where
//! guest time is host time.
//!
//! May touch: the processes it forks, `benchscaleK:` names.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use rt::fs::File;
use rt::prelude::*;
use rt::process::Fork;

use crate::ipc::Process;
use crate::{Measured, TARGET, schemes};

/// The clients run this long before the window opens.
const WARMUP: Duration = Duration::from_millis(100);
/// At most this many clients (and daemons), whatever the CPU count.
const MAX_CLIENTS: usize = 16;
/// `u64`s per cache line: each client's counter has a line of its own.
const LINE: usize = 8;

/// The CPUs online, from `sys:cpu`.
pub fn cpus() -> Result<usize, String> {
    let text = rt::fs::read_to_string("sys:cpu").map_err(|e| format!("sys:cpu: {e}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("cpus: ")?.trim().parse().ok())
        .ok_or_else(|| String::from("sys:cpu has no `cpus:` line"))
}

/// One client: open `url`, say ready, wait for go, read until stop.
fn client(url: &str, control: &[AtomicU64], counter: &AtomicU64) -> i32 {
    let (ready, go, stop) = (&control[0], &control[1], &control[2]);
    let Ok(mut file) = File::open(url) else { return 2 };
    ready.fetch_add(1, Ordering::AcqRel);
    while go.load(Ordering::Acquire) == 0 {
        if stop.load(Ordering::Acquire) != 0 {
            return 0;
        }
        rt::thread::yield_now();
    }
    let mut byte = [0u8; 1];
    let mut calls = 0u64;
    while stop.load(Ordering::Acquire) == 0 {
        if schemes::read_whole(&mut file, &mut byte).is_err() {
            return 3;
        }
        calls += 1;
        counter.store(calls, Ordering::Relaxed);
    }
    0
}

/// The aggregate figure with `clients` clients and as many daemons.
pub fn measure(clients: usize) -> Result<Measured, String> {
    let clients = clients.clamp(1, MAX_CLIENTS);
    let shared = rt::mem::map_shared(rt::mem::PAGE_SIZE).map_err(|e| format!("map_shared: {e}"))?;
    let words = shared.atomic_u64s();
    let (control, counters) = words.split_at(LINE);
    let mut daemons = Vec::new();
    for k in 0..clients {
        daemons.push(schemes::start_named(&format!("benchscale{k}"))?);
    }
    let mut children = Vec::new();
    for k in 0..clients {
        let counter = &counters[k * LINE];
        match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
            Fork::Child => rt::process::exit(client(&format!("benchscale{k}:"), control, counter)),
            Fork::Parent(pid) => children.push(Process(pid)),
        }
    }
    let total = || (0..clients).map(|k| counters[k * LINE].load(Ordering::Relaxed)).sum::<u64>();
    let (ready, go, stop) = (&control[0], &control[1], &control[2]);
    let mut waited = 0;
    while ready.load(Ordering::Acquire) < clients as u64 && waited < 100_000 {
        rt::thread::yield_now();
        waited += 1;
    }
    let result = if ready.load(Ordering::Acquire) < clients as u64 {
        Err(format!("only {} of {clients} clients opened their scheme", ready.load(Ordering::Acquire)))
    } else {
        go.store(1, Ordering::Release);
        rt::time::sleep(WARMUP);
        let (start, before) = (rt::time::now_ns(), total());
        rt::time::sleep(Duration::from_nanos(TARGET));
        let (end, after) = (rt::time::now_ns(), total());
        let per_client: Vec<String> =
            (0..clients).map(|k| counters[k * LINE].load(Ordering::Relaxed).to_string()).collect();
        println!(
            "bench: scheme_scaling: {clients} clients on {clients} daemons, calls per client since the start: {}",
            per_client.join(" ")
        );
        if after > before {
            Ok(Measured { ops: after - before, ns: end - start })
        } else {
            Err(String::from("no calls"))
        }
    };
    stop.store(1, Ordering::Release);
    let mut ended_well = true;
    for child in children {
        let pid = child.0;
        core::mem::forget(child);
        ended_well &= crate::wait_ok(pid).is_ok();
    }
    drop(daemons);
    match result {
        Ok(_) if !ended_well => Err(String::from("a client failed")),
        other => other,
    }
}
