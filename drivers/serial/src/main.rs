//! `seriald` serves `serial:`, the COM1 console: the terminal scheme of
//! `lib/console` (cooked/raw modes, echo, Ctrl-C to the foreground group;
//! the protocol is in that crate's header) over COM1's 16550 UART.
//!
//! It starts as root, registers `serial:`, grants itself exactly COM1's
//! ports (0x3F8..0x3FF), finds the GSI that ISA IRQ 4 arrives on in the
//! `irq:` listing (`isa=4`) and opens that line, then narrows its
//! namespace to nothing (the null namespace: every fd it needs is open).
//! Input: each interrupt, it drains the UART's FIFO into the console and
//! acknowledges the count. Output goes through `debug:raw` (opened before
//! the namespace narrows), so the kernel writes each piece whole: the
//! kernel's own log and other `debug:` writers share the UART but never
//! cut a line of ours. While `seriald` owns the line, reads of `debug:`
//! are `EBUSY`.
//!
//! May touch: COM1's ports and interrupt line (in `uart` and through its
//! `irq:` fd), its fd on `debug:raw`, its scheme socket, and processes only through `lib/console`
//! (SIGINT to the foreground group).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod uart;

use alloc::format;
use alloc::vec::Vec;

use console::{Console, Daemon, InputSource};
use rt::abi::syscall::{EAGAIN, O_NONBLOCK, O_RDWR, O_WRONLY};
use rt::fs::File;
use rt::{Error, Result};
use uart::Uart;

rt::main!(main);

/// COM1's ISA interrupt.
const COM1_IRQ: u32 = 4;

/// COM1's input: the interrupt line, then the UART's FIFO.
struct Com1Input {
    irq: File,
    received: Vec<u8>,
}

impl InputSource<Uart> for Com1Input {
    fn fds(&self) -> Vec<usize> {
        alloc::vec![self.irq.fd()]
    }

    fn ready(&mut self, _fd: usize, console: &mut Console<Uart>) -> Result<()> {
        let mut count = [0u8; 8];
        let pending = match rt::sys::read(self.irq.fd(), &mut count) {
            Ok(_) => u64::from_ne_bytes(count),
            Err(err) if err.errno == EAGAIN => 0,
            Err(err) => {
                log::warn!("reading the interrupt count: {err}");
                return Err(err);
            }
        };
        self.received.clear();
        console.terminal().drain(&mut self.received);
        if pending > 0
            && let Err(err) = rt::sys::write(self.irq.fd(), &pending.to_ne_bytes())
        {
            log::warn!("acknowledging {pending} interrupts: {err}");
            return Err(err);
        }
        if !self.received.is_empty() {
            let received = core::mem::take(&mut self.received);
            console.input(&received);
            self.received = received;
        }
        Ok(())
    }
}

/// The GSI ISA IRQ `irq` arrives on, from the `irq:` listing (lines such
/// as `4 isa=4 edge high`); `ENOENT` if it is not offered (taken already,
/// or no IOAPIC input).
fn gsi_of_isa_irq(irq: u32) -> Result<u32> {
    let mut text = Vec::new();
    File::open("irq:")?.read_to_end(&mut text)?;
    let wanted = format!("isa={irq}");
    let text = core::str::from_utf8(&text).map_err(|_| Error::new(rt::abi::syscall::EIO))?;
    text.lines()
        .find(|line| line.split_whitespace().any(|word| word == wanted))
        .and_then(|line| line.split_whitespace().next()?.parse().ok())
        .ok_or(Error::new(rt::abi::syscall::ENOENT))
}

fn main() -> Result<()> {
    rt::log::init();
    let out = File::open_with("debug:raw", O_WRONLY).inspect_err(|err| log::error!("cannot open debug:raw: {err}"))?;
    let mut daemon = Daemon::register("serial", Console::new(Uart::new(out)))
        .inspect_err(|err| log::error!("cannot register serial: ({err})"))?;
    rt::sys::port_grant(rt::process::getpid(), usize::from(uart::COM1), usize::from(uart::PORTS))
        .inspect_err(|err| log::error!("cannot get COM1's ports: {err}"))?;
    let gsi = gsi_of_isa_irq(COM1_IRQ)
        .inspect_err(|err| log::error!("COM1's interrupt (ISA IRQ 4) is not in irq: ({err})"))?;
    let irq = File::open_with(&format!("irq:{gsi}"), O_RDWR | O_NONBLOCK)
        .inspect_err(|err| log::error!("cannot open irq:{gsi}: {err}"))?;
    daemon.console().terminal().start();
    rt::sys::ns_restrict(&[]).inspect_err(|err| log::error!("cannot enter the null namespace: {err}"))?;
    log::info!("serial: on COM1, ports {:#x}..{:#x}, irq:{gsi}", uart::COM1, uart::COM1 + uart::PORTS);
    daemon.ready();
    let result = daemon.run(Com1Input { irq, received: Vec::new() });
    if let Err(err) = &result {
        log::error!("stopped: {err}");
    }
    result
}
