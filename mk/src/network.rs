//! The network test (README "Network"): boot the normal image with its
//! card on QEMU's user network and a host port forwarded to the guest's
//! port 80, and check what crosses it. The peers run here, bound to
//! 127.0.0.1 only, on ports chosen free at run time (two test runs on one
//! machine do not collide), every loop bounded in count and time:
//!
//! - the guest pings the host (10.0.2.2, QEMU's side);
//! - guest → host: `get` fetches [`BIG`] bytes (BIOS; [`SMALLER`] on UEFI) of random data from an HTTP
//!   server here, and `nc` sends the file back to a sink here, which must
//!   receive exactly those bytes;
//! - `get` from a port nothing listens on says `Connection refused`;
//! - UDP: `nc -u` sends a datagram to an echo server here and prints the
//!   answer; a datagram sent here to a forwarded UDP port reaches `nc -u -l`
//!   in the guest;
//! - host → guest: the guest serves `file:/` with `httpd`; the big file
//!   comes back identical through the forward, a missing page is a 404,
//!   `/` a listing, a directory with an `index.html` that page, a `HEAD`
//!   the head alone, and [`CONCURRENT`] connections at once are all answered; after them
//!   netd holds no more TCP sockets than before.
//!
//! May touch: the guest it boots, its own listeners and connections.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::guest::Guest;
use crate::hostile::{self, Peer};
use crate::qemu::{Firmware, Forward, Nic};
use crate::session;
use crate::workspace::Workspace;

/// The file moved each way: 16 MiB on one firmware, a quarter of it on the
/// other (each 16 MiB takes over a minute in the debug build, and the
/// whole suite must stay within CI's 40 minutes).
pub const BIG: usize = 16 << 20;
pub const SMALLER: usize = BIG / 4;
/// What the `/cut.bin` download and the rude sink take before they hang up.
const CUT: usize = 256 * 1024;
/// The pace of `/slow.bin` and of [`slow_sink`]: 64 KiB every 100 ms, so
/// 16 MiB take about 26 s.
const PACE: usize = 64 * 1024;
const PACE_GAP: Duration = Duration::from_millis(100);
/// Connections made to the guest's `httpd` at once.
pub const CONCURRENT: usize = 200;
/// How long the boot to the prompt, and a whole transfer, may take.
const PROMPT_WITHIN: Duration = Duration::from_secs(120);
const TRANSFER_WITHIN: Duration = Duration::from_secs(240);
/// How long netd may take to get its lease.
const LEASE_WITHIN: Duration = Duration::from_secs(30);
/// How long one connection to the guest may stay silent.
const SILENCE: Duration = Duration::from_secs(60);
/// How long `/silent.bin` sends nothing after its head, and the read
/// timeout `get -w` is given for it (the download must end long before).
const SILENT_FOR: Duration = Duration::from_secs(20);
const GET_WAIT_SECS: u64 = 2;
/// How much netd's heap may grow while a client does not read (its
/// connection's buffers are 104 KiB).
const STALL_GROWTH: usize = 512 << 10;
/// How much more heap netd may hold after the connections than before
/// them (its socket table keeps the room it grew to).
const HEAP_SLACK: usize = 256 << 10;
/// How long DNS on the flooded card may take to come back.
const DNS_BACK_WITHIN: Duration = Duration::from_secs(60);
/// How long closed connections may take to leave netd.
const SOCKETS_BACK_WITHIN: Duration = Duration::from_secs(60);
/// Clients of [`hang_ups`], and how soon their sockets must be gone (a
/// third of `netd`'s deadline for a closed connection to finish).
const HANG_UPS: usize = 50;
const HANG_UPS_GONE_WITHIN: Duration = Duration::from_secs(10);

/// A free port on 127.0.0.1 (bound and let go: QEMU takes it next).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// A free UDP port on 127.0.0.1.
fn free_udp_port() -> Result<u16, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0 (UDP): {e}"))?;
    socket.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The guest's UDP port the host's forwarded UDP port reaches.
const UDP_GUEST_PORT: u16 = 7000;

/// Random bytes (xorshift; the same every run).
fn random_bytes(len: usize) -> Vec<u8> {
    let mut rng = xorshift::Rng::new(0x006e_6574_776f_726b);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Read an HTTP request head (at most 16 KiB); its path.
fn request_path(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    let text = String::from_utf8_lossy(&head);
    text.split_whitespace().nth(1).map(String::from)
}

/// An HTTP server on `listener` that gives `body` at `/big.bin`, the same
/// paced at [`PACE`] bytes per [`PACE_GAP`] at `/slow.bin` (a transfer
/// that is sure to be under way seconds later, whatever the speed of the
/// guest's file system and network), the first [`CUT`] bytes of a
/// response four times as long at `/cut.bin` (then ends the connection),
/// a head and then nothing for [`SILENT_FOR`] at `/silent.bin`, and 404
/// elsewhere, for at most `max` connections and until `until`.
fn http_server(listener: TcpListener, body: Arc<Vec<u8>>, max: usize, until: Instant) -> JoinHandle<usize> {
    thread::spawn(move || {
        let _ = listener.set_nonblocking(true);
        let mut served = 0;
        while served < max && Instant::now() < until {
            let conn = match listener.accept() {
                Ok((conn, _)) => conn,
                Err(_) => {
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            served += 1;
            // A thread each: a client that stops reading (or dies) holds
            // up only its own connection.
            let body = body.clone();
            thread::spawn(move || answer_http(conn, &body));
        }
        served
    })
}

fn answer_http(mut conn: TcpStream, body: &[u8]) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(SILENCE));
    let _ = conn.set_write_timeout(Some(SILENCE));
    let response = match request_path(&mut conn).as_deref() {
        // Promises a megabyte, sends a quarter, hangs up.
        Some("/cut.bin") => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", CUT * 4);
            conn.write_all(head.as_bytes()).and_then(|()| conn.write_all(&body[..CUT]))
        }
        Some("/big.bin") => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            conn.write_all(head.as_bytes()).and_then(|()| conn.write_all(body))
        }
        // Promises a body, then keeps the connection open without a word.
        Some("/silent.bin") => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            conn.write_all(head.as_bytes()).map(|()| thread::sleep(SILENT_FOR))
        }
        // Bounded by the body's chunks; a write fails once the client is gone.
        Some("/slow.bin") => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            conn.write_all(head.as_bytes()).and_then(|()| {
                body.chunks(PACE).try_for_each(|chunk| {
                    thread::sleep(PACE_GAP);
                    conn.write_all(chunk)
                })
            })
        }
        _ => conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n"),
    };
    let _ = response.and_then(|()| conn.shutdown(Shutdown::Write));
}

/// The first connection to `listener` by `until`, blocking, its reads
/// bounded by [`SILENCE`].
fn accept_first(listener: &TcpListener, until: Instant) -> Result<TcpStream, String> {
    let _ = listener.set_nonblocking(true);
    let conn = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(_) if Instant::now() < until => thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("nobody connected to the sink ({e})")),
        }
    };
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(SILENCE));
    Ok(conn)
}

/// A sink that takes [`CUT`] bytes of the first connection to `listener`,
/// then closes it with the rest unread (so the host's kernel resets it).
fn rude_sink(listener: TcpListener, until: Instant) -> JoinHandle<usize> {
    thread::spawn(move || {
        let Ok(mut conn) = accept_first(&listener, until) else { return 0 };
        let mut got = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while got < CUT && Instant::now() < until {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        // Let more arrive unread: closing then makes a reset.
        thread::sleep(Duration::from_millis(500));
        got
    })
}

/// A sink: the bytes of the first connection to `listener` (at most
/// `limit`), until its sender ends it or `until`.
fn sink(listener: TcpListener, limit: usize, until: Instant) -> JoinHandle<Result<Vec<u8>, String>> {
    thread::spawn(move || {
        let mut conn = accept_first(&listener, until)?;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while got.len() <= limit && Instant::now() < until {
            match conn.read(&mut buf) {
                Ok(0) => return Ok(got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return Err(format!("the sink's connection failed after {} bytes: {e}", got.len())),
            }
        }
        Err(format!("the sink stopped at {} bytes (limit or time)", got.len()))
    })
}

/// A sink that takes the first connection to `listener` slowly ([`PACE`]
/// bytes per [`PACE_GAP`]), so the sender is still sending seconds later,
/// until it ends, fails, `limit` bytes came or `until`.
fn slow_sink(listener: TcpListener, limit: usize, until: Instant) -> JoinHandle<usize> {
    thread::spawn(move || {
        let Ok(mut conn) = accept_first(&listener, until) else { return 0 };
        let mut got = 0;
        let mut buf = vec![0u8; PACE];
        while got <= limit && Instant::now() < until {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
            thread::sleep(PACE_GAP);
        }
        got
    })
}

/// `GET path` through the forward: the status and the body.
fn fetch(port: u16, path: &str) -> Result<(u16, Vec<u8>), String> {
    request(port, "GET", path).map(|(status, _, body)| (status, body))
}

/// Clients that hang up as soon as they have the page, before the
/// server's FIN (as browsers and `curl` do): both FINs cross, QEMU's user
/// network never acknowledges the guest's, and `netd` must not keep such
/// sockets until their 30-second deadline (smoltcp visits every socket on
/// every poll: 250 of them made each frame cost 100,000 instructions).
/// `netd` must be back to `before` TCP sockets within [`HANG_UPS_GONE_WITHIN`].
fn hang_ups(guest: &mut Guest, addr: &std::net::SocketAddr, before: usize) -> Result<String, String> {
    for n in 0..HANG_UPS {
        let mut conn = TcpStream::connect_timeout(addr, SILENCE).map_err(|e| format!("hang-up client {n}: {e}"))?;
        conn.set_read_timeout(Some(SILENCE)).map_err(|e| e.to_string())?;
        conn.write_all(b"GET /net-hello.txt HTTP/1.1\r\nHost: ferrite\r\nConnection: close\r\n\r\n")
            .map_err(|e| format!("hang-up client {n}'s request: {e}"))?;
        let mut response = Vec::new();
        let mut buf = [0u8; 512];
        while !response.ends_with(b"\r\n\r\nhello from ferrite\n") && response.len() < 4096 {
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => response.extend_from_slice(&buf[..k]),
                Err(e) => return Err(format!("hang-up client {n}: {e} after {} bytes", response.len())),
            }
        }
        if !response.ends_with(b"\r\n\r\nhello from ferrite\n") {
            return Err(format!("hang-up client {n} got {:?}", String::from_utf8_lossy(&response)));
        }
    }
    let started = Instant::now();
    let mut left = tcp_sockets(guest)?;
    while left > before && started.elapsed() < HANG_UPS_GONE_WITHIN {
        thread::sleep(Duration::from_secs(1));
        left = tcp_sockets(guest)?;
    }
    if left > before {
        return Err(format!(
            "netd holds {left} TCP sockets {} s after {HANG_UPS} clients hung up before its FIN, {before} before",
            started.elapsed().as_secs()
        ));
    }
    Ok(format!("{HANG_UPS} clients hanging up before the server's FIN left no socket behind"))
}

/// `METHOD path` through the forward: the status, the head and the body.
fn request(port: u16, method: &str, path: &str) -> Result<(u16, String, Vec<u8>), String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut conn = TcpStream::connect_timeout(&addr, SILENCE).map_err(|e| format!("connecting: {e}"))?;
    conn.set_read_timeout(Some(SILENCE)).map_err(|e| e.to_string())?;
    conn.write_all(format!("{method} {path} HTTP/1.1\r\nHost: ferrite\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response).map_err(|e| format!("reading after {} bytes: {e}", response.len()))?;
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no response head")?;
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or(format!("bad head {head:?}"))?;
    Ok((status, head, response[end + 4..].to_vec()))
}

/// A UDP echo server on `socket`: at most `max` datagrams, until `until`.
fn udp_echo(socket: UdpSocket, max: usize, until: Instant) -> JoinHandle<usize> {
    thread::spawn(move || {
        let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
        let mut echoed = 0;
        let mut buf = [0u8; 2048];
        while echoed < max && Instant::now() < until {
            if let Ok((n, from)) = socket.recv_from(&mut buf)
                && socket.send_to(&buf[..n], from).is_ok()
            {
                echoed += 1;
            }
        }
        echoed
    })
}

/// Run `command` in the guest's shell; its output lines, or why not.
fn run(guest: &mut Guest, command: &str, within: Duration) -> Result<Vec<String>, String> {
    let output = session::run_command_within(guest, command, false, within)?;
    if !output.prompt_back {
        return Err(format!("`{command}` did not finish in {} s: {:?}", within.as_secs(), output.lines));
    }
    Ok(output.lines)
}

/// What netd says in `log:` when DHCP gave eth0 its address.
const LEASED: &str = "netd: eth0: 10.0.2.15/24 by DHCP";

/// How many times netd has said in `log:` that it got its lease.
fn leases(guest: &mut Guest) -> Result<usize, String> {
    Ok(run(guest, "cat log:", Duration::from_secs(30))?.iter().filter(|l| l.contains(LEASED)).count())
}

/// Waits until netd has said `count` times that it got its lease
/// (polling `log:` each second); whether it did within `within`.
fn wait_for_leases(guest: &mut Guest, count: usize, within: Duration) -> Result<bool, String> {
    let deadline = Instant::now() + within;
    loop {
        if leases(guest)? >= count {
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
        thread::sleep(Duration::from_secs(1));
    }
}

/// `tcp_sockets` in `netcfg:eth0`.
fn tcp_sockets(guest: &mut Guest) -> Result<usize, String> {
    let lines = run(guest, "cat netcfg:eth0", Duration::from_secs(30))?;
    counter(&lines, "tcp_sockets")
        .map(|n| n as usize)
        .ok_or_else(|| format!("netcfg:eth0 shows no tcp_sockets: {lines:?}"))
}

/// Boot `image`, run every check, power off. The note says what was
/// moved and how fast.
/// With `deep`, the machine also has a second card on a wire mk plays
/// (mk/src/hostile.rs: DNS, hand-made TCP, hostile frames), and the
/// daemons are killed during transfers.
pub fn check(
    ws: &Workspace,
    image: &Path,
    firmware: Option<&Firmware>,
    log: &Path,
    big: usize,
    deep: bool,
) -> Result<String, String> {
    let forward = Forward { host: free_port()?, guest: 80 };
    let udp = Forward { host: free_udp_port()?, guest: UDP_GUEST_PORT };
    let mut peer = None;
    let mut wire = None;
    if deep {
        let (p, w) = Peer::start(Instant::now() + PROMPT_WITHIN + TRANSFER_WITHIN * 6)?;
        peer = Some(p);
        wire = Some(w);
    }
    let nic = Nic::VirtioWithUdp { tcp: forward, udp, wire };
    let cmd = crate::check::test_qemu_command_nic(ws, image, firmware, crate::check::SMP, true, nic);
    let mut guest = Guest::spawn(cmd, log)?;
    let result = exercise(&mut guest, forward, udp, big, peer.as_mut());
    let _ = session::run_command(&mut guest, "poweroff", false);
    guest.kill();
    result
}

/// netd's heap in use (`netcfg:memory`: small allocations and large
/// buffers), in bytes.
fn netd_heap(guest: &mut Guest) -> Result<usize, String> {
    let lines = run(guest, "cat netcfg:memory", Duration::from_secs(30))?;
    match (counter(&lines, "heap_used"), counter(&lines, "heap_large")) {
        (Some(used), Some(large)) => Ok((used + large) as usize),
        _ => Err(format!("netcfg:memory shows no heap_used and heap_large: {lines:?}")),
    }
}

fn exercise(
    guest: &mut Guest,
    forward: Forward,
    udp: Forward,
    big_len: usize,
    peer: Option<&mut Peer>,
) -> Result<String, String> {
    session::wait_for_prompt(guest, PROMPT_WITHIN)?;
    if !wait_for_leases(guest, 1, LEASE_WITHIN)? {
        return Err(String::from("netd never said in log: that it got 10.0.2.15/24 by DHCP"));
    }
    // Ping.
    let lines = run(guest, "ping -c 2 -i 0.2 10.0.2.2", Duration::from_secs(30))?;
    if !lines.iter().any(|l| l.contains("2 packets transmitted, 2 received")) {
        return Err(format!("ping 10.0.2.2: {lines:?}"));
    }
    // UDP: an echo from here, then a datagram from here to the guest.
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let echo_port = socket.local_addr().map_err(|e| e.to_string())?.port();
    let echo = udp_echo(socket, 16, Instant::now() + Duration::from_secs(60));
    let lines = run(guest, &format!("echo ping over udp | nc -u -w 3 10.0.2.2 {echo_port}"), Duration::from_secs(30))?;
    if !lines.iter().any(|l| l.trim() == "ping over udp") || echo.join().unwrap_or(0) == 0 {
        return Err(format!("UDP echo from 127.0.0.1:{echo_port}: {lines:?}"));
    }
    let listen = format!("nc -u -w 3 -l {} < null: > file:/net-udp.txt &", udp.guest);
    run(guest, &listen, Duration::from_secs(30))?;
    let sender = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    for _ in 0..10 {
        let _ = sender.send_to(b"hello over udp\n", ("127.0.0.1", udp.host));
        thread::sleep(Duration::from_millis(200));
    }
    // nc ends 3 s after the last datagram.
    thread::sleep(Duration::from_secs(4));
    let lines = run(guest, "cat file:/net-udp.txt", Duration::from_secs(30))?;
    if !lines.iter().any(|l| l.trim() == "hello over udp") {
        return Err(format!("datagrams to 127.0.0.1:{} (guest port {}): the guest got {lines:?}", udp.host, udp.guest));
    }
    // Guest → host: download, then upload the same bytes.
    let body = Arc::new(random_bytes(big_len));
    let deadline = Instant::now() + TRANSFER_WITHIN * 3;
    let http = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let http_port = http.local_addr().map_err(|e| e.to_string())?.port();
    let server = http_server(http, body.clone(), 8, deadline);
    let started = Instant::now();
    let get = format!("get http://10.0.2.2:{http_port}/big.bin > file:/net-big.bin; wc -c file:/net-big.bin");
    let lines = run(guest, &get, TRANSFER_WITHIN)?;
    let down = started.elapsed();
    if !lines.iter().any(|l| l.trim() == format!("{big_len} file:/net-big.bin")) {
        return Err(format!("`{get}`: {lines:?}"));
    }
    let lines = run(guest, &format!("get http://10.0.2.2:{http_port}/nope"), Duration::from_secs(30))?;
    if !lines.iter().any(|l| l.contains(&format!("get: http://10.0.2.2:{http_port}/nope: 404 Not Found"))) {
        return Err(format!("get of a missing page: {lines:?}"));
    }
    let closed = free_port()?;
    let lines = run(guest, &format!("get http://10.0.2.2:{closed}/"), Duration::from_secs(30))?;
    if !lines.iter().any(|l| l.contains(&format!("get: http://10.0.2.2:{closed}/: Connection refused"))) {
        return Err(format!("get from a closed port: {lines:?}"));
    }
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let sink_port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let receiver = sink(listener, big_len * 2, Instant::now() + TRANSFER_WITHIN);
    let started = Instant::now();
    run(guest, &format!("nc 10.0.2.2 {sink_port} < file:/net-big.bin"), TRANSFER_WITHIN)?;
    let received = receiver.join().map_err(|_| "the sink thread panicked")??;
    let up = started.elapsed();
    if received.len() != big_len || received[..] != body[..] {
        let first = received.iter().zip(body.iter()).position(|(a, b)| a != b);
        return Err(format!(
            "the sink got {} bytes, not the {big_len} sent (first difference at {first:?})",
            received.len()
        ));
    }
    // Connections that end midway: a download the server cuts short, an
    // upload the receiver resets. Each gives its program a clean error.
    let cut = format!("get http://10.0.2.2:{http_port}/cut.bin > null:");
    let lines = run(guest, &cut, Duration::from_secs(60))?;
    let want = format!("the connection ended after {CUT} of {} bytes", CUT * 4);
    if !lines.iter().any(|l| l.starts_with(&format!("get: http://10.0.2.2:{http_port}/cut.bin: {want}"))) {
        return Err(format!("`{cut}` (the server hangs up after {CUT} bytes): {lines:?}"));
    }
    // A server that goes silent: `get -w` gives up on it.
    let silent = format!("get -w {GET_WAIT_SECS} http://10.0.2.2:{http_port}/silent.bin > null:");
    let started = Instant::now();
    let lines = run(guest, &silent, SILENT_FOR)?;
    let gave_up = started.elapsed();
    let want = format!("get: http://10.0.2.2:{http_port}/silent.bin: Connection timed out");
    if !lines.iter().any(|l| l.contains(&want)) || gave_up >= SILENT_FOR {
        return Err(format!("`{silent}` (the server goes silent after the head): {lines:?} after {gave_up:?}"));
    }
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let rude_port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let rude = rude_sink(listener, Instant::now() + TRANSFER_WITHIN);
    let reset = format!("nc 10.0.2.2 {rude_port} < file:/net-big.bin");
    let lines = run(guest, &reset, TRANSFER_WITHIN)?;
    let took = rude.join().unwrap_or(0);
    let reset_said = lines.iter().find(|l| l.starts_with(&format!("nc: 10.0.2.2:{rude_port}: "))).cloned();
    let Some(reset_said) = reset_said else {
        return Err(format!("`{reset}` (reset after {took} bytes) said no error: {lines:?}"));
    };
    let kills = match peer {
        Some(_) => Some((http_port, server)),
        None => {
            drop(server);
            None
        }
    };
    // Host → guest through the forward.
    run(guest, "echo hello from ferrite > file:/net-hello.txt", Duration::from_secs(30))?;
    // (Already there if the data disk was used before: that is fine.)
    run(guest, "mkdir file:/net-site", Duration::from_secs(30))?;
    run(guest, "echo '<p>a site on ferrite</p>' > file:/net-site/index.html", Duration::from_secs(30))?;
    // Its log goes to a file: lines printed after the prompt would hide it.
    run(guest, "httpd file:/ > file:/net-httpd.log &", Duration::from_secs(30))?;
    let port = forward.host;
    let ready = (0..50).any(|_| {
        thread::sleep(Duration::from_millis(200));
        fetch(port, "/net-hello.txt").is_ok_and(|(status, _)| status == 200)
    });
    if !ready {
        return Err(format!("httpd never answered on 127.0.0.1:{port}"));
    }
    let before = tcp_sockets(guest)?;
    let started = Instant::now();
    let (status, big) = fetch(port, "/net-big.bin")?;
    let served = started.elapsed();
    if status != 200 || big.len() != big_len || big[..] != body[..] {
        return Err(format!(
            "GET /net-big.bin: status {status}, {} bytes, same bytes: {}",
            big.len(),
            big[..] == body[..]
        ));
    }
    let (status, _) = fetch(port, "/no-such-page")?;
    if status != 404 {
        return Err(format!("GET /no-such-page: status {status}, not 404"));
    }
    let (status, listing) = fetch(port, "/")?;
    if status != 200 || !String::from_utf8_lossy(&listing).contains("net-hello.txt") {
        return Err(format!("GET /: status {status}: {}", String::from_utf8_lossy(&listing)));
    }
    // HEAD: the head a GET would have, no body.
    let (status, head, body) = request(port, "HEAD", "/net-hello.txt")?;
    if status != 200 || !head.contains("Content-Length: 19\r\n") || !body.is_empty() {
        return Err(format!("HEAD /net-hello.txt: status {status}, head {head:?}, {} bytes of body", body.len()));
    }
    // A directory with an index.html is served as that page, with or
    // without the slash.
    for path in ["/net-site/", "/net-site"] {
        let (status, page) = fetch(port, path)?;
        if status != 200 || page != b"<p>a site on ferrite</p>\n" {
            return Err(format!("GET {path}: status {status}: {:?}", String::from_utf8_lossy(&page)));
        }
    }
    // A client that asks for the big file and never reads: netd holds no
    // more than its buffers for it, and serves others meanwhile.
    let heap_unstalled = netd_heap(guest)?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stalled = TcpStream::connect_timeout(&addr, SILENCE).map_err(|e| format!("the stalled client: {e}"))?;
    stalled
        .write_all(b"GET /net-big.bin HTTP/1.1\r\nHost: ferrite\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("the stalled client's request: {e}"))?;
    thread::sleep(Duration::from_secs(5));
    let (status, _) = fetch(port, "/net-hello.txt")?;
    let heap_stalled = netd_heap(guest)?;
    if status != 200 || heap_stalled > heap_unstalled + STALL_GROWTH {
        return Err(format!(
            "with a client not reading: status {status}, netd's heap {heap_stalled} bytes ({heap_unstalled} before)"
        ));
    }
    drop(stalled);
    // Many at once: open them all first (one after another, as QEMU's
    // user network takes them from its host socket with a backlog of one),
    // so the guest holds every one open, then send every request, then
    // read every answer.
    let heap_before = netd_heap(guest)?;
    let started = Instant::now();
    let mut conns = Vec::with_capacity(CONCURRENT);
    for n in 0..CONCURRENT {
        let conn = TcpStream::connect_timeout(&addr, SILENCE).map_err(|e| format!("connection {n}: {e}"))?;
        conn.set_read_timeout(Some(SILENCE)).map_err(|e| e.to_string())?;
        conns.push(conn);
        thread::sleep(Duration::from_millis(2));
    }
    let open = tcp_sockets(guest)?;
    let heap_open = netd_heap(guest)?;
    for (n, conn) in conns.iter_mut().enumerate() {
        conn.write_all(b"GET /net-hello.txt HTTP/1.1\r\nHost: ferrite\r\nConnection: close\r\n\r\n")
            .map_err(|e| format!("request {n}: {e}"))?;
    }
    let mut answered = 0;
    let mut failures = Vec::new();
    for (n, mut conn) in conns.into_iter().enumerate() {
        let mut response = Vec::new();
        match conn.read_to_end(&mut response) {
            Ok(_) if response.starts_with(b"HTTP/1.1 200") && response.ends_with(b"\r\n\r\nhello from ferrite\n") => {
                answered += 1
            }
            Ok(_) => failures.push(format!("{n}: {:?}", String::from_utf8_lossy(&response))),
            Err(e) => failures.push(format!("{n}: {e} after {} bytes", response.len())),
        }
    }
    let many = started.elapsed();
    if answered != CONCURRENT {
        failures.truncate(5);
        // What netd counted (SYNs dropped, half-open connections given
        // up, sockets) and what was said in log:, so one failure says why.
        let counters = run(guest, "cat netcfg:eth0", Duration::from_secs(30)).unwrap_or_default();
        let said = run(guest, "tail -n 8 log:", Duration::from_secs(30)).unwrap_or_default();
        return Err(format!(
            "{answered} of {CONCURRENT} connections answered in {:.1} s; e.g. {failures:?}; netcfg:eth0 then: \
             {counters:?}; log: then: {said:?}",
            started.elapsed().as_secs_f64()
        ));
    }
    let deadline = Instant::now() + SOCKETS_BACK_WITHIN;
    let mut after = tcp_sockets(guest)?;
    while after > before && Instant::now() < deadline {
        thread::sleep(Duration::from_secs(2));
        after = tcp_sockets(guest)?;
    }
    if after > before {
        return Err(format!("netd holds {after} TCP sockets after the {CONCURRENT} connections, {before} before"));
    }
    let heap_after = netd_heap(guest)?;
    if heap_after > heap_before + HEAP_SLACK {
        return Err(format!(
            "netd's heap is {heap_after} bytes after the {CONCURRENT} connections, {heap_before} before (allowed \
             {HEAP_SLACK} more)"
        ));
    }
    let hang_ups = hang_ups(guest, &addr, before)?;
    let kib = |b: usize| b >> 10;
    let mut deep = String::new();
    if let (Some(peer), Some((http_port, server))) = (peer, kills) {
        deep = wire_checks(guest, peer, port)?;
        deep.push_str(&kill_during_transfers(guest, http_port)?);
        drop(server);
    }
    let rate = |d: Duration| big_len as f64 / d.as_secs_f64() / (1 << 20) as f64;
    let mib = big_len >> 20;
    Ok(format!(
        "ping; UDP both ways; {mib} MiB down with get ({:.1} MiB/s), back up with nc ({:.1} MiB/s) and out of httpd ({:.1} MiB/s), \
         identical; 404 and refused reported; a cut download and a reset upload reported ({reset_said:?}); a \
         client not reading for 5 s: netd's heap {} KiB, {} KiB before; {CONCURRENT} connections open at once \
         ({open} TCP sockets in netd, heap {} KiB), all answered in {:.1} s; {before} TCP sockets before and after, \
         heap {} KiB before, {} KiB after; {hang_ups}{deep}",
        rate(down),
        rate(up),
        rate(served),
        kib(heap_stalled),
        kib(heap_unstalled),
        kib(heap_open),
        many.as_secs_f64(),
        kib(heap_before),
        kib(heap_after),
    ))
}

/// The value of `name` in `name value` lines (`netcfg:ethN`,
/// `netcfg:memory`, `network:N/stats`).
fn counter(lines: &[String], name: &str) -> Option<u64> {
    lines.iter().find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The second card, on the wire mk plays: DNS from mk's server, a TCP
/// stream in overlapping pieces, then the hostile frames, after which
/// netd (the same process) still serves both cards. `port` is the host's
/// forward to the guest's `httpd` (port 80, the SYN flood's target).
fn wire_checks(guest: &mut Guest, peer: &mut Peer, port: u16) -> Result<String, String> {
    let within = Duration::from_secs(30);
    run(guest, "echo 10.0.3.15/24 > netcfg:eth1/address", within)?;
    // DNS: the guest told to ask mk.
    run(guest, "echo 10.0.3.2 > netcfg:dns", within)?;
    let lookup = |guest: &mut Guest| -> Result<(), String> {
        let lines = run(guest, &format!("host {}", hostile::NAME), within)?;
        let [a, b, c, d] = hostile::NAME_ADDRESS;
        if !lines.iter().any(|l| l.contains(&format!("{a}.{b}.{c}.{d}"))) {
            return Err(format!("`host {}` through mk's DNS server: {lines:?}", hostile::NAME));
        }
        Ok(())
    };
    lookup(guest)?;
    let lines = run(guest, "host nosuch.example", within)?;
    if !lines.iter().any(|l| l.trim() == "host: nosuch.example: not found") {
        return Err(format!("`host nosuch.example`: {lines:?}"));
    }
    // TCP in overlapping, repeated and early pieces reaches the program
    // whole and in order.
    run(guest, "nc -l 9000 < null: > file:/wire-tcp.txt &", within)?;
    thread::sleep(Duration::from_secs(1));
    let text: String = (0..8).map(|n| format!("line {n} of the stream sent in overlapping pieces ......\n")).collect();
    let stream = peer.overlapping_stream(9000, text.as_bytes())?;
    thread::sleep(Duration::from_secs(1));
    let lines = run(guest, "cat file:/wire-tcp.txt", within)?;
    // (The shell may say first that the background `nc` is done.)
    let got: Vec<&str> = lines.iter().map(|l| l.trim_end()).filter(|l| !l.starts_with('[')).collect();
    let want: Vec<&str> = text.lines().collect();
    if got != want {
        return Err(format!("the stream sent in overlapping pieces arrived as {got:?}"));
    }
    // The hostile frames.
    let netd = crate::supervision::pid_of(guest, "netd")?;
    let before = run(guest, "cat netcfg:eth1", within)?;
    let sent = peer.flood(80);
    let total: usize = sent.iter().map(|(_, n)| n).sum();
    thread::sleep(Duration::from_secs(2));
    // A new connection through the first card right after the SYN flood:
    // the oldest half-open connections made room.
    let started = Instant::now();
    let (status, body) = fetch(port, "/net-hello.txt")?;
    let fetched = started.elapsed();
    if status != 200 || body != b"hello from ferrite\n" {
        return Err(format!(
            "after the hostile frames, GET /net-hello.txt: {status} {:?}",
            String::from_utf8_lossy(&body)
        ));
    }
    let lines = run(guest, "ping -c 2 -i 0.2 10.0.2.2", within)?;
    if !lines.iter().any(|l| l.contains("2 packets transmitted, 2 received")) {
        return Err(format!("ping 10.0.2.2 after the hostile frames: {lines:?}"));
    }
    // DNS on the flooded card: it may take a while to come back, as
    // netd keeps answering the flood's half-open connections (to
    // addresses that do not exist, so ARP for them competes with ARP for
    // mk's server) until their handshakes time out.
    let started = Instant::now();
    let mut failed = 0;
    while let Err(err) = lookup(guest) {
        failed += 1;
        if started.elapsed() > DNS_BACK_WITHIN {
            let card = run(guest, "cat netcfg:eth1", within).unwrap_or_default();
            let driver = run(guest, "cat network:1/stats", within).unwrap_or_default();
            return Err(format!(
                "DNS on the flooded card not back in {} s: {err}; netcfg:eth1 {card:?}; network:1/stats {driver:?}",
                DNS_BACK_WITHIN.as_secs()
            ));
        }
        thread::sleep(Duration::from_secs(1));
    }
    let dns_back = started.elapsed();
    let after = run(guest, "cat netcfg:eth1", within)?;
    let delta = |name: &str| counter(&after, name).unwrap_or(0).saturating_sub(counter(&before, name).unwrap_or(0));
    let now = crate::supervision::pid_of(guest, "netd")?;
    if now != netd {
        return Err(format!("netd was pid {netd} before the hostile frames and is {now} after"));
    }
    let taken = delta("rx_frames");
    let stats = run(guest, "cat network:1/stats", within)?;
    if taken < 1000 {
        return Err(format!(
            "netd took {taken} of the {total} hostile frames (at least 1,000 wanted): {after:?}; the driver: {stats:?}"
        ));
    }
    let driver_dropped = counter(&stats, "rx_dropped").unwrap_or(0);
    // Every hostile frame with a wrong TCP or UDP checksum that reached
    // netd was dropped for it (all of them when the driver dropped none);
    // and every frame the guest sent had right ones.
    let bad_checksums = delta("rx_bad_checksum");
    let bad_sent = peer.counts.bad_checksums_sent.load(std::sync::atomic::Ordering::Relaxed);
    if bad_checksums > bad_sent || bad_checksums == 0 || (driver_dropped == 0 && bad_checksums != bad_sent) {
        return Err(format!(
            "netd dropped {bad_checksums} frames for a wrong checksum of the {bad_sent} hostile frames with one \
             ({driver_dropped} dropped by the driver): {after:?}"
        ));
    }
    let bad_received = peer.counts.bad_checksums_received.load(std::sync::atomic::Ordering::Relaxed);
    if bad_received != 0 {
        return Err(format!("the guest sent {bad_received} TCP or UDP frames with wrong checksums on the second card"));
    }
    // `ifconfig` shows both cards and the same counters.
    let shown = run(guest, "ifconfig", within)?;
    let wanted = [
        String::from("inet 10.0.2.15/24 (dhcp)  gateway 10.0.2.2"),
        String::from("inet 10.0.3.15/24 (static)"),
        format!("bad checksums {}", counter(&after, "rx_bad_checksum").unwrap_or(0)),
    ];
    if let Some(missing) = wanted.iter().find(|w| !shown.iter().any(|l| l.contains(w.as_str()))) {
        return Err(format!("`ifconfig` does not show `{missing}`: {shown:?}"));
    }
    run(guest, "echo 10.0.2.3 > netcfg:dns", within)?;
    let kinds: Vec<String> = sent.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
    Ok(format!(
        "; second card: {} resolved by mk's DNS server and an unknown name refused; {stream}, arrived whole; \
         {total} hostile frames ({}), {taken} taken by netd ({driver_dropped} dropped by the driver while netd \
         was busy; {bad_checksums} of {bad_sent} with wrong TCP or UDP checksums dropped by netd for it; {} \
         half-open connections \
         dropped for new ones), \
         then netd (the same pid) served a page in {:.1} s, a ping, and DNS again after {:.1} s ({failed} lookups \
         failed first), `ifconfig` showing both cards and that count; mk's end answered {} ARP requests and {} \
         DNS queries",
        hostile::NAME,
        kinds.join(", "),
        delta("half_open_dropped"),
        fetched.as_secs_f64(),
        dns_back.as_secs_f64(),
        peer.counts.arp_answered.load(std::sync::atomic::Ordering::Relaxed),
        peer.counts.dns_answered.load(std::sync::atomic::Ordering::Relaxed),
    ))
}

/// Kill netd during a download, then the card's driver during an upload
/// (both paced by mk's end, so they are under way at the kill):
/// each interrupted program reports an error, netd comes back (init),
/// and a new connection works.
fn kill_during_transfers(guest: &mut Guest, http_port: u16) -> Result<String, String> {
    let within = Duration::from_secs(30);
    let mut notes = Vec::new();
    for (daemon, start) in [
        ("netd", format!("get http://10.0.2.2:{http_port}/slow.bin > file:/net-killed.bin 2> file:/net-killed.err &")),
        ("virtio-netd", String::from("nc 10.0.2.2 9 < file:/net-big.bin > null: 2> file:/net-killed.err &")),
    ] {
        run(guest, "rm file:/net-killed.err", within).ok();
        let mut receiver = None;
        let mut start = start;
        if daemon == "virtio-netd" {
            let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let sink_port = listener.local_addr().map_err(|e| e.to_string())?.port();
            receiver = Some(slow_sink(listener, BIG * 2, Instant::now() + TRANSFER_WITHIN));
            start = start.replace("10.0.2.2 9 ", &format!("10.0.2.2 {sink_port} "));
        }
        run(guest, &start, within)?;
        thread::sleep(Duration::from_secs(3));
        let pid = crate::supervision::pid_of(guest, daemon)?;
        let before = leases(guest)?;
        run(guest, &format!("kill -KILL {pid}"), within)?;
        if !wait_for_leases(guest, before + 1, Duration::from_secs(60))? {
            return Err(format!("after {daemon} (pid {pid}) was killed, netd never got its lease again"));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let said = loop {
            let lines = run(guest, "cat file:/net-killed.err", within).unwrap_or_default();
            if let Some(line) = lines.iter().find(|l| l.starts_with("get: ") || l.starts_with("nc: ")) {
                break line.trim().to_string();
            }
            if Instant::now() > deadline {
                return Err(format!("`{start}` said nothing within 60 s of {daemon}'s kill: {lines:?}"));
            }
            thread::sleep(Duration::from_secs(1));
        };
        drop(receiver);
        // A new connection: the short download's error is the whole
        // exchange working.
        let cut = format!("get http://10.0.2.2:{http_port}/cut.bin > null:");
        let lines = run(guest, &cut, Duration::from_secs(60))?;
        if !lines.iter().any(|l| l.contains("the connection ended after")) {
            return Err(format!("after {daemon}'s kill, `{cut}`: {lines:?}"));
        }
        notes.push(format!("{daemon} killed during a transfer: {said:?}, back, new connections work"));
    }
    Ok(format!("; {}", notes.join("; ")))
}
