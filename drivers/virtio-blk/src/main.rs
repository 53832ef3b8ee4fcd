//! `virtio-blkd`: the driver of QEMU's `virtio-blk-pci` disks, serving
//! them as `disk:` (README "Disks"; the scheme is in [`disks`]).
//!
//! Set-up, as root: find every virtio block function in `pci:` (vendor
//! 0x1af4, device 0x1042, or 0x1001 for a transitional one), and for each
//! take exactly its resources: its configuration page
//! (`memory:pci/BB:DD.F`), windows on its memory BARs, one `irq:msi`
//! vector programmed into its MSI-X table, and DMA memory from
//! `memory:dma`; then register `disk:`, enter the null namespace and
//! serve as uid [`DISK_UID`]. The device glue (all of the `unsafe`) is
//! `lib/virtio-glue`.
//!
//! Requests do not block the daemon: a read, write or flush is put on the
//! device's queue and the call is parked; the device's interrupt wakes
//! the loop, which collects what completed and answers those callers.
//! (The one wait is for a sector a write kept back covers only in part,
//! read by polling when that write goes to the device: [`read_now`].)
//! Up to `virtio_glue::blk::MAX_IN_FLIGHT` requests are in flight per disk.
//! Small writes are kept back and sent together ([`disks`]); a `time:`
//! timeout, armed for when the oldest of them has waited long enough,
//! sends them when no other call does.
//!
//! May touch: its devices (through the glue), its scheme socket, its
//! `irq:` handles, its timer and `event:` queue.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod disks;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rt::event::{EventQueue, Timer};
use rt::fs::File;
use scheme::sc::{self, EAGAIN, EIO, Event};
use scheme::{Error, EventFlags, Result, Server};
use virtio_glue::blk::BlockDevice;
use virtio_glue::pci::Function;

use crate::disks::{Disk, Disks};

rt::main!(main);

/// The unprivileged user the driver serves as.
const DISK_UID: u32 = 61;
/// DMA memory for request buffers and queues, per disk.
const DMA_PER_DISK: usize = 2 << 20;
/// Event data: the scheme socket, the timer; disk `n`'s interrupt is
/// `IRQ_BASE + n`.
const SOCKET: usize = 0;
const TIMER: usize = 1;
const IRQ_BASE: usize = 2;

/// The virtio block functions `pci:` lists, as `BB:DD.F`.
fn find_disks() -> Result<Vec<String>> {
    let listing = rt::fs::read_to_string("pci:")?;
    Ok(listing
        .lines()
        .filter(|line| matches!(line.split_whitespace().nth(1), Some("1af4:1042" | "1af4:1001")))
        .filter_map(|line| line.split_whitespace().next().map(String::from))
        .collect())
}

/// Take the device at `address`: map it, start it, route its interrupt.
fn start(address: &str) -> Result<(BlockDevice, File)> {
    let fail = |what: &str| {
        log::warn!("{address}: {what}");
        Error::new(EIO)
    };
    let mut function = Function::open(address).inspect_err(|err| log::warn!("{address}: {err}"))?;
    function.map_bars().inspect_err(|err| log::warn!("{address}: mapping its BARs: {err}"))?;
    let mut device = BlockDevice::new(&mut function).map_err(fail)?;
    let irq = File::open_with("irq:msi", sc::O_RDWR | sc::O_NONBLOCK | sc::O_CLOEXEC)
        .inspect_err(|err| log::warn!("{address}: irq:msi: {err}"))?;
    let mut message = irq.derive("message")?;
    function.enable_msix(0, &mut message).inspect_err(|err| log::warn!("{address}: MSI-X: {err}"))?;
    device.use_msix(0).map_err(fail)?;
    Ok((device, irq))
}

/// How long reading a disk's partition table at start may take.
const TABLE_TIMEOUT: core::time::Duration = core::time::Duration::from_secs(5);

/// `count` sectors from `first`, read by polling the device: before
/// serving (the loop is not running yet), and for a sector a write covers
/// in part. `None` if the device failed it or took over [`TABLE_TIMEOUT`].
pub(crate) fn read_now(device: &mut BlockDevice, first: u64, count: usize) -> Option<Vec<u8>> {
    let len = count.checked_mul(virtio_glue::blk::SECTOR)?;
    let mut out = alloc::vec![0u8; len];
    let mut done = 0;
    while done < len {
        let chunk = (len - done).min(virtio_glue::blk::MAX_REQUEST);
        let tag = device.submit_read(first + (done / virtio_glue::blk::SECTOR) as u64, chunk).ok()?;
        let deadline = rt::time::now() + TABLE_TIMEOUT;
        let result = loop {
            device.poll();
            if let Some(result) = device.finish(tag, 0, &mut out[done..done + chunk]) {
                break result;
            }
            if rt::time::now() > deadline {
                device.abandon(tag);
                return None;
            }
            // A few sectors take microseconds; giving up the CPU would
            // cost a scheduler tick per request (a restart must be quick).
            core::hint::spin_loop();
        };
        done += result.ok().filter(|&n| n == chunk)?;
    }
    Some(out)
}

/// The partitions of the disk `device` (none if it has no table; a table
/// that does not hold together is logged and ignored, so the whole disk
/// is still served).
fn partitions(address: &str, device: &mut BlockDevice) -> Vec<partition_table::Partition> {
    let sectors = device.size() / virtio_glue::blk::SECTOR as u64;
    match partition_table::read(sectors, |first, count| read_now(device, first, count)) {
        Ok(parts) => parts,
        Err(partition_table::Error::NoTable) => Vec::new(),
        Err(err) => {
            log::warn!("{address}: partition table ignored: {err}");
            Vec::new()
        }
    }
}

/// Acknowledge what `irq` counted (none waiting is fine).
fn acknowledge(irq: &mut File) -> Result<()> {
    let mut count = [0u8; 8];
    match irq.read(&mut count) {
        Ok(8) => irq.write(&count).map(drop),
        Ok(_) => Err(Error::new(EIO)),
        Err(err) if err.errno == EAGAIN => Ok(()),
        Err(err) => Err(err),
    }
}

fn main() -> Result<()> {
    rt::log::init();
    let addresses = find_disks().inspect_err(|err| log::error!("cannot read pci: ({err})"))?;
    if addresses.is_empty() {
        // Not a failure: init does not start it again.
        log::info!("no virtio block device; nothing to serve");
        return Ok(());
    }
    virtio_glue::dma::init(DMA_PER_DISK * addresses.len())
        .inspect_err(|err| log::error!("cannot get DMA memory: {err}"))?;
    let mut disks = Vec::new();
    let mut tables = Vec::new();
    let mut irqs = Vec::new();
    for address in &addresses {
        let (mut device, irq) = start(address)?;
        tables.push(partitions(address, &mut device));
        disks.push(Disk::new(address.clone(), device));
        irqs.push(irq);
    }
    let mut server = Server::new("disk", Disks::new(disks, tables))?;
    let queue = EventQueue::new()?;
    server.watch_on(&queue, SOCKET)?;
    let mut timer = Timer::new(&queue, TIMER)?;
    for (n, irq) in irqs.iter().enumerate() {
        queue.watch(irq.fd(), EventFlags::EVENT_READ, IRQ_BASE + n)?;
    }
    server.confine().inspect_err(|err| log::error!("cannot enter the null namespace: {err}"))?;
    rt::sys::setuid(DISK_UID, DISK_UID).inspect_err(|err| log::error!("cannot become uid {DISK_UID}: {err}"))?;
    for line in server.scheme().describe() {
        log::info!("{line}");
    }
    server.ready();

    let mut events = [Event::default(); 8];
    loop {
        let n = queue.wait(&mut events)?;
        let mut completed = false;
        for event in &events[..n] {
            match event.data {
                SOCKET => server.handle_pending()?,
                TIMER => timer.fired(),
                data => {
                    let index = data - IRQ_BASE;
                    if let Some(irq) = irqs.get_mut(index) {
                        acknowledge(irq)?;
                        completed |= server.scheme().interrupt(index) > 0;
                    }
                }
            }
        }
        if completed || server.scheme().completed_meanwhile() {
            server.retry_parked()?;
        }
        if let Some(at) = server.scheme().send_due(rt::time::now()) {
            timer.arm(at)?;
        }
    }
}

/// Used by `disks` for the listing.
pub(crate) fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b.is_multiple_of(1 << 30) => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b => format!("{} KiB", b >> 10),
    }
}
