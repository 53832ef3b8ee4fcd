//! One network card as smoltcp sees it: the `network:N` file of the card's
//! driver (README "Network card"), opened non-blocking, one Ethernet
//! frame per read and per write, with the counters `netcfg:` shows.
//!
//! Reads happen only after the driver said frames wait ([`Frames::rx_ready`],
//! set when `event:` reports the card readable, cleared at `EAGAIN`): a
//! read that finds nothing is a scheme call to the driver for nothing.
//!
//! A connection request (a TCP SYN) to a port whose backlog is full is
//! dropped here, before smoltcp would answer it with a reset: the peer
//! sends it again a moment later, as it would to Linux with a full accept
//! queue ([`Frames::full_ports`]).
//!
//! A frame the driver cannot take now (its transmit slots are all busy)
//! is dropped and counted, as a card drops what it cannot send; TCP sends
//! it again. Any other read or write error means the driver is gone
//! ([`Frames::failed`]): netd then ends, and init starts it again on the
//! driver's new instance.
//!
//! May touch: its `network:N` file.

use alloc::vec;
use alloc::vec::Vec;

use rt::fs::File;
use scheme::sc::EAGAIN;
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// The largest Ethernet frame without its FCS (1500 bytes of payload).
pub const FRAME_MAX: usize = 1514;

/// What went through a card.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    /// Frames the driver could not take.
    pub tx_dropped: u64,
    /// Connection requests dropped because the port's backlog was full.
    pub syn_dropped: u64,
    /// Half-open connections (a SYN answered, no ACK back) given up to
    /// make room for a new SYN when the port's backlog was full: a SYN
    /// flood costs the oldest half-open connections, not new ones.
    pub half_open_dropped: u64,
    /// Failed reads and writes.
    pub errors: u64,
}

pub struct Frames {
    file: File,
    /// Frames may be waiting in the driver.
    pub rx_ready: bool,
    /// Listening ports whose backlog is full: SYNs to them are dropped.
    pub full_ports: Vec<u16>,
    /// The driver failed a read or write (it died): netd must start over.
    pub failed: Option<rt::Error>,
    rx: Vec<u8>,
    tx: Vec<u8>,
    pub counters: Counters,
}

impl Frames {
    pub fn new(file: File) -> Frames {
        Frames {
            file,
            rx_ready: true,
            full_ports: Vec::new(),
            failed: None,
            rx: vec![0; FRAME_MAX],
            tx: vec![0; FRAME_MAX],
            counters: Counters::default(),
        }
    }

    pub fn fd(&self) -> usize {
        self.file.fd()
    }
}

pub struct Rx<'a> {
    frame: &'a [u8],
}

pub struct Tx<'a> {
    file: &'a mut File,
    buf: &'a mut Vec<u8>,
    counters: &'a mut Counters,
    failed: &'a mut Option<rt::Error>,
}

impl phy::Device for Frames {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let n = loop {
            if !self.rx_ready {
                return None;
            }
            let n = match self.file.read(&mut self.rx) {
                Ok(0) => {
                    self.rx_ready = false;
                    return None;
                }
                Ok(n) => n,
                Err(err) => {
                    if err.errno != EAGAIN {
                        self.counters.errors += 1;
                        self.failed = Some(err);
                    }
                    self.rx_ready = false;
                    return None;
                }
            };
            self.counters.rx_frames += 1;
            self.counters.rx_bytes += n as u64;
            match syn_port(&self.rx[..n]) {
                Some(port) if self.full_ports.contains(&port) => self.counters.syn_dropped += 1,
                _ => break n,
            }
        };
        Some((
            Rx { frame: &self.rx[..n] },
            Tx { file: &mut self.file, buf: &mut self.tx, counters: &mut self.counters, failed: &mut self.failed },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx { file: &mut self.file, buf: &mut self.tx, counters: &mut self.counters, failed: &mut self.failed })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = FRAME_MAX;
        caps
    }
}

/// The destination port of an IPv4 TCP segment with SYN set and ACK
/// clear (a connection request), if `frame` is one.
fn syn_port(frame: &[u8]) -> Option<u16> {
    const ETHERNET: usize = 14;
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(ETHERNET..)?;
    let header = usize::from(ip.first()? & 0x0f) * 4;
    // Protocol 6 (TCP), and not a later fragment.
    if *ip.get(9)? != 6 || header < 20 || (u16::from(*ip.get(6)? & 0x1f) << 8 | u16::from(*ip.get(7)?)) != 0 {
        return None;
    }
    let tcp = ip.get(header..)?;
    let flags = *tcp.get(13)?;
    (flags & 0x12 == 0x02).then(|| u16::from_be_bytes([tcp[2], tcp[3]]))
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        // smoltcp never asks for more than the MTU it was given.
        let len = len.min(FRAME_MAX);
        let result = f(&mut self.buf[..len]);
        match self.file.write(&self.buf[..len]) {
            Ok(_) => {
                self.counters.tx_frames += 1;
                self.counters.tx_bytes += len as u64;
            }
            Err(err) if err.errno == EAGAIN => self.counters.tx_dropped += 1,
            Err(err) => {
                self.counters.errors += 1;
                *self.failed = Some(err);
            }
        }
        result
    }
}
