//! `netd`: TCP/IP for Ferrite, on smoltcp, over every network card a
//! driver serves in `network:` (README "Network").
//!
//! Set-up, as root: read the `network:` listing, open each card's frames
//! (`network:N/ring`, its ring of received frames mapped) and MAC
//! (`network:N/mac`), make one smoltcp interface per card (DHCP on each; the first card takes `--fallback ADDR/PREFIX
//! GATEWAY DNS` when no DHCP server answers in five seconds), register
//! `tcp:`, `udp:`, `icmp:`, `netcfg:` and `ip:`, enter the null namespace and
//! serve as uid [`NET_UID`].
//!
//! The loop waits on one `event:` queue for the four scheme sockets, the
//! cards' frames and a `time:` timer set to when smoltcp next needs to run
//! (retransmissions, DHCP, ARP, a socket's read timeout), or in a second at most, when it reads
//! the cards anyway (a driver that died sends no event). Each turn: move frames through the stack,
//! answer requests, move frames again (what the requests queued), then
//! retry the parked requests of every scheme and tell `event:` watchers
//! what became ready.
//!
//! May touch: its cards' files, its scheme sockets, its timer.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod device;
mod icmp;
mod ip;
mod netcfg;
mod ready;
mod stack;
mod tcp;
mod udp;

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use rt::event::{EventQueue, Timer};
use rt::fs::File;
use scheme::sc::{self, EINTR, Event};
use scheme::{Error, EventFlags, Result, Scheme, Server};
use smoltcp::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

use crate::device::Frames;
use crate::stack::{Card, Fallback, Stack};

rt::main!(main);

/// The unprivileged user netd serves as.
const NET_UID: u32 = 63;
/// Event data: the schemes' sockets, the timer, then card `n` at `CARD_BASE + n`.
const TCP: usize = 0;
const UDP: usize = 1;
const ICMP: usize = 2;
const NETCFG: usize = 3;
const IP: usize = 4;
const TIMER: usize = 5;
const CARD_BASE: usize = 16;
/// The longest netd sleeps without reading its cards (a driver that died
/// sends no event).
const CHECK_CARDS: smoltcp::time::Duration = smoltcp::time::Duration::from_secs(1);
/// Turns of polling and retrying in one wake-up, at most.
const SETTLE: usize = 8;

fn usage() -> Error {
    log::error!("usage: netd [--fallback ADDR/PREFIX GATEWAY DNS]");
    Error::new(sc::EINVAL)
}

/// `--fallback ADDR/PREFIX GATEWAY DNS`.
fn fallback(args: &[&str]) -> Result<Option<Fallback>> {
    match args {
        [] => Ok(None),
        ["--fallback", cidr, gateway, dns] => {
            let (addr, prefix) = net_addr::cidr(cidr).map_err(|_| usage())?;
            let gateway = gateway.parse::<Ipv4Address>().map_err(|_| usage())?;
            let dns = dns.parse::<Ipv4Address>().map_err(|_| usage())?;
            Ok(Some(Fallback { address: Ipv4Cidr::new(addr, prefix), gateway: Some(gateway), dns: alloc::vec![dns] }))
        }
        _ => Err(usage()),
    }
}

/// `52:54:00:12:34:56` (a unicast address: smoltcp takes no other).
fn parse_mac(text: &str) -> Option<EthernetAddress> {
    let mut bytes = [0u8; 6];
    let mut parts = text.trim().split(':');
    for byte in &mut bytes {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    let mac = EthernetAddress(bytes);
    (parts.next().is_none() && mac.is_unicast()).then_some(mac)
}

/// Every card `network:` lists, opened.
fn cards(seed: u64) -> Result<Vec<Card>> {
    let listing = rt::fs::read_to_string("network:")?;
    let now = tcp::now();
    let mut cards = Vec::new();
    for name in listing.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let driver = alloc::format!("network:{name}");
        let mac = rt::fs::read_to_string(&alloc::format!("{driver}/mac")).ok().and_then(|text| parse_mac(&text));
        let Some(mac) = mac else {
            log::warn!("{driver}: no usable MAC address; card skipped");
            continue;
        };
        let frames = alloc::format!("{driver}/ring");
        let file = match File::open_with(&frames, sc::O_RDWR | sc::O_NONBLOCK | sc::O_CLOEXEC) {
            Ok(file) => file,
            Err(err) => {
                log::warn!("{driver}: {err}; card skipped");
                continue;
            }
        };
        // Without the ring every frame is read: slower, still correct.
        let ring = rt::mem::map_file_shared(file.fd(), 0, frame_ring::BYTES)
            .inspect_err(|err| log::warn!("{frames}: cannot map the ring ({err}); reading every frame"))
            .ok();
        // Without the ring to send every burst is a write.
        let send_ring = rt::mem::map_file_shared(file.fd(), frame_ring::SECOND_AT, frame_ring::BYTES)
            .and_then(|memory| Ok((memory, file.derive("kick")?)))
            .inspect_err(|err| log::warn!("{frames}: no ring to send ({err}); writing every burst"))
            .ok();
        let index = cards.len();
        let frames = Frames::new(file, ring, send_ring);
        cards.push(Card::new(index, driver, mac, frames, now, seed ^ index as u64));
    }
    Ok(cards)
}

/// Retry every scheme's parked requests (which also tells `event:`
/// watchers what became ready).
fn retry_all(
    tcp: &mut Server<tcp::Tcp>,
    udp: &mut Server<udp::Udp>,
    icmp: &mut Server<icmp::Icmp>,
    netcfg: &mut Server<netcfg::Netcfg>,
    ip: &mut Server<ip::Ip>,
) -> Result<()> {
    tcp.retry_parked()?;
    udp.retry_parked()?;
    icmp.retry_parked()?;
    netcfg.retry_parked()?;
    ip.retry_parked()
}

fn register<S: Scheme>(name: &str, scheme: S, queue: &EventQueue, data: usize) -> Result<Server<S>> {
    let server = Server::new(name, scheme).inspect_err(|err| log::error!("cannot register {name}: ({err})"))?;
    server.watch_on(queue, data)?;
    Ok(server)
}

/// Whether `pci:` lists a virtio network card (then its driver, if it is
/// not serving yet, is about to: it was just started again).
fn card_on_the_bus() -> bool {
    rt::fs::read_to_string("pci:").is_ok_and(|listing| {
        listing.lines().any(|line| matches!(line.split_whitespace().nth(1), Some("1af4:1041" | "1af4:1000")))
    })
}

/// How long to wait for `network:` when a card is on the bus.
const DRIVER_WITHIN: core::time::Duration = core::time::Duration::from_secs(5);

fn main() -> Result<()> {
    rt::log::init();
    let args: Vec<&str> = rt::env::args().skip(1).collect();
    let fallback = fallback(&args)?;
    if File::open("network:").is_err() {
        let deadline = rt::time::now() + DRIVER_WITHIN;
        let mut up = false;
        while card_on_the_bus() && rt::time::now() < deadline {
            rt::time::sleep(core::time::Duration::from_millis(50));
            if File::open("network:").is_ok() {
                up = true;
                break;
            }
        }
        if !up {
            // Not a failure: init does not start it again.
            log::info!("no network: scheme (no card driver); nothing to serve");
            return Ok(());
        }
    }
    let seed = rt::random::rdrand().unwrap_or_else(rt::random::tsc);
    let cards = cards(seed).inspect_err(|err| log::error!("cannot read network: ({err})"))?;
    if cards.is_empty() {
        // Not a failure: init does not start it again.
        log::info!("no network card; nothing to serve");
        return Ok(());
    }
    let card_fds: Vec<usize> = cards.iter().map(|c| c.frames.fd()).collect();
    let names: Vec<String> =
        cards.iter().map(|c| alloc::format!("{} ({}, {})", c.name, c.driver, stack::mac_text(c.mac))).collect();
    let stack = Rc::new(RefCell::new(Stack::new(cards, fallback, tcp::now(), seed)));

    let queue = EventQueue::new()?;
    let mut tcp = register("tcp", tcp::Tcp::new(stack.clone()), &queue, TCP)?;
    let mut udp = register("udp", udp::Udp::new(stack.clone()), &queue, UDP)?;
    let mut icmp = register("icmp", icmp::Icmp::new(stack.clone(), (seed >> 16) as u16), &queue, ICMP)?;
    let mut netcfg = register("netcfg", netcfg::Netcfg::new(stack.clone()), &queue, NETCFG)?;
    let mut ip = register("ip", ip::Ip::new(stack.clone()), &queue, IP)?;
    // `dup(fd, "read_timeout")` on the sockets (lib/scheme's `ReadTimeouts`).
    tcp.offer_read_timeouts();
    udp.offer_read_timeouts();
    icmp.offer_read_timeouts();
    let mut timer = Timer::new(&queue, TIMER)?;
    for (n, fd) in card_fds.iter().enumerate() {
        queue.watch(*fd, EventFlags::EVENT_READ, CARD_BASE + n)?;
    }
    tcp.confine().inspect_err(|err| log::error!("cannot enter the null namespace: {err}"))?;
    rt::sys::setuid(NET_UID, NET_UID).inspect_err(|err| log::error!("cannot become uid {NET_UID}: {err}"))?;
    for name in &names {
        log::info!("{name}: asking DHCP; serving tcp: udp: icmp: netcfg: ip:");
    }
    tcp.ready();

    let mut events = [Event::default(); 16];
    // Which scheme sockets have requests (all, the first time).
    let mut requests = [true; 5];
    loop {
        // Frames left over from a cut-short burst: go on without waiting.
        let n = if stack.borrow().rx_backlog() {
            0
        } else {
            match queue.wait(&mut events) {
                Ok(n) => n,
                Err(err) if err.errno == EINTR => 0,
                Err(err) => return Err(err),
            }
        };
        for event in &events[..n] {
            match event.data {
                TCP | UDP | ICMP | NETCFG | IP => requests[event.data] = true,
                TIMER => {
                    timer.fired();
                    // A dead driver sends no event: a read now and then
                    // finds out (and takes any frame an event missed).
                    for card in &mut stack.borrow_mut().cards {
                        card.frames.rx_ready = true;
                        card.frames.probe = true;
                    }
                }
                data => {
                    if let Some(card) = stack.borrow_mut().cards.get_mut(data - CARD_BASE) {
                        card.frames.rx_ready = true;
                    }
                }
            }
        }
        stack.borrow_mut().turns += 1;
        // Frames first, so the requests below see what they brought. Each
        // poll walks every socket (most of an idle poll's cost), so a turn
        // polls once when only requests woke it (nothing from a card, no
        // timer: the poll after the requests is enough) or only frames
        // (no request since this poll: the one after would find nothing
        // new), and twice when both did.
        let frames = stack.borrow().rx_backlog();
        if frames {
            stack.borrow_mut().poll(tcp::now());
        }
        let mut settled = frames && !requests.iter().any(|&r| r);
        if core::mem::take(&mut requests[TCP]) {
            tcp.handle_pending()?;
        }
        if core::mem::take(&mut requests[UDP]) {
            udp.handle_pending()?;
        }
        if core::mem::take(&mut requests[ICMP]) {
            icmp.handle_pending()?;
        }
        if core::mem::take(&mut requests[NETCFG]) {
            netcfg.handle_pending()?;
        }
        if core::mem::take(&mut requests[IP]) {
            ip.handle_pending()?;
        }
        for _ in 0..SETTLE {
            let changed = !core::mem::take(&mut settled) && stack.borrow_mut().poll(tcp::now());
            retry_all(&mut tcp, &mut udp, &mut icmp, &mut netcfg, &mut ip)?;
            if !changed {
                break;
            }
        }
        if let Some((driver, err)) = stack.borrow().failed() {
            // Its fds are dead and the null namespace opens no new ones:
            // init starts netd again, on the driver's next instance.
            log::error!("{driver} failed ({err}); stopping so that init starts netd again");
            return Err(err);
        }
        let now = rt::time::now();
        let delay = stack.borrow_mut().poll_delay(tcp::now()).map_or(CHECK_CARDS, |d| d.min(CHECK_CARDS));
        let at = now + core::time::Duration::from_micros(delay.total_micros());
        // A parked read whose fd's read timeout runs out earlier.
        let at =
            [tcp.next_deadline(), udp.next_deadline(), icmp.next_deadline()].into_iter().flatten().fold(at, Ord::min);
        if timer.armed().is_none_or(|a| at < a || a <= now) {
            timer.arm(at)?;
        }
    }
}
