//! `network:`, the virtio network card driver (README "Network card"),
//! on the card the self-test machine attaches (mk/src/check.rs: a
//! `virtio-net-pci` on QEMU's user-mode network, where the host is
//! 10.0.2.2 and the guest 10.0.2.15): the listing, the MAC and the
//! counters as text, frames for root only, bad frame lengths refused,
//! and real exchanges with QEMU's network: an ARP request answered by
//! 10.0.2.2 (seen through an `event:` queue, by a second reader and by a
//! blocking one), pings built here by hand (IPv4 and ICMP with their
//! checksums) answered by it, bursts from a blocking and a non-blocking
//! writer (which waits for `EVENT_WRITE` when every transmit slot is in
//! flight), and a reader's queue that keeps the first 256 frames and
//! counts the rest dropped; and `network:0/batch`, eight pings in one
//! write, their replies several per read, bad batches refused whole; and
//! `network:0/ring`, replies through the mapped ring and, past its room,
//! through the queue it reports. A
//! self-test boot runs no `init.rc`, so each
//! test starts `pcid` and `virtio-netd` itself.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use rt::abi::syscall::{self as sc, EventFlags, O_NONBLOCK, O_RDONLY, O_RDWR};
use rt::event::EventQueue;
use rt::fs::File;

use crate::daemons::{Daemon, start};
use crate::support::{
    Outcome, WAIT, await_flag, ensure, expect_err, expect_exit, fork_child, now, ok, raise_flag, run_child,
    shared_page, sleep_ms, wait_for,
};

/// QEMU's user network: the host (its gateway) and the guest's address.
const HOST_IP: [u8; 4] = [10, 0, 2, 2];
const GUEST_IP: [u8; 4] = [10, 0, 2, 15];
const BROADCAST: [u8; 6] = [0xff; 6];
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;
const IP_ICMP: u8 = 1;
const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;
/// How long an answer from QEMU's network may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// `pcid`, then the driver on it.
fn driver() -> Result<(Daemon, Daemon), String> {
    let pci = start("pcid", "pci")?;
    let net = start("virtio-netd", "network")?;
    Ok((pci, net))
}

/// The card's MAC address, from `network:0/mac`.
fn our_mac() -> Result<[u8; 6], String> {
    let text = ok("read network:0/mac", rt::fs::read_to_string("network:0/mac"))?;
    parse_mac(&text).ok_or_else(|| format!("network:0/mac reads {text:?}"))
}

/// `52:54:00:12:34:56\n`: six pairs of lowercase hex digits, then a
/// newline.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let line = text.strip_suffix('\n')?;
    let mut mac = [0u8; 6];
    let mut parts = line.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        let lower = part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if part.len() != 2 || !lower {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// `network:0/stats` as (name, value) pairs, in order.
fn stats() -> Result<Vec<(String, u64)>, String> {
    let text = ok("read network:0/stats", rt::fs::read_to_string("network:0/stats"))?;
    let mut pairs = Vec::new();
    for line in text.lines() {
        let parsed = line.split_once(' ').and_then(|(name, value)| Some((String::from(name), value.parse().ok()?)));
        pairs.push(parsed.ok_or_else(|| format!("network:0/stats has the line {line:?}"))?);
    }
    Ok(pairs)
}

fn stat(pairs: &[(String, u64)], name: &str) -> Result<u64, String> {
    pairs.iter().find(|(n, _)| n == name).map(|&(_, v)| v).ok_or_else(|| format!("no {name} in network:0/stats"))
}

/// An Ethernet header: destination, source, EtherType.
fn ethernet(to: [u8; 6], from: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(&to);
    frame.extend_from_slice(&from);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame
}

/// An ARP packet for IPv4 over Ethernet (RFC 826) in an Ethernet frame.
fn arp(to: [u8; 6], op: u16, sender: ([u8; 6], [u8; 4]), target: ([u8; 6], [u8; 4])) -> Vec<u8> {
    let mut frame = ethernet(to, sender.0, ETHERTYPE_ARP);
    frame.extend_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes()); // protocol: IPv4
    frame.extend_from_slice(&[6, 4]); // address lengths
    frame.extend_from_slice(&op.to_be_bytes());
    frame.extend_from_slice(&sender.0);
    frame.extend_from_slice(&sender.1);
    frame.extend_from_slice(&target.0);
    frame.extend_from_slice(&target.1);
    frame
}

/// An ARP packet as read from a frame.
struct Arp {
    op: u16,
    sender_mac: [u8; 6],
    sender_ip: [u8; 4],
    target_mac: [u8; 6],
    target_ip: [u8; 4],
}

fn parse_arp(frame: &[u8]) -> Option<Arp> {
    if frame.len() < 42 || frame[12..14] != ETHERTYPE_ARP.to_be_bytes() || frame[14..20] != [0, 1, 8, 0, 6, 4] {
        return None;
    }
    let take = |from: usize, to: &mut [u8]| to.copy_from_slice(&frame[from..from + to.len()]);
    let mut arp = Arp {
        op: u16::from_be_bytes([frame[20], frame[21]]),
        sender_mac: [0; 6],
        sender_ip: [0; 4],
        target_mac: [0; 6],
        target_ip: [0; 4],
    };
    take(22, &mut arp.sender_mac);
    take(28, &mut arp.sender_ip);
    take(32, &mut arp.target_mac);
    take(38, &mut arp.target_ip);
    Some(arp)
}

/// The Internet checksum (RFC 1071): the ones' complement of the ones'
/// complement sum of the 16-bit big-endian words (an odd last byte is
/// padded with zero). Over data that holds its own checksum it is 0.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request (RFC 792) from us to `to_mac`/[`HOST_IP`] in an
/// IPv4 packet (RFC 791, no options) in an Ethernet frame.
fn ping(to_mac: [u8; 6], from_mac: [u8; 6], id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut icmp = Vec::new();
    icmp.extend_from_slice(&[ICMP_ECHO_REQUEST, 0, 0, 0]); // type, code, checksum (below)
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(payload);
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut ip = Vec::new();
    ip.extend_from_slice(&[0x45, 0]); // version 4, 5 words of header; DSCP/ECN
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&id.to_be_bytes()); // identification
    ip.extend_from_slice(&[0x40, 0]); // don't fragment, offset 0
    ip.extend_from_slice(&[64, IP_ICMP, 0, 0]); // TTL, protocol, checksum (below)
    ip.extend_from_slice(&GUEST_IP);
    ip.extend_from_slice(&HOST_IP);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut frame = ethernet(to_mac, from_mac, ETHERTYPE_IPV4);
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&icmp);
    frame
}

/// An ICMP echo reply as read from a frame.
struct EchoReply {
    from: [u8; 4],
    to: [u8; 4],
    id: u16,
    seq: u16,
    payload: Vec<u8>,
}

/// The ICMP echo reply in `frame`, if it is one with both checksums
/// right.
fn parse_echo_reply(frame: &[u8]) -> Option<EchoReply> {
    if frame.len() < 14 + 20 + 8 || frame[12..14] != ETHERTYPE_IPV4.to_be_bytes() {
        return None;
    }
    let ip = &frame[14..];
    let header = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ip[0] >> 4 != 4 || header < 20 || total < header + 8 || total > ip.len() || ip[9] != IP_ICMP {
        return None;
    }
    if checksum(&ip[..header]) != 0 {
        return None;
    }
    let icmp = &ip[header..total];
    if icmp[0] != ICMP_ECHO_REPLY || icmp[1] != 0 || checksum(icmp) != 0 {
        return None;
    }
    let address = |at: usize| [ip[at], ip[at + 1], ip[at + 2], ip[at + 3]];
    Some(EchoReply {
        from: address(12),
        to: address(16),
        id: u16::from_be_bytes([icmp[4], icmp[5]]),
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        payload: icmp[8..].to_vec(),
    })
}

/// The card's frames, non-blocking, for root.
fn open_frames() -> Result<File, String> {
    ok("open network:0", File::open_with("network:0", O_RDWR | O_NONBLOCK))
}

/// Every frame waiting on `net` (a non-blocking handle), in order.
fn drain(net: &mut File) -> Result<Vec<Vec<u8>>, String> {
    let mut frames = Vec::new();
    loop {
        let mut buf = alloc::vec![0u8; 2048];
        match net.read(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                frames.push(buf);
            }
            Err(err) if err.errno == sc::EAGAIN => return Ok(frames),
            Err(err) => return Err(format!("read network:0: {}", crate::support::ename(err))),
        }
    }
}

/// A bounded wait on a non-blocking `network:0` handle: an `event:` queue
/// watching it (for frames to read, or room to write), and a `time:`
/// timeout on the same queue. For frames, made before the frame that asks
/// is sent, while nothing waits on the handle, so the answer can only be
/// seen through the driver's notification.
struct Waiter {
    queue: EventQueue,
    _timer: File,
    limit: Duration,
}

impl Waiter {
    fn new(net: &File, flags: EventFlags, limit: Duration) -> Result<Waiter, String> {
        let queue = ok("event:", EventQueue::new())?;
        let mut timer = ok("open time:", File::open_with(&format!("time:{}", sc::CLOCK_MONOTONIC), O_RDWR))?;
        let deadline = rt::time::now_ns() + limit.as_nanos() as u64;
        let mut timespec = [0u8; 16];
        timespec[..8].copy_from_slice(&((deadline / 1_000_000_000) as i64).to_ne_bytes());
        timespec[8..12].copy_from_slice(&((deadline % 1_000_000_000) as i32).to_ne_bytes());
        ok("arm time:", timer.write(&timespec))?;
        ok("watch network:0", queue.watch(net.fd(), flags, 1))?;
        ok("watch time:", queue.watch(timer.fd(), EventFlags::EVENT_READ, 2))?;
        Ok(Waiter { queue, _timer: timer, limit })
    }

    /// Wait until the handle is ready; `Err` at the timeout.
    fn ready(&self) -> Result<(), String> {
        let mut events = [sc::Event::default(); 4];
        let n = ok("wait on event:", self.queue.wait(&mut events))?;
        ensure!(!events[..n].iter().any(|e| e.data == 2), "not ready within {} ms", self.limit.as_millis());
        Ok(())
    }

    /// The first frame for which `pick` gives something: wait for an
    /// event, read every frame waiting, again until the timeout. `answer`
    /// sees every frame first (to answer QEMU's questions).
    fn frame<T>(
        &self,
        net: &mut File,
        mut answer: impl FnMut(&mut File, &[u8]) -> Result<(), String>,
        mut pick: impl FnMut(&[u8]) -> Option<T>,
    ) -> Result<T, String> {
        let mut seen = 0;
        let mut events = [sc::Event::default(); 4];
        loop {
            let n = ok("wait on event:", self.queue.wait(&mut events))?;
            if events[..n].iter().any(|e| e.data == 2) {
                // One last look: an answer that came without an event.
                let late = drain(net)?;
                let late = late.iter().any(|frame| pick(frame).is_some());
                ensure!(!late, "the answer came, but no event said so");
                return Err(format!("no answer within {} ms ({seen} other frames read)", self.limit.as_millis()));
            }
            for frame in drain(net)? {
                seen += 1;
                answer(net, &frame)?;
                if let Some(found) = pick(&frame) {
                    return Ok(found);
                }
            }
        }
    }
}

/// Answer QEMU's "who has 10.0.2.15" (it asks before sending to us when
/// it does not know our MAC yet).
fn answer_arp(mac: [u8; 6]) -> impl FnMut(&mut File, &[u8]) -> Result<(), String> {
    move |net, frame| {
        if let Some(a) = parse_arp(frame)
            && a.op == ARP_REQUEST
            && a.target_ip == GUEST_IP
        {
            let reply = arp(a.sender_mac, ARP_REPLY, (mac, GUEST_IP), (a.sender_mac, a.sender_ip));
            ok("send an ARP reply", net.write(&reply))?;
        }
        Ok(())
    }
}

/// Ask for 10.0.2.2's MAC; the ARP reply, checked: addressed to us,
/// from 10.0.2.2, for 10.0.2.15.
fn resolve_host(net: &mut File, mac: [u8; 6]) -> Result<[u8; 6], String> {
    let request = arp(BROADCAST, ARP_REQUEST, (mac, GUEST_IP), ([0; 6], HOST_IP));
    ensure!(request.len() == 42, "the ARP request is {} bytes", request.len());
    let waiter = Waiter::new(net, EventFlags::EVENT_READ, ANSWER_WITHIN)?;
    ensure!(ok("send an ARP request", net.write(&request))? == request.len(), "a short frame write");
    let (to, reply) = waiter
        .frame(net, answer_arp(mac), |frame| {
            let a = parse_arp(frame)?;
            (a.op == ARP_REPLY && a.sender_ip == HOST_IP).then(|| (<[u8; 6]>::try_from(&frame[..6]).ok(), a))
        })
        .map_err(|e| format!("ARP for 10.0.2.2: {e}"))?;
    ensure!(to == Some(mac), "the ARP reply went to {to:02x?}, not to us ({mac:02x?})");
    ensure!(reply.target_mac == mac && reply.target_ip == GUEST_IP, "the ARP reply is for {:?}", reply.target_ip);
    ensure!(reply.sender_mac != [0; 6] && reply.sender_mac != BROADCAST, "10.0.2.2 is at {:02x?}", reply.sender_mac);
    Ok(reply.sender_mac)
}

pub fn network_lists_the_card_and_its_mac() -> Outcome {
    let _driver = driver()?;
    let listing = ok("read network:", rt::fs::read_to_string("network:"))?;
    ensure!(listing == "0\n", "network: lists {listing:?}");
    let mac = our_mac()?;
    ensure!(mac[0] & 1 == 0 && mac != [0; 6], "network:0/mac is {mac:02x?}, not a card's address");
    let names: Vec<String> = stats()?.into_iter().map(|(name, _)| name).collect();
    let want = ["rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "rx_dropped", "rx_errors"];
    ensure!(names == want, "network:0/stats has {names:?}");
    let file = ok("open network:0/mac", File::open("network:0/mac"))?;
    ensure!(ok("fpath", file.path())? == "network:0/mac", "fpath {:?}", file.path());
    for bad in ["network:1", "network:01", "network:-1", "network:0/x", "network:0/mac/x", "network:x/mac"] {
        expect_err(bad, rt::sys::open(bad, O_RDONLY), sc::ENOENT)?;
    }
    // The machine has this card and no other (QEMU's default e1000e is
    // not there beside it).
    let pci = ok("read pci:", rt::fs::read_to_string("pci:"))?;
    let ethernet: Vec<&str> = pci.lines().filter(|line| line.contains("Ethernet")).collect();
    let virtio = |line: &&str| matches!(line.split_whitespace().nth(1), Some("1af4:1000" | "1af4:1041"));
    ensure!(ethernet.len() == 1 && ethernet.iter().all(virtio), "pci: lists the network cards {ethernet:?}");
    let text = ok("read network:0/mac", rt::fs::read_to_string("network:0/mac"))?;
    Ok(format!("one card, {}, at {}", text.trim_end(), ethernet[0].split_whitespace().next().unwrap_or("?")))
}

pub fn network_frames_are_root_only() -> Outcome {
    let _driver = driver()?;
    let status = run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        let frames = rt::sys::open("network:0", O_RDWR);
        let texts = ["network:", "network:0/mac", "network:0/stats"].map(|url| rt::fs::read_to_string(url).is_ok());
        match frames {
            Err(err) if err.errno == sc::EACCES && texts == [true; 3] => 0,
            Err(err) if err.errno == sc::EACCES => 3,
            _ => 1,
        }
    })?;
    expect_exit("user 1000 (1: network:0 opened, 3: a text file refused)", status, 0)?;
    let net = open_frames()?;
    ensure!(ok("fpath", net.path())? == "network:0", "fpath {:?}", net.path());
    let stat = ok("fstat", net.stat())?;
    ensure!(stat.st_mode & sc::MODE_TYPE == sc::MODE_CHR, "network:0 has mode {:#o}", stat.st_mode);
    Ok(String::from("user 1000 gets EACCES for network:0 and reads network:, mac and stats; root opens it"))
}

pub fn network_refuses_bad_frames() -> Outcome {
    let _driver = driver()?;
    let mac = our_mac()?;
    let mut net = open_frames()?;
    // Nothing sent, nothing waiting: a non-blocking read says so.
    let mut buf = [0u8; 2048];
    expect_err("an empty non-blocking read", net.read(&mut buf), sc::EAGAIN)?;
    let before = stats()?;
    // An empty write never reaches the driver: the kernel answers 0 for
    // it, as for every file, and nothing is sent.
    ensure!(ok("an empty write", net.write(&[]))? == 0, "an empty write did not return 0");
    for len in [13, 1515, 2000] {
        let mut frame = ethernet(mac, mac, 0x88b5);
        frame.resize(len, 0);
        expect_err(&format!("a {len}-byte frame"), net.write(&frame), sc::EINVAL)?;
    }
    ensure!(stat(&stats()?, "tx_frames")? == stat(&before, "tx_frames")?, "a refused frame was counted as sent");
    // The shortest and the longest frames go (to ourselves, with the
    // EtherType for local experiments: nobody answers).
    for len in [14, 1514] {
        let mut frame = ethernet(mac, mac, 0x88b5);
        frame.resize(len, 0x5a);
        ensure!(ok(&format!("a {len}-byte frame"), net.write(&frame))? == len, "a {len}-byte frame went short");
    }
    let after = stats()?;
    let sent = stat(&after, "tx_frames")? - stat(&before, "tx_frames")?;
    let bytes = stat(&after, "tx_bytes")? - stat(&before, "tx_bytes")?;
    ensure!(sent == 2 && bytes == 14 + 1514, "2 frames of 1528 bytes sent, stats say {sent} of {bytes}");
    // A handle opened read-only sends nothing.
    let mut reader = ok("open network:0 read-only", File::open_with("network:0", O_RDONLY | O_NONBLOCK))?;
    expect_err("a write on a read-only handle", reader.write(&[0u8; 60]), sc::EBADF)?;
    Ok(String::from(
        "EAGAIN when empty; 13, 1515 and 2000 bytes EINVAL, 0 bytes nothing sent; 14 and 1514 sent and counted",
    ))
}

pub fn network_arp_reply_from_the_host() -> Outcome {
    let _driver = driver()?;
    let mac = our_mac()?;
    let before = stats()?;
    let mut net = open_frames()?;
    // A second reader sees every frame too, and a blocking one waits for
    // the first.
    let mut tap = ok("open network:0 again", File::open_with("network:0", O_RDONLY | O_NONBLOCK))?;
    let page = shared_page()?;
    let flags = page.atomic_u32s();
    let blocked = fork_child(|| {
        let Ok(mut blocking) = File::open_with("network:0", O_RDONLY) else { return 2 };
        raise_flag(&flags[0]);
        let mut buf = [0u8; 2048];
        match blocking.read(&mut buf) {
            Ok(n) if n >= 14 => 0,
            _ => 1,
        }
    })?;
    ensure!(await_flag(&flags[0], WAIT), "the blocking reader never opened network:0");
    sleep_ms(20);
    let start = now();
    let host = resolve_host(&mut net, mac)?;
    let took = now() - start;
    expect_exit("the blocking reader (1: read failed)", wait_for(blocked, ANSWER_WITHIN)?, 0)?;
    let tapped = drain(&mut tap)?;
    let seen = tapped.iter().any(|f| parse_arp(f).is_some_and(|a| a.op == ARP_REPLY && a.sender_ip == HOST_IP));
    ensure!(seen, "the second reader did not get the ARP reply ({} frames)", tapped.len());
    let after = stats()?;
    let grew = |name: &str| Ok::<u64, String>(stat(&after, name)? - stat(&before, name)?);
    ensure!(grew("tx_frames")? >= 1 && grew("tx_bytes")? >= 42, "stats: {after:?} (before {before:?})");
    ensure!(grew("rx_frames")? >= 1 && grew("rx_bytes")? >= 42, "stats: {after:?} (before {before:?})");
    ensure!(stat(&after, "rx_errors")? == 0, "rx_errors {}", stat(&after, "rx_errors")?);
    Ok(format!(
        "10.0.2.2 is at {host:02x?}, answered in {} ms; a second and a blocking reader saw it too",
        took.as_millis()
    ))
}

pub fn network_ping_the_host() -> Outcome {
    let _driver = driver()?;
    let mac = our_mac()?;
    let mut net = open_frames()?;
    let host = resolve_host(&mut net, mac)?;
    let payload = b"ferrite ping, built by hand";
    let mut times = Vec::new();
    for seq in 1..=3u16 {
        let request = ping(host, mac, 0x4652, seq, payload);
        let waiter = Waiter::new(&net, EventFlags::EVENT_READ, ANSWER_WITHIN)?;
        let start = now();
        ensure!(ok("send an echo request", net.write(&request))? == request.len(), "a short frame write");
        let reply =
            waiter.frame(&mut net, answer_arp(mac), parse_echo_reply).map_err(|e| format!("ping {seq}: {e}"))?;
        times.push((now() - start).as_micros());
        ensure!(reply.from == HOST_IP && reply.to == GUEST_IP, "echo reply from {:?} to {:?}", reply.from, reply.to);
        ensure!(reply.id == 0x4652 && reply.seq == seq, "echo reply id {:#x} seq {} (sent {seq})", reply.id, reply.seq);
        ensure!(reply.payload == payload, "the echo reply carries {:?}", reply.payload);
    }
    // A read into a short buffer gets the frame's first bytes; the rest
    // is dropped.
    let request = ping(host, mac, 0x4652, 9, payload);
    ok("send an echo request", net.write(&request))?;
    let mut head = [0u8; 20];
    let mut got = 0;
    let arrived = crate::support::wait_until(ANSWER_WITHIN, || match net.read(&mut head) {
        Ok(n) => {
            got = n;
            head[..6] == mac && head[12..14] == ETHERTYPE_IPV4.to_be_bytes()
        }
        Err(_) => false,
    });
    ensure!(arrived && got == head.len(), "a 20-byte read of the reply gave {got} bytes");
    let rest = drain(&mut net)?;
    ensure!(rest.iter().all(|f| parse_echo_reply(f).is_none_or(|r| r.seq != 9)), "the rest of the reply came later");
    Ok(format!("3 echo replies from 10.0.2.2 (checksums right) in {times:?} us; a 20-byte read took the head"))
}

/// Frames one process sends at once, as fast as the card takes them.
const BURST: u32 = 2000;

/// Send `count` frames of 1514 bytes to ourselves (numbered, with the
/// EtherType for local experiments: nobody answers) on `net`; when every
/// transmit slot is in flight, a non-blocking handle waits for
/// `EVENT_WRITE`. How many writes found the slots all busy.
fn burst(net: &mut File, mac: [u8; 6], count: u32, nonblocking: bool) -> Result<u32, String> {
    let mut frame = ethernet(mac, mac, 0x88b5);
    frame.resize(1514, 0xa5);
    let mut busy = 0;
    for n in 0..count {
        frame[14..18].copy_from_slice(&n.to_be_bytes());
        loop {
            match net.write(&frame) {
                Ok(len) if len == frame.len() => break,
                Ok(len) => return Err(format!("frame {n}: a write of {len} bytes")),
                Err(err) if err.errno == sc::EAGAIN && nonblocking => {
                    busy += 1;
                    Waiter::new(net, EventFlags::EVENT_WRITE, ANSWER_WITHIN)?
                        .ready()
                        .map_err(|e| format!("frame {n}, every slot busy: EVENT_WRITE {e}"))?;
                }
                Err(err) => return Err(format!("frame {n}: {}", crate::support::ename(err))),
            }
        }
    }
    Ok(busy)
}

pub fn network_sends_bursts() -> Outcome {
    let _driver = driver()?;
    let mac = our_mac()?;
    let before = stats()?;
    // A blocking writer in a child, a non-blocking one here, at once.
    let blocking = fork_child(move || {
        let Ok(mut net) = File::open_with("network:0", O_RDWR) else { return 2 };
        if burst(&mut net, mac, BURST, false).is_ok() { 0 } else { 1 }
    })?;
    let mut net = open_frames()?;
    let start = now();
    let busy = burst(&mut net, mac, BURST, true)?;
    expect_exit("the blocking writer (1: a write failed)", wait_for(blocking, Duration::from_secs(60))?, 0)?;
    let took = now() - start;
    let after = stats()?;
    let sent = stat(&after, "tx_frames")? - stat(&before, "tx_frames")?;
    let bytes = stat(&after, "tx_bytes")? - stat(&before, "tx_bytes")?;
    let want = u64::from(2 * BURST);
    ensure!(sent == want && bytes == want * 1514, "{want} frames sent, stats say {sent} of {bytes} bytes");
    Ok(format!(
        "{want} frames of 1514 bytes from two writers in {} ms; every slot in flight {busy} times",
        took.as_millis()
    ))
}

/// Frames a reader's queue holds (drivers/virtio-net/src/cards.rs).
const QUEUE_FRAMES: usize = 256;

pub fn network_reader_queues_are_bounded() -> Outcome {
    let _driver = driver()?;
    let mac = our_mac()?;
    let host = {
        let mut net = open_frames()?;
        resolve_host(&mut net, mac)?
    };
    // One reader that does not read yet, and a handle that only sends
    // (write-only: it gets no frames).
    let mut reader = ok("open network:0 read-only", File::open_with("network:0", O_RDONLY | O_NONBLOCK))?;
    let mut sender = ok("open network:0 write-only", File::open_with("network:0", sc::O_WRONLY))?;
    let pings = QUEUE_FRAMES as u16 + 44;
    let before = stats()?;
    for seq in 1..=pings {
        ok("send an echo request", sender.write(&ping(host, mac, 0x7175, seq, b"queue")))?;
    }
    let received = |stats: &[(String, u64)]| Ok::<u64, String>(stat(stats, "rx_frames")? - stat(&before, "rx_frames")?);
    let mut now_stats = before.clone();
    let all = crate::support::wait_until(WAIT, || {
        now_stats = stats().unwrap_or_default();
        received(&now_stats).is_ok_and(|n| n >= u64::from(pings))
    });
    ensure!(all, "{pings} echo requests sent, {} frames came back", received(&now_stats)?);
    let frames = drain(&mut reader)?;
    ensure!(frames.len() == QUEUE_FRAMES, "the reader's queue held {} frames (want {QUEUE_FRAMES})", frames.len());
    let seqs: Vec<u16> = frames.iter().filter_map(|f| parse_echo_reply(f)).map(|r| r.seq).collect();
    let first: Vec<u16> = (1..=QUEUE_FRAMES as u16).collect();
    ensure!(
        seqs == first,
        "the queue kept replies {:?}..{:?}, not the first {QUEUE_FRAMES} in order",
        seqs.first(),
        seqs.last()
    );
    let dropped = stat(&now_stats, "rx_dropped")? - stat(&before, "rx_dropped")?;
    let over = received(&now_stats)? - QUEUE_FRAMES as u64;
    ensure!(dropped == over, "{over} frames found the queue full; rx_dropped grew by {dropped}");
    // With no reader open, frames are dropped and counted.
    drop(reader);
    let before = stats()?;
    for seq in 1..=5 {
        ok("send an echo request", sender.write(&ping(host, mac, 0x7176, seq, b"nobody")))?;
    }
    let mut later = before.clone();
    let back = crate::support::wait_until(WAIT, || {
        later = stats().unwrap_or_default();
        stat(&later, "rx_frames").is_ok_and(|n| n >= stat(&before, "rx_frames").unwrap_or(u64::MAX) + 5)
    });
    ensure!(back, "5 echo requests with no reader: {later:?} (before {before:?})");
    let grew = stat(&later, "rx_dropped")? - stat(&before, "rx_dropped")?;
    let came = stat(&later, "rx_frames")? - stat(&before, "rx_frames")?;
    ensure!(grew == came, "{came} frames came with no reader open; rx_dropped grew by {grew}");
    Ok(format!(
        "{pings} replies: the first {QUEUE_FRAMES} queued in order, {over} dropped and counted; with no reader, {came} dropped"
    ))
}

pub fn network_batches_carry_many_frames_per_call() -> Outcome {
    let _driver = driver()?;
    let mac = our_mac()?;
    let host = {
        let mut net = open_frames()?;
        resolve_host(&mut net, mac)?
    };
    let mut batch = ok("open network:0/batch", File::open_with("network:0/batch", O_RDWR | O_NONBLOCK))?;
    ensure!(ok("fpath", batch.path())? == "network:0/batch", "fpath {:?}", batch.path());
    // Eight echo requests in one write.
    let mut out = alloc::vec![0u8; 16 * 1024];
    let mut len = 0;
    for seq in 1..=8u16 {
        len = frame_batch::put(&mut out, len, &ping(host, mac, 0x6261, seq, b"batched"))
            .ok_or("eight pings do not fit 16 KiB")?;
    }
    ensure!(ok("write a batch of 8 frames", batch.write(&out[..len]))? == len, "a short batch write");
    // Their replies, several per read.
    let mut seqs = Vec::new();
    let mut reads = 0;
    let mut buf = alloc::vec![0u8; 16 * 1024];
    crate::support::wait_until(ANSWER_WITHIN, || {
        while let Ok(n) = batch.read(&mut buf) {
            reads += 1;
            let Ok(frames) = frame_batch::frames(&buf[..n]) else { return true };
            seqs.extend(frames.filter_map(parse_echo_reply).filter(|r| r.id == 0x6261).map(|r| r.seq));
        }
        seqs.len() >= 8
    });
    seqs.sort_unstable();
    ensure!(seqs == (1..=8).collect::<Vec<u16>>(), "replies {seqs:?} in {reads} reads");
    // Bad batches are refused whole: a length under 14, one past the
    // frame, an empty write never reaches the driver; a read buffer too
    // small for the next frame.
    let before = stats()?;
    let mut bad = out[..len].to_vec();
    bad[0..2].copy_from_slice(&5u16.to_le_bytes());
    expect_err("a batch with a 5-byte frame", batch.write(&bad), sc::EINVAL)?;
    expect_err("a batch cut short", batch.write(&out[..len - 1]), sc::EINVAL)?;
    let mut longer = out[..len].to_vec();
    longer.push(0);
    expect_err("a batch with a stray byte", batch.write(&longer), sc::EINVAL)?;
    ensure!(stat(&stats()?, "tx_frames")? == stat(&before, "tx_frames")?, "a refused batch sent frames");
    // A batch of one (the first echo request again), then a read whose
    // buffer cannot hold its reply.
    let first = frame_batch::HEADER + usize::from(u16::from_le_bytes([out[0], out[1]]));
    ok("send one more echo request", batch.write(&out[..first]))?;
    let mut small = [0u8; 20];
    let refused =
        crate::support::wait_until(ANSWER_WITHIN, || matches!(batch.read(&mut small), Err(e) if e.errno == sc::EINVAL));
    ensure!(refused, "a 20-byte read of a waiting frame was not refused");
    Ok(format!("8 echo requests in one write, their replies in {reads} reads; 3 bad batches and a short read refused"))
}

/// Writes every frame of `frames` as batches on `file`, waiting for
/// transmit slots (a write takes what the slots hold).
fn send_batches(file: &mut File, frames: &[Vec<u8>]) -> Result<(), String> {
    let mut out = alloc::vec![0u8; 16 * 1024];
    let mut len = 0;
    for frame in frames {
        len = frame_batch::put(&mut out, len, frame).ok_or("the frames do not fit 16 KiB")?;
    }
    let mut at = 0;
    let sent = crate::support::wait_until(ANSWER_WITHIN, || {
        while at < len {
            match file.write(&out[at..len]) {
                Ok(n) => at += n,
                Err(_) => return false,
            }
        }
        true
    });
    ensure!(sent, "only {at} of {len} bytes of frames sent");
    Ok(())
}

/// `network:0/ring`'s ring to send: frames pushed into it go out once a
/// byte is written to the kick pipe (`dup(fd, "kick")`), in order, and a
/// batch write sends what the ring holds first. Garbage in the ring (a
/// `head` far ahead, a length that is no frame's) is skipped and the
/// driver goes on; only a ring handle gives a kick pipe, and `fmap` takes
/// only the two rings' offsets.
pub fn network_ring_sends_frames() -> Outcome {
    let _driver = driver()?;
    let mac = our_mac()?;
    let host = {
        let mut net = open_frames()?;
        resolve_host(&mut net, mac)?
    };
    let mut file = ok("open network:0/ring", File::open_with("network:0/ring", O_RDWR | O_NONBLOCK))?;
    let batch = ok("open network:0/batch", File::open_with("network:0/batch", O_RDWR | O_NONBLOCK))?;
    expect_err("a kick pipe of network:0/batch", batch.derive("kick"), sc::EINVAL)?;
    expect_err("dup(ring, \"other\")", file.derive("other"), sc::EINVAL)?;
    drop(batch);
    let odd = frame_ring::SECOND_AT + rt::mem::PAGE_SIZE;
    expect_err("fmap at an odd offset", rt::mem::map_file_shared(file.fd(), odd, 4096).map(drop), sc::EINVAL)?;
    let received = ok("map the ring", rt::mem::map_file_shared(file.fd(), 0, frame_ring::BYTES))?;
    let sending =
        ok("map the ring to send", rt::mem::map_file_shared(file.fd(), frame_ring::SECOND_AT, frame_ring::BYTES))?;
    let kick = ok("dup(ring, \"kick\")", file.derive("kick"))?;
    let rx = frame_ring::Ring::new(received.atomic_u64s()).ok_or("the ring's mapping is too short")?;
    let tx = frame_ring::Ring::new(sending.atomic_u64s()).ok_or("the ring to send's mapping is too short")?;
    let mut frame = [0u8; 2048];
    let mut replies = |seqs: &mut Vec<u16>| {
        crate::support::wait_until(ANSWER_WITHIN, || {
            while let frame_ring::Popped::Frame(len) = rx.pop(&mut frame) {
                seqs.extend(parse_echo_reply(&frame[..len]).filter(|r| r.id == 0x7273).map(|r| r.seq));
            }
            seqs.len() >= 8
        })
    };
    // Eight echo requests through the ring, one kick.
    for seq in 1..=8 {
        ensure!(tx.push(&ping(host, mac, 0x7273, seq, b"sent")), "the ring to send refused request {seq}");
    }
    let mut kick_file = kick;
    ok("kick", kick_file.write(&[1]))?;
    let mut seqs = Vec::new();
    let answered = replies(&mut seqs);
    seqs.sort_unstable();
    ensure!(answered && seqs == (1..=8).collect::<Vec<u16>>(), "replies {seqs:?} to the ring's requests");
    ensure!(tx.waiting() == 0, "{} frames left in the ring to send", tx.waiting());
    // Four in the ring with no kick, four by a batch write: all eight go.
    for seq in 11..=14 {
        ensure!(tx.push(&ping(host, mac, 0x7273, seq, b"sent")), "the ring to send refused request {seq}");
    }
    let later: Vec<Vec<u8>> = (15..=18).map(|seq| ping(host, mac, 0x7273, seq, b"sent")).collect();
    send_batches(&mut file, &later)?;
    let mut seqs = Vec::new();
    let answered = replies(&mut seqs);
    seqs.sort_unstable();
    ensure!(answered && seqs == (11..=18).collect::<Vec<u16>>(), "replies {seqs:?} to the ring's and the batch's");
    // Garbage: a head 1,000 frames ahead, then a length of 9,000 bytes in
    // a slot; the driver skips both and the next request still goes.
    let words = sending.atomic_u64s();
    words[0].fetch_add(1000, core::sync::atomic::Ordering::Release);
    ok("kick", kick_file.write(&[1]))?;
    sleep_ms(100);
    let head = words[0].load(core::sync::atomic::Ordering::Acquire);
    let slot = frame_ring::HEADER_WORDS + (head % frame_ring::SLOTS as u64) as usize * frame_ring::SLOT_WORDS;
    words[slot].store(9000, core::sync::atomic::Ordering::Relaxed);
    words[0].store(head + 1, core::sync::atomic::Ordering::Release);
    ok("kick", kick_file.write(&[1]))?;
    sleep_ms(100);
    ensure!(tx.push(&ping(host, mac, 0x7273, 21, b"sent")), "the ring to send refused a request after garbage");
    ok("kick", kick_file.write(&[1]))?;
    let mut seqs = Vec::new();
    let seen = crate::support::wait_until(ANSWER_WITHIN, || {
        while let frame_ring::Popped::Frame(len) = rx.pop(&mut frame) {
            seqs.extend(parse_echo_reply(&frame[..len]).filter(|r| r.id == 0x7273).map(|r| r.seq));
        }
        seqs.contains(&21)
    });
    ensure!(seen, "no reply to the request pushed after the garbage ({seqs:?})");
    Ok(String::from(
        "8 requests through the ring and one kick; 4 in the ring before a batch of 4, all 8 answered; \
         a bad head and a bad length skipped; kicks only from rings",
    ))
}

/// `network:0/ring`: received frames come through the mapped ring, with
/// no read; when more come than it holds, the rest wait in the queue, the
/// ring says how many, and a batch read takes them: none lost, none
/// twice. `fmap` past the ring, or of a file without one, is refused.
pub fn network_ring_carries_received_frames() -> Outcome {
    let _driver = driver()?;
    let mac = our_mac()?;
    let host = {
        let mut net = open_frames()?;
        resolve_host(&mut net, mac)?
    };
    let mut file = ok("open network:0/ring", File::open_with("network:0/ring", O_RDWR | O_NONBLOCK))?;
    ensure!(ok("fpath", file.path())? == "network:0/ring", "fpath {:?}", file.path());
    let past = frame_ring::BYTES.next_multiple_of(rt::mem::PAGE_SIZE) + rt::mem::PAGE_SIZE;
    expect_err("fmap past the ring", rt::mem::map_file_shared(file.fd(), 0, past).map(drop), sc::EINVAL)?;
    let batch = ok("open network:0/batch", File::open_with("network:0/batch", O_RDWR | O_NONBLOCK))?;
    expect_err("fmap of network:0/batch", rt::mem::map_file_shared(batch.fd(), 0, 4096).map(drop), sc::ENODEV)?;
    drop(batch);
    let memory = ok("map the ring", rt::mem::map_file_shared(file.fd(), 0, frame_ring::BYTES))?;
    let ring = frame_ring::Ring::new(memory.atomic_u64s()).ok_or("the ring's mapping is too short")?;
    let mut frame = [0u8; 2048];
    let mut replies = |ring: &frame_ring::Ring, seqs: &mut Vec<u16>| {
        let mut taken = 0;
        loop {
            match ring.pop(&mut frame) {
                frame_ring::Popped::Frame(len) => {
                    taken += 1;
                    seqs.extend(parse_echo_reply(&frame[..len]).filter(|r| r.id == 0x7269).map(|r| r.seq));
                }
                frame_ring::Popped::Empty => return Ok(taken),
                frame_ring::Popped::Bad => return Err(String::from("the driver put a bad frame in the ring")),
            }
        }
    };
    // Eight echo requests; their replies through the ring alone.
    let requests: Vec<Vec<u8>> = (1..=8).map(|seq| ping(host, mac, 0x7269, seq, b"ring")).collect();
    send_batches(&mut file, &requests)?;
    let mut seqs = Vec::new();
    let mut failed = None;
    crate::support::wait_until(ANSWER_WITHIN, || {
        if let Err(err) = replies(&ring, &mut seqs) {
            failed = Some(err);
        }
        failed.is_some() || seqs.len() >= 8
    });
    if let Some(err) = failed {
        return Err(err);
    }
    seqs.sort_unstable();
    ensure!(seqs == (1..=8).collect::<Vec<u16>>(), "replies {seqs:?} through the ring");
    ensure!(ring.queued() == 0, "{} frames queued with a ring that had room", ring.queued());
    expect_err("a read with nothing queued", file.read(&mut [0u8; 2048]), sc::EAGAIN)?;
    // 100 more with the ring left alone: it fills, the rest are queued.
    const MORE: u16 = 100;
    let requests: Vec<Vec<u8>> = (1..=MORE).map(|seq| ping(host, mac, 0x7269, 100 + seq, b"ring")).collect();
    send_batches(&mut file, &requests[..50])?;
    send_batches(&mut file, &requests[50..])?;
    let full = crate::support::wait_until(ANSWER_WITHIN, || ring.waiting() + ring.queued() >= u64::from(MORE));
    sleep_ms(200);
    let (in_ring, queued) = (ring.waiting(), ring.queued());
    ensure!(full && in_ring == frame_ring::SLOTS as u64, "{in_ring} frames in the ring and {queued} queued");
    let mut seqs = Vec::new();
    let taken = replies(&ring, &mut seqs)?;
    let from_ring = seqs.len();
    let mut buf = alloc::vec![0u8; 16 * 1024];
    let mut reads = 0;
    while let Ok(n) = file.read(&mut buf) {
        reads += 1;
        let frames = frame_batch::frames(&buf[..n]).map_err(|bad| format!("a bad batch from the queue: {bad:?}"))?;
        seqs.extend(frames.filter_map(parse_echo_reply).filter(|r| r.id == 0x7269).map(|r| r.seq));
    }
    ensure!(ring.queued() == 0, "{} frames still queued after the reads", ring.queued());
    seqs.sort_unstable();
    ensure!(seqs == (101..=100 + MORE).collect::<Vec<u16>>(), "replies {seqs:?}");
    // Eight rings at once (this one and seven more), not a ninth; a
    // closed one makes room.
    let mut more = Vec::new();
    for n in 0..8 {
        let other = ok("open another ring", File::open_with("network:0/ring", O_RDWR | O_NONBLOCK))?;
        match rt::mem::map_file_shared(other.fd(), 0, frame_ring::BYTES) {
            Ok(mapping) if n < 7 => more.push((other, mapping)),
            Err(err) if n == 7 && err.errno == sc::EBUSY => {}
            other => return Err(format!("ring {} of 9: {:?}", n + 2, other.map(drop))),
        }
    }
    more.pop();
    let last = ok("open a ring again", File::open_with("network:0/ring", O_RDWR | O_NONBLOCK))?;
    ok("map it", rt::mem::map_file_shared(last.fd(), 0, frame_ring::BYTES))?;
    Ok(format!(
        "8 replies through the ring, no read; of {MORE} more, {from_ring} in the ring ({taken} frames) and the rest \
         queued ({queued}), taken in {reads} reads; 2 bad maps refused; a ninth ring EBUSY"
    ))
}
