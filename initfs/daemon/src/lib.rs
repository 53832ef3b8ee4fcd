//! The `initfs:` daemon: serves the boot image (an `initfs` image, checked
//! once by [`initfs::Image::parse`]) read-only. Paths are relative to the
//! image root (`initfs:sbin/init`, a leading `/` is allowed); a directory
//! reads as its entry names, one per line; `fmap` of a file gives the
//! image's own pages (zero copy: exec and `mmap` share the ramdisk). It
//! runs in the null namespace: it needs nothing but the image it holds.
//!
//! Bootstrap forks it (the image is mapped in bootstrap, so the daemon
//! holds it too) and waits for `ready` before exec'ing init.
//!
//! Every path of the image is looked up once at start ([`Index`]): an open
//! of a path written the plain way (`etc/init.rc`, `/etc/init.rc`) is one
//! hash look-up instead of a walk that decodes and checks each directory
//! entry on its way (it is on the path of every `exec` and of every page
//! `httpd` serves from `initfs:`). Other spellings (`etc//init.rc`, a `/`
//! at the end, `.`) go through the image's own [`Image::lookup`], so both
//! give the same answer. An open handle keeps what it reads and its mode.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use hashbrown::HashMap;
use initfs::{Image, InodeNum, Kind};
use rt::abi::syscall::{
    self as sc, EventFlags, MODE_DIR, MODE_FILE, MapFlags, O_ACCMODE, O_CREAT, O_DIRECTORY, O_RDONLY, O_TRUNC, Stat,
};
use scheme::{Caller, Error, Handles, Opened, Result, Scheme, Server};

struct Handle {
    inode: InodeNum,
    /// Its `st_mode`: kind and permissions.
    mode: u16,
    offset: usize,
    path: String,
    /// What it reads: a file's data in the image, or a directory's listing
    /// (made at open).
    contents: Contents,
}

enum Contents {
    File(&'static [u8]),
    Listing(Vec<u8>),
}

impl Handle {
    fn contents(&self) -> &[u8] {
        match &self.contents {
            Contents::File(data) => data,
            Contents::Listing(listing) => listing,
        }
    }
}

/// Every path of the image (`etc/init.rc`; the root is `""`), and the
/// inode it names: built once, the image never changes. The hasher's seed
/// is fixed: the keys are the image's, so no caller can choose them.
struct Index(HashMap<String, InodeNum, foldhash::fast::FixedState>);

impl Index {
    /// Walks the whole image. Its directories were checked by
    /// [`Image::parse`], so this fails only on an image that did not parse.
    fn new(image: &Image<'static>) -> core::result::Result<Index, initfs::Error> {
        let mut paths = HashMap::with_capacity_and_hasher(image.inode_count() as usize, Default::default());
        paths.insert(String::new(), image.root());
        let mut dirs = alloc::vec![(String::new(), image.root())];
        while let Some((dir, inode)) = dirs.pop() {
            for entry in image.read_dir(inode)? {
                let path =
                    if dir.is_empty() { String::from(entry.name) } else { alloc::format!("{dir}/{}", entry.name) };
                if image.inode(entry.inode)?.kind == Kind::Dir {
                    dirs.push((path.clone(), entry.inode));
                }
                paths.insert(path, entry.inode);
            }
        }
        Ok(Index(paths))
    }

    /// The inode of `path` when it is written the plain way: components
    /// joined by single slashes, at most one `/` before them and none after,
    /// no `.` or `..`. `None` for any other spelling, and for a path the
    /// image does not hold.
    fn plain(&self, path: &str) -> Option<InodeNum> {
        let path = path.strip_prefix('/').unwrap_or(path);
        self.0.get(path).copied()
    }
}

/// The scheme over one image.
pub struct InitFs {
    image: Image<'static>,
    index: Index,
    handles: Handles<Handle>,
}

impl InitFs {
    pub fn new(bytes: &'static [u8]) -> core::result::Result<InitFs, initfs::Error> {
        let image = Image::parse(bytes)?;
        let index = Index::new(&image)?;
        Ok(InitFs { image, index, handles: Handles::new() })
    }

    fn handle(&mut self, handle: usize) -> Result<&mut Handle> {
        self.handles.get_mut(handle)
    }
}

impl Scheme for InitFs {
    fn open(&mut self, path: &str, flags: usize, _caller: &Caller) -> Result<Opened> {
        let access = flags & O_ACCMODE;
        if (access != O_RDONLY && access != 0) || flags & (O_CREAT | O_TRUNC) != 0 {
            return Err(Error::new(sc::EROFS));
        }
        let inode = match self.index.plain(path) {
            Some(inode) => inode,
            None => self.image.lookup(path).map_err(|_| Error::new(sc::ENOENT))?,
        };
        let meta = self.image.inode(inode).map_err(|_| Error::new(sc::ENOENT))?;
        let contents = match meta.kind {
            Kind::Dir => {
                let mut names = Vec::new();
                for entry in self.image.read_dir(inode).map_err(|_| Error::new(sc::EIO))? {
                    names.extend_from_slice(entry.name.as_bytes());
                    names.push(b'\n');
                }
                Contents::Listing(names)
            }
            Kind::File if flags & O_DIRECTORY != 0 => return Err(Error::new(sc::ENOTDIR)),
            Kind::File => Contents::File(self.image.file_data(inode).map_err(|_| Error::new(sc::EIO))?),
        };
        let mode = if meta.kind == Kind::Dir { MODE_DIR } else { MODE_FILE } | meta.mode;
        let path = String::from(path.trim_start_matches('/'));
        Ok(Opened::Handle(self.handles.insert(Handle { inode, mode, offset: 0, path, contents })))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let h = self.handle(handle)?;
        let bytes = h.contents();
        let start = h.offset.min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        h.offset = start + n;
        Ok(n)
    }

    fn write(&mut self, _handle: usize, _buf: &[u8], _flags: usize) -> Result<usize> {
        Err(Error::new(sc::EROFS))
    }

    fn seek(&mut self, handle: usize, offset: isize, whence: usize) -> Result<usize> {
        let h = self.handles.get(handle)?;
        let len = h.contents().len();
        let target = rt::abi::seek_target(h.offset, len, offset, whence).ok_or(Error::new(sc::EINVAL))?;
        self.handle(handle)?.offset = target;
        Ok(target)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        let h = self.handles.get(handle)?;
        stat.st_mode = h.mode;
        stat.st_size = h.contents().len() as u64;
        stat.st_ino = u64::from(h.inode);
        stat.st_nlink = 1;
        stat.st_blksize = 4096;
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        Ok(self.handle(handle)?.path.clone())
    }

    fn close(&mut self, handle: usize) {
        self.handles.remove(handle);
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        self.handle(handle)?;
        Ok(interest & EventFlags::EVENT_READ)
    }

    /// A file's own pages in the image, which is page-aligned and whose
    /// file data starts on page boundaries.
    fn fmap(&mut self, handle: usize, offset: usize, len: usize, flags: MapFlags) -> Result<usize> {
        if flags.contains(MapFlags::PROT_WRITE) && flags.contains(MapFlags::MAP_SHARED) {
            return Err(Error::new(sc::EROFS));
        }
        let Contents::File(data) = self.handles.get(handle)?.contents else {
            return Err(Error::new(sc::ENODEV));
        };
        let end = offset.checked_add(len).ok_or(Error::new(sc::EINVAL))?;
        if end > data.len().next_multiple_of(4096) {
            return Err(Error::new(sc::EINVAL));
        }
        Ok(data.as_ptr() as usize + offset)
    }
}

/// Register `initfs:` over `image`, enter the null namespace, call
/// `ready`, and serve until the socket fails.
pub fn serve(image: &'static [u8], ready: impl FnOnce()) -> core::result::Result<(), String> {
    let scheme = InitFs::new(image).map_err(|e| alloc::format!("the image is not valid: {e}"))?;
    let mut server = Server::new("initfs", scheme).map_err(|e| alloc::format!("register initfs: {e}"))?;
    server.confine().map_err(|e| alloc::format!("null namespace: {e}"))?;
    ready();
    server.run().map_err(|e| alloc::format!("serving: {e}"))
}
