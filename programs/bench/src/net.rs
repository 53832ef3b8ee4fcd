//! Network benchmarks (README "Figures"), the peers of the Linux
//! harness's (`bench/linux/bench.c`), run against peers that `cargo mk
//! bench` runs on the host (`mk/src/netbench.rs`). The bench image runs no
//! `init.rc`, so this program starts `pcid`, `virtio-netd` and `netd`
//! itself; without a virtio network card (the `-icount` boot attaches
//! none) the driver exits and these benchmarks are skipped.
//!
//! The conversation, every wait bounded:
//!
//! 1. the guest listens on TCP port [`CONTROL_PORT`] (QEMU forwards a free
//!    host port to it) and prints `bench net: ready on port 80`; mk, seeing
//!    that line, connects and sends `peer PORT`: its peer listens on
//!    `10.0.2.2:PORT` (the host's 127.0.0.1 through QEMU's user network);
//! 2. `net_ping`: [`ECHOES`] ICMP echoes to 10.0.2.2 (`icmp:echo/`), each
//!    timed from the request to its reply (one untimed before them);
//! 3. `net_tcp_connect`: [`CONNECTS`] connections to the peer, each opened,
//!    its handshake waited for (`fsync`) and closed;
//! 4. guest → host: a connection that says `sink` and sends [`BULK`]
//!    bytes; the peer times them and answers `got N`;
//! 5. host → guest: a connection that says `source`; the peer sends
//!    [`BULK`] bytes, this program reads them to the end and answers
//!    `got N`, and the peer times it;
//! 6. the control listener is closed, `httpd -q initfs:www 80` started, and
//!    `httpd` sent on the control connection; mk then times HTTP requests
//!    for `/small.html` through the forward (keep-alive off and on) and
//!    answers `done`, and `httpd` is stopped.
//!
//! The guest prints the figures it measured (ping, connect); mk adds the
//! ones it measured (the transfers, HTTP) to the same run. A failure on
//! this side is printed as the row's `failed:` line. After each row it
//! prints what it cost netd (`bench: net_...: N frames out, M in, T netd
//! turns`, from `netcfg:eth0`'s counters), to tell where the time goes.
//!
//! May touch: the daemons it starts, its own connections and the host's
//! peers.

use core::time::Duration;

use rt::abi::syscall::{self as sc, O_CLOEXEC, O_CREAT, O_NONBLOCK, O_RDWR};
use rt::event::Readable;
use rt::fs::File;
use rt::prelude::*;
use rt::process::Fork;

use crate::disk::{start, start_driver};
use crate::ipc::Process;
use crate::{Measured, report};

/// The guest's port that the host's forward reaches.
pub const CONTROL_PORT: u16 = 80;
/// Bytes each bulk transfer moves.
pub const BULK: usize = 64 << 20;
/// Timed echoes and connections.
pub const ECHOES: usize = 500;
pub const CONNECTS: usize = 200;
/// QEMU's host side and the fallback addresses of its user network.
const HOST: &str = "10.0.2.2";
const FALLBACK: [&str; 4] = ["--fallback", "10.0.2.15/24", "10.0.2.2", "10.0.2.3"];
/// How long DHCP may take, mk may take to connect, and a control line to
/// come (mk's HTTP rows take a minute or two).
const LEASE_WITHIN: Duration = Duration::from_secs(20);
const HOST_WITHIN: Duration = Duration::from_secs(120);
const DONE_WITHIN: Duration = Duration::from_secs(600);
/// How long one echo, one step of a benchmark, and a whole benchmark may
/// take.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
const STEP_WITHIN: Duration = Duration::from_secs(60);
const BENCH_WITHIN: Duration = Duration::from_secs(300);

/// The rows the guest measures, then those mk measures.
const GUEST_ROWS: [&str; 2] = ["net_ping", "net_tcp_connect"];
const HOST_ROWS: [&str; 4] = ["net_tcp_guest_to_host", "net_tcp_host_to_guest", "net_http_close", "net_http_keepalive"];

/// Runs them all; whether every one this side sees ran (or they were
/// skipped for want of a card).
pub fn benchmarks() -> bool {
    let fail_all = |err: &str| {
        for name in GUEST_ROWS.iter().chain(HOST_ROWS.iter()) {
            report(name, 1, Err(String::from(err)));
        }
        false
    };
    let _card = match start_driver("virtio-netd", "network:") {
        Ok(Some(daemons)) => daemons,
        Ok(None) => {
            println!("bench: no virtio network card (virtio-netd exited); the network benchmarks are skipped");
            return true;
        }
        Err(err) => return fail_all(&err),
    };
    let _netd = match start("netd", &FALLBACK, "netcfg:") {
        Ok(Some(daemon)) => daemon,
        Ok(None) => return fail_all("netd exited"),
        Err(err) => return fail_all(&err),
    };
    match conversation() {
        Ok(ok) => ok,
        Err(err) => fail_all(&err),
    }
}

/// A wait for `fd` to become readable, with a time limit.
fn readable(fd: usize) -> Result<Readable, String> {
    Readable::new(fd).map_err(|e| format!("event: or time:4: {e}"))
}

/// Whether `waiter`'s fd became readable before `deadline`.
fn wait(waiter: &mut Readable, deadline: Duration) -> Result<bool, String> {
    waiter.wait_until(deadline).map_err(|e| format!("event: {e}"))
}

/// A line (without its newline) from `conn`, read without blocking,
/// within `limit`; `None` if the connection ended first.
fn read_line(conn: &mut File, waiter: &mut Readable, limit: Duration) -> Result<Option<String>, String> {
    let deadline = rt::time::now() + limit;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 256 {
        match conn.read(&mut byte) {
            Ok(0) => return Ok(None),
            Ok(_) if byte[0] == b'\n' => return Ok(Some(String::from_utf8_lossy(&line).into_owned())),
            Ok(_) => line.push(byte[0]),
            Err(err) if err.errno == sc::EAGAIN => {
                if !wait(waiter, deadline)? {
                    return Err(format!("no line from the host within {} s", limit.as_secs()));
                }
            }
            Err(err) => return Err(format!("reading the control connection: {err}")),
        }
    }
    Err(String::from("a control line longer than 256 bytes"))
}

fn conversation() -> Result<bool, String> {
    let leased = wait_for(LEASE_WITHIN, || {
        rt::fs::read_to_string("netcfg:eth0").is_ok_and(|text| !text.contains("how waiting"))
    });
    if !leased {
        return Err(format!("eth0 got no address within {} s", LEASE_WITHIN.as_secs()));
    }
    let url = format!("tcp::{CONTROL_PORT}");
    let listener =
        File::open_with(&url, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC).map_err(|e| format!("listen {url}: {e}"))?;
    let mut waiter = readable(listener.fd())?;
    println!("bench net: ready on port {CONTROL_PORT}");
    let deadline = rt::time::now() + HOST_WITHIN;
    let mut control = loop {
        match listener.derive("listen") {
            Ok(conn) => break conn,
            Err(err) if err.errno == sc::EAGAIN => {
                if !wait(&mut waiter, deadline)? {
                    return Err(format!("the host did not connect within {} s", HOST_WITHIN.as_secs()));
                }
            }
            Err(err) => return Err(format!("accept on {url}: {err}")),
        }
    };
    control.set_nonblocking(true).map_err(|e| format!("control: {e}"))?;
    let mut waiter = readable(control.fd())?;
    let line = read_line(&mut control, &mut waiter, STEP_WITHIN)?.unwrap_or_default();
    let port = line
        .strip_prefix("peer ")
        .and_then(|p| p.trim().parse::<u16>().ok())
        .ok_or_else(|| format!("the host said {line:?}, not `peer PORT`"))?;
    let mut cost = Cost::now();
    let mut ok = report("net_ping", 1, ping());
    cost.say("net_ping", ECHOES + 1, "echo");
    ok &= report("net_tcp_connect", 1, connects(port));
    cost.say("net_tcp_connect", CONNECTS, "connection");
    if let Err(err) = send(port) {
        ok = report(HOST_ROWS[0], 1, Err(err));
    }
    cost.say(HOST_ROWS[0], BULK >> 20, "MiB");
    if let Err(err) = receive(port) {
        ok = report(HOST_ROWS[1], 1, Err(err));
    }
    cost.say(HOST_ROWS[1], BULK >> 20, "MiB");
    drop(listener);
    let httpd = start_httpd()?;
    control.write_all(b"httpd\n").map_err(|e| format!("control: {e}"))?;
    match read_line(&mut control, &mut waiter, DONE_WITHIN)? {
        Some(line) if line == "done" => {}
        other => println!("bench: the host ended the HTTP rows with {other:?}, not `done`"),
    }
    cost.say("net_http_close and net_http_keepalive", 0, "");
    drop(httpd);
    Ok(ok)
}

/// `netcfg:eth0`'s frame and turn counters, its TCP sockets and the
/// context switches of all CPUs (`sys:cpu`), to print what a row cost.
struct Cost([u64; 5]);

impl Cost {
    const FIELDS: [&'static str; 4] = ["tx_frames", "rx_frames", "netd_turns", "tcp_sockets"];

    fn now() -> Cost {
        let text = rt::fs::read_to_string("netcfg:eth0").unwrap_or_default();
        let [out, inn, turns, sockets] = Self::FIELDS.map(|name| {
            text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0)
        });
        Cost([out, inn, turns, switches(), sockets])
    }

    /// Prints the counters' growth since the last call, the switches per
    /// `unit` when the row did `count` of them, and the TCP sockets
    /// `netd` still holds (smoltcp visits every one on every poll).
    fn say(&mut self, what: &str, count: usize, unit: &str) {
        let now = Cost::now();
        let [out, inn, turns, switches] = core::array::from_fn(|i| now.0[i].saturating_sub(self.0[i]));
        let per = match count {
            0 => String::new(),
            n => format!(" ({:.1} per {unit})", switches as f64 / n as f64),
        };
        let sockets = now.0[4];
        println!(
            "bench: {what}: {out} frames out, {inn} in, {turns} netd turns, {switches} switches{per}, {sockets} TCP sockets after"
        );
        *self = now;
    }
}

/// The context switches of all CPUs so far, from the `cpuN:` lines of
/// `sys:cpu` (`... 936 switches, ...`).
fn switches() -> u64 {
    let text = rt::fs::read_to_string("sys:cpu").unwrap_or_default();
    text.lines()
        .filter(|line| line.starts_with("cpu") && line.contains(':'))
        .filter_map(|line| line.split(", ").find_map(|part| part.strip_suffix(" switches")?.parse::<u64>().ok()))
        .sum()
}

/// Polls `ready` (yielding between tries) until it holds or `limit` passed.
fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = rt::time::now() + limit;
    for _ in 0..10_000_000 {
        if ready() {
            return true;
        }
        if rt::time::now() >= deadline {
            return false;
        }
        rt::time::sleep(Duration::from_millis(20));
    }
    false
}

fn elapsed_ns(start: Duration) -> u64 {
    u64::try_from((rt::time::now() - start).as_nanos()).unwrap_or(u64::MAX)
}

/// Echo round trips to the host: one untimed, then [`ECHOES`] timed. Each
/// is one `write_read` on the session, as `ping` does: netd sends the
/// request and answers with its reply (the read timeout bounds the wait).
fn ping() -> Result<Measured, String> {
    let url = format!("icmp:echo/{HOST}");
    let mut echo = File::open_with(&url, O_RDWR | O_CLOEXEC).map_err(|e| format!("open {url}: {e}"))?;
    echo.set_read_timeout(Some(ANSWER_WITHIN)).map_err(|e| format!("read timeout of {url}: {e}"))?;
    let mut total = 0u64;
    let payload = [0x5au8; 56];
    let mut reply = [0u8; 128];
    for seq in 0..=ECHOES {
        let start = rt::time::now();
        match echo.write_read(&payload, &mut reply) {
            Ok(_) => {}
            Err(err) if err.errno == sc::ETIMEDOUT => {
                return Err(format!("no echo reply {seq} within {} s", ANSWER_WITHIN.as_secs()));
            }
            Err(err) => return Err(format!("echo {seq}: {err}")),
        }
        if seq > 0 {
            total += elapsed_ns(start);
        }
    }
    Ok(Measured { ops: ECHOES as u64, ns: total })
}

fn connect(port: u16) -> Result<File, String> {
    let url = format!("tcp:{HOST}:{port}");
    let conn = File::open_with(&url, O_RDWR | O_CLOEXEC).map_err(|e| format!("open {url}: {e}"))?;
    conn.sync().map_err(|e| format!("connect {url}: {e}"))?;
    Ok(conn)
}

/// [`CONNECTS`] connections opened and closed, one after the other.
fn connects(port: u16) -> Result<Measured, String> {
    let start = rt::time::now();
    for n in 0..CONNECTS {
        connect(port)?.close().map_err(|e| format!("close: {e}"))?;
        if rt::time::now() - start > BENCH_WITHIN {
            return Err(format!("only {} of {CONNECTS} connections within {} s", n + 1, BENCH_WITHIN.as_secs()));
        }
    }
    Ok(Measured { ops: CONNECTS as u64, ns: elapsed_ns(start) })
}

/// The peer's `got N` line, read to the end of the connection.
fn got(conn: &mut File) -> Result<usize, String> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 64];
    while answer.len() < 64 {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(err) => return Err(format!("reading the peer's answer: {err}")),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.trim().strip_prefix("got ").and_then(|n| n.parse().ok()).ok_or_else(|| format!("the peer said {text:?}"))
}

/// [`BULK`] bytes to the peer's sink, which times them.
fn send(port: u16) -> Result<(), String> {
    let mut conn = connect(port)?;
    conn.write_all(b"sink\n").map_err(|e| format!("write: {e}"))?;
    let block = crate::disk::incompressible(64 * 1024);
    let start = rt::time::now();
    for n in 0..BULK / block.len() {
        conn.write_all(&block).map_err(|e| format!("write after {} KiB: {e}", n * 64))?;
        if n % 64 == 63 && rt::time::now() - start > BENCH_WITHIN {
            return Err(format!("only {} MiB within {} s", (n + 1) / 16, BENCH_WITHIN.as_secs()));
        }
    }
    let _ = conn.sync();
    conn.set_len(0).map_err(|e| format!("shutdown: {e}"))?;
    match got(&mut conn)? {
        n if n == BULK => Ok(()),
        n => Err(format!("the sink got {n} bytes, not {BULK}")),
    }
}

/// [`BULK`] bytes from the peer's source, read to the end and counted.
fn receive(port: u16) -> Result<(), String> {
    let mut conn = connect(port)?;
    conn.write_all(b"source\n").map_err(|e| format!("write: {e}"))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0usize;
    let start = rt::time::now();
    for n in 0..BULK {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(got) => total += got,
            Err(err) => return Err(format!("read after {total} bytes: {err}")),
        }
        if n % 64 == 63 && rt::time::now() - start > BENCH_WITHIN {
            return Err(format!("only {total} bytes within {} s", BENCH_WITHIN.as_secs()));
        }
    }
    conn.write_all(format!("got {total}\n").as_bytes()).map_err(|e| format!("write: {e}"))?;
    let _ = conn.sync();
    if total == BULK { Ok(()) } else { Err(format!("got {total} bytes, not {BULK}")) }
}

/// `httpd -q initfs:www 80`, killed when dropped.
fn start_httpd() -> Result<Process, String> {
    let path = "initfs:bin/httpd";
    let port = format!("{CONTROL_PORT}");
    match rt::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            let err = rt::process::exec(path, &["-q", "initfs:www", &port], &[]);
            eprintln!("bench: exec {path}: {err}");
            rt::process::exit(127)
        }
        Fork::Parent(pid) => Ok(Process(pid)),
    }
}
