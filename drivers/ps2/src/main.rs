//! `ps2d`: the PS/2 keyboard driver. It owns the i8042 controller (ports
//! 0x60 and 0x64, nothing else) and ISA IRQ 1, decodes scancodes with
//! `lib/keymap` into the bytes a terminal expects, and serves them as
//! `ps2:`.
//!
//! `ps2:` (root only, `EACCES` otherwise; any path but the empty one is
//! `ENOENT`): every open file gets its own copy of what is typed from its
//! open on. `read` returns the bytes waiting (waits for some, or `EAGAIN`
//! with `O_NONBLOCK`); `fevent` reports `EVENT_READ` while bytes wait.
//! Each reader holds at most [`QUEUE_LIMIT`] unread bytes; later keys are
//! dropped for it (and logged) until it reads.
//!
//! Privileges: the two ports (granted to itself with `port_grant`, which
//! needs root), `irq:`, registering `ps2:`. After set-up it drops into the
//! null namespace: it opens nothing new, ever.
//!
//! Touches: the i8042 (only through `port` and `controller`), its IRQ
//! line's `irq:` file, its scheme socket and `event:` queue.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod controller;
mod port;

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use keymap::Keyboard;
use rt::event::EventQueue;
use rt::fs::File;
use scheme::sc::{self, EACCES, EAGAIN, EIO, ENODEV, ENOENT, Event, MODE_CHR};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Server, Stat};

rt::main!(main);

/// Unread bytes one reader may have waiting.
const QUEUE_LIMIT: usize = 4096;

/// Event data words.
const SOCKET: usize = 0;
const IRQ: usize = 1;

/// The ISA IRQ of the keyboard.
const KEYBOARD_ISA_IRQ: &str = "isa=1";

/// `ps2:`: one queue of typed bytes per open file.
#[derive(Default)]
struct Ps2 {
    readers: Handles<VecDeque<u8>>,
    /// Readers that went from empty to readable since the last drain.
    became_readable: Vec<usize>,
    /// Bytes dropped because a reader's queue was full (logged per burst).
    dropped: usize,
}

impl Ps2 {
    /// Bytes from the keyboard: to every reader.
    fn typed(&mut self, bytes: &[u8]) {
        for (handle, queue) in self.readers.iter_mut() {
            if queue.is_empty() && !bytes.is_empty() {
                self.became_readable.push(handle);
            }
            let room = QUEUE_LIMIT - queue.len();
            queue.extend(bytes.iter().take(room));
            self.dropped += bytes.len().saturating_sub(room);
        }
    }
}

impl Scheme for Ps2 {
    fn open(&mut self, path: &str, _flags: usize, caller: &Caller) -> Result<Opened> {
        if !path.trim_matches('/').is_empty() {
            return Err(Error::new(ENOENT));
        }
        if caller.uid != 0 {
            return Err(Error::new(EACCES));
        }
        Ok(Opened::Handle(self.readers.insert(VecDeque::new())))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let queue = self.readers.get_mut(handle)?;
        if queue.is_empty() {
            return Err(Error::new(EAGAIN));
        }
        let n = buf.len().min(queue.len());
        for (slot, byte) in buf.iter_mut().zip(queue.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        let queue = self.readers.get(handle)?;
        stat.st_mode = MODE_CHR | 0o400;
        stat.st_size = queue.len() as u64;
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        self.readers.get(handle)?;
        Ok(String::new())
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        let queue = self.readers.get(handle)?;
        Ok(if queue.is_empty() { EventFlags::empty() } else { interest & EventFlags::EVENT_READ })
    }

    fn close(&mut self, handle: usize) {
        self.readers.remove(handle);
    }

    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        for handle in self.became_readable.drain(..) {
            if self.readers.contains(handle) {
                events.push((handle, EventFlags::EVENT_READ));
            }
        }
    }
}

/// The GSI ISA IRQ 1 arrives on, from `irq:`'s listing ("N isa=1 edge high").
fn keyboard_gsi() -> Result<String> {
    let listing = rt::fs::read_to_string("irq:")?;
    listing
        .lines()
        .find(|line| line.split_whitespace().any(|word| word == KEYBOARD_ISA_IRQ))
        .and_then(|line| line.split_whitespace().next())
        .map(String::from)
        .ok_or_else(|| {
            log::error!("irq: lists no line for ISA IRQ 1:\n{listing}");
            Error::new(ENODEV)
        })
}

/// Take the bytes the controller holds, decode them, hand them to the
/// readers. Returns how many scancode bytes there were.
fn service_keyboard(keyboard: &mut Keyboard, ps2: &mut Ps2) -> usize {
    let mut typed = Vec::new();
    let count = controller::drain(|scancode| typed.extend_from_slice(keyboard.feed(scancode).as_slice()));
    ps2.typed(&typed);
    if ps2.dropped > 0 {
        log::warn!("a reader's queue is full; dropped {} typed bytes", ps2.dropped);
        ps2.dropped = 0;
    }
    count
}

/// Acknowledge the interrupts counted on `irq` (none waiting is fine).
fn acknowledge(irq: &mut File) -> Result<()> {
    let mut count = [0u8; 8];
    match irq.read(&mut count) {
        Ok(8) => irq.write(&count).map(drop),
        Ok(n) => {
            log::error!("irq: read gave {n} bytes, not 8");
            Err(Error::new(EIO))
        }
        Err(err) if err.errno == EAGAIN => Ok(()),
        Err(err) => Err(err),
    }
}

fn main() -> Result<()> {
    rt::log::init();
    port::grant().inspect_err(|err| log::error!("cannot get ports 0x60 and 0x64: {err}"))?;
    let gsi = keyboard_gsi()?;
    let mut irq = File::open_with(&format!("irq:{gsi}"), sc::O_RDWR | sc::O_NONBLOCK | sc::O_CLOEXEC)
        .inspect_err(|err| log::error!("cannot claim irq:{gsi}: {err}"))?;
    let config = controller::init().map_err(|err| {
        log::error!("i8042 set-up failed: {err:?}");
        Error::new(EIO)
    })?;
    let mut server = Server::new("ps2", Ps2::default())?;
    let queue = EventQueue::new()?;
    server.watch_on(&queue, SOCKET)?;
    queue.watch(irq.fd(), EventFlags::EVENT_READ, IRQ)?;
    server.confine()?;
    let mut keyboard = Keyboard::new();
    // Acknowledge before draining: a byte that arrives after the drain
    // raises an interrupt we have not acknowledged yet, so it is never left
    // in the controller (which would interrupt no more while it is full).
    acknowledge(&mut irq)?;
    service_keyboard(&mut keyboard, server.scheme());
    log::info!("keyboard on GSI {gsi} (i8042 configuration {config:#04x}), serving ps2:");
    server.ready();

    let mut events = [Event::default(); 4];
    loop {
        let n = queue.wait(&mut events)?;
        for event in &events[..n] {
            match event.data {
                IRQ => {
                    acknowledge(&mut irq)?;
                    service_keyboard(&mut keyboard, server.scheme());
                    server.retry_parked()?;
                }
                SOCKET => server.handle_pending()?,
                _ => {}
            }
        }
    }
}
