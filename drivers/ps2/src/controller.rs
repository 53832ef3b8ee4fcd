//! The i8042 controller's set-up and its byte stream: what the driver says
//! to the controller (through `port`) and how it tells keyboard bytes from
//! mouse bytes. Touches only the two i8042 ports.

use crate::port::{self, Port};

/// Status bits.
const STATUS_OUTPUT_FULL: u8 = 1 << 0;
const STATUS_INPUT_FULL: u8 = 1 << 1;
/// The byte waiting in the output buffer came from the second (mouse) port.
const STATUS_AUX: u8 = 1 << 5;

/// Controller commands.
const READ_CONFIG: u8 = 0x20;
const WRITE_CONFIG: u8 = 0x60;
const DISABLE_AUX: u8 = 0xa7;
const ENABLE_KEYBOARD: u8 = 0xae;
const DISABLE_KEYBOARD: u8 = 0xad;

/// Configuration byte bits.
const CONFIG_KEYBOARD_IRQ: u8 = 1 << 0;
const CONFIG_AUX_IRQ: u8 = 1 << 1;
const CONFIG_KEYBOARD_CLOCK_OFF: u8 = 1 << 4;
const CONFIG_TRANSLATE: u8 = 1 << 6;

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
        if port::read(Port::StatusCommand) & STATUS_INPUT_FULL == 0 {
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
        if port::read(Port::StatusCommand) & STATUS_OUTPUT_FULL != 0 {
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
    while port::read(Port::StatusCommand) & STATUS_OUTPUT_FULL != 0 {
        let _ = port::read(Port::Data);
        stale += 1;
        if stale > MAX_STALE {
            return Err(Error::Stuck);
        }
    }
    command(READ_CONFIG, "read configuration")?;
    let config = read_answer("configuration byte")?;
    let config = (config | CONFIG_KEYBOARD_IRQ | CONFIG_TRANSLATE) & !(CONFIG_AUX_IRQ | CONFIG_KEYBOARD_CLOCK_OFF);
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
        let status = port::read(Port::StatusCommand);
        if status & STATUS_OUTPUT_FULL == 0 {
            break;
        }
        let byte = port::read(Port::Data);
        if status & STATUS_AUX == 0 {
            sink(byte);
            count += 1;
        }
    }
    count
}
