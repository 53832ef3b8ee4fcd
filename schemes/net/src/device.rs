//! One network card as smoltcp sees it: the `network:N/ring` file of the
//! card's driver (README "Network card"), opened non-blocking, with the
//! counters `netcfg:` shows. Received frames come through the ring the
//! file maps (`lib/frame-ring`): copied out of memory shared with the
//! driver, no scheme call; only frames the driver had to queue (the ring
//! was full) are read, and only when the ring says some wait. Without a
//! ring (the mapping failed) every received frame is read as below.
//! Frames cross in batches (`lib/frame-batch`): a read takes every frame waiting that fits [`BATCH`] bytes, and the
//! frames smoltcp sends in one poll go out in one write when the stack
//! calls [`Frames::flush`]: one scheme call to the driver for a burst of
//! frames, which is what a frame costs most under QEMU (two switches).
//!
//! Reads happen only after the driver said frames wait ([`Frames::rx_ready`],
//! set when `event:` reports the card readable, cleared at `EAGAIN` or
//! when a batch left room for another frame, since the driver reports
//! every frame's arrival): a read that finds nothing is a scheme call to
//! the driver for nothing.
//!
//! A connection request (a TCP SYN) to a port whose backlog is full is
//! dropped here, before smoltcp would answer it with a reset: the peer
//! sends it again a moment later, as it would to Linux with a full accept
//! queue ([`Frames::full_ports`]).
//!
//! Frames to send go through the second ring the file maps, when it
//! does: pushed as smoltcp makes them, then one byte written to the
//! driver's kick pipe per burst (a system call that wakes the driver, not
//! a call that waits for it: under `-smp 1` the driver runs when netd
//! waits, and netd is not switched back in just to hear that the burst
//! went). A frame the ring has no room for starts a batch, written at the
//! flush after the kick (the driver sends the ring's frames first).
//!
//! TCP and UDP checksums are checked and filled in here, not by smoltcp
//! (`lib/inet-checksum`: the same sums 8 bytes at a time, a quarter of
//! smoltcp's instructions): a received TCP segment or UDP datagram with a
//! wrong checksum is dropped and counted before smoltcp sees it, and the
//! frames smoltcp makes get theirs as they are queued.
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

use frame_ring::{Popped, Ring};
use inet_checksum::Verdict;
use rt::fs::File;
use rt::mem::SharedMapping;
use scheme::sc::EAGAIN;
use smoltcp::phy::{self, Checksum, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// The largest Ethernet frame without its FCS (1500 bytes of payload).
pub const FRAME_MAX: usize = frame_batch::MAX_FRAME;
/// Bytes of frames moved per read or write at most.
pub const BATCH: usize = 48 * 1024;

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
    /// TCP segments and UDP datagrams dropped for a wrong checksum.
    pub rx_bad_checksum: u64,
    /// Failed reads and writes.
    pub errors: u64,
}

pub struct Frames {
    file: File,
    /// Frames may be waiting in the driver.
    pub rx_ready: bool,
    /// Listening ports whose backlog is full: SYNs to them are dropped.
    pub full_ports: Vec<u16>,
    /// The TCP destination port of the last frame handed to smoltcp, if
    /// it was a TCP segment: after one to a listening port, netd looks at
    /// its listeners before the next frame (`Stack::poll`).
    pub last_tcp_port: Option<u16>,
    /// The driver failed a read or write (it died): netd must start over.
    pub failed: Option<rt::Error>,
    /// The driver's ring of received frames, when mapped.
    ring: Option<SharedMapping>,
    /// The ring of frames to send and the kick pipe's write end, when
    /// mapped and given.
    send_ring: Option<(SharedMapping, File)>,
    /// Frames were pushed to the ring to send since the last kick.
    pushed: bool,
    /// Read once even if the ring says nothing is queued: the loop's timer
    /// asks, since a dead driver sends no event and only a read finds out.
    pub probe: bool,
    /// The last batch read, and where its next frame starts.
    rx: Vec<u8>,
    rx_at: usize,
    rx_end: usize,
    /// Frames to send, as a batch of `tx_len` bytes.
    tx: Vec<u8>,
    tx_len: usize,
    /// One frame being made by smoltcp.
    frame: Vec<u8>,
    pub counters: Counters,
}

impl Frames {
    pub fn new(file: File, ring: Option<SharedMapping>, send_ring: Option<(SharedMapping, File)>) -> Frames {
        if let Some((_, kick)) = &send_ring {
            // A full pipe means a kick is pending already.
            let _ = kick.set_nonblocking(true);
        }
        Frames {
            file,
            ring,
            send_ring,
            pushed: false,
            probe: false,
            rx_ready: true,
            full_ports: Vec::new(),
            last_tcp_port: None,
            failed: None,
            rx: vec![0; BATCH],
            rx_at: 0,
            rx_end: 0,
            tx: vec![0; BATCH],
            tx_len: 0,
            frame: vec![0; FRAME_MAX],
            counters: Counters::default(),
        }
    }

    /// The next received frame's place in `rx`: from the batch in hand,
    /// or a new batch read from the driver.
    fn next_frame(&mut self) -> Option<(usize, usize)> {
        // A read that gave nothing ends the search (the ring's `queued`
        // may be stale, or a broken driver's).
        let mut read_nothing = false;
        loop {
            if self.rx_at + frame_batch::HEADER <= self.rx_end {
                let header = &self.rx[self.rx_at..self.rx_at + frame_batch::HEADER];
                let len = usize::from(u16::from_le_bytes([header[0], header[1]]));
                let start = self.rx_at + frame_batch::HEADER;
                self.rx_at = start + len;
                return Some((start, len));
            }
            if let Some(ring) = self.ring.as_ref().and_then(|ring| Ring::new(ring.atomic_u64s())) {
                // One frame from the ring, put in `rx` as a batch of one.
                match ring.pop(&mut self.rx[frame_batch::HEADER..]) {
                    Popped::Frame(len) => {
                        self.rx[..frame_batch::HEADER].copy_from_slice(&(len as u16).to_le_bytes());
                        self.rx_at = 0;
                        self.rx_end = frame_batch::HEADER + len;
                        continue;
                    }
                    Popped::Bad => {
                        self.counters.errors += 1;
                        continue;
                    }
                    Popped::Empty if ring.queued() == 0 && !core::mem::take(&mut self.probe) => {
                        self.rx_ready = false;
                        return None;
                    }
                    // Frames the ring had no room for wait in the driver.
                    Popped::Empty => {}
                }
            } else if !self.rx_ready {
                return None;
            }
            if read_nothing {
                return None;
            }
            read_nothing = true;
            match self.file.read(&mut self.rx) {
                // The driver hands out only checked batches; anything else
                // would be a broken driver, counted and ignored.
                Ok(n) if n > 0 && frame_batch::frames(&self.rx[..n]).is_ok() => {
                    read_nothing = false;
                    self.rx_at = 0;
                    self.rx_end = n;
                    // Room was left for another frame: the driver gave all
                    // it had, and tells `event:` of every frame after, so
                    // a read now would find nothing.
                    if n + frame_batch::HEADER + FRAME_MAX <= self.rx.len() {
                        self.rx_ready = false;
                    }
                }
                Ok(0) => self.rx_ready = false,
                Ok(_) => {
                    self.counters.errors += 1;
                    self.rx_ready = false;
                }
                Err(err) => {
                    if err.errno != EAGAIN {
                        self.counters.errors += 1;
                        self.failed = Some(err);
                    }
                    self.rx_ready = false;
                }
            }
        }
    }

    /// Send the frames smoltcp made since the last flush, in one write
    /// (more if the driver takes part of the batch at a time). What the
    /// driver cannot take now is dropped and counted: TCP sends it again.
    pub fn flush(&mut self) {
        self.tx_side().flush();
    }

    pub fn fd(&self) -> usize {
        self.file.fd()
    }
}

pub struct Rx<'a> {
    frame: &'a [u8],
}

/// A frame smoltcp sends: made in the card's frame buffer, queued in its
/// batch.
pub struct Tx<'a> {
    frames: TxSide<'a>,
}

/// What a [`Tx`] needs of the card (the receive half is lent to [`Rx`]).
struct TxSide<'a> {
    file: &'a mut File,
    send_ring: &'a Option<(SharedMapping, File)>,
    pushed: &'a mut bool,
    tx: &'a mut Vec<u8>,
    tx_len: &'a mut usize,
    frame: &'a mut Vec<u8>,
    counters: &'a mut Counters,
    failed: &'a mut Option<rt::Error>,
}

impl TxSide<'_> {
    fn queue(&mut self, len: usize) {
        // Into the ring unless a batch started (the order must hold).
        if *self.tx_len == 0
            && let Some((memory, _)) = self.send_ring
            && Ring::new(memory.atomic_u64s()).is_some_and(|ring| ring.push(&self.frame[..len]))
        {
            *self.pushed = true;
            self.counters.tx_frames += 1;
            self.counters.tx_bytes += len as u64;
            return;
        }
        if frame_batch::put(self.tx, *self.tx_len, &self.frame[..len]).is_none() {
            self.flush();
        }
        match frame_batch::put(self.tx, *self.tx_len, &self.frame[..len]) {
            Some(end) => {
                *self.tx_len = end;
                self.counters.tx_frames += 1;
                self.counters.tx_bytes += len as u64;
            }
            None => self.counters.tx_dropped += 1,
        }
    }

    fn flush(&mut self) {
        if core::mem::take(self.pushed)
            && let Some((_, kick)) = self.send_ring
        {
            match rt::sys::write(kick.fd(), &[1]) {
                Err(err) if err.errno != EAGAIN => {
                    self.counters.errors += 1;
                    *self.failed = Some(err);
                }
                _ => {}
            }
        }
        let mut at = 0;
        while at < *self.tx_len {
            match self.file.write(&self.tx[at..*self.tx_len]) {
                Ok(0) => break,
                Ok(n) => at += n,
                Err(err) => {
                    if err.errno != EAGAIN {
                        self.counters.errors += 1;
                        *self.failed = Some(err);
                    }
                    break;
                }
            }
        }
        // Whatever the driver did not take: its frames count as dropped.
        if at < *self.tx_len
            && let Ok(rest) = frame_batch::frames(&self.tx[at..*self.tx_len])
        {
            let count = rest.frame_count() as u64;
            self.counters.tx_dropped += count;
            self.counters.tx_frames -= count.min(self.counters.tx_frames);
        }
        *self.tx_len = 0;
    }
}

impl Frames {
    fn tx_side(&mut self) -> TxSide<'_> {
        TxSide {
            file: &mut self.file,
            send_ring: &self.send_ring,
            pushed: &mut self.pushed,
            tx: &mut self.tx,
            tx_len: &mut self.tx_len,
            frame: &mut self.frame,
            counters: &mut self.counters,
            failed: &mut self.failed,
        }
    }
}

impl phy::Device for Frames {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let (start, len) = loop {
            let (start, len) = self.next_frame()?;
            self.counters.rx_frames += 1;
            self.counters.rx_bytes += len as u64;
            let frame = &self.rx[start..start + len];
            if inet_checksum::verify(frame) == Verdict::Bad {
                self.counters.rx_bad_checksum += 1;
                continue;
            }
            match tcp_destination(frame) {
                Some((port, true)) if self.full_ports.contains(&port) => self.counters.syn_dropped += 1,
                tcp => {
                    self.last_tcp_port = tcp.map(|(port, _)| port);
                    break (start, len);
                }
            }
        };
        let Frames { file, send_ring, pushed, rx, tx, tx_len, frame, counters, failed, .. } = self;
        Some((
            Rx { frame: &rx[start..start + len] },
            Tx { frames: TxSide { file, send_ring, pushed, tx, tx_len, frame, counters, failed } },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx { frames: self.tx_side() })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = FRAME_MAX;
        // Checked in `receive` and filled in `Tx::consume`.
        caps.checksum.tcp = Checksum::None;
        caps.checksum.udp = Checksum::None;
        caps
    }
}

/// The destination port of an IPv4 TCP segment (not a later fragment), if
/// `frame` is one, and whether it asks for a connection (SYN set, ACK
/// clear).
fn tcp_destination(frame: &[u8]) -> Option<(u16, bool)> {
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
    Some((u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]), flags & 0x12 == 0x02))
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, len: usize, f: F) -> R {
        // smoltcp never asks for more than the MTU it was given.
        let len = len.min(FRAME_MAX);
        let result = f(&mut self.frames.frame[..len]);
        inet_checksum::fill(&mut self.frames.frame[..len]);
        self.frames.queue(len);
        result
    }
}
