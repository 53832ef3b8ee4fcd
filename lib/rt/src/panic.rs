//! The panic handler: report it, exit with status 101 (as Rust's std
//! does). A program that installed `rt::log`'s logger (a daemon) reports it
//! as an error in `log:`, which the consoles show; any other on stderr.

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// Exit status of a process that panicked.
pub const PANIC_STATUS: usize = 101;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    static PANICKING: AtomicBool = AtomicBool::new(false);
    // A panic while reporting a panic (a failing `Display`, say) just exits.
    if !PANICKING.swap(true, Ordering::Relaxed) {
        let logged = match info.location() {
            Some(location) => crate::log::report_panic(format_args!("panicked at {location}: {}", info.message())),
            None => crate::log::report_panic(format_args!("panicked: {}", info.message())),
        };
        if !logged {
            match info.location() {
                Some(location) => crate::eprintln!("panicked at {location}: {}", info.message()),
                None => crate::eprintln!("panicked: {}", info.message()),
            }
        }
    }
    crate::sys::exit(PANIC_STATUS)
}
