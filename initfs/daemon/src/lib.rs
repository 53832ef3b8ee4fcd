//! The `initfs:` daemon: serves the boot image (an `initfs` image, checked
//! once by [`initfs::Image::parse`]) read-only. Paths are relative to the
//! image root (`initfs:sbin/init`, a leading `/` is allowed); a directory
//! reads as its entry names, one per line; `fmap` of a file gives the
//! image's own pages (zero copy: exec and `mmap` share the ramdisk). It
//! runs in the null namespace: it needs nothing but the image it holds.
//!
//! Bootstrap forks it (the image is mapped in bootstrap, so the daemon
//! holds it too) and waits for `ready` before exec'ing init.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use initfs::{Image, InodeNum, Kind};
use rt::abi::syscall::{
    self as sc, EventFlags, MODE_DIR, MODE_FILE, MapFlags, O_ACCMODE, O_CREAT, O_DIRECTORY, O_RDONLY, O_TRUNC, Stat,
};
use scheme::{Caller, Error, Handles, Opened, Result, Scheme, Server};

struct Handle {
    inode: InodeNum,
    offset: usize,
    path: String,
    /// A directory's listing, made at open.
    listing: Option<Vec<u8>>,
}

/// The scheme over one image.
pub struct InitFs {
    image: Image<'static>,
    handles: Handles<Handle>,
}

impl InitFs {
    pub fn new(bytes: &'static [u8]) -> core::result::Result<InitFs, initfs::Error> {
        Ok(InitFs { image: Image::parse(bytes)?, handles: Handles::new() })
    }

    fn handle(&mut self, handle: usize) -> Result<&mut Handle> {
        self.handles.get_mut(handle)
    }

    /// What a handle reads: a file's data or a directory's names.
    fn contents<'a>(&'a self, handle: &'a Handle) -> Result<&'a [u8]> {
        match &handle.listing {
            Some(listing) => Ok(listing),
            None => self.image.file_data(handle.inode).map_err(|_| Error::new(sc::EIO)),
        }
    }
}

impl Scheme for InitFs {
    fn open(&mut self, path: &str, flags: usize, _caller: &Caller) -> Result<Opened> {
        let access = flags & O_ACCMODE;
        if (access != O_RDONLY && access != 0) || flags & (O_CREAT | O_TRUNC) != 0 {
            return Err(Error::new(sc::EROFS));
        }
        let inode = self.image.lookup(path).map_err(|_| Error::new(sc::ENOENT))?;
        let meta = self.image.inode(inode).map_err(|_| Error::new(sc::ENOENT))?;
        let listing = match meta.kind {
            Kind::Dir => {
                let mut names = Vec::new();
                for entry in self.image.read_dir(inode).map_err(|_| Error::new(sc::EIO))? {
                    names.extend_from_slice(entry.name.as_bytes());
                    names.push(b'\n');
                }
                Some(names)
            }
            Kind::File if flags & O_DIRECTORY != 0 => return Err(Error::new(sc::ENOTDIR)),
            Kind::File => None,
        };
        let path = String::from(path.trim_start_matches('/'));
        Ok(Opened::Handle(self.handles.insert(Handle { inode, offset: 0, path, listing })))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let h = self.handles.get(handle)?;
        let bytes = self.contents(h)?;
        let start = h.offset.min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        self.handle(handle)?.offset = start + n;
        Ok(n)
    }

    fn write(&mut self, _handle: usize, _buf: &[u8], _flags: usize) -> Result<usize> {
        Err(Error::new(sc::EROFS))
    }

    fn seek(&mut self, handle: usize, offset: isize, whence: usize) -> Result<usize> {
        let h = self.handles.get(handle)?;
        let len = self.contents(h)?.len();
        let target = rt::abi::seek_target(h.offset, len, offset, whence).ok_or(Error::new(sc::EINVAL))?;
        self.handle(handle)?.offset = target;
        Ok(target)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        let h = self.handles.get(handle)?;
        let meta = self.image.inode(h.inode).map_err(|_| Error::new(sc::EIO))?;
        let kind = if meta.kind == Kind::Dir { MODE_DIR } else { MODE_FILE };
        stat.st_mode = kind | meta.mode;
        stat.st_size = self.contents(h)?.len() as u64;
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
        let h = self.handles.get(handle)?;
        if h.listing.is_some() {
            return Err(Error::new(sc::ENODEV));
        }
        let data = self.image.file_data(h.inode).map_err(|_| Error::new(sc::EIO))?;
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
