//! `netcfg:` (README "Network"): the configuration of the network, as
//! small text files.
//!
//! - `netcfg:` lists the cards (`eth0`, ...), `dns` and `memory`.
//! - `netcfg:ethN`: the card's state, one `name value` line each: `name`,
//!   `driver` (`network:N`), `mac`, `address` (`A.B.C.D/N` or `none`),
//!   `how` (`dhcp`, `static`, `fallback`, `waiting for dhcp`), `gateway`,
//!   `dns`, then the counters `rx_frames rx_bytes tx_frames tx_bytes
//!   tx_dropped syn_dropped half_open_dropped rx_bad_checksum
//!   errors`, `tcp_sockets`, and `netd_turns` (how many times
//!   netd's loop ran: woken by a frame, a request or its timer).
//!   `ifconfig` shows it.
//! - `netcfg:ethN/address`: read the address; write `A.B.C.D/N` (a static
//!   address, DHCP stops) or `dhcp` (ask again). Root only.
//! - `netcfg:ethN/gateway`: read; write `A.B.C.D` or `none`. Root only.
//! - `netcfg:dns`: the DNS servers, one per line; write addresses
//!   separated by spaces or lines (root only) to use them on every card.
//! - `netcfg:memory`: netd's heap, `heap_used` (small allocations),
//!   `heap_reserved` (what the small allocations' chunks hold, kept for
//!   good), `heap_large` (buffers of 64 KiB and more, each a mapping of
//!   its own, given back when freed; those of the closed TCP sockets kept
//!   for reuse, `stack::TCP_KEPT` per card, stay) and `heap_spare` (freed ones kept
//!   for reuse, at most 512 KiB), in bytes: a test reads it before and
//!   after a load to see netd's memory come back.
//! - `netcfg:resolve/NAME`: look NAME up (A records): a read gives its
//!   addresses, one per line, waiting for the answer; `ENOENT` when the
//!   name does not exist, `ENETUNREACH` when no DNS server is known.
//!
//! A write must hold the whole value; a bad value gives `EINVAL` and
//! changes nothing.
//!
//! May touch: the shared [`Stack`].

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use scheme::sc::{EACCES, EAGAIN, EINVAL, EISDIR, ENOENT, MODE_DIR, MODE_FILE, O_ACCMODE, O_RDONLY};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat};
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

use crate::stack::{How, Query, Stack, list};

enum File {
    Listing,
    Card(usize),
    Address(usize),
    Gateway(usize),
    Dns,
    Memory,
    Resolve { query: Option<Query>, answer: Option<core::result::Result<String, i32>> },
}

struct Handle {
    file: File,
    offset: usize,
    told: EventFlags,
}

pub struct Netcfg {
    stack: Rc<RefCell<Stack>>,
    handles: Handles<Handle>,
}

fn err(errno: i32) -> Error {
    Error::new(errno)
}

fn addr_text(a: Option<Ipv4Address>) -> String {
    a.map_or_else(|| String::from("none"), |a| format!("{a}"))
}

impl Netcfg {
    pub fn new(stack: Rc<RefCell<Stack>>) -> Netcfg {
        Netcfg { stack, handles: Handles::new() }
    }

    fn card(&self, name: &str) -> Option<usize> {
        self.stack.borrow().cards.iter().position(|c| c.name == name)
    }

    /// The text a read of `file` gives (`Err(EAGAIN)` while a lookup runs).
    fn text(&mut self, handle: usize) -> Result<String> {
        let mut stack = self.stack.borrow_mut();
        let h = self.handles.get_mut(handle)?;
        Ok(match &mut h.file {
            File::Listing => {
                let mut text: String = stack.cards.iter().map(|c| format!("{}\n", c.name)).collect();
                text.push_str("dns\nmemory\n");
                text
            }
            File::Card(n) => {
                let c = &stack.cards[*n];
                let k = c.counters();
                let address = c.address.map_or_else(|| String::from("none"), |a| format!("{a}"));
                format!(
                    "name {}\ndriver {}\nmac {}\naddress {address}\nhow {}\ngateway {}\ndns {}\nrx_frames {}\n\
                     rx_bytes {}\ntx_frames {}\ntx_bytes {}\ntx_dropped {}\nsyn_dropped {}\nhalf_open_dropped {}\nrx_bad_checksum {}\nerrors {}\ntcp_sockets {}\nnetd_turns {}\n",
                    c.name,
                    c.driver,
                    crate::stack::mac_text(c.mac),
                    c.how.name(),
                    addr_text(c.gateway),
                    list(&c.dns_servers),
                    k.rx_frames,
                    k.rx_bytes,
                    k.tx_frames,
                    k.tx_bytes,
                    k.tx_dropped,
                    k.syn_dropped,
                    k.half_open_dropped,
                    k.rx_bad_checksum,
                    k.errors,
                    c.tcp_count,
                    stack.turns,
                )
            }
            File::Address(n) => {
                format!("{}\n", stack.cards[*n].address.map_or_else(|| String::from("none"), |a| format!("{a}")))
            }
            File::Gateway(n) => format!("{}\n", addr_text(stack.cards[*n].gateway)),
            File::Dns => {
                let servers = stack.cards.iter().find(|c| !c.dns_servers.is_empty()).map(|c| c.dns_servers.clone());
                servers.unwrap_or_default().iter().map(|s| format!("{s}\n")).collect()
            }
            File::Memory => {
                let heap = rt::heap::usage();
                format!(
                    "heap_used {}\nheap_reserved {}\nheap_large {}\nheap_spare {}\n",
                    heap.used, heap.reserved, heap.large, heap.spare
                )
            }
            File::Resolve { query, answer } => {
                if answer.is_none()
                    && let Some(q) = *query
                {
                    match stack.lookup(q) {
                        Ok(None) => return Err(err(EAGAIN)),
                        Ok(Some(addrs)) => *answer = Some(Ok(addrs.iter().map(|a| format!("{a}\n")).collect())),
                        Err(lookup) => *answer = Some(Err(lookup.errno())),
                    }
                    *query = None;
                }
                match answer {
                    Some(Ok(text)) => text.clone(),
                    Some(Err(errno)) => return Err(err(*errno)),
                    None => return Err(err(EAGAIN)),
                }
            }
        })
    }

    fn resolving(&self, handle: usize) -> bool {
        matches!(self.handles.get(handle).map(|h| &h.file), Ok(File::Resolve { answer: None, .. }))
    }
}

/// Addresses separated by spaces, commas or lines.
fn addresses(text: &str) -> Option<Vec<Ipv4Address>> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| w.parse::<Ipv4Address>().ok())
        .collect()
}

impl Scheme for Netcfg {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        let path = path.trim_matches('/');
        let writing = flags & O_ACCMODE != O_RDONLY;
        let file = match path.split_once('/') {
            None if path.is_empty() => File::Listing,
            None if path == "dns" => File::Dns,
            None if path == "memory" => File::Memory,
            None => File::Card(self.card(path).ok_or(err(ENOENT))?),
            Some(("resolve", name)) => {
                if !net_addr::is_name(name) {
                    return Err(err(EINVAL));
                }
                let mut stack = self.stack.borrow_mut();
                match stack.resolve(name) {
                    Ok(query) => File::Resolve { query: Some(query), answer: None },
                    Err(lookup) => File::Resolve { query: None, answer: Some(Err(lookup.errno())) },
                }
            }
            Some((card, "address")) => File::Address(self.card(card).ok_or(err(ENOENT))?),
            Some((card, "gateway")) => File::Gateway(self.card(card).ok_or(err(ENOENT))?),
            Some(_) => return Err(err(ENOENT)),
        };
        if writing {
            if !matches!(file, File::Address(_) | File::Gateway(_) | File::Dns) {
                return Err(err(if matches!(file, File::Listing) { EISDIR } else { EACCES }));
            }
            if caller.uid != 0 {
                return Err(err(EACCES));
            }
        }
        Ok(Opened::Handle(self.handles.insert(Handle { file, offset: 0, told: EventFlags::empty() })))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        self.handles.get_mut(handle)?.told = EventFlags::empty();
        let text = self.text(handle)?;
        let h = self.handles.get_mut(handle)?;
        let start = h.offset.min(text.len());
        let n = buf.len().min(text.len() - start);
        buf[..n].copy_from_slice(&text.as_bytes()[start..start + n]);
        h.offset += n;
        Ok(n)
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let text = core::str::from_utf8(buf).map_err(|_| err(EINVAL))?.trim();
        let mut stack = self.stack.borrow_mut();
        match self.handles.get(handle)?.file {
            File::Address(n) => {
                let card = &mut stack.cards[n];
                if text == "dhcp" {
                    card.use_dhcp(true);
                } else {
                    let (addr, prefix) = net_addr::cidr(text).map_err(|_| err(EINVAL))?;
                    let gateway = card.gateway;
                    card.configure(How::Static, Some(Ipv4Cidr::new(addr, prefix)), gateway);
                }
            }
            File::Gateway(n) => {
                let gateway = match text {
                    "none" => None,
                    _ => Some(text.parse::<Ipv4Address>().map_err(|_| err(EINVAL))?),
                };
                stack.cards[n].set_gateway(gateway);
            }
            File::Dns => {
                let servers = addresses(text).ok_or(err(EINVAL))?;
                for card in &mut stack.cards {
                    card.set_dns(servers.clone());
                }
            }
            _ => return Err(err(EINVAL)),
        }
        Ok(buf.len())
    }

    fn seek(&mut self, handle: usize, offset: isize, whence: usize) -> Result<usize> {
        let h = self.handles.get_mut(handle)?;
        let at = match whence {
            scheme::sc::SEEK_SET => offset,
            scheme::sc::SEEK_CUR => (h.offset as isize).saturating_add(offset),
            _ => return Err(err(EINVAL)),
        };
        h.offset = usize::try_from(at).map_err(|_| err(EINVAL))?;
        Ok(h.offset)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        stat.st_mode = match self.handles.get(handle)?.file {
            File::Listing => MODE_DIR | 0o555,
            File::Address(_) | File::Gateway(_) | File::Dns => MODE_FILE | 0o644,
            _ => MODE_FILE | 0o444,
        };
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        let stack = self.stack.borrow();
        let card = |n: usize| stack.cards[n].name.clone();
        Ok(match &self.handles.get(handle)?.file {
            File::Listing => String::new(),
            File::Card(n) => card(*n),
            File::Address(n) => format!("{}/address", card(*n)),
            File::Gateway(n) => format!("{}/gateway", card(*n)),
            File::Dns => String::from("dns"),
            File::Memory => String::from("memory"),
            File::Resolve { .. } => String::from("resolve"),
        })
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        let ready = if self.resolving(handle) && self.text(handle).is_err_and(|e| e.errno == EAGAIN) {
            EventFlags::empty()
        } else {
            EventFlags::EVENT_READ
        };
        self.handles.get_mut(handle)?.told = ready;
        Ok(ready & interest)
    }

    fn close(&mut self, handle: usize) {
        if let Some(Handle { file: File::Resolve { query: Some(q), answer: None }, .. }) = self.handles.remove(handle) {
            self.stack.borrow_mut().cancel(q);
        }
    }

    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        let waiting: Vec<usize> = self.handles.iter().filter(|(h, _)| self.resolving(*h)).map(|(h, _)| h).collect();
        for handle in waiting {
            if !self.text(handle).is_err_and(|e| e.errno == EAGAIN)
                && let Ok(h) = self.handles.get_mut(handle)
                && !h.told.contains(EventFlags::EVENT_READ)
            {
                h.told = EventFlags::EVENT_READ;
                events.push((handle, EventFlags::EVENT_READ));
            }
        }
    }
}
