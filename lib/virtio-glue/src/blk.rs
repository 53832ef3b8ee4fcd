//! A virtio block device (virtio 1.x, PCI transport) with many requests
//! in flight: submit reads, writes, flushes and id requests without
//! waiting, learn of completions by [`BlockDevice::poll`] (after the
//! device's MSI-X interrupt), then collect each with
//! [`BlockDevice::finish`].
//!
//! Built on `virtio-drivers`' `PciTransport` (feature negotiation,
//! status, notification) and `VirtQueue` (the split ring); the request
//! format (a 16-byte header, the data, a status byte: virtio 1.2 §5.2.6)
//! is here rather than in the crate's `VirtIOBlk`, whose flush and
//! id requests busy-wait on the ring and so cannot share it with requests
//! in flight. Every buffer the device sees is pool memory ([`crate::dma`])
//! that stays untouched by the driver until its request completes.
//!
//! May touch: the device (through the transport and queue), the pool.

use alloc::vec::Vec;

use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::{DeviceType, Transport};

use crate::dma::{self, FerriteHal, Pages};
use crate::pci::Function;

/// Bytes in a sector, the unit of the device's addresses.
pub const SECTOR: usize = 512;
/// Descriptors in the request queue (QEMU's default for virtio-blk).
pub const QUEUE_SIZE: usize = 256;
/// Requests in flight at once (each takes three descriptors).
pub const MAX_IN_FLIGHT: usize = 64;
/// The most data one request moves.
pub const MAX_REQUEST: usize = 1 << 20;

/// virtio-blk feature bits the driver accepts.
const F_SIZE_MAX: u64 = 1 << 1;
const F_SEG_MAX: u64 = 1 << 2;
const F_RO: u64 = 1 << 5;
const F_BLK_SIZE: u64 = 1 << 6;
const F_FLUSH: u64 = 1 << 9;
const F_VERSION_1: u64 = 1 << 32;

/// Feature bits as `virtio-drivers`' negotiation wants them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Features(u64);

impl bitflags::Flags for Features {
    const FLAGS: &'static [bitflags::Flag<Self>] = &[
        bitflags::Flag::new("SIZE_MAX", Features(F_SIZE_MAX)),
        bitflags::Flag::new("SEG_MAX", Features(F_SEG_MAX)),
        bitflags::Flag::new("RO", Features(F_RO)),
        bitflags::Flag::new("BLK_SIZE", Features(F_BLK_SIZE)),
        bitflags::Flag::new("FLUSH", Features(F_FLUSH)),
        bitflags::Flag::new("VERSION_1", Features(F_VERSION_1)),
    ];
    type Bits = u64;
    fn bits(&self) -> u64 {
        self.0
    }
    fn from_bits_retain(bits: u64) -> Self {
        Features(bits)
    }
}

impl core::ops::BitAnd for Features {
    type Output = Features;
    fn bitand(self, other: Features) -> Features {
        Features(self.0 & other.0)
    }
}

/// Request types (virtio 1.2 §5.2.6).
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;
/// Per-slot control bytes: the 16-byte header, then the status byte.
const CONTROL_STRIDE: usize = 32;
const HEADER_LEN: usize = 16;
/// Device-specific configuration offsets.
const CONFIG_CAPACITY: usize = 0;
/// The queue's index, and the MSI-X entry its completions signal.
const QUEUE: u16 = 0;
const NO_VECTOR: u16 = 0xffff;
/// Common configuration offsets (virtio 1.2 §4.1.4.3).
const COMMON_MSIX_CONFIG: usize = 0x10;
const COMMON_QUEUE_SELECT: usize = 0x16;
const COMMON_QUEUE_MSIX_VECTOR: usize = 0x1a;

/// What a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    Flush,
    GetId,
}

/// Why a request failed or could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlkError {
    /// The device reported an I/O error.
    Io,
    /// The device does not support the request.
    Unsupported,
    /// No free slot or DMA memory right now: try again after completions.
    Busy,
    /// Beyond the end of the disk, or a length that is not whole sectors
    /// or is over [`MAX_REQUEST`].
    Invalid,
    /// A write to a read-only device.
    ReadOnly,
    /// The queue refused the request (a bug or a broken device).
    Queue,
}

/// A submitted request, until [`BlockDevice::finish`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(usize);

struct Slot {
    kind: Kind,
    /// The data buffer (none for a flush) and its length in bytes.
    data: Option<Pages>,
    len: usize,
    token: u16,
    /// The device's status byte, once the request completed.
    status: Option<u8>,
    /// Nobody will collect it: free it when it completes.
    abandoned: bool,
}

/// One virtio block device.
pub struct BlockDevice {
    transport: PciTransport,
    queue: VirtQueue<FerriteHal, QUEUE_SIZE>,
    control: Pages,
    slots: Vec<Option<Slot>>,
    capacity: u64,
    read_only: bool,
    can_flush: bool,
    common: usize,
}

impl BlockDevice {
    /// Negotiate features and set up the request queue of the virtio
    /// block device at `function` (its BARs mapped). Interrupts are
    /// enabled on the queue; route them with [`BlockDevice::use_msix`].
    pub fn new(function: &mut Function) -> Result<BlockDevice, &'static str> {
        let common = function.virtio_structure(1).ok_or("no virtio common configuration")?;
        let mut transport = PciTransport::new::<FerriteHal, _>(&mut function.root, function.function)
            .map_err(|_| "not a virtio PCI device (or its BARs are not mapped)")?;
        if transport.device_type() != DeviceType::Block {
            return Err("not a virtio block device");
        }
        let wanted = Features(F_SIZE_MAX | F_SEG_MAX | F_RO | F_BLK_SIZE | F_FLUSH | F_VERSION_1);
        let features = transport.begin_init(wanted);
        if features.0 & F_VERSION_1 == 0 {
            return Err("the device does not offer virtio 1.0");
        }
        let low: u32 = transport.read_config_space(CONFIG_CAPACITY).map_err(|_| "config space unreadable")?;
        let high: u32 = transport.read_config_space(CONFIG_CAPACITY + 4).map_err(|_| "config space unreadable")?;
        let mut queue = VirtQueue::new(&mut transport, QUEUE, false, false).map_err(|_| "cannot set up the queue")?;
        queue.set_dev_notify(true);
        transport.finish_init();
        let control = dma::allocate((MAX_IN_FLIGHT * CONTROL_STRIDE).div_ceil(rt::mem::PAGE_SIZE))
            .ok_or("no DMA memory for request headers")?;
        Ok(BlockDevice {
            transport,
            queue,
            control,
            slots: (0..MAX_IN_FLIGHT).map(|_| None).collect(),
            capacity: u64::from(low) | (u64::from(high) << 32),
            read_only: features.0 & F_RO != 0,
            can_flush: features.0 & F_FLUSH != 0,
            common,
        })
    }

    fn common_u16(&self, offset: usize) -> *mut u16 {
        core::ptr::with_exposed_provenance_mut(self.common + offset)
    }

    /// Signal the queue's completions on MSI-X table entry `entry`
    /// (already programmed; see [`Function::enable_msix`]). Fails if the
    /// device does not take the vector.
    pub fn use_msix(&mut self, entry: u16) -> Result<(), &'static str> {
        // SAFETY: `common` is the device's common configuration structure
        // inside a BAR mapped for the life of the process
        // (`Function::map_bars`); these are its 16-bit registers
        // `msix_config`, `queue_select` and `queue_msix_vector`.
        let taken = unsafe {
            self.common_u16(COMMON_MSIX_CONFIG).write_volatile(NO_VECTOR);
            self.common_u16(COMMON_QUEUE_SELECT).write_volatile(QUEUE);
            self.common_u16(COMMON_QUEUE_MSIX_VECTOR).write_volatile(entry);
            self.common_u16(COMMON_QUEUE_MSIX_VECTOR).read_volatile()
        };
        if taken == entry { Ok(()) } else { Err("the device refused the MSI-X vector") }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.capacity.saturating_mul(SECTOR as u64)
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Requests submitted and not yet finished.
    pub fn in_flight(&self) -> usize {
        self.slots.iter().flatten().filter(|s| !s.abandoned).count()
    }

    /// Read `len` bytes (whole sectors, at most [`MAX_REQUEST`]) from
    /// `sector`.
    pub fn submit_read(&mut self, sector: u64, len: usize) -> Result<Tag, BlkError> {
        self.check_range(sector, len)?;
        self.submit(Kind::Read, sector, len, None)
    }

    /// Write `data` (whole sectors, at most [`MAX_REQUEST`]) at `sector`.
    pub fn submit_write(&mut self, sector: u64, data: &[u8]) -> Result<Tag, BlkError> {
        if self.read_only {
            return Err(BlkError::ReadOnly);
        }
        self.check_range(sector, data.len())?;
        self.submit(Kind::Write, sector, data.len(), Some(data))
    }

    /// Ask the device to make every completed write durable. Devices
    /// without a write cache to flush complete it at once.
    pub fn submit_flush(&mut self) -> Result<Tag, BlkError> {
        self.submit(Kind::Flush, 0, 0, None)
    }

    /// Read the device's id string (at most 20 bytes).
    pub fn submit_get_id(&mut self) -> Result<Tag, BlkError> {
        self.submit(Kind::GetId, 0, 20, None)
    }

    fn check_range(&self, sector: u64, len: usize) -> Result<(), BlkError> {
        let sectors = (len / SECTOR) as u64;
        let fits = sector.checked_add(sectors).is_some_and(|end| end <= self.capacity);
        if len == 0 || !len.is_multiple_of(SECTOR) || len > MAX_REQUEST || !fits {
            return Err(BlkError::Invalid);
        }
        Ok(())
    }

    fn control_bytes(&self, slot: usize) -> (*mut u8, *mut u8) {
        let header = self.control.virt + slot * CONTROL_STRIDE;
        (core::ptr::with_exposed_provenance_mut(header), core::ptr::with_exposed_provenance_mut(header + HEADER_LEN))
    }

    fn submit(&mut self, kind: Kind, sector: u64, len: usize, write: Option<&[u8]>) -> Result<Tag, BlkError> {
        let index = self.slots.iter().position(Option::is_none).ok_or(BlkError::Busy)?;
        let data = if len > 0 {
            Some(dma::allocate_unzeroed(len.div_ceil(rt::mem::PAGE_SIZE)).ok_or(BlkError::Busy)?)
        } else {
            None
        };
        let request_type = match kind {
            Kind::Read => T_IN,
            Kind::Write => T_OUT,
            Kind::Flush if !self.can_flush => {
                // Nothing to flush: complete at once.
                self.slots[index] = Some(Slot { kind, data, len, token: u16::MAX, status: Some(0), abandoned: false });
                return Ok(Tag(index));
            }
            Kind::Flush => T_FLUSH,
            Kind::GetId => T_GET_ID,
        };
        let (header, status) = self.control_bytes(index);
        let mut bytes = [0u8; HEADER_LEN];
        bytes[..4].copy_from_slice(&request_type.to_le_bytes());
        bytes[8..].copy_from_slice(&sector.to_le_bytes());
        // SAFETY: `header` and `status` are this free slot's bytes in the
        // control pages (mapped for the process's life); no request uses
        // them, so the device does not either. `data` was just taken from
        // the pool, `len` bytes long, used by nothing else.
        let token = unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), header, HEADER_LEN);
            status.write_volatile(0xff);
            if let (Some(data), Some(source)) = (data, write) {
                core::ptr::copy_nonoverlapping(source.as_ptr(), core::ptr::with_exposed_provenance_mut(data.virt), len);
            }
            self.add(kind, index, data, len)
        };
        let token = match token {
            Ok(token) => token,
            Err(err) => {
                if let Some(data) = data {
                    dma::free(data);
                }
                return Err(err);
            }
        };
        if self.queue.should_notify() {
            self.transport.notify(QUEUE);
        }
        self.slots[index] = Some(Slot { kind, data, len, token, status: None, abandoned: false });
        Ok(Tag(index))
    }

    /// Put slot `index`'s buffers on the ring (or, with `pop`, take them
    /// off after the device used them).
    ///
    /// # Safety
    /// The slot's control bytes and `data` (`len` bytes) must stay
    /// untouched by the driver until the request is popped.
    unsafe fn add(&mut self, kind: Kind, index: usize, data: Option<Pages>, len: usize) -> Result<u16, BlkError> {
        // SAFETY: the caller keeps the buffers for the device.
        unsafe { self.ring(kind, index, data, len, None) }
    }

    /// # Safety
    /// As for [`BlockDevice::add`]; `token` is the token `add` returned for
    /// the same buffers, and the device has used it.
    unsafe fn ring(
        &mut self,
        kind: Kind,
        index: usize,
        data: Option<Pages>,
        len: usize,
        pop: Option<u16>,
    ) -> Result<u16, BlkError> {
        let (header, status) = self.control_bytes(index);
        // SAFETY: the slices cover the slot's control bytes and its data
        // pages, all pool memory mapped for the process's life; they exist
        // only for the length of this call, to hand the ring their
        // addresses (the HAL's `share` translates, nothing is copied).
        unsafe {
            let header = core::slice::from_raw_parts(header.cast_const(), HEADER_LEN);
            let status = core::slice::from_raw_parts_mut(status, 1);
            let data =
                data.map(|d| core::slice::from_raw_parts_mut(core::ptr::with_exposed_provenance_mut(d.virt), len));
            let result = match (kind, data) {
                (Kind::Write, Some(data)) => {
                    let inputs = [header, &*data];
                    let mut outputs = [status];
                    match pop {
                        None => self.queue.add(&inputs, &mut outputs),
                        Some(token) => self.queue.pop_used(token, &inputs, &mut outputs).map(|_| token),
                    }
                }
                (_, Some(data)) => {
                    let inputs = [header];
                    let mut outputs = [data, status];
                    match pop {
                        None => self.queue.add(&inputs, &mut outputs),
                        Some(token) => self.queue.pop_used(token, &inputs, &mut outputs).map(|_| token),
                    }
                }
                (_, None) => {
                    let inputs = [header];
                    let mut outputs = [status];
                    match pop {
                        None => self.queue.add(&inputs, &mut outputs),
                        Some(token) => self.queue.pop_used(token, &inputs, &mut outputs).map(|_| token),
                    }
                }
            };
            result.map_err(|err| match err {
                virtio_drivers::Error::QueueFull => BlkError::Busy,
                _ => BlkError::Queue,
            })
        }
    }

    /// Take every completed request off the ring. Returns how many
    /// completed (their [`BlockDevice::status`] is now known).
    pub fn poll(&mut self) -> usize {
        let mut done = 0;
        while let Some(token) = self.queue.peek_used() {
            let Some(index) =
                self.slots.iter().position(|s| s.as_ref().is_some_and(|s| s.status.is_none() && s.token == token))
            else {
                // A token we never submitted: the device is broken. Stop
                // rather than spin; its requests will time out upstairs.
                break;
            };
            let (kind, data, len) = match &self.slots[index] {
                Some(slot) => (slot.kind, slot.data, slot.len),
                None => break,
            };
            // SAFETY: the device has used `token`, which `add` returned for
            // exactly this slot's buffers.
            if unsafe { self.ring(kind, index, data, len, Some(token)) }.is_err() {
                break;
            }
            let (_, status) = self.control_bytes(index);
            // SAFETY: the slot's status byte, written by the device before
            // it published the used entry.
            let status = unsafe { status.read_volatile() };
            done += 1;
            match &mut self.slots[index] {
                Some(slot) if slot.abandoned => self.release(index),
                Some(slot) => slot.status = Some(status),
                None => {}
            }
        }
        done
    }

    /// `None` while `tag` is in flight; then whether it succeeded.
    pub fn status(&self, tag: Tag) -> Option<Result<(), BlkError>> {
        let status = self.slots.get(tag.0)?.as_ref()?.status?;
        Some(match status {
            0 => Ok(()),
            2 => Err(BlkError::Unsupported),
            _ => Err(BlkError::Io),
        })
    }

    /// Collect a completed request: for a read or an id, copy its data
    /// from byte `skip` into `out` (as much as fits) and return how much;
    /// the slot and its memory are free again. `None` while in flight.
    pub fn finish(&mut self, tag: Tag, skip: usize, out: &mut [u8]) -> Option<Result<usize, BlkError>> {
        let result = self.status(tag)?;
        let slot = self.slots[tag.0].as_ref()?;
        let copied = match (result, slot.kind, slot.data) {
            (Ok(()), Kind::Read | Kind::GetId, Some(data)) => {
                let n = out.len().min(slot.len.saturating_sub(skip));
                let source: *const u8 = core::ptr::with_exposed_provenance(data.virt + skip);
                // SAFETY: the device is done with the buffer (its request
                // completed); `skip + n <= len`, inside the slot's pages.
                unsafe { core::ptr::copy_nonoverlapping(source, out.as_mut_ptr(), n) };
                Ok(n)
            }
            (Ok(()), ..) => Ok(slot.len),
            (Err(err), ..) => Err(err),
        };
        self.release(tag.0);
        Some(copied)
    }

    /// The caller of `tag` went away: forget it (now, or when the device
    /// completes it).
    pub fn abandon(&mut self, tag: Tag) {
        match self.slots.get_mut(tag.0) {
            Some(Some(slot)) if slot.status.is_none() => slot.abandoned = true,
            Some(Some(_)) => self.release(tag.0),
            _ => {}
        }
    }

    fn release(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index).and_then(Option::take)
            && let Some(data) = slot.data
        {
            dma::free(data);
        }
    }

    /// Acknowledge the device's interrupt status (needed for INTx only;
    /// harmless with MSI-X).
    pub fn ack_interrupt(&mut self) {
        let _ = self.transport.ack_interrupt();
    }
}
