//! The panic handler: report on stderr, exit with status 101 (as Rust's
//! std does).

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// Exit status of a process that panicked.
pub const PANIC_STATUS: usize = 101;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    static PANICKING: AtomicBool = AtomicBool::new(false);
    // A panic while reporting a panic (a failing `Display`, say) just exits.
    if !PANICKING.swap(true, Ordering::Relaxed) {
        match info.location() {
            Some(location) => crate::eprintln!("panicked at {location}: {}", info.message()),
            None => crate::eprintln!("panicked: {}", info.message()),
        }
    }
    crate::sys::exit(PANIC_STATUS)
}
