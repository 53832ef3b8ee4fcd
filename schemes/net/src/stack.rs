//! The TCP/IP stack: one smoltcp interface per network card, each with
//! its own sockets, its address from DHCP (or set through `netcfg:`, or
//! the fallback from `init.rc` when no DHCP server answers), its default
//! route and DNS servers; and what every scheme shares: choosing the card
//! for a destination, DNS queries, TCP listeners and the TCP connections
//! a program closed that are still saying goodbye.
//!
//! Everything runs in `netd`'s one thread: [`Stack::poll`] moves frames
//! between the cards and the sockets, and the schemes
//! (`tcp`, `udp`, `icmp`, `netcfg`) act on the sockets between polls.
//!
//! May touch: the cards' `network:N` files (through [`Frames`]).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::{dhcpv4, dns, tcp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{DnsQueryType, EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address, Ipv4Cidr};

use crate::device::{Counters, Frames};

/// Frames taken from one card in one poll before the others get a turn.
const INGRESS_BURST: usize = 256;
/// How often a card's listeners are looked at when no frame to one of
/// their ports asked for it (their handshakes time out after seconds).
const LISTENERS_EVERY: Duration = Duration::from_millis(100);
/// DNS queries in flight per card.
const DNS_QUERIES: usize = 8;
/// TCP buffers of a connection: over 64 KiB received, so the window is
/// scaled (RFC 7323).
pub const TCP_RX: usize = 72 * 1024;
pub const TCP_TX: usize = 32 * 1024;
/// Closed TCP sockets kept per card for the next connections: a kept
/// socket comes with its buffers, where a new one costs allocating and
/// zeroing 104 KiB (about 13,000 instructions, the largest part of a
/// short connection's `memset` in `cargo mk bench --profile-net`). Few,
/// so that netd's memory still comes back after a load: at most this
/// × 104 KiB held.
const TCP_KEPT: usize = 2;
/// Listening sockets kept ready per listener and card, and connections
/// that may wait to be accepted (beyond them a SYN is dropped, and the
/// peer sends it again later). At most `BACKLOG` × 104 KiB of buffers.
const LISTEN_SPARE: usize = 4;
pub const BACKLOG: usize = 256;
/// TCP connections (all states) per card: beyond them, `ENFILE`.
pub const TCP_MAX: usize = 512;
/// How long a connection a program closed may take to finish.
const LINGER: Duration = Duration::from_secs(30);
/// A TCP peer that stops answering is given up after this long.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a connection request may take to complete its handshake
/// (the answer sent again at 1, 2 and 4 s): a flood of requests nobody
/// completes, from addresses that do not exist, holds sockets (and keeps
/// the card asking ARP for those addresses) for no longer than this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long card 0 waits for DHCP before taking the fallback address.
const FALLBACK_AFTER: Duration = Duration::from_secs(5);

/// How a card got its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Asking DHCP; no lease yet.
    Waiting,
    Dhcp,
    /// Set through `netcfg:`.
    Static,
    /// `init.rc`'s fallback, after DHCP did not answer.
    Fallback,
}

impl How {
    pub fn name(self) -> &'static str {
        match self {
            How::Waiting => "waiting for dhcp",
            How::Dhcp => "dhcp",
            How::Static => "static",
            How::Fallback => "fallback",
        }
    }
}

/// The fallback address of card 0 (`netd --fallback ADDR/PREFIX GATEWAY DNS`).
#[derive(Clone, Debug)]
pub struct Fallback {
    pub address: Ipv4Cidr,
    pub gateway: Option<Ipv4Address>,
    pub dns: Vec<Ipv4Address>,
}

pub struct Card {
    /// `eth0`, `eth1`, ...
    pub name: String,
    /// `network:N`.
    pub driver: String,
    pub mac: EthernetAddress,
    pub frames: Frames,
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
    dhcp: SocketHandle,
    dns: SocketHandle,
    pub how: How,
    pub address: Option<Ipv4Cidr>,
    pub gateway: Option<Ipv4Address>,
    pub dns_servers: Vec<Ipv4Address>,
    /// TCP sockets in [`Card::sockets`].
    pub tcp_count: usize,
    /// Closed TCP sockets kept for reuse ([`TCP_KEPT`]).
    kept_tcp: Vec<tcp::Socket<'static>>,
    /// When `Stack::poll` last looked at the listeners without a frame
    /// that asked for it.
    listeners_looked: Instant,
}

impl Card {
    /// Take TCP socket `handle` out of the set, closed (no RST goes out:
    /// callers that owe one poll first), and keep it for reuse if fewer
    /// than [`TCP_KEPT`] are kept.
    fn remove_tcp(&mut self, handle: SocketHandle) {
        if let smoltcp::socket::Socket::Tcp(mut socket) = self.sockets.remove(handle)
            && self.kept_tcp.len() < TCP_KEPT
        {
            socket.abort();
            self.kept_tcp.push(socket);
        }
        self.tcp_count -= 1;
    }

    pub fn new(
        index: usize,
        driver: String,
        mac: EthernetAddress,
        mut frames: Frames,
        now: Instant,
        seed: u64,
    ) -> Card {
        let mut config = Config::new(HardwareAddress::Ethernet(mac));
        config.random_seed = seed;
        let iface = Interface::new(config, &mut frames, now);
        let mut sockets = SocketSet::new(Vec::new());
        let dhcp = sockets.add(dhcpv4::Socket::new());
        let dns = sockets.add(dns::Socket::new(&[], (0..DNS_QUERIES).map(|_| None).collect::<Vec<_>>()));
        Card {
            name: format!("eth{index}"),
            driver,
            mac,
            frames,
            iface,
            sockets,
            dhcp,
            dns,
            how: How::Waiting,
            address: None,
            gateway: None,
            dns_servers: Vec::new(),
            tcp_count: 0,
            kept_tcp: Vec::new(),
            listeners_looked: now,
        }
    }

    pub fn counters(&self) -> Counters {
        self.frames.counters
    }

    /// Take `address` (none: forget it), `gateway` and `dns`.
    pub fn configure(&mut self, how: How, address: Option<Ipv4Cidr>, gateway: Option<Ipv4Address>) {
        self.how = how;
        self.address = address;
        self.iface.update_ip_addrs(|addrs| {
            addrs.clear();
            if let Some(a) = address {
                let _ = addrs.push(IpCidr::Ipv4(a));
            }
        });
        self.set_gateway(gateway);
    }

    pub fn set_gateway(&mut self, gateway: Option<Ipv4Address>) {
        self.gateway = gateway;
        match gateway {
            Some(gw) => {
                let _ = self.iface.routes_mut().add_default_ipv4_route(gw);
            }
            None => {
                self.iface.routes_mut().remove_default_ipv4_route();
            }
        }
    }

    pub fn set_dns(&mut self, servers: Vec<Ipv4Address>) {
        let addrs: Vec<IpAddress> = servers.iter().map(|&s| IpAddress::Ipv4(s)).collect();
        self.sockets.get_mut::<dns::Socket>(self.dns).update_servers(&addrs);
        self.dns_servers = servers;
    }

    /// Turn DHCP back on (after a static address), or off.
    pub fn use_dhcp(&mut self, on: bool) {
        if on {
            self.configure(How::Waiting, None, None);
            self.sockets.get_mut::<dhcpv4::Socket>(self.dhcp).reset();
        }
    }

    fn dhcp_event(&mut self) {
        let event = self.sockets.get_mut::<dhcpv4::Socket>(self.dhcp).poll();
        match event {
            Some(dhcpv4::Event::Configured(config)) => {
                if matches!(self.how, How::Static) {
                    return;
                }
                let servers: Vec<Ipv4Address> = config.dns_servers.iter().copied().collect();
                let (address, router) = (config.address, config.router);
                self.configure(How::Dhcp, Some(address), router);
                self.set_dns(servers);
                log::info!(
                    "{}: {} by DHCP, gateway {}, DNS {}",
                    self.name,
                    address,
                    router.map_or_else(|| String::from("none"), |r| format!("{r}")),
                    list(&self.dns_servers)
                );
            }
            Some(dhcpv4::Event::Deconfigured) => {
                if matches!(self.how, How::Dhcp) {
                    self.configure(How::Waiting, None, None);
                    log::warn!("{}: DHCP lease lost", self.name);
                }
            }
            None => {}
        }
    }

    /// Whether `dst` is on this card's own network.
    fn is_local(&self, dst: Ipv4Address) -> bool {
        self.address.is_some_and(|a| a.contains_addr(&dst))
    }
}

/// `52:54:00:12:34:56` (smoltcp writes dashes; `network:N/mac` colons).
pub fn mac_text(mac: EthernetAddress) -> String {
    let b = mac.0;
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
}

/// Addresses as `a, b` (or `none`).
pub fn list(addrs: &[Ipv4Address]) -> String {
    if addrs.is_empty() {
        return String::from("none");
    }
    addrs.iter().map(|a| format!("{a}")).collect::<Vec<_>>().join(", ")
}

/// A TCP socket: which card's set it is in, and its handle there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sock {
    pub card: usize,
    pub handle: SocketHandle,
}

/// A listening port: sockets waiting for a SYN on every card, and the
/// connections they made that nobody accepted yet.
pub struct Listener {
    pub local: Option<Ipv4Address>,
    spare: Vec<Sock>,
    pub pending: Vec<Sock>,
}

pub struct Stack {
    pub cards: Vec<Card>,
    fallback: Option<Fallback>,
    started: Instant,
    /// By port.
    pub listeners: BTreeMap<u16, Listener>,
    /// Closed by their program, finishing (FIN exchange) until the
    /// deadline, then aborted.
    closing: Vec<(Sock, Instant)>,
    next_port: u16,
    /// Turns of netd's loop (woken by a frame, a request or the timer).
    pub turns: u64,
}

/// Ephemeral ports (IANA's range).
const EPHEMERAL: core::ops::RangeInclusive<u16> = 49152..=65535;

impl Stack {
    pub fn new(cards: Vec<Card>, fallback: Option<Fallback>, now: Instant, seed: u64) -> Stack {
        let span = u64::from(EPHEMERAL.end() - EPHEMERAL.start());
        let next_port = EPHEMERAL.start() + (seed % span) as u16;
        Stack { cards, fallback, started: now, listeners: BTreeMap::new(), closing: Vec::new(), next_port, turns: 0 }
    }

    /// Move frames in and out of every card; true when some socket may
    /// have changed (data, state).
    pub fn poll(&mut self, now: Instant) -> bool {
        let mut changed = false;
        for index in 0..self.cards.len() {
            // The listeners were looked at after the last frame taken in.
            let mut looked = false;
            for _ in 0..INGRESS_BURST {
                let card = &mut self.cards[index];
                match card.iface.poll_ingress_single(now, &mut card.frames, &mut card.sockets) {
                    PollIngressSingleResult::None => break,
                    PollIngressSingleResult::PacketProcessed => {}
                    PollIngressSingleResult::SocketStateChanged => changed = true,
                }
                looked = false;
                // A frame to a listening port (a SYN that took a listening
                // socket, the ACK that finished a handshake, a reset): the
                // listeners are looked at before the next frame, so a burst
                // of connections is neither reset nor let past a full
                // backlog. Other frames leave them as they were.
                let card = &mut self.cards[index];
                if card.frames.last_tcp_port.take().is_some_and(|port| self.listeners.contains_key(&port)) {
                    self.refill(index);
                    looked = true;
                }
            }
            let card = &mut self.cards[index];
            if card.iface.poll(now, &mut card.frames, &mut card.sockets) == PollResult::SocketStateChanged {
                changed = true;
            }
            // And after a TCP segment smoltcp's own `poll` took in, or
            // every [`LISTENERS_EVERY`] whatever came (a handshake or a
            // connection waiting to be accepted may have timed out).
            let card = &mut self.cards[index];
            let late = card.frames.last_tcp_port.take().is_some();
            if late || (!looked && now >= card.listeners_looked + LISTENERS_EVERY) {
                card.listeners_looked = now;
                self.refill(index);
            }
            let card = &mut self.cards[index];
            card.dhcp_event();
            // Everything this poll made goes to the driver in one batch.
            card.frames.flush();
        }
        self.fall_back(now);
        self.reap(now);
        changed
    }

    /// A card whose driver failed, and how.
    pub fn failed(&self) -> Option<(String, rt::Error)> {
        self.cards.iter().find_map(|c| c.frames.failed.map(|err| (c.driver.clone(), err)))
    }

    /// Whether a card may still hold frames (a burst was cut short), so
    /// the loop should run again without waiting.
    pub fn rx_backlog(&self) -> bool {
        self.cards.iter().any(|c| c.frames.rx_ready)
    }

    /// When smoltcp next wants a poll (timers, retransmissions).
    pub fn poll_delay(&mut self, now: Instant) -> Option<Duration> {
        let mut delay: Option<Duration> = None;
        for card in &mut self.cards {
            if let Some(d) = card.iface.poll_delay(now, &card.sockets) {
                delay = Some(delay.map_or(d, |e| e.min(d)));
            }
        }
        if self.fallback.is_some() && self.cards.first().is_some_and(|c| c.how == How::Waiting) {
            let left = (self.started + FALLBACK_AFTER) - now.min(self.started + FALLBACK_AFTER);
            delay = Some(delay.map_or(left, |d| d.min(left)));
        }
        if let Some(&(_, deadline)) = self.closing.iter().min_by_key(|(_, d)| *d) {
            let left = if deadline > now { deadline - now } else { Duration::ZERO };
            delay = Some(delay.map_or(left, |d| d.min(left)));
        }
        delay
    }

    fn fall_back(&mut self, now: Instant) {
        let Some(card) = self.cards.first_mut() else { return };
        if card.how != How::Waiting || now < self.started + FALLBACK_AFTER {
            return;
        }
        let Some(fallback) = self.fallback.take() else { return };
        card.configure(How::Fallback, Some(fallback.address), fallback.gateway);
        card.set_dns(fallback.dns.clone());
        log::info!(
            "{}: no DHCP answer; using {} (gateway {}, DNS {})",
            card.name,
            fallback.address,
            fallback.gateway.map_or_else(|| String::from("none"), |g| format!("{g}")),
            list(&fallback.dns)
        );
    }

    /// The card to reach `dst` through: the one on its network, else the
    /// first with a default route.
    pub fn route(&self, dst: Ipv4Address) -> Option<usize> {
        self.cards
            .iter()
            .position(|c| c.is_local(dst))
            .or_else(|| self.cards.iter().position(|c| c.address.is_some() && c.gateway.is_some()))
    }

    /// A local port no TCP socket uses.
    pub fn ephemeral_port(&mut self) -> u16 {
        for _ in 0..=(EPHEMERAL.end() - EPHEMERAL.start()) {
            let port = self.next_port;
            self.next_port = if port == *EPHEMERAL.end() { *EPHEMERAL.start() } else { port + 1 };
            if !self.tcp_port_used(port) {
                return port;
            }
        }
        *EPHEMERAL.start()
    }

    fn tcp_port_used(&self, port: u16) -> bool {
        self.listeners.contains_key(&port)
            || self.cards.iter().any(|c| {
                c.sockets.iter().any(|(_, s)| match s {
                    smoltcp::socket::Socket::Tcp(t) => t.local_endpoint().is_some_and(|e| e.port == port),
                    _ => false,
                })
            })
    }

    /// A new TCP socket on `card`, or `None` at [`TCP_MAX`].
    pub fn tcp_socket(&mut self, card: usize) -> Option<Sock> {
        let c = self.cards.get_mut(card)?;
        if c.tcp_count >= TCP_MAX {
            return None;
        }
        // A kept socket is closed; its `listen` or `connect` clears it.
        let mut socket = c.kept_tcp.pop().unwrap_or_else(|| {
            tcp::Socket::new(tcp::SocketBuffer::new(vec![0u8; TCP_RX]), tcp::SocketBuffer::new(vec![0u8; TCP_TX]))
        });
        socket.set_timeout(Some(TCP_TIMEOUT));
        socket.set_keep_alive(Some(Duration::from_secs(30)));
        // smoltcp's delayed ACK (10 ms, or at once for a second full
        // segment) is kept: an answer carries the ACK of its request, and a
        // bulk sender's segments are acknowledged two at a time, so fewer
        // frames cross to the driver (two switches a crossing). ACKing
        // every segment at once cost an HTTP request on a kept-alive
        // connection 16.3 switches instead of 14.5 (`sys:cpu`).
        c.tcp_count += 1;
        Some(Sock { card, handle: c.sockets.add(socket) })
    }

    fn state(&self, sock: Sock) -> tcp::State {
        self.cards[sock.card].sockets.get::<tcp::Socket>(sock.handle).state()
    }

    pub fn tcp(&mut self, sock: Sock) -> &mut tcp::Socket<'static> {
        self.cards[sock.card].sockets.get_mut::<tcp::Socket>(sock.handle)
    }

    /// Remove a TCP socket now.
    pub fn drop_tcp(&mut self, sock: Sock) {
        self.cards[sock.card].remove_tcp(sock.handle);
    }

    /// A program closed its connection: finish it (FIN) in the
    /// background, abort it if that takes too long.
    pub fn close_tcp(&mut self, sock: Sock, now: Instant) {
        self.tcp(sock).close();
        self.closing.push((sock, now + LINGER));
    }

    fn reap(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.closing.len() {
            let (sock, deadline) = self.closing[i];
            let socket = self.tcp(sock);
            let finished = match socket.state() {
                tcp::State::Closed | tcp::State::TimeWait => true,
                // Both FINs crossed (the peer closed as we did) and all we
                // sent before ours is acknowledged: only the ACK of our FIN
                // is missing, and with it the socket would be in TIME-WAIT,
                // reaped at once. QEMU's user network never sends that ACK
                // when its host client closed first, and a socket left to
                // the deadline is one more that smoltcp visits on every
                // poll: 250 of them made each frame cost about 100,000
                // instructions (`cargo mk bench --profile-net`).
                tcp::State::Closing => socket.send_queue() == 0,
                _ => false,
            };
            if finished || now >= deadline {
                self.tcp(sock).abort();
                // Let the abort's RST go out before the socket goes.
                let card = &mut self.cards[sock.card];
                card.iface.poll(now, &mut card.frames, &mut card.sockets);
                card.frames.flush();
                self.drop_tcp(sock);
                self.closing.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Listen on `port` (on `local`, or every address).
    pub fn listen(&mut self, port: u16, local: Option<Ipv4Address>) {
        self.listeners.insert(port, Listener { local, spare: Vec::new(), pending: Vec::new() });
        for card in 0..self.cards.len() {
            self.refill(card);
        }
    }

    /// Stop listening on `port`: every socket of it goes.
    pub fn unlisten(&mut self, port: u16) {
        for card in &mut self.cards {
            card.frames.full_ports.retain(|&p| p != port);
        }
        if let Some(listener) = self.listeners.remove(&port) {
            for sock in listener.spare.into_iter().chain(listener.pending) {
                self.tcp(sock).abort();
                self.drop_tcp(sock);
            }
        }
    }

    /// Keep [`LISTEN_SPARE`] sockets listening on `card` for each port:
    /// one that got a SYN moves to the port's pending connections.
    ///
    /// Runs after every frame to a listening port (a SYN may have taken a
    /// listening socket, an ACK finished a handshake), so it allocates
    /// nothing: the listeners leave `self` while their sockets are worked
    /// on.
    fn refill(&mut self, card: usize) {
        let mut listeners = core::mem::take(&mut self.listeners);
        for (&port, listener) in listeners.iter_mut() {
            let local = listener.local;
            let Listener { spare, pending, .. } = listener;
            // Handshakes that failed leave nothing to accept.
            pending.retain(|&s| {
                let socket = self.cards[s.card].sockets.get_mut::<tcp::Socket>(s.handle);
                let state = socket.state();
                // A finished handshake: the connection gets the ordinary
                // timeout (smoltcp's is an idle one), however long it
                // then waits to be accepted.
                if state != tcp::State::SynReceived && socket.timeout() != Some(TCP_TIMEOUT) {
                    socket.set_timeout(Some(TCP_TIMEOUT));
                }
                let gone = state == tcp::State::Closed;
                if gone {
                    self.cards[s.card].remove_tcp(s.handle);
                }
                !gone
            });
            spare.retain(|&s| {
                let listening = self.cards[s.card].sockets.get::<tcp::Socket>(s.handle).is_listening();
                if !listening {
                    pending.push(s);
                }
                listening
            });
            let on_card = spare.iter().filter(|s| s.card == card).count();
            let has_address = self.cards[card].address.is_some();
            for _ in on_card..LISTEN_SPARE {
                if !has_address {
                    break;
                }
                if pending.len() >= BACKLOG {
                    // Full: the oldest half-open connection makes room (a
                    // flood of SYNs nobody completes must not lock the
                    // port until they time out); with none, SYNs wait.
                    let Some(oldest) = pending.iter().position(|&s| self.state(s) == tcp::State::SynReceived) else {
                        break;
                    };
                    let s = pending.remove(oldest);
                    self.drop_tcp(s);
                    self.cards[s.card].frames.counters.half_open_dropped += 1;
                }
                let Some(sock) = self.tcp_socket(card) else { break };
                let endpoint = smoltcp::wire::IpListenEndpoint { addr: local.map(IpAddress::Ipv4), port };
                self.tcp(sock).set_timeout(Some(HANDSHAKE_TIMEOUT));
                if self.tcp(sock).listen(endpoint).is_err() {
                    self.drop_tcp(sock);
                    break;
                }
                spare.push(sock);
            }
            let full = pending.len() >= BACKLOG && !pending.iter().any(|&s| self.state(s) == tcp::State::SynReceived);
            let ports = &mut self.cards[card].frames.full_ports;
            match (full, ports.iter().position(|&p| p == port)) {
                (true, None) => ports.push(port),
                (false, Some(i)) => {
                    ports.swap_remove(i);
                }
                _ => {}
            }
        }
        self.listeners = listeners;
    }

    /// A connection to `port` that finished its handshake, taken off the
    /// listener.
    pub fn accept(&mut self, port: u16) -> Option<Sock> {
        let listener = self.listeners.get(&port)?;
        let index = listener.pending.iter().position(|&s| {
            let state = self.cards[s.card].sockets.get::<tcp::Socket>(s.handle).state();
            !matches!(state, tcp::State::Listen | tcp::State::SynReceived | tcp::State::Closed)
        })?;
        let sock = self.listeners.get_mut(&port)?.pending.remove(index);
        for card in 0..self.cards.len() {
            self.refill(card);
        }
        Some(sock)
    }

    /// Whether a connection waits on `port`.
    pub fn can_accept(&self, port: u16) -> bool {
        self.listeners.get(&port).is_some_and(|l| {
            l.pending.iter().any(|&s| {
                let state = self.cards[s.card].sockets.get::<tcp::Socket>(s.handle).state();
                !matches!(state, tcp::State::Listen | tcp::State::SynReceived | tcp::State::Closed)
            })
        })
    }

    /// Start looking up `name` (A records): the servers are the first card's
    /// that has some, asked through the card that reaches the first of them
    /// (a server on a second card's network is asked there, not through
    /// the first card's gateway).
    pub fn resolve(&mut self, name: &str) -> Result<Query, Lookup> {
        let first = self.cards.iter().position(|c| !c.dns_servers.is_empty()).ok_or(Lookup::NoServer)?;
        let servers = self.cards[first].dns_servers.clone();
        let card = self.route(servers[0]).unwrap_or(first);
        if self.cards[card].dns_servers != servers {
            self.cards[card].set_dns(servers);
        }
        let c = &mut self.cards[card];
        let socket = c.sockets.get_mut::<dns::Socket>(c.dns);
        let handle = socket.start_query(c.iface.context(), name, DnsQueryType::A).map_err(|err| match err {
            dns::StartQueryError::NoFreeSlot => Lookup::Busy,
            _ => Lookup::BadName,
        })?;
        Ok(Query { card, handle })
    }

    /// The addresses of a lookup: `Ok(None)` while it is under way.
    pub fn lookup(&mut self, query: Query) -> Result<Option<Vec<Ipv4Address>>, Lookup> {
        let c = &mut self.cards[query.card];
        match c.sockets.get_mut::<dns::Socket>(c.dns).get_query_result(query.handle) {
            Ok(addrs) => {
                let v4: Vec<Ipv4Address> = addrs
                    .iter()
                    .filter_map(|a| match a {
                        IpAddress::Ipv4(v4) => Some(*v4),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    })
                    .collect();
                if v4.is_empty() { Err(Lookup::NotFound) } else { Ok(Some(v4)) }
            }
            Err(dns::GetQueryResultError::Pending) => Ok(None),
            Err(dns::GetQueryResultError::Failed) => Err(Lookup::NotFound),
        }
    }

    /// Give up a lookup nobody waits for any more.
    pub fn cancel(&mut self, query: Query) {
        let c = &mut self.cards[query.card];
        // A finished query is already gone from the socket.
        if matches!(
            c.sockets.get_mut::<dns::Socket>(c.dns).get_query_result(query.handle),
            Err(dns::GetQueryResultError::Pending)
        ) {
            c.sockets.get_mut::<dns::Socket>(c.dns).cancel_query(query.handle);
        }
    }
}

/// A DNS lookup under way.
#[derive(Clone, Copy)]
pub struct Query {
    card: usize,
    handle: dns::QueryHandle,
}

/// Why a lookup gave nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    NoServer,
    Busy,
    BadName,
    NotFound,
}

impl Lookup {
    pub fn errno(self) -> i32 {
        use scheme::sc::{EAGAIN, EINVAL, ENETUNREACH, ENOENT};
        match self {
            Lookup::NoServer => ENETUNREACH,
            Lookup::Busy => EAGAIN,
            Lookup::BadName => EINVAL,
            Lookup::NotFound => ENOENT,
        }
    }
}
