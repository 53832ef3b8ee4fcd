//! In-kernel self-tests, run by the `ferrite-selftest` kernel after boot.
//!
//! Each check prints exactly one line the host parses (`cargo mk test`):
//! `[selftest] ok NAME (detail)` or `[selftest] FAIL NAME: reason`, after a
//! `[selftest] plan N` line and before `[selftest] done P passed, F failed`.
//! Checks run on the boot CPU with the other CPUs idle.

mod cpu;
mod interrupts;
mod memory;

use alloc::string::String;

use crate::kprintln;

/// A check returns a short detail on success or the reason it failed.
pub type Outcome = Result<String, String>;

struct Check {
    name: &'static str,
    run: fn() -> Outcome,
}

const CHECKS: &[Check] = &[
    Check {
        name: "frame_alloc_exhaustion",
        run: memory::frame_exhaustion,
    },
    Check {
        name: "heap_alloc_free",
        run: memory::heap,
    },
    Check {
        name: "heap_growth",
        run: memory::heap_growth,
    },
    Check {
        name: "paging_map_unmap_remap",
        run: memory::map_unmap_remap,
    },
    Check {
        name: "kernel_image_wx",
        run: memory::kernel_image_permissions,
    },
    Check {
        name: "nx_outside_image",
        run: memory::nx_outside_image,
    },
    Check {
        name: "lower_half_empty",
        run: memory::lower_half_empty,
    },
    Check {
        name: "cpus_online",
        run: cpu::all_online,
    },
    Check {
        name: "cpu_protections",
        run: cpu::protections,
    },
    Check {
        name: "monotonic_clock",
        run: cpu::monotonic_clock,
    },
    Check {
        name: "breakpoint_resumes",
        run: interrupts::breakpoint,
    },
    Check {
        name: "exception_recovery",
        run: interrupts::exception_recovery,
    },
    Check {
        name: "guard_page_overflow",
        run: interrupts::guard_page_overflow,
    },
    Check {
        name: "timer_every_cpu",
        run: interrupts::timer_every_cpu,
    },
    Check {
        name: "ioapic_pit_irq",
        run: interrupts::ioapic_pit_irq,
    },
];

/// Run every check; true if all passed.
pub fn run_all() -> bool {
    kprintln!("[selftest] plan {}", CHECKS.len());
    let mut failed = 0;
    for check in CHECKS {
        match (check.run)() {
            Ok(detail) if detail.is_empty() => kprintln!("[selftest] ok {}", check.name),
            Ok(detail) => kprintln!("[selftest] ok {} ({detail})", check.name),
            Err(reason) => {
                failed += 1;
                kprintln!("[selftest] FAIL {}: {reason}", check.name);
            }
        }
    }
    kprintln!(
        "[selftest] done {} passed, {failed} failed",
        CHECKS.len() - failed
    );
    failed == 0
}

/// `Err(format!(..))` unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(alloc::format!($($arg)*));
        }
    };
}
use ensure;
