//! I/O port access for driver daemons: `in`/`out` of 8, 16 and 32 bits.
//!
//! A process may use only the ports the kernel granted it
//! (`SYS_PORT_GRANT`, see [`crate::sys::port_grant`]); the kernel keeps a
//! process's granted port ranges and loads them into the I/O permission
//! bitmap of the CPU the process runs on, so touching any other port raises
//! `#GP` and the kernel ends the process with `SIGSEGV`. That is why these
//! functions are safe: a port access never reads or writes this process's
//! memory, and an access it was not allowed is a clean fault, not undefined
//! behaviour. What the device behind a granted port does (DMA included) is
//! the granting policy's concern: only trusted driver daemons get ports.

use core::arch::asm;

/// Reads a byte from `port` (`in al, dx`).
pub fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: a port read touches no memory of this process; an ungranted
    // port faults (#GP, the process ends) instead of reading.
    unsafe { asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Writes a byte to `port` (`out dx, al`).
pub fn outb(port: u16, value: u8) {
    // SAFETY: as in `inb`: no memory of this process is touched.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags)) };
}

/// Reads 16 bits from `port` (`in ax, dx`).
pub fn inw(port: u16) -> u16 {
    let value: u16;
    // SAFETY: as in `inb`.
    unsafe { asm!("in ax, dx", in("dx") port, out("ax") value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Writes 16 bits to `port` (`out dx, ax`).
pub fn outw(port: u16, value: u16) {
    // SAFETY: as in `inb`.
    unsafe { asm!("out dx, ax", in("dx") port, in("ax") value, options(nomem, nostack, preserves_flags)) };
}

/// Reads 32 bits from `port` (`in eax, dx`).
pub fn inl(port: u16) -> u32 {
    let value: u32;
    // SAFETY: as in `inb`.
    unsafe { asm!("in eax, dx", in("dx") port, out("eax") value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Writes 32 bits to `port` (`out dx, eax`).
pub fn outl(port: u16, value: u32) {
    // SAFETY: as in `inb`.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags)) };
}
