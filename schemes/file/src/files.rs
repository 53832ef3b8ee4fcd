//! `file:`: RedoxFS, as a scheme (README "Files that stay").
//!
//! Paths are `/`-separated below the file system's root (`file:/home/a`
//! and `file:home/a` are the same; `.` and `..` are resolved, `..` above
//! the root is `EINVAL`). Directories read as their entry names, one per
//! line, so a new name holds no newline (`scheme::check_new_name`; a path
//! with a NUL is `EINVAL` whole). Every call is one RedoxFS transaction (an open's may carry the
//! writes kept back before it, below), committed when it returns; `fsync`
//! also makes the commit durable (the glue's flushes).
//!
//! Permissions are checked against the caller's uid and gid as Unix does
//! (RedoxFS's rule, in [`NodeMeta::permission`]; root passes): search (`x`) on every
//! directory on the way, read or write on the file for the open's access
//! mode, write on the directory to create, remove or rename in it. New
//! files and directories belong to the caller; their mode is the open's
//! low 9 bits, or 0644 / 0755 when those are 0.
//!
//! An unlinked file that is still open keeps working until its last
//! handle closes (`on_open_node` / `on_close_node`).
//!
//! RedoxFS stores a file's bytes in records of up to 128 KiB, and a write
//! or read of a few bytes works on a whole record (read, hashed,
//! decompressed, compressed, written). So small requests are batched:
//! consecutive writes through one handle wait in [`Behind`] (up to
//! [`BEHIND_MAX`] bytes, while the file system has room to spare) and go to
//! RedoxFS as one write before any other call is handled (an open takes
//! them into its own transaction, so a file created after another was
//! written costs one commit, not two; a close leaves them waiting unless
//! it may remove an unlinked file); a small read
//! fetches [`AHEAD`] bytes into the handle, and later reads take from
//! there while no commit happened in between. Every call but a write that
//! continues the waiting bytes sends them first, so no call sees the file
//! without them. If sending them fails, the error is given to that handle's
//! next write or `fsync`. A regular file opened for writing is opened
//! `Opened::Buffered`: the kernel also posts its small writes (queues them
//! and lets the writer go on; docs/architecture.md §3.13), which this
//! daemon takes in order like any call.
//!
//! A path's directories are walked through [`DirNames`], which knows the
//! directories walked before (where they are, and who may search them)
//! and is emptied before every call that removes or renames a name.
//!
//! May touch: the file system (through `redoxfs`), its handle table.

use alloc::string::String;
use alloc::vec::Vec;

use redox_syscall_06 as rs;
use redoxfs::{FileSystem, Node, Transaction, TreePtr};
use redoxfs_glue::{Group, SchemeDisk};
use rt::prelude::*;
use scheme::sc::{
    self, EINVAL, EISDIR, MODE_DIR, MODE_FILE, MODE_PERM, O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY,
    O_TRUNC, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET,
};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat, StatVfs, check_new_name, components};

use crate::dir_names::{DirNames, NodeMeta};

/// The most bytes of consecutive writes kept back.
pub const BEHIND_MAX: usize = 256 * 1024;
/// The bytes a small read fetches first. Each fetch that goes on where
/// the handle's last one ended fetches twice as much, up to [`AHEAD_MAX`],
/// while all handles' windows together stay within [`AHEAD_BUDGET`]: every
/// fetch is a RedoxFS transaction, whose fixed cost (it copies the block
/// allocator) a 128 KiB window paid every 32 reads of 4 KiB.
pub const AHEAD: usize = 128 * 1024;
pub const AHEAD_MAX: usize = 1024 * 1024;
pub const AHEAD_BUDGET: usize = 8 * 1024 * 1024;
/// Free space below which writes are not kept back (so that a write that
/// is answered at once cannot fail for want of space later).
const BEHIND_ROOM: u64 = 8 << 20;

const MODE_READ: u16 = 0o4;
const MODE_WRITE: u16 = 0o2;
const MODE_EXEC: u16 = 0o1;

struct Handle {
    node: TreePtr<Node>,
    /// Where it was opened, without the leading `/` (`fpath`, renames).
    path: String,
    offset: u64,
    flags: usize,
    /// For a directory: its listing, made at open.
    listing: Option<Vec<u8>>,
    /// Bytes read ahead: from `.0`, valid while the file system's
    /// generation is `.1`.
    ahead: Option<(u64, u64, Vec<u8>)>,
    /// Sending this handle's kept-back writes failed: for its next write
    /// or `fsync`.
    deferred: Option<Error>,
}

/// Writes kept back: `data` for `handle`, at `offset` in `node`, since
/// `since`.
struct Behind {
    /// `None` once that handle closed (the bytes still go to `node`).
    handle: Option<usize>,
    node: TreePtr<Node>,
    offset: u64,
    data: Vec<u8>,
    since: core::time::Duration,
}

pub struct Files {
    fs: FileSystem<SchemeDisk>,
    group: Group,
    handles: Handles<Handle>,
    behind: Option<Behind>,
    names: DirNames,
}

/// Size and free bytes of the file system.
pub fn space(fs: &FileSystem<SchemeDisk>) -> (u64, u64) {
    (fs.header.size(), fs.allocator().free() * redoxfs::BLOCK_SIZE)
}

fn err(errno: i32) -> Error {
    Error::new(errno)
}

/// RedoxFS's errors are redox_syscall 0.6's; the numbers are the same.
fn from_fs(e: rs::Error) -> Error {
    Error::new(e.errno)
}

fn now() -> (u64, u32) {
    let t = rt::time::clock(sc::CLOCK_REALTIME).unwrap_or_default();
    (t.as_secs(), t.subsec_nanos())
}

/// Follow `parts` from the root, checking search permission on each
/// directory passed through; the node reached. The directories found on
/// the way go into `names`, and those it has are not read at all.
fn walk(
    tx: &mut Transaction<SchemeDisk>,
    names: &mut DirNames,
    parts: &[&str],
    caller: &Caller,
) -> rs::Result<NodeMeta> {
    let mut node = match names.root() {
        Some(root) => root,
        None => {
            let root = NodeMeta::of(&tx.read_tree(TreePtr::root())?);
            names.set_root(root);
            root
        }
    };
    for part in parts {
        if !node.is_dir() {
            return Err(rs::Error::new(rs::ENOTDIR));
        }
        if !node.permission(caller.uid, caller.gid, MODE_EXEC) {
            return Err(rs::Error::new(rs::EACCES));
        }
        node = match names.get(node.ptr, part) {
            Some(known) => known,
            None => {
                let found = NodeMeta::of(&tx.find_node(node.ptr, part)?);
                if found.is_dir() {
                    names.insert(node.ptr, part, found);
                }
                found
            }
        };
    }
    Ok(node)
}

/// The directory holding the last of `parts`, and that last name.
fn parent<'a>(
    tx: &mut Transaction<SchemeDisk>,
    names: &mut DirNames,
    parts: &[&'a str],
    caller: &Caller,
) -> rs::Result<(NodeMeta, &'a str)> {
    let (name, dirs) = parts.split_last().ok_or(rs::Error::new(rs::EPERM))?;
    let dir = walk(tx, names, dirs, caller)?;
    if !dir.is_dir() {
        return Err(rs::Error::new(rs::ENOTDIR));
    }
    Ok((dir, name))
}

impl Files {
    /// Serves `fs`, making what its mount committed durable first.
    pub fn new(mut fs: FileSystem<SchemeDisk>) -> Result<Files> {
        let group = Group::new(&mut fs)?;
        Ok(Files { fs, group, handles: Handles::new(), behind: None, names: DirNames::default() })
    }

    /// Sends the writes kept back and makes every commit so far durable.
    pub fn make_durable(&mut self) -> Result<()> {
        self.send_behind();
        self.group.make_durable(&mut self.fs)
    }

    /// Whether commits (or writes kept back) have waited long enough to be
    /// made durable now, and if not, when they will have.
    pub fn durable_due(&self, now: core::time::Duration) -> (bool, Option<core::time::Duration>) {
        let (due, at) = self.group.due(now);
        match &self.behind {
            Some(behind) => {
                let behind_at = behind.since + redoxfs_glue::group::INTERVAL;
                (due || now >= behind_at, Some(at.map_or(behind_at, |at| at.min(behind_at))))
            }
            None => (due, at),
        }
    }

    /// Sends the writes kept back to RedoxFS; a failure is kept for the
    /// handle that wrote them.
    fn send_behind(&mut self) {
        let Some(behind) = self.behind.take() else { return };
        let (mtime, mtime_nsec) = now();
        let result = self.tx(|tx| tx.write_node(behind.node, behind.offset, &behind.data, mtime, mtime_nsec));
        let error = match result {
            Ok(n) if n == behind.data.len() => return,
            Ok(_) => err(sc::EIO),
            Err(e) => e,
        };
        log::error!("writing {} bytes kept back failed: {error}", behind.data.len());
        if let Some(handle) = behind.handle
            && let Ok(h) = self.handles.get_mut(handle)
        {
            h.deferred = Some(error);
        }
    }

    /// Whether the file system has room to keep writes back.
    fn room_to_spare(&self) -> bool {
        space(&self.fs).1 > BEHIND_ROOM
    }

    /// The disk file's fd, to watch ([`redoxfs_glue::SchemeDisk::fd`]).
    pub fn disk_fd(&self) -> usize {
        self.fs.disk.fd()
    }

    /// Asks the disk whether it still answers; see [`Self::disk_failed`].
    pub fn probe_disk(&mut self) {
        self.fs.disk.probe();
    }

    /// The disk's first error, once it has failed.
    pub fn disk_failed(&self) -> Option<Error> {
        self.fs.disk.failed()
    }

    /// Runs `f` as one transaction and commits it. When it fails for want
    /// of space while the group holds blocks back, the group is made
    /// durable (giving them back) and `f` runs once more.
    fn tx<T>(&mut self, mut f: impl FnMut(&mut Transaction<SchemeDisk>) -> rs::Result<T>) -> Result<T> {
        self.group.before_tx(&mut self.fs)?;
        let generation = self.fs.header.generation();
        let mut result = self.fs.tx(&mut f);
        if matches!(&result, Err(e) if e.errno == rs::ENOSPC) && self.group.held() > 0 {
            self.group.make_durable(&mut self.fs)?;
            result = self.fs.tx(&mut f);
        }
        if self.fs.header.generation() != generation {
            self.group.after_commit(&mut self.fs, rt::time::now())?;
        }
        result.map_err(from_fs)
    }

    /// `open`, with the directory names known (see [`DirNames`]).
    fn open_at(&mut self, path: &str, flags: usize, caller: &Caller, names: &mut DirNames) -> Result<Opened> {
        let parts = components(path)?;
        if parts.iter().any(|p| p.len() > redoxfs::DIR_ENTRY_MAX_LENGTH || p.contains('\0')) {
            return Err(err(EINVAL));
        }
        if flags & O_CREAT != 0
            && let Some(name) = parts.last()
        {
            check_new_name(name)?;
        }
        let caller = *caller;
        let (access_read, access_write) = match flags & O_ACCMODE {
            O_RDONLY => (true, false),
            O_WRONLY => (false, true),
            _ => (true, true),
        };
        let (mtime, mtime_nsec) = now();
        let mut open_in = |tx: &mut Transaction<SchemeDisk>| {
            // The directory is walked once, then the name looked up (and
            // made) in it.
            let node = match parts.is_empty() {
                true if flags & O_CREAT != 0 && flags & O_EXCL != 0 => return Err(rs::Error::new(rs::EEXIST)),
                true => tx.read_tree(TreePtr::root())?,
                false => {
                    let (dir, name) = parent(tx, names, &parts, &caller)?;
                    if !dir.permission(caller.uid, caller.gid, MODE_EXEC) {
                        return Err(rs::Error::new(rs::EACCES));
                    }
                    // An exclusive create where the caller may create goes
                    // straight to RedoxFS's create, whose own look-up of
                    // the name fails it with EEXIST: one look-up, not two.
                    let exclusive = flags & O_CREAT != 0 && flags & O_EXCL != 0;
                    let found = match exclusive && dir.permission(caller.uid, caller.gid, MODE_WRITE | MODE_EXEC) {
                        true => Err(rs::Error::new(rs::ENOENT)),
                        false => tx.find_node(dir.ptr, name),
                    };
                    match found {
                        Ok(_) if exclusive => {
                            return Err(rs::Error::new(rs::EEXIST));
                        }
                        Ok(node) => node,
                        Err(e) if e.errno == rs::ENOENT && flags & O_CREAT != 0 => {
                            if !dir.permission(caller.uid, caller.gid, MODE_WRITE | MODE_EXEC) {
                                return Err(rs::Error::new(rs::EACCES));
                            }
                            let directory = flags & O_DIRECTORY != 0;
                            let perm = match (flags as u16) & MODE_PERM {
                                0 if directory => 0o755,
                                0 => 0o644,
                                perm => perm,
                            };
                            let kind = if directory { MODE_DIR } else { MODE_FILE };
                            // The node is made with the directory's owner;
                            // it is written again only when the caller's
                            // differs (each write of a node rewrites, and
                            // each read re-hashes, its four tree blocks).
                            let mut node = tx.create_node(dir.ptr, name, kind | perm, mtime, mtime_nsec)?;
                            if node.data().uid() != caller.uid || node.data().gid() != caller.gid {
                                node.data_mut().set_uid(caller.uid);
                                node.data_mut().set_gid(caller.gid);
                                tx.sync_trees(core::slice::from_ref(&node))?;
                            }
                            node
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            let data = node.data();
            if flags & O_DIRECTORY != 0 && !data.is_dir() {
                return Err(rs::Error::new(rs::ENOTDIR));
            }
            if data.is_dir() && access_write {
                return Err(rs::Error::new(rs::EISDIR));
            }
            let mut wanted = 0;
            if access_read {
                wanted |= MODE_READ;
            }
            if access_write {
                wanted |= MODE_WRITE;
            }
            if !NodeMeta::of(&node).permission(caller.uid, caller.gid, wanted) {
                return Err(rs::Error::new(rs::EACCES));
            }
            if flags & O_TRUNC != 0 && access_write && data.is_file() {
                tx.truncate_node(node.ptr(), 0, mtime, mtime_nsec)?;
            }
            tx.on_open_node(node.ptr())?;
            Ok(node)
        };
        // The bytes kept back go first, in the same transaction: writing
        // files one after the other (create, write, close) then commits
        // once per file, not twice.
        let node = match self.behind.take() {
            None => self.tx(&mut open_in)?,
            Some(behind) => {
                let together = self.tx(|tx| {
                    let written = tx.write_node(behind.node, behind.offset, &behind.data, mtime, mtime_nsec)?;
                    if written != behind.data.len() {
                        return Err(rs::Error::new(rs::EIO));
                    }
                    open_in(tx)
                });
                match together {
                    Ok(node) => node,
                    // Nothing of it was committed: again apart, so that
                    // each failure goes where it belongs.
                    Err(_) => {
                        self.behind = Some(behind);
                        self.send_behind();
                        self.tx(&mut open_in)?
                    }
                }
            }
        };
        let listing = if node.data().is_dir() {
            let mut entries = Vec::new();
            self.tx(|tx| tx.child_nodes(node.ptr(), &mut entries))?;
            let mut text = String::new();
            for entry in &entries {
                if let Some(name) = entry.name() {
                    text.push_str(name);
                    text.push('\n');
                }
            }
            Some(text.into_bytes())
        } else {
            None
        };
        let is_file = listing.is_none();
        let handle =
            Handle { node: node.ptr(), path: parts.join("/"), offset: 0, flags, listing, ahead: None, deferred: None };
        let handle = self.handles.insert(handle);
        // A file's bytes change only through calls on `file:`: the kernel
        // may read ahead for a sequential reader. A write here never waits
        // (no `EAGAIN`) and writes all or fails, so the kernel may also post
        // the small writes of a file opened for writing, while there is
        // room to spare: near full, a write's `ENOSPC` is its own, as
        // Linux's ext4 reserves room before it says a write went well.
        Ok(match (is_file, access_write) {
            (true, true) if self.room_to_spare() => Opened::Buffered(handle),
            (true, _) => Opened::ReadAhead(handle),
            (false, _) => Opened::Handle(handle),
        })
    }

    fn remove(&mut self, path: &str, caller: &Caller, mode: u16) -> Result<()> {
        let parts = components(path)?;
        let caller = *caller;
        let mut names = self.names.take_for_change();
        self.tx(|tx| {
            let (dir, name) = parent(tx, &mut names, &parts, &caller)?;
            if !dir.permission(caller.uid, caller.gid, MODE_WRITE | MODE_EXEC) {
                return Err(rs::Error::new(rs::EACCES));
            }
            let node = tx.find_node(dir.ptr, name)?;
            match (mode, node.data().is_dir()) {
                (MODE_DIR, false) => return Err(rs::Error::new(rs::ENOTDIR)),
                (MODE_FILE, true) => return Err(rs::Error::new(rs::EISDIR)),
                _ => {}
            }
            tx.remove_node(dir.ptr, name, mode).map(drop)
        })
    }
}

impl Scheme for Files {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        // The walk's map of directory names is taken out for the call (its
        // transaction borrows the file system) and put back after it.
        let mut names = core::mem::take(&mut self.names);
        let opened = self.open_at(path, flags, caller, &mut names);
        self.names = names;
        opened
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        self.send_behind();
        let generation = self.fs.header.generation();
        let h = self.handles.get(handle)?;
        if h.flags & O_ACCMODE == O_WRONLY {
            return Err(err(sc::EBADF));
        }
        if let Some(listing) = &h.listing {
            let start = usize::try_from(h.offset).unwrap_or(usize::MAX).min(listing.len());
            let n = buf.len().min(listing.len() - start);
            buf[..n].copy_from_slice(&listing[start..start + n]);
            self.handles.get_mut(handle)?.offset += n as u64;
            return Ok(n);
        }
        let (node, offset) = (h.node, h.offset);
        // From what was read ahead, while nothing was committed since.
        if let Some((at, stamp, data)) = &h.ahead
            && *stamp == generation
            && offset >= *at
            && offset < at + data.len() as u64
        {
            let start = (offset - at) as usize;
            let n = buf.len().min(data.len() - start);
            buf[..n].copy_from_slice(&data[start..start + n]);
            self.handles.get_mut(handle)?.offset += n as u64;
            return Ok(n);
        }
        let (atime, atime_nsec) = now();
        let n = if buf.len() < AHEAD {
            // The last window's buffer, if any, holds the next (a new one
            // each time would be a zeroed mapping); what the read does not
            // fill is cut off below.
            let (mut data, window) = match self.handles.get_mut(handle)?.ahead.take() {
                Some((at, _, data)) if at + data.len() as u64 == offset => {
                    let others: usize =
                        self.handles.iter().filter_map(|(_, h)| h.ahead.as_ref()).map(|(_, _, d)| d.capacity()).sum();
                    let grown = (data.len() * 2).clamp(AHEAD, AHEAD_MAX);
                    (data, if others + grown <= AHEAD_BUDGET { grown } else { AHEAD })
                }
                Some((_, _, data)) => (data, AHEAD),
                None => (Vec::new(), AHEAD),
            };
            data.resize(window, 0);
            data.shrink_to(window);
            let got = self.tx(|tx| tx.read_node(node, offset, &mut data, atime, atime_nsec))?;
            data.truncate(got);
            let n = buf.len().min(got);
            buf[..n].copy_from_slice(&data[..n]);
            // Stamped after the read (which may have committed an atime).
            let stamp = self.fs.header.generation();
            self.handles.get_mut(handle)?.ahead = Some((offset, stamp, data));
            n
        } else {
            self.tx(|tx| tx.read_node(node, offset, buf, atime, atime_nsec))?
        };
        self.handles.get_mut(handle)?.offset += n as u64;
        Ok(n)
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let h = self.handles.get_mut(handle)?;
        if h.flags & O_ACCMODE == O_RDONLY {
            return Err(err(sc::EBADF));
        }
        if h.listing.is_some() {
            return Err(err(EISDIR));
        }
        if let Some(error) = h.deferred.take() {
            return Err(error);
        }
        let (node, append, offset) = (h.node, h.flags & O_APPEND != 0, h.offset);
        // Continuing the writes kept back for this handle.
        if let Some(behind) = &mut self.behind
            && behind.handle == Some(handle)
            && behind.offset + behind.data.len() as u64 == offset
            && behind.data.len() + buf.len() <= BEHIND_MAX
            && !append
        {
            behind.data.extend_from_slice(buf);
            self.handles.get_mut(handle)?.offset = offset + buf.len() as u64;
            return Ok(buf.len());
        }
        self.send_behind();
        if let Some(error) = self.handles.get_mut(handle)?.deferred.take() {
            return Err(error);
        }
        if !append && buf.len() < BEHIND_MAX && self.room_to_spare() {
            let since = rt::time::now();
            // Room for all it may hold: the writes that join it never
            // reallocate (and the runtime keeps the freed room for the next).
            let mut data = Vec::with_capacity(BEHIND_MAX);
            data.extend_from_slice(buf);
            self.behind = Some(Behind { handle: Some(handle), node, offset, data, since });
            self.handles.get_mut(handle)?.offset = offset + buf.len() as u64;
            return Ok(buf.len());
        }
        let (mtime, mtime_nsec) = now();
        let mut at = offset;
        let n = self.tx(|tx| {
            if append {
                at = tx.read_tree(node)?.data().size();
            }
            tx.write_node(node, at, buf, mtime, mtime_nsec)
        })?;
        self.handles.get_mut(handle)?.offset = at + n as u64;
        Ok(n)
    }

    fn seek(&mut self, handle: usize, to: isize, whence: usize) -> Result<usize> {
        self.send_behind();
        let (node, offset, listing) = {
            let h = self.handles.get(handle)?;
            (h.node, h.offset, h.listing.as_ref().map(Vec::len))
        };
        let size = match listing {
            Some(len) => len as u64,
            None => self.tx(|tx| Ok(tx.read_tree(node)?.data().size()))?,
        };
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => offset,
            SEEK_END => size,
            _ => return Err(err(EINVAL)),
        };
        let at =
            i64::try_from(base).ok().and_then(|b| b.checked_add(to as i64)).filter(|&at| at >= 0).ok_or(err(EINVAL))?;
        self.handles.get_mut(handle)?.offset = at as u64;
        usize::try_from(at).map_err(|_| err(EINVAL))
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        self.send_behind();
        let node = self.handles.get(handle)?.node;
        let tree = self.tx(|tx| tx.read_tree(node))?;
        let data = tree.data();
        stat.st_ino = u64::from(node.id());
        stat.st_mode = data.mode();
        stat.st_nlink = data.links();
        stat.st_uid = data.uid();
        stat.st_gid = data.gid();
        stat.st_size = data.size();
        stat.st_blksize = redoxfs::BLOCK_SIZE as u32;
        stat.st_blocks = data.blocks() * (redoxfs::BLOCK_SIZE / 512);
        (stat.st_mtime, stat.st_mtime_nsec) = data.mtime();
        (stat.st_atime, stat.st_atime_nsec) = data.atime();
        (stat.st_ctime, stat.st_ctime_nsec) = data.ctime();
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        Ok(format!("/{}", self.handles.get(handle)?.path))
    }

    fn fstatvfs(&mut self, handle: usize, statvfs: &mut StatVfs) -> Result<()> {
        self.send_behind();
        self.handles.get(handle)?;
        let (size, free) = space(&self.fs);
        statvfs.f_bsize = redoxfs::BLOCK_SIZE as u32;
        statvfs.f_blocks = size / redoxfs::BLOCK_SIZE;
        statvfs.f_bfree = free / redoxfs::BLOCK_SIZE;
        statvfs.f_bavail = statvfs.f_bfree;
        Ok(())
    }

    fn fsync(&mut self, handle: usize) -> Result<()> {
        self.handles.get(handle)?;
        self.send_behind();
        if let Some(error) = self.handles.get_mut(handle)?.deferred.take() {
            return Err(error);
        }
        // Every call commits; what is left is making the commits durable.
        self.group.make_durable(&mut self.fs).map_err(|_| Error::new(sc::EIO))
    }

    fn ftruncate(&mut self, handle: usize, len: usize) -> Result<()> {
        self.send_behind();
        let h = self.handles.get(handle)?;
        if h.flags & O_ACCMODE == O_RDONLY || h.listing.is_some() {
            return Err(err(sc::EBADF));
        }
        let node = h.node;
        let (mtime, mtime_nsec) = now();
        self.tx(|tx| tx.truncate_node(node, len as u64, mtime, mtime_nsec))
    }

    fn frename(&mut self, handle: usize, path: &str, caller: &Caller) -> Result<()> {
        self.send_behind();
        let from = self.handles.get(handle)?.path.clone();
        let from_parts = components(&from)?;
        let to_parts = components(path)?;
        if to_parts.iter().any(|p| p.len() > redoxfs::DIR_ENTRY_MAX_LENGTH) {
            return Err(err(EINVAL));
        }
        if let Some(name) = to_parts.last() {
            check_new_name(name)?;
        }
        let caller = *caller;
        let mut names = self.names.take_for_change();
        self.tx(|tx| {
            let (old_dir, old_name) = parent(tx, &mut names, &from_parts, &caller)?;
            let (new_dir, new_name) = parent(tx, &mut names, &to_parts, &caller)?;
            for dir in [&old_dir, &new_dir] {
                if !dir.permission(caller.uid, caller.gid, MODE_WRITE | MODE_EXEC) {
                    return Err(rs::Error::new(rs::EACCES));
                }
            }
            tx.rename_node(old_dir.ptr, old_name, new_dir.ptr, new_name)
        })?;
        self.handles.get_mut(handle)?.path = to_parts.join("/");
        Ok(())
    }

    fn unlink(&mut self, path: &str, caller: &Caller) -> Result<()> {
        self.send_behind();
        self.remove(path, caller, MODE_FILE)
    }

    fn rmdir(&mut self, path: &str, caller: &Caller) -> Result<()> {
        self.send_behind();
        self.remove(path, caller, MODE_DIR)
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        self.handles.get(handle)?;
        Ok(interest & (EventFlags::EVENT_READ | EventFlags::EVENT_WRITE))
    }

    fn close(&mut self, handle: usize) {
        // The bytes kept back may wait for the next call (an open takes
        // them into its transaction), unless this close may remove a file:
        // an unlinked file's node goes at its last close, and it must not
        // go before its bytes. With no node waiting for that (RedoxFS's
        // release list is empty), none can.
        match &mut self.behind {
            Some(behind) if self.fs.header.release.is_null() => {
                if behind.handle == Some(handle) {
                    behind.handle = None;
                }
            }
            _ => self.send_behind(),
        }
        if let Some(h) = self.handles.remove(handle) {
            let node = h.node;
            if let Err(e) = self.tx(|tx| tx.on_close_node(node)) {
                log::warn!("closing {}: {e}", h.path);
            }
        }
    }
}
