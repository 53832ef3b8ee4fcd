//! The one PCI configuration access the kernel makes itself: turning off a
//! function's bus mastering when its driver lets go of it (closes its
//! `memory:pci/BB:DD.F` handle, as it does when it dies), so a device
//! cannot go on writing into DMA buffers the kernel is about to reuse.
//! Through the legacy ports (no mapping needed); `pcid` reads the same
//! ports only while it starts.
//!
//! May touch: ports 0xCF8 and 0xCFC.

use spin::Mutex;
use x86_64::instructions::port::Port;

/// Serialises the address/data port pair.
static PORTS: Mutex<()> = Mutex::new(());

/// Command register bit 2: the function may master the bus (do DMA).
const BUS_MASTER: u32 = 1 << 2;

/// Clear `function`'s bus master enable bit.
pub fn disable_bus_master(function: pci_config::Address) {
    let _ports = PORTS.lock();
    let mut address = Port::<u32>::new(0xcf8);
    let mut data = Port::<u32>::new(0xcfc);
    // SAFETY: the standard configuration mechanism #1: select the
    // function's command/status word, then read and write it; only the
    // bus master bit changes, and status bits (write-1-to-clear) are
    // written as 0.
    unsafe {
        address.write(function.config_address(4));
        let word = data.read();
        if word != u32::MAX {
            address.write(function.config_address(4));
            data.write(word & 0xffff & !BUS_MASTER);
        }
    }
}
