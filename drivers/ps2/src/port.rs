//! The i8042's two I/O ports: only 0x60 (data) and 0x64 (status on read,
//! command on write) can be named ([`Port`] has no other values), and the
//! driver grants itself exactly those two before touching them. The
//! accesses go through `rt::port`'s safe wrappers (an ungranted port is a
//! clean fault, not undefined behaviour). Touches nothing but those ports.

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

/// Read a byte from `port` (from the data port: takes it out of the
/// controller's buffer).
pub fn read(port: Port) -> u8 {
    rt::port::inb(port as u16)
}

/// Write `value` to `port`.
pub fn write(port: Port, value: u8) {
    rt::port::outb(port as u16, value)
}
