//! The bootloader's framebuffer, recorded at boot for the userspace
//! framebuffer console (`drivers/fbcon`), which finds it in `sys:framebuffer`
//! and maps it through `memory:physical`.
//!
//! The kernel itself never draws on it: its console is COM1 only
//! (`console`), and the disk images tell the bootloader not to log to the
//! framebuffer (`mk/image`, `frame_buffer_logging = false`). Once userspace
//! runs, the framebuffer belongs to whichever root daemon maps it.
//!
//! May touch: the boot information (read once, at boot) and the kernel page
//! table (one translation of the bootloader's mapping to find the physical
//! address).

use alloc::string::String;
use core::fmt::Write;

use bootloader_api::BootInfo;
use bootloader_api::info::PixelFormat;
use spin::Once;
use x86_64::VirtAddr;

/// What a driver needs to draw: where the pixels are and how they are laid out.
#[derive(Clone, Copy, Debug)]
pub struct Framebuffer {
    /// Physical address of the first pixel.
    pub phys: u64,
    /// Bytes from the first pixel to the end of the last line.
    pub size: usize,
    pub width: usize,
    pub height: usize,
    /// Pixels from the start of one line to the start of the next.
    pub stride: usize,
    pub bytes_per_pixel: usize,
    pub format: PixelFormat,
}

static FRAMEBUFFER: Once<Option<Framebuffer>> = Once::new();

/// Record the bootloader's framebuffer (if it set one up). Called once at
/// boot, after paging is up and before userspace starts.
pub fn record(boot_info: &BootInfo) {
    FRAMEBUFFER.call_once(|| {
        let fb = boot_info.framebuffer.as_ref()?;
        let info = fb.info();
        let virt = VirtAddr::new(fb.buffer().as_ptr() as u64);
        let Some((phys, _)) = crate::memory::paging::translate(virt) else {
            log::warn!("framebuffer: the bootloader's mapping at {virt:?} does not translate; not offered");
            return None;
        };
        let phys = phys.as_u64();
        let end = phys + info.byte_len as u64;
        if (phys..end).step_by(crate::memory::PAGE_SIZE as usize).any(crate::memory::frame::is_ram) {
            log::warn!("framebuffer: {phys:#x}..{end:#x} overlaps usable RAM; memory:physical will refuse it");
        } else {
            log::info!("framebuffer: {phys:#x}..{end:#x}, offered in sys:framebuffer");
        }
        Some(Framebuffer {
            phys,
            size: info.byte_len,
            width: info.width,
            height: info.height,
            stride: info.stride,
            bytes_per_pixel: info.bytes_per_pixel,
            format: info.pixel_format,
        })
    });
}

/// The framebuffer, if the bootloader set one up.
pub fn get() -> Option<Framebuffer> {
    FRAMEBUFFER.get().copied().flatten()
}

/// The pixel format as `sys:framebuffer` spells it: `rgb` and `bgr` (bytes
/// in that order), `gray` (one byte), or `bits R G B` (bit offsets of each
/// colour in a little-endian pixel).
fn format_name(format: PixelFormat) -> String {
    match format {
        PixelFormat::Rgb => String::from("rgb"),
        PixelFormat::Bgr => String::from("bgr"),
        PixelFormat::U8 => String::from("gray"),
        PixelFormat::Unknown { red_position, green_position, blue_position } => {
            alloc::format!("bits {red_position} {green_position} {blue_position}")
        }
        _ => String::from("unknown"),
    }
}

impl Framebuffer {
    /// The `key: value` lines of `sys:framebuffer`.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "address: {:#x}", self.phys);
        let _ = writeln!(text, "size: {}", self.size);
        let _ = writeln!(text, "width: {}", self.width);
        let _ = writeln!(text, "height: {}", self.height);
        let _ = writeln!(text, "stride: {}", self.stride);
        let _ = writeln!(text, "bytes_per_pixel: {}", self.bytes_per_pixel);
        let _ = writeln!(text, "format: {}", format_name(self.format));
        text
    }
}
