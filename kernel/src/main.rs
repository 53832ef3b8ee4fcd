//! The kernel people boot.

#![no_std]
#![no_main]

bootloader_api::entry_point!(start, config = &kernel::BOOTLOADER_CONFIG);

fn start(boot_info: &'static mut bootloader_api::BootInfo) -> ! {
    kernel::kernel_main(boot_info, kernel::Mode::Normal)
}
