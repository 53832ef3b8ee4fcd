//! The framebuffer as the console driver gets it: `sys:framebuffer`
//! describes it and `memory:physical` maps all of it as device memory (not
//! refused as RAM), on BIOS and UEFI alike. Test machines always have a
//! display device (QEMU's standard VGA), so the file must be there.

use alloc::format;
use core::sync::atomic::Ordering;

use framebuffer::Layout;
use rt::abi::syscall as sc;
use rt::fs::File;

use crate::support::{Outcome, ok};

pub fn framebuffer_maps_as_device_memory() -> Outcome {
    let text = ok("read sys:framebuffer", rt::fs::read_to_string("sys:framebuffer"))?;
    let layout = Layout::parse(&text).map_err(|err| format!("sys:framebuffer is unusable ({err:?}):\n{text}"))?;
    let memory = ok("open memory:physical", File::open_with("memory:physical", sc::O_RDWR))?;
    let page = layout.address & !0xfff;
    let start = (layout.address - page) as usize;
    let mapping = ok(
        &format!("fmap of the framebuffer at {:#x}, {} bytes", layout.address, layout.size),
        rt::mem::map_file_shared(memory.fd(), page as usize, start + layout.size),
    )?;
    // Its last pixel's first byte keeps what is written there (video RAM,
    // not a hole), and is put back.
    let bytes = mapping.atomic_u8s();
    let last = start + ((layout.height - 1) * layout.stride + layout.width - 1) * layout.bytes_per_pixel;
    let old = bytes[last].load(Ordering::Relaxed);
    for value in [0x5a, 0xa5] {
        bytes[last].store(value, Ordering::Relaxed);
        let seen = bytes[last].load(Ordering::Relaxed);
        if seen != value {
            return Err(format!("wrote {value:#x} at byte {last} of the framebuffer, read back {seen:#x}"));
        }
    }
    bytes[last].store(old, Ordering::Relaxed);
    Ok(format!(
        "{}x{} at {:#x}, {} bytes per pixel, {}; mapped whole",
        layout.width,
        layout.height,
        layout.address,
        layout.bytes_per_pixel,
        text.lines().find(|l| l.starts_with("format:")).unwrap_or("format: ?")
    ))
}
