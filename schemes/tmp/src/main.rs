//! `tmpd` serves `tmp:`, an in-memory file system: directories, files
//! created with `O_CREAT` (`O_EXCL`, `O_TRUNC`, `O_APPEND` as POSIX says),
//! directories made with `O_CREAT | O_DIRECTORY`, read, write, seek,
//! truncate, rename (`frename`), `unlink`, `rmdir`, `fstat`, `fstatvfs`, `fpath`. A
//! directory reads as its entry names, one per line (so a new name holds
//! no newline: `scheme::check_new_name`). An unlinked file that
//! is still open keeps working until its last handle closes. Everything
//! lives in this daemon's memory, capped at [`CAPACITY`] bytes of file
//! data (`ENOSPC` past it). Serves from the null namespace.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use rt::prelude::*;
use scheme::sc::{
    EBADF, EBUSY, EEXIST, EINVAL, EISDIR, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, MODE_DIR, MODE_FILE, O_ACCMODE, O_APPEND,
    O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_TRUNC, O_WRONLY,
};
use scheme::{
    Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Server, Stat, StatVfs, check_new_name, components,
};

rt::main!(main);

/// The most file data `tmp:` holds.
const CAPACITY: usize = 64 << 20;
/// The root directory's inode.
const ROOT: u64 = 1;

enum Body {
    File(Vec<u8>),
    Dir(BTreeMap<String, u64>),
}

struct Node {
    body: Body,
    /// Linked in a directory (false once unlinked or removed).
    linked: bool,
    /// Handles open on it.
    opens: usize,
    /// Last change of its contents (for a directory: of its entries), as
    /// `CLOCK_REALTIME` seconds and nanoseconds.
    modified: (u64, u32),
}

/// The wall-clock time now, for [`Node::modified`].
fn now() -> (u64, u32) {
    let t = rt::time::clock(scheme::sc::CLOCK_REALTIME).unwrap_or_default();
    (t.as_secs(), t.subsec_nanos())
}

impl Node {
    fn new(body: Body) -> Node {
        Node { body, linked: true, opens: 0, modified: now() }
    }
}

struct Handle {
    ino: u64,
    offset: usize,
    flags: usize,
}

struct Tmp {
    nodes: BTreeMap<u64, Node>,
    handles: Handles<Handle>,
    next_ino: u64,
    used: usize,
}

fn err(errno: i32) -> Error {
    Error::new(errno)
}

/// Make `data` at least `len` bytes (new bytes zero); `ENOSPC` if the
/// memory cannot be had, instead of the daemon aborting.
fn grow(data: &mut Vec<u8>, len: usize) -> Result<()> {
    if len > data.len() {
        data.try_reserve(len - data.len()).map_err(|_| err(ENOSPC))?;
        data.resize(len, 0);
    }
    Ok(())
}

impl Tmp {
    fn new() -> Tmp {
        let mut nodes = BTreeMap::new();
        nodes.insert(ROOT, Node::new(Body::Dir(BTreeMap::new())));
        Tmp { nodes, handles: Handles::new(), next_ino: ROOT + 1, used: 0 }
    }

    fn dir(&self, ino: u64) -> Result<&BTreeMap<String, u64>> {
        match self.nodes.get(&ino).map(|n| &n.body) {
            Some(Body::Dir(entries)) => Ok(entries),
            Some(Body::File(_)) => Err(err(ENOTDIR)),
            None => Err(err(ENOENT)),
        }
    }

    /// The entries of directory `ino`, to change them (which counts as a
    /// modification of the directory).
    fn dir_mut(&mut self, ino: u64) -> Result<&mut BTreeMap<String, u64>> {
        match self.nodes.get_mut(&ino) {
            Some(Node { body: Body::Dir(entries), modified, .. }) => {
                *modified = now();
                Ok(entries)
            }
            Some(Node { body: Body::File(_), .. }) => Err(err(ENOTDIR)),
            None => Err(err(ENOENT)),
        }
    }

    /// The inode at `parts`.
    fn lookup(&self, parts: &[&str]) -> Result<u64> {
        let mut ino = ROOT;
        for part in parts {
            ino = *self.dir(ino)?.get(*part).ok_or(err(ENOENT))?;
        }
        Ok(ino)
    }

    /// The parent directory of `path` and the last name in it.
    fn parent<'p>(&self, path: &'p str) -> Result<(u64, &'p str)> {
        let parts = components(path)?;
        let (name, dirs) = parts.split_last().ok_or(err(EBUSY))?;
        Ok((self.lookup(dirs)?, name))
    }

    fn handle(&mut self, handle: usize) -> Result<&mut Handle> {
        self.handles.get_mut(handle)
    }

    /// The path of `ino` from the root (for fpath), if it is linked.
    fn path_of(&self, target: u64) -> Option<String> {
        fn walk(tmp: &Tmp, dir: u64, target: u64, prefix: &str) -> Option<String> {
            for (name, &ino) in tmp.dir(dir).ok()? {
                let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
                if ino == target {
                    return Some(path);
                }
                if let Some(found) = walk(tmp, ino, target, &path) {
                    return Some(found);
                }
            }
            None
        }
        if target == ROOT { Some(String::new()) } else { walk(self, ROOT, target, "") }
    }

    /// Drop `ino` if nothing refers to it any more.
    fn release(&mut self, ino: u64) {
        if let Some(node) = self.nodes.get(&ino)
            && !node.linked
            && node.opens == 0
            && let Some(Node { body, .. }) = self.nodes.remove(&ino)
            && let Body::File(data) = body
        {
            self.used -= data.len();
        }
    }

    fn listing(&self, ino: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for name in self.dir(ino)?.keys() {
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
        }
        Ok(out)
    }

    /// Whether `ancestor` is `ino` or one of its parents (for renames).
    fn contains(&self, ancestor: u64, ino: u64) -> bool {
        ancestor == ino
            || self.dir(ancestor).is_ok_and(|entries| entries.values().any(|&child| self.contains(child, ino)))
    }
}

impl Scheme for Tmp {
    fn open(&mut self, path: &str, flags: usize, _caller: &Caller) -> Result<Opened> {
        let parts = components(path)?;
        let ino = match self.lookup(&parts) {
            Ok(_) if flags & O_CREAT != 0 && flags & O_EXCL != 0 => return Err(err(EEXIST)),
            Ok(ino) => ino,
            Err(e) if e.errno == ENOENT && flags & O_CREAT != 0 => {
                let (dir, name) = self.parent(path)?;
                check_new_name(name)?;
                if name.len() > 255 {
                    return Err(err(scheme::sc::ENAMETOOLONG));
                }
                let body = if flags & O_DIRECTORY != 0 { Body::Dir(BTreeMap::new()) } else { Body::File(Vec::new()) };
                let ino = self.next_ino;
                self.dir_mut(dir)?.insert(String::from(name), ino);
                self.next_ino += 1;
                self.nodes.insert(ino, Node::new(body));
                ino
            }
            Err(e) => return Err(e),
        };
        let writing = matches!(flags & O_ACCMODE, O_WRONLY | scheme::sc::O_RDWR);
        let node = self.nodes.get_mut(&ino).ok_or(err(ENOENT))?;
        match &mut node.body {
            Body::Dir(_) if writing => return Err(err(EISDIR)),
            Body::File(_) if flags & O_DIRECTORY != 0 => return Err(err(ENOTDIR)),
            Body::File(data) if flags & O_TRUNC != 0 && writing => {
                self.used -= data.len();
                data.clear();
                node.modified = now();
            }
            _ => {}
        }
        node.opens += 1;
        let handle = self.handles.insert(Handle { ino, offset: 0, flags });
        Ok(Opened::Handle(handle))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let (ino, offset, flags) = {
            let h = self.handle(handle)?;
            (h.ino, h.offset, h.flags)
        };
        if flags & O_ACCMODE == O_WRONLY {
            return Err(err(EBADF));
        }
        let listing;
        let bytes: &[u8] = match &self.nodes.get(&ino).ok_or(err(EBADF))?.body {
            Body::File(data) => data,
            Body::Dir(_) => {
                listing = self.listing(ino)?;
                &listing
            }
        };
        let start = offset.min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        self.handle(handle)?.offset = start + n;
        Ok(n)
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let (ino, offset, flags) = {
            let h = self.handle(handle)?;
            (h.ino, h.offset, h.flags)
        };
        if flags & O_ACCMODE == O_RDONLY {
            return Err(err(EBADF));
        }
        let used = self.used;
        let node = self.nodes.get_mut(&ino).ok_or(err(EBADF))?;
        let Body::File(data) = &mut node.body else {
            return Err(err(EISDIR));
        };
        let start = if flags & O_APPEND != 0 { data.len() } else { offset };
        let end = start.checked_add(buf.len()).ok_or(err(EINVAL))?;
        let growth = end.saturating_sub(data.len());
        // (`used` never exceeds CAPACITY; `growth` is the caller's to choose.)
        if growth > CAPACITY - used {
            return Err(err(ENOSPC));
        }
        grow(data, end)?;
        data[start..end].copy_from_slice(buf);
        node.modified = now();
        self.used += growth;
        self.handle(handle)?.offset = end;
        Ok(buf.len())
    }

    fn seek(&mut self, handle: usize, offset: isize, whence: usize) -> Result<usize> {
        let ino = self.handle(handle)?.ino;
        let len = match &self.nodes.get(&ino).ok_or(err(EBADF))?.body {
            Body::File(data) => data.len(),
            Body::Dir(_) => self.listing(ino)?.len(),
        };
        let h = self.handle(handle)?;
        h.offset = rt::abi::seek_target(h.offset, len, offset, whence).ok_or(err(EINVAL))?;
        Ok(h.offset)
    }

    /// The capacity as the size, in 4 KiB units (`df tmp:`).
    fn fstatvfs(&mut self, handle: usize, statvfs: &mut StatVfs) -> Result<()> {
        self.handles.get(handle)?;
        const BLOCK: usize = 4096;
        statvfs.f_bsize = BLOCK as u32;
        statvfs.f_blocks = (CAPACITY / BLOCK) as u64;
        statvfs.f_bfree = ((CAPACITY - self.used) / BLOCK) as u64;
        statvfs.f_bavail = statvfs.f_bfree;
        Ok(())
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        let ino = self.handle(handle)?.ino;
        let node = self.nodes.get(&ino).ok_or(err(EBADF))?;
        let (mode, size) = match &node.body {
            Body::File(data) => (MODE_FILE | 0o644, data.len()),
            Body::Dir(entries) => (MODE_DIR | 0o755, entries.len()),
        };
        stat.st_mode = mode;
        stat.st_size = size as u64;
        stat.st_ino = ino;
        stat.st_nlink = u32::from(node.linked);
        stat.st_blksize = 4096;
        (stat.st_mtime, stat.st_mtime_nsec) = node.modified;
        (stat.st_ctime, stat.st_ctime_nsec) = node.modified;
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        let ino = self.handle(handle)?.ino;
        self.path_of(ino).ok_or(err(ENOENT))
    }

    fn ftruncate(&mut self, handle: usize, len: usize) -> Result<()> {
        let ino = self.handle(handle)?.ino;
        let used = self.used;
        let node = self.nodes.get_mut(&ino).ok_or(err(EBADF))?;
        let Body::File(data) = &mut node.body else {
            return Err(err(EISDIR));
        };
        let old = data.len();
        if len > old && len - old > CAPACITY - used {
            return Err(err(ENOSPC));
        }
        grow(data, len)?;
        data.truncate(len);
        // What a shrunk file no longer uses goes back (CAPACITY counts
        // lengths, so the memory held must follow them).
        if data.capacity() - len > 64 * 1024 {
            data.shrink_to(len);
        }
        node.modified = now();
        self.used = used - old + len;
        Ok(())
    }

    fn fsync(&mut self, handle: usize) -> Result<()> {
        self.handle(handle).map(drop)
    }

    fn frename(&mut self, handle: usize, path: &str, _caller: &Caller) -> Result<()> {
        let ino = self.handle(handle)?.ino;
        let old = self.path_of(ino).ok_or(err(ENOENT))?;
        if ino == ROOT {
            return Err(err(EBUSY));
        }
        let (from_dir, from_name) = self.parent(&old)?;
        let from_name = String::from(from_name);
        let (to_dir, to_name) = self.parent(path)?;
        check_new_name(to_name)?;
        if to_name.len() > 255 {
            return Err(err(scheme::sc::ENAMETOOLONG));
        }
        let to_name = String::from(to_name);
        if self.contains(ino, to_dir) {
            return Err(err(EINVAL));
        }
        if let Some(&existing) = self.dir(to_dir)?.get(&to_name) {
            if existing == ino {
                return Ok(());
            }
            match &self.nodes.get(&existing).ok_or(err(ENOENT))?.body {
                Body::Dir(entries) if !entries.is_empty() => return Err(err(ENOTEMPTY)),
                Body::Dir(_) if matches!(self.nodes[&ino].body, Body::File(_)) => return Err(err(EISDIR)),
                Body::File(_) if matches!(self.nodes[&ino].body, Body::Dir(_)) => return Err(err(ENOTDIR)),
                _ => {}
            }
            if let Some(node) = self.nodes.get_mut(&existing) {
                node.linked = false;
            }
            self.release(existing);
        }
        self.dir_mut(from_dir)?.remove(&from_name);
        self.dir_mut(to_dir)?.insert(to_name, ino);
        Ok(())
    }

    fn unlink(&mut self, path: &str, _caller: &Caller) -> Result<()> {
        let (dir, name) = self.parent(path)?;
        let ino = *self.dir(dir)?.get(name).ok_or(err(ENOENT))?;
        if matches!(self.nodes.get(&ino).map(|n| &n.body), Some(Body::Dir(_))) {
            return Err(err(EISDIR));
        }
        self.dir_mut(dir)?.remove(name);
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.linked = false;
        }
        self.release(ino);
        Ok(())
    }

    fn rmdir(&mut self, path: &str, _caller: &Caller) -> Result<()> {
        let (dir, name) = self.parent(path)?;
        let ino = *self.dir(dir)?.get(name).ok_or(err(ENOENT))?;
        if !self.dir(ino)?.is_empty() {
            return Err(err(ENOTEMPTY));
        }
        self.dir_mut(dir)?.remove(name);
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.linked = false;
        }
        self.release(ino);
        Ok(())
    }

    fn close(&mut self, handle: usize) {
        if let Some(h) = self.handles.remove(handle) {
            if let Some(node) = self.nodes.get_mut(&h.ino) {
                node.opens -= 1;
            }
            self.release(h.ino);
        }
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        self.handle(handle)?;
        Ok(interest)
    }
}

fn main() -> Result<()> {
    let mut server = Server::new("tmp", Tmp::new())?;
    server.confine()?;
    server.ready();
    server.run()
}
