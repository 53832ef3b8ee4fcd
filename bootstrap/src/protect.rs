//! Bootstrap protects its own segments: each loadable segment of its ELF
//! file (found in the image) gets exactly the permissions its header
//! declares — text R-X, rodata R, data RW — whatever the loader did.

use rt::abi::syscall::{MapFlags, PROT_EXEC, PROT_READ, PROT_WRITE};
use rt::prelude::*;

/// Where bootstrap lives in the image.
const SELF: &str = "sbin/bootstrap";

/// Protect each loadable segment; returns how many.
pub fn own_segments(image: &[u8]) -> Result<usize, String> {
    let parsed = initfs::Image::parse(image).map_err(|e| format!("initfs image: {e}"))?;
    let inode = parsed.lookup(SELF).map_err(|e| format!("{SELF}: {e}"))?;
    let file = parsed.file_data(inode).map_err(|e| format!("{SELF}: {e}"))?;
    let limits = elf_loader::Limits { user_start: 0x1_0000, user_end: 1 << 46, max_segments: 16, max_memory: 1 << 30 };
    let plan = elf_loader::plan(file, &limits).map_err(|e| format!("{SELF}: {e}"))?;
    for segment in &plan.segments {
        let pages = segment.page_range();
        let mut flags = MapFlags::empty();
        if segment.readable {
            flags |= PROT_READ;
        }
        if segment.writable {
            flags |= PROT_WRITE;
        }
        if segment.executable {
            flags |= PROT_EXEC;
        }
        protect(pages.start as usize, (pages.end - pages.start) as usize, flags)?;
    }
    Ok(plan.segments.len())
}

#[allow(unsafe_code)]
fn protect(addr: usize, len: usize, flags: MapFlags) -> Result<(), String> {
    // SAFETY: the range is one of this program's own loaded segments and
    // `flags` are the permissions its ELF header declares, which the code
    // running now already relies on (the kernel loaded it that way): text
    // stays executable, data stays writable, nothing loses access it uses.
    unsafe { rt::sys::mprotect(addr, len, flags) }.map_err(|e| format!("mprotect {addr:#x}+{len:#x}: {e}"))
}
