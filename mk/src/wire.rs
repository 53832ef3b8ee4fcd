//! Ethernet, ARP, IPv4, UDP, TCP and DNS as bytes, for mk's end of the
//! network test's second card (`qemu::Wire`): mk answers the guest's ARP
//! and DNS queries there, speaks TCP to it by hand, and sends it frames no
//! well-behaved host would (mk/src/hostile.rs). Well-formed frames are
//! built here with correct checksums; the hostile ones are these, then
//! broken on purpose.
//!
//! May touch: nothing (pure functions on byte vectors).

/// EtherTypes.
pub const ARP: u16 = 0x0806;
pub const IPV4: u16 = 0x0800;
/// IP protocols.
pub const ICMP: u8 = 1;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
/// TCP flags.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

pub const BROADCAST: [u8; 6] = [0xff; 6];

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The Internet checksum (RFC 1071) of `parts`, one after another (each
/// but the last of even length).
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        for pair in part.chunks(2) {
            let word = if pair.len() == 2 { u16::from_be_bytes([pair[0], pair[1]]) } else { u16::from(pair[0]) << 8 };
            sum += u32::from(word);
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(14 + payload.len());
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// An ARP packet (Ethernet, IPv4): `op` 1 asks, 2 answers.
pub fn arp(op: u16, sender_mac: [u8; 6], sender_ip: [u8; 4], target_mac: [u8; 6], target_ip: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0, 1, 8, 0, 6, 4];
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&sender_mac);
    p.extend_from_slice(&sender_ip);
    p.extend_from_slice(&target_mac);
    p.extend_from_slice(&target_ip);
    p
}

/// An IPv4 packet (no options, don't fragment, TTL 64) with its header
/// checksum.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], protocol: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x40, 0, 64, protocol, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let sum = checksum(&[&p[..20]]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The pseudo-header UDP and TCP checksums cover.
fn pseudo(src: [u8; 4], dst: [u8; 4], protocol: u8, len: usize) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[..4].copy_from_slice(&src);
    h[4..8].copy_from_slice(&dst);
    h[9] = protocol;
    h[10..12].copy_from_slice(&(len as u16).to_be_bytes());
    h
}

/// A UDP datagram with its checksum.
pub fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut d = Vec::with_capacity(len);
    d.extend_from_slice(&sport.to_be_bytes());
    d.extend_from_slice(&dport.to_be_bytes());
    d.extend_from_slice(&(len as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    let sum = checksum(&[&pseudo(src, dst, UDP, len), &d]);
    d[6..8].copy_from_slice(&(if sum == 0 { 0xffff } else { sum }).to_be_bytes());
    d
}

/// A TCP segment (no options; window 65,535) with its checksum.
pub struct Segment<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub data: &'a [u8],
}

pub fn tcp(src: [u8; 4], dst: [u8; 4], s: &Segment<'_>) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + s.data.len());
    t.extend_from_slice(&s.sport.to_be_bytes());
    t.extend_from_slice(&s.dport.to_be_bytes());
    t.extend_from_slice(&s.seq.to_be_bytes());
    t.extend_from_slice(&s.ack.to_be_bytes());
    t.extend_from_slice(&[5 << 4, s.flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(s.data);
    let sum = checksum(&[&pseudo(src, dst, TCP, t.len()), &t]);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    t
}

/// Whether the TCP or UDP checksum of the IPv4 packet in Ethernet `frame`
/// is right (a UDP checksum of 0 means none, and is); `None` when it
/// holds no whole, unfragmented TCP or UDP datagram. mk's own sum, apart
/// from the guest's (`lib/inet-checksum`): it checks what the guest sends
/// and counts the hostile frames the guest must drop.
pub fn transport_checksum_ok(frame: &[u8]) -> Option<bool> {
    let p = frame.get(14..).filter(|_| be16(frame, 12) == IPV4)?;
    if p.len() < 20 || p[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(p[0] & 0xf) * 4;
    let total = usize::from(be16(p, 2));
    if ihl < 20 || total < ihl || total > p.len() || be16(p, 6) & 0x3fff != 0 {
        return None;
    }
    let mut body = &p[ihl..total];
    match p[9] {
        TCP if body.len() >= 20 => {}
        UDP if body.len() >= 8 => {
            body = body.get(..usize::from(be16(body, 4))).filter(|b| b.len() >= 8)?;
            if be16(body, 6) == 0 {
                return Some(true);
            }
        }
        _ => return None,
    }
    let (src, dst) = (p[12..16].try_into().ok()?, p[16..20].try_into().ok()?);
    Some(checksum(&[&pseudo(src, dst, p[9], body.len()), body]) == 0)
}

/// What mk makes of a frame it received.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// An ARP request: who has `target`? (asked by `mac`, `ip`).
    ArpRequest {
        mac: [u8; 6],
        ip: [u8; 4],
        target: [u8; 4],
    },
    /// A UDP datagram.
    Udp {
        mac: [u8; 6],
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport: u16,
        data: Vec<u8>,
    },
    /// A TCP segment.
    Tcp {
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        data: Vec<u8>,
    },
    Other,
}

/// Parse a frame the guest sent (its checksums are
/// [`transport_checksum_ok`]'s).
pub fn parse(frame: &[u8]) -> Received {
    if frame.len() < 14 {
        return Received::Other;
    }
    let mac: [u8; 6] = frame[6..12].try_into().unwrap_or_default();
    let payload = &frame[14..];
    match be16(frame, 12) {
        ARP if payload.len() >= 28 && be16(payload, 6) == 1 => Received::ArpRequest {
            mac,
            ip: payload[14..18].try_into().unwrap_or_default(),
            target: payload[24..28].try_into().unwrap_or_default(),
        },
        IPV4 if payload.len() >= 20 && payload[0] >> 4 == 4 => {
            let ihl = usize::from(payload[0] & 0xf) * 4;
            let total = usize::from(be16(payload, 2)).min(payload.len());
            if ihl < 20 || total < ihl {
                return Received::Other;
            }
            let src: [u8; 4] = payload[12..16].try_into().unwrap_or_default();
            let dst: [u8; 4] = payload[16..20].try_into().unwrap_or_default();
            let body = &payload[ihl..total];
            match payload[9] {
                UDP if body.len() >= 8 => Received::Udp {
                    mac,
                    src,
                    dst,
                    sport: be16(body, 0),
                    dport: be16(body, 2),
                    data: body[8..usize::from(be16(body, 4)).clamp(8, body.len())].to_vec(),
                },
                TCP if body.len() >= 20 => {
                    let offset = usize::from(body[12] >> 4) * 4;
                    if offset < 20 || offset > body.len() {
                        return Received::Other;
                    }
                    Received::Tcp {
                        src,
                        dst,
                        sport: be16(body, 0),
                        dport: be16(body, 2),
                        seq: be32(body, 4),
                        ack: be32(body, 8),
                        flags: body[13],
                        data: body[offset..].to_vec(),
                    }
                }
                _ => Received::Other,
            }
        }
        _ => Received::Other,
    }
}

/// A DNS question: its id, the name asked (lower case) and the type.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    pub name: String,
    pub qtype: u16,
    /// The bytes of the question section (name, type, class).
    pub section: Vec<u8>,
}

/// The first question of a DNS query, or `None` if it is not one.
pub fn dns_question(msg: &[u8]) -> Option<Question> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 || be16(msg, 4) == 0 {
        return None;
    }
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*msg.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        let label = msg.get(at + 1..at + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += 1 + len;
    }
    let qtype = be16(msg.get(at..at + 4)?, 0);
    Some(Question { id: be16(msg, 0), name: labels.join("."), qtype, section: msg[12..at + 4].to_vec() })
}

/// The answer to `q`: its A record `addr` (TTL 60 s), or NXDOMAIN when
/// `addr` is `None`.
pub fn dns_answer(q: &Question, addr: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&q.id.to_be_bytes());
    // A response, recursion desired and available; rcode 3 is NXDOMAIN.
    m.extend_from_slice(&[0x81, if addr.is_some() { 0x80 } else { 0x83 }]);
    m.extend_from_slice(&[0, 1, 0, u8::from(addr.is_some()), 0, 0, 0, 0]);
    m.extend_from_slice(&q.section);
    if let Some(ip) = addr {
        // The name by pointer to the question's (offset 12), A, IN.
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(&ip);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DNS query for `name`'s A record (the tests of [`dns_answer`]).
    fn dns_query(id: u16, name: &str) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        for label in name.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        m
    }

    const A: [u8; 4] = [10, 0, 3, 2];
    const B: [u8; 4] = [10, 0, 3, 15];

    #[test]
    fn checksums_verify_to_zero() {
        // RFC 1071's example words.
        assert_eq!(checksum(&[&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]]), !0xddf2);
        let ip = ipv4(A, B, UDP, 7, b"hello");
        assert_eq!(checksum(&[&ip[..20]]), 0);
        let d = udp(A, B, 53, 4000, b"odd");
        assert_eq!(checksum(&[&pseudo(A, B, UDP, d.len()), &d]), 0);
        let t = tcp(A, B, &Segment { sport: 1, dport: 2, seq: 3, ack: 4, flags: SYN | ACK, data: b"xyz" });
        assert_eq!(checksum(&[&pseudo(A, B, TCP, t.len()), &t]), 0);
    }

    #[test]
    fn transport_checksums_checked() {
        let mac = [2; 6];
        let t = tcp(A, B, &Segment { sport: 1, dport: 2, seq: 3, ack: 4, flags: ACK, data: b"data" });
        let mut frame = ethernet(mac, mac, IPV4, &ipv4(A, B, TCP, 1, &t));
        assert_eq!(transport_checksum_ok(&frame), Some(true));
        let last = frame.len() - 1;
        frame[last] ^= 1;
        assert_eq!(transport_checksum_ok(&frame), Some(false));
        let mut d = udp(A, B, 53, 4000, b"odd");
        let frame = ethernet(mac, mac, IPV4, &ipv4(A, B, UDP, 1, &d));
        assert_eq!(transport_checksum_ok(&frame), Some(true));
        d[6..8].copy_from_slice(&[0, 0]);
        d[8] ^= 0xff;
        assert_eq!(transport_checksum_ok(&ethernet(mac, mac, IPV4, &ipv4(A, B, UDP, 1, &d))), Some(true));
        d[4..6].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(transport_checksum_ok(&ethernet(mac, mac, IPV4, &ipv4(A, B, UDP, 1, &d))), None);
        assert_eq!(transport_checksum_ok(&ethernet(mac, mac, ARP, &[0; 28])), None);
        assert_eq!(transport_checksum_ok(&frame[..20]), None);
    }

    #[test]
    fn frames_parse_back() {
        let mac = [2, 0, 0, 0, 0, 1];
        let frame = ethernet(BROADCAST, mac, ARP, &arp(1, mac, B, [0; 6], A));
        assert_eq!(parse(&frame), Received::ArpRequest { mac, ip: B, target: A });
        let seg = Segment { sport: 9000, dport: 40000, seq: 10, ack: 20, flags: ACK | PSH, data: b"data" };
        let frame = ethernet(mac, mac, IPV4, &ipv4(B, A, TCP, 1, &tcp(B, A, &seg)));
        assert_eq!(
            parse(&frame),
            Received::Tcp {
                src: B,
                dst: A,
                sport: 9000,
                dport: 40000,
                seq: 10,
                ack: 20,
                flags: ACK | PSH,
                data: b"data".to_vec()
            }
        );
        let frame = ethernet(mac, mac, IPV4, &ipv4(B, A, UDP, 1, &udp(B, A, 5000, 53, b"q")));
        assert_eq!(parse(&frame), Received::Udp { mac, src: B, dst: A, sport: 5000, dport: 53, data: b"q".to_vec() });
        // Truncated or odd frames are nothing, never a panic.
        for len in 0..frame.len() {
            let _ = parse(&frame[..len]);
        }
        assert_eq!(parse(&[0u8; 13]), Received::Other);
    }

    #[test]
    fn dns_questions_and_answers() {
        let q = dns_question(&dns_query(0x1234, "Ferrite-Test.example")).unwrap();
        assert_eq!((q.id, q.name.as_str(), q.qtype), (0x1234, "ferrite-test.example", 1));
        let a = dns_answer(&q, Some([10, 1, 2, 3]));
        assert_eq!(&a[..4], &[0x12, 0x34, 0x81, 0x80]);
        assert_eq!(&a[a.len() - 4..], &[10, 1, 2, 3]);
        let nx = dns_answer(&q, None);
        assert_eq!(nx[3] & 0xf, 3);
        // An answer is not a question; garbage is none.
        assert_eq!(dns_question(&a), None);
        assert_eq!(dns_question(&[0u8; 5]), None);
        let query = dns_query(1, "a.b");
        for len in 0..query.len() {
            let _ = dns_question(&query[..len]);
        }
    }
}
