//! The i8042's two I/O ports, the only `unsafe` of the keyboard driver.
//!
//! `lib/rt` has no port I/O wrappers yet, so the two instructions live
//! here. Only ports 0x60 (data) and 0x64 (status on read, command on
//! write) can be named: [`Port`] has no other values, and the driver is
//! granted exactly those two (`rt::sys::port_grant`) before it touches
//! them. Touches nothing but those ports.

use core::arch::asm;

/// The i8042's ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Port {
    /// Data: scancodes and command answers in, command arguments out.
    Data = 0x60,
    /// Status register (read) and command register (write).
    StatusCommand = 0x64,
}

/// Ask the kernel for both ports (they stay ours until we exit).
pub fn grant() -> rt::Result<()> {
    let pid = rt::process::getpid();
    rt::sys::port_grant(pid, Port::Data as usize, 1)?;
    rt::sys::port_grant(pid, Port::StatusCommand as usize, 1)
}

/// Read a byte from `port`.
pub fn read(port: Port) -> u8 {
    let value: u8;
    // SAFETY: `in` touches no memory; the port is one of the i8042's two,
    // granted to this process by `grant` (without the grant the kernel
    // ends the process, it cannot corrupt anything). Reading the data port
    // takes a byte out of the controller's buffer, which is what the
    // driver means to do.
    unsafe {
        asm!("in al, dx", in("dx") port as u16, out("al") value, options(nomem, nostack, preserves_flags));
    }
    value
}

/// Write `value` to `port`.
pub fn write(port: Port, value: u8) {
    // SAFETY: `out` touches no memory; the port is one of the i8042's two,
    // granted to this process by `grant`. The controller commands the
    // driver sends (`controller`) only configure the keyboard interface.
    unsafe {
        asm!("out dx, al", in("dx") port as u16, in("al") value, options(nomem, nostack, preserves_flags));
    }
}
