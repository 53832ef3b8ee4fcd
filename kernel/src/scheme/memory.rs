//! `memory:` — memory to map with `fmap`.
//!
//! - `memory:` (or `memory:zero`): anonymous zeroed memory, private or
//!   shared, as `mmap` gives;
//! - `memory:physical` (root only): physical memory at the fmap offset,
//!   for drivers (MMIO registers, the framebuffer). RAM the kernel hands
//!   out is refused (`EPERM`): a driver maps devices, not other processes'
//!   pages. Mapped uncached, always shared.

use alloc::string::String;
use alloc::vec::Vec;

use abi::syscall::error::{EACCES, EBADF, ENOENT, ENOMEM, EPERM, Error};
use abi::syscall::{MODE_CHR, MapFlags, Stat};
use x86_64::PhysAddr;
use x86_64::structures::paging::PhysFrame;

use super::{Caller, Frames, KernelScheme, Mapping, Opened};
use crate::memory::address_space::FrameKind;
use crate::memory::{PAGE_SIZE, frame};

const ZERO: usize = 1;
const PHYSICAL: usize = 2;

pub struct MemoryScheme;

impl KernelScheme for MemoryScheme {
    fn open(&self, path: &str, _flags: usize, caller: &Caller) -> Result<Opened, Error> {
        match path {
            "" | "zero" => Ok(Opened::Handle(ZERO)),
            "physical" if caller.uid == 0 => Ok(Opened::Handle(PHYSICAL)),
            "physical" => Err(Error::new(EACCES)),
            _ => Err(Error::new(ENOENT)),
        }
    }

    fn fmap(&self, handle: usize, offset: usize, len: usize, _flags: MapFlags) -> Result<Mapping, Error> {
        match handle {
            ZERO => Ok(Mapping::Anonymous),
            PHYSICAL => {
                let mut frames = Vec::new();
                frames.try_reserve_exact(len / PAGE_SIZE as usize).map_err(|_| Error::new(ENOMEM))?;
                for page in (0..len).step_by(PAGE_SIZE as usize) {
                    let addr = offset.checked_add(page).ok_or(Error::new(EPERM))? as u64;
                    if addr >= 1 << 52 || frame::is_ram(addr) {
                        crate::caller_log!(Warn, "memory:physical: refusing {addr:#x} (RAM or out of range)");
                        return Err(Error::new(EPERM));
                    }
                    frames.push((PhysFrame::containing_address(PhysAddr::new(addr)), FrameKind::Device));
                }
                Ok(Mapping::Frames(Frames::new(frames)?))
            }
            _ => Err(Error::new(EBADF)),
        }
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        if handle != ZERO && handle != PHYSICAL {
            return Err(Error::new(EBADF));
        }
        stat.st_mode = MODE_CHR | if handle == ZERO { 0o666 } else { 0o600 };
        Ok(())
    }

    fn fpath(&self, handle: usize) -> Result<String, Error> {
        match handle {
            ZERO => Ok(String::from("zero")),
            PHYSICAL => Ok(String::from("physical")),
            _ => Err(Error::new(EBADF)),
        }
    }
}
