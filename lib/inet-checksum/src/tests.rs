//! Host tests: the 64-bit sum against RFC 1071's 16-bit one, [`verify`]
//! and [`fill`] against smoltcp's own checksums, and random and broken
//! frames (every verdict checked against a plain re-implementation,
//! never a panic).

extern crate std;

use std::vec;
use std::vec::Vec;

use smoltcp::wire::{IpAddress, TcpPacket, UdpPacket};

use super::*;

/// RFC 1071 as written: 16-bit big-endian words, carries folded in.
fn reference_sum(data: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for pair in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field's bytes for `data` (the IPv4 header's, here).
fn checksum(data: &[u8]) -> [u8; 2] {
    (!fold(sum(0, data))).to_ne_bytes()
}

fn random_bytes(rng: &mut xorshift::Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

#[test]
fn sum_is_rfc_1071s_for_every_length_and_alignment() {
    let mut rng = xorshift::Rng::new(0xc5c5_0001);
    let buffer = random_bytes(&mut rng, 1600);
    for start in 0..9 {
        for len in (0..200).chain([1459, 1460, 1480, 1500, 1591]) {
            let data = &buffer[start..start + len];
            assert_eq!(u16::from_be_bytes(fold(sum(0, data)).to_ne_bytes()), reference_sum(data), "{start} {len}");
        }
    }
    // All ones everywhere: every addition carries.
    let ones = vec![0xffu8; 1500];
    assert_eq!(fold(sum(0, &ones)), 0xffff);
    assert_eq!(fold(sum(0, &[])), 0);
    // Parts summed one after another (each but the last even).
    let (a, b) = buffer[..301].split_at(120);
    assert_eq!(fold(sum(sum(0, a), b)), fold(sum(0, &buffer[..301])));
}

/// An Ethernet frame with an IPv4 header (checksum filled) around
/// `transport` of `protocol`.
fn ipv4_frame(protocol: u8, src: [u8; 4], dst: [u8; 4], transport: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 14 + 20];
    frame[6..12].copy_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    frame[12..14].copy_from_slice(&ETHERTYPE_IPV4);
    let ip = &mut frame[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + transport.len()) as u16).to_be_bytes());
    ip[6] = 0x40; // Don't fragment.
    ip[8] = 64;
    ip[9] = protocol;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let header = checksum(&ip[..20]);
    ip[10..12].copy_from_slice(&header);
    frame.extend_from_slice(transport);
    frame
}

fn addresses(frame: &[u8]) -> (IpAddress, IpAddress) {
    let at = |i: usize| IpAddress::v4(frame[i], frame[i + 1], frame[i + 2], frame[i + 3]);
    (at(14 + 12), at(14 + 16))
}

/// A TCP segment of `data` (random header fields, maybe options).
fn tcp_segment(rng: &mut xorshift::Rng, data: &[u8]) -> Vec<u8> {
    let options = 4 * rng.below(4);
    let mut t = random_bytes(rng, 20 + options);
    t[12] = (((20 + options) / 4) as u8) << 4;
    t[16..18].copy_from_slice(&[0, 0]);
    t.extend_from_slice(data);
    t
}

/// A UDP datagram of `data` (random ports).
fn udp_datagram(rng: &mut xorshift::Rng, data: &[u8]) -> Vec<u8> {
    let mut d = random_bytes(rng, 8);
    d[4..6].copy_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    d[6..8].copy_from_slice(&[0, 0]);
    d.extend_from_slice(data);
    d
}

#[test]
fn fill_gives_smoltcps_checksums_and_verify_agrees_with_smoltcp() {
    let mut rng = xorshift::Rng::new(0xc5c5_0002);
    for round in 0..2000 {
        let data = {
            let len = [0, 1, 2, 7, 536, 1459, 1460][round % 7] + rng.below(3);
            random_bytes(&mut rng, len)
        };
        let src = [10, 0, 2, rng.next_u64() as u8];
        let dst = [rng.next_u64() as u8, 0, 2, 15];
        let tcp = round % 2 == 0;
        let transport = if tcp { tcp_segment(&mut rng, &data) } else { udp_datagram(&mut rng, &data) };
        let mut frame = ipv4_frame(if tcp { TCP } else { UDP }, src, dst, &transport);
        let (s, d) = addresses(&frame);
        let mut theirs = frame.clone();
        if tcp {
            TcpPacket::new_unchecked(&mut theirs[34..]).fill_checksum(&s, &d);
        } else {
            UdpPacket::new_unchecked(&mut theirs[34..]).fill_checksum(&s, &d);
        }
        assert!(fill(&mut frame));
        assert_eq!(frame, theirs, "round {round}");
        assert_eq!(verify(&frame), Verdict::Good);
        // A filled field is left alone.
        assert!(!fill(&mut frame));
        // Any one byte changed in the datagram, or in the addresses the
        // pseudo-header covers: smoltcp and verify both say wrong.
        let at = if rng.below(4) == 0 { 14 + 12 + rng.below(8) } else { 34 + rng.below(transport.len()) };
        frame[at] ^= 1 << rng.below(8);
        let ours = verify(&frame);
        // One bit flipped always changes a one's complement sum; only a
        // flip in the UDP length can make the datagram lie (and smoltcp's
        // unchecked packet would then read past it).
        if tcp {
            assert_eq!(ours, Verdict::Bad, "round {round}, byte {at}");
        }
        if ours != Verdict::NotChecked {
            let (s, d) = addresses(&frame);
            let smoltcp_good = if tcp {
                TcpPacket::new_unchecked(&frame[34..]).verify_checksum(&s, &d)
            } else {
                UdpPacket::new_unchecked(&frame[34..]).verify_checksum(&s, &d)
            };
            assert_eq!(ours == Verdict::Good, smoltcp_good, "round {round}, byte {at}");
        }
    }
}

#[test]
fn udp_zero_means_none_and_a_computed_zero_is_sent_as_all_ones() {
    let mut rng = xorshift::Rng::new(0xc5c5_0003);
    let mut frame = ipv4_frame(UDP, [10, 0, 2, 2], [10, 0, 2, 15], &udp_datagram(&mut rng, &[0, 0, 9, 9, 9]));
    // No checksum: good, whatever the data.
    assert_eq!(verify(&frame), Verdict::Good);
    // Two data bytes chosen so the sum of everything is all ones: the
    // checksum computes to 0 and goes out as 0xffff.
    let total = fold(sum(pseudo_header(&frame[14..], UDP, 13), &frame[34..]));
    frame[42..44].copy_from_slice(&(!total).to_ne_bytes());
    assert!(fill(&mut frame));
    assert_eq!(frame[40..42], [0xff, 0xff]);
    assert_eq!(verify(&frame), Verdict::Good);
    let (s, d) = addresses(&frame);
    assert!(UdpPacket::new_unchecked(&frame[34..]).verify_checksum(&s, &d));
}

#[test]
fn what_is_not_a_whole_tcp_or_udp_datagram_is_left_to_smoltcp() {
    let mut rng = xorshift::Rng::new(0xc5c5_0004);
    let good = ipv4_frame(TCP, [10, 0, 2, 2], [10, 0, 2, 15], &tcp_segment(&mut rng, b"hello"));
    let mut filled = good.clone();
    assert!(fill(&mut filled));
    type Breaks = fn(&mut Vec<u8>);
    let broken: [(&str, Breaks); 10] = [
        ("ARP", |f| f[12..14].copy_from_slice(&[0x08, 0x06])),
        ("IPv6", |f| f[14] = 0x65),
        ("header length 4", |f| f[14] = 0x44),
        ("header past the packet", |f| f[14] = 0x4f),
        ("total length past the frame", |f| f[16..18].copy_from_slice(&2000u16.to_be_bytes())),
        ("total length inside the header", |f| f[16..18].copy_from_slice(&10u16.to_be_bytes())),
        ("more fragments", |f| f[20] = 0x20),
        ("a fragment offset", |f| f[21] = 0x01),
        ("ICMP", |f| f[23] = 1),
        ("a TCP header cut short", |f| f[16..18].copy_from_slice(&30u16.to_be_bytes())),
    ];
    for (what, breaks) in broken {
        let mut frame = good.clone();
        breaks(&mut frame);
        assert_eq!(verify(&frame), Verdict::NotChecked, "{what}");
        assert!(!fill(&mut frame), "{what}");
        let mut frame = filled.clone();
        breaks(&mut frame);
        assert_eq!(verify(&frame), Verdict::NotChecked, "{what}");
    }
    // Ethernet padding past the IP length is not summed.
    let mut padded = filled.clone();
    padded.extend_from_slice(&[0xaa; 9]);
    assert_eq!(verify(&padded), Verdict::Good);
    // A UDP length past the IP payload or under 8.
    for length in [7u16, 8 + 6, 200] {
        let mut frame = ipv4_frame(UDP, [10, 0, 2, 2], [10, 0, 2, 15], &udp_datagram(&mut rng, b"abcde"));
        frame[38..40].copy_from_slice(&length.to_be_bytes());
        assert_eq!(verify(&frame), Verdict::NotChecked, "UDP length {length}");
    }
    for short in 0..34 {
        assert_eq!(verify(&filled[..short]), Verdict::NotChecked);
        assert!(!fill(&mut filled.clone()[..short]));
    }
}

/// [`verify`] re-done plainly: smoltcp's checks of form, RFC 1071's sum.
fn reference_verify(frame: &[u8]) -> Verdict {
    if frame.len() < 34 || frame[12..14] != ETHERTYPE_IPV4 {
        return Verdict::NotChecked;
    }
    let ip = &frame[14..];
    let header = usize::from(ip[0] & 15) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let fragment = u16::from_be_bytes([ip[6], ip[7]]);
    if ip[0] >> 4 != 4 || header < 20 || total < header || total > ip.len() || fragment & 0x3fff != 0 {
        return Verdict::NotChecked;
    }
    let mut seg = &ip[header..total];
    let protocol = ip[9];
    match protocol {
        TCP if seg.len() >= 20 => {}
        UDP if seg.len() >= 8 => {
            let length = usize::from(u16::from_be_bytes([seg[4], seg[5]]));
            if !(8..=seg.len()).contains(&length) {
                return Verdict::NotChecked;
            }
            seg = &seg[..length];
            if seg[6..8] == [0, 0] {
                return Verdict::Good;
            }
        }
        _ => return Verdict::NotChecked,
    }
    let mut all = ip[12..20].to_vec();
    all.extend_from_slice(&[0, protocol]);
    all.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    all.extend_from_slice(seg);
    if reference_sum(&all) == 0xffff { Verdict::Good } else { Verdict::Bad }
}

#[test]
fn fuzz_random_and_mangled_frames() {
    let mut rng = xorshift::Rng::new(0xc5c5_0005);
    let mut verdicts = [0usize; 3];
    for round in 0..100_000 {
        let mut frame = if round % 4 == 0 {
            {
                let len = rng.below(100);
                random_bytes(&mut rng, len)
            }
        } else {
            let data = {
                let len = rng.below(1500 - 60);
                random_bytes(&mut rng, len)
            };
            let tcp = rng.below(2) == 0;
            let transport = if tcp { tcp_segment(&mut rng, &data) } else { udp_datagram(&mut rng, &data) };
            let mut frame = ipv4_frame(if tcp { TCP } else { UDP }, [10, 0, 2, 2], [10, 0, 2, 15], &transport);
            fill(&mut frame);
            frame
        };
        // A few bytes anywhere changed, the frame cut or padded.
        for _ in 0..rng.below(4) {
            if !frame.is_empty() {
                let at = rng.below(frame.len().min(60));
                frame[at] = rng.next_u64() as u8;
            }
        }
        match rng.below(4) {
            0 => frame.truncate(rng.below(frame.len() + 1)),
            1 => frame.extend({
                let len = rng.below(20);
                random_bytes(&mut rng, len)
            }),
            _ => {}
        }
        let verdict = verify(&frame);
        assert_eq!(verdict, reference_verify(&frame), "round {round}: {frame:02x?}");
        verdicts[verdict as usize] += 1;
        let mut copy = frame.clone();
        if fill(&mut copy) {
            assert_eq!(verify(&copy), Verdict::Good, "round {round}");
        } else {
            assert_eq!(copy, frame);
        }
    }
    // Each verdict came up often: the fuzzing reached every path.
    assert!(verdicts.iter().all(|&n| n > 5_000), "{verdicts:?}");
}
