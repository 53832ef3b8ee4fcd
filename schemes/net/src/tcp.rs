//! `tcp:` (README "Network"): streams over TCP.
//!
//! - `tcp:HOST:PORT` connects (HOST an IPv4 address or a DNS name). The
//!   open returns at once; reads and writes wait until the connection is
//!   made (or give `EAGAIN` on an `O_NONBLOCK` fd), and a connection that
//!   fails gives its errno there: `ECONNREFUSED` (the peer reset the SYN),
//!   `ETIMEDOUT`, `ENETUNREACH` (no card has a route), `ENOENT` (the name
//!   does not resolve). `fsync` waits until the connection is made and
//!   everything written was acknowledged, so a program learns at once
//!   whether it is connected.
//! - `tcp:ADDR:PORT` or `tcp::PORT` with `O_CREAT` listens (ports below
//!   1024 only for root; a port taken gives `EADDRINUSE`), and
//!   `dup(fd, "listen")` accepts: the next connection as a new fd, waiting
//!   for one (or `EAGAIN`). A listener's fd is readable when a connection
//!   waits, and reported again after an accept that leaves more waiting
//!   (`ready.rs`), so a server takes one per event.
//! - A read gives what arrived (0 at the peer's end of stream,
//!   `ECONNRESET` after a reset); a write takes what fits in the send
//!   buffer (`EPIPE` once the connection is shut). `ftruncate(fd, 0)`
//!   ends the sending side (a FIN after what was written, as Linux's
//!   `shutdown(SHUT_WR)`) while reads go on. Closing ends the connection
//!   with a FIN in the background.
//! - `fpath` gives `REMOTE/LOCAL` (`10.0.2.2:8000/10.0.2.15:49152`), or
//!   the listening `ADDR:PORT`; `event:` readiness for reads and writes.
//! - `dup(fd, "read_timeout")` bounds how long a read waits (then
//!   `ETIMEDOUT`): `lib/scheme`'s `ReadTimeouts`, for `udp:` and `icmp:` too.
//!
//! Buffers are bounded (`stack::TCP_RX`, `stack::TCP_TX` per connection):
//! a program that stops reading closes the window, and the peer waits.
//!
//! May touch: the shared [`Stack`].

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use core::cell::RefCell;

use net_addr::Host;
use scheme::sc::{
    EACCES, EADDRINUSE, EAGAIN, ECONNREFUSED, ECONNRESET, EINVAL, ENETUNREACH, ENFILE, EPIPE, ETIMEDOUT, MODE_SOCK,
    O_CREAT,
};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat};
use smoltcp::socket::tcp::State;
use smoltcp::time::Instant;
use smoltcp::wire::{IpAddress, Ipv4Address};

use crate::stack::{Query, Sock, Stack, TCP_TIMEOUT};

enum Conn {
    /// Looking up the host's name, to connect to `port` there.
    Resolving {
        query: Query,
        port: u16,
    },
    Stream {
        sock: Sock,
        since: Instant,
        /// The handshake completed once.
        made: bool,
        /// The peer sent its FIN (so a later `Closed` is an orderly end).
        peer_done: bool,
    },
    Listener {
        port: u16,
    },
    /// Ended with this errno before it was ever made.
    Failed(i32),
}

struct Handle {
    conn: Conn,
    /// Readiness last reported to `event:` watchers.
    told: EventFlags,
}

pub struct Tcp {
    stack: Rc<RefCell<Stack>>,
    handles: Handles<Handle>,
}

pub fn now() -> Instant {
    Instant::from_micros(i64::try_from(rt::time::now().as_micros()).unwrap_or(i64::MAX))
}

fn err(errno: i32) -> Error {
    Error::new(errno)
}

/// Open a connection to `addr:port`.
fn connect(stack: &mut Stack, addr: Ipv4Address, port: u16) -> Result<Conn> {
    let card = stack.route(addr).ok_or(err(ENETUNREACH))?;
    let sock = stack.tcp_socket(card).ok_or(err(ENFILE))?;
    let local = stack.ephemeral_port();
    let c = &mut stack.cards[card];
    let cx = c.iface.context();
    let result = c.sockets.get_mut::<smoltcp::socket::tcp::Socket>(sock.handle).connect(
        cx,
        (IpAddress::Ipv4(addr), port),
        local,
    );
    if result.is_err() {
        stack.drop_tcp(sock);
        return Err(err(EINVAL));
    }
    Ok(Conn::Stream { sock, since: now(), made: false, peer_done: false })
}

/// Move a connection on: a finished lookup connects, a handshake that
/// completed or failed is noted.
fn advance(stack: &mut Stack, conn: &mut Conn) {
    if let Conn::Resolving { query, port } = *conn {
        *conn = match stack.lookup(query) {
            Ok(None) => return,
            Ok(Some(addrs)) => connect(stack, addrs[0], port).unwrap_or_else(|e| Conn::Failed(e.errno)),
            Err(lookup) => Conn::Failed(lookup.errno()),
        };
    }
    if let Conn::Stream { sock, since, made, peer_done } = conn {
        let state = stack.tcp(*sock).state();
        match state {
            State::SynSent | State::SynReceived | State::Listen => {}
            State::Closed if !*made => {
                let errno = if now() - *since >= TCP_TIMEOUT { ETIMEDOUT } else { ECONNREFUSED };
                let sock = *sock;
                stack.drop_tcp(sock);
                *conn = Conn::Failed(errno);
            }
            State::Closed => {}
            State::CloseWait | State::LastAck | State::Closing | State::TimeWait => {
                *made = true;
                *peer_done = true;
            }
            State::Established | State::FinWait1 | State::FinWait2 => *made = true,
        }
    }
}

/// What a connection is ready for.
fn readiness(stack: &Stack, conn: &Conn) -> EventFlags {
    match conn {
        Conn::Resolving { .. } => EventFlags::empty(),
        Conn::Failed(_) => EventFlags::EVENT_READ | EventFlags::EVENT_WRITE,
        Conn::Listener { port } => {
            if stack.can_accept(*port) {
                EventFlags::EVENT_READ
            } else {
                EventFlags::empty()
            }
        }
        Conn::Stream { sock, made, .. } => {
            let s = stack.cards[sock.card].sockets.get::<smoltcp::socket::tcp::Socket>(sock.handle);
            let mut ready = EventFlags::empty();
            if s.can_recv() || (*made && !s.may_recv()) {
                ready |= EventFlags::EVENT_READ;
            }
            if *made && (s.can_send() || !s.may_send()) {
                ready |= EventFlags::EVENT_WRITE;
            }
            ready
        }
    }
}

impl Tcp {
    pub fn new(stack: Rc<RefCell<Stack>>) -> Tcp {
        Tcp { stack, handles: Handles::new() }
    }

    /// Move connection `handle` on ([`advance`]).
    fn progress(&mut self, handle: usize) -> Result<()> {
        let mut stack = self.stack.borrow_mut();
        advance(&mut stack, &mut self.handles.get_mut(handle)?.conn);
        Ok(())
    }

    fn readiness(&self, handle: usize) -> EventFlags {
        let stack = self.stack.borrow();
        self.handles.get(handle).map_or(EventFlags::empty(), |h| readiness(&stack, &h.conn))
    }

    /// The errno of a stream that is over without an orderly end.
    fn broken(peer_done: bool) -> Result<usize> {
        if peer_done { Ok(0) } else { Err(err(ECONNRESET)) }
    }
}

impl Scheme for Tcp {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        let endpoint = net_addr::endpoint(path).map_err(|_| err(EINVAL))?;
        let mut stack = self.stack.borrow_mut();
        let conn = if flags & O_CREAT != 0 {
            let local = match endpoint.host {
                Host::Any => None,
                Host::Addr(a) => Some(a),
                Host::Name(_) => return Err(err(EINVAL)),
            };
            if endpoint.port < 1024 && caller.uid != 0 {
                return Err(err(EACCES));
            }
            if stack.listeners.contains_key(&endpoint.port) {
                return Err(err(EADDRINUSE));
            }
            stack.listen(endpoint.port, local);
            Conn::Listener { port: endpoint.port }
        } else {
            match endpoint.host {
                Host::Any => return Err(err(EINVAL)),
                Host::Addr(a) => connect(&mut stack, a, endpoint.port)?,
                Host::Name(name) => match stack.resolve(name) {
                    Ok(query) => Conn::Resolving { query, port: endpoint.port },
                    Err(lookup) => return Err(err(lookup.errno())),
                },
            }
        };
        let stream = matches!(conn, Conn::Resolving { .. } | Conn::Stream { .. });
        let handle = self.handles.insert(Handle { conn, told: EventFlags::empty() });
        Ok(if stream { Opened::Stream(handle) } else { Opened::Handle(handle) })
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        self.progress(handle)?;
        let mut stack = self.stack.borrow_mut();
        let h = self.handles.get_mut(handle)?;
        h.told.remove(EventFlags::EVENT_READ);
        match h.conn {
            Conn::Resolving { .. } => Err(err(EAGAIN)),
            Conn::Failed(errno) => Err(err(errno)),
            Conn::Listener { .. } => Err(err(EINVAL)),
            Conn::Stream { sock, made, peer_done, .. } => {
                let s = stack.tcp(sock);
                if buf.is_empty() {
                    return Ok(0);
                }
                if s.can_recv() {
                    return s.recv_slice(buf).map_err(|_| err(ECONNRESET));
                }
                match s.state() {
                    State::SynSent | State::SynReceived | State::Listen => Err(err(EAGAIN)),
                    State::Established | State::FinWait1 | State::FinWait2 => Err(err(EAGAIN)),
                    State::CloseWait | State::LastAck | State::Closing | State::TimeWait => Ok(0),
                    State::Closed if made => Self::broken(peer_done),
                    State::Closed => Err(err(ECONNRESET)),
                }
            }
        }
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        self.progress(handle)?;
        let mut stack = self.stack.borrow_mut();
        let h = self.handles.get_mut(handle)?;
        h.told.remove(EventFlags::EVENT_WRITE);
        match h.conn {
            Conn::Resolving { .. } => Err(err(EAGAIN)),
            Conn::Failed(errno) => Err(err(errno)),
            Conn::Listener { .. } => Err(err(EINVAL)),
            Conn::Stream { sock, peer_done, .. } => {
                let s = stack.tcp(sock);
                match s.state() {
                    State::SynSent | State::SynReceived | State::Listen => return Err(err(EAGAIN)),
                    State::Closed if !peer_done => return Err(err(ECONNRESET)),
                    _ => {}
                }
                if !s.may_send() {
                    return Err(err(EPIPE));
                }
                if buf.is_empty() {
                    return Ok(0);
                }
                match s.send_slice(buf) {
                    Ok(0) => Err(err(EAGAIN)),
                    Ok(n) => Ok(n),
                    Err(_) => Err(err(EPIPE)),
                }
            }
        }
    }

    /// The send buffer's free space while the connection may send: what
    /// the kernel may post (`Opened::Stream`), all of which [`Self::write`]
    /// takes whole. None before the handshake, or once sending is shut.
    fn write_room(&mut self, handle: usize) -> usize {
        let mut stack = self.stack.borrow_mut();
        let Ok(h) = self.handles.get(handle) else { return 0 };
        match h.conn {
            Conn::Stream { sock, .. } => {
                let s = stack.tcp(sock);
                match s.state() {
                    State::Established | State::CloseWait if s.may_send() => s.send_capacity() - s.send_queue(),
                    _ => 0,
                }
            }
            _ => 0,
        }
    }

    const HANDS_OVER_RECEIVED: bool = true;

    /// What arrived, if it all fits `buf`: handed to the kernel ahead of
    /// the reads (`lib/scheme`), so a reader gets it without a call here.
    fn peek_received(&mut self, handle: usize, buf: &mut [u8]) -> usize {
        let mut stack = self.stack.borrow_mut();
        let Ok(h) = self.handles.get(handle) else { return 0 };
        let Conn::Stream { sock, .. } = h.conn else { return 0 };
        let s = stack.tcp(sock);
        let queued = s.recv_queue();
        if queued == 0 || queued > buf.len() {
            return 0;
        }
        s.peek_slice(&mut buf[..queued]).unwrap_or(0)
    }

    /// The kernel took them: read them out of the socket (which opens the
    /// window), and report the connection readable again when more come.
    fn take_received(&mut self, handle: usize, n: usize) {
        let mut stack = self.stack.borrow_mut();
        let Ok(h) = self.handles.get_mut(handle) else { return };
        h.told.remove(EventFlags::EVENT_READ);
        let Conn::Stream { sock, .. } = h.conn else { return };
        let s = stack.tcp(sock);
        let mut sink = [0u8; 512];
        let mut left = n;
        while left > 0 {
            match s.recv_slice(&mut sink[..left.min(512)]) {
                Ok(0) | Err(_) => break,
                Ok(got) => left -= got,
            }
        }
    }

    fn fsync(&mut self, handle: usize) -> Result<()> {
        self.progress(handle)?;
        let mut stack = self.stack.borrow_mut();
        match self.handles.get(handle)?.conn {
            Conn::Resolving { .. } => Err(err(EAGAIN)),
            Conn::Failed(errno) => Err(err(errno)),
            Conn::Listener { .. } => Ok(()),
            Conn::Stream { sock, made, peer_done, .. } => {
                let s = stack.tcp(sock);
                match s.state() {
                    State::SynSent | State::SynReceived | State::Listen => Err(err(EAGAIN)),
                    State::Closed if made && !peer_done => Err(err(ECONNRESET)),
                    _ if s.send_queue() > 0 && s.may_send() => Err(err(EAGAIN)),
                    _ => Ok(()),
                }
            }
        }
    }

    fn ftruncate(&mut self, handle: usize, _len: usize) -> Result<()> {
        self.progress(handle)?;
        match self.handles.get(handle)?.conn {
            Conn::Stream { sock, .. } => {
                self.stack.borrow_mut().tcp(sock).close();
                Ok(())
            }
            Conn::Failed(errno) => Err(err(errno)),
            _ => Err(err(EINVAL)),
        }
    }

    fn dup(&mut self, handle: usize, name: &[u8], _caller: &Caller) -> Result<Opened> {
        let h = self.handles.get_mut(handle)?;
        let Conn::Listener { port } = h.conn else { return Err(err(EINVAL)) };
        if name != b"listen" {
            return Err(err(EINVAL));
        }
        h.told.remove(EventFlags::EVENT_READ);
        let sock = self.stack.borrow_mut().accept(port).ok_or(err(EAGAIN))?;
        let conn = Conn::Stream { sock, since: now(), made: true, peer_done: false };
        Ok(Opened::Stream(self.handles.insert(Handle { conn, told: EventFlags::empty() })))
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        self.progress(handle)?;
        let ready = self.readiness(handle);
        let h = self.handles.get_mut(handle)?;
        h.told = ready;
        Ok(ready & interest)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        self.handles.get(handle)?;
        stat.st_mode = MODE_SOCK | 0o666;
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        let mut stack = self.stack.borrow_mut();
        Ok(match self.handles.get(handle)?.conn {
            Conn::Resolving { port, .. } => format!("?:{port}"),
            Conn::Failed(_) => String::new(),
            Conn::Listener { port } => match stack.listeners.get(&port).and_then(|l| l.local) {
                Some(addr) => format!("{addr}:{port}"),
                None => format!(":{port}"),
            },
            Conn::Stream { sock, .. } => {
                let s = stack.tcp(sock);
                let show = |e: Option<smoltcp::wire::IpEndpoint>| e.map_or_else(String::new, |e| format!("{e}"));
                format!("{}/{}", show(s.remote_endpoint()), show(s.local_endpoint()))
            }
        })
    }

    fn close(&mut self, handle: usize) {
        let Some(h) = self.handles.remove(handle) else { return };
        let mut stack = self.stack.borrow_mut();
        match h.conn {
            Conn::Resolving { query, .. } => stack.cancel(query),
            Conn::Stream { sock, .. } => stack.close_tcp(sock, now()),
            Conn::Listener { port } => stack.unlisten(port),
            Conn::Failed(_) => {}
        }
    }

    /// `ready.rs`'s rule in one walk over the connections. The generic
    /// [`crate::ready::drain`] collects the handles and looks each up three
    /// times; run after every turn, that was about 1,200 instructions per
    /// frame of the HTTP benchmark rows (a twentieth of all), this about
    /// 350 (`cargo mk bench --profile-net`).
    fn drain_events(&mut self, events: &mut alloc::vec::Vec<(usize, EventFlags)>) {
        let mut stack = self.stack.borrow_mut();
        for (handle, h) in self.handles.iter_mut() {
            advance(&mut stack, &mut h.conn);
            let ready = readiness(&stack, &h.conn);
            crate::ready::tell(&mut h.told, ready, handle, events);
        }
    }
}
