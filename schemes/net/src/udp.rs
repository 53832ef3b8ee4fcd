//! `udp:` (README "Network"): datagrams over UDP, one per read and write.
//!
//! - `udp:HOST:PORT` (an address or a DNS name): from a fresh local port
//!   to that peer; reads give only the peer's datagrams.
//! - `udp:ADDR:PORT` or `udp::PORT` with `O_CREAT`: bound to that port
//!   (below 1024 only for root; taken: `EADDRINUSE`); reads give
//!   datagrams from anyone, and a write answers the sender of the last
//!   datagram read (`EDESTADDRREQ` before the first).
//! - A datagram longer than the read's buffer is cut to it; a write of
//!   more than [`DATAGRAM_MAX`] bytes (what fits one Ethernet frame, as
//!   `netd` does not fragment) gives `EMSGSIZE`. `fpath` gives
//!   `PEER/LOCAL`; `event:` readiness for reads and writes;
//!   `dup(fd, "read_timeout")` bounds how long a read waits (`tcp.rs`).
//!
//! May touch: the shared [`Stack`].

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use net_addr::Host;
use scheme::sc::{EACCES, EADDRINUSE, EAGAIN, EDESTADDRREQ, EINVAL, EMSGSIZE, ENETUNREACH, MODE_SOCK, O_CREAT};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint, Ipv4Address};

use crate::stack::{Query, Stack};

/// The largest datagram: a 1500-byte IPv4 packet less its headers.
pub const DATAGRAM_MAX: usize = 1472;
/// Per socket: datagrams and bytes waiting to be read, and to be sent.
const RX_PACKETS: usize = 32;
const RX_BYTES: usize = 64 * 1024;
const TX_PACKETS: usize = 16;
const TX_BYTES: usize = 16 * 1024;

enum State {
    Resolving {
        query: Query,
        port: u16,
    },
    /// Sockets (one per card for a bound port, one for a peer), and who
    /// writes go to.
    Open {
        socks: Vec<(usize, SocketHandle)>,
        local: u16,
        peer: Option<(usize, IpEndpoint)>,
        connected: bool,
    },
    Failed(i32),
}

struct Handle {
    state: State,
    told: EventFlags,
}

pub struct Udp {
    stack: Rc<RefCell<Stack>>,
    handles: Handles<Handle>,
}

fn err(errno: i32) -> Error {
    Error::new(errno)
}

fn socket() -> udp::Socket<'static> {
    udp::Socket::new(
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; RX_PACKETS], vec![0u8; RX_BYTES]),
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; TX_PACKETS], vec![0u8; TX_BYTES]),
    )
}

impl Udp {
    pub fn new(stack: Rc<RefCell<Stack>>) -> Udp {
        Udp { stack, handles: Handles::new() }
    }

    fn port_used(&self, port: u16) -> bool {
        self.handles.iter().any(|(_, h)| matches!(h.state, State::Open { local, .. } if local == port))
    }

    /// A socket on the card that reaches `addr`, from a fresh port.
    fn connect(&self, stack: &mut Stack, addr: Ipv4Address, port: u16) -> Result<State> {
        let card = stack.route(addr).ok_or(err(ENETUNREACH))?;
        let mut local = stack.ephemeral_port();
        for _ in 0..64 {
            if !self.port_used(local) {
                break;
            }
            local = stack.ephemeral_port();
        }
        let mut s = socket();
        s.bind(IpListenEndpoint { addr: None, port: local }).map_err(|_| err(EINVAL))?;
        let handle = stack.cards[card].sockets.add(s);
        let peer = IpEndpoint::new(IpAddress::Ipv4(addr), port);
        Ok(State::Open { socks: vec![(card, handle)], local, peer: Some((card, peer)), connected: true })
    }

    fn progress(&mut self, handle: usize) -> Result<()> {
        let h = self.handles.get(handle)?;
        let State::Resolving { query, port } = h.state else { return Ok(()) };
        let mut stack = self.stack.borrow_mut();
        let state = match stack.lookup(query) {
            Ok(None) => return Ok(()),
            Ok(Some(addrs)) => self.connect(&mut stack, addrs[0], port).unwrap_or_else(|e| State::Failed(e.errno)),
            Err(lookup) => State::Failed(lookup.errno()),
        };
        self.handles.get_mut(handle)?.state = state;
        Ok(())
    }

    fn readiness(&self, handle: usize) -> EventFlags {
        let stack = self.stack.borrow();
        let Ok(h) = self.handles.get(handle) else { return EventFlags::empty() };
        match &h.state {
            State::Resolving { .. } => EventFlags::empty(),
            State::Failed(_) => EventFlags::EVENT_READ | EventFlags::EVENT_WRITE,
            State::Open { socks, peer, .. } => {
                let mut ready = EventFlags::empty();
                for &(card, s) in socks {
                    let socket = stack.cards[card].sockets.get::<udp::Socket>(s);
                    if socket.can_recv() {
                        ready |= EventFlags::EVENT_READ;
                    }
                    if peer.is_some_and(|(c, _)| c == card) && socket.can_send() {
                        ready |= EventFlags::EVENT_WRITE;
                    }
                }
                ready
            }
        }
    }
}

impl Scheme for Udp {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        let endpoint = net_addr::endpoint(path).map_err(|_| err(EINVAL))?;
        let mut stack = self.stack.borrow_mut();
        let state = if flags & O_CREAT != 0 {
            let addr = match endpoint.host {
                Host::Any => None,
                Host::Addr(a) => Some(IpAddress::Ipv4(a)),
                Host::Name(_) => return Err(err(EINVAL)),
            };
            if endpoint.port < 1024 && caller.uid != 0 {
                return Err(err(EACCES));
            }
            if self.port_used(endpoint.port) {
                return Err(err(EADDRINUSE));
            }
            let mut socks = Vec::new();
            for card in 0..stack.cards.len() {
                let mut s = socket();
                s.bind(IpListenEndpoint { addr, port: endpoint.port }).map_err(|_| err(EINVAL))?;
                socks.push((card, stack.cards[card].sockets.add(s)));
            }
            State::Open { socks, local: endpoint.port, peer: None, connected: false }
        } else {
            match endpoint.host {
                Host::Any => return Err(err(EINVAL)),
                Host::Addr(a) => self.connect(&mut stack, a, endpoint.port)?,
                Host::Name(name) => match stack.resolve(name) {
                    Ok(query) => State::Resolving { query, port: endpoint.port },
                    Err(lookup) => return Err(err(lookup.errno())),
                },
            }
        };
        Ok(Opened::Handle(self.handles.insert(Handle { state, told: EventFlags::empty() })))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        self.progress(handle)?;
        let mut stack = self.stack.borrow_mut();
        let h = self.handles.get_mut(handle)?;
        h.told.remove(EventFlags::EVENT_READ);
        let State::Open { socks, peer, connected, .. } = &mut h.state else {
            return match h.state {
                State::Failed(errno) => Err(err(errno)),
                _ => Err(err(EAGAIN)),
            };
        };
        for &(card, s) in socks.iter() {
            let socket = stack.cards[card].sockets.get_mut::<udp::Socket>(s);
            while let Ok((data, meta)) = socket.recv() {
                if *connected && peer.is_some_and(|(_, p)| p != meta.endpoint) {
                    continue;
                }
                let n = buf.len().min(data.len());
                buf[..n].copy_from_slice(&data[..n]);
                if !*connected {
                    *peer = Some((card, meta.endpoint));
                }
                return Ok(n);
            }
        }
        Err(err(EAGAIN))
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        self.progress(handle)?;
        let mut stack = self.stack.borrow_mut();
        let h = self.handles.get_mut(handle)?;
        h.told.remove(EventFlags::EVENT_WRITE);
        let State::Open { socks, peer, .. } = &h.state else {
            return match h.state {
                State::Failed(errno) => Err(err(errno)),
                _ => Err(err(EAGAIN)),
            };
        };
        let (card, to) = peer.ok_or(err(EDESTADDRREQ))?;
        if buf.len() > DATAGRAM_MAX {
            return Err(err(EMSGSIZE));
        }
        let &(_, s) = socks.iter().find(|(c, _)| *c == card).ok_or(err(EDESTADDRREQ))?;
        match stack.cards[card].sockets.get_mut::<udp::Socket>(s).send_slice(buf, to) {
            Ok(()) => Ok(buf.len()),
            Err(udp::SendError::BufferFull) => Err(err(EAGAIN)),
            Err(udp::SendError::Unaddressable) => Err(err(EINVAL)),
        }
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
        Ok(match &self.handles.get(handle)?.state {
            State::Resolving { port, .. } => format!("?:{port}"),
            State::Failed(_) => String::new(),
            State::Open { local, peer, .. } => match peer {
                Some((_, p)) => format!("{p}/:{local}"),
                None => format!("/:{local}"),
            },
        })
    }

    fn close(&mut self, handle: usize) {
        let Some(h) = self.handles.remove(handle) else { return };
        let mut stack = self.stack.borrow_mut();
        match h.state {
            State::Resolving { query, .. } => stack.cancel(query),
            State::Open { socks, .. } => {
                for (card, s) in socks {
                    stack.cards[card].sockets.remove(s);
                }
            }
            State::Failed(_) => {}
        }
    }

    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        crate::ready::drain(self, events);
    }
}

impl crate::ready::Readiness for Udp {
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
