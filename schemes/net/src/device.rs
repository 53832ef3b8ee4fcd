//! One network card as smoltcp sees it: the `network:N` file of the card's
//! driver (README "Network card"), opened non-blocking, one Ethernet
//! frame per read and per write, with the counters `netcfg:` shows.
//!
//! Reads happen only after the driver said frames wait ([`Frames::rx_ready`],
//! set when `event:` reports the card readable, cleared at `EAGAIN`): a
//! read that finds nothing is a scheme call to the driver for nothing.
//!
//! A frame the driver cannot take now (its transmit slots are all busy)
//! is dropped and counted, as a card drops what it cannot send; TCP sends
//! it again. A read error other than "nothing waiting" is counted and
//! ends this round of receiving.
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
    /// Failed reads and writes.
    pub errors: u64,
}

pub struct Frames {
    file: File,
    /// Frames may be waiting in the driver.
    pub rx_ready: bool,
    rx: Vec<u8>,
    tx: Vec<u8>,
    pub counters: Counters,
}

impl Frames {
    pub fn new(file: File) -> Frames {
        Frames { file, rx_ready: true, rx: vec![0; FRAME_MAX], tx: vec![0; FRAME_MAX], counters: Counters::default() }
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
}

impl phy::Device for Frames {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
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
                }
                self.rx_ready = false;
                return None;
            }
        };
        self.counters.rx_frames += 1;
        self.counters.rx_bytes += n as u64;
        Some((
            Rx { frame: &self.rx[..n] },
            Tx { file: &mut self.file, buf: &mut self.tx, counters: &mut self.counters },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx { file: &mut self.file, buf: &mut self.tx, counters: &mut self.counters })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = FRAME_MAX;
        caps
    }
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
            Err(_) => self.counters.errors += 1,
        }
        result
    }
}
