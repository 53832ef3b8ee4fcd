//! `ip:` (README "Network"): raw IPv4 packets of one protocol, root only
//! (as raw sockets are on Unix), for programs that speak a protocol netd
//! does not (or speak ICMP, TCP or UDP by hand).
//!
//! - `ip:PROTO` (a protocol number, 0 to 255, in decimal) opens a socket
//!   on every card. Each read gives one whole IPv4 packet of that
//!   protocol that reached the machine, header included (cut to the
//!   buffer if longer); netd still handles the packet as it would
//!   otherwise (a TCP segment still reaches its connection). TCP
//!   segments and UDP datagrams with wrong checksums were dropped before
//!   (`device.rs`), so they are not seen here.
//! - Each write sends one whole IPv4 packet, header included, through the
//!   card that reaches its destination. Its protocol must be `PROTO`; a
//!   source of 0.0.0.0 is filled in with the card's address; netd fills
//!   in the header checksum, and a TCP or UDP checksum left 0 (any other
//!   value is sent as written). Not an IPv4 header, or another protocol:
//!   `EINVAL`; more than [`PACKET_MAX`] bytes: `EMSGSIZE`; no card reaches
//!   the destination: `ENETUNREACH`.
//! - `fpath` gives `PROTO`; `event:` readiness for reads and writes.
//!
//! May touch: the shared [`Stack`].

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use scheme::sc::{EACCES, EAGAIN, EINVAL, EMSGSIZE, ENETUNREACH, MODE_SOCK};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::raw;
use smoltcp::wire::{IpProtocol, IpVersion, Ipv4Address};

use crate::stack::Stack;

/// The largest packet written: what one Ethernet frame carries.
pub const PACKET_MAX: usize = 1500;
/// Per socket and card: packets and bytes waiting to be read, and sent.
const RX_PACKETS: usize = 32;
const RX_BYTES: usize = 64 * 1024;
const TX_PACKETS: usize = 16;
const TX_BYTES: usize = 24 * 1024;

struct Handle {
    protocol: u8,
    /// One socket per card.
    socks: Vec<(usize, SocketHandle)>,
    told: EventFlags,
}

pub struct Ip {
    stack: Rc<RefCell<Stack>>,
    handles: Handles<Handle>,
}

fn err(errno: i32) -> Error {
    Error::new(errno)
}

/// `PROTO` of `ip:PROTO`: 0 to 255 in plain decimal digits.
fn protocol(path: &str) -> Option<u8> {
    let path = path.trim_matches('/');
    if path.is_empty() || path.len() > 3 || !path.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    path.parse().ok()
}

impl Ip {
    pub fn new(stack: Rc<RefCell<Stack>>) -> Ip {
        Ip { stack, handles: Handles::new() }
    }

    fn readiness(&self, handle: usize) -> EventFlags {
        let stack = self.stack.borrow();
        let Ok(h) = self.handles.get(handle) else { return EventFlags::empty() };
        let mut ready = EventFlags::empty();
        for &(card, s) in &h.socks {
            let socket = stack.cards[card].sockets.get::<raw::Socket>(s);
            if socket.can_recv() {
                ready |= EventFlags::EVENT_READ;
            }
            if socket.can_send() {
                ready |= EventFlags::EVENT_WRITE;
            }
        }
        ready
    }
}

impl Scheme for Ip {
    fn open(&mut self, path: &str, _flags: usize, caller: &Caller) -> Result<Opened> {
        let protocol = protocol(path).ok_or(err(EINVAL))?;
        if caller.uid != 0 {
            return Err(err(EACCES));
        }
        let mut stack = self.stack.borrow_mut();
        let mut socks = Vec::new();
        for card in 0..stack.cards.len() {
            let socket = raw::Socket::new(
                Some(IpVersion::Ipv4),
                Some(IpProtocol::from(protocol)),
                raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; RX_PACKETS], vec![0u8; RX_BYTES]),
                raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; TX_PACKETS], vec![0u8; TX_BYTES]),
            );
            socks.push((card, stack.cards[card].sockets.add(socket)));
        }
        Ok(Opened::Handle(self.handles.insert(Handle { protocol, socks, told: EventFlags::empty() })))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let mut stack = self.stack.borrow_mut();
        let h = self.handles.get_mut(handle)?;
        h.told.remove(EventFlags::EVENT_READ);
        for &(card, s) in &h.socks {
            if let Ok(packet) = stack.cards[card].sockets.get_mut::<raw::Socket>(s).recv() {
                let n = buf.len().min(packet.len());
                buf[..n].copy_from_slice(&packet[..n]);
                return Ok(n);
            }
        }
        Err(err(EAGAIN))
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let mut stack = self.stack.borrow_mut();
        let h = self.handles.get_mut(handle)?;
        h.told.remove(EventFlags::EVENT_WRITE);
        if buf.len() > PACKET_MAX {
            return Err(err(EMSGSIZE));
        }
        // An IPv4 header that fits, of this socket's protocol.
        let header_len = usize::from(buf.first().copied().unwrap_or(0) & 0xf) * 4;
        let total = buf.get(2..4).map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        if buf.len() < 20 || buf[0] >> 4 != 4 || header_len < 20 || header_len > buf.len() || total != buf.len() {
            return Err(err(EINVAL));
        }
        if buf[9] != h.protocol {
            return Err(err(EINVAL));
        }
        let to = Ipv4Address::new(buf[16], buf[17], buf[18], buf[19]);
        let card = stack.route(to).ok_or(err(ENETUNREACH))?;
        let mut packet = buf.to_vec();
        if packet[12..16] == [0; 4] {
            let from = stack.cards[card].address.ok_or(err(ENETUNREACH))?.address();
            packet[12..16].copy_from_slice(&from.octets());
        }
        let &(_, s) = h.socks.iter().find(|(c, _)| *c == card).ok_or(err(ENETUNREACH))?;
        match stack.cards[card].sockets.get_mut::<raw::Socket>(s).send_slice(&packet) {
            Ok(()) => Ok(buf.len()),
            Err(raw::SendError::BufferFull) => Err(err(EAGAIN)),
        }
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        let ready = self.readiness(handle);
        self.handles.get_mut(handle)?.told = ready;
        Ok(ready & interest)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        self.handles.get(handle)?;
        stat.st_mode = MODE_SOCK | 0o600;
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        Ok(format!("{}", self.handles.get(handle)?.protocol))
    }

    fn close(&mut self, handle: usize) {
        let Some(h) = self.handles.remove(handle) else { return };
        let mut stack = self.stack.borrow_mut();
        for (card, s) in h.socks {
            stack.cards[card].sockets.remove(s);
        }
    }

    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        crate::ready::drain(self, events);
    }
}

impl crate::ready::Readiness for Ip {
    fn ids(&self) -> Vec<usize> {
        self.handles.iter().map(|(h, _)| h).collect()
    }

    fn ready_now(&mut self, handle: usize) -> EventFlags {
        self.readiness(handle)
    }

    fn told(&mut self, handle: usize) -> Option<&mut EventFlags> {
        self.handles.get_mut(handle).ok().map(|h| &mut h.told)
    }
}
