//! mk's end of the network test's second card (README "Network"): QEMU
//! carries that card's Ethernet frames as UDP datagrams on 127.0.0.1
//! (`qemu::Wire`), and this module is everything else on that wire, the
//! host 10.0.3.2 ([`PEER_IP`]) of the network 10.0.3.0/24 where the guest
//! is 10.0.3.15 ([`GUEST_IP`]):
//!
//! - a [`Peer`] thread answers the guest's ARP requests for 10.0.3.2 and
//!   its DNS queries to 10.0.3.2:53 ([`NAME`] is [`NAME_ADDRESS`], every
//!   other name does not exist), and hands the TCP segments addressed to
//!   the port under test to the test;
//! - [`Peer::overlapping_stream`] speaks TCP to the guest by hand, sending
//!   its bytes as overlapping, repeated and out-of-order segments;
//! - [`Peer::flood`] sends over a thousand malformed or hostile frames:
//!   runts, unknown types, truncated and lying IPv4 headers, bad checksums,
//!   oversize length fields, fragments, odd TCP flags, a SYN flood and an
//!   ARP storm.
//!
//! Every loop is bounded in count and time; the socket is bound to
//! 127.0.0.1 on a port chosen free at run time.
//!
//! May touch: its UDP socket and the frames on it.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::qemu::{WIRE_MAC, Wire};
use crate::wire::{self, ACK, FIN, PSH, RST, Received, SYN, Segment};

pub const PEER_IP: [u8; 4] = [10, 0, 3, 2];
pub const PEER_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xaa, 0x00, 0x02];
pub const GUEST_IP: [u8; 4] = [10, 0, 3, 15];
/// The name mk's DNS server knows, and its address.
pub const NAME: &str = "ferrite-test.example";
pub const NAME_ADDRESS: [u8; 4] = [10, 1, 2, 3];

/// What the peer thread counted.
#[derive(Default)]
pub struct Counts {
    pub arp_answered: AtomicU64,
    pub dns_answered: AtomicU64,
    /// TCP segments and UDP datagrams from the guest with wrong checksums
    /// (netd fills them in: none wanted).
    pub bad_checksums_received: AtomicU64,
    /// Hostile frames sent with wrong TCP or UDP checksums (netd must drop
    /// each it gets).
    pub bad_checksums_sent: AtomicU64,
}

pub struct Peer {
    socket: UdpSocket,
    /// TCP segments to [`Peer::port`] from the guest.
    segments: Receiver<Received>,
    /// The local port of the connection under test (0: none).
    port: Arc<AtomicU16>,
    pub counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    ip_id: u16,
}

/// A free UDP port on 127.0.0.1 for QEMU's end of the wire.
fn free_udp_port() -> Result<u16, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0 (UDP): {e}"))?;
    socket.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl Peer {
    /// Bind mk's end (kept) and pick QEMU's; the thread answers until
    /// dropped or `until`.
    pub fn start(until: Instant) -> Result<(Peer, Wire), String> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0 (UDP): {e}"))?;
        let mine = socket.local_addr().map_err(|e| e.to_string())?.port();
        let qemu = free_udp_port()?;
        socket.connect(("127.0.0.1", qemu)).map_err(|e| e.to_string())?;
        socket.set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
        let (tx, segments) = mpsc::channel();
        let port = Arc::new(AtomicU16::new(0));
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let socket = socket.try_clone().map_err(|e| e.to_string())?;
            let (port, counts, stop) = (port.clone(), counts.clone(), stop.clone());
            thread::spawn(move || answer(&socket, &tx, &port, &counts, &stop, until))
        };
        Ok((Peer { socket, segments, port, counts, stop, thread: Some(thread), ip_id: 1 }, Wire { qemu, peer: mine }))
    }

    fn send(&self, frame: &[u8]) {
        // QEMU may not be listening yet, or drop a frame: both are what a
        // wire does.
        let _ = self.socket.send(frame);
    }

    fn next_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// An IPv4 packet from `src` to the guest, in a frame.
    fn ip_frame(&mut self, src: [u8; 4], protocol: u8, payload: &[u8]) -> Vec<u8> {
        let id = self.next_id();
        wire::ethernet(WIRE_MAC, PEER_MAC, wire::IPV4, &wire::ipv4(src, GUEST_IP, protocol, id, payload))
    }

    fn send_tcp(&mut self, sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, data: &[u8]) {
        let seg = wire::tcp(PEER_IP, GUEST_IP, &Segment { sport, dport, seq, ack, flags, data });
        let frame = self.ip_frame(PEER_IP, wire::TCP, &seg);
        self.send(&frame);
    }

    /// The next segment from the guest's `dport` matching `want`, within `wait`.
    fn segment(&self, wait: Duration, want: impl Fn(u8, u32, u32) -> bool) -> Option<(u32, u32, u8, Vec<u8>)> {
        let until = Instant::now() + wait;
        loop {
            match self.segments.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(Received::Tcp { seq, ack, flags, data, .. }) if want(flags, seq, ack) => {
                    return Some((seq, ack, flags, data));
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Connect to the guest's `port`, send `bytes` as overlapping, repeated
    /// and out-of-order segments, then FIN; true once the guest acknowledged
    /// every byte and the FIN. What arrived is for the caller to check.
    pub fn overlapping_stream(&mut self, port: u16, bytes: &[u8]) -> Result<String, String> {
        let sport = 40_000 + (std::process::id() % 20_000) as u16;
        self.port.store(sport, Ordering::SeqCst);
        let result = self.stream(sport, port, bytes);
        self.port.store(0, Ordering::SeqCst);
        result
    }

    fn stream(&mut self, sport: u16, port: u16, bytes: &[u8]) -> Result<String, String> {
        let iss: u32 = 0x1000_0000;
        let mut synack = None;
        for _ in 0..10 {
            self.send_tcp(sport, port, iss, 0, SYN, &[]);
            synack = self.segment(Duration::from_secs(1), |flags, _, ack| {
                flags & (SYN | ACK) == SYN | ACK && ack == iss.wrapping_add(1)
            });
            if synack.is_some() {
                break;
            }
        }
        let (irs, _, _, _) = synack.ok_or_else(|| format!("no SYN-ACK from 10.0.3.15:{port} to ten SYNs"))?;
        let rcv = irs.wrapping_add(1);
        let first = iss.wrapping_add(1);
        self.send_tcp(sport, port, first, rcv, ACK, &[]);
        // Pieces of the stream by byte range: overlapping, one ahead of a
        // gap, the gap's filler overlapping both sides, repeats.
        let n = bytes.len();
        let cuts = [(0, n / 4), (n / 8, n / 2), (3 * n / 4, n), (3 * n / 8, 7 * n / 8), (0, n / 4), (n - 10, n)];
        let end = first.wrapping_add(n as u32);
        // The whole stream garbled, under a wrong checksum, ahead of the
        // good pieces: netd must drop it, or the program would get it
        // instead of the stream (the good pieces then being repeats).
        let garbled: Vec<u8> = bytes.iter().map(|b| b ^ 0x20).collect();
        let mut bad = wire::tcp(
            PEER_IP,
            GUEST_IP,
            &Segment { sport, dport: port, seq: first, ack: rcv, flags: ACK | PSH, data: &garbled },
        );
        bad[16] ^= 0x5a;
        let bad = self.ip_frame(PEER_IP, wire::TCP, &bad);
        let mut acked = false;
        for _ in 0..5 {
            self.send(&bad);
            thread::sleep(Duration::from_millis(20));
            for &(from, to) in &cuts {
                self.send_tcp(sport, port, first.wrapping_add(from as u32), rcv, ACK | PSH, &bytes[from..to]);
                thread::sleep(Duration::from_millis(20));
            }
            if self.segment(Duration::from_secs(2), |flags, _, ack| flags & ACK != 0 && ack == end).is_some() {
                acked = true;
                break;
            }
        }
        if !acked {
            return Err(format!("the guest never acknowledged all {n} bytes sent in overlapping pieces"));
        }
        let mut fin_acked = false;
        let mut guest_fin = None;
        for _ in 0..5 {
            self.send_tcp(sport, port, end, rcv, FIN | ACK, &[]);
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline && !(fin_acked && guest_fin.is_some()) {
                let Some((seq, ack, flags, _)) = self.segment(Duration::from_millis(200), |_, _, _| true) else {
                    continue;
                };
                fin_acked |= flags & ACK != 0 && ack == end.wrapping_add(1);
                if flags & FIN != 0 {
                    guest_fin = Some(seq);
                }
            }
            if fin_acked {
                break;
            }
        }
        if !fin_acked {
            return Err(String::from("the guest never acknowledged the FIN after the stream"));
        }
        match guest_fin {
            Some(seq) => self.send_tcp(sport, port, end.wrapping_add(1), seq.wrapping_add(1), ACK, &[]),
            // The guest's program has not closed yet: no goodbye owed.
            None => self.send_tcp(sport, port, end.wrapping_add(1), 0, RST, &[]),
        }
        Ok(format!(
            "{n} bytes in {} overlapping, repeated or early segments (after a garbled copy under a wrong checksum) \
             acknowledged",
            cuts.len()
        ))
    }

    /// Send the hostile frames; how many, by kind. `syn_port` is a port the
    /// guest listens on (the SYN flood's target).
    pub fn flood(&mut self, syn_port: u16) -> Vec<(&'static str, usize)> {
        let mut rng = xorshift::Rng::new(0x0068_6f73_7469_6c65);
        let mut sent: Vec<(&'static str, usize)> = Vec::new();
        let mut frames_of =
            |peer: &mut Peer,
             kind: &'static str,
             count: usize,
             make: &mut dyn FnMut(&mut Peer, &mut xorshift::Rng, usize) -> Vec<u8>| {
                for i in 0..count {
                    let frame = make(peer, &mut rng, i);
                    if wire::transport_checksum_ok(&frame) == Some(false) {
                        peer.counts.bad_checksums_sent.fetch_add(1, Ordering::Relaxed);
                    }
                    peer.send(&frame);
                    // A burst at a time, then a pause: a wire, not a firehose
                    // (QEMU drops what the card has no room for, and so does the
                    // driver when netd falls behind: bounded queues).
                    if i % 16 == 15 {
                        thread::sleep(Duration::from_millis(25));
                    }
                }
                sent.push((kind, count));
            };
        let random =
            |rng: &mut xorshift::Rng, len: usize| -> Vec<u8> { (0..len).map(|_| rng.next_u64() as u8).collect() };
        // (Not 0 bytes: QEMU's dgram netdev takes an empty datagram for the
        // end of the stream and stops reading the wire.)
        frames_of(self, "runt frames (1-13 bytes)", 100, &mut |_, rng, i| random(rng, 1 + i % 13));
        frames_of(self, "unknown EtherTypes", 60, &mut |_, rng, i| {
            let body = random(rng, 46 + i);
            wire::ethernet(WIRE_MAC, PEER_MAC, 0x88b5 + (i % 5) as u16, &body)
        });
        frames_of(self, "truncated IPv4 headers", 100, &mut |peer, rng, i| {
            let mut f = peer.ip_frame(PEER_IP, wire::UDP, &random(rng, 8));
            f.truncate(14 + i % 20);
            f
        });
        frames_of(self, "IPv4 header checksums wrong", 80, &mut |peer, rng, _| {
            let mut f = peer.ip_frame(PEER_IP, wire::UDP, &wire::udp(PEER_IP, GUEST_IP, 53, 7000, &random(rng, 20)));
            f[14 + 10] ^= 0x5a;
            f
        });
        frames_of(self, "IPv4 lengths and versions that lie", 120, &mut |peer, rng, i| {
            let mut f = peer.ip_frame(PEER_IP, wire::UDP, &wire::udp(PEER_IP, GUEST_IP, 53, 7000, &random(rng, 30)));
            match i % 4 {
                // Total length past the frame; header length 2 (less than 5);
                // header length 15 (past the packet); version 6.
                0 => f[14 + 2..14 + 4].copy_from_slice(&0xfff0u16.to_be_bytes()),
                1 => f[14] = 0x42,
                2 => f[14] = 0x4f,
                _ => f[14] = 0x65,
            }
            f
        });
        frames_of(self, "IPv4 fragments", 60, &mut |peer, rng, i| {
            let mut f = peer.ip_frame(PEER_IP, wire::UDP, &random(rng, 64));
            // More fragments, or an offset, or both; header checksum left
            // wrong on every third.
            let frag: u16 = match i % 3 {
                0 => 0x2000,
                1 => 0x0010 + i as u16,
                _ => 0x2000 | 0x1fff,
            };
            f[14 + 6..14 + 8].copy_from_slice(&frag.to_be_bytes());
            if i % 3 != 2 {
                let sum = wire::checksum(&[&{
                    let mut h = f[14..34].to_vec();
                    h[10] = 0;
                    h[11] = 0;
                    h
                }]);
                f[14 + 10..14 + 12].copy_from_slice(&sum.to_be_bytes());
            }
            f
        });
        frames_of(self, "UDP checksums wrong and lengths past the packet", 100, &mut |peer, rng, i| {
            let port = [53, 7000, 9, 68][i % 4];
            let mut d = wire::udp(PEER_IP, GUEST_IP, 53, port, &random(rng, 40));
            if i % 2 == 0 {
                d[6] ^= 0xff;
            } else {
                d[4..6].copy_from_slice(&(1000 + i as u16).to_be_bytes());
            }
            peer.ip_frame(PEER_IP, wire::UDP, &d)
        });
        frames_of(self, "TCP checksums wrong, data offsets that lie", 100, &mut |peer, _, i| {
            let seg =
                Segment { sport: 30_000 + i as u16, dport: syn_port, seq: i as u32, ack: 0, flags: SYN, data: b"x" };
            let mut t = wire::tcp(PEER_IP, GUEST_IP, &seg);
            match i % 3 {
                0 => t[16] ^= 0x33,
                1 => t[12] = 0xf0,
                _ => t[12] = 0x20,
            }
            peer.ip_frame(PEER_IP, wire::TCP, &t)
        });
        frames_of(self, "TCP segments with odd flags", 100, &mut |peer, rng, i| {
            let flags = [SYN | FIN, SYN | RST, 0xff, 0, FIN, RST | ACK, ACK | PSH, PSH][i % 8];
            let port = if i % 2 == 0 { syn_port } else { 1 + (i as u16 * 7) % 1000 };
            let data = random(rng, i % 50);
            let seg = Segment {
                sport: 31_000 + i as u16,
                dport: port,
                seq: rng.next_u64() as u32,
                ack: rng.next_u64() as u32,
                flags,
                data: &data,
            };
            let t = wire::tcp(PEER_IP, GUEST_IP, &seg);
            peer.ip_frame(PEER_IP, wire::TCP, &t)
        });
        frames_of(self, "ICMP, good and bad", 60, &mut |peer, rng, i| {
            let mut m = vec![[8, 0, 3, 13, 5][i % 5], 0, 0, 0, 0, 1, 0, i as u8];
            m.extend(random(rng, i * 7 % 200));
            let sum = wire::checksum(&[&m]);
            m[2..4].copy_from_slice(&sum.to_be_bytes());
            if i % 4 == 3 {
                m[2] ^= 0xff;
            }
            peer.ip_frame(PEER_IP, wire::ICMP, &m)
        });
        frames_of(self, "a SYN flood (10.0.3.2 and spoofed sources)", 600, &mut |peer, rng, i| {
            let src = if i % 6 == 5 { [10, 0, 3, 100 + (i % 100) as u8] } else { PEER_IP };
            let seg = Segment {
                sport: 20_000 + i as u16,
                dport: syn_port,
                seq: rng.next_u64() as u32,
                ack: 0,
                flags: SYN,
                data: &[],
            };
            let t = wire::tcp(src, GUEST_IP, &seg);
            peer.ip_frame(src, wire::TCP, &t)
        });
        frames_of(self, "an ARP storm (requests, claims, garbage)", 300, &mut |_, rng, i| {
            let mac = [0x02, 0, 0, 0, (i >> 8) as u8, i as u8];
            let ip = [10, 0, 3, 16 + (i % 200) as u8];
            match i % 3 {
                0 => wire::ethernet(wire::BROADCAST, mac, wire::ARP, &wire::arp(1, mac, ip, [0; 6], GUEST_IP)),
                1 => wire::ethernet(wire::BROADCAST, mac, wire::ARP, &wire::arp(2, mac, ip, mac, ip)),
                _ => {
                    let mut a = wire::arp(1, mac, ip, [0; 6], GUEST_IP);
                    a[4] = rng.next_u64() as u8;
                    a.truncate(rng.below(28));
                    wire::ethernet(wire::BROADCAST, mac, wire::ARP, &a)
                }
            }
        });
        sent
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The peer thread: ARP and DNS answers, TCP segments to the test.
fn answer(
    socket: &UdpSocket,
    segments: &mpsc::Sender<Received>,
    port: &AtomicU16,
    counts: &Counts,
    stop: &AtomicBool,
    until: Instant,
) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        let Ok(n) = socket.recv(&mut buf) else { continue };
        if wire::transport_checksum_ok(&buf[..n]) == Some(false) {
            counts.bad_checksums_received.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        match wire::parse(&buf[..n]) {
            Received::ArpRequest { mac, ip, target } if target == PEER_IP => {
                let reply = wire::arp(2, PEER_MAC, PEER_IP, mac, ip);
                let _ = socket.send(&wire::ethernet(mac, PEER_MAC, wire::ARP, &reply));
                counts.arp_answered.fetch_add(1, Ordering::Relaxed);
            }
            Received::Udp { mac, src, dst, sport, dport: 53, data } if dst == PEER_IP => {
                let Some(q) = wire::dns_question(&data) else { continue };
                let known = (q.name == NAME && q.qtype == 1).then_some(NAME_ADDRESS);
                let d = wire::udp(PEER_IP, src, 53, sport, &wire::dns_answer(&q, known));
                let ip = wire::ipv4(PEER_IP, src, wire::UDP, q.id, &d);
                let _ = socket.send(&wire::ethernet(mac, PEER_MAC, wire::IPV4, &ip));
                counts.dns_answered.fetch_add(1, Ordering::Relaxed);
            }
            seg @ Received::Tcp { dst, dport, .. } if dst == PEER_IP => {
                let want = port.load(Ordering::SeqCst);
                if want != 0 && dport == want {
                    let _ = segments.send(seg);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_is_what_the_test_names() {
        // Nobody listens on QEMU's side here: the frames go nowhere, and
        // every generator runs without a panic.
        let (mut peer, wire) = Peer::start(Instant::now() + Duration::from_secs(30)).unwrap();
        assert_ne!(wire.qemu, wire.peer);
        let sent = peer.flood(80);
        let total: usize = sent.iter().map(|(_, n)| n).sum();
        assert_eq!(total, 1_780, "{sent:?}");
        assert!(sent.iter().any(|(kind, n)| kind.contains("SYN flood") && *n == 600));
    }
}
