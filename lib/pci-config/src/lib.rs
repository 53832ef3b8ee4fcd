//! PCI configuration space, decoded: function addresses (`BB:DD.F`), the
//! fields of the standard 64-byte header, class names, and base address
//! registers (BARs); plus the text `pcid` serves on `pci:`.
//!
//! Why a crate of its own: it is pure decoding of 16 configuration words
//! that must never panic whatever a device reports, so it lives here,
//! `no_std` + `alloc`, tested on the host (`cargo test -p pci-config`).
//! Reading the words (ports 0xCF8/0xCFC) is `drivers/pci`'s job.
//!
//! Text formats:
//!
//! - a listing line ([`listing_line`]): `BB:DD.F VVVV:DDDD CC.SS.PP
//!   class-name`, numbers in lowercase hex, e.g.
//!   `00:01.0 8086:7000 06.01.00 ISA bridge`;
//! - a function's file ([`describe`]): `key: value` lines — `address`,
//!   `vendor`, `device`, `class` (codes and name), `revision`,
//!   `header_type` (0 general, 1 PCI-to-PCI bridge, 2 CardBus bridge, then
//!   `multi-function` if set), `command`, `status`, one `barN` line per
//!   BAR slot (`io 0xPORT`, `mem32 0xADDR`, `mem64 0xADDR`, with
//!   `prefetchable`, or `unused`; the upper half of a 64-bit BAR is not
//!   listed on its own), for bridges `buses` (primary, secondary,
//!   subordinate), then `interrupt_line` (decimal, `none` for 0xff) and
//!   `interrupt_pin` (`A`-`D`, or `none`).
//!
//! BAR sizes are not reported: measuring one means writing all-ones to
//! the BAR of a live device, which `pcid` does not do behind its drivers.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod class;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

pub use class::class_name;

/// A function's place: bus, device (0-31), function (0-7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Address {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl Address {
    /// `None` if `device` > 31 or `function` > 7.
    pub fn new(bus: u8, device: u8, function: u8) -> Option<Address> {
        (device < 32 && function < 8).then_some(Address { bus, device, function })
    }

    /// The value for the configuration address port (0xCF8) that selects
    /// the 32-bit word at `offset` (rounded down to a multiple of 4).
    pub fn config_address(self, offset: u8) -> u32 {
        0x8000_0000
            | u32::from(self.bus) << 16
            | u32::from(self.device) << 11
            | u32::from(self.function) << 8
            | u32::from(offset & 0xfc)
    }

    /// Parse `BB:DD.F` (hex bus and device, function 0-7; exactly that
    /// shape, lowercase or uppercase).
    pub fn parse(text: &str) -> Option<Address> {
        let bytes = text.as_bytes();
        if bytes.len() != 7 || bytes[2] != b':' || bytes[5] != b'.' {
            return None;
        }
        let hex =
            |s: &str| if s.bytes().all(|b| b.is_ascii_hexdigit()) { u8::from_str_radix(s, 16).ok() } else { None };
        let function = match bytes[6] {
            digit @ b'0'..=b'7' => digit - b'0',
            _ => return None,
        };
        Address::new(hex(text.get(0..2)?)?, hex(text.get(3..5)?)?, function)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// The first 64 bytes of a function's configuration space, as the 16
/// little-endian words read from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header(pub [u32; 16]);

/// What a vendor id of 0xffff means: nothing answers at that address.
pub const NO_DEVICE: u16 = 0xffff;

impl Header {
    fn byte(&self, offset: usize) -> u8 {
        (self.0[offset / 4] >> ((offset % 4) * 8)) as u8
    }

    fn half(&self, offset: usize) -> u16 {
        (self.0[offset / 4] >> ((offset % 4) * 8)) as u16
    }

    pub fn vendor(&self) -> u16 {
        self.half(0)
    }
    pub fn device(&self) -> u16 {
        self.half(2)
    }
    pub fn command(&self) -> u16 {
        self.half(4)
    }
    pub fn status(&self) -> u16 {
        self.half(6)
    }
    pub fn revision(&self) -> u8 {
        self.byte(8)
    }
    pub fn prog_if(&self) -> u8 {
        self.byte(9)
    }
    pub fn subclass(&self) -> u8 {
        self.byte(10)
    }
    pub fn class(&self) -> u8 {
        self.byte(11)
    }
    /// The layout (0, 1 or 2), without the multi-function bit.
    pub fn header_type(&self) -> u8 {
        self.byte(14) & 0x7f
    }
    /// Functions 1-7 of this device may exist (meaningful on function 0).
    pub fn multi_function(&self) -> bool {
        self.byte(14) & 0x80 != 0
    }
    pub fn interrupt_line(&self) -> u8 {
        self.byte(60)
    }
    pub fn interrupt_pin(&self) -> u8 {
        self.byte(61)
    }

    /// How many BAR slots the layout has (6, 2, 1; 0 for unknown layouts).
    pub fn bar_slots(&self) -> usize {
        match self.header_type() {
            0 => 6,
            1 => 2,
            2 => 1,
            _ => 0,
        }
    }

    /// The BARs, by slot; the upper half of a 64-bit BAR is folded into
    /// the slot before it and not listed itself.
    pub fn bars(&self) -> Vec<(usize, Bar)> {
        let mut bars = Vec::new();
        let mut slot = 0;
        while slot < self.bar_slots() {
            let low = self.0[4 + slot];
            let high = if slot + 1 < self.bar_slots() { Some(self.0[5 + slot]) } else { None };
            let bar = Bar::decode(low, high);
            bars.push((slot, bar));
            slot += if matches!(bar, Bar::Memory64 { .. }) { 2 } else { 1 };
        }
        bars
    }

    /// Primary, secondary and subordinate bus numbers (bridges only).
    pub fn buses(&self) -> Option<(u8, u8, u8)> {
        (self.header_type() == 1).then(|| (self.byte(24), self.byte(25), self.byte(26)))
    }
}

/// One base address register, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bar {
    /// Nothing there (all address bits zero).
    Unused,
    Io {
        port: u32,
    },
    Memory32 {
        address: u32,
        prefetchable: bool,
    },
    Memory64 {
        address: u64,
        prefetchable: bool,
    },
    /// A 64-bit BAR in the last slot (no upper half), or the reserved
    /// memory type: reported as it is.
    Invalid {
        raw: u32,
    },
}

impl Bar {
    /// Decode the BAR word `low`; `high` is the next slot's word (the
    /// upper half if `low` says 64-bit), `None` in the last slot.
    pub fn decode(low: u32, high: Option<u32>) -> Bar {
        if low & 1 == 1 {
            let port = low & !0x3;
            return if port == 0 { Bar::Unused } else { Bar::Io { port } };
        }
        let prefetchable = low & 0x8 != 0;
        let base = low & !0xf;
        match (low >> 1) & 0x3 {
            0 if base == 0 => Bar::Unused,
            0 => Bar::Memory32 { address: base, prefetchable },
            2 => match high {
                Some(high) => {
                    let address = u64::from(high) << 32 | u64::from(base);
                    if address == 0 { Bar::Unused } else { Bar::Memory64 { address, prefetchable } }
                }
                None => Bar::Invalid { raw: low },
            },
            _ => Bar::Invalid { raw: low },
        }
    }
}

impl fmt::Display for Bar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefetch = |p: bool| if p { " prefetchable" } else { "" };
        match *self {
            Bar::Unused => write!(f, "unused"),
            Bar::Io { port } => write!(f, "io {port:#x}"),
            Bar::Memory32 { address, prefetchable } => write!(f, "mem32 {address:#x}{}", prefetch(prefetchable)),
            Bar::Memory64 { address, prefetchable } => write!(f, "mem64 {address:#x}{}", prefetch(prefetchable)),
            Bar::Invalid { raw } => write!(f, "invalid {raw:#010x}"),
        }
    }
}

/// The `pci:` listing line of a function (no newline).
pub fn listing_line(address: Address, header: &Header) -> String {
    let mut line = String::new();
    let _ = write!(
        line,
        "{address} {:04x}:{:04x} {:02x}.{:02x}.{:02x} {}",
        header.vendor(),
        header.device(),
        header.class(),
        header.subclass(),
        header.prog_if(),
        class_name(header.class(), header.subclass(), header.prog_if())
    );
    line
}

/// The text of `pci:BB:DD.F` (see the crate header).
pub fn describe(address: Address, header: &Header) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "address: {address}");
    let _ = writeln!(text, "vendor: {:04x}", header.vendor());
    let _ = writeln!(text, "device: {:04x}", header.device());
    let _ = writeln!(
        text,
        "class: {:02x}.{:02x}.{:02x} {}",
        header.class(),
        header.subclass(),
        header.prog_if(),
        class_name(header.class(), header.subclass(), header.prog_if())
    );
    let _ = writeln!(text, "revision: {:02x}", header.revision());
    let layout = match header.header_type() {
        0 => "general",
        1 => "pci-to-pci bridge",
        2 => "cardbus bridge",
        _ => "unknown",
    };
    let multi = if header.multi_function() { ", multi-function" } else { "" };
    let _ = writeln!(text, "header_type: {} ({layout}){multi}", header.header_type());
    let _ = writeln!(text, "command: {:04x}", header.command());
    let _ = writeln!(text, "status: {:04x}", header.status());
    for (slot, bar) in header.bars() {
        let _ = writeln!(text, "bar{slot}: {bar}");
    }
    if let Some((primary, secondary, subordinate)) = header.buses() {
        let _ = writeln!(text, "buses: {primary:02x} {secondary:02x} {subordinate:02x}");
    }
    match header.interrupt_line() {
        0xff => text.push_str("interrupt_line: none\n"),
        line => {
            let _ = writeln!(text, "interrupt_line: {line}");
        }
    }
    match header.interrupt_pin() {
        pin @ 1..=4 => {
            let _ = writeln!(text, "interrupt_pin: {}", char::from(b'A' + pin - 1));
        }
        _ => text.push_str("interrupt_pin: none\n"),
    }
    text
}

#[cfg(test)]
mod tests;
