//! `debug:` — the kernel console as a file. Writes go to COM1 as the
//! kernel's own output does; reads return what was typed on COM1 (raw
//! bytes, no echo or line editing: that is a console driver's job), waiting
//! for input unless the file is non-blocking, and readiness reaches
//! `event:` queues. Input arrives by IRQ 4 into a bounded buffer; bytes
//! that arrive while it is full are dropped and counted in the log.
//!
//! COM1's interrupt line is claimed lazily, by the first `read` or
//! `fevent` of a `debug:` handle, not at boot: in a normal boot the serial
//! console driver (`seriald`, `serial:`) owns the line through `irq:`, and
//! nobody reads `debug:`. If a driver holds the line, `read` and `fevent`
//! fail with `EBUSY` (logged); once the driver lets go, the next one claims
//! it. Writes never need the line: the kernel writes COM1 polled, and each
//! write goes out whole under the console's lock, so `debug:` output and
//! the kernel log never land inside one another.
//!
//! `debug:raw` is write-only and writes its bytes unchanged (no LF to
//! CR LF): the console driver's output goes through it, so what `seriald`
//! shows (its echo, the log lines it follows) is never cut by a kernel
//! line or another program's `debug:` write, as it was when `seriald`
//! wrote the UART's ports itself.
//!
//! `debug:level` is the console's log level: reading it gives the least
//! severe kernel log level printed on COM1 (`trace` at boot: everything)
//! and a newline; root writes `off`, `error`, `warn`, `info`, `debug` or
//! `trace` to change it. Lines below it still reach the ring `sys:log`
//! reads. init writes `warn` once the system is up, as it does for
//! `log:console-level`.
//!
//! May touch: the kernel logger's console level, its input buffer and wait queue, COM1 (through `console`),
//! the IRQ handler table and IOAPIC entry of COM1's line, the event
//! registry.

use alloc::collections::VecDeque;
use core::sync::atomic::{AtomicU64, Ordering};

use abi::syscall::error::{EACCES, EBADF, EBUSY, EINVAL, ENOENT, Error};
use abi::syscall::{EventFlags, MODE_CHR, O_ACCMODE, O_WRONLY, Stat};
use spin::{Mutex, Once};
use x86_64::instructions::interrupts::without_interrupts;

use super::handles::HandleTable;
use super::snapshot::Snapshot;
use super::{Caller, KernelScheme, Opened, event, key_of};
use crate::arch::x86_64::apic::ioapic::{self, Polarity, Trigger};
use crate::arch::x86_64::{self as arch, idt, irq, percpu};
use crate::context::wait_queue::WaitQueue;

/// Bytes of typed input held until read.
const INPUT_CAPACITY: usize = 4096;
/// COM1's ISA interrupt.
const COM1_IRQ: usize = 4;

pub struct DebugScheme {
    input: Mutex<VecDeque<u8>>,
    readers: WaitQueue,
    dropped: AtomicU64,
    /// COM1's line: whether it is ours yet (see [`DebugScheme::claim_input`]).
    line: Mutex<Line>,
    /// The open `debug:level` handles.
    levels: HandleTable<LevelHandle>,
}

/// Where `debug:` stands with COM1's interrupt line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Not claimed yet (or a driver had it at the last try).
    Unclaimed,
    /// Ours: input arrives.
    Claimed,
    /// This machine cannot route it (no IOAPIC route): reads never see
    /// input, as there is none to see.
    Unroutable,
}

/// The one instance, for the IRQ handler.
static DEBUG: Once<alloc::sync::Arc<DebugScheme>> = Once::new();

impl DebugScheme {
    /// The scheme (one instance, shared with the interrupt handler).
    pub fn instance() -> alloc::sync::Arc<DebugScheme> {
        DEBUG
            .call_once(|| {
                alloc::sync::Arc::new(DebugScheme {
                    input: Mutex::new(VecDeque::with_capacity(INPUT_CAPACITY)),
                    readers: WaitQueue::new(),
                    dropped: AtomicU64::new(0),
                    line: Mutex::new(Line::Unclaimed),
                    levels: HandleTable::new(),
                })
            })
            .clone()
    }

    /// Claim COM1's line for `debug:` input if it is not ours yet: route
    /// ISA IRQ 4 (through the MADT's overrides) to this CPU and turn on the
    /// UART's receive interrupt. `EBUSY` while a driver owns the line.
    fn claim_input(&self) -> Result<(), Error> {
        without_interrupts(|| {
            let mut line = self.line.lock();
            if *line != Line::Unclaimed {
                return Ok(());
            }
            let Some(platform) = arch::PLATFORM.get() else {
                *line = Line::Unroutable;
                return Ok(());
            };
            let route = platform.isa_routes[COM1_IRQ];
            let Some(gsi) = u8::try_from(route.gsi).ok().filter(|&g| usize::from(g) < irq::GSI_COUNT) else {
                log::warn!("debug: COM1's GSI {} is out of range; no console input", route.gsi);
                *line = Line::Unroutable;
                return Ok(());
            };
            if !irq::claim(gsi, on_interrupt) {
                crate::caller_log!(
                    Warn,
                    "debug: COM1's GSI {gsi} is owned by a driver (irq:{gsi}); debug: input is EBUSY"
                );
                return Err(Error::new(EBUSY));
            }
            let trigger = if route.level_triggered { Trigger::Level } else { Trigger::Edge };
            let polarity = if route.active_low { Polarity::ActiveLow } else { Polarity::ActiveHigh };
            let apic_id = percpu::current().apic_id.load(Ordering::Relaxed);
            if ioapic::route(route.gsi, idt::IRQ_BASE + gsi, apic_id, trigger, polarity) {
                // (Bytes already in the UART's FIFO raise the interrupt
                // as soon as it is enabled.)
                crate::console::enable_input_interrupt();
                *line = Line::Claimed;
                log::info!("debug: console input on GSI {gsi}");
            } else {
                irq::release(gsi);
                log::warn!("debug: no IOAPIC route for COM1's GSI {gsi}; no console input");
                *line = Line::Unroutable;
            }
            Ok(())
        })
    }

    fn has_input(&self) -> bool {
        without_interrupts(|| !self.input.lock().is_empty())
    }
}

/// IRQ 4: move the received bytes into the buffer, wake readers, tell
/// watchers. (Runs with interrupts off; the buffer, the wait queue and the
/// event registry all take their locks with interrupts off.)
fn on_interrupt() {
    let Some(debug) = DEBUG.get() else { return };
    let mut got = false;
    crate::console::drain_input(|byte| {
        let mut input = debug.input.lock();
        if input.len() < INPUT_CAPACITY {
            input.push_back(byte);
            got = true;
        } else {
            debug.dropped.fetch_add(1, Ordering::Relaxed);
        }
    });
    if got {
        debug.readers.wake_all();
        event::trigger(key_of(&**debug), 0, EventFlags::EVENT_READ);
    }
}

/// The handle of the console itself (`debug:level` handles come from
/// [`DebugScheme::levels`], numbered from 1).
const CONSOLE: usize = 0;
/// The handle of `debug:raw` (the level table never reaches it).
const RAW: usize = usize::MAX;

/// An open `debug:level`: the level's text as it was at the open, and
/// whether the opener was root (and may write).
struct LevelHandle {
    text: Snapshot,
    root: bool,
}

/// The console level's text, as `debug:level` reads it.
fn level_text() -> alloc::vec::Vec<u8> {
    alloc::format!("{}\n", crate::logger::console_level().as_str().to_ascii_lowercase()).into_bytes()
}

impl KernelScheme for DebugScheme {
    fn open(&self, path: &str, flags: usize, caller: &Caller) -> Result<Opened, Error> {
        match path {
            "" => Ok(Opened::Handle(CONSOLE)),
            "raw" if flags & O_ACCMODE == O_WRONLY => Ok(Opened::Handle(RAW)),
            "raw" => Err(Error::new(EACCES)),
            "level" => {
                let handle = LevelHandle { text: Snapshot::new(level_text()), root: caller.uid == 0 };
                Ok(Opened::Handle(self.levels.insert(handle)))
            }
            _ => Err(Error::new(ENOENT)),
        }
    }

    fn read(&self, handle: usize, buf: &mut [u8], flags: usize) -> Result<usize, Error> {
        if handle == RAW {
            return Err(Error::new(EBADF));
        }
        if handle != CONSOLE {
            return self.levels.with(handle, |level| level.text.read(buf));
        }
        self.claim_input()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        let mut take = || {
            let mut input = self.input.lock();
            n = buf.len().min(input.len());
            for (dst, src) in buf.iter_mut().zip(input.drain(..n)) {
                *dst = src;
            }
            n > 0
        };
        self.readers.wait_unless_nonblocking(flags, &mut take)?;
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            crate::caller_log!(Warn, "debug: {dropped} input bytes dropped (nobody read them in time)");
        }
        Ok(n)
    }

    fn write(&self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize, Error> {
        if handle == CONSOLE {
            crate::console::write_bytes(buf);
            return Ok(buf.len());
        }
        if handle == RAW {
            crate::console::write_raw(buf);
            return Ok(buf.len());
        }
        if !self.levels.with(handle, |level| level.root)? {
            return Err(Error::new(EACCES));
        }
        let word = core::str::from_utf8(buf).map_err(|_| Error::new(EINVAL))?.trim();
        let level = word.parse::<log::LevelFilter>().map_err(|_| Error::new(EINVAL))?;
        crate::logger::set_console_level(level);
        Ok(buf.len())
    }

    fn fevent(&self, handle: usize, interest: EventFlags) -> Result<EventFlags, Error> {
        if handle == RAW {
            return Ok(EventFlags::EVENT_WRITE & interest);
        }
        if handle != CONSOLE {
            self.levels.with(handle, |_| ())?;
            return Ok((EventFlags::EVENT_READ | EventFlags::EVENT_WRITE) & interest);
        }
        self.claim_input()?;
        let mut ready = EventFlags::EVENT_WRITE;
        if self.has_input() {
            ready |= EventFlags::EVENT_READ;
        }
        Ok(ready & interest)
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        stat.st_mode = MODE_CHR | 0o666;
        if handle == RAW {
            stat.st_mode = MODE_CHR | 0o222;
        } else if handle != CONSOLE {
            stat.st_size = self.levels.with(handle, |level| level.text.len())? as u64;
            stat.st_mode = MODE_CHR | 0o644;
        }
        Ok(())
    }

    fn close(&self, handle: usize) -> Result<(), Error> {
        if handle != CONSOLE && handle != RAW {
            self.levels.remove(handle)?;
        }
        Ok(())
    }

    fn fpath(&self, handle: usize) -> Result<alloc::string::String, Error> {
        Ok(alloc::string::String::from(match handle {
            CONSOLE => "",
            RAW => "raw",
            _ => "level",
        }))
    }
}
