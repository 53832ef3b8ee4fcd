//! The kernel console: one lock around COM1 for everything the kernel prints
//! (log lines, self-test results, panics). Taken with interrupts off so an
//! interrupt handler that logs cannot deadlock against the code it
//! interrupted.

use core::fmt::{self, Write};
use spin::Mutex;

use crate::arch::x86_64::serial::SerialPort;

static SERIAL: Mutex<SerialPort> = Mutex::new(SerialPort::com1());

pub fn init() {
    SERIAL.lock().init();
}

/// Write formatted text to the console as one uninterrupted piece.
pub fn write_fmt(args: fmt::Arguments) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        // Formatting into the UART cannot fail.
        let _ = SERIAL.lock().write_fmt(args);
    });
}

/// Write raw bytes (user output through `debug:`) as one piece; newlines
/// become CR LF like the kernel's own lines.
pub fn write_bytes(bytes: &[u8]) {
    write_piece(bytes, true);
}

/// Write `bytes` exactly as given (a console driver's output, which has
/// its own CR LF), as one piece: nothing else on COM1 lands inside it.
pub fn write_raw(bytes: &[u8]) {
    write_piece(bytes, false);
}

fn write_piece(bytes: &[u8], crlf: bool) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let mut serial = SERIAL.lock();
        for &byte in bytes {
            if crlf && byte == b'\n' {
                serial.write_byte(b'\r');
            }
            serial.write_byte(byte);
        }
    });
}

/// Take the bytes the UART has received (from the IRQ handler).
pub fn drain_input(mut sink: impl FnMut(u8)) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let mut serial = SERIAL.lock();
        while let Some(byte) = serial.read_byte() {
            sink(byte);
        }
    });
}

/// Let the UART interrupt when input arrives.
pub fn enable_input_interrupt() {
    x86_64::instructions::interrupts::without_interrupts(|| SERIAL.lock().enable_receive_interrupt());
}

/// Used only by the panic handler: if the panicking CPU held the console
/// lock, waiting for it would hang forever, so take it over.
pub fn force_unlock() {
    if SERIAL.is_locked() {
        // SAFETY: called only on the panic path, after which the previous
        // holder never runs again on this CPU; a line interleaved with
        // another CPU's output is the worst outcome.
        unsafe { SERIAL.force_unlock() };
    }
}

/// `print!` to the kernel console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

/// `println!` to the kernel console.
#[macro_export]
macro_rules! kprintln {
    () => { $crate::kprint!("\n") };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}
