//! A virtio network card (virtio 1.x, PCI transport) as a safe source
//! and sink of Ethernet frames: [`NetDevice::send`] hands one frame to
//! the device without waiting, and [`NetDevice::poll`], after the
//! device's MSI-X interrupt, hands each frame that arrived to its caller
//! straight from the receive buffer and frees the transmit slots the
//! device is done with.
//!
//! Built on `virtio-drivers`' `VirtIONetRaw` (feature negotiation, the
//! MAC address, the receive and transmit rings, the 12-byte virtio-net
//! header). The buffers are the glue's: [`RX_BUFFERS`] receive buffers of
//! [`BUFFER_LEN`] bytes, always lent to the device (each is lent again as
//! soon as its frame is copied out), and [`TX_SLOTS`] transmit slots of
//! the same size, each lent while its frame is in flight. All are pool
//! memory ([`crate::dma`]), which `FerriteHal::share` translates; the
//! driver touches none of them while the device has it.
//!
//! A frame the device hands back with a length no Ethernet frame has
//! (under [`MIN_FRAME`] or over [`MAX_FRAME`] bytes, or shorter than its
//! header) is dropped and counted ([`NetDevice::rx_errors`]), never a
//! panic.
//!
//! May touch: the device (through the transport and the two queues), the
//! pool.

use alloc::vec::Vec;

use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::{DeviceType, Transport};

use crate::dma::{self, FerriteHal, Pages};
use crate::pci::Function;

/// Descriptors in each of the two queues (every buffer takes one).
pub const QUEUE_SIZE: usize = 64;
/// Receive buffers kept lent to the device.
pub const RX_BUFFERS: usize = 64;
/// Frames in flight to the device at once.
pub const TX_SLOTS: usize = 32;
/// Bytes per buffer: the virtio-net header (12 bytes) and the largest
/// frame fit (`virtio-drivers` wants at least 1526 for a receive buffer).
pub const BUFFER_LEN: usize = 2048;
/// The shortest frame: destination, source, EtherType.
pub const MIN_FRAME: usize = 14;
/// The longest frame without a VLAN tag: 14 bytes of header and a
/// 1500-byte payload (the device adds and strips the FCS).
pub const MAX_FRAME: usize = 1514;

/// The queues' indices (virtio 1.2 §5.1.2), both signalled on one MSI-X
/// entry.
const QUEUE_RECEIVE: u16 = 0;
const QUEUE_TRANSMIT: u16 = 1;
const NO_VECTOR: u16 = 0xffff;
/// Common configuration offsets (virtio 1.2 §4.1.4.3).
const COMMON_MSIX_CONFIG: usize = 0x10;
const COMMON_QUEUE_SELECT: usize = 0x16;
const COMMON_QUEUE_MSIX_VECTOR: usize = 0x1a;

/// Why a frame could not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// Every transmit slot is in flight: try again after completions.
    Busy,
    /// Not [`MIN_FRAME`]..=[`MAX_FRAME`] bytes.
    Invalid,
    /// The queue refused the frame (a bug or a broken device).
    Queue,
}

/// What one [`NetDevice::poll`] collected, besides the frames it handed
/// over.
#[derive(Debug, Default)]
pub struct Polled {
    /// Frames handed to the caller.
    pub frames: usize,
    /// Transmissions the device completed (their slots are free again).
    pub sent: usize,
    /// Frames dropped for a bad length.
    pub bad: usize,
}

/// The buffer or slot `token` was lent with, if `map` says so and `is`
/// agrees (else the caller searches: a token no map holds).
fn lookup(map: &[usize; QUEUE_SIZE], token: u16, is: impl Fn(usize) -> bool) -> Option<usize> {
    map.get(usize::from(token)).copied().filter(|&i| is(i))
}

/// One virtio network card.
pub struct NetDevice {
    net: VirtIONetRaw<FerriteHal, PciTransport, QUEUE_SIZE>,
    common: usize,
    /// [`RX_BUFFERS`] buffers, then [`TX_SLOTS`] slots, [`BUFFER_LEN`]
    /// bytes each.
    buffers: Pages,
    /// The token of each receive buffer while the device has it.
    rx: Vec<Option<u16>>,
    /// The token and the length lent of each transmit slot in flight.
    tx: Vec<Option<(u16, usize)>>,
    /// The receive buffer and the transmit slot of each token (a token is
    /// a descriptor's number, below [`QUEUE_SIZE`]): a completion is found
    /// without a search through every buffer (half the driver's work per
    /// frame, `cargo mk bench --profile-net`). Checked against `rx` and
    /// `tx`, which stay the truth.
    rx_of_token: [usize; QUEUE_SIZE],
    tx_of_token: [usize; QUEUE_SIZE],
    /// A receive buffer the device refused to take back waits to be lent
    /// again.
    rx_refused: bool,
    rx_errors: u64,
}

impl NetDevice {
    /// Negotiate features and set up both queues of the virtio network
    /// card at `function` (its BARs mapped), and lend the device every
    /// receive buffer. Route the interrupts with [`NetDevice::use_msix`],
    /// then [`NetDevice::poll`] once: what completed before the vector
    /// was routed raised no interrupt.
    pub fn new(function: &mut Function) -> Result<NetDevice, &'static str> {
        let common = function.virtio_structure(1).ok_or("no virtio common configuration")?;
        let transport = PciTransport::new::<FerriteHal, _>(&mut function.root, function.function)
            .map_err(|_| "not a virtio PCI device (or its BARs are not mapped)")?;
        if transport.device_type() != DeviceType::Network {
            return Err("not a virtio network device");
        }
        let net = VirtIONetRaw::new(transport).map_err(|_| "cannot set up the queues")?;
        let buffers = dma::allocate(((RX_BUFFERS + TX_SLOTS) * BUFFER_LEN).div_ceil(rt::mem::PAGE_SIZE))
            .ok_or("no DMA memory for frame buffers")?;
        let mut device = NetDevice {
            net,
            common,
            buffers,
            rx: (0..RX_BUFFERS).map(|_| None).collect(),
            tx: (0..TX_SLOTS).map(|_| None).collect(),
            rx_of_token: [0; QUEUE_SIZE],
            tx_of_token: [0; QUEUE_SIZE],
            rx_refused: false,
            rx_errors: 0,
        };
        for index in 0..RX_BUFFERS {
            device.lend_receive(index).map_err(|_| "the device refused a receive buffer")?;
        }
        Ok(device)
    }

    fn common_u16(&self, offset: usize) -> *mut u16 {
        core::ptr::with_exposed_provenance_mut(self.common + offset)
    }

    /// Signal both queues' completions on MSI-X table entry `entry`
    /// (already programmed; see [`Function::enable_msix`]); configuration
    /// changes signal nothing. Fails if the device does not take the
    /// vector.
    pub fn use_msix(&mut self, entry: u16) -> Result<(), &'static str> {
        let mut taken = [NO_VECTOR; 2];
        // SAFETY: `common` is the device's common configuration structure
        // inside a BAR mapped for the life of the process
        // (`Function::map_bars`); these are its 16-bit registers
        // `msix_config`, `queue_select` and `queue_msix_vector`.
        unsafe {
            self.common_u16(COMMON_MSIX_CONFIG).write_volatile(NO_VECTOR);
            for (queue, taken) in [QUEUE_RECEIVE, QUEUE_TRANSMIT].into_iter().zip(&mut taken) {
                self.common_u16(COMMON_QUEUE_SELECT).write_volatile(queue);
                self.common_u16(COMMON_QUEUE_MSIX_VECTOR).write_volatile(entry);
                *taken = self.common_u16(COMMON_QUEUE_MSIX_VECTOR).read_volatile();
            }
        }
        if taken == [entry; 2] { Ok(()) } else { Err("the device refused the MSI-X vector") }
    }

    /// The card's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.net.mac_address()
    }

    /// Frames the device handed back with a bad length, since the start.
    pub fn rx_errors(&self) -> u64 {
        self.rx_errors
    }

    /// Whether [`NetDevice::send`] has a free slot now.
    pub fn can_send(&self) -> bool {
        self.tx.iter().any(Option::is_none)
    }

    /// Buffer `index` of [`NetDevice::buffers`] (receive buffers first).
    fn buffer(&self, index: usize) -> *mut u8 {
        core::ptr::with_exposed_provenance_mut(self.buffers.virt + index * BUFFER_LEN)
    }

    /// Lend receive buffer `index` to the device.
    fn lend_receive(&mut self, index: usize) -> Result<(), NetError> {
        let buffer = self.buffer(index);
        // SAFETY: receive buffer `index` is pool memory mapped for the
        // process's life, `BUFFER_LEN` bytes that no other buffer shares;
        // the device does not have it (its token is `None`), and the driver
        // leaves it alone until `poll` takes it back. The slice lives for
        // this call only, to give the ring its address.
        let token = unsafe {
            let slice = core::slice::from_raw_parts_mut(buffer, BUFFER_LEN);
            self.net.receive_begin(slice)
        };
        match token {
            Ok(token) => {
                self.rx[index] = Some(token);
                if let Some(entry) = self.rx_of_token.get_mut(usize::from(token)) {
                    *entry = index;
                }
                Ok(())
            }
            Err(virtio_drivers::Error::QueueFull) => Err(NetError::Busy),
            Err(_) => Err(NetError::Queue),
        }
    }

    /// Send one Ethernet frame (destination MAC first, no FCS):
    /// copied behind a virtio-net header into a free transmit slot and
    /// handed to the device. `Busy` when every slot is in flight.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        if !(MIN_FRAME..=MAX_FRAME).contains(&frame.len()) {
            return Err(NetError::Invalid);
        }
        let slot = self.tx.iter().position(Option::is_none).ok_or(NetError::Busy)?;
        let buffer = self.buffer(RX_BUFFERS + slot);
        // SAFETY: transmit slot `slot` is pool memory mapped for the
        // process's life, `BUFFER_LEN` bytes no other buffer shares, and
        // not in flight (its entry is `None`), so the device does not read
        // it; the header and the frame fit (12 + 1514 < 2048). After
        // `transmit_begin` the driver leaves the slot alone until `poll`
        // takes it back.
        let token = unsafe {
            let slice = core::slice::from_raw_parts_mut(buffer, BUFFER_LEN);
            let header = self.net.fill_buffer_header(slice).map_err(|_| NetError::Queue)?;
            let len = header + frame.len();
            slice[header..len].copy_from_slice(frame);
            self.net.transmit_begin(&slice[..len]).map(|token| (token, len))
        };
        match token {
            Ok(lent) => {
                self.tx[slot] = Some(lent);
                if let Some(entry) = self.tx_of_token.get_mut(usize::from(lent.0)) {
                    *entry = slot;
                }
                Ok(())
            }
            Err(virtio_drivers::Error::QueueFull) => Err(NetError::Busy),
            Err(_) => Err(NetError::Queue),
        }
    }

    /// Collect everything the device completed: each frame received, in
    /// order and without the virtio-net header, goes to `frame` straight
    /// from its receive buffer (lent again once `frame` returns: a frame
    /// copied into a vector first cost the driver an allocation, zeroing
    /// and a copy per frame, an eighth of a received frame's instructions);
    /// the transmissions done free their slots.
    pub fn poll(&mut self, mut frame: impl FnMut(&[u8])) -> Polled {
        let mut polled = Polled::default();
        loop {
            let mut progress = false;
            while let Some(token) = self.net.poll_receive() {
                if !self.take_receive(token, &mut polled, &mut frame) {
                    break;
                }
                progress = true;
            }
            while let Some(token) = self.net.poll_transmit() {
                if !self.take_transmit(token) {
                    break;
                }
                polled.sent += 1;
                progress = true;
            }
            // A receive buffer the device refused earlier: lend it again.
            if core::mem::take(&mut self.rx_refused) {
                for index in 0..RX_BUFFERS {
                    if self.rx[index].is_none() {
                        match self.lend_receive(index) {
                            Ok(()) => progress = true,
                            Err(_) => self.rx_refused = true,
                        }
                    }
                }
            }
            if !progress {
                break;
            }
            // Taking an entry moves the ring's `used_event`, which tells
            // the device when to interrupt next; a completion published
            // before that store was seen raises no interrupt. Make the
            // store visible before looking at the rings again.
            core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        }
        polled
    }

    /// Take the completed receive `token` off the ring: hand its frame to
    /// `frame` (or count it bad) and lend the buffer again. `false` if the
    /// token is not one of ours (a broken device: stop rather than spin).
    fn take_receive(&mut self, token: u16, polled: &mut Polled, frame: &mut impl FnMut(&[u8])) -> bool {
        let Some(index) = lookup(&self.rx_of_token, token, |i| self.rx.get(i).is_some_and(|t| *t == Some(token)))
            .or_else(|| self.rx.iter().position(|t| *t == Some(token)))
        else {
            return false;
        };
        let buffer = self.buffer(index);
        // SAFETY: the device has used `token`, which `receive_begin` gave
        // for exactly this buffer (same address and length); after the pop
        // the buffer is the driver's again, so reading `len` bytes of it
        // (inside its `BUFFER_LEN`, checked) is sound.
        let received = unsafe {
            let slice = core::slice::from_raw_parts_mut(buffer, BUFFER_LEN);
            self.net.receive_complete(token, slice)
        };
        if matches!(received, Err(ref err) if *err != virtio_drivers::Error::IoError) {
            // Not taken off the ring: the device still has the buffer.
            return false;
        }
        self.rx[index] = None;
        match received {
            Ok((header, len))
                if (MIN_FRAME..=MAX_FRAME).contains(&len)
                    && header.checked_add(len).is_some_and(|end| end <= BUFFER_LEN) =>
            {
                // SAFETY: as above; `header + len <= BUFFER_LEN`, and the
                // buffer is not lent again until `frame` has returned
                // (the slice does not outlive the call).
                let received = unsafe { core::slice::from_raw_parts(buffer.add(header).cast_const(), len) };
                frame(received);
                polled.frames += 1;
            }
            // Shorter than its header, or no Ethernet frame's length.
            Ok(_) | Err(_) => {
                self.rx_errors += 1;
                polled.bad += 1;
            }
        }
        // Refused now: `poll` tries again.
        if self.lend_receive(index).is_err() {
            self.rx_refused = true;
        }
        true
    }

    /// Take the completed transmission `token` off the ring and free its
    /// slot. `false` if the token is not one of ours.
    fn take_transmit(&mut self, token: u16) -> bool {
        let ours = |t: &Option<(u16, usize)>| t.is_some_and(|(t, _)| t == token);
        let Some(slot) = lookup(&self.tx_of_token, token, |i| self.tx.get(i).is_some_and(ours))
            .or_else(|| self.tx.iter().position(ours))
        else {
            return false;
        };
        let Some((_, len)) = self.tx[slot] else { return false };
        let buffer = self.buffer(RX_BUFFERS + slot);
        // SAFETY: the device has used `token`, which `transmit_begin` gave
        // for exactly these `len` bytes of this slot.
        let done = unsafe {
            let slice = core::slice::from_raw_parts(buffer.cast_const(), len);
            self.net.transmit_complete(token, slice)
        };
        if done.is_err() {
            return false;
        }
        self.tx[slot] = None;
        true
    }

    /// Acknowledge the device's interrupt status (needed for INTx only;
    /// harmless with MSI-X).
    pub fn ack_interrupt(&mut self) {
        let _ = self.net.ack_interrupt();
    }
}
