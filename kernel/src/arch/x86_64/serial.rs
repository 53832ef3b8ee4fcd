//! COM1 16550 UART: the kernel's console output (and, before drivers exist,
//! its only one). Polled, no interrupts; touches only the COM1 ports.

use core::fmt;
use x86_64::instructions::port::Port;

const COM1: u16 = 0x3f8;

/// Line status register bit: the transmit holding register is empty.
const LSR_THR_EMPTY: u8 = 1 << 5;

pub struct SerialPort {
    base: u16,
}

impl SerialPort {
    /// The first serial port. Call [`SerialPort::init`] once before use.
    pub const fn com1() -> Self {
        Self { base: COM1 }
    }

    /// 115200 baud, 8N1, FIFOs on, interrupts off.
    pub fn init(&mut self) {
        let b = self.base;
        // SAFETY: COM1's registers are at these fixed ports on every PC and
        // QEMU machine; programming them has no effect on memory safety.
        unsafe {
            Port::<u8>::new(b + 1).write(0x00); // interrupts off
            Port::<u8>::new(b + 3).write(0x80); // DLAB on
            Port::<u8>::new(b).write(0x01); // divisor 1 = 115200 baud
            Port::<u8>::new(b + 1).write(0x00);
            Port::<u8>::new(b + 3).write(0x03); // 8N1, DLAB off
            Port::<u8>::new(b + 2).write(0xc7); // FIFO on, cleared, 14-byte threshold
            Port::<u8>::new(b + 4).write(0x03); // DTR + RTS
        }
    }

    pub fn write_byte(&mut self, byte: u8) {
        let mut lsr = Port::<u8>::new(self.base + 5);
        let mut data = Port::<u8>::new(self.base);
        // SAFETY: reading the line status and writing the data register of
        // COM1 only moves a byte out of the UART.
        unsafe {
            while lsr.read() & LSR_THR_EMPTY == 0 {
                core::hint::spin_loop();
            }
            data.write(byte);
        }
    }
}

impl fmt::Write for SerialPort {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
        Ok(())
    }
}
