//! The Internet checksum (RFC 1071) of IPv4 frames, summed 8 bytes at a
//! time, for `netd` (README "Network", docs/architecture.md §3.10).
//!
//! QEMU's user network marks no received frame's checksums as checked,
//! and offers no checksum offload, so every TCP segment is summed twice
//! in software: by the sender, and by netd on receipt. smoltcp sums
//! 16-bit words, about 1,700 instructions for a full segment, the largest
//! single cost of a received frame; summing 64-bit words with an
//! end-around carry gives the same one's complement sum (2^16 - 1
//! divides 2^64 - 1) in about a quarter of that. So netd tells smoltcp
//! not to check or compute TCP and UDP checksums, checks them here
//! ([`verify`]) before a frame reaches smoltcp, and fills them in here
//! ([`fill`]) on the frames smoltcp makes. The IPv4 header and ICMP
//! checksums stay smoltcp's (a few dozen bytes each).
//!
//! A frame comes from anyone on the wire, so nothing here trusts a
//! length: what is not a whole IPv4 TCP or UDP datagram in an Ethernet
//! frame (another EtherType, a header or length that lies, a fragment:
//! smoltcp here reassembles none and drops them) is [`Verdict::NotChecked`],
//! left to smoltcp, which checks its form and drops it.
//!
//! May touch: nothing; pure logic, host-tested against smoltcp's own
//! checksums and fuzzed.

#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
mod tests;

const ETHERNET_HEADER: usize = 14;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const TCP: u8 = 6;
const UDP: u8 = 17;
/// Where each protocol keeps its checksum, and its shortest header.
const TCP_CHECKSUM_AT: usize = 16;
const TCP_HEADER: usize = 20;
const UDP_CHECKSUM_AT: usize = 6;
const UDP_HEADER: usize = 8;

/// What [`verify`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A whole TCP or UDP datagram whose checksum is right (or a UDP
    /// datagram that carries none: a checksum field of 0).
    Good,
    /// A whole TCP or UDP datagram whose checksum is wrong: drop it.
    Bad,
    /// Not a whole IPv4 TCP or UDP datagram: smoltcp checks its form.
    NotChecked,
}

/// `a + b` in one's complement: the carry out comes back in.
fn add(a: u64, b: u64) -> u64 {
    let (sum, carry) = a.overflowing_add(b);
    sum + u64::from(carry)
}

/// `acc` plus the one's complement sum of `data` read as 16-bit words in
/// memory order (a last odd byte is the high byte of a word whose low
/// byte is 0, in network order). Several parts summed one after another
/// make the sum of their concatenation as long as each part but the last
/// is of even length.
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    // Eight words a block in one chain of carries (`adc`), the last carry
    // added back once per block: about 12 instructions per 64 bytes.
    let (blocks, rest) = data.as_chunks::<64>();
    for block in blocks {
        let (words, _) = block.as_chunks::<8>();
        let mut carry = false;
        for word in words {
            (acc, carry) = acc.carrying_add(u64::from_ne_bytes(*word), carry);
        }
        acc = add(acc, u64::from(carry));
    }
    let (words, tail) = rest.as_chunks::<8>();
    for word in words {
        acc = add(acc, u64::from_ne_bytes(*word));
    }
    if !tail.is_empty() {
        acc = add(acc, u64::from_ne_bytes(le_bytes::padded_word(tail)));
    }
    acc
}

/// A sum from [`sum`] folded to 16 bits, in memory order: its
/// `to_ne_bytes` are the network-order bytes of the RFC 1071 sum.
pub fn fold(acc: u64) -> u16 {
    let acc = (acc & 0xffff_ffff) + (acc >> 32);
    let acc = (acc & 0xffff_ffff) + (acc >> 32);
    let acc = (acc & 0xffff) + (acc >> 16);
    let acc = (acc & 0xffff) + (acc >> 16);
    acc as u16
}

/// A whole, unfragmented IPv4 datagram of TCP or UDP in `packet`: its
/// protocol and where its TCP segment or UDP datagram lies.
fn transport(packet: &[u8]) -> Option<(u8, core::ops::Range<usize>)> {
    let version_ihl = *packet.first()?;
    let header = usize::from(version_ihl & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
    let fragment = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]);
    let protocol = *packet.get(9)?;
    // Version 4; more fragments or an offset means a fragment.
    if version_ihl >> 4 != 4 || header < 20 || total < header || total > packet.len() || fragment & 0x3fff != 0 {
        return None;
    }
    let segment = header..total;
    match protocol {
        TCP if segment.len() >= TCP_HEADER => Some((TCP, segment)),
        UDP if segment.len() >= UDP_HEADER => {
            // UDP's own length bounds what its checksum covers.
            let length = usize::from(u16::from_be_bytes([packet[header + 4], packet[header + 5]]));
            (UDP_HEADER..=segment.len()).contains(&length).then(|| (UDP, header..header + length))
        }
        _ => None,
    }
}

/// The sum of the pseudo-header TCP and UDP checksums cover.
fn pseudo_header(packet: &[u8], protocol: u8, length: usize) -> u64 {
    let mut pseudo = [0u8; 12];
    pseudo[..8].copy_from_slice(&packet[12..20]);
    pseudo[9] = protocol;
    pseudo[10..].copy_from_slice(&(length as u16).to_be_bytes());
    sum(0, &pseudo)
}

/// Check the TCP or UDP checksum of the IPv4 packet in Ethernet `frame`.
pub fn verify(frame: &[u8]) -> Verdict {
    if frame.get(12..14) != Some(&ETHERTYPE_IPV4) {
        return Verdict::NotChecked;
    }
    verify_ipv4(&frame[ETHERNET_HEADER..])
}

/// Check the TCP or UDP checksum of IPv4 `packet`.
pub fn verify_ipv4(packet: &[u8]) -> Verdict {
    let Some((protocol, range)) = transport(packet) else {
        return Verdict::NotChecked;
    };
    let segment = &packet[range];
    if protocol == UDP && segment[UDP_CHECKSUM_AT..UDP_CHECKSUM_AT + 2] == [0, 0] {
        return Verdict::Good;
    }
    match fold(sum(pseudo_header(packet, protocol, segment.len()), segment)) {
        0xffff => Verdict::Good,
        _ => Verdict::Bad,
    }
}

/// Fill in the TCP or UDP checksum of the IPv4 packet in Ethernet `frame`
/// if its field is 0 (what smoltcp leaves when told not to compute it);
/// whether it did. A non-zero field is left as it is: a packet written
/// whole through `ip:` keeps the checksum its program gave it.
pub fn fill(frame: &mut [u8]) -> bool {
    if frame.get(12..14) != Some(&ETHERTYPE_IPV4) {
        return false;
    }
    fill_ipv4(&mut frame[ETHERNET_HEADER..])
}

/// [`fill`] for IPv4 `packet`.
pub fn fill_ipv4(packet: &mut [u8]) -> bool {
    let Some((protocol, range)) = transport(packet) else {
        return false;
    };
    let at = range.start + if protocol == TCP { TCP_CHECKSUM_AT } else { UDP_CHECKSUM_AT };
    if packet[at..at + 2] != [0, 0] {
        return false;
    }
    let value = !fold(sum(pseudo_header(packet, protocol, range.len()), &packet[range]));
    // A UDP checksum of 0 means "none": all ones says 0 instead.
    let value = if protocol == UDP && value == 0 { 0xffff } else { value };
    packet[at..at + 2].copy_from_slice(&value.to_ne_bytes());
    true
}
