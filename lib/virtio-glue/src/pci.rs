//! One PCI function, as a driver sees it: its configuration space through
//! its own ECAM page (`memory:pci/BB:DD.F`, so the driver can reach no
//! other device's), its memory BARs mapped through `memory:physical`
//! windows, and MSI-X programmed with a message from `irq:msi`.
//!
//! May touch: that function's configuration page and BARs.

use alloc::format;
use alloc::vec::Vec;

use rt::abi::syscall::{EINVAL, EIO, ENODEV, O_RDWR};
use rt::fs::File;
use rt::mem::{PAGE_SIZE, SharedMapping};
use rt::{Error, Result};
use spin::Mutex;
use virtio_drivers::transport::pci::bus::{BarInfo, ConfigurationAccess, DeviceFunction, PciRoot};

/// The configuration pages mapped so far, with the `memory:pci` files
/// that own the functions; they live as long as the process, so an
/// [`EcamAccess`] copy never outlives its page, and the kernel stops the
/// device's DMA only when the process ends.
static PAGES: Mutex<Vec<(SharedMapping, File)>> = Mutex::new(Vec::new());

/// Capability id of vendor-specific capabilities (virtio's structures).
const CAP_VENDOR: u8 = 0x09;
/// Capability id of MSI-X.
const CAP_MSIX: u8 = 0x11;
/// Command register bits: memory space, bus master, INTx disable.
const COMMAND_MEMORY: u32 = 1 << 1;
const COMMAND_BUS_MASTER: u32 = 1 << 2;
const COMMAND_INTX_DISABLE: u32 = 1 << 10;
/// MSI-X message control: enable, function mask.
const MSIX_ENABLE: u32 = 1 << 15;
const MSIX_FUNCTION_MASK: u32 = 1 << 14;

/// Configuration space access for one function through its mapped ECAM
/// page; other functions read as absent (all ones) and ignore writes.
#[derive(Debug)]
pub struct EcamAccess {
    function: DeviceFunction,
    page: usize,
}

impl EcamAccess {
    fn word(&self, function: DeviceFunction, offset: u8) -> Option<*mut u32> {
        (function == self.function && offset.is_multiple_of(4))
            .then(|| core::ptr::with_exposed_provenance_mut(self.page + usize::from(offset)))
    }
}

impl ConfigurationAccess for EcamAccess {
    fn read_word(&self, function: DeviceFunction, offset: u8) -> u32 {
        match self.word(function, offset) {
            // SAFETY: `page` is this function's 4 KiB configuration page,
            // mapped uncached for the life of the process (`PAGES`); the
            // word is aligned and inside it (offset < 256).
            Some(word) => unsafe { word.read_volatile() },
            None => u32::MAX,
        }
    }

    fn write_word(&mut self, function: DeviceFunction, offset: u8, data: u32) {
        if let Some(word) = self.word(function, offset) {
            // SAFETY: as for `read_word`.
            unsafe { word.write_volatile(data) }
        }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        EcamAccess { function: self.function, page: self.page }
    }
}

/// A PCI function a driver owns.
pub struct Function {
    pub function: DeviceFunction,
    pub root: PciRoot<EcamAccess>,
    /// The same page as `root`'s, for the words `PciRoot` has no call for.
    config: EcamAccess,
    /// The memory BARs: (index, physical address, size).
    pub bars: Vec<(u8, u64, u64)>,
}

impl Function {
    /// Take function `address` (`BB:DD.F`) and map its configuration page.
    /// `EBUSY` if another process owns it.
    pub fn open(address: &str) -> Result<Function> {
        let (bus, rest) = address.split_once(':').ok_or(Error::new(EINVAL))?;
        let (device, function) = rest.split_once('.').ok_or(Error::new(EINVAL))?;
        let parse = |text: &str| u8::from_str_radix(text, 16).map_err(|_| Error::new(EINVAL));
        let function = DeviceFunction { bus: parse(bus)?, device: parse(device)?, function: parse(function)? };
        if !function.valid() {
            return Err(Error::new(EINVAL));
        }
        let mut file = File::open_with(&format!("memory:pci/{address}"), O_RDWR)?;
        let mut phys = [0u8; 8];
        if file.read(&mut phys)? != 8 {
            return Err(Error::new(EIO));
        }
        let phys = usize::try_from(u64::from_ne_bytes(phys)).map_err(|_| Error::new(EIO))?;
        let mapping = rt::mem::map_file_shared(file.fd(), phys, PAGE_SIZE)?;
        let page = mapping.addr();
        PAGES.lock().push((mapping, file));
        let config = EcamAccess { function, page };
        Ok(Function { function, root: PciRoot::new(EcamAccess { function, page }), config, bars: Vec::new() })
    }

    /// Size every BAR and map the memory ones (whole pages) for the HAL.
    /// Enables memory decoding and bus mastering and disables INTx.
    pub fn map_bars(&mut self) -> Result<()> {
        let bars = self.root.bars(self.function).map_err(|_| Error::new(EIO))?;
        for (index, bar) in bars.iter().enumerate() {
            let Some(bar @ BarInfo::Memory { .. }) = bar else { continue };
            let Some((address, size)) = bar.memory_address_size() else { continue };
            if address == 0 || size == 0 {
                continue;
            }
            let start = address & !(PAGE_SIZE as u64 - 1);
            let len = (address + size).next_multiple_of(PAGE_SIZE as u64) - start;
            crate::dma::register_mmio(start, len)?;
            self.bars.push((index as u8, address, size));
        }
        let access = &mut self.config;
        let command = access.read_word(self.function, 4) & 0xffff;
        access.write_word(self.function, 4, command | COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_INTX_DISABLE);
        Ok(())
    }

    /// The mapped address of the virtio structure of `cfg_type` (1 common,
    /// 2 notify, 3 ISR, 4 device) that a vendor capability points at.
    pub fn virtio_structure(&self, cfg_type: u8) -> Option<usize> {
        let access = &self.config;
        let cap = self
            .root
            .capabilities(self.function)
            .find(|c| c.id == CAP_VENDOR && (c.private_header >> 8) as u8 == cfg_type)?;
        let bar = access.read_word(self.function, cap.offset + 4) as u8;
        let offset = u64::from(access.read_word(self.function, cap.offset + 8));
        let length = u64::from(access.read_word(self.function, cap.offset + 12));
        let &(_, bar_address, _) = self.bars.iter().find(|(index, ..)| *index == bar)?;
        crate::dma::mmio_address(bar_address + offset, length)
    }

    /// Program MSI-X table entry `entry` with the message from the
    /// `irq:msi` handle `message` (its `message` dup: address `u64`, data
    /// `u32`), unmask it and enable MSI-X. `ENODEV` if the function has no
    /// MSI-X capability or that entry.
    pub fn enable_msix(&mut self, entry: u16, message: &mut File) -> Result<()> {
        let mut bytes = [0u8; 12];
        if message.read(&mut bytes)? != 12 {
            return Err(Error::new(EIO));
        }
        let address = u64::from_ne_bytes(bytes[..8].try_into().map_err(|_| Error::new(EIO))?);
        let data = u32::from_ne_bytes(bytes[8..].try_into().map_err(|_| Error::new(EIO))?);
        let cap = self.root.capabilities(self.function).find(|c| c.id == CAP_MSIX).ok_or(Error::new(ENODEV))?;
        let table_size = (cap.private_header & 0x7ff) + 1;
        if entry >= table_size {
            return Err(Error::new(ENODEV));
        }
        let table = self.config.read_word(self.function, cap.offset + 4);
        let (bir, offset) = ((table & 7) as u8, u64::from(table & !7));
        let &(_, bar_address, _) = self.bars.iter().find(|(index, ..)| *index == bir).ok_or(Error::new(ENODEV))?;
        let entry_address = bar_address + offset + u64::from(entry) * 16;
        let virt = crate::dma::mmio_address(entry_address, 16).ok_or(Error::new(ENODEV))?;
        let words: *mut u32 = core::ptr::with_exposed_provenance_mut(virt);
        // SAFETY: `virt` is the 16-byte MSI-X table entry inside this
        // function's BAR, mapped uncached by `map_bars` for the life of the
        // process; the device is not using the entry (MSI-X is off or the
        // entry masked until the last write).
        unsafe {
            words.write_volatile(address as u32);
            words.add(1).write_volatile((address >> 32) as u32);
            words.add(2).write_volatile(data);
            words.add(3).write_volatile(0);
        }
        let access = &mut self.config;
        let header = access.read_word(self.function, cap.offset);
        let control = ((header >> 16) | MSIX_ENABLE) & !MSIX_FUNCTION_MASK;
        access.write_word(self.function, cap.offset, (header & 0xffff) | (control << 16));
        Ok(())
    }
}
