//! The kernel's `log` backend: every record becomes one console line with a
//! monotonic timestamp, the level and the CPU number, e.g.
//! `[    1.204511] INFO  cpu1 kernel::arch::x86_64::smp: CPU 1 online`.
//!
//! Lines less severe than the console level ([`set_console_level`],
//! which `debug:level` sets; init makes it `warn` once the system is up)
//! skip the console; every line also goes to an in-memory ring ([`RING_CAPACITY`] bytes, the
//! newest whole lines), which `sys:log` reads back. The logger may run in
//! interrupt context, so it never allocates: a line is formatted on the
//! stack (cut at [`LINE_MAX`] bytes) and copied into the ring under a lock
//! taken with interrupts off.

use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};
use log_ring::{LineBuf, LogRing};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

use crate::arch::x86_64::{percpu, tsc};

/// Bytes of recent log lines kept for `sys:log`.
pub const RING_CAPACITY: usize = 64 * 1024;
/// Longest line kept in the ring (the console gets all of it).
const LINE_MAX: usize = 512;

static RING: Mutex<LogRing<RING_CAPACITY>> = Mutex::new(LogRing::new());

/// The least severe level printed on the console, as a `LevelFilter`'s
/// number (everything, until `debug:level` says otherwise).
static CONSOLE_LEVEL: AtomicUsize = AtomicUsize::new(LevelFilter::Trace as usize);

/// Print only lines at least as severe as `level` on the console from now on.
pub fn set_console_level(level: LevelFilter) {
    CONSOLE_LEVEL.store(level as usize, Ordering::Relaxed);
}

/// The least severe level the console prints.
pub fn console_level() -> LevelFilter {
    LevelFilter::iter().find(|l| *l as usize == CONSOLE_LEVEL.load(Ordering::Relaxed)).unwrap_or(LevelFilter::Trace)
}

struct KernelLogger;

static LOGGER: KernelLogger = KernelLogger;

impl Log for KernelLogger {
    fn enabled(&self, _metadata: &Metadata) -> bool {
        true
    }

    fn log(&self, record: &Record) {
        let ns = tsc::now_ns();
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        let (secs, micros, cpu) = (ns / 1_000_000_000, (ns % 1_000_000_000) / 1000, percpu::current_index());
        if record.level() as usize <= CONSOLE_LEVEL.load(Ordering::Relaxed) || crate::boot::panicking() {
            crate::kprintln!("[{secs:5}.{micros:06}] {level} cpu{cpu} {}: {}", record.target(), record.args());
        }
        let mut line = LineBuf::<LINE_MAX>::new();
        let _ = write!(line, "[{secs:5}.{micros:06}] {level} cpu{cpu} {}: {}", record.target(), record.args());
        // A CPU stopped by a panic may hold the lock for good; the panic
        // path prints on the console only.
        if !crate::boot::panicking() {
            without_interrupts(|| RING.lock().push_line(line.as_bytes()));
        }
    }

    fn flush(&self) {}
}

pub fn init(level: LevelFilter) {
    // Only fails if a logger is already set, which would be a boot-order bug
    // that the missing log lines make obvious.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Copy the log lines held from offset `from` on into `out` (see
/// [`LogRing::read`]: the result says where the copy started and how many
/// bytes before it were dropped).
pub fn read_ring(from: u64, out: &mut [u8]) -> log_ring::Read {
    without_interrupts(|| RING.lock().read(from, out))
}

/// Everything the ring holds now, oldest line first. Allocates before it
/// takes the lock, so the logger never waits for the heap.
pub fn ring_snapshot() -> alloc::vec::Vec<u8> {
    let mut data = alloc::vec![0u8; RING_CAPACITY];
    let read = read_ring(0, &mut data);
    data.truncate(read.len);
    data
}
