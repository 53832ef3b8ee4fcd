//! `kernel_main`: the boot sequence from the bootloader's hand-off to a
//! running system, and the bootloader configuration it relies on.

use core::sync::atomic::{AtomicBool, Ordering};

use bootloader_api::BootInfo;
use bootloader_api::config::{BootloaderConfig, Mapping};
use bootloader_api::info::MemoryRegionKind;

use crate::arch::x86_64::{self as arch, percpu, tsc};
use crate::{console, context, framebuffer, kprintln, logger, memory, qemu, scheme, selftest};

/// What the kernel does once it has booted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    SelfTest,
}

static MODE: spin::Once<Mode> = spin::Once::new();

pub fn mode() -> Mode {
    MODE.get().copied().unwrap_or(Mode::Normal)
}

/// How the bootloader must lay out memory for us: all of physical memory
/// mapped at a dynamic offset, and every dynamic mapping in the first 16 TiB
/// of the higher half, leaving the lower half to userspace.
pub static BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    config.mappings.physical_memory = Some(Mapping::Dynamic);
    config.mappings.dynamic_range_start = Some(0xffff_8000_0000_0000);
    config.mappings.dynamic_range_end = Some(0xffff_8fff_ffff_ffff);
    // Only used until `kernel_main` moves to a guarded stack of its own.
    config.kernel_stack_size = 64 * 1024;
    config
};

/// Where the kernel's own ELF file sits in physical memory (the self-tests
/// check the page permissions of its segments against it).
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    pub phys: u64,
    pub len: u64,
}

pub static KERNEL_IMAGE: spin::Once<KernelImage> = spin::Once::new();

/// The firmware that started the bootloader (`sys:firmware`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    Bios,
    Uefi,
}

impl Firmware {
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        }
    }

    /// Read off the memory map: the bootloader passes on the regions it
    /// does not use in the firmware's own terms, E820 types from a BIOS and
    /// memory types from UEFI, and every machine has some (ACPI tables,
    /// reserved holes); a map with neither is no firmware we know.
    fn of(regions: &[bootloader_api::info::MemoryRegion]) -> Option<Firmware> {
        let uefi = regions.iter().any(|r| matches!(r.kind, MemoryRegionKind::UnknownUefi(_)));
        let bios = regions.iter().any(|r| matches!(r.kind, MemoryRegionKind::UnknownBios(_)));
        match (bios, uefi) {
            (true, false) => Some(Firmware::Bios),
            (false, true) => Some(Firmware::Uefi),
            _ => None,
        }
    }
}

static FIRMWARE: spin::Once<Option<Firmware>> = spin::Once::new();

/// The firmware we booted from, `None` if the memory map did not say.
pub fn firmware() -> Option<Firmware> {
    FIRMWARE.get().copied().flatten()
}

/// The kernel's own schemes.
fn register_schemes() {
    scheme::register("debug", scheme::debug::DebugScheme::instance());
    scheme::register("event", alloc::sync::Arc::new(scheme::event::EventScheme::new()));
    scheme::register("pipe", alloc::sync::Arc::new(scheme::pipe::PipeScheme::new()));
    scheme::register("memory", alloc::sync::Arc::new(scheme::memory::MemoryScheme::new()));
    scheme::register("sys", alloc::sync::Arc::new(scheme::sys::SysScheme::new()));
    scheme::register("time", scheme::time::TimeScheme::instance());
    scheme::register("irq", scheme::irq::IrqScheme::new());
    scheme::register("power", alloc::sync::Arc::new(scheme::power::PowerScheme));
}

/// The boot ramdisk (the initfs image), if the bootloader brought one.
fn ramdisk(boot_info: &BootInfo) -> Option<&'static [u8]> {
    let addr = boot_info.ramdisk_addr.into_option()?;
    // SAFETY: the bootloader mapped the ramdisk at this address with this
    // length; it stays mapped and nothing writes to it.
    Some(unsafe { core::slice::from_raw_parts(addr as *const u8, boot_info.ramdisk_len as usize) })
}

pub fn kernel_main(boot_info: &'static mut BootInfo, mode: Mode) -> ! {
    MODE.call_once(|| mode);
    console::init();
    logger::init(log::LevelFilter::Info);
    let tsc_hz = tsc::calibrate();
    log::info!("Ferrite {} starting ({mode:?} mode)", env!("CARGO_PKG_VERSION"));
    log::info!("TSC: {}.{:03} MHz", tsc_hz / 1_000_000, tsc_hz / 1000 % 1000);
    KERNEL_IMAGE.call_once(|| KernelImage { phys: boot_info.kernel_addr, len: boot_info.kernel_len });

    memory::init(boot_info);
    // The bootloader's stack has no guard page; continue on one of ours.
    let stack = memory::kstack::allocate(arch::smp::CPU_STACK_SIZE).expect("no memory for the boot CPU's stack");
    let top = stack.top();
    stack.keep_forever();
    // SAFETY: `top` is the top of a fresh, mapped, guarded kernel stack that
    // only this CPU will use; the boot info stays valid (it is 'static).
    unsafe { arch::switch_stack(top, continue_boot, core::ptr::from_mut(boot_info) as usize) }
}

/// The rest of the boot sequence, on the boot CPU's own guarded stack.
extern "C" fn continue_boot(boot_info: usize) -> ! {
    // SAFETY: `kernel_main` passed the address of the `&'static mut
    // BootInfo` it owned and never uses it again.
    let boot_info: &'static mut BootInfo = unsafe { &mut *(boot_info as *mut BootInfo) };
    let mode = self::mode();
    FIRMWARE.call_once(|| Firmware::of(&boot_info.memory_regions));
    log_boot_info(boot_info);
    framebuffer::record(boot_info);
    arch::init_bsp(boot_info.rsdp_addr.into_option());

    let frames = memory::frame::stats();
    let usable_mib = (frames.managed * 4096) >> 20;
    let free_mib = (frames.free * 4096) >> 20;
    kprintln!(
        "Ferrite {} booted: {} CPUs, {} MiB usable, {} MiB free, protections: {}",
        env!("CARGO_PKG_VERSION"),
        percpu::online_count(),
        usable_mib,
        free_mib,
        arch::protections()
    );
    log::info!("boot took {} ms", tsc::now_ns() / 1_000_000);
    crate::time::start_wall_clock();

    register_schemes();
    let selftest = mode == Mode::SelfTest;
    if selftest && !selftest::run_all() {
        qemu::exit(qemu::ExitCode::Failure);
    }
    // Bootstrap serves the ramdisk and execs init, or in a self-test boot
    // the user-mode tests, whose exit status is then the verdict.
    let started = ramdisk(boot_info)
        .ok_or(abi::syscall::Error::new(abi::syscall::ENOENT))
        .and_then(|image| context::bootstrap::spawn(image, selftest));
    if let Err(err) = started {
        log::error!("cannot start {}: {err}; nothing to run", context::bootstrap::BOOTSTRAP);
        if selftest {
            qemu::exit(qemu::ExitCode::Failure);
        }
    }
    context::scheduler::run_idle()
}

fn log_boot_info(boot_info: &BootInfo) {
    let mut usable = 0;
    for region in boot_info.memory_regions.iter() {
        if region.kind == MemoryRegionKind::Usable {
            usable += region.end - region.start;
        }
    }
    log::info!(
        "memory map: {} regions, {} MiB usable; firmware: {}",
        boot_info.memory_regions.len(),
        usable >> 20,
        firmware().map_or("unknown", Firmware::name)
    );
    let frames = memory::frame::stats();
    log::info!(
        "frames: {} managed, {} free; heap: {} KiB mapped",
        frames.managed,
        frames.free,
        memory::heap::mapped_bytes() / 1024
    );
    match boot_info.framebuffer.as_ref() {
        Some(fb) => {
            let info = fb.info();
            log::info!(
                "framebuffer: {}x{} {:?}, {} bytes per pixel, stride {}",
                info.width,
                info.height,
                info.pixel_format,
                info.bytes_per_pixel,
                info.stride
            );
        }
        None => log::info!("framebuffer: none"),
    }
    match boot_info.ramdisk_addr.into_option() {
        Some(addr) => log::info!("ramdisk: {} bytes at {addr:#x}", boot_info.ramdisk_len),
        None => log::info!("ramdisk: none"),
    }
}

static PANICKING: AtomicBool = AtomicBool::new(false);

/// Whether some CPU has panicked (the others then stop on the NMI it sends).
pub fn panicking() -> bool {
    PANICKING.load(Ordering::Acquire)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    x86_64::instructions::interrupts::disable();
    if PANICKING.swap(true, Ordering::AcqRel) {
        // A second panic (on this or another CPU): the first one reports.
        arch::halt_forever();
    }
    arch::apic::lapic::nmi_others();
    console::force_unlock();
    kprintln!("KERNEL PANIC on CPU {}: {info}", percpu::current_index());
    if mode() == Mode::SelfTest {
        qemu::exit(qemu::ExitCode::Panic);
    }
    arch::halt_forever()
}
