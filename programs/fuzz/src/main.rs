//! `fuzz`: the system-call fuzzer (README "Robustness").
//!
//! Run as root, it starts a hostile scheme daemon (`fuzzd:`, [`daemon`])
//! and a private console (`fuzzcon:`, [`console`]) it types random keys
//! into, then runs children one after another in `--parallel` slots until
//! `--calls` calls (or `--minutes`) are done. Each child ([`child`]) drops
//! to an unprivileged user, leaves the consoles out of its namespace and
//! makes `--per-child` random system calls described in `lib/fuzz-spec`,
//! reproducible from its seed, which this process prints for any child
//! that ends badly. A child that makes no progress for [`STALL`] is killed;
//! one that cannot be reaped within [`REAP_LIMIT`] after that is a hang,
//! and the run fails with its seed and its last call. At the end the
//! daemon is stopped, the files the children made are removed, and the
//! kernel heap and the frames in use must be back to their level before
//! the run (after a warm-up round, so daemons' own heaps have grown): the
//! kernel heap in use, the frames the kernel holds for itself (within
//! what daemons' page tables may have grown) and what processes hold
//! resident (within 4 MiB: daemons keep some state the children left;
//! what each holds is printed).
//!
//! Prints `fuzz: PASS ...` or `fuzz: FAIL ...` as its last line; exit
//! status 0 only on a pass.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod child;
mod cleanup;
mod console;
mod daemon;
mod progress;

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use rt::prelude::*;
use rt::process::{ExitCode, Fork};

use console::PrivateConsole;
use progress::Progress;

rt::main!(main);

/// No progress for this long: the child is killed (a blocked call).
const STALL: Duration = Duration::from_millis(500);
/// A killed child must be reaped within this.
const REAP_LIMIT: Duration = Duration::from_secs(10);
/// Forks refused in a row (10 ms apart) that fail the run.
const FORK_RETRIES: u32 = 500;
/// Longest wait after a run for daemons to finish what the children left
/// them, before the memory is compared.
const SETTLE: Duration = Duration::from_secs(5);
/// Kernel heap growth over the run that counts as a leak.
const HEAP_SLACK: i64 = 64 * 1024;
/// Growth of what all processes hold resident that counts as a leak:
/// daemons keep some state the children left (`log:` its last 256 KiB of
/// lines, heap pages of small allocations: 1,024 frames), and `redoxfsd`
/// fills its block cache as the children use `file:` (1,024 blocks of one
/// frame each, plus a read-ahead of 64 and the map's own: 1,152), but not
/// more.
const PROCESS_FRAME_SLACK: i64 = 1024 + 1152;
/// Growth of the frames the kernel holds for itself (page tables, kernel
/// stacks, lent and handed-out pages) that counts as a leak: the page
/// tables of daemons that still hold what the children left them may
/// have grown a little.
const KERNEL_FRAME_SLACK: i64 = 256;

const USAGE: &str = "usage: fuzz [--calls N] [--minutes M] [--seed S] [--per-child N] [--parallel N]";

struct Options {
    calls: u64,
    minutes: u64,
    seed: u64,
    per_child: u64,
    parallel: usize,
}

fn parse(args: &[&str]) -> Result<Options, String> {
    let mut options = Options { calls: 100_000, minutes: 0, seed: 1, per_child: 2_000, parallel: 2 };
    let mut rest = args.iter();
    while let Some(&flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = value.parse::<u64>().map_err(|_| format!("{flag}: not a number: {value}\n{USAGE}"))?;
        match flag {
            "--calls" => options.calls = number,
            "--minutes" => options.minutes = number,
            "--seed" => options.seed = number,
            "--per-child" => options.per_child = number.max(1),
            "--parallel" => options.parallel = (number as usize).clamp(1, progress::SLOTS),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(options)
}

/// The seed of child number `index` of a run seeded `seed` (splitmix64).
fn child_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where memory is, from `sys:memory` and `sys:context`.
#[derive(Clone, Copy)]
struct Memory {
    /// Kernel heap bytes in use (the heap keeps its high-water mark
    /// mapped, which is not a leak, so its mapped size is left out).
    heap: i64,
    /// Frames the kernel holds for itself: all frames in use, less the
    /// heap's, less every process's resident pages.
    kernel_frames: i64,
    /// Every process's resident pages together (a shared page counts in
    /// each process that maps it).
    process_frames: i64,
}

fn memory() -> Result<Memory, String> {
    let text = rt::fs::read_to_string("sys:memory").map_err(|e| format!("sys:memory: {e}"))?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<i64>().ok()))
            .ok_or_else(|| format!("sys:memory has no {name}"))
    };
    let processes = rt::fs::read_to_string("sys:context").map_err(|e| format!("sys:context: {e}"))?;
    // Columns: pid ppid pgid uid gid state threads KiB name.
    let process_frames: i64 =
        processes.lines().skip(1).filter_map(|l| l.split_whitespace().nth(7)?.parse::<i64>().ok()).sum::<i64>() / 4;
    let outside_heap = field("frames_used:")? - field("heap_mapped:")? / 4096;
    Ok(Memory { heap: field("heap_used:")?, kernel_frames: outside_heap - process_frames, process_frames })
}

/// How the children ended, for the summary.
#[derive(Default)]
struct Tally {
    children: u64,
    calls: u64,
    finished: u64,
    signalled: u64,
    stalled: u64,
    other: u64,
    /// The calls that stalled (the first few), for the summary.
    stalls: Vec<String>,
    /// Forks refused for want of memory or processes.
    fork_refusals: u64,
}

/// One slot's running child.
struct Running {
    pid: usize,
    index: u64,
    seed: u64,
    last_count: u64,
    last_change: Duration,
    killed_at: Option<Duration>,
}

struct Run<'a> {
    options: &'a Options,
    progress: Progress,
    slots: Vec<Option<Running>>,
    next_index: u64,
    tally: Tally,
    /// Children in a row that could not set themselves up.
    failed_set_ups: u32,
    /// Forks refused in a row.
    refused_in_a_row: u32,
    console: PrivateConsole,
    /// Draws the keys typed into the private console.
    keys: xorshift::Rng,
}

impl Run<'_> {
    fn budget_left(&self, started: Duration) -> bool {
        if self.options.minutes > 0 {
            rt::time::now() - started < Duration::from_secs(self.options.minutes * 60)
        } else {
            let running: u64 = (0..self.slots.len())
                .filter(|&slot| self.slots[slot].is_some())
                .map(|slot| self.progress.count(slot))
                .sum();
            self.tally.calls + running < self.options.calls
        }
    }

    /// Start child number `next_index` in `slot`. A fork refused for want
    /// of memory or processes (the children's doing, which the killer is
    /// already undoing) leaves the slot empty to be tried again; only
    /// [`FORK_RETRIES`] refusals in a row fail the run.
    fn start(&mut self, slot: usize, seed: u64, calls: u64) -> Result<(), String> {
        let forked = match rt::process::fork() {
            Err(err) if err.errno == rt::abi::syscall::ENOMEM || err.errno == rt::abi::syscall::EAGAIN => {
                self.tally.fork_refusals += 1;
                self.refused_in_a_row += 1;
                if self.refused_in_a_row >= FORK_RETRIES {
                    return Err(format!("fork refused {FORK_RETRIES} times in a row: {err}"));
                }
                return Ok(());
            }
            other => other.map_err(|e| format!("fork: {e}"))?,
        };
        self.refused_in_a_row = 0;
        let index = self.next_index;
        self.next_index += 1;
        self.progress.reset(slot);
        match forked {
            Fork::Child => child::run(slot, seed, calls, &self.progress, self.console.keys_fd()),
            Fork::Parent(pid) => {
                let now = rt::time::now();
                self.slots[slot] = Some(Running { pid, index, seed, last_count: 0, last_change: now, killed_at: None });
                Ok(())
            }
        }
    }

    /// Reap what ended, kill what stalls; `Err` on a hang.
    fn watch(&mut self) -> Result<(), String> {
        while let Ok(Some((pid, status))) = rt::process::wait_any(true) {
            if self.console.reaped(pid) {
                continue;
            }
            let Some(slot) = self.slots.iter().position(|s| s.as_ref().is_some_and(|r| r.pid == pid)) else {
                continue;
            };
            let running = self.slots[slot].take().expect("slot");
            let calls = self.progress.count(slot);
            self.tally.children += 1;
            self.tally.calls += calls;
            if running.killed_at.is_some() {
                self.tally.stalled += 1;
            } else if status.success() {
                self.tally.finished += 1;
                self.failed_set_ups = 0;
            } else if status.signal().is_some() {
                self.tally.signalled += 1;
            } else {
                self.tally.other += 1;
                if status.code() == Some(child::SET_UP_FAILED) {
                    self.failed_set_ups += 1;
                }
            }
        }
        let now = rt::time::now();
        for slot in 0..self.slots.len() {
            let count = self.progress.count(slot);
            let Some(running) = self.slots[slot].as_mut() else { continue };
            if count != running.last_count {
                running.last_count = count;
                running.last_change = now;
            }
            match running.killed_at {
                None if now - running.last_change > STALL => {
                    if self.tally.stalls.len() < 8 {
                        self.tally.stalls.push(self.progress.describe_last(slot));
                    }
                    let _ = rt::process::kill(running.pid, rt::abi::SIGKILL);
                    running.killed_at = Some(now);
                }
                Some(at) if now - at > REAP_LIMIT => {
                    return Err(format!(
                        "child {} (pid {}, seed {:#x}) was killed and not reaped within {} s; its last call: {}",
                        running.index,
                        running.pid,
                        running.seed,
                        REAP_LIMIT.as_secs(),
                        self.progress.describe_last(slot)
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Run children until the budget is spent; `per_child` calls each.
    fn round(&mut self, seed: u64, per_child: u64, limit: Option<u64>) -> Result<(), String> {
        let started = rt::time::now();
        let first = self.next_index;
        loop {
            let more = match limit {
                Some(n) => self.next_index - first < n,
                None => self.budget_left(started),
            };
            for slot in 0..self.slots.len() {
                if more && self.slots[slot].is_none() {
                    let index = self.next_index;
                    self.start(slot, child_seed(seed, index), per_child)?;
                    break;
                }
            }
            self.console.type_keys(&mut self.keys);
            self.watch()?;
            if self.failed_set_ups >= 20 {
                return Err(String::from("20 children in a row could not set themselves up (see child::set_up)"));
            }
            if !more && self.slots.iter().all(Option::is_none) {
                return Ok(());
            }
            rt::time::sleep(Duration::from_millis(10));
        }
    }
}

fn fuzz(options: &Options) -> Result<String, String> {
    let tmp_before = cleanup::tmp_before();
    let daemon = daemon::start(options.seed).map_err(|e| format!("starting the hostile daemon: {e}"))?;
    let mut run = Run {
        options,
        progress: Progress::new().map_err(|e| format!("shared progress page: {e}"))?,
        slots: (0..options.parallel).map(|_| None).collect(),
        next_index: 0,
        tally: Tally::default(),
        failed_set_ups: 0,
        refused_in_a_row: 0,
        console: PrivateConsole::start().map_err(|e| format!("starting the private console: {e}"))?,
        keys: xorshift::Rng::new(options.seed ^ 0xc0_501e),
    };
    // Warm-up: daemons grow their heaps to what a run needs.
    run.round(options.seed ^ 0x5eed, 300, Some(options.parallel as u64 * 2))?;
    cleanup::files(&tmp_before);
    let warm_up = core::mem::take(&mut run.tally);
    let before = memory()?;
    let processes_before = rt::fs::read_to_string("sys:context").unwrap_or_default();
    let started = rt::time::now();
    run.next_index = 0;
    run.round(options.seed, options.per_child, None)?;
    let elapsed = rt::time::now() - started;
    daemon::stop(daemon);
    let console_starts = run.console.starts;
    run.console.stop();
    cleanup::files(&tmp_before);
    // Let daemons finish what the children left queued (a killed child's
    // 16 MiB write may still be in a daemon's hands): measure until what
    // processes hold is within the slack or stops shrinking, for at most
    // SETTLE.
    let settle_start = rt::time::now();
    let mut after = memory()?;
    loop {
        rt::time::sleep(Duration::from_millis(200));
        let now = memory()?;
        let shrinking = now.process_frames < after.process_frames;
        after = now;
        let settled = after.process_frames - before.process_frames <= PROCESS_FRAME_SLACK && !shrinking;
        if settled || rt::time::now() - settle_start > SETTLE {
            break;
        }
    }
    let t = &run.tally;
    let summary = format!(
        "{} calls in {} children (seed {}, {} per child, {} at a time, {:.1} s): {} ran to the end, {} died of a signal, {} stalled and were killed, {} exited otherwise; the private console started {} times; {} forks refused for want of memory; warm-up {} calls; kernel heap {} -> {} bytes in use, the kernel's own frames {} -> {}, processes' resident frames {} -> {}",
        t.calls,
        t.children,
        options.seed,
        options.per_child,
        options.parallel,
        elapsed.as_secs_f64(),
        t.finished,
        t.signalled,
        t.stalled,
        t.other,
        console_starts,
        t.fork_refusals,
        warm_up.calls,
        before.heap,
        after.heap,
        before.kernel_frames,
        after.kernel_frames,
        before.process_frames,
        after.process_frames
    );
    let summary = if t.stalls.is_empty() { summary } else { format!("{summary}; stalled in: {}", t.stalls.join("; ")) };
    if after.heap - before.heap > HEAP_SLACK {
        return Err(format!("the kernel heap grew by {} bytes: {summary}", after.heap - before.heap));
    }
    if after.kernel_frames - before.kernel_frames > KERNEL_FRAME_SLACK {
        return Err(format!("the kernel holds {} more frames: {summary}", after.kernel_frames - before.kernel_frames));
    }
    if after.process_frames - before.process_frames > PROCESS_FRAME_SLACK {
        return Err(format!(
            "processes hold {} more frames after the children are gone: {summary}; tmp: holds {}; processes now: {}",
            after.process_frames - before.process_frames,
            cleanup::tmp_report(),
            rt::fs::read_to_string("sys:context").unwrap_or_default().replace('\n', "; ")
        ));
    }
    // Within that, what each process holds is reported: daemons keep
    // legitimate state the children left. The processes that grew:
    let now = rt::fs::read_to_string("sys:context").unwrap_or_default();
    let changed: Vec<String> = now
        .lines()
        .filter(|l| !processes_before.lines().any(|b| b == *l))
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            Some(format!("{} {} KiB", fields.get(8)?, fields.get(7)?))
        })
        .collect();
    Ok(format!("{summary}; processes now: {}", changed.join(", ")))
}

fn main() -> ExitCode {
    let args: Vec<&str> = rt::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("fuzz: {err}");
            return ExitCode::from(2);
        }
    };
    match fuzz(&options) {
        Ok(summary) => {
            println!("fuzz: PASS {summary}");
            ExitCode::from(0)
        }
        Err(err) => {
            println!("fuzz: FAIL {err}");
            ExitCode::from(1)
        }
    }
}
