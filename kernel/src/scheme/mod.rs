//! Schemes: every resource is `scheme:path`. The kernel routes a path to
//! the scheme named by its prefix, and every later call on the resulting
//! file descriptor to the same scheme and that scheme's handle.
//!
//! Kernel schemes implement [`KernelScheme`]; each method has a default
//! that refuses with the errno a caller expects, so a scheme implements
//! only what it supports. (Userspace schemes, namespaces and the root
//! scheme come with the schemes issue; this is the part processes need.)

pub mod debug;
pub mod initfs;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;

use abi::syscall::Stat;
use abi::syscall::error::{EBADF, ENODEV, ENOENT, ESPIPE, Error};
use spin::RwLock;
use x86_64::instructions::interrupts::without_interrupts;

use crate::context::file::FileDescription;

/// Who is asking (passed to every open).
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub pid: usize,
    pub uid: u32,
    pub gid: u32,
}

impl Caller {
    pub const KERNEL: Caller = Caller { pid: 0, uid: 0, gid: 0 };
}

/// A scheme served by the kernel.
pub trait KernelScheme: Send + Sync {
    /// Open `path` (the part after `scheme:`); returns the scheme's handle.
    fn open(&self, path: &str, flags: usize, caller: &Caller) -> Result<usize, Error> {
        let _ = (path, flags, caller);
        Err(Error::new(ENOENT))
    }
    fn read(&self, handle: usize, buf: &mut [u8]) -> Result<usize, Error> {
        let _ = (handle, buf);
        Err(Error::new(EBADF))
    }
    fn write(&self, handle: usize, buf: &[u8]) -> Result<usize, Error> {
        let _ = (handle, buf);
        Err(Error::new(EBADF))
    }
    fn seek(&self, handle: usize, offset: isize, whence: usize) -> Result<usize, Error> {
        let _ = (handle, offset, whence);
        Err(Error::new(ESPIPE))
    }
    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        let _ = (handle, stat);
        Err(Error::new(EBADF))
    }
    /// The path of an open handle, without the `scheme:` prefix.
    fn fpath(&self, handle: usize) -> Result<String, Error> {
        let _ = handle;
        Err(Error::new(EBADF))
    }
    /// The whole contents of an open file, if they sit in kernel memory that
    /// lives as long as the kernel, page-aligned (the boot ramdisk): exec
    /// then reads them in place and maps read-only pages without copying.
    fn resident(&self, handle: usize) -> Option<&'static [u8]> {
        let _ = handle;
        None
    }

    fn close(&self, handle: usize) -> Result<(), Error> {
        let _ = handle;
        Ok(())
    }
}

/// A registered scheme and its name.
#[derive(Clone)]
pub struct SchemeRef {
    name: Arc<str>,
    scheme: Arc<dyn KernelScheme>,
}

impl SchemeRef {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn scheme(&self) -> &dyn KernelScheme {
        &*self.scheme
    }
}

static SCHEMES: RwLock<BTreeMap<String, SchemeRef>> = RwLock::new(BTreeMap::new());

pub fn register(name: &str, scheme: Arc<dyn KernelScheme>) {
    let entry = SchemeRef { name: Arc::from(name), scheme };
    without_interrupts(|| SCHEMES.write().insert(String::from(name), entry));
    log::info!("scheme {name}: registered");
}

/// Split `scheme:path`; a URL without a colon has no scheme.
pub fn split_url(url: &str) -> Option<(&str, &str)> {
    url.split_once(':')
}

/// Open a URL for `caller`: route by the scheme prefix.
pub fn open(url: &str, flags: usize, caller: &Caller) -> Result<FileDescription, Error> {
    let (name, path) = split_url(url).ok_or(Error::new(ENOENT))?;
    let scheme = without_interrupts(|| SCHEMES.read().get(name).cloned()).ok_or(Error::new(ENODEV))?;
    let handle = scheme.scheme().open(path, flags, caller)?;
    Ok(FileDescription { scheme, handle })
}

/// Open a URL on behalf of the kernel itself.
pub fn open_kernel(url: &str, flags: usize) -> Result<FileDescription, Error> {
    open(url, flags, &Caller::KERNEL)
}

/// Read a whole file through an open description (up to `limit` bytes).
pub fn read_all(file: &FileDescription, limit: usize) -> Result<alloc::vec::Vec<u8>, Error> {
    let mut data = alloc::vec::Vec::new();
    let mut chunk = alloc::vec![0u8; 64 * 1024];
    loop {
        let n = file.scheme.scheme().read(file.handle, &mut chunk)?;
        if n == 0 {
            return Ok(data);
        }
        if data.len() + n > limit {
            return Err(Error::new(abi::syscall::error::EFBIG));
        }
        data.extend_from_slice(&chunk[..n]);
    }
}
