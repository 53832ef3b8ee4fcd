//! `virtio-netd`: the driver of QEMU's `virtio-net-pci` network cards,
//! serving them as `network:`, raw Ethernet frames (README "Network
//! card"; the scheme is in [`cards`]). `netd` serves TCP/IP on top.
//!
//! Set-up, as root: find every virtio network function in `pci:`
//! (vendor 0x1af4, device 0x1041, or 0x1000 for a transitional one), and
//! for each take exactly its resources: its configuration page
//! (`memory:pci/BB:DD.F`), windows on its memory BARs, one `irq:msi`
//! vector programmed into its MSI-X table (both of its queues signal
//! it), and DMA memory from `memory:dma`; then register `network:`,
//! enter the null namespace and serve as uid [`NET_UID`]. The device glue
//! (all of the `unsafe`) is `lib/virtio-glue`.
//!
//! Interrupt-driven: one `event:` queue watches the scheme socket, the
//! kick pipe (`netd` pushed frames to send into a ring) and every card's
//! interrupt. A card's interrupt wakes the loop, which
//! collects the frames that arrived (handing each to every open handle
//! of that card, and telling the handles' `event:` watchers) and the
//! transmissions done, then retries the calls that were waiting for
//! either (parked reads and writes).
//!
//! May touch: its cards (through the glue), its scheme socket, its
//! `irq:` handles and `event:` queue.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod cards;

use alloc::string::String;
use alloc::vec::Vec;

use rt::event::EventQueue;
use rt::fs::File;
use scheme::sc::{self, EAGAIN, EIO, Event};
use scheme::{Error, EventFlags, Result, Server};
use virtio_glue::net::NetDevice;
use virtio_glue::pci::Function;

use crate::cards::{Card, Cards};

rt::main!(main);

/// The unprivileged user the driver serves as (`pcid` is 60,
/// `virtio-blkd` 61).
const NET_UID: u32 = 62;
/// DMA memory per card: 96 frame buffers of 2 KiB and the two queues.
const DMA_PER_CARD: usize = 512 << 10;
/// Event data: the scheme socket, the kick pipe (frames wait in a ring
/// to send); card `n`'s interrupt is `IRQ_BASE + n`.
const SOCKET: usize = 0;
const KICK: usize = 1;
const IRQ_BASE: usize = 2;

/// The virtio network functions `pci:` lists, as `BB:DD.F`.
fn find_cards() -> Result<Vec<String>> {
    let listing = rt::fs::read_to_string("pci:")?;
    Ok(listing
        .lines()
        .filter(|line| matches!(line.split_whitespace().nth(1), Some("1af4:1041" | "1af4:1000")))
        .filter_map(|line| line.split_whitespace().next().map(String::from))
        .collect())
}

/// Take the card at `address`: map it, start it, route its interrupt.
fn start(address: &str) -> Result<(NetDevice, File)> {
    let fail = |what: &str| {
        log::warn!("{address}: {what}");
        Error::new(EIO)
    };
    let mut function = Function::open(address).inspect_err(|err| log::warn!("{address}: {err}"))?;
    function.map_bars().inspect_err(|err| log::warn!("{address}: mapping its BARs: {err}"))?;
    let mut device = NetDevice::new(&mut function).map_err(fail)?;
    let irq = File::open_with("irq:msi", sc::O_RDWR | sc::O_NONBLOCK | sc::O_CLOEXEC)
        .inspect_err(|err| log::warn!("{address}: irq:msi: {err}"))?;
    let mut message = irq.derive("message")?;
    function.enable_msix(0, &mut message).inspect_err(|err| log::warn!("{address}: MSI-X: {err}"))?;
    device.use_msix(0).map_err(fail)?;
    Ok((device, irq))
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

/// Empty the kick pipe (the kicks since the last look ask for one pass).
fn drain(kick: &mut File) -> Result<()> {
    let mut bytes = [0u8; 64];
    loop {
        match kick.read(&mut bytes) {
            Ok(n) if n == bytes.len() => continue,
            Ok(_) => return Ok(()),
            Err(err) if err.errno == EAGAIN => return Ok(()),
            Err(err) => return Err(err),
        }
    }
}

fn main() -> Result<()> {
    rt::log::init();
    let addresses = find_cards().inspect_err(|err| log::error!("cannot read pci: ({err})"))?;
    if addresses.is_empty() {
        // Not a failure: init does not start it again.
        log::info!("no virtio network card; nothing to serve");
        return Ok(());
    }
    virtio_glue::dma::init(DMA_PER_CARD * addresses.len())
        .inspect_err(|err| log::error!("cannot get DMA memory: {err}"))?;
    let mut cards = Vec::new();
    let mut irqs = Vec::new();
    for address in &addresses {
        let (device, irq) = start(address)?;
        cards.push(Card::new(address.clone(), device));
        irqs.push(irq);
    }
    // The kick pipe, opened before the null namespace: `netd` gets write
    // ends of it (`dup(ring, "kick")`) and writes a byte after it pushes
    // frames to send.
    let mut kick = File::open_with("pipe:", sc::O_RDONLY | sc::O_NONBLOCK | sc::O_CLOEXEC)
        .inspect_err(|err| log::error!("cannot open pipe: ({err})"))?;
    let kick_write = kick.derive("write")?;
    let mut server = Server::new("network", Cards::new(cards, kick_write))?;
    // What completed before the interrupts were routed raised none.
    for index in 0..irqs.len() {
        server.scheme().interrupt(index);
    }
    let queue = EventQueue::new()?;
    server.watch_on(&queue, SOCKET)?;
    queue.watch(kick.fd(), EventFlags::EVENT_READ, KICK)?;
    for (n, irq) in irqs.iter().enumerate() {
        queue.watch(irq.fd(), EventFlags::EVENT_READ, IRQ_BASE + n)?;
    }
    server.confine().inspect_err(|err| log::error!("cannot enter the null namespace: {err}"))?;
    rt::sys::setuid(NET_UID, NET_UID).inspect_err(|err| log::error!("cannot become uid {NET_UID}: {err}"))?;
    for line in server.scheme().describe() {
        log::info!("{line}");
    }
    server.ready();

    let mut events = [Event::default(); 8];
    loop {
        let n = queue.wait(&mut events)?;
        let mut changed = false;
        for event in &events[..n] {
            match event.data {
                SOCKET => server.handle_pending()?,
                KICK => {
                    drain(&mut kick)?;
                    changed |= server.scheme().send_rings();
                }
                data => {
                    let index = data - IRQ_BASE;
                    if let Some(irq) = irqs.get_mut(index) {
                        acknowledge(irq)?;
                        changed |= server.scheme().interrupt(index);
                    }
                }
            }
        }
        if changed {
            // Answers the reads and writes that waited, and tells the
            // `event:` watchers.
            server.retry_parked()?;
        }
    }
}
