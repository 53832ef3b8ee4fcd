//! `kernel_main`: the boot sequence from the bootloader's hand-off to a
//! running system, and the bootloader configuration it relies on.

use bootloader_api::BootInfo;
use bootloader_api::config::{BootloaderConfig, Mapping};

use crate::{console, kprintln, qemu};

/// What the kernel does once it has booted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    SelfTest,
}

/// How the bootloader must lay out memory for us: all of physical memory
/// mapped at a dynamic offset, and every dynamic mapping in the first 16 TiB
/// of the higher half, leaving the lower half to userspace.
pub static BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    config.mappings.physical_memory = Some(Mapping::Dynamic);
    config.mappings.dynamic_range_start = Some(0xffff_8000_0000_0000);
    config.mappings.dynamic_range_end = Some(0xffff_8fff_ffff_ffff);
    config.kernel_stack_size = 128 * 1024;
    config
};

pub fn kernel_main(_boot_info: &'static mut BootInfo, mode: Mode) -> ! {
    console::init();
    kprintln!("Ferrite {} booted", env!("CARGO_PKG_VERSION"));
    if mode == Mode::SelfTest {
        kprintln!("[selftest] plan 0");
        kprintln!("[selftest] done 0 passed, 0 failed");
        qemu::exit(qemu::ExitCode::Success);
    }
    crate::arch::x86_64::halt_forever()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    console::force_unlock();
    kprintln!("KERNEL PANIC: {info}");
    qemu::exit(qemu::ExitCode::Panic)
}
