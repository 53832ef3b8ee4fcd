//! `irq:` — device interrupts, delivered to driver daemons.
//!
//! `open("irq:")` lists the GSIs (IOAPIC inputs) that can be opened, one
//! per line: the number, then `isa=N` if an ISA IRQ arrives there, then
//! `edge`/`level` and `high`/`low` as the line is programmed.
//!
//! `open("irq:N")` (uid 0 only, else `EACCES`; `N` in plain decimal, else
//! `ENOENT`, as is a GSI no IOAPIC has) claims GSI `N`: routes it to the
//! boot CPU and unmasks it. One opener at a time: a second open is `EBUSY`,
//! and so is a line the kernel uses itself (COM1's, once a `debug:` handle
//! was read: `debug:` claims it lazily, so a serial driver can own it).
//! On the open handle:
//!
//! - `read` (at least 8 bytes, else `EINVAL`) returns the number of
//!   interrupts since the last acknowledgement as a native-endian `u64`,
//!   waiting while it is 0 (`EAGAIN` with `O_NONBLOCK`). Reading does not
//!   reset it.
//! - `write` of a `u64` (exactly 8 bytes) acknowledges that many (at most
//!   the count, else `EINVAL`). A level-triggered line is masked in the
//!   IOAPIC from the moment it fires until the driver acknowledges, so a
//!   device that keeps its line asserted cannot storm the CPU; an
//!   edge-triggered line stays unmasked and counts every edge.
//! - `fevent`: `EVENT_READ` while the count is not 0, `EVENT_WRITE` always;
//!   each delivery triggers `EVENT_READ`.
//! - closing masks the line and frees it for the next opener.
//!
//! The handler runs in interrupt context: it masks a level line, bumps the
//! count, wakes readers and triggers the event — allocation-free except for
//! `event::trigger`, which allocates a little only when an `event:` queue
//! watches the handle. That is safe here: every lock on that path (event
//! registry, queues, wait queues, run queues, heap, frames, kernel page
//! tables) is only ever taken with interrupts off, so the handler cannot
//! deadlock against the code it interrupted, and `debug:`'s COM1 handler
//! does the same. Deferring the trigger instead would need a thread context
//! that runs soon after the interrupt, which the kernel does not have
//! (no kernel threads or soft-IRQ hook), and deferring to the handle's next
//! read would never wake a driver that sleeps on an `event:` queue.
//!
//! `open("irq:msi")` (uid 0 only) gives a message-signalled interrupt
//! instead: the kernel takes a free vector (of 32; `EBUSY` when all are
//! given) aimed at the boot CPU, and the handle reads, acknowledges and
//! reports events as a line's does (edge-triggered: never masked; the
//! device masks its own MSI-X entries). `dup(fd, "message")` gives a
//! read-only handle whose `read` returns the message the device must send:
//! the address as a native-endian `u64`, then the data as a `u32` (12
//! bytes; a shorter buffer is `EINVAL`), which the driver programs into
//! its device's MSI capability or MSI-X table entry. `fpath` is `msi/K`.
//! Closing frees the vector; a driver stops its device first.
//!
//! A line has one owner at a time (`arch::irq::claim`): a driver here, or
//! the kernel itself (COM1's line, while `debug:` input is in use).
//!
//! May touch: the per-GSI state here (atomics and wait queues), the IRQ
//! handler table, IOAPIC redirection entries of the lines it owns, its own
//! handle table, and the event registry.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use abi::syscall::error::{EACCES, EBADF, EBUSY, EINVAL, ENOENT, Error};
use abi::syscall::{EventFlags, MODE_CHR, MODE_DIR, Stat};

use super::handles::HandleTable;
use super::snapshot::Snapshot;
use super::{Caller, KernelScheme, Opened, event, key_of};
use crate::arch::x86_64::apic::ioapic::{self, Polarity, Trigger};
use crate::arch::x86_64::irq::{self, GSI_COUNT, SOURCE_COUNT};
use crate::arch::x86_64::{self as arch, idt, percpu};
use crate::context::wait_queue::WaitQueue;

/// Bytes of a count.
const COUNT_SIZE: usize = size_of::<u64>();

/// Bytes of an MSI message as `read` gives it: address, data.
const MESSAGE_SIZE: usize = 12;

/// One source's (GSI's or MSI vector's) delivery state, shared with its
/// interrupt handler.
struct Line {
    /// Interrupts since the last acknowledgement.
    pending: AtomicU64,
    /// The handle that has the line open (0: none).
    owner: AtomicUsize,
    /// Level-triggered: the handler masks it until acknowledged.
    level: AtomicBool,
}

impl Line {
    const fn new() -> Line {
        Line { pending: AtomicU64::new(0), owner: AtomicUsize::new(0), level: AtomicBool::new(false) }
    }
}

static LINES: [Line; SOURCE_COUNT] = [const { Line::new() }; SOURCE_COUNT];
/// Readers waiting for each source.
static WAITERS: [WaitQueue; SOURCE_COUNT] = [const { WaitQueue::new() }; SOURCE_COUNT];
/// The scheme's key in the event registry (set when it is made).
static KEY: AtomicUsize = AtomicUsize::new(0);

/// The interrupt handler of source `G` (the handler table takes plain `fn()`s).
fn on_interrupt<const G: usize>() {
    deliver(G);
}

macro_rules! handlers {
    ($($gsi:literal)*) => { [$(on_interrupt::<$gsi> as fn()),*] };
}

const _: () = assert!(SOURCE_COUNT == 64, "one handler per source below");
static HANDLERS: [fn(); SOURCE_COUNT] = handlers!(
    0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
    32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63
);

/// Interrupt context: an interrupt arrived from `source`, which is open.
fn deliver(source: usize) {
    let line = &LINES[source];
    if line.level.load(Ordering::Acquire) {
        ioapic::mask(source as u32);
    }
    line.pending.fetch_add(1, Ordering::AcqRel);
    WAITERS[source].wake_all();
    let handle = line.owner.load(Ordering::Acquire);
    if handle != 0 {
        event::trigger(KEY.load(Ordering::Acquire), handle, EventFlags::EVENT_READ);
    }
}

/// How a GSI is wired, from the MADT's ISA overrides or the bus defaults.
#[derive(Clone, Copy)]
struct Wiring {
    level: bool,
    active_low: bool,
    /// The ISA IRQ that arrives on it, if any.
    isa: Option<usize>,
}

impl Wiring {
    fn of(gsi: usize) -> Wiring {
        let routes = arch::PLATFORM.get().map(|p| p.isa_routes);
        let isa = routes.and_then(|routes| {
            // An override that moves an ISA IRQ here comes first; then the
            // ISA IRQ of the same number, unless it was moved elsewhere.
            let moved_here = routes.iter().enumerate().find(|&(irq, r)| irq != gsi && r.gsi as usize == gsi);
            let same = routes.get(gsi).filter(|r| r.gsi as usize == gsi).map(|r| (gsi, r));
            moved_here.or(same).map(|(irq, route)| (irq, *route))
        });
        match isa {
            Some((irq, route)) => Wiring { level: route.level_triggered, active_low: route.active_low, isa: Some(irq) },
            // ISA inputs default to edge/high, PCI ones to level/low.
            None => Wiring { level: gsi >= 16, active_low: gsi >= 16, isa: None },
        }
    }

    /// Program `gsi` to arrive at the boot CPU and unmask it.
    fn route(&self, gsi: usize) -> bool {
        let trigger = if self.level { Trigger::Level } else { Trigger::Edge };
        let polarity = if self.active_low { Polarity::ActiveLow } else { Polarity::ActiveHigh };
        let boot_cpu = percpu::get(0).map_or(0, |cpu| cpu.apic_id.load(Ordering::Relaxed));
        ioapic::route(gsi as u32, idt::IRQ_BASE + gsi as u8, boot_cpu, trigger, polarity)
    }
}

#[derive(Clone)]
enum Handle {
    /// An open source: a GSI (below `GSI_COUNT`) or an MSI vector.
    Line(usize),
    /// The message of an MSI source (`dup(fd, "message")`).
    Message(usize),
    /// The listing, as it was at open, and the read offset.
    Listing(Snapshot),
}

pub struct IrqScheme {
    wiring: [Wiring; GSI_COUNT],
    handles: HandleTable<Handle>,
}

impl IrqScheme {
    /// The scheme, made once at boot.
    pub fn new() -> Arc<IrqScheme> {
        let wiring: [Wiring; GSI_COUNT] = core::array::from_fn(Wiring::of);
        let scheme = Arc::new(IrqScheme { wiring, handles: HandleTable::new() });
        KEY.store(key_of(&*scheme), Ordering::Release);
        scheme
    }

    fn handle(&self, id: usize) -> Result<Handle, Error> {
        self.handles.get(id)
    }

    fn insert(&self, handle: Handle) -> usize {
        self.handles.insert(handle)
    }

    fn listing(&self) -> Vec<u8> {
        let mut text = String::new();
        let free = |gsi: usize| ioapic::has(gsi as u32) && !irq::is_claimed(gsi as u8);
        for (gsi, wiring) in self.wiring.iter().enumerate().filter(|&(gsi, _)| free(gsi)) {
            let _ = write!(text, "{gsi}");
            if let Some(irq) = wiring.isa {
                let _ = write!(text, " isa={irq}");
            }
            let trigger = if wiring.level { "level" } else { "edge" };
            let polarity = if wiring.active_low { "low" } else { "high" };
            let _ = writeln!(text, " {trigger} {polarity}");
        }
        text.into_bytes()
    }

    /// Claim `gsi` for handle `id`: install the handler, unmask the line.
    fn claim(&self, gsi: usize, id: usize) -> Result<(), Error> {
        let line = &LINES[gsi];
        let wiring = self.wiring[gsi];
        line.pending.store(0, Ordering::Release);
        line.level.store(wiring.level, Ordering::Release);
        line.owner.store(id, Ordering::Release);
        if !irq::claim(gsi as u8, HANDLERS[gsi]) {
            line.owner.store(0, Ordering::Release);
            return Err(Error::new(EBUSY));
        }
        if !wiring.route(gsi) {
            self.release(gsi);
            return Err(Error::new(ENOENT));
        }
        Ok(())
    }

    /// Take a free MSI source for handle `id`.
    fn claim_msi(&self, id: usize) -> Result<usize, Error> {
        for source in GSI_COUNT..SOURCE_COUNT {
            let line = &LINES[source];
            if irq::is_claimed(source as u8) {
                continue;
            }
            line.pending.store(0, Ordering::Release);
            line.level.store(false, Ordering::Release);
            line.owner.store(id, Ordering::Release);
            if irq::claim(source as u8, HANDLERS[source]) {
                return Ok(source);
            }
            line.owner.store(0, Ordering::Release);
        }
        crate::caller_log!(Warn, "irq: all {} MSI vectors are taken", SOURCE_COUNT - GSI_COUNT);
        Err(Error::new(EBUSY))
    }

    /// Mask `source` (a GSI's IOAPIC input) and give it up.
    fn release(&self, source: usize) {
        let line = &LINES[source];
        if source < GSI_COUNT {
            ioapic::mask(source as u32);
        }
        irq::release(source as u8);
        line.level.store(false, Ordering::Release);
        line.pending.store(0, Ordering::Release);
        line.owner.store(0, Ordering::Release);
    }
}

/// A GSI number in plain decimal ("7", not "07" or "+7"), below `GSI_COUNT`.
fn parse_gsi(name: &str) -> Option<usize> {
    let canonical =
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) && (name == "0" || !name.starts_with('0'));
    canonical.then(|| name.parse::<usize>().ok()).flatten().filter(|&gsi| gsi < GSI_COUNT)
}

impl KernelScheme for IrqScheme {
    fn open(&self, path: &str, _flags: usize, caller: &Caller) -> Result<Opened, Error> {
        let name = path.trim_matches('/');
        if name.is_empty() {
            let listing = Handle::Listing(Snapshot::new(self.listing()));
            return Ok(Opened::Handle(self.insert(listing)));
        }
        if caller.uid != 0 {
            crate::caller_log!(Info, "irq: pid {} (uid {}) may not open irq:{name}", caller.pid, caller.uid);
            return Err(Error::new(EACCES));
        }
        if name == "msi" {
            let id = self.handles.insert_with(|id| self.claim_msi(id).map(Handle::Line))?;
            return Ok(Opened::Handle(id));
        }
        let gsi = parse_gsi(name).filter(|&gsi| ioapic::has(gsi as u32)).ok_or(Error::new(ENOENT))?;
        let id = self.handles.insert_with(|id| self.claim(gsi, id).map(|()| Handle::Line(gsi)))?;
        Ok(Opened::Handle(id))
    }

    /// `dup(fd, "message")` of an MSI handle: its message.
    fn dup(&self, handle: usize, buf: &[u8], _flags: usize, _caller: &Caller) -> Result<Opened, Error> {
        match (self.handle(handle)?, buf) {
            (Handle::Line(source), b"message") if source >= GSI_COUNT => {
                Ok(Opened::Handle(self.insert(Handle::Message(source))))
            }
            _ => Err(Error::new(EINVAL)),
        }
    }

    fn read(&self, handle: usize, buf: &mut [u8], flags: usize) -> Result<usize, Error> {
        match self.handle(handle)? {
            Handle::Listing(_) => self.handles.with(handle, |h| match h {
                Handle::Listing(list) => Ok(list.read(buf)),
                _ => Err(Error::new(EBADF)),
            })?,
            Handle::Message(source) => {
                let out = buf.get_mut(..MESSAGE_SIZE).ok_or(Error::new(EINVAL))?;
                let boot_cpu = percpu::get(0).map_or(0, |cpu| cpu.apic_id.load(Ordering::Relaxed));
                let (address, data) = irq::msi_message(source, boot_cpu);
                out[..8].copy_from_slice(&address.to_ne_bytes());
                out[8..].copy_from_slice(&data.to_ne_bytes());
                Ok(MESSAGE_SIZE)
            }
            Handle::Line(gsi) => {
                let out = buf.get_mut(..COUNT_SIZE).ok_or(Error::new(EINVAL))?;
                let pending = &LINES[gsi].pending;
                let mut count = 0;
                let mut arrived = || {
                    count = pending.load(Ordering::Acquire);
                    count > 0
                };
                WAITERS[gsi].wait_unless_nonblocking(flags, &mut arrived)?;
                out.copy_from_slice(&count.to_ne_bytes());
                Ok(COUNT_SIZE)
            }
        }
    }

    /// Acknowledge a count of interrupts; a level line is unmasked again.
    fn write(&self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize, Error> {
        let Handle::Line(gsi) = self.handle(handle)? else {
            return Err(Error::new(EBADF));
        };
        let ack = buf.try_into().map(u64::from_ne_bytes).map_err(|_| Error::new(EINVAL))?;
        let line = &LINES[gsi];
        line.pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |pending| pending.checked_sub(ack))
            .map_err(|_| Error::new(EINVAL))?;
        if ack > 0 && gsi < GSI_COUNT && line.level.load(Ordering::Acquire) {
            self.wiring[gsi].route(gsi);
        }
        Ok(COUNT_SIZE)
    }

    fn seek(&self, handle: usize, offset: isize, whence: usize) -> Result<usize, Error> {
        self.handles.with(handle, |h| match h {
            Handle::Listing(list) => list.seek(offset, whence),
            _ => Err(Error::new(abi::syscall::error::ESPIPE)),
        })?
    }

    fn fevent(&self, handle: usize, interest: EventFlags) -> Result<EventFlags, Error> {
        let ready = match self.handle(handle)? {
            Handle::Listing(_) | Handle::Message(_) => EventFlags::EVENT_READ,
            Handle::Line(gsi) if LINES[gsi].pending.load(Ordering::Acquire) > 0 => {
                EventFlags::EVENT_READ | EventFlags::EVENT_WRITE
            }
            Handle::Line(_) => EventFlags::EVENT_WRITE,
        };
        Ok(ready & interest)
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        match self.handle(handle)? {
            Handle::Listing(list) => {
                stat.st_mode = MODE_DIR | 0o555;
                stat.st_size = list.len() as u64;
            }
            Handle::Line(_) => stat.st_mode = MODE_CHR | 0o600,
            Handle::Message(_) => {
                stat.st_mode = MODE_CHR | 0o400;
                stat.st_size = MESSAGE_SIZE as u64;
            }
        }
        Ok(())
    }

    fn fpath(&self, handle: usize) -> Result<String, Error> {
        Ok(match self.handle(handle)? {
            Handle::Listing(_) => String::new(),
            Handle::Line(source) | Handle::Message(source) if source >= GSI_COUNT => {
                alloc::format!("msi/{}", source - GSI_COUNT)
            }
            Handle::Line(gsi) | Handle::Message(gsi) => alloc::format!("{gsi}"),
        })
    }

    fn close(&self, handle: usize) -> Result<(), Error> {
        if let Handle::Line(gsi) = self.handles.remove(handle)? {
            self.release(gsi);
        }
        Ok(())
    }
}
