//! COM1's 16550 UART, through the ports granted to this process
//! (`rt::port`): receive-interrupt setup, draining received bytes, and
//! polled transmission. Touches only ports 0x3F8..0x3FF.

/// COM1's first port; the UART has eight.
pub const COM1: u16 = 0x3f8;
pub const PORTS: u16 = 8;

const DATA: u16 = COM1;
const INTERRUPT_ENABLE: u16 = COM1 + 1;
const MODEM_CONTROL: u16 = COM1 + 4;
const LINE_STATUS: u16 = COM1 + 5;

/// Line status: a received byte waits; the transmitter can take a byte.
const LSR_DATA_READY: u8 = 1;
const LSR_THR_EMPTY: u8 = 1 << 5;
/// Interrupt enable: received data available.
const IER_RECEIVED: u8 = 1;
/// Modem control: DTR, RTS, and OUT2, which gates the interrupt on PCs.
const MCR_DTR_RTS_OUT2: u8 = 0x0b;

/// How many times a byte waits for the transmitter before output is
/// given up as stuck.
const TRANSMIT_POLLS: u32 = 1_000_000;
/// The most bytes one drain takes (the FIFO holds 16; more means input
/// keeps arriving while we read, which the next interrupt picks up).
const DRAIN_LIMIT: usize = 4096;

/// The UART (line settings, 115200 8N1 with FIFOs, are the kernel's from
/// boot: it logs on the same port).
pub struct Uart {
    /// Output stopped because the transmitter never became ready.
    stuck: bool,
}

impl Uart {
    /// The UART, untouched until [`Uart::start`] (the ports must be
    /// granted first).
    pub fn new() -> Uart {
        Uart { stuck: false }
    }

    /// Take over COM1's input: interrupt when a byte arrives.
    pub fn start(&mut self) {
        rt::port::outb(MODEM_CONTROL, MCR_DTR_RTS_OUT2);
        rt::port::outb(INTERRUPT_ENABLE, IER_RECEIVED);
    }

    /// The received bytes waiting in the UART, appended to `into`.
    pub fn drain(&mut self, into: &mut alloc::vec::Vec<u8>) {
        for _ in 0..DRAIN_LIMIT {
            if rt::port::inb(LINE_STATUS) & LSR_DATA_READY == 0 {
                break;
            }
            into.push(rt::port::inb(DATA));
        }
    }

    /// Send `bytes`, waiting for the transmitter before each (polled, as
    /// the kernel does for its log on the same port).
    pub fn send(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let mut polls = 0;
            while rt::port::inb(LINE_STATUS) & LSR_THR_EMPTY == 0 {
                polls += 1;
                if polls == TRANSMIT_POLLS {
                    if !self.stuck {
                        log::error!("COM1's transmitter is stuck; output dropped");
                    }
                    self.stuck = true;
                    return;
                }
                core::hint::spin_loop();
            }
            self.stuck = false;
            rt::port::outb(DATA, byte);
        }
    }
}

impl console::Terminal for Uart {
    fn output(&mut self, bytes: &[u8]) {
        self.send(bytes);
    }

    /// The far end of a serial line cannot be asked its size: the classic
    /// terminal's 80x24.
    fn size(&self) -> (usize, usize) {
        (80, 24)
    }
}
