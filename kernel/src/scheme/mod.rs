//! Schemes: every resource is `scheme:path`. An open routes the path by its
//! prefix through the caller's [`Namespace`] (`ENODEV` if the name is not
//! there); the resulting file description remembers the scheme and that
//! scheme's handle, so every later call on the fd goes straight there.
//!
//! Kernel schemes implement [`KernelScheme`], whose methods each default to
//! the errno a caller expects, so a scheme writes only what it supports.
//! Userspace schemes are [`user::UserScheme`]s: the same trait, answered by
//! a daemon through its socket on the [`root`] scheme. Readiness of any
//! handle reaches `event:` queues through [`event::trigger`].
//!
//! May touch: the scheme registry, namespaces and the current process's
//! file table (for calls that move fds). Never holds a lock across a call
//! into a scheme, since a scheme may block.

pub mod debug;
pub mod event;
pub mod handle_records;
pub mod handles;
pub mod irq;
pub mod memory;
pub mod namespace;
pub mod pipe;
pub mod posted_writes;
pub mod power;
pub mod pushed_reads;
pub mod read_ahead;
pub mod registry;
pub mod root;
pub mod snapshot;
pub mod spare_slot;
pub mod sys;
pub mod time;
pub mod user;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::syscall::error::{EBADF, EINVAL, ENOENT, ENOSYS, EOPNOTSUPP, ESPIPE, Error};
use abi::syscall::{EventFlags, MapFlags, Stat, StatVfs};
use x86_64::structures::paging::PhysFrame;

pub use self::namespace::Namespace;
use crate::context::file::FileDescription;
use crate::memory::address_space::FrameKind;
use crate::memory::usercopy::{UserIn, UserOut};

/// Who is asking: passed to every path call, and by user schemes to the
/// daemon with every request.
#[derive(Clone)]
pub struct Caller {
    pub pid: usize,
    pub uid: u32,
    pub gid: u32,
    /// The schemes this caller can name.
    pub namespace: Arc<Namespace>,
}

impl Caller {
    /// The kernel itself: pid 0, root, the root namespace.
    pub fn kernel() -> Caller {
        Caller { pid: 0, uid: 0, gid: 0, namespace: namespace::root() }
    }
}

/// What an open (or a dup) produced.
pub enum Opened {
    /// A handle of the scheme that was asked.
    Handle(usize),
    /// An open file of another scheme (a daemon answered with an fd).
    File(Arc<FileDescription>),
}

/// What an `fmap` maps.
pub enum Mapping {
    /// Fresh zeroed memory, as anonymous `mmap` gives.
    Anonymous,
    /// These frames, one per page, in order.
    Frames(Frames),
}

/// Frames handed out for a mapping; holds a reference to each counted one
/// until dropped (the mapping takes its own).
pub struct Frames(Vec<(PhysFrame, FrameKind)>);

impl Frames {
    /// Take the frames, adding a reference to each counted one (`ENOMEM`
    /// if a count is saturated).
    pub fn new(frames: Vec<(PhysFrame, FrameKind)>) -> Result<Frames, Error> {
        for (i, &(frame, kind)) in frames.iter().enumerate() {
            if kind == FrameKind::Counted && !crate::memory::frame::try_share(frame) {
                Frames(frames[..i].to_vec()).release_all();
                return Err(Error::new(abi::syscall::error::ENOMEM));
            }
        }
        Ok(Frames(frames))
    }

    pub fn as_slice(&self) -> &[(PhysFrame, FrameKind)] {
        &self.0
    }

    fn release_all(&mut self) {
        for (frame, kind) in self.0.drain(..) {
            if kind == FrameKind::Counted {
                crate::memory::frame::release(frame);
            }
        }
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        self.release_all();
    }
}

/// Most data a kernel scheme moves per call through the default bounce
/// buffer (a longer read or write is short, as POSIX allows).
pub const BOUNCE_MAX: usize = 64 * 1024;
/// Reads and writes up to this many bytes bounce through the stack instead.
const SMALL_BOUNCE: usize = 128;

/// Run `f` on a zeroed kernel buffer of `len` bytes, at most [`BOUNCE_MAX`]:
/// on the stack when small (most are: a line, a few events), else on the
/// heap.
pub(super) fn with_bounce<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    if len <= SMALL_BOUNCE {
        let mut small = [0u8; SMALL_BOUNCE];
        return f(&mut small[..len]);
    }
    let mut large = alloc::vec![0u8; len.min(BOUNCE_MAX)];
    f(&mut large)
}

/// What `SYS_WRITE_READ` does with a scheme's two halves: `write` all of
/// `out_len` bytes (unless there are none; a short write is `EIO`), then
/// `read` (unless its buffer is empty).
pub(super) fn write_then_read(
    out_len: usize,
    read_len: usize,
    write: impl FnOnce() -> Result<usize, Error>,
    read: impl FnOnce() -> Result<usize, Error>,
) -> Result<usize, Error> {
    if out_len != 0 && write()? != out_len {
        return Err(Error::new(abi::syscall::error::EIO));
    }
    if read_len == 0 {
        return Ok(0);
    }
    read()
}

/// A scheme served by the kernel. `handle`s are the scheme's own; `flags`
/// passed to `read`/`write` are the file's status flags (`O_NONBLOCK`,
/// `O_APPEND`, the access mode), so a scheme decides whether to block.
pub trait KernelScheme: Send + Sync {
    /// The daemon-served scheme behind this one, if it is one (for calls
    /// that go faster as a chain of requests, `SYS_SUBMIT`).
    fn as_user_scheme(&self) -> Option<&user::UserScheme> {
        None
    }

    /// Open `path` (the part after `scheme:`).
    fn open(&self, path: &str, flags: usize, caller: &Caller) -> Result<Opened, Error> {
        let _ = (path, flags, caller);
        Err(Error::new(ENOENT))
    }
    fn read(&self, handle: usize, buf: &mut [u8], flags: usize) -> Result<usize, Error> {
        let _ = (handle, buf, flags);
        Err(Error::new(EBADF))
    }
    fn write(&self, handle: usize, buf: &[u8], flags: usize) -> Result<usize, Error> {
        let _ = (handle, buf, flags);
        Err(Error::new(EBADF))
    }
    /// Read into the caller's memory. The default reads into a kernel
    /// buffer and copies out; a scheme that can do better (a daemon that
    /// gets the pages lent) overrides it.
    fn read_user(&self, handle: usize, buf: UserOut, flags: usize) -> Result<usize, Error> {
        with_bounce(buf.len(), |bounce| {
            let n = self.read(handle, bounce, flags)?;
            let n = n.min(bounce.len());
            if let Err(err) = buf.prefix(n).copy_from_kernel(&bounce[..n]) {
                // Not delivered, so not consumed: put the bytes back where
                // the scheme can (a stream cannot, and they are lost with
                // the caller's bad pointer).
                let _ = self.seek(handle, -(n as isize), abi::syscall::SEEK_CUR);
                return Err(err);
            }
            Ok(n)
        })
    }
    /// Write from the caller's memory (default: through a kernel buffer).
    fn write_user(&self, handle: usize, buf: UserIn, flags: usize) -> Result<usize, Error> {
        with_bounce(buf.len(), |bounce| {
            buf.prefix(bounce.len()).copy_to_kernel(bounce)?;
            self.write(handle, bounce, flags)
        })
    }
    /// `SYS_WRITE_READ`: write `out` (unless empty; all of it, or `EIO`),
    /// then read into `buf` (unless empty) -- a daemon's answer and its
    /// next request. The default makes the two calls; the root scheme
    /// does both on one look-up of the daemon's socket.
    fn write_read_user(&self, handle: usize, out: UserIn, buf: UserOut, flags: usize) -> Result<usize, Error> {
        write_then_read(
            out.len(),
            buf.len(),
            || self.write_user(handle, out, flags),
            || self.read_user(handle, buf, flags),
        )
    }
    fn seek(&self, handle: usize, offset: isize, whence: usize) -> Result<usize, Error> {
        let _ = (handle, offset, whence);
        Err(Error::new(ESPIPE))
    }
    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        let _ = (handle, stat);
        Err(Error::new(EBADF))
    }
    /// The size and free space of the file system `handle` is on.
    fn fstatvfs(&self, handle: usize, statvfs: &mut StatVfs) -> Result<(), Error> {
        let _ = (handle, statvfs);
        Err(Error::new(ENOSYS))
    }
    /// The path of an open handle, without the `scheme:` prefix.
    fn fpath(&self, handle: usize) -> Result<String, Error> {
        let _ = handle;
        Err(Error::new(EBADF))
    }
    /// A new handle derived from `handle` and named by `buf` (`dup(fd,
    /// buf)` with a non-empty `buf`; the kernel handles the empty case).
    /// `flags` are the status flags of the file being duplicated (a dup
    /// that would wait, such as accepting a connection, must not when they
    /// hold `O_NONBLOCK`).
    fn dup(&self, handle: usize, buf: &[u8], flags: usize, caller: &Caller) -> Result<Opened, Error> {
        let _ = (handle, buf, flags, caller);
        Err(Error::new(EINVAL))
    }
    /// Which of `interest` are ready now. Changes later are reported with
    /// [`event::trigger`].
    fn fevent(&self, handle: usize, interest: EventFlags) -> Result<EventFlags, Error> {
        let _ = (handle, interest);
        Err(Error::new(EOPNOTSUPP))
    }
    fn fsync(&self, handle: usize) -> Result<(), Error> {
        let _ = handle;
        Err(Error::new(EINVAL))
    }
    fn ftruncate(&self, handle: usize, len: usize) -> Result<(), Error> {
        let _ = (handle, len);
        Err(Error::new(EINVAL))
    }
    /// Rename the file open on `handle` to `path` on the same scheme.
    fn frename(&self, handle: usize, path: &str, caller: &Caller) -> Result<(), Error> {
        let _ = (handle, path, caller);
        Err(Error::new(EOPNOTSUPP))
    }
    fn unlink(&self, path: &str, caller: &Caller) -> Result<(), Error> {
        let _ = (path, caller);
        Err(Error::new(ENOENT))
    }
    fn rmdir(&self, path: &str, caller: &Caller) -> Result<(), Error> {
        let _ = (path, caller);
        Err(Error::new(ENOENT))
    }
    /// Memory for `mmap` of `len` bytes (whole pages) at `offset` of the
    /// file, for `flags` (protection, shared or private).
    fn fmap(&self, handle: usize, offset: usize, len: usize, flags: MapFlags) -> Result<Mapping, Error> {
        let _ = (handle, offset, len, flags);
        Err(Error::new(abi::syscall::error::ENODEV))
    }
    /// Receive `file`, sent over `handle` (`SYS_SENDFD`); the sender's fd
    /// is closed if this succeeds.
    fn sendfd(&self, handle: usize, file: &Arc<FileDescription>, flags: usize, arg: usize) -> Result<usize, Error> {
        let _ = (handle, file, flags, arg);
        Err(Error::new(EOPNOTSUPP))
    }
    /// The last descriptor of `handle` went away.
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
    pub fn new(name: &str, scheme: Arc<dyn KernelScheme>) -> SchemeRef {
        SchemeRef { name: Arc::from(name), scheme }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn scheme(&self) -> &dyn KernelScheme {
        &*self.scheme
    }

    /// What identifies this scheme to the event registry.
    pub fn key(&self) -> usize {
        key_of(&*self.scheme)
    }
}

/// A scheme is known to the event registry by its address: schemes live in
/// `Arc`s and never move.
pub fn key_of<S: ?Sized>(scheme: &S) -> usize {
    core::ptr::from_ref(scheme).cast::<()>() as usize
}

/// Register a kernel scheme in the root namespace.
pub fn register(name: &str, scheme: Arc<dyn KernelScheme>) {
    if namespace::root().insert(SchemeRef::new(name, scheme)).is_err() {
        log::error!("scheme {name}: registered twice");
        return;
    }
    log::info!("scheme {name}: registered");
}

/// Split `scheme:path`; a URL without a colon names no scheme.
pub use abi::split_url;

/// The scheme `name` as `caller` sees it (`ENODEV` if absent).
pub fn lookup(name: &str, caller: &Caller) -> Result<SchemeRef, Error> {
    if name.is_empty() {
        return Ok(root::scheme());
    }
    caller.namespace.get(name).ok_or(Error::new(abi::syscall::error::ENODEV))
}

/// Open a URL for `caller`: route by the scheme prefix.
pub fn open(url: &str, flags: usize, caller: &Caller) -> Result<Arc<FileDescription>, Error> {
    let (name, path) = split_url(url).ok_or(Error::new(ENOENT))?;
    let scheme = lookup(name, caller)?;
    let opened = scheme.scheme().open(path, flags, caller)?;
    Ok(describe(scheme, opened, flags))
}

/// The file an open or dup produced.
pub fn describe(scheme: SchemeRef, opened: Opened, flags: usize) -> Arc<FileDescription> {
    match opened {
        Opened::Handle(handle) => Arc::new(FileDescription::new(scheme, handle, flags)),
        Opened::File(file) => file,
    }
}

/// `unlink`/`rmdir` of a URL.
pub fn remove(url: &str, directory: bool, caller: &Caller) -> Result<(), Error> {
    let (name, path) = split_url(url).ok_or(Error::new(ENOENT))?;
    let scheme = lookup(name, caller)?;
    if directory { scheme.scheme().rmdir(path, caller) } else { scheme.scheme().unlink(path, caller) }
}

/// Open a URL on behalf of the kernel itself.
pub fn open_kernel(url: &str, flags: usize) -> Result<Arc<FileDescription>, Error> {
    open(url, flags, &Caller::kernel())
}

/// Read a whole file through an open description (up to `limit` bytes;
/// `EFBIG` past that). Stops with `EINTR` when the caller is killed.
pub fn read_all(file: &FileDescription, limit: usize) -> Result<Vec<u8>, Error> {
    let mut data = Vec::new();
    let mut chunk = alloc::vec![0u8; BOUNCE_MAX];
    loop {
        if crate::context::scheduler::current_killed() {
            return Err(Error::new(abi::syscall::error::EINTR));
        }
        let n = file.scheme.scheme().read(file.handle, &mut chunk, file.flags())?;
        if n == 0 {
            return Ok(data);
        }
        if data.len() + n > limit {
            return Err(Error::new(abi::syscall::error::EFBIG));
        }
        data.try_reserve(n).map_err(|_| Error::new(abi::syscall::error::ENOMEM))?;
        data.extend_from_slice(&chunk[..n]);
    }
}
