//! The kernel's `log` backend: every record becomes one console line with a
//! monotonic timestamp, the level and the CPU number, e.g.
//! `[    1.204511] INFO  cpu1 kernel::arch::x86_64::smp: CPU 1 online`.

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::arch::x86_64::{percpu, tsc};

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
        crate::kprintln!(
            "[{:5}.{:06}] {} cpu{} {}: {}",
            ns / 1_000_000_000,
            (ns % 1_000_000_000) / 1000,
            level,
            percpu::current_index(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

pub fn init(level: LevelFilter) {
    // Only fails if a logger is already set, which would be a boot-order bug
    // that the missing log lines make obvious.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
