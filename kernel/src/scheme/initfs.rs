//! `initfs:` — the boot ramdisk (an `initfs` image) served read-only by the
//! kernel, so the first programs can be loaded before any userspace file
//! server runs. Reads copy out of the image the bootloader mapped; a
//! directory reads as its entry names, one per line.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use abi::syscall::error::{EACCES, EBADF, EFAULT, EINVAL, ENOENT, ENOTDIR, EROFS, Error};
use abi::syscall::{MODE_DIR, MODE_FILE, MapFlags, O_ACCMODE, O_CREAT, O_DIRECTORY, O_RDONLY, O_TRUNC, Stat};
use x86_64::structures::paging::PhysFrame;
use initfs::{Image, InodeNum, Kind};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

use super::{Caller, Frames, KernelScheme, Mapping, Opened};
use crate::memory::PAGE_SIZE;
use crate::memory::address_space::FrameKind;
use crate::memory::usercopy::UserSlice;

struct Handle {
    inode: InodeNum,
    offset: usize,
    path: String,
}

pub struct InitfsScheme {
    image: Image<'static>,
    handles: Mutex<BTreeMap<usize, Handle>>,
    next: AtomicUsize,
}

impl InitfsScheme {
    /// Validate the whole image once; every later access is in bounds.
    pub fn new(bytes: &'static [u8]) -> Result<Self, initfs::Error> {
        Ok(Self { image: Image::parse(bytes)?, handles: Mutex::new(BTreeMap::new()), next: AtomicUsize::new(1) })
    }

    pub fn image(&self) -> &Image<'static> {
        &self.image
    }

    fn with<R>(&self, handle: usize, f: impl FnOnce(&mut Handle) -> Result<R, Error>) -> Result<R, Error> {
        without_interrupts(|| f(self.handles.lock().get_mut(&handle).ok_or(Error::new(EBADF))?))
    }

    /// The bytes a handle reads: file data, or a directory's names.
    fn contents(&self, inode: InodeNum) -> Result<ContentRef, Error> {
        let meta = self.image.inode(inode).map_err(|_| Error::new(ENOENT))?;
        match meta.kind {
            Kind::File => Ok(ContentRef::Data(self.image.file_data(inode).map_err(|_| Error::new(ENOENT))?)),
            Kind::Dir => {
                let mut listing = Vec::new();
                for entry in self.image.read_dir(inode).map_err(|_| Error::new(ENOTDIR))? {
                    listing.extend_from_slice(entry.name.as_bytes());
                    listing.push(b'\n');
                }
                Ok(ContentRef::Owned(listing))
            }
        }
    }
}

enum ContentRef {
    Data(&'static [u8]),
    Owned(Vec<u8>),
}

impl ContentRef {
    fn bytes(&self) -> &[u8] {
        match self {
            ContentRef::Data(data) => data,
            ContentRef::Owned(data) => data,
        }
    }
}

impl KernelScheme for InitfsScheme {
    fn open(&self, path: &str, flags: usize, _caller: &Caller) -> Result<Opened, Error> {
        if flags & O_ACCMODE != O_RDONLY && flags & O_ACCMODE != 0 || flags & (O_CREAT | O_TRUNC) != 0 {
            return Err(Error::new(EROFS));
        }
        let inode = self.image.lookup(path).map_err(|_| Error::new(ENOENT))?;
        let meta = self.image.inode(inode).map_err(|_| Error::new(ENOENT))?;
        if flags & O_DIRECTORY != 0 && meta.kind != Kind::Dir {
            return Err(Error::new(ENOTDIR));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let path = String::from(path.trim_start_matches('/'));
        without_interrupts(|| self.handles.lock().insert(id, Handle { inode, offset: 0, path }));
        Ok(Opened::Handle(id))
    }

    fn read(&self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize, Error> {
        let (inode, offset) = self.with(handle, |h| Ok((h.inode, h.offset)))?;
        let contents = self.contents(inode)?;
        let bytes = contents.bytes();
        let start = offset.min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        self.with(handle, |h| {
            h.offset = start + n;
            Ok(n)
        })
    }

    /// Straight from the image into the caller's buffer, however long.
    fn read_user(&self, handle: usize, buf: UserSlice, _flags: usize) -> Result<usize, Error> {
        let (inode, offset) = self.with(handle, |h| Ok((h.inode, h.offset)))?;
        let contents = self.contents(inode)?;
        let bytes = contents.bytes();
        let start = offset.min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf.prefix(n).copy_from_kernel(&bytes[start..start + n])?;
        self.with(handle, |h| {
            h.offset = start + n;
            Ok(n)
        })
    }

    fn write(&self, _handle: usize, _buf: &[u8], _flags: usize) -> Result<usize, Error> {
        Err(Error::new(EROFS))
    }

    fn seek(&self, handle: usize, offset: isize, whence: usize) -> Result<usize, Error> {
        let inode = self.with(handle, |h| Ok(h.inode))?;
        let len = self.contents(inode)?.bytes().len() as isize;
        self.with(handle, |h| {
            let base = match whence {
                abi::syscall::SEEK_SET => 0,
                abi::syscall::SEEK_CUR => h.offset as isize,
                abi::syscall::SEEK_END => len,
                _ => return Err(Error::new(EINVAL)),
            };
            let target = base.checked_add(offset).filter(|&t| t >= 0).ok_or(Error::new(EINVAL))?;
            h.offset = target as usize;
            Ok(h.offset)
        })
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        let inode = self.with(handle, |h| Ok(h.inode))?;
        let meta = self.image.inode(inode).map_err(|_| Error::new(ENOENT))?;
        let kind = if meta.kind == Kind::Dir { MODE_DIR } else { MODE_FILE };
        stat.st_mode = kind | meta.mode;
        stat.st_size = self.contents(inode)?.bytes().len() as u64;
        stat.st_ino = u64::from(inode);
        stat.st_nlink = 1;
        stat.st_blksize = 4096;
        Ok(())
    }

    /// A file's pages, read-only and shared with every other mapping of it
    /// (the image's own frames; a private writable map copies on write).
    fn fmap(&self, handle: usize, offset: usize, len: usize, flags: MapFlags) -> Result<Mapping, Error> {
        if flags.contains(MapFlags::PROT_WRITE) && flags.contains(MapFlags::MAP_SHARED) {
            return Err(Error::new(EROFS));
        }
        let data = self.resident(handle).ok_or(Error::new(EACCES))?;
        let end = offset.checked_add(len).ok_or(Error::new(EINVAL))?;
        if end > data.len().next_multiple_of(PAGE_SIZE as usize) {
            return Err(Error::new(EINVAL));
        }
        let mut frames = alloc::vec::Vec::new();
        for page in (offset..end).step_by(PAGE_SIZE as usize) {
            let virt = x86_64::VirtAddr::from_ptr(data.as_ptr()) + page as u64;
            let (phys, _) = crate::memory::paging::translate(virt).ok_or(Error::new(EFAULT))?;
            frames.push((PhysFrame::containing_address(phys), FrameKind::Borrowed));
        }
        Ok(Mapping::Frames(Frames::new(frames)?))
    }

    fn resident(&self, handle: usize) -> Option<&'static [u8]> {
        let inode = self.with(handle, |h| Ok(h.inode)).ok()?;
        self.image.file_data(inode).ok()
    }

    fn fpath(&self, handle: usize) -> Result<String, Error> {
        self.with(handle, |h| Ok(h.path.clone()))
    }

    fn close(&self, handle: usize) -> Result<(), Error> {
        without_interrupts(|| self.handles.lock().remove(&handle)).map(|_| ()).ok_or(Error::new(EBADF))
    }
}
