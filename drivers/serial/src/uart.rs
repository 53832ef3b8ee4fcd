//! COM1's 16550 UART: receive-interrupt setup and draining received
//! bytes through the ports granted to this process (`rt::port`), and
//! output through the kernel's `debug:raw`, which writes each piece whole
//! under the kernel console's lock, so the kernel's own lines and other
//! programs' `debug:` writes never cut one of ours (the kernel logs on the
//! same port). Touches only ports 0x3F8..0x3FF and that fd.

use rt::fs::File;

/// COM1's first port; the UART has eight.
pub const COM1: u16 = 0x3f8;
pub const PORTS: u16 = 8;

const DATA: u16 = COM1;
const INTERRUPT_ENABLE: u16 = COM1 + 1;
const MODEM_CONTROL: u16 = COM1 + 4;
const LINE_STATUS: u16 = COM1 + 5;

/// Line status: a received byte waits.
const LSR_DATA_READY: u8 = 1;
/// Interrupt enable: received data available.
const IER_RECEIVED: u8 = 1;
/// Modem control: DTR, RTS, and OUT2, which gates the interrupt on PCs.
const MCR_DTR_RTS_OUT2: u8 = 0x0b;

/// The most bytes one drain takes (the FIFO holds 16; more means input
/// keeps arriving while we read, which the next interrupt picks up).
const DRAIN_LIMIT: usize = 4096;

/// The UART (line settings, 115200 8N1 with FIFOs, are the kernel's from
/// boot: it logs on the same port).
pub struct Uart {
    /// `debug:raw`, where output goes; `None` once a write failed (said in
    /// the log once: the console is then input only).
    out: Option<File>,
}

impl Uart {
    /// The UART, untouched until [`Uart::start`] (the ports must be
    /// granted first); output goes to `out`, an fd on `debug:raw`.
    pub fn new(out: File) -> Uart {
        Uart { out: Some(out) }
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

    /// Send `bytes` as one piece.
    pub fn send(&mut self, bytes: &[u8]) {
        let Some(out) = &mut self.out else { return };
        if let Err(err) = out.write_all(bytes) {
            log::error!("writing to debug:raw: {err}; no more output on COM1");
            self.out = None;
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
