//! The same kernel in self-test mode: runs the in-kernel checks after boot,
//! prints one `[selftest]` line per check and exits QEMU with the verdict.

#![no_std]
#![no_main]

bootloader_api::entry_point!(start, config = &kernel::BOOTLOADER_CONFIG);

fn start(boot_info: &'static mut bootloader_api::BootInfo) -> ! {
    kernel::kernel_main(boot_info, kernel::Mode::SelfTest)
}
