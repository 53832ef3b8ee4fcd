//! In-kernel self-tests, run by the `ferrite-selftest` kernel after boot.
//!
//! Each check prints exactly one line the host parses (`cargo mk test`):
//! `[selftest] ok NAME (detail)` or `[selftest] FAIL NAME: reason`, after a
//! `[selftest] plan N` line and before `[selftest] done P passed, F failed`.
//! Checks run on the boot CPU with the other CPUs idle.

mod cpu;
mod interrupts;
mod memory;
mod usermode;

use alloc::string::String;

use crate::kprintln;

/// A check returns a short detail on success or the reason it failed.
pub type Outcome = Result<String, String>;

/// A named check.
type Check = (&'static str, fn() -> Outcome);

/// Every check, in the order they run: a name the host looks for, and the
/// function. Names are stable: `mk` lists the ones it requires.
const CHECKS: &[Check] = &[
    ("frame_alloc_exhaustion", memory::frame_exhaustion),
    ("heap_alloc_free", memory::heap),
    ("heap_growth", memory::heap_growth),
    ("paging_map_unmap_remap", memory::map_unmap_remap),
    ("tlb_shootdown_kernel", memory::tlb_shootdown_kernel),
    ("kstack_reuse_shootdown", memory::kstack_reuse_shootdown),
    ("kernel_image_wx", memory::kernel_image_permissions),
    ("nx_outside_image", memory::nx_outside_image),
    ("lower_half_empty", memory::lower_half_empty),
    ("boot_stack_guarded", cpu::boot_stack_guarded),
    ("cpus_online", cpu::all_online),
    ("cpu_protections", cpu::protections),
    ("monotonic_clock", cpu::monotonic_clock),
    ("breakpoint_resumes", interrupts::breakpoint),
    ("exception_recovery", interrupts::exception_recovery),
    ("guard_page_overflow", interrupts::guard_page_overflow),
    ("timer_every_cpu", interrupts::timer_every_cpu),
    ("ioapic_pit_irq", interrupts::ioapic_pit_irq),
    ("smep_blocks_user_code", usermode::smep),
    ("smap_blocks_user_data", usermode::smap),
    ("user_copy_checks", usermode::user_copy),
];

/// Run every check; true if all passed.
pub fn run_all() -> bool {
    kprintln!("[selftest] plan {}", CHECKS.len());
    let mut failed = 0;
    for &(name, check) in CHECKS {
        match check() {
            Ok(detail) if detail.is_empty() => kprintln!("[selftest] ok {}", name),
            Ok(detail) => kprintln!("[selftest] ok {} ({detail})", name),
            Err(reason) => {
                failed += 1;
                kprintln!("[selftest] FAIL {}: {reason}", name);
            }
        }
    }
    kprintln!("[selftest] done {} passed, {failed} failed", CHECKS.len() - failed);
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
