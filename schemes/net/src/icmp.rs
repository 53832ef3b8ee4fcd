//! `icmp:` (README "Network"): ICMP echo, what `ping` uses.
//!
//! `icmp:echo/HOST` (an address or a DNS name) opens an echo session with
//! its own identifier. Each write sends one echo request carrying the
//! written bytes (at most [`PAYLOAD_MAX`]), numbered 0, 1, 2, ...; each read
//! gives one echo reply of this session: its sequence number (2 bytes,
//! big-endian), then the bytes it carried. Replies to other sessions and
//! other ICMP messages are not given. `event:` readiness for reads.
//!
//! A read that waits (a blocking fd) waits as long as it takes, unless the
//! fd's read timeout is set (`dup(fd, "read_timeout")`, `lib/scheme`'s
//! `ReadTimeouts`, as for `tcp:` and `udp:`): then `ETIMEDOUT`. With it
//! `ping` sends a request and waits for its reply in one `write_read`.
//!
//! May touch: the shared [`Stack`].

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use net_addr::Host;
use scheme::sc::{EAGAIN, EINVAL, EMSGSIZE, ENETUNREACH, ENOENT, MODE_SOCK};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat};
use smoltcp::iface::SocketHandle;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::icmp;
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress, Ipv4Address};

use crate::stack::{Query, Stack};

/// The most bytes one echo request carries (a 1500-byte packet).
pub const PAYLOAD_MAX: usize = 1472;
const PACKETS: usize = 8;
const BYTES: usize = 16 * 1024;

enum State {
    Resolving { query: Query },
    Open { card: usize, socket: SocketHandle, to: Ipv4Address, ident: u16, seq: u16 },
    Failed(i32),
}

struct Handle {
    state: State,
    told: EventFlags,
}

pub struct Icmp {
    stack: Rc<RefCell<Stack>>,
    handles: Handles<Handle>,
    next_ident: u16,
}

fn err(errno: i32) -> Error {
    Error::new(errno)
}

impl Icmp {
    pub fn new(stack: Rc<RefCell<Stack>>, seed: u16) -> Icmp {
        Icmp { stack, handles: Handles::new(), next_ident: seed }
    }

    fn open_to(&mut self, stack: &mut Stack, to: Ipv4Address) -> Result<State> {
        let card = stack.route(to).ok_or(err(ENETUNREACH))?;
        let ident = self.next_ident;
        self.next_ident = self.next_ident.wrapping_add(1);
        let mut s = icmp::Socket::new(
            icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; PACKETS], vec![0u8; BYTES]),
            icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; PACKETS], vec![0u8; BYTES]),
        );
        s.bind(icmp::Endpoint::Ident(ident)).map_err(|_| err(EINVAL))?;
        let socket = stack.cards[card].sockets.add(s);
        Ok(State::Open { card, socket, to, ident, seq: 0 })
    }

    fn progress(&mut self, handle: usize) -> Result<()> {
        let State::Resolving { query } = self.handles.get(handle)?.state else { return Ok(()) };
        let stack = self.stack.clone();
        let mut stack = stack.borrow_mut();
        let state = match stack.lookup(query) {
            Ok(None) => return Ok(()),
            Ok(Some(addrs)) => self.open_to(&mut stack, addrs[0]).unwrap_or_else(|e| State::Failed(e.errno)),
            Err(lookup) => State::Failed(lookup.errno()),
        };
        self.handles.get_mut(handle)?.state = state;
        Ok(())
    }

    fn readiness(&self, handle: usize) -> EventFlags {
        let stack = self.stack.borrow();
        match self.handles.get(handle).map(|h| &h.state) {
            Ok(State::Open { card, socket, .. }) => {
                let s = stack.cards[*card].sockets.get::<icmp::Socket>(*socket);
                let mut ready = EventFlags::empty();
                if s.can_recv() {
                    ready |= EventFlags::EVENT_READ;
                }
                if s.can_send() {
                    ready |= EventFlags::EVENT_WRITE;
                }
                ready
            }
            Ok(State::Failed(_)) => EventFlags::EVENT_READ | EventFlags::EVENT_WRITE,
            _ => EventFlags::empty(),
        }
    }
}

impl Scheme for Icmp {
    fn open(&mut self, path: &str, _flags: usize, _caller: &Caller) -> Result<Opened> {
        let target = path.strip_prefix("echo/").ok_or(err(ENOENT))?;
        let host = net_addr::host(target).map_err(|_| err(EINVAL))?;
        let stack = self.stack.clone();
        let mut stack = stack.borrow_mut();
        let state = match host {
            Host::Any => return Err(err(EINVAL)),
            Host::Addr(a) => self.open_to(&mut stack, a)?,
            Host::Name(name) => match stack.resolve(name) {
                Ok(query) => State::Resolving { query },
                Err(lookup) => return Err(err(lookup.errno())),
            },
        };
        Ok(Opened::Handle(self.handles.insert(Handle { state, told: EventFlags::empty() })))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        self.progress(handle)?;
        let mut stack = self.stack.borrow_mut();
        let h = self.handles.get_mut(handle)?;
        h.told.remove(EventFlags::EVENT_READ);
        let (card, socket, want) = match h.state {
            State::Open { card, socket, ident, .. } => (card, socket, ident),
            State::Failed(errno) => return Err(err(errno)),
            State::Resolving { .. } => return Err(err(EAGAIN)),
        };
        let s = stack.cards[card].sockets.get_mut::<icmp::Socket>(socket);
        while let Ok((data, _from)) = s.recv() {
            let Ok(packet) = Icmpv4Packet::new_checked(data) else { continue };
            let Ok(Icmpv4Repr::EchoReply { ident, seq_no, data }) =
                Icmpv4Repr::parse(&packet, &ChecksumCapabilities::default())
            else {
                continue;
            };
            if ident != want {
                continue;
            }
            let mut reply = Vec::with_capacity(2 + data.len());
            reply.extend_from_slice(&seq_no.to_be_bytes());
            reply.extend_from_slice(data);
            let n = buf.len().min(reply.len());
            buf[..n].copy_from_slice(&reply[..n]);
            return Ok(n);
        }
        Err(err(EAGAIN))
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        self.progress(handle)?;
        let mut stack = self.stack.borrow_mut();
        let h = self.handles.get_mut(handle)?;
        h.told.remove(EventFlags::EVENT_WRITE);
        let State::Open { card, socket, to, ident, seq } = &mut h.state else {
            return match h.state {
                State::Failed(errno) => Err(err(errno)),
                _ => Err(err(EAGAIN)),
            };
        };
        if buf.len() > PAYLOAD_MAX {
            return Err(err(EMSGSIZE));
        }
        let repr = Icmpv4Repr::EchoRequest { ident: *ident, seq_no: *seq, data: buf };
        let s = stack.cards[*card].sockets.get_mut::<icmp::Socket>(*socket);
        let space = s.send(repr.buffer_len(), IpAddress::Ipv4(*to)).map_err(|e| match e {
            icmp::SendError::BufferFull => err(EAGAIN),
            icmp::SendError::Unaddressable => err(ENETUNREACH),
        })?;
        let mut packet = Icmpv4Packet::new_unchecked(space);
        repr.emit(&mut packet, &ChecksumCapabilities::default());
        *seq = seq.wrapping_add(1);
        Ok(buf.len())
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        self.progress(handle)?;
        let ready = self.readiness(handle);
        self.handles.get_mut(handle)?.told = ready;
        Ok(ready & interest)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        self.handles.get(handle)?;
        stat.st_mode = MODE_SOCK | 0o666;
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        Ok(match self.handles.get(handle)?.state {
            State::Open { to, .. } => format!("echo/{to}"),
            _ => String::from("echo/?"),
        })
    }

    fn close(&mut self, handle: usize) {
        let Some(h) = self.handles.remove(handle) else { return };
        let mut stack = self.stack.borrow_mut();
        match h.state {
            State::Resolving { query } => stack.cancel(query),
            State::Open { card, socket, .. } => {
                stack.cards[card].sockets.remove(socket);
            }
            State::Failed(_) => {}
        }
    }

    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        crate::ready::drain(self, events);
    }
}

impl crate::ready::Readiness for Icmp {
    fn ids(&self) -> Vec<usize> {
        self.handles.iter().map(|(h, _)| h).collect()
    }

    fn ready_now(&mut self, handle: usize) -> EventFlags {
        let _ = self.progress(handle);
        self.readiness(handle)
    }

    fn told(&mut self, handle: usize) -> Option<&mut EventFlags> {
        self.handles.get_mut(handle).ok().map(|h| &mut h.told)
    }
}
