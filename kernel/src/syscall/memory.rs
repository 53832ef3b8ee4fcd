//! Memory: anonymous maps, maps of files (`fmap`: what the file's scheme
//! provides), unmap, change protection. Anonymous pages are filled on
//! first touch; nothing may be writable and executable at once.

use abi::syscall::error::{EINVAL, EIO, ENOMEM, Error};
use abi::syscall::{Map, MapFlags};

use crate::context::with_current_space;
use crate::memory::PAGE_SIZE;
use crate::memory::address_space::{Placement, Prot};
use crate::memory::usercopy::{In, UserPtr};
use crate::scheme::Mapping;

/// The largest single mapping.
const MAX_MAPPING: usize = 1 << 40;

fn prot(flags: MapFlags) -> Result<Prot, Error> {
    let mut prot = Prot::empty();
    prot.set(Prot::READ, flags.contains(MapFlags::PROT_READ));
    prot.set(Prot::WRITE, flags.contains(MapFlags::PROT_WRITE));
    prot.set(Prot::EXEC, flags.contains(MapFlags::PROT_EXEC));
    if prot.contains(Prot::WRITE | Prot::EXEC) {
        return Err(Error::new(EINVAL));
    }
    Ok(prot)
}

fn placement(flags: MapFlags) -> Placement {
    if flags.contains(MapFlags::MAP_FIXED_NOREPLACE) {
        Placement::FixedNoReplace
    } else if flags.contains(MapFlags::MAP_FIXED) {
        Placement::Fixed
    } else {
        Placement::Hint
    }
}

pub fn mmap(hint: usize, len: usize, flags: usize) -> Result<usize, Error> {
    let flags = MapFlags::from_bits(flags).ok_or(Error::new(EINVAL))?;
    if len == 0 || len > MAX_MAPPING {
        return Err(Error::new(EINVAL));
    }
    let placement = placement(flags);
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

/// `fmap(fd, &Map, size_of::<Map>())`: map `map.size` bytes of the file at
/// `map.offset` (page-aligned), near `map.address` (or exactly there with
/// `MAP_FIXED`); returns the address.
pub fn fmap(fd: crate::context::file::Fd, map: usize, len: usize) -> Result<usize, Error> {
    if len < size_of::<Map>() {
        return Err(Error::new(EINVAL));
    }
    let map = UserPtr::<Map, In>::new(map)?.read()?;
    let flags = MapFlags::from_bits(map.flags.bits()).ok_or(Error::new(EINVAL))?;
    if map.size == 0 || map.size > MAX_MAPPING || !map.offset.is_multiple_of(PAGE_SIZE as usize) {
        return Err(Error::new(EINVAL));
    }
    let size = map.size.next_multiple_of(PAGE_SIZE as usize);
    let prot = prot(flags)?;
    let shared = flags.contains(MapFlags::MAP_SHARED);
    let file = crate::context::file::current(fd)?;
    let mapping = file.scheme.scheme().fmap(file.handle, map.offset, size, flags)?;
    let hint = map.address as u64;
    let addr = match mapping {
        Mapping::Anonymous => with_current_space(|space| space.map(hint, size as u64, prot, shared, placement(flags))),
        Mapping::Frames(frames) => {
            if frames.as_slice().len() != size / PAGE_SIZE as usize {
                crate::caller_log!(Warn, "fmap on {}: the scheme gave the wrong number of pages", file.scheme.name());
                return Err(Error::new(EIO));
            }
            with_current_space(|space| space.map_frames(frames.as_slice(), prot, shared, hint, placement(flags)))
        }
    };
    addr.ok_or(Error::new(ENOMEM))?.map(|a| a as usize)
}
