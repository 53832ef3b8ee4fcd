//! Anonymous memory: map, unmap, change protection. Pages are filled on
//! first touch; nothing may be writable and executable at once.

use abi::syscall::MapFlags;
use abi::syscall::error::{EINVAL, ENOMEM, Error};

use crate::context::with_current_space;
use crate::memory::address_space::{Placement, Prot};

/// The largest single mapping.
const MAX_MAPPING: usize = 1 << 40;

fn prot(flags: MapFlags) -> Result<Prot, Error> {
    let prot = Prot {
        read: flags.contains(MapFlags::PROT_READ),
        write: flags.contains(MapFlags::PROT_WRITE),
        exec: flags.contains(MapFlags::PROT_EXEC),
    };
    if prot.write && prot.exec {
        return Err(Error::new(EINVAL));
    }
    Ok(prot)
}

pub fn mmap(hint: usize, len: usize, flags: usize) -> Result<usize, Error> {
    let flags = MapFlags::from_bits(flags).ok_or(Error::new(EINVAL))?;
    if len == 0 || len > MAX_MAPPING {
        return Err(Error::new(EINVAL));
    }
    let placement = if flags.contains(MapFlags::MAP_FIXED_NOREPLACE) {
        Placement::FixedNoReplace
    } else if flags.contains(MapFlags::MAP_FIXED) {
        Placement::Fixed
    } else {
        Placement::Hint
    };
    let prot = prot(flags)?;
    let shared = flags.contains(MapFlags::MAP_SHARED);
    with_current_space(|space| space.map(hint as u64, len as u64, prot, shared, placement))
        .ok_or(Error::new(ENOMEM))?
        .map(|addr| addr as usize)
}

pub fn munmap(addr: usize, len: usize) -> Result<usize, Error> {
    with_current_space(|space| space.unmap(addr as u64, len as u64)).ok_or(Error::new(ENOMEM))??;
    Ok(0)
}

pub fn mprotect(addr: usize, len: usize, flags: usize) -> Result<usize, Error> {
    let flags = MapFlags::from_bits(flags).ok_or(Error::new(EINVAL))?;
    let prot = prot(flags)?;
    with_current_space(|space| space.protect(addr as u64, len as u64, prot)).ok_or(Error::new(ENOMEM))??;
    Ok(0)
}
