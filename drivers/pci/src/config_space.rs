//! Configuration mechanism #1: the address port 0xCF8 and the data port
//! 0xCFC (through `rt::port`, granted to this process), and the bus walk
//! that finds every function. Touches only ports 0xCF8..0xCFF.

use alloc::vec::Vec;

use pci_config::{Address, Header, NO_DEVICE};

pub const FIRST_PORT: u16 = 0xcf8;
pub const PORTS: u16 = 8;
const ADDRESS_PORT: u16 = 0xcf8;
const DATA_PORT: u16 = 0xcfc;

/// The 32-bit word at `offset` of `address`'s configuration space.
fn read_word(address: Address, offset: u8) -> u32 {
    rt::port::outl(ADDRESS_PORT, address.config_address(offset));
    rt::port::inl(DATA_PORT)
}

/// The first 64 bytes of `address`'s configuration space.
fn read_header(address: Address) -> Header {
    let mut words = [0u32; 16];
    for (i, word) in words.iter_mut().enumerate() {
        *word = read_word(address, (i * 4) as u8);
    }
    Header(words)
}

/// Every function that answers, in address order: all 256 buses, 32
/// devices each; functions 1-7 only where function 0 says multi-function.
pub fn enumerate() -> Vec<(Address, Header)> {
    let mut found = Vec::new();
    for bus in 0..=255u8 {
        for device in 0..32u8 {
            let Some(first) = Address::new(bus, device, 0) else { continue };
            if read_word(first, 0) as u16 == NO_DEVICE {
                continue;
            }
            let header = read_header(first);
            let functions = if header.multi_function() { 8 } else { 1 };
            found.push((first, header));
            for function in 1..functions {
                let Some(address) = Address::new(bus, device, function) else { continue };
                if read_word(address, 0) as u16 != NO_DEVICE {
                    found.push((address, read_header(address)));
                }
            }
        }
    }
    found
}
