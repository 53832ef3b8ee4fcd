//! COM1 16550 UART: the kernel's console. Output is polled; input raises
//! IRQ 4 once [`SerialPort::enable_receive_interrupt`] is called, and the
//! handler drains it with [`SerialPort::read_byte`]. Touches only the COM1
//! ports.

use core::fmt;
use x86_64::instructions::port::Port;

const COM1: u16 = 0x3f8;

/// Line status register bits: a received byte waits; the transmit holding
/// register is empty.
const LSR_DATA_READY: u8 = 1;
const LSR_THR_EMPTY: u8 = 1 << 5;
/// Modem control: OUT2 gates the UART's interrupt line on PCs.
const MCR_OUT2: u8 = 1 << 3;

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

    /// Interrupt when a byte arrives (IRQ 4 for COM1).
    pub fn enable_receive_interrupt(&mut self) {
        // SAFETY: COM1's interrupt-enable and modem-control registers;
        // turning on the receive interrupt touches no memory.
        unsafe {
            Port::<u8>::new(self.base + 4).write(0x03 | MCR_OUT2);
            Port::<u8>::new(self.base + 1).write(0x01);
        }
    }

    /// A received byte, if one waits.
    pub fn read_byte(&mut self) -> Option<u8> {
        // SAFETY: reading COM1's line status and data registers only takes
        // a received byte out of the UART.
        unsafe {
            if Port::<u8>::new(self.base + 5).read() & LSR_DATA_READY == 0 {
                return None;
            }
            Some(Port::<u8>::new(self.base).read())
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
