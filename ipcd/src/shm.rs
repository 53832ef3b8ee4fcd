//! `shm:` — named shared memory.
//!
//! - `open("shm:NAME", O_CREAT)` creates an empty object (`O_EXCL`:
//!   `EEXIST` if the name exists); without `O_CREAT`, `ENOENT` if it does
//!   not. `O_TRUNC` empties it (same rules as `ftruncate(0)`).
//! - `ftruncate(fd, len)` sizes it (new bytes are zero), up to
//!   [`MAX_SIZE`] (`EFBIG`) and [`TOTAL_MAX`] for all objects together
//!   (`ENOSPC`). An unprivileged user's objects (charged to the user who
//!   created them) are held to [`USER_MAX`] bytes and [`USER_OBJECTS`]
//!   objects together (`ENOSPC`), so no user can take the machine's memory
//!   through this daemon.
//! - `fmap(fd, offset, len)` maps its pages: every process mapping it
//!   (shared) sees the same memory, which is this daemon's own pages handed
//!   to the kernel. `offset` must be page-aligned and the range must lie
//!   within the size rounded up to a page (`EINVAL`; an empty object cannot
//!   be mapped).
//! - Once an object has been mapped its size is fixed: `ftruncate` to
//!   another size is `EBUSY`, because the mappings already made hold the
//!   old pages and could not follow a move to a larger block. Size first,
//!   then map.
//! - `read`/`write`/`seek` work as on a file (a write past the end grows
//!   the object, under the same rules as `ftruncate`), so `cat shm:NAME`
//!   shows it.
//! - Lifetime is POSIX's `shm_open`: a named object stays until `unlink`;
//!   after that, the name is free at once and the memory lives until its
//!   last handle closes, and its pages until the last mapping of them goes
//!   (the kernel counts references to each page, so unmapping here does
//!   not take them from the callers).
//!
//! `fstat` says `MODE_FILE` and the size; `fpath` the name.
//!
//! May touch: only this scheme's tables and its own mappings.

use core::sync::atomic::Ordering;

use rt::mem::{PAGE_SIZE, SharedMapping};
use rt::prelude::*;
use scheme::sc::{
    EBADF, EBUSY, EEXIST, EFBIG, EINVAL, ENAMETOOLONG, ENOENT, ENOSPC, MODE_FILE, MapFlags, O_CREAT, O_EXCL, O_TRUNC,
};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat};

/// The largest object.
pub const MAX_SIZE: usize = 64 << 20;
/// The most bytes all objects may hold together: a quarter of the
/// default machine's RAM, so shared memory alone cannot run it out (the
/// out-of-memory killer would then have to take `ipcd`, and every
/// object with it).
pub const TOTAL_MAX: usize = 64 << 20;
/// The longest name.
const NAME_MAX: usize = 255;
/// Bytes of all objects one unprivileged user created.
pub const USER_MAX: usize = 32 << 20;
/// Objects one unprivileged user may have created and not yet released.
pub const USER_OBJECTS: usize = 64;

struct Object {
    name: String,
    /// Still reachable by its name.
    linked: bool,
    size: usize,
    /// The pages, made when first needed (all of `size`, rounded up).
    memory: Option<SharedMapping>,
    /// Mapped at least once: the size can no longer change.
    mapped: bool,
    /// Handles open on it.
    opens: usize,
    /// Who created it (and is charged for it).
    owner: u32,
}

struct Handle {
    object: u64,
    offset: usize,
}

/// The `shm:` scheme's state.
pub struct Shm {
    objects: BTreeMap<u64, Object>,
    names: BTreeMap<String, u64>,
    handles: Handles<Handle>,
    next_object: u64,
    /// Sum of all objects' sizes.
    total: usize,
    /// Unprivileged creators' (bytes, objects).
    usage: BTreeMap<u32, (usize, usize)>,
}

fn err(errno: i32) -> Error {
    Error::new(errno)
}

impl Shm {
    pub fn new() -> Shm {
        Shm {
            objects: BTreeMap::new(),
            names: BTreeMap::new(),
            handles: Handles::new(),
            next_object: 1,
            total: 0,
            usage: BTreeMap::new(),
        }
    }

    fn handle(&mut self, handle: usize) -> Result<&mut Handle> {
        self.handles.get_mut(handle)
    }

    fn object_of(&mut self, handle: usize) -> Result<(u64, &mut Object)> {
        let id = self.handle(handle)?.object;
        self.objects.get_mut(&id).map(|object| (id, object)).ok_or(err(EBADF))
    }

    /// Give object `id` the size `len`, keeping what fits.
    fn resize(&mut self, id: u64, len: usize) -> Result<()> {
        let total = self.total;
        let object = self.objects.get_mut(&id).ok_or(err(EBADF))?;
        if len == object.size {
            return Ok(());
        }
        if object.mapped {
            return Err(err(EBUSY));
        }
        if len > MAX_SIZE {
            return Err(err(EFBIG));
        }
        let new_total = total - object.size + len;
        if new_total > TOTAL_MAX {
            return Err(err(ENOSPC));
        }
        let (owner, old_size) = (object.owner, object.size);
        if owner != 0 {
            let used = self.usage.get(&owner).map_or(0, |u| u.0);
            if used - old_size + len > USER_MAX {
                return Err(err(ENOSPC));
            }
        }
        let object = self.objects.get_mut(&id).ok_or(err(EBADF))?;
        if len == 0 {
            object.memory = None;
        } else if let Some(old) = &object.memory {
            // The new block first: if it cannot be had, nothing changed.
            let new = rt::mem::map_shared(len)?;
            let keep = len.min(object.size);
            for (to, from) in new.atomic_u8s()[..keep].iter().zip(&old.atomic_u8s()[..keep]) {
                to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            object.memory = Some(new);
        }
        object.size = len;
        self.total = new_total;
        if let Some(usage) = self.usage.get_mut(&owner) {
            usage.0 = usage.0 - old_size + len;
        }
        Ok(())
    }

    /// Drop object `id` if nothing can reach it any more.
    fn release(&mut self, id: u64) {
        if let Some(object) = self.objects.get(&id)
            && !object.linked
            && object.opens == 0
            && let Some(object) = self.objects.remove(&id)
        {
            self.total -= object.size;
            if let Some(usage) = self.usage.get_mut(&object.owner) {
                usage.0 -= object.size;
                usage.1 -= 1;
                if usage.1 == 0 {
                    self.usage.remove(&object.owner);
                }
            }
        }
    }
}

/// The object's pages, made (zeroed) if they were not yet.
fn memory(object: &mut Object) -> Result<&SharedMapping> {
    if object.memory.is_none() {
        object.memory = Some(rt::mem::map_shared(object.size)?);
    }
    object.memory.as_ref().ok_or(err(EINVAL))
}

impl Scheme for Shm {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        let name = path.trim_start_matches('/');
        if name.len() > NAME_MAX {
            return Err(err(ENAMETOOLONG));
        }
        let id = match self.names.get(name) {
            Some(_) if flags & O_CREAT != 0 && flags & O_EXCL != 0 => return Err(err(EEXIST)),
            Some(&id) => id,
            None if flags & O_CREAT == 0 => return Err(err(ENOENT)),
            None if name.is_empty() => return Err(err(EINVAL)),
            None => {
                let owner = caller.uid;
                if owner != 0 {
                    let usage = self.usage.entry(owner).or_insert((0, 0));
                    if usage.1 >= USER_OBJECTS {
                        return Err(err(ENOSPC));
                    }
                    usage.1 += 1;
                }
                let id = self.next_object;
                self.next_object += 1;
                let object = Object {
                    name: String::from(name),
                    linked: true,
                    size: 0,
                    memory: None,
                    mapped: false,
                    opens: 0,
                    owner,
                };
                self.objects.insert(id, object);
                self.names.insert(String::from(name), id);
                id
            }
        };
        if flags & O_TRUNC != 0 {
            self.resize(id, 0)?;
        }
        if let Some(object) = self.objects.get_mut(&id) {
            object.opens += 1;
        }
        let handle = self.handles.insert(Handle { object: id, offset: 0 });
        Ok(Opened::Handle(handle))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let offset = self.handle(handle)?.offset;
        let (_, object) = self.object_of(handle)?;
        let n = buf.len().min(object.size.saturating_sub(offset));
        if n > 0 {
            match &object.memory {
                Some(memory) => {
                    for (to, from) in buf[..n].iter_mut().zip(&memory.atomic_u8s()[offset..offset + n]) {
                        *to = from.load(Ordering::Relaxed);
                    }
                }
                None => buf[..n].fill(0),
            }
        }
        self.handle(handle)?.offset = offset + n;
        Ok(n)
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let offset = self.handle(handle)?.offset;
        let end = offset.checked_add(buf.len()).ok_or(err(EFBIG))?;
        let (id, object) = self.object_of(handle)?;
        if end > object.size {
            self.resize(id, end)?;
        }
        if !buf.is_empty() {
            let object = self.objects.get_mut(&id).ok_or(err(EBADF))?;
            let memory = memory(object)?;
            for (to, from) in memory.atomic_u8s()[offset..end].iter().zip(buf) {
                to.store(*from, Ordering::Relaxed);
            }
        }
        self.handle(handle)?.offset = end;
        Ok(buf.len())
    }

    fn seek(&mut self, handle: usize, offset: isize, whence: usize) -> Result<usize> {
        let size = self.object_of(handle)?.1.size;
        let h = self.handle(handle)?;
        h.offset = rt::abi::seek_target(h.offset, size, offset, whence).ok_or(err(EINVAL))?;
        Ok(h.offset)
    }

    fn ftruncate(&mut self, handle: usize, len: usize) -> Result<()> {
        let (id, _) = self.object_of(handle)?;
        self.resize(id, len)
    }

    fn fmap(&mut self, handle: usize, offset: usize, len: usize, _flags: MapFlags) -> Result<usize> {
        let (_, object) = self.object_of(handle)?;
        let mapped_size = object.size.next_multiple_of(PAGE_SIZE);
        let end = offset.checked_add(len).ok_or(err(EINVAL))?;
        if len == 0 || !offset.is_multiple_of(PAGE_SIZE) || end > mapped_size {
            return Err(err(EINVAL));
        }
        let addr = memory(object)?.addr();
        object.mapped = true;
        Ok(addr + offset)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        let (id, object) = self.object_of(handle)?;
        stat.st_mode = MODE_FILE | 0o600;
        stat.st_size = object.size as u64;
        stat.st_ino = id;
        stat.st_nlink = u32::from(object.linked);
        stat.st_blksize = PAGE_SIZE as u32;
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        Ok(self.object_of(handle)?.1.name.clone())
    }

    fn fsync(&mut self, handle: usize) -> Result<()> {
        self.handle(handle).map(drop)
    }

    fn unlink(&mut self, path: &str, _caller: &Caller) -> Result<()> {
        let id = self.names.remove(path.trim_start_matches('/')).ok_or(err(ENOENT))?;
        if let Some(object) = self.objects.get_mut(&id) {
            object.linked = false;
        }
        self.release(id);
        Ok(())
    }

    fn close(&mut self, handle: usize) {
        if let Some(h) = self.handles.remove(handle) {
            if let Some(object) = self.objects.get_mut(&h.object) {
                object.opens -= 1;
            }
            self.release(h.object);
        }
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        self.handle(handle)?;
        Ok(interest)
    }
}
