//! `cargo mk bench`: boot the benchmark program and Linux's peer of it in
//! the same run, and print their figures side by side.
//!
//! The bench image is the normal kernel with an initfs whose `sbin/init` is
//! `programs/bench` ([`images::build_bench`]). It boots twice under TCG:
//! once as is (figures in host-dependent nanoseconds) and once with
//! `-icount shift=0`, where the guest clock advances one nanosecond per
//! instruction executed, so the program's ns/op are instructions per
//! operation and repeat exactly from run to run. Linux boots the same two
//! ways in the same QEMU machine ([`crate::linux`]: Debian's kernel, an
//! initramfs whose `/init` is `bench/linux/bench.c`, which runs the peer of
//! each microbenchmark with the same calibration and prints the same
//! lines), so every column of the table comes from this one run, with
//! Ferrite's ns/op over Linux's beside each pair. When Linux cannot be had
//! (no network for the download, no `gcc`), the tables say why and show
//! Ferrite's figures alone. `--micro` boots only the two icount machines.
//!
//! Both boots use one CPU by default, like Linux's. With two,
//! the figures stop meaning what they say: QEMU runs the vCPUs of an
//! icount machine round-robin, so the guest clock no longer counts one
//! CPU's instructions, and the scheduler's work stealing always puts the
//! two yield ping-pong processes on different CPUs, where a hand-over
//! waits for the other vCPU's turn (measured: 4.1 ms per "switch", 1.4
//! million yields each). `--smp N` boots with more. The program
//! prints `bench NAME: X ns/op (N iterations)` per benchmark and then
//! `bench done`; the kernel does not end QEMU in a normal boot, so mk stops
//! it once the done line is in (or on timeout, or a kernel panic).
//!
//! The scaling figure ([`SCALING`], programs/bench/src/scale.rs) is the
//! last each program measures (so that it changes nothing the others
//! see): as many clients as CPUs, each calling a
//! scheme daemon of its own (Linux: as many pipe ping-pong pairs), the
//! aggregate calls per second. Both systems boot once more per CPU count of
//! [`SCALING_CPUS`], under QEMU's multi-threaded TCG (one host thread per
//! vCPU, no icount), with no disks and no network, and mk stops each boot
//! once that figure is in; the table shows the rate and the efficiency per
//! CPU against one CPU, so a global lock on the path of a call shows up.
//!
//! The disk benchmarks ([`DISK_BENCHMARKS`], programs/bench/src/disk.rs)
//! run in the TCG boot only, which gets two fresh disks: a 256 MiB RedoxFS
//! (`disk:0`, served as `file:`) and a 128 MiB scratch disk (`disk:1`).
//! The icount boot attaches none (its clock jumps over the time the CPU
//! waits for the device, so its figures would not be instructions), and the
//! program skips them. Linux's TCG boot gets an ext4 disk and a raw one
//! and runs the same workloads; its icount boot, like Ferrite's, none.
//!
//! The network benchmarks ([`netbench::NET_BENCHMARKS`],
//! programs/bench/src/net.rs) run in the TCG boot and in Linux's, each
//! with a virtio-net card on QEMU's user network and a free host port
//! forwarded to the guest's port 80; the host's side of them (peers,
//! HTTP client, the figures it times) is [`crate::netbench`]. The icount
//! boot gets QEMU's default card, which neither system drives, so the
//! programs skip them there.
//!
//! May touch: `target/ferrite/` (the disks, `bench-logs/`) and, through
//! [`crate::linux`], `target/linux-baseline/`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use crate::cli::BenchOpts;
use crate::images;
use crate::linux;
use crate::netbench::{self, Host};
use crate::process;
use crate::qemu::{self, Machine, Serial};
use crate::workspace::Workspace;

/// The benchmarks, in the order the table shows them.
pub const BENCHMARKS: &[&str] = &[
    "null_syscall_getppid",
    "yield_pingpong",
    "fork_exit_wait",
    "fork_exec_wait",
    "scheme_read_1byte",
    "scheme_open_read_close",
    "scheme_open_read_close_batch",
    "scheme_read_4k",
    "scheme_read_64k",
    "chan_pingpong_1byte",
    "chan_pingpong_write_read",
    "chan_write_64k",
    "pipe_write_64k",
    "shm_pass_64k",
    "shm_map_64k",
];

/// The scaling benchmark (programs/bench/src/scale.rs): as many clients
/// as CPUs, each calling a scheme daemon of its own; its figure is guest
/// ns per call over all clients together. Linux's peer: as many pipe
/// ping-pong pairs.
pub const SCALING: &str = "scheme_scaling";
/// The CPU counts of the scaling boots.
pub const SCALING_CPUS: &[u32] = &[1, 2, 4];

/// Benchmarks that move bytes: the bytes per operation (for MB/s).
pub const BYTES_PER_OP: &[(&str, u64)] = &[
    ("scheme_read_4k", 4096),
    ("scheme_read_64k", 65_536),
    ("chan_write_64k", 65_536),
    ("pipe_write_64k", 65_536),
    ("shm_pass_64k", 65_536),
];

/// The disk benchmarks, in the order of their table (and of
/// programs/bench/src/disk.rs and bench/linux/bench.c): 64 MiB written and
/// read back sequentially on `file:` (Linux: ext4) and on the raw scratch
/// disk, then 1,000 small files and 500 1 KiB write + fsync pairs.
pub const DISK_BENCHMARKS: &[&str] = &[
    "file_write_4k",
    "file_read_4k",
    "file_write_64k",
    "file_read_64k",
    "file_write_1m",
    "file_read_1m",
    "disk_write_4k",
    "disk_read_4k",
    "disk_write_64k",
    "disk_read_64k",
    "disk_write_1m",
    "disk_read_1m",
    "file_create_1k",
    "file_fsync_1k",
];

/// The bytes of one request of a sequential disk benchmark (for MiB/s):
/// the size its name ends in. `None` for the others (ops/s).
pub fn disk_bytes_per_op(name: &str) -> Option<u64> {
    if !(name.starts_with("file_write_")
        || name.starts_with("file_read_")
        || name.starts_with("disk_write_")
        || name.starts_with("disk_read_"))
    {
        return None;
    }
    match name.rsplit('_').next()? {
        "4k" => Some(4 << 10),
        "64k" => Some(64 << 10),
        "1m" => Some(1 << 20),
        _ => None,
    }
}

/// The disks of the TCG boot, under `target/ferrite/`, made anew each run.
const DATA_DISK: &str = "bench-data.img";
const DATA_DISK_SIZE: u64 = 256 << 20;
const SCRATCH_DISK: &str = "bench-scratch.img";
const SCRATCH_DISK_SIZE: u64 = 128 << 20;

/// How long one boot may take: the icount run is several times slower;
/// the TCG one writes and reads 768 MiB on its disks and then runs the
/// network benchmarks (at most [`netbench::DRIVE_WITHIN`]).
const TCG_TIMEOUT: Duration = Duration::from_secs(900 + netbench::DRIVE_WITHIN.as_secs());
const ICOUNT_TIMEOUT: Duration = Duration::from_secs(900);
const LINUX_TIMEOUT: Duration = Duration::from_secs(900 + netbench::DRIVE_WITHIN.as_secs());
/// A scaling boot: the boot, the microbenchmarks (about 10 s of guest
/// time), then the figure.
const SCALING_TIMEOUT: Duration = Duration::from_secs(300);
/// The guest time each microbenchmark measures (programs/bench's
/// `TARGET`, bench.c's `TARGET_NS`).
const TARGET_MS: u64 = 500;

/// One line of the benchmark program's output.
#[derive(Debug, PartialEq)]
pub enum BenchLine<'a> {
    Result { name: &'a str, ns_per_op: f64, iterations: u64 },
    Failed { name: &'a str, reason: &'a str },
    Done,
}

/// Reads `bench NAME: X ns/op (N iterations)`, `bench NAME: failed: WHY`
/// or `bench done` anywhere in a serial line; anything else is `None`.
pub fn parse_line(line: &str) -> Option<BenchLine<'_>> {
    let at = line.find("bench ")?;
    let body = line[at + "bench ".len()..].trim_end();
    if body == "done" {
        return Some(BenchLine::Done);
    }
    let (name, rest) = body.split_once(": ")?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    if let Some(reason) = rest.strip_prefix("failed: ") {
        return Some(BenchLine::Failed { name, reason });
    }
    let (ns, rest) = rest.split_once(" ns/op (")?;
    let iterations = rest.strip_suffix(" iterations)")?;
    Some(BenchLine::Result { name, ns_per_op: ns.parse().ok()?, iterations: iterations.parse().ok()? })
}

/// One benchmark's outcome in one boot.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    Measured { ns_per_op: f64, iterations: u64 },
    Failed(String),
}

/// What one boot produced.
#[derive(Debug, Default)]
pub struct BenchRun {
    pub figures: BTreeMap<String, Figure>,
    pub done: bool,
    /// Why the run is incomplete: a timeout, a panic, QEMU ending early.
    pub problem: Option<String>,
    /// When the program said it began, and when each benchmark's line
    /// came (since QEMU started): the windows of `--profile`.
    pub begun: Option<Duration>,
    pub stamps: Vec<(Duration, String)>,
    /// When the network rows began, and when each ended with its cost
    /// line (its name and the frames sent and received): the windows of
    /// `--profile-net`.
    pub net_begun: Option<Duration>,
    pub net_stamps: Vec<(Duration, String, u64)>,
}

impl BenchRun {
    /// Takes one serial line.
    pub fn feed(&mut self, line: &str) {
        if line.contains("KERNEL PANIC") && self.problem.is_none() {
            self.problem = Some(line.trim().to_string());
        }
        match parse_line(line) {
            Some(BenchLine::Result { name, ns_per_op, iterations }) => {
                self.figures.insert(name.to_string(), Figure::Measured { ns_per_op, iterations });
            }
            Some(BenchLine::Failed { name, reason }) => {
                self.figures.insert(name.to_string(), Figure::Failed(reason.to_string()));
            }
            Some(BenchLine::Done) => self.done = true,
            None => {}
        }
    }

    /// Whether the guest has nothing more to say.
    pub fn finished(&self) -> bool {
        self.done || self.problem.is_some()
    }

    /// Whether every benchmark reported a figure.
    pub fn complete(&self) -> bool {
        self.has_all(BENCHMARKS)
    }

    /// Whether the run is done and has a figure for each of `names`.
    pub fn has_all(&self, names: &[&str]) -> bool {
        self.done && names.iter().all(|name| matches!(self.figures.get(*name), Some(Figure::Measured { .. })))
    }

    fn ns(&self, name: &str) -> Option<f64> {
        match self.figures.get(name) {
            Some(Figure::Measured { ns_per_op, .. }) => Some(*ns_per_op),
            _ => None,
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Ferrite rows whose Linux figure is another row's: the batched open,
/// read and close is measured against Linux's plain ones, and the
/// ping-pong by `SYS_WRITE_READ` against the socket ping-pong's write and
/// read (Linux has no peer that batches them).
pub const LINUX_PEERS: &[(&str, &str)] = &[
    ("scheme_open_read_close_batch", "scheme_open_read_close"),
    ("chan_pingpong_write_read", "chan_pingpong_1byte"),
    ("pipe_write_64k", "chan_write_64k"),
];

/// Ferrite's cost over Linux's (`2.50x`: Ferrite takes 2.5 times as
/// long), or `-` without both figures.
pub fn ratio(ferrite: Option<f64>, linux: Option<f64>) -> String {
    match (ferrite, linux) {
        (Some(f), Some(l)) if f > 0.0 && l > 0.0 => format!("{:.2}x", f / l),
        _ => "-".to_string(),
    }
}

/// The microbenchmarks' table. With Ferrite's TCG run: per row Ferrite's
/// and Linux's TCG ns/op (and MB/s for byte movers) and their ratio, then
/// the same for the icount runs (instructions per operation); without it
/// (`--micro`), the icount columns alone. A Linux run that could not be
/// had is `None`: its cells are `-`.
pub fn table(
    tcg: Option<&BenchRun>,
    icount: &BenchRun,
    linux_tcg: Option<&BenchRun>,
    linux_icount: Option<&BenchRun>,
) -> String {
    let cell = |run: Option<&BenchRun>, name: &str| -> String {
        let Some(run) = run else { return "-".to_string() };
        match run.figures.get(name) {
            Some(Figure::Measured { ns_per_op, .. }) => {
                let ns = *ns_per_op;
                match BYTES_PER_OP.iter().find(|(n, _)| *n == name).map(|(_, b)| *b) {
                    // bytes per ns * 1000 = MB/s (10^6 bytes per second).
                    Some(bytes) if ns > 0.0 => format!("{ns:.1} ({:.0} MB/s)", bytes as f64 * 1000.0 / ns),
                    _ => format!("{ns:.1}"),
                }
            }
            Some(Figure::Failed(_)) => "failed".to_string(),
            None => "-".to_string(),
        }
    };
    let count = |run: Option<&BenchRun>, name: &str| -> String {
        let Some(run) = run else { return "-".to_string() };
        match run.figures.get(name) {
            Some(Figure::Measured { ns_per_op, .. }) => thousands(ns_per_op.round() as u64),
            Some(Figure::Failed(_)) => "failed".to_string(),
            None => "-".to_string(),
        }
    };
    let ns = |run: Option<&BenchRun>, name: &str| run.and_then(|r| r.ns(name));
    // Linux's row for a Ferrite row: its own name, or its peer's.
    let peer = |name: &'static str| LINUX_PEERS.iter().find(|(n, _)| *n == name).map_or(name, |(_, p)| *p);
    let mut header = vec!["benchmark"];
    if tcg.is_some() {
        header.extend(["Ferrite TCG ns/op", "Linux TCG ns/op", "TCG F/L"]);
    }
    header.extend(["Ferrite icount", "Linux icount", "icount F/L"]);
    let rows: Vec<Vec<String>> = BENCHMARKS
        .iter()
        .map(|name| {
            let mut row = vec![name.to_string()];
            let linux_name = peer(name);
            if tcg.is_some() {
                row.extend([
                    cell(tcg, name),
                    cell(linux_tcg, linux_name),
                    ratio(ns(tcg, name), ns(linux_tcg, linux_name)),
                ]);
            }
            row.extend([
                count(Some(icount), name),
                count(linux_icount, linux_name),
                ratio(icount.ns(name), ns(linux_icount, linux_name)),
            ]);
            row
        })
        .collect();
    render_rows(&header, &rows)
}

/// Aggregate calls per second from a scaling run's ns per call.
pub fn calls_per_second(run: &BenchRun) -> Option<f64> {
    run.ns(SCALING).filter(|ns| *ns > 0.0).map(|ns| 1e9 / ns)
}

/// The scaling table: per CPU count, Ferrite's and Linux's aggregate
/// calls (round trips) per second and their efficiency per CPU against
/// one CPU (100%: N CPUs do N times the work of one).
pub fn scaling_table(ferrite: &[(u32, BenchRun)], linux: &[(u32, BenchRun)]) -> String {
    let header = ["CPUs", "Ferrite calls/s", "Ferrite per-CPU efficiency", "Linux calls/s", "Linux per-CPU efficiency"];
    let columns = |runs: &[(u32, BenchRun)], cpus: u32| -> [String; 2] {
        let rate = |n: u32| runs.iter().find(|(c, _)| *c == n).and_then(|(_, run)| calls_per_second(run));
        let failed =
            runs.iter().any(|(c, run)| *c == cpus && matches!(run.figures.get(SCALING), Some(Figure::Failed(_))));
        match (rate(cpus), rate(1)) {
            (Some(r), Some(one)) => [thousands(r.round() as u64), format!("{:.0}%", r / f64::from(cpus) / one * 100.0)],
            (Some(r), None) => [thousands(r.round() as u64), "-".to_string()],
            (None, _) if failed => ["failed".to_string(), "-".to_string()],
            (None, _) => ["-".to_string(), "-".to_string()],
        }
    };
    let rows: Vec<Vec<String>> = SCALING_CPUS
        .iter()
        .map(|cpus| {
            let [f, fe] = columns(ferrite, *cpus);
            let [l, le] = columns(linux, *cpus);
            vec![cpus.to_string(), f, fe, l, le]
        })
        .collect();
    render_rows(&header, &rows)
}

/// A text table: the first column left-aligned, the others right-aligned.
pub fn render<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.to_vec()).collect();
    render_rows(header, &rows)
}

/// [`render`] of rows as long as `header`.
pub fn render_rows(header: &[&str], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let widths: Vec<usize> =
        (0..n).map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: &[&str]| {
        let mut out = format!("{:<w$}", cells[0], w = widths[0]);
        for i in 1..n {
            out.push_str(&format!(" | {:>w$}", cells[i], w = widths[i]));
        }
        out.trim_end().to_string()
    };
    let mut out = line(header);
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"));
    out.push('\n');
    for row in rows {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
        out.push('\n');
    }
    out
}

/// A disk benchmark's rate: MiB/s for the sequential ones, operations per
/// second for the others.
pub fn disk_rate(name: &str, ns_per_op: f64) -> f64 {
    if ns_per_op <= 0.0 {
        return 0.0;
    }
    match disk_bytes_per_op(name) {
        Some(bytes) => bytes as f64 * 1e9 / ns_per_op / (1u64 << 20) as f64,
        None => 1e9 / ns_per_op,
    }
}

/// One cell of the disk table: `12.3 MiB/s`, or `1,234 ops/s (810 us)`.
fn disk_cell(run: Option<&BenchRun>, name: &str) -> String {
    let Some(run) = run else { return "-".to_string() };
    match run.figures.get(name) {
        Some(Figure::Measured { ns_per_op, .. }) => {
            let rate = disk_rate(name, *ns_per_op);
            if disk_bytes_per_op(name).is_some() {
                format!("{rate:.1} MiB/s")
            } else {
                format!(
                    "{} ops/s ({} us)",
                    thousands(rate.round() as u64),
                    thousands((ns_per_op / 1000.0).round() as u64)
                )
            }
        }
        Some(Figure::Failed(_)) => "failed".to_string(),
        None => "-".to_string(),
    }
}

/// The disk table: Ferrite's and Linux's figures under TCG and Ferrite's
/// rate over Linux's (above 1: Ferrite is faster).
pub fn disk_table(ferrite: &BenchRun, linux: Option<&BenchRun>) -> String {
    let header = ["disk benchmark", "Ferrite TCG", "Linux TCG", "Ferrite/Linux"];
    let rows: Vec<[String; 4]> = DISK_BENCHMARKS
        .iter()
        .map(|name| {
            let ratio = match (ferrite.ns(name), linux.and_then(|l| l.ns(name))) {
                (Some(f), Some(l)) if f > 0.0 && l > 0.0 => format!("{:.2}x", disk_rate(name, f) / disk_rate(name, l)),
                _ => "-".to_string(),
            };
            [name.to_string(), disk_cell(Some(ferrite), name), disk_cell(linux, name), ratio]
        })
        .collect();
    render(&header, &rows)
}

/// `cargo mk bench`: build, boot Ferrite and Linux under TCG and under
/// icount, then each on 1, 2 and 4 CPUs for the scaling figure, and print
/// the tables (`--micro`: the two icount boots only).
pub fn run(ws: &Workspace, opts: &BenchOpts) -> Result<ExitCode, String> {
    let image = images::build_bench(ws, opts.profile)?;
    let disks = if opts.micro && !opts.profile_disks { Vec::new() } else { bench_disks(ws)? };
    let plugin = if opts.insn_profile || opts.profile_net { Some(crate::profile::build_plugin(ws)?) } else { None };
    let profile_out = ws.mk_dir().join("bench-logs").join("icount.profile");
    let net_profile_out = ws.mk_dir().join("bench-logs").join("tcg.profile");
    let mut runs = Vec::new();
    for (label, icount, timeout) in [("tcg", false, TCG_TIMEOUT), ("icount", true, ICOUNT_TIMEOUT)] {
        if opts.micro && !icount {
            runs.push(BenchRun::default());
            continue;
        }
        let log = ws.mk_dir().join("bench-logs").join(format!("{label}.log"));
        let attached: &[PathBuf] = if icount && !opts.profile_disks { &[] } else { &disks };
        let forward = if icount {
            None
        } else {
            Some(qemu::Forward { host: netbench::free_port()?, guest: netbench::GUEST_PORT })
        };
        println!(
            "mk: booting {} under TCG{} with {} CPUs and {} disks (timeout {} s, serial log in {})",
            ws.show(&image.bios),
            if icount { " -icount shift=0" } else { "" },
            opts.smp,
            attached.len(),
            timeout.as_secs(),
            ws.show(&log)
        );
        let machine = Machine {
            image: &image.bios,
            firmware: None,
            smp: opts.smp,
            mem: MEM,
            serial: Serial::Pipe,
            display: false,
            gdb: false,
            icount,
            disks: attached,
            nic: match forward {
                Some(forward) => qemu::Nic::Virtio(Some(forward)),
                None => qemu::Nic::QemuDefault,
            },
        };
        let mut cmd = process::clean(ws, qemu::QEMU);
        cmd.args(qemu::args(&machine));
        let profile_to = match icount {
            true if opts.insn_profile => Some(&profile_out),
            false if opts.profile_net => Some(&net_profile_out),
            _ => None,
        };
        if let (Some(plugin), Some(out)) = (&plugin, profile_to) {
            cmd.args(crate::profile::qemu_args(plugin, out));
        }
        let host = forward.map(|f| Host::new(label, f.host));
        let run = boot(&mut cmd, timeout, &log, label, host, None)?;
        if let Some(problem) = &run.problem {
            println!("mk: {label}: {problem}");
        }
        if opts.profile_net {
            print_net_profile(ws, opts, &run, &net_profile_out)?;
            return Ok(if run.problem.is_none() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        runs.push(run);
    }
    let (tcg, icount) = (&runs[0], &runs[1]);
    let kit = match linux::prepare(ws) {
        Ok(kit) => Some(kit),
        Err(err) => {
            println!("mk: no Linux figures: {err}");
            None
        }
    };
    let linux_icount = kit.as_ref().and_then(|kit| linux_boot(ws, kit, LinuxBoot::Icount, opts.smp));
    if opts.micro {
        println!();
        print!("{}", table(None, icount, None, linux_icount.as_ref()));
        println!();
        println!("{}", micro_note(opts.smp, kit.as_ref(), false));
        if plugin.is_some() {
            print_profile(ws, opts, icount, &profile_out)?;
        }
        return Ok(if icount.complete() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    let linux = kit.as_ref().and_then(|kit| linux_boot(ws, kit, LinuxBoot::Tcg, opts.smp));
    let scaling = scaling_boots(ws, &image.bios)?;
    let linux_scaling: Vec<(u32, BenchRun)> = match &kit {
        Some(kit) => SCALING_CPUS
            .iter()
            .filter_map(|cpus| linux_boot(ws, kit, LinuxBoot::Scaling, *cpus).map(|run| (*cpus, run)))
            .collect(),
        None => Vec::new(),
    };
    println!();
    print!("{}", table(Some(tcg), icount, linux.as_ref(), linux_icount.as_ref()));
    println!();
    println!("{}", micro_note(opts.smp, kit.as_ref(), true));
    println!();
    print!("{}", scaling_table(&scaling, &linux_scaling));
    println!();
    println!(
        "Scaling: QEMU's multi-threaded TCG (-accel tcg,thread=multi, no icount), {MEM}, one boot per CPU count. \
         Ferrite: N clients each doing 1-byte reads on a scheme daemon of its own (N daemons: only the kernel is \
         shared); Linux: N pipe ping-pong pairs. Calls/s: round trips per second of all clients together over \
         {TARGET_MS} ms of guest time; per-CPU efficiency: calls/s over N over the 1-CPU figure. QEMU runs each vCPU \
         on a host thread: on a host with fewer free cores than vCPUs the higher rows measure the host too ({} here).",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    print!("{}", disk_table(tcg, linux.as_ref()));
    println!();
    let version = kit.as_ref().map(|kit| kit.version.clone());
    let linux_note = match (&version, &linux) {
        (Some(version), Some(_)) => {
            format!("Linux {version}: ext4 on /dev/vda and the raw /dev/vdb, buffered (no O_DIRECT)")
        }
        _ => "Linux: not measured (above)".to_string(),
    };
    println!(
        "Disks: TCG, {} CPU(s), {MEM}, virtio-blk-pci. Ferrite: file: (RedoxFS, redoxfsd) on a fresh {} MiB disk:0 and \
         the raw disk:1 ({} MiB). {linux_note}. 64 MiB per sequential row, written then fsync'd (timed), read back \
         after Linux drops its page cache (Ferrite's 4 MiB block cache and 128 KiB read-ahead hold far less than the file); file_create_1k: create + 1 KiB write + close per file, \
         1,000 files (Linux: then one syncfs, timed); file_fsync_1k: 1 KiB appended + fsync. Ferrite/Linux: rate \
         over rate (above 1: Ferrite faster).",
        opts.smp,
        DATA_DISK_SIZE >> 20,
        SCRATCH_DISK_SIZE >> 20
    );
    println!();
    print!("{}", netbench::net_table(tcg, linux.as_ref()));
    println!();
    println!(
        "Network: TCG, {} CPU(s), {MEM}, virtio-net-pci on QEMU's user network (-netdev user, a host port forwarded to \
         the guest's port 80), peers in mk on 127.0.0.1 (the guest's 10.0.2.2). Ferrite: netd (smoltcp) and httpd -q; \
         {}. TCP rows: {} MiB each way, timed by mk (guest to host: from the guest's first line to the end of the \
         stream; host to guest: until the guest says it got them all); connect: {} connections opened (handshake \
         waited for) and closed by the guest; HTTP: GET of a {}-byte page from mk, one connection per request \
         ({} requests) or one kept-alive connection ({}); ping: {} ICMP echoes to 10.0.2.2, mean round trip. \
         Ferrite/Linux: rate over rate (above 1: Ferrite faster).",
        opts.smp,
        match (&version, &linux) {
            (Some(version), Some(_)) =>
                format!("Linux {version}: its virtio_net driver, static 10.0.2.15/24, bench.c's HTTP server"),
            _ => "Linux: not measured (above)".to_string(),
        },
        netbench::BULK >> 20,
        netbench::CONNECTS,
        netbench::SMALL_PAGE_LEN,
        netbench::HTTP_CLOSE_REQUESTS,
        netbench::HTTP_KEEPALIVE_REQUESTS,
        netbench::ECHOES,
    );
    if opts.smp > 1 {
        println!("mk: with more than one CPU the icount and yield figures are not what they say (see mk/src/bench.rs)");
    }
    match crate::boottime::measure(ws, opts.profile) {
        Ok(boots) => println!("{}", crate::boottime::describe(opts.profile, &boots)),
        Err(err) => println!("mk: boot to the prompt not measured: {err}"),
    }
    let complete = tcg.complete()
        && icount.complete()
        && tcg.has_all(DISK_BENCHMARKS)
        && tcg.has_all(netbench::NET_BENCHMARKS)
        && scaling.iter().all(|(_, run)| calls_per_second(run).is_some());
    if !complete {
        println!("mk: some benchmarks did not report; see the logs in {}", ws.show(&ws.mk_dir().join("bench-logs")));
    }
    Ok(if complete { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `--profile`: each microbenchmark's instructions per operation by symbol.
/// What a profile's listings need: the plugin's counters (read from
/// `out`), the kernel's and the `programs`' symbols (those built), and the
/// folder the hottest blocks go to.
struct ProfileInputs {
    profile: crate::profile::Profile,
    kernel: crate::profile::Binary,
    programs: Vec<crate::profile::Binary>,
    blocks_dir: PathBuf,
}

fn profile_inputs(ws: &Workspace, opts: &BenchOpts, out: &Path, programs: &[&str]) -> Result<ProfileInputs, String> {
    let profile = crate::profile::Profile::read(out)?;
    let binary = |name: &str| ws.target_dir().join(crate::workspace::KERNEL_TARGET).join(opts.profile.dir()).join(name);
    let kernel = crate::profile::Binary::load("kernel", &ws.kernel_elf(opts.profile, "ferrite"))?;
    let programs = programs
        .iter()
        .filter(|name| binary(name).exists())
        .map(|name| crate::profile::Binary::load(name, &binary(name)))
        .collect::<Result<Vec<_>, _>>()?;
    let blocks_dir = out.with_file_name("profile-blocks");
    fs::create_dir_all(&blocks_dir).map_err(|e| format!("creating {}: {e}", ws.show(&blocks_dir)))?;
    Ok(ProfileInputs { profile, kernel, programs, blocks_dir })
}

impl ProfileInputs {
    /// Prints the window `start`..`at` by symbol under `heading`
    /// (`per_op` turns its total into the unit's), and writes its hottest
    /// blocks to `NAME.txt`.
    fn print_window(
        &self,
        ws: &Workspace,
        name: &str,
        heading: &str,
        (start, at): (Duration, Duration),
        per_op: impl FnOnce(u64) -> f64,
    ) -> Result<(), String> {
        println!();
        match crate::profile::listings(&self.profile, start, at, per_op, &self.kernel, &self.programs) {
            Some(listings) => {
                print!("{name}: {heading} by symbol\n{}", listings.by_symbol);
                let path = self.blocks_dir.join(format!("{name}.txt"));
                fs::write(&path, listings.hot_blocks).map_err(|e| format!("writing {}: {e}", ws.show(&path)))
            }
            None => {
                println!("{name}: too short for a profile window");
                Ok(())
            }
        }
    }
}

fn print_profile(ws: &Workspace, opts: &BenchOpts, icount: &BenchRun, out: &Path) -> Result<(), String> {
    let inputs = profile_inputs(ws, opts, out, &["bench", "ipcd", "bootstrap", "redoxfsd", "virtio-blkd"])?;
    let mut from = icount.begun;
    for (at, name) in &icount.stamps {
        // A disk benchmark's clock counts the device's time too: its
        // operations are the window's instructions over its requests.
        let per_op = |total: u64| match (DISK_BENCHMARKS.contains(&name.as_str()), icount.figures.get(name.as_str())) {
            (true, Some(Figure::Measured { iterations, .. })) if *iterations > 0 => total as f64 / *iterations as f64,
            _ => icount.ns(name).unwrap_or(0.0),
        };
        if let Some(start) = from
            && icount.ns(name).is_some()
        {
            inputs.print_window(ws, name, "instructions per operation", (start, *at), per_op)?;
        }
        from = Some(*at);
    }
    println!();
    println!(
        "mk: the plugin's counters are in {}; each benchmark's hottest blocks (by address, for objdump) in {}",
        ws.show(out),
        ws.show(&inputs.blocks_dir)
    );
    Ok(())
}

/// A network row's cost line, `bench: net_ping: 22 frames out, 21 in,
/// ...`: the row's name and its frames both ways.
fn net_cost(line: &str) -> Option<(String, u64)> {
    let rest = &line[line.find("bench: net_")? + "bench: ".len()..];
    let (name, rest) = rest.split_once(": ")?;
    let (out, rest) = rest.split_once(" frames out, ")?;
    let (inward, _) = rest.split_once(" in")?;
    Some((name.to_string(), out.trim().parse::<u64>().ok()? + inward.trim().parse::<u64>().ok()?))
}

/// `--profile-net`: each network row's window of the profiled TCG boot,
/// by symbol, in instructions per frame sent or received.
fn print_net_profile(ws: &Workspace, opts: &BenchOpts, tcg: &BenchRun, out: &Path) -> Result<(), String> {
    let inputs = profile_inputs(ws, opts, out, &["bench", "netd", "virtio-netd", "utils", "bootstrap"])?;
    let mut from = tcg.net_begun;
    for (at, name, frames) in &tcg.net_stamps {
        let Some(start) = from.replace(*at) else { continue };
        let per_frame = |total: u64| total as f64 / (*frames).max(1) as f64;
        let heading = format!("instructions per frame ({frames} sent and received)");
        inputs.print_window(ws, name, &heading, (start, *at), per_frame)?;
    }
    println!();
    println!("mk: each row's hottest blocks (by address, for objdump) in {}", ws.show(&inputs.blocks_dir));
    Ok(())
}

/// The guest memory of every boot, Ferrite's and Linux's.
const MEM: &str = "256M";

/// The TCG boot's disks, made anew: RedoxFS on the first, zeros on the
/// second.
fn bench_disks(ws: &Workspace) -> Result<Vec<PathBuf>, String> {
    let data = ws.mk_dir().join(DATA_DISK);
    let scratch = ws.mk_dir().join(SCRATCH_DISK);
    crate::disk::format(&data, DATA_DISK_SIZE)?;
    crate::disk::zeroed(&scratch, SCRATCH_DISK_SIZE)?;
    Ok(vec![data, scratch])
}

/// Which Linux boot: under TCG with the disks and the network card (every
/// benchmark), under icount with neither (the microbenchmarks), or under
/// multi-threaded TCG with neither, stopped after the scaling figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LinuxBoot {
    Tcg,
    Icount,
    Scaling,
}

/// QEMU's multi-threaded TCG, for the scaling boots.
const MTTCG: [&str; 2] = ["-accel", "tcg,thread=multi"];

/// One Linux boot of `kit` on `smp` CPUs, or `None` (saying why).
fn linux_boot(ws: &Workspace, kit: &linux::Kit, which: LinuxBoot, smp: u32) -> Option<BenchRun> {
    let label = match which {
        LinuxBoot::Tcg => "linux".to_string(),
        LinuxBoot::Icount => "linux-icount".to_string(),
        LinuxBoot::Scaling => format!("linux-scaling-{smp}"),
    };
    let log = ws.mk_dir().join("bench-logs").join(format!("{label}.log"));
    let (timeout, what) = match which {
        LinuxBoot::Tcg => (LINUX_TIMEOUT, "under TCG with an ext4 disk, a raw one and a virtio-net card"),
        LinuxBoot::Icount => (ICOUNT_TIMEOUT, "under TCG -icount shift=0 with no disks and no network"),
        LinuxBoot::Scaling => (SCALING_TIMEOUT, "under multi-threaded TCG for the scaling figure"),
    };
    println!(
        "mk: booting Linux {} {what}, {smp} CPUs (modules {}; timeout {} s, serial log in {})",
        kit.version,
        kit.modules.join(" "),
        timeout.as_secs(),
        ws.show(&log)
    );
    let (kit, nic, forward) = if which == LinuxBoot::Tcg {
        let forward = match netbench::free_port() {
            Ok(port) => qemu::Forward { host: port, guest: netbench::GUEST_PORT },
            Err(err) => {
                println!("mk: no Linux figures from {label}: {err}");
                return None;
            }
        };
        (kit.clone(), qemu::Nic::Virtio(Some(forward)), Some(forward))
    } else {
        (linux::Kit { disks: Vec::new(), ..kit.clone() }, qemu::Nic::QemuDefault, None)
    };
    let mut cmd = process::clean(ws, qemu::QEMU);
    cmd.args(linux::qemu_args(&kit, smp, MEM, which == LinuxBoot::Icount, nic));
    if which == LinuxBoot::Scaling {
        cmd.args(MTTCG);
    }
    let until = (which == LinuxBoot::Scaling).then_some(SCALING);
    let host = forward.map(|f| Host::new("linux", f.host));
    match boot(&mut cmd, timeout, &log, &label, host, until) {
        Ok(run) => {
            if let Some(problem) = &run.problem {
                println!("mk: {label}: {problem}");
            }
            Some(run)
        }
        Err(err) => {
            println!("mk: no Linux figures from {label}: {err}");
            None
        }
    }
}

/// Ferrite on each of [`SCALING_CPUS`] under multi-threaded TCG, no disks
/// and no network, each stopped once the scaling figure is in.
fn scaling_boots(ws: &Workspace, image: &Path) -> Result<Vec<(u32, BenchRun)>, String> {
    let mut runs = Vec::new();
    for &cpus in SCALING_CPUS {
        let label = format!("scaling-{cpus}");
        let log = ws.mk_dir().join("bench-logs").join(format!("{label}.log"));
        println!(
            "mk: booting {} under multi-threaded TCG with {cpus} CPUs for the scaling figure (timeout {} s, serial \
             log in {})",
            ws.show(image),
            SCALING_TIMEOUT.as_secs(),
            ws.show(&log)
        );
        let machine = Machine {
            image,
            firmware: None,
            smp: cpus,
            mem: MEM,
            serial: Serial::Pipe,
            display: false,
            gdb: false,
            icount: false,
            disks: &[],
            nic: qemu::Nic::QemuDefault,
        };
        let mut cmd = process::clean(ws, qemu::QEMU);
        cmd.args(qemu::args(&machine)).args(MTTCG);
        let run = boot(&mut cmd, SCALING_TIMEOUT, &log, &label, None, Some(SCALING))?;
        if let Some(problem) = &run.problem {
            println!("mk: {label}: {problem}");
        }
        runs.push((cpus, run));
    }
    Ok(runs)
}

/// What the microbenchmark table's columns are.
fn micro_note(smp: u32, kit: Option<&linux::Kit>, tcg: bool) -> String {
    let linux = match kit {
        Some(kit) => format!(
            "Linux {}: bench/linux/bench.c as /init in the same QEMU machine, the same calibration; its peers: \
             scheme_read_1byte: a pipe ping-pong, scheme_open_read_close: open + 16-byte read + close of a tmpfs file, \
             scheme_read_4k/64k: pread of a tmpfs file, chan_pingpong_1byte (and _write_read): a Unix stream socketpair ping-pong, \
             chan_write_64k (and pipe_write_64k): 64 KiB pipe writes, shm_pass_64k: the same hand-over through a shared mapping, \
             shm_map_64k: mmap of a 64 KiB tmpfs file, a write per page, munmap",
            kit.version
        ),
        None => "Linux: not measured (above)".to_string(),
    };
    format!(
        "{smp} CPU(s), {MEM}, {TARGET_MS} ms of guest time per benchmark. {}icount: -icount shift=0, guest ns = \
         instructions executed, so the figures are instructions per operation. F/L: Ferrite's ns/op over Linux's \
         (above 1: Ferrite takes longer). yield_pingpong: per hand-over (two per round trip). icount counts each \
         iteration of a `rep movsb` as an instruction, and Linux copies to and from user memory with it (-cpu max \
         has ERMS/FSRM), so its icount figures of the rows that copy 64 KiB hold about one instruction per byte \
         (Ferrite's kernel copies 8 bytes at a time). {linux}.",
        if tcg { "TCG: guest nanoseconds (depend on the host). " } else { "" }
    )
}

/// Runs QEMU's `cmd`, feeding serial lines to a [`BenchRun`], a log
/// file and the host's side of the network benchmarks, and stops QEMU once
/// the program is done, or has reported `until` (or on timeout).
fn boot(
    cmd: &mut std::process::Command,
    timeout: Duration,
    log_path: &Path,
    label: &str,
    mut host: Option<Host>,
    until: Option<&str>,
) -> Result<BenchRun, String> {
    let mut log = crate::process::create_log(log_path)?;
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    println!("mk: {}", process::describe(cmd));
    let qemu::Running { mut child, started: start, lines, reader } = qemu::spawn_reading_lines(cmd)?;
    let mut run = BenchRun::default();
    let deadline = start + timeout;
    let mut exited = false;
    while !run.finished() && !until.is_some_and(|name| run.figures.contains_key(name)) {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((at, line)) => {
                let _ = log.write_all(&line);
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\r', '\n']);
                match parse_line(text) {
                    Some(BenchLine::Result { name, .. } | BenchLine::Failed { name, .. }) => {
                        println!("mk: {label}: {}", text.trim());
                        run.stamps.push((at, name.to_string()));
                    }
                    Some(BenchLine::Done) => println!("mk: {label}: {}", text.trim()),
                    None if text.contains("bench: ") && run.begun.is_none() => run.begun = Some(at),
                    None => {}
                }
                if text.contains("bench net: ready") {
                    run.net_begun = Some(at);
                } else if let Some((name, frames)) = net_cost(text) {
                    run.net_stamps.push((at, name, frames));
                }
                if let Some(host) = host.as_mut() {
                    host.line(text);
                }
                run.feed(text);
            }
            Err(RecvTimeoutError::Timeout) => {
                run.problem = Some(format!("no `bench done` within {} s", timeout.as_secs()));
                break;
            }
            Err(RecvTimeoutError::Disconnected) => {
                exited = true;
                if !run.done {
                    run.problem = Some("QEMU exited before `bench done`".to_string());
                }
                break;
            }
        }
    }
    if !exited {
        let _ = child.kill();
    }
    let _ = child.wait();
    let _ = reader.join();
    if let Some(host) = host {
        host.finish(&mut run);
    }
    println!("mk: {label}: {:.1} s", start.elapsed().as_secs_f64());
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_network_cost_lines() {
        let line = "bench: net_tcp_host_to_guest: 1062 frames out, 46609 in, 1370 netd turns, 4560 switches";
        assert_eq!(net_cost(line), Some(("net_tcp_host_to_guest".to_string(), 47671)));
        let both = "bench: net_http_close and net_http_keepalive: 2967 frames out, 2847 in, 4936 netd turns";
        assert_eq!(net_cost(both), Some(("net_http_close and net_http_keepalive".to_string(), 5814)));
        assert_eq!(net_cost("bench net_ping: 683373.2 ns/op (20 iterations)"), None);
        assert_eq!(net_cost("bench: net_ping: many frames out, 21 in"), None);
    }

    #[test]
    fn parses_result_lines() {
        assert_eq!(
            parse_line("bench null_syscall_getppid: 812.3 ns/op (615000 iterations)"),
            Some(BenchLine::Result { name: "null_syscall_getppid", ns_per_op: 812.3, iterations: 615_000 })
        );
        assert_eq!(
            parse_line("\x1b[0mbench fork_exec_wait: 631920.0 ns/op (800 iterations)\r"),
            Some(BenchLine::Result { name: "fork_exec_wait", ns_per_op: 631_920.0, iterations: 800 })
        );
        assert_eq!(
            parse_line("bench yield_pingpong: failed: fork: Out of memory"),
            Some(BenchLine::Failed { name: "yield_pingpong", reason: "fork: Out of memory" })
        );
        assert_eq!(parse_line("bench done"), Some(BenchLine::Done));
        assert_eq!(parse_line("bench done\r"), Some(BenchLine::Done));
    }

    #[test]
    fn ignores_other_lines() {
        for line in [
            "",
            "[    0.001091] INFO  cpu0 kernel::boot: Ferrite 0.1.0 starting (Normal mode)",
            "bench: Ferrite microbenchmarks, 500 ms each (pid 1)",
            "bench: yield_pingpong: 1.0 yields per hand-over",
            "bench x: 12 ns/op",
            "bench x: twelve ns/op (3 iterations)",
            "bench x: 12 ns/op (many iterations)",
            "bench two words: 12 ns/op (3 iterations)",
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }

    fn run_of(lines: &[&str]) -> BenchRun {
        let mut run = BenchRun::default();
        for line in lines {
            run.feed(line);
        }
        run
    }

    #[test]
    fn a_run_is_complete_when_every_benchmark_reported() {
        let mut lines = vec![
            "bench null_syscall_getppid: 812.3 ns/op (100 iterations)",
            "bench yield_pingpong: 2000.0 ns/op (100 iterations)",
            "bench fork_exit_wait: 300000.5 ns/op (100 iterations)",
            "bench scheme_read_1byte: 3000.0 ns/op (100 iterations)",
            "bench scheme_open_read_close: 9000.0 ns/op (100 iterations)",
            "bench scheme_open_read_close_batch: 8000.0 ns/op (100 iterations)",
            "bench scheme_read_4k: 4000.0 ns/op (100 iterations)",
            "bench scheme_read_64k: 20000.0 ns/op (100 iterations)",
            "bench chan_pingpong_1byte: 30000.0 ns/op (100 iterations)",
            "bench chan_pingpong_write_read: 20000.0 ns/op (100 iterations)",
            "bench chan_write_64k: 90000.0 ns/op (100 iterations)",
            "bench pipe_write_64k: 70000.0 ns/op (100 iterations)",
            "bench shm_pass_64k: 50000.0 ns/op (100 iterations)",
            "bench shm_map_64k: 40000.0 ns/op (100 iterations)",
        ];
        let run = run_of(&lines);
        assert!(!run.finished() && !run.complete());
        lines.push("bench fork_exec_wait: failed: exec: ENOEXEC");
        lines.push("bench done");
        let run = run_of(&lines);
        assert!(run.finished() && !run.complete());
        let failed = lines.len() - 2;
        lines[failed] = "bench fork_exec_wait: 900000.0 ns/op (10 iterations)";
        assert!(run_of(&lines).complete());
        let panicked = run_of(&["KERNEL PANIC on CPU 0: boom"]);
        assert!(panicked.finished() && !panicked.complete());
        assert_eq!(panicked.problem.as_deref(), Some("KERNEL PANIC on CPU 0: boom"));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(338), "338");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(169_375), "169,375");
        assert_eq!(thousands(1_631_920), "1,631,920");
    }

    #[test]
    fn the_table() {
        let tcg = run_of(&[
            "bench null_syscall_getppid: 812.34 ns/op (100 iterations)",
            "bench yield_pingpong: failed: fork: ENOMEM",
            "bench fork_exit_wait: 300000.0 ns/op (100 iterations)",
            "bench fork_exec_wait: 900000.0 ns/op (10 iterations)",
            "bench scheme_read_4k: 4096.0 ns/op (100 iterations)",
            "bench done",
        ]);
        let icount = run_of(&[
            "bench null_syscall_getppid: 1520.4 ns/op (100 iterations)",
            "bench yield_pingpong: 4100.6 ns/op (100 iterations)",
            "bench fork_exit_wait: 250000.0 ns/op (100 iterations)",
        ]);
        let linux_tcg = run_of(&[
            "bench null_syscall_getppid: 406.17 ns/op (100 iterations)",
            "bench fork_exit_wait: 600000.0 ns/op (100 iterations)",
            "bench scheme_read_4k: 1024.0 ns/op (100 iterations)",
        ]);
        let linux_icount = run_of(&[
            "bench null_syscall_getppid: 338.0 ns/op (100 iterations)",
            "bench yield_pingpong: failed: fork: EAGAIN",
        ]);
        let text = table(Some(&tcg), &icount, Some(&linux_tcg), Some(&linux_icount));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + BENCHMARKS.len());
        // The first column is as wide as the longest benchmark name.
        let width = BENCHMARKS.iter().map(|n| n.len()).max().unwrap();
        let row = |name: &str, rest: &str| format!("{name:<width$} | {rest}");
        assert_eq!(
            lines[0],
            row(
                "benchmark",
                " Ferrite TCG ns/op |    Linux TCG ns/op | TCG F/L | Ferrite icount | Linux icount | icount F/L"
            )
        );
        assert!(lines[1].starts_with(&format!("{}-+--------------------+", "-".repeat(width))), "{}", lines[1]);
        assert_eq!(
            lines[2],
            row(
                "null_syscall_getppid",
                "             812.3 |              406.2 |   2.00x |          1,520 |          338 |      4.50x"
            )
        );
        assert_eq!(
            lines[3],
            row(
                "yield_pingpong",
                "            failed |                  - |       - |          4,101 |       failed |          -"
            )
        );
        assert_eq!(
            lines[4],
            row(
                "fork_exit_wait",
                "          300000.0 |           600000.0 |   0.50x |        250,000 |            - |          -"
            )
        );
        assert_eq!(
            lines[9],
            row(
                "scheme_read_4k",
                "4096.0 (1000 MB/s) | 1024.0 (4000 MB/s) |   4.00x |              - |            - |          -"
            )
        );
        // Without Linux: its columns say `-`.
        let alone = table(Some(&tcg), &icount, None, None);
        assert!(
            alone
                .lines()
                .nth(2)
                .unwrap()
                .ends_with("812.3 |               - |       - |          1,520 |            - |          -"),
            "{alone}"
        );
        // `--micro`: the icount columns only.
        let micro = table(None, &icount, None, Some(&linux_icount));
        let lines: Vec<&str> = micro.lines().collect();
        assert_eq!(lines[0], row("benchmark", "Ferrite icount | Linux icount | icount F/L"));
        assert_eq!(lines[2], row("null_syscall_getppid", "         1,520 |          338 |      4.50x"));
        // A row measured against another row's Linux figure.
        let batched = run_of(&["bench scheme_open_read_close_batch: 5000.0 ns/op (100 iterations)"]);
        let linux = run_of(&["bench scheme_open_read_close: 10000.0 ns/op (100 iterations)"]);
        let text = table(None, &batched, None, Some(&linux));
        let line = text.lines().find(|l| l.starts_with("scheme_open_read_close_batch")).unwrap();
        assert!(line.ends_with("5,000 |       10,000 |      0.50x"), "{line}");
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50x");
        assert_eq!(ratio(Some(3.0), None), "-");
        assert_eq!(ratio(None, Some(2.0)), "-");
        assert_eq!(ratio(Some(3.0), Some(0.0)), "-");
    }

    #[test]
    fn the_scaling_table() {
        let line = |ns: &str| format!("bench scheme_scaling: {ns} ns/op (1000 iterations)");
        let ferrite = vec![
            (1, run_of(&[&line("10000.0")])),
            (2, run_of(&[&line("6250.0")])),
            (4, run_of(&["bench scheme_scaling: failed: fork: ENOMEM"])),
        ];
        let linux = vec![(1, run_of(&[&line("5000.0")])), (4, run_of(&[&line("2500.0")]))];
        assert_eq!(calls_per_second(&ferrite[0].1), Some(100_000.0));
        let text = scaling_table(&ferrite, &linux);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "CPUs | Ferrite calls/s | Ferrite per-CPU efficiency | Linux calls/s | Linux per-CPU efficiency",
                "-----+-----------------+----------------------------+---------------+-------------------------",
                "1    |         100,000 |                       100% |       200,000 |                     100%",
                "2    |         160,000 |                        80% |             - |                        -",
                "4    |          failed |                          - |       400,000 |                      50%",
            ]
        );
        // No Linux at all, and no 1-CPU figure to compare with.
        let text = scaling_table(&ferrite[1..], &[]);
        assert_eq!(
            text.lines().nth(3).unwrap(),
            "2    |         160,000 |                          - |             - |                        -"
        );
    }

    #[test]
    fn a_scaling_boot_stops_at_its_figure() {
        let run = run_of(&["bench: Ferrite microbenchmarks", &format!("bench {SCALING}: 1.0 ns/op (1 iterations)")]);
        assert!(!run.finished());
        assert!(run.figures.contains_key(SCALING));
    }

    #[test]
    fn disk_rates() {
        assert_eq!(disk_bytes_per_op("file_write_4k"), Some(4096));
        assert_eq!(disk_bytes_per_op("disk_read_64k"), Some(65_536));
        assert_eq!(disk_bytes_per_op("file_read_1m"), Some(1 << 20));
        assert_eq!(disk_bytes_per_op("file_create_1k"), None);
        assert_eq!(disk_bytes_per_op("file_fsync_1k"), None);
        for name in DISK_BENCHMARKS {
            let sequential = name.contains("_write_") || name.contains("_read_");
            assert_eq!(disk_bytes_per_op(name).is_some(), sequential, "{name}");
            assert!(!BENCHMARKS.contains(name), "{name}");
        }
        // 1 MiB in 10 ms: 100 MiB/s; an op in 2 ms: 500 ops/s.
        assert!((disk_rate("disk_write_1m", 10_000_000.0) - 100.0).abs() < 1e-9);
        assert!((disk_rate("file_fsync_1k", 2_000_000.0) - 500.0).abs() < 1e-9);
        assert_eq!(disk_rate("file_fsync_1k", 0.0), 0.0);
    }

    #[test]
    fn the_disk_table() {
        let ferrite = run_of(&[
            "bench file_write_4k: 409600.0 ns/op (16384 iterations)",
            "bench file_read_4k: failed: read: EIO",
            "bench file_create_1k: 2000000.0 ns/op (1000 iterations)",
            "bench file_fsync_1k: 12345678.9 ns/op (500 iterations)",
            "bench done",
        ]);
        let linux = run_of(&[
            "bench file_write_4k: 102400.0 ns/op (16384 iterations)",
            "bench file_read_4k: 40960.0 ns/op (16384 iterations)",
            "bench file_create_1k: 500000.0 ns/op (1000 iterations)",
            "bench done",
        ]);
        let text = disk_table(&ferrite, Some(&linux));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + DISK_BENCHMARKS.len());
        assert_eq!(lines[0], "disk benchmark |          Ferrite TCG |            Linux TCG | Ferrite/Linux");
        assert_eq!(lines[1], "---------------+----------------------+----------------------+--------------");
        assert_eq!(lines[2], "file_write_4k  |            9.5 MiB/s |           38.1 MiB/s |         0.25x");
        assert_eq!(lines[3], "file_read_4k   |               failed |           95.4 MiB/s |             -");
        assert_eq!(lines[4], "file_write_64k |                    - |                    - |             -");
        assert_eq!(lines[14], "file_create_1k | 500 ops/s (2,000 us) | 2,000 ops/s (500 us) |         0.25x");
        assert_eq!(lines[15], "file_fsync_1k  | 81 ops/s (12,346 us) |                    - |             -");
        let alone = disk_table(&ferrite, None);
        assert!(alone.lines().nth(2).unwrap().ends_with("9.5 MiB/s |         - |             -"), "{alone}");
    }

    #[test]
    fn byte_movers_are_benchmarks() {
        for (name, _) in BYTES_PER_OP {
            assert!(BENCHMARKS.contains(name), "{name}");
        }
        assert!(!BENCHMARKS.contains(&SCALING));
    }
}
