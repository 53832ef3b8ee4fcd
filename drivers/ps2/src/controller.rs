//! The i8042 controller's set-up and its byte stream: what the driver says
//! to the controller (through `port`) and how it tells keyboard bytes from
//! mouse bytes. Touches only the two i8042 ports.

use crate::port::{self, Port};

bitflags::bitflags! {
    /// The status register.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Status: u8 {
        /// A byte waits in the output buffer.
        const OUTPUT_FULL = 1 << 0;
        /// The controller has not taken the last byte written yet.
        const INPUT_FULL = 1 << 1;
        /// The waiting byte came from the second (mouse) port.
        const AUX = 1 << 5;
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// The configuration byte.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Config: u8 {
        const KEYBOARD_IRQ = 1 << 0;
        const AUX_IRQ = 1 << 1;
        const KEYBOARD_CLOCK_OFF = 1 << 4;
        /// Translate to scancode set 1.
        const TRANSLATE = 1 << 6;
        const _ = !0;
    }
}

fn status() -> Status {
    Status::from_bits_retain(port::read(Port::StatusCommand))
}

/// Controller commands.
const READ_CONFIG: u8 = 0x20;
const WRITE_CONFIG: u8 = 0x60;
const DISABLE_AUX: u8 = 0xa7;
const ENABLE_KEYBOARD: u8 = 0xae;
const DISABLE_KEYBOARD: u8 = 0xad;

/// How many status polls a command may wait (each is a port read, about a
/// microsecond): far more than a working controller needs.
const POLLS: u32 = 100_000;

/// Bytes left in the output buffer at set-up, at most (then the controller
/// is considered stuck).
const MAX_STALE: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The controller did not take a command or answer in time.
    Timeout(&'static str),
    /// The output buffer never emptied: no controller, or a broken one.
    Stuck,
}

fn wait_input_empty(what: &'static str) -> Result<(), Error> {
    for _ in 0..POLLS {
        if !status().contains(Status::INPUT_FULL) {
            return Ok(());
        }
    }
    Err(Error::Timeout(what))
}

fn command(cmd: u8, what: &'static str) -> Result<(), Error> {
    wait_input_empty(what)?;
    port::write(Port::StatusCommand, cmd);
    Ok(())
}

fn read_answer(what: &'static str) -> Result<u8, Error> {
    for _ in 0..POLLS {
        if status().contains(Status::OUTPUT_FULL) {
            return Ok(port::read(Port::Data));
        }
    }
    Err(Error::Timeout(what))
}

/// Puts the controller in the state the driver expects: keyboard port on,
/// its interrupt on, set 2 translated to set 1, the mouse port off (and its
/// interrupt too). Returns the configuration byte written.
pub fn init() -> Result<u8, Error> {
    command(DISABLE_KEYBOARD, "disable keyboard")?;
    command(DISABLE_AUX, "disable mouse port")?;
    // Throw away whatever the firmware left in the buffer.
    let mut stale = 0;
    while status().contains(Status::OUTPUT_FULL) {
        let _ = port::read(Port::Data);
        stale += 1;
        if stale > MAX_STALE {
            return Err(Error::Stuck);
        }
    }
    command(READ_CONFIG, "read configuration")?;
    let config = read_answer("configuration byte")?;
    let config = (Config::from_bits_retain(config) | Config::KEYBOARD_IRQ | Config::TRANSLATE)
        .difference(Config::AUX_IRQ | Config::KEYBOARD_CLOCK_OFF)
        .bits();
    command(WRITE_CONFIG, "write configuration")?;
    wait_input_empty("configuration byte")?;
    port::write(Port::Data, config);
    command(ENABLE_KEYBOARD, "enable keyboard")?;
    Ok(config)
}

/// Takes every byte the controller holds, handing keyboard bytes to `sink`
/// (mouse bytes are dropped: the mouse port is off, but a byte may have
/// arrived before). Returns how many keyboard bytes there were.
pub fn drain(mut sink: impl FnMut(u8)) -> usize {
    let mut count = 0;
    // Bounded: the buffer holds one byte; a controller that claims to be
    // full forever would otherwise keep us here.
    for _ in 0..MAX_STALE {
        let status = status();
        if !status.contains(Status::OUTPUT_FULL) {
            break;
        }
        let byte = port::read(Port::Data);
        if !status.contains(Status::AUX) {
            sink(byte);
            count += 1;
        }
    }
    count
}
