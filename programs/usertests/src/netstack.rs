//! `netd`, the TCP/IP daemon (README "Network"), on the card the
//! self-test machine attaches (QEMU's user-mode network: the host and
//! gateway 10.0.2.2, its DNS 10.0.2.3, the guest 10.0.2.15 by DHCP): the
//! lease and `netcfg:`, a ping through `icmp:`, one written by hand through
//! `ip:`, a refused TCP connection,
//! and every malformed address and setting refused with an errno while
//! netd keeps serving. A self-test boot runs no `init.rc`, so each test
//! starts `pcid`, `virtio-netd` and `netd` itself. The data paths (TCP
//! both ways, many connections, DNS) are tested from the host by mk,
//! which can run the peers (mk/src/network.rs).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use rt::abi::syscall::{self as sc, O_CREAT, O_RDWR, O_WRONLY};
use rt::fs::File;

use crate::daemons::{Daemon, start, start_with};
use crate::support::{Outcome, ensure, expect_err, expect_exit, ok, run_child, wait_until};

/// How long DHCP on QEMU's network may take.
const LEASE_WITHIN: Duration = Duration::from_secs(10);
/// How long an answer from QEMU's network may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// `pcid`, the card's driver and `netd`, with the card configured.
fn stack() -> Result<(Daemon, Daemon, Daemon), String> {
    let pci = start("pcid", "pci")?;
    let card = start("virtio-netd", "network")?;
    let netd = start_with("netd", &["--fallback", "10.0.2.15/24", "10.0.2.2", "10.0.2.3"], "netcfg")?;
    let leased = wait_until(LEASE_WITHIN, || {
        rt::fs::read_to_string("netcfg:eth0").is_ok_and(|text| !text.contains("how waiting"))
    });
    ensure!(leased, "eth0 got no address in {LEASE_WITHIN:?}");
    Ok((pci, card, netd))
}

/// The value of `name` in `netcfg:eth0`.
fn field(text: &str, name: &str) -> String {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')).map(String::from).unwrap_or_default()
}

pub fn netd_leases_an_address_and_pings_the_host() -> Outcome {
    let _stack = stack()?;
    let text = ok("read netcfg:eth0", rt::fs::read_to_string("netcfg:eth0"))?;
    for (name, want) in [
        ("address", "10.0.2.15/24"),
        ("how", "dhcp"),
        ("gateway", "10.0.2.2"),
        ("dns", "10.0.2.3"),
        ("driver", "network:0"),
    ] {
        ensure!(field(&text, name) == want, "netcfg:eth0 says {name} {:?}, not {want}:\n{text}", field(&text, name));
    }
    let listing = ok("read netcfg:", rt::fs::read_to_string("netcfg:"))?;
    ensure!(listing == "eth0\ndns\nmemory\n", "netcfg: lists {listing:?}");
    // Three echoes, each answered with its number and bytes.
    let mut echo = ok("open icmp:echo/10.0.2.2", File::open_with("icmp:echo/10.0.2.2", O_RDWR | sc::O_NONBLOCK))?;
    for seq in 0u16..3 {
        let payload: Vec<u8> = (0..40u8).map(|i| i ^ seq as u8).collect();
        ok("write an echo request", echo.write(&payload))?;
        let mut reply = [0u8; 64];
        let mut got = None;
        wait_until(ANSWER_WITHIN, || match echo.read(&mut reply) {
            Ok(n) => {
                got = Some(n);
                true
            }
            Err(_) => false,
        });
        let n = got.ok_or_else(|| format!("no echo reply {seq} from 10.0.2.2 in {ANSWER_WITHIN:?}"))?;
        ensure!(n == 42, "echo reply {seq} is {n} bytes");
        ensure!(u16::from_be_bytes([reply[0], reply[1]]) == seq, "echo reply {seq} is numbered {:?}", &reply[..2]);
        ensure!(reply[2..42] == payload[..], "echo reply {seq} carries other bytes");
    }
    ensure!(ok("fpath", echo.path())? == "icmp:echo/10.0.2.2", "fpath {:?}", echo.path());
    let after = ok("read netcfg:eth0", rt::fs::read_to_string("netcfg:eth0"))?;
    let frames: u64 = field(&after, "rx_frames").parse().unwrap_or(0);
    ensure!(frames >= 5, "netcfg:eth0 counts {frames} frames received (a lease, an ARP reply, three echoes)");
    Ok(format!("10.0.2.15/24 by DHCP, gateway and DNS from it; 3 echoes answered; {frames} frames in"))
}

/// 16 bytes of a `TimeSpec` of `secs` and `nanos`, unchecked.
fn timespec_bytes(secs: i64, nanos: i32) -> Vec<u8> {
    let mut bytes = secs.to_ne_bytes().to_vec();
    bytes.extend_from_slice(&nanos.to_ne_bytes());
    bytes.resize(16, 0);
    bytes
}

pub fn netd_bounds_a_socket_read_with_its_read_timeout() -> Outcome {
    let _stack = stack()?;
    let mut echo = ok("open icmp:echo/10.0.2.2", File::open_with("icmp:echo/10.0.2.2", O_RDWR))?;
    // The setting: none at first, read back as written, malformed ones refused.
    let mut setting = ok("dup(icmp fd, read_timeout)", echo.derive("read_timeout"))?;
    let mut got = [0u8; 32];
    let n = ok("read the read timeout", setting.read(&mut got))?;
    ensure!(got[..n] == timespec_bytes(0, 0)[..], "a new session's read timeout reads {:?}", &got[..n]);
    ok("write a read timeout of 1.5 s", setting.write_all(&timespec_bytes(1, 500_000_000)))?;
    let n = ok("read the read timeout", setting.read(&mut got))?;
    ensure!(got[..n] == timespec_bytes(1, 500_000_000)[..], "the read timeout reads {:?} after 1.5 s", &got[..n]);
    for (what, bytes) in [
        ("7 bytes", alloc::vec![0u8; 7]),
        ("a negative time", timespec_bytes(-1, 0)),
        ("a billion nanoseconds", timespec_bytes(0, 1_000_000_000)),
        ("negative nanoseconds", timespec_bytes(1, -1)),
    ] {
        expect_err(&format!("write of {what} as a read timeout"), setting.write(&bytes), sc::EINVAL)?;
    }
    expect_err("dup(icmp fd, write_timeout)", echo.derive("write_timeout"), sc::EINVAL)?;
    expect_err("dup(read_timeout fd, read_timeout)", setting.derive("read_timeout"), sc::EINVAL)?;
    // A request and its reply in one call.
    ok("set a read timeout", echo.set_read_timeout(Some(ANSWER_WITHIN)))?;
    for seq in 0u16..3 {
        let payload: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(3) ^ seq as u8).collect();
        let mut reply = [0u8; 64];
        let n = ok("write_read of an echo request", echo.write_read(&payload, &mut reply))?;
        ensure!(n == 42, "echo reply {seq} is {n} bytes");
        ensure!(u16::from_be_bytes([reply[0], reply[1]]) == seq, "echo reply {seq} is numbered {:?}", &reply[..2]);
        ensure!(reply[2..42] == payload[..], "echo reply {seq} carries other bytes");
    }
    // Reads that get nothing: an echo to 10.0.2.99 (nothing answers it on
    // QEMU's network, not even ARP), a bound UDP port nobody sends to, a
    // TCP connection to 10.0.2.99 that is never made. Each in a child, so
    // that a wait that never ends fails instead of hanging.
    let limit = Duration::from_millis(300);
    for (url, flags) in [("icmp:echo/10.0.2.99", O_RDWR), ("udp::5599", O_RDWR | O_CREAT), ("tcp:10.0.2.99:80", O_RDWR)]
    {
        let status = run_child(|| {
            let Ok(mut file) = File::open_with(url, flags) else { return 2 };
            if file.set_read_timeout(Some(limit)).is_err() {
                return 3;
            }
            let start = rt::time::now();
            let got = match url.starts_with("icmp:") {
                true => file.write_read(b"anyone?", &mut [0u8; 16]),
                false => file.read(&mut [0u8; 16]),
            };
            if !matches!(got, Err(err) if err.errno == sc::ETIMEDOUT) {
                return 4;
            }
            let took = rt::time::now() - start;
            if took < limit {
                return 5;
            }
            if took > limit + Duration::from_secs(2) {
                return 6;
            }
            0
        })?;
        let what = format!(
            "a read of {url} with a 300 ms read timeout (2: open, 3: set, 4: not ETIMEDOUT, 5: early, 6: late)"
        );
        expect_exit(&what, status, 0)?;
    }
    // A limit too far to add to the clock waits as long as it takes and
    // breaks nothing: a read with it, in a child killed while it waits,
    // then an echo on the same session.
    ok("write a read timeout of i64::MAX s", setting.write_all(&timespec_bytes(i64::MAX, 999_999_999)))?;
    let n = ok("read the read timeout", setting.read(&mut got))?;
    ensure!(got[..n] == timespec_bytes(i64::MAX, 999_999_999)[..], "the read timeout reads {:?}", &got[..n]);
    let waiter = crate::support::fork_child(|| {
        let Ok(mut lost) = File::open_with("icmp:echo/10.0.2.99", O_RDWR) else { return 2 };
        if lost.set_read_timeout(Some(Duration::new(u64::MAX, 0))).is_err() {
            return 3;
        }
        let _ = lost.write_read(b"forever?", &mut [0u8; 16]);
        4
    })?;
    crate::support::sleep_ms(300);
    let status = crate::support::wait_for(waiter, Duration::ZERO);
    ensure!(status.is_err(), "a read with an endless read timeout ended: {status:?}");
    ok("set a read timeout", echo.set_read_timeout(Some(ANSWER_WITHIN)))?;
    let mut reply = [0u8; 64];
    let n = ok("write_read after an endless wait was given up", echo.write_read(b"still there?", &mut reply))?;
    ensure!(
        n == 14 && &reply[2..14] == b"still there?",
        "the echo after an endless wait came back as {:?}",
        &reply[..n]
    );
    // With the limit taken off, the session's reads wait again.
    ok("take the read timeout off", echo.set_read_timeout(None))?;
    let n = ok("read the read timeout", setting.read(&mut got))?;
    ensure!(got[..n] == timespec_bytes(0, 0)[..], "the read timeout reads {:?} once taken off", &got[..n]);
    // The setting outlives its session only to say so.
    drop(echo);
    expect_err("read of a closed session's read timeout", setting.read(&mut got), sc::EBADF)?;
    expect_err("write of a closed session's read timeout", setting.write(&timespec_bytes(1, 0)), sc::EBADF)?;
    Ok(String::from(
        "set, read back and refused when malformed; 3 echoes by write_read; ETIMEDOUT after 300 ms on icmp:, udp: and tcp:",
    ))
}

pub fn netd_reports_a_refused_connection() -> Outcome {
    let _stack = stack()?;
    // QEMU connects to the host's 127.0.0.1:1, where nothing listens, and
    // resets the guest's connection.
    let conn = ok("open tcp:10.0.2.2:1", File::open_with("tcp:10.0.2.2:1", O_RDWR))?;
    expect_err("fsync of a refused connection", conn.sync(), sc::ECONNREFUSED)?;
    expect_err("read of a refused connection", rt::sys::read(conn.fd(), &mut [0u8; 8]), sc::ECONNREFUSED)?;
    expect_err("write to a refused connection", rt::sys::write(conn.fd(), b"x"), sc::ECONNREFUSED)?;
    drop(conn);
    let text = ok("read netcfg:eth0", rt::fs::read_to_string("netcfg:eth0"))?;
    ensure!(field(&text, "tcp_sockets") == "0", "a refused connection left a socket: {text}");
    Ok(String::from("ECONNREFUSED from fsync, read and write; no socket left"))
}

/// The Internet checksum of `bytes`.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes.chunks(2).map(|p| u32::from(u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]))).sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub fn netd_sends_and_takes_raw_ip_packets() -> Outcome {
    let _stack = stack()?;
    let raw = ok("open ip:1", File::open_with("ip:1", O_RDWR | sc::O_NONBLOCK))?;
    ensure!(ok("fpath", raw.path())? == "ip:1", "fpath {:?}", raw.path());
    // An echo request to the gateway, by hand: IPv4 header (source left
    // 0.0.0.0 for netd to fill in), ICMP echo with identifier 0x4652.
    let mut icmp = alloc::vec![8u8, 0, 0, 0, 0x46, 0x52, 0, 7];
    icmp.extend_from_slice(b"raw ip from ferrite");
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut packet = alloc::vec![0x45u8, 0];
    packet.extend_from_slice(&total.to_be_bytes());
    packet.extend_from_slice(&[0, 1, 0x40, 0, 64, 1, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2]);
    packet.extend_from_slice(&icmp);
    ok("write an echo request packet", rt::sys::write(raw.fd(), &packet))?;
    let mut reply = [0u8; 256];
    let mut got = None;
    wait_until(ANSWER_WITHIN, || {
        while let Ok(n) = rt::sys::read(raw.fd(), &mut reply) {
            // The echo reply: from 10.0.2.2, ICMP type 0, our identifier.
            let header = usize::from(reply[0] & 0xf) * 4;
            if n >= header + 8
                && reply[12..16] == [10, 0, 2, 2]
                && reply[header] == 0
                && reply[header + 4..header + 6] == [0x46, 0x52]
            {
                got = Some((n, header));
                return true;
            }
        }
        false
    });
    let (n, header) = got.ok_or_else(|| format!("no echo reply through ip:1 in {ANSWER_WITHIN:?}"))?;
    ensure!(reply[9] == 1 && reply[16..20] == [10, 0, 2, 15], "the reply's header: {:?}", &reply[..20]);
    ensure!(&reply[header + 8..n] == b"raw ip from ferrite", "the reply carries {:?}", &reply[header + 8..n]);
    // Bad packets: too short, not IPv4, a length that lies, another
    // protocol, too long; bad paths; not root.
    expect_err("write 10 bytes", rt::sys::write(raw.fd(), &packet[..10]), sc::EINVAL)?;
    let mut v6 = packet.clone();
    v6[0] = 0x65;
    expect_err("write an IPv6 version", rt::sys::write(raw.fd(), &v6), sc::EINVAL)?;
    expect_err("write a packet cut short", rt::sys::write(raw.fd(), &packet[..packet.len() - 1]), sc::EINVAL)?;
    let mut udp = packet.clone();
    udp[9] = 17;
    expect_err("write a UDP packet to ip:1", rt::sys::write(raw.fd(), &udp), sc::EINVAL)?;
    expect_err("write 2000 bytes", rt::sys::write(raw.fd(), &[0x45u8; 2000]), sc::EMSGSIZE)?;
    for bad in ["ip:", "ip:256", "ip:x", "ip:-1", "ip:0x11"] {
        expect_err(&format!("open {bad}"), File::open_with(bad, O_RDWR), sc::EINVAL)?;
    }
    let status = run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        match File::open_with("ip:1", O_RDWR) {
            Err(err) if err.errno == sc::EACCES => 0,
            _ => 1,
        }
    })?;
    expect_exit("user 1000 opening ip:1 (EACCES)", status, 0)?;
    Ok(format!(
        "an echo request written by hand through ip:1, its {n}-byte reply read back; 5 bad packets, 5 bad paths and a non-root open refused"
    ))
}

pub fn netd_refuses_malformed_addresses_and_settings() -> Outcome {
    let _stack = stack()?;
    // Past what a DNS name may be; 4 KiB is past what the kernel takes.
    let long = format!("tcp:{}:80", "a".repeat(400));
    let huge = format!("tcp:{}:80", "a".repeat(4096));
    for (url, flags, want) in [
        ("tcp:999.1.1.1:80", O_RDWR, sc::EINVAL),
        ("tcp:host:notaport", O_RDWR, sc::EINVAL),
        ("tcp:", O_RDWR, sc::EINVAL),
        ("tcp:10.0.2.2:0", O_RDWR, sc::EINVAL),
        ("tcp:10.0.2.2:65536", O_RDWR, sc::EINVAL),
        ("tcp::80", O_RDWR, sc::EINVAL),
        ("tcp:bad_name:80", O_RDWR, sc::EINVAL),
        (long.as_str(), O_RDWR, sc::EINVAL),
        (huge.as_str(), O_RDWR, sc::ENAMETOOLONG),
        ("tcp:example.test:80", O_RDWR | O_CREAT, sc::EINVAL),
        ("udp:1.2.3:4", O_RDWR, sc::EINVAL),
        ("udp:", O_RDWR, sc::EINVAL),
        ("icmp:echo/999.1.1.1", O_RDWR, sc::EINVAL),
        ("icmp:echo/", O_RDWR, sc::EINVAL),
        ("icmp:nope", O_RDWR, sc::ENOENT),
        ("netcfg:eth9", O_RDWR, sc::ENOENT),
        ("netcfg:resolve/bad_name", O_RDWR, sc::EINVAL),
        ("netcfg:eth0", O_WRONLY, sc::EACCES),
    ] {
        let shown = if url.len() > 40 { format!("{}... ({} bytes)", &url[..20], url.len()) } else { String::from(url) };
        expect_err(&format!("open {shown}"), File::open_with(url, flags), want)?;
    }
    // Settings: bad values change nothing.
    let mut address = ok("open netcfg:eth0/address", File::open_with("netcfg:eth0/address", O_WRONLY))?;
    for bad in ["10.0.2.15", "10.0.2.15/33", "999.0.0.1/8", " ", "dhcpp"] {
        expect_err(&format!("write {bad:?} to netcfg:eth0/address"), address.write(bad.as_bytes()), sc::EINVAL)?;
    }
    let mut dns = ok("open netcfg:dns", File::open_with("netcfg:dns", O_WRONLY))?;
    expect_err("write 10.0.2.x to netcfg:dns", dns.write(b"10.0.2.x"), sc::EINVAL)?;
    let text = ok("read netcfg:eth0", rt::fs::read_to_string("netcfg:eth0"))?;
    ensure!(field(&text, "address") == "10.0.2.15/24", "a bad setting changed the address: {text}");
    // Listening: a port once; below 1024 only for root.
    let listener = ok("listen on tcp::8123", File::open_with("tcp::8123", O_RDWR | O_CREAT))?;
    expect_err("listen on tcp::8123 again", File::open_with("tcp::8123", O_RDWR | O_CREAT), sc::EADDRINUSE)?;
    ok("make the listener non-blocking", listener.set_nonblocking(true))?;
    expect_err("accept with nobody connecting", listener.derive("listen"), sc::EAGAIN)?;
    expect_err("dup(listener, \"other\")", listener.derive("other"), sc::EINVAL)?;
    let status = run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        let low = File::open_with("tcp::80", O_RDWR | O_CREAT).map(drop);
        let high = File::open_with("tcp::8124", O_RDWR | O_CREAT).map(drop);
        let set = File::open_with("netcfg:eth0/address", O_WRONLY).map(drop);
        match (low, high, set) {
            (Err(a), Ok(()), Err(b)) if a.errno == sc::EACCES && b.errno == sc::EACCES => 0,
            _ => 1,
        }
    })?;
    expect_exit("user 1000 (listen on 80 and set the address: EACCES; listen on 8124: fine)", status, 0)?;
    drop(listener);
    let again = ok("listen on tcp::8123 after closing", File::open_with("tcp::8123", O_RDWR | O_CREAT))?;
    drop(again);
    // netd still answers.
    ok("read netcfg:eth0 at the end", rt::fs::read_to_string("netcfg:eth0"))?;
    Ok(String::from("18 malformed paths and 6 bad settings refused; listening rules hold; netd still serving"))
}
