//! `cargo mk bench`'s network rows: the host's side of the guest's
//! network benchmarks (`programs/bench/src/net.rs` on Ferrite,
//! `bench/linux/bench.c` on Linux, the same conversation), and their
//! table, Ferrite beside Linux.
//!
//! Each TCG boot gets a virtio-net card on QEMU's user network with a free
//! host port forwarded to the guest's port 80. When the guest prints
//! [`READY`], [`Host::line`] starts a thread that:
//!
//! - listens on 127.0.0.1 (a port chosen free now) as the guest's peer,
//!   which the guest reaches as 10.0.2.2, and connects to the forward to
//!   tell the guest that port (`peer PORT`);
//! - serves the guest's connections one after the other: one that sends
//!   nothing is a connection-setup round (the guest times those, and its
//!   pings); one that says `sink` sends [`BULK`] bytes, timed here from
//!   that line to the end of the stream, then answered `got N`; one that
//!   says `source` gets [`BULK`] bytes, timed here until the guest answers
//!   `got N`;
//! - once the guest says `httpd` on the control connection, times HTTP
//!   requests for [`SMALL_PAGE`] through the forward, one connection per
//!   request (`Connection: close`) and then on one kept-alive connection,
//!   and says `done`.
//!
//! Every listener binds 127.0.0.1 only; every loop is bounded in count and
//! time ([`DRIVE_WITHIN`] in all). The figures it measured join the boot's
//! [`BenchRun`] in the guest's line format.
//!
//! May touch: its own listeners and connections (loopback only).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::bench::{BenchRun, Figure, render, thousands};

/// The network benchmarks, in the order of their table.
pub const NET_BENCHMARKS: &[&str] = &[
    "net_tcp_guest_to_host",
    "net_tcp_host_to_guest",
    "net_tcp_connect",
    "net_http_close",
    "net_http_keepalive",
    "net_ping",
];

/// What the guest prints once it listens for the host.
pub const READY: &str = "bench net: ready on port";
/// The guest's port the forward reaches.
pub const GUEST_PORT: u16 = 80;
/// Bytes each bulk transfer moves; the bulk figures are per MiB.
pub const BULK: usize = 64 << 20;
const MIB_PER_BULK: u64 = (BULK >> 20) as u64;
/// The page the guest's HTTP server serves from `www/`, and its size.
pub const SMALL_PAGE: &str = "small.html";
pub const SMALL_PAGE_LEN: usize = 1024;
/// The guest's timed echoes and connections (programs/bench/src/net.rs).
pub const ECHOES: usize = 500;
pub const CONNECTS: usize = 200;
/// HTTP requests per row, at most (each row also stops after
/// [`HTTP_WITHIN`]; its figure is over the requests done).
pub const HTTP_CLOSE_REQUESTS: usize = 300;
pub const HTTP_KEEPALIVE_REQUESTS: usize = 1000;
const HTTP_WITHIN: Duration = Duration::from_secs(60);
/// The whole conversation, one silence on a connection, the wait for the
/// guest's `httpd` line, and for its HTTP server to answer.
pub const DRIVE_WITHIN: Duration = Duration::from_secs(900);
const SILENCE: Duration = Duration::from_secs(60);
const HTTPD_WITHIN: Duration = Duration::from_secs(20);
/// Connections the peer takes at most (the guest makes a few hundred).
const PEER_CONNECTIONS: usize = 2000;

/// The page: [`SMALL_PAGE_LEN`] bytes of HTML.
pub fn small_page() -> Vec<u8> {
    let head = b"<!DOCTYPE html>\n<html><head><title>bench</title></head><body>\n<p>";
    let tail = b"</p>\n</body></html>\n";
    let mut page = head.to_vec();
    let filler = b"The quick brown fox jumps over the lazy dog. ";
    while page.len() + tail.len() < SMALL_PAGE_LEN {
        page.push(filler[page.len() % filler.len()]);
    }
    page.extend_from_slice(tail);
    page
}

/// A free TCP port on 127.0.0.1 (bound and let go: QEMU takes it next).
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// What the host measured, by benchmark.
type Figures = Arc<Mutex<Vec<(String, Figure)>>>;

/// The host's side of one boot.
pub struct Host {
    label: String,
    forward: u16,
    driver: Option<JoinHandle<()>>,
    figures: Figures,
}

impl Host {
    /// For a boot whose guest port [`GUEST_PORT`] is forwarded from
    /// 127.0.0.1:`forward`.
    pub fn new(label: &str, forward: u16) -> Host {
        Host { label: label.to_string(), forward, driver: None, figures: Figures::default() }
    }

    /// Takes one serial line: the first [`READY`] starts the conversation.
    pub fn line(&mut self, text: &str) {
        if self.driver.is_none() && text.contains(READY) {
            println!("mk: {}: the guest listens; starting the host's side of the network benchmarks", self.label);
            let (label, port, figures) = (self.label.clone(), self.forward, self.figures.clone());
            self.driver = Some(thread::spawn(move || {
                if let Err(err) = drive(&label, port, &figures) {
                    println!("mk: {label}: network benchmarks: {err}");
                }
            }));
        }
    }

    /// Waits for the conversation (bounded: [`DRIVE_WITHIN`]) and adds its
    /// figures to `run`; says so if the guest never got to it.
    pub fn finish(mut self, run: &mut BenchRun) {
        match self.driver.take() {
            Some(driver) => {
                let _ = driver.join();
            }
            None => println!("mk: {}: the guest never said `{READY}`: no network figures from the host", self.label),
        }
        let figures = std::mem::take(&mut *self.figures.lock().unwrap_or_else(|e| e.into_inner()));
        for (name, figure) in figures {
            run.figures.insert(name, figure);
        }
    }
}

fn record(label: &str, figures: &Figures, name: &str, figure: Figure) {
    match &figure {
        Figure::Measured { ns_per_op, iterations } => {
            println!("mk: {label}: bench {name}: {ns_per_op:.1} ns/op ({iterations} iterations) (timed on the host)")
        }
        Figure::Failed(why) => println!("mk: {label}: bench {name}: failed: {why}"),
    }
    figures.lock().unwrap_or_else(|e| e.into_inner()).push((name.to_string(), figure));
}

/// A line from `conn` (at most 256 bytes, without its newline); `None` at
/// the end of the stream.
fn read_line(conn: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 256 {
        match conn.read(&mut byte) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(String::from_utf8_lossy(&line).trim_end_matches('\r').to_string()))
}

fn drive(label: &str, forward: u16, figures: &Figures) -> Result<(), String> {
    let deadline = Instant::now() + DRIVE_WITHIN;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding the peer: {e}"))?;
    let peer_port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let stop = Arc::new(AtomicBool::new(false));
    let peer = {
        let (label, figures, stop) = (label.to_string(), figures.clone(), stop.clone());
        thread::spawn(move || serve_peer(&label, listener, &figures, &stop, deadline))
    };
    let result = converse(label, forward, peer_port, figures, deadline);
    stop.store(true, Ordering::Release);
    let _ = peer.join();
    result
}

fn converse(label: &str, forward: u16, peer_port: u16, figures: &Figures, deadline: Instant) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], forward));
    let mut control = TcpStream::connect_timeout(&addr, SILENCE).map_err(|e| format!("connecting to {addr}: {e}"))?;
    control.set_read_timeout(Some(SILENCE)).map_err(|e| e.to_string())?;
    control.write_all(format!("peer {peer_port}\n").as_bytes()).map_err(|e| format!("control: {e}"))?;
    // The guest's transfers take a while: wait for its line in silences.
    let line = loop {
        match read_line(&mut control) {
            Ok(line) => break line,
            Err(e)
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
                    && Instant::now() < deadline => {}
            Err(e) => return Err(format!("waiting for the guest's `httpd` line: {e}")),
        }
    };
    if line.as_deref() != Some("httpd") {
        return Err(format!("the guest said {line:?} on the control connection, not `httpd`"));
    }
    let names = ["net_http_close", "net_http_keepalive"];
    match wait_for_httpd(forward) {
        Ok(()) => {
            record(label, figures, names[0], http_rate(forward, false).unwrap_or_else(Figure::Failed));
            record(label, figures, names[1], http_rate(forward, true).unwrap_or_else(Figure::Failed));
        }
        Err(err) => {
            for name in names {
                record(label, figures, name, Figure::Failed(err.clone()));
            }
        }
    }
    control.write_all(b"done\n").map_err(|e| format!("control: {e}"))?;
    let _ = control.shutdown(Shutdown::Write);
    Ok(())
}

/// The guest's peer: its connections one after the other, until `stop`,
/// `deadline` or [`PEER_CONNECTIONS`].
fn serve_peer(label: &str, listener: TcpListener, figures: &Figures, stop: &AtomicBool, deadline: Instant) {
    let _ = listener.set_nonblocking(true);
    let mut connects = 0;
    let mut taken = 0;
    while taken < PEER_CONNECTIONS && !stop.load(Ordering::Acquire) && Instant::now() < deadline {
        let conn = match listener.accept() {
            Ok((conn, _)) => conn,
            Err(_) => {
                thread::sleep(Duration::from_millis(1));
                continue;
            }
        };
        taken += 1;
        match serve_one(conn) {
            Ok(None) => connects += 1,
            Ok(Some((name, figure))) => record(label, figures, name, figure),
            Err(err) => println!("mk: {label}: the peer's connection {taken}: {err}"),
        }
    }
    println!("mk: {label}: the peer took {taken} connections ({connects} opened and closed without a word)");
}

/// One of the guest's connections: `None` for a bare connect and close,
/// else the row it measured.
fn serve_one(mut conn: TcpStream) -> Result<Option<(&'static str, Figure)>, String> {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_nodelay(true);
    conn.set_read_timeout(Some(SILENCE)).map_err(|e| e.to_string())?;
    conn.set_write_timeout(Some(SILENCE)).map_err(|e| e.to_string())?;
    let what = match read_line(&mut conn) {
        Ok(None) => return Ok(None),
        Ok(Some(line)) => line,
        // A reset after the handshake is a connect round too.
        Err(_) => return Ok(None),
    };
    let per_mib = |elapsed: Duration| Figure::Measured {
        ns_per_op: elapsed.as_nanos() as f64 / MIB_PER_BULK as f64,
        iterations: MIB_PER_BULK,
    };
    match what.as_str() {
        "sink" => {
            let started = Instant::now();
            let mut got = 0usize;
            let mut buf = vec![0u8; 256 * 1024];
            while got <= BULK && started.elapsed() < DRIVE_WITHIN {
                match conn.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) => return Err(format!("the sink failed after {got} bytes: {e}")),
                }
            }
            let elapsed = started.elapsed();
            let _ = conn.write_all(format!("got {got}\n").as_bytes());
            let _ = conn.shutdown(Shutdown::Write);
            let figure =
                if got == BULK { per_mib(elapsed) } else { Figure::Failed(format!("the sink got {got} bytes")) };
            Ok(Some(("net_tcp_guest_to_host", figure)))
        }
        "source" => {
            let block: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 % 251) as u8).collect();
            let started = Instant::now();
            for n in 0..BULK / block.len() {
                conn.write_all(&block).map_err(|e| format!("the source failed after {} KiB: {e}", n * 64))?;
            }
            let _ = conn.shutdown(Shutdown::Write);
            let answer =
                read_line(&mut conn).map_err(|e| format!("reading the guest's answer: {e}"))?.unwrap_or_default();
            let elapsed = started.elapsed();
            let figure = if answer == format!("got {BULK}") {
                per_mib(elapsed)
            } else {
                Figure::Failed(format!("the guest answered {answer:?} to {BULK} bytes"))
            };
            Ok(Some(("net_tcp_host_to_guest", figure)))
        }
        other => Err(format!("the guest asked for {other:?}")),
    }
}

/// A response head: its status, `Content-Length` and whether the server
/// closes the connection after it.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub length: Option<usize>,
    pub close: bool,
}

/// Parses a response head (the bytes before its empty line).
pub fn parse_head(head: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let mut words = status_line.split_whitespace();
    let version = words.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let status = words.next()?.parse().ok()?;
    let mut head = Head { status, length: None, close: version == "HTTP/1.0" };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.length = Some(value.parse().ok()?);
        } else if name.eq_ignore_ascii_case("connection") {
            let has = |token: &str| value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token));
            if has("close") {
                head.close = true;
            } else if has("keep-alive") {
                head.close = false;
            }
        }
    }
    Some(head)
}

/// One response from `conn`: its head and body length. `pending` holds
/// bytes read past the previous response.
fn read_response(conn: &mut TcpStream, pending: &mut Vec<u8>) -> Result<(Head, usize), String> {
    let mut buf = [0u8; 16 * 1024];
    let end = loop {
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if pending.len() > 64 * 1024 {
            return Err(String::from("a response head over 64 KiB"));
        }
        match conn.read(&mut buf) {
            Ok(0) => return Err(format!("the connection ended after {} bytes of a head", pending.len())),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("reading a response: {e}")),
        }
    };
    let head =
        parse_head(&pending[..end]).ok_or_else(|| format!("a bad head {:?}", String::from_utf8_lossy(pending)))?;
    pending.drain(..end + 4);
    let length = match head.length {
        Some(length) => {
            while pending.len() < length {
                match conn.read(&mut buf) {
                    Ok(0) => return Err(format!("the body ended after {} of {length} bytes", pending.len())),
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                    Err(e) => return Err(format!("reading a body: {e}")),
                }
            }
            pending.drain(..length);
            length
        }
        None => {
            // To the end of the connection.
            let mut rest = std::mem::take(pending);
            conn.read_to_end(&mut rest).map_err(|e| format!("reading a body: {e}"))?;
            rest.len()
        }
    };
    Ok((head, length))
}

fn connect(port: u16) -> Result<TcpStream, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let conn = TcpStream::connect_timeout(&addr, SILENCE).map_err(|e| format!("connecting to {addr}: {e}"))?;
    conn.set_read_timeout(Some(SILENCE)).map_err(|e| e.to_string())?;
    conn.set_write_timeout(Some(SILENCE)).map_err(|e| e.to_string())?;
    let _ = conn.set_nodelay(true);
    Ok(conn)
}

fn request(keep_alive: bool) -> String {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    format!("GET /{SMALL_PAGE} HTTP/1.1\r\nHost: bench\r\nConnection: {connection}\r\n\r\n")
}

/// One `GET` of the page on a new connection; fine if it is whole.
fn get_once(port: u16) -> Result<(), String> {
    let mut conn = connect(port)?;
    conn.write_all(request(false).as_bytes()).map_err(|e| format!("sending a request: {e}"))?;
    let (head, length) = read_response(&mut conn, &mut Vec::new())?;
    if head.status != 200 || length != SMALL_PAGE_LEN {
        return Err(format!("status {} and {length} bytes, not 200 and {SMALL_PAGE_LEN}", head.status));
    }
    Ok(())
}

/// Tries the page until the guest's server answers (it was just started).
fn wait_for_httpd(port: u16) -> Result<(), String> {
    let started = Instant::now();
    let mut last = String::new();
    for _ in 0..200 {
        match get_once(port) {
            Ok(()) => return Ok(()),
            Err(err) => last = err,
        }
        if started.elapsed() > HTTPD_WITHIN {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    Err(format!("the guest's HTTP server did not answer within {} s ({last})", HTTPD_WITHIN.as_secs()))
}

/// Requests per second: one connection per request, or requests on one
/// kept-alive connection (a new one whenever the server closes it).
fn http_rate(port: u16, keep_alive: bool) -> Result<Figure, String> {
    let count = if keep_alive { HTTP_KEEPALIVE_REQUESTS } else { HTTP_CLOSE_REQUESTS };
    let request = request(keep_alive);
    let started = Instant::now();
    let mut conn: Option<TcpStream> = None;
    let mut pending = Vec::new();
    let (mut done, mut connections) = (0u64, 0u64);
    while (done as usize) < count && started.elapsed() < HTTP_WITHIN {
        let mut stream = match conn.take() {
            Some(stream) => stream,
            None => {
                connections += 1;
                pending.clear();
                connect(port)?
            }
        };
        stream.write_all(request.as_bytes()).map_err(|e| format!("request {done}: {e}"))?;
        let (head, length) = read_response(&mut stream, &mut pending).map_err(|e| format!("request {done}: {e}"))?;
        if head.status != 200 || length != SMALL_PAGE_LEN {
            return Err(format!("request {done}: status {} and {length} bytes", head.status));
        }
        done += 1;
        if keep_alive && !head.close {
            conn = Some(stream);
        }
    }
    let elapsed = started.elapsed();
    if keep_alive && connections > 1 {
        println!("mk: keep-alive: the server closed the connection: {done} requests took {connections} connections");
    }
    Ok(Figure::Measured { ns_per_op: elapsed.as_nanos() as f64 / done.max(1) as f64, iterations: done })
}

/// A row's rate: MB/s for the transfers (figures per MiB), operations per
/// second for the others.
pub fn net_rate(name: &str, ns_per_op: f64) -> f64 {
    if ns_per_op <= 0.0 {
        return 0.0;
    }
    if matches!(name, "net_tcp_guest_to_host" | "net_tcp_host_to_guest") {
        (1u64 << 20) as f64 * 1e9 / ns_per_op / 1e6
    } else {
        1e9 / ns_per_op
    }
}

/// One cell: `12.3 MB/s`, `1,234 conn/s (810 us)`, `456 req/s (2,193 us)`
/// or, for ping, the round trip `812 us`.
fn net_cell(run: Option<&BenchRun>, name: &str) -> String {
    let Some(run) = run else { return "-".to_string() };
    match run.figures.get(name) {
        Some(Figure::Measured { ns_per_op, .. }) => {
            let rate = net_rate(name, *ns_per_op);
            let us = (ns_per_op / 1000.0).round() as u64;
            match name {
                "net_ping" => format!("{} us", thousands(us)),
                "net_tcp_connect" => format!("{} conn/s ({} us)", thousands(rate.round() as u64), thousands(us)),
                n if n.starts_with("net_http_") => {
                    format!("{} req/s ({} us)", thousands(rate.round() as u64), thousands(us))
                }
                _ => format!("{rate:.1} MB/s"),
            }
        }
        Some(Figure::Failed(_)) => "failed".to_string(),
        None => "-".to_string(),
    }
}

fn figure_ns(run: &BenchRun, name: &str) -> Option<f64> {
    match run.figures.get(name) {
        Some(Figure::Measured { ns_per_op, .. }) if *ns_per_op > 0.0 => Some(*ns_per_op),
        _ => None,
    }
}

/// The network table: Ferrite's and Linux's figures under TCG and
/// Ferrite's rate over Linux's (above 1: Ferrite is faster; for ping,
/// Linux's round trip over Ferrite's).
pub fn net_table(ferrite: &BenchRun, linux: Option<&BenchRun>) -> String {
    let header = ["network benchmark", "Ferrite TCG", "Linux TCG", "Ferrite/Linux"];
    let rows: Vec<[String; 4]> = NET_BENCHMARKS
        .iter()
        .map(|name| {
            let ratio = match (figure_ns(ferrite, name), linux.and_then(|l| figure_ns(l, name))) {
                (Some(f), Some(l)) => format!("{:.2}x", l / f),
                _ => "-".to_string(),
            };
            [name.to_string(), net_cell(Some(ferrite), name), net_cell(linux, name), ratio]
        })
        .collect();
    render(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_of(lines: &[&str]) -> BenchRun {
        let mut run = BenchRun::default();
        for line in lines {
            run.feed(line);
        }
        run
    }

    #[test]
    fn the_page() {
        let page = small_page();
        assert_eq!(page.len(), SMALL_PAGE_LEN);
        assert!(page.starts_with(b"<!DOCTYPE html>") && page.ends_with(b"</html>\n"));
    }

    #[test]
    fn response_heads() {
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nConnection: close"),
            Some(Head { status: 200, length: Some(1024), close: true })
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 404 Not Found\r\ncontent-length:10\r\nConnection: Keep-Alive"),
            Some(Head { status: 404, length: Some(10), close: false })
        );
        assert_eq!(parse_head(b"HTTP/1.0 200 OK"), Some(Head { status: 200, length: None, close: true }));
        assert_eq!(
            parse_head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive"),
            Some(Head { status: 200, length: None, close: false })
        );
        assert_eq!(parse_head(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: lots"), None);
    }

    #[test]
    fn requests() {
        assert_eq!(request(false), "GET /small.html HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
        assert!(request(true).contains("Connection: keep-alive\r\n"));
    }

    #[test]
    fn rates() {
        // 1 MiB in 10 ms: 104.9 MB/s; a connection in 2 ms: 500/s.
        assert!((net_rate("net_tcp_guest_to_host", 10_000_000.0) - 104.8576).abs() < 1e-9);
        assert!((net_rate("net_tcp_host_to_guest", 10_000_000.0) - 104.8576).abs() < 1e-9);
        assert!((net_rate("net_tcp_connect", 2_000_000.0) - 500.0).abs() < 1e-9);
        assert!((net_rate("net_http_keepalive", 250_000.0) - 4000.0).abs() < 1e-9);
        assert_eq!(net_rate("net_ping", 0.0), 0.0);
    }

    #[test]
    fn the_network_table() {
        let ferrite = run_of(&[
            "bench net_ping: 812345.6 ns/op (20 iterations)",
            "bench net_tcp_connect: 2000000.0 ns/op (200 iterations)",
            "bench net_tcp_host_to_guest: failed: read after 5 bytes: ECONNRESET",
            "bench done",
        ]);
        let mut ferrite = ferrite;
        ferrite
            .figures
            .insert("net_tcp_guest_to_host".into(), Figure::Measured { ns_per_op: 20_971_520.0, iterations: 64 });
        ferrite.figures.insert("net_http_close".into(), Figure::Measured { ns_per_op: 4_000_000.0, iterations: 300 });
        let linux = run_of(&[
            "bench net_ping: 406172.8 ns/op (20 iterations)",
            "bench net_tcp_connect: 1000000.0 ns/op (200 iterations)",
            "bench net_tcp_guest_to_host: 10485760.0 ns/op (64 iterations)",
            "bench net_http_close: 8000000.0 ns/op (300 iterations)",
        ]);
        let text = net_table(&ferrite, Some(&linux));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + NET_BENCHMARKS.len());
        assert_eq!(lines[0], "network benchmark     |           Ferrite TCG |               Linux TCG | Ferrite/Linux");
        assert_eq!(lines[1], "----------------------+-----------------------+-------------------------+--------------");
        assert_eq!(lines[2], "net_tcp_guest_to_host |             50.0 MB/s |              100.0 MB/s |         0.50x");
        assert_eq!(lines[3], "net_tcp_host_to_guest |                failed |                       - |             -");
        assert_eq!(lines[4], "net_tcp_connect       | 500 conn/s (2,000 us) | 1,000 conn/s (1,000 us) |         0.50x");
        assert_eq!(lines[5], "net_http_close        |  250 req/s (4,000 us) |    125 req/s (8,000 us) |         2.00x");
        assert_eq!(lines[6], "net_http_keepalive    |                     - |                       - |             -");
        assert_eq!(lines[7], "net_ping              |                812 us |                  406 us |         0.50x");
        let alone = net_table(&ferrite, None);
        assert!(alone.lines().nth(7).unwrap().ends_with("812 us |         - |             -"), "{alone}");
    }
}
