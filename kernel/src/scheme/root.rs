//! The root scheme `""`: where daemons register and where the scheme list
//! is.
//!
//! - `open(":NAME", O_CREAT)` registers `NAME:` in the caller's namespace
//!   for a userspace daemon and returns its socket: requests are read
//!   from it and answers written to it ([`super::user`]). Only root (uid
//!   0) may register, not from the null namespace; `EEXIST` if the name is
//!   taken; names are 1-64 bytes of `[A-Za-z0-9_.-]`. Closing the socket
//!   unregisters.
//! - `open(":")` lists the schemes the caller can see, one name per line.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::syscall::error::{EACCES, EBADF, EINVAL, ENOENT, Error};
use abi::syscall::{EventFlags, MODE_CHR, MODE_DIR, O_CREAT, Stat};
use spin::Once;

use super::handles::HandleTable;
use super::snapshot::Snapshot;
use super::user::UserScheme;
use super::{Caller, KernelScheme, Opened, SchemeRef};
use crate::memory::usercopy::{UserIn, UserOut};

/// The longest scheme name.
pub const NAME_MAX: usize = 64;

#[derive(Clone)]
enum Handle {
    /// The scheme list, as it was at open.
    List(Snapshot),
    /// A daemon's socket.
    Socket(Arc<UserScheme>),
}

pub struct RootScheme {
    handles: HandleTable<Handle>,
}

static ROOT: Once<SchemeRef> = Once::new();

/// The root scheme (reachable from every namespace, for the listing).
pub fn scheme() -> SchemeRef {
    ROOT.call_once(|| SchemeRef::new("", Arc::new(RootScheme { handles: HandleTable::new() }))).clone()
}

/// The root scheme's event key (socket readiness): every call to a daemon
/// asks, so without cloning the scheme once it exists.
#[inline]
pub fn key() -> usize {
    match ROOT.get() {
        Some(root) => root.key(),
        None => scheme().key(),
    }
}

/// Whether `name` may name a scheme.
pub fn valid_name(name: &str) -> bool {
    (1..=NAME_MAX).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl RootScheme {
    fn handle(&self, id: usize) -> Result<Handle, Error> {
        self.handles.get(id)
    }

    fn insert(&self, handle: Handle) -> usize {
        self.handles.insert(handle)
    }

    fn register(&self, name: &str, caller: &Caller) -> Result<usize, Error> {
        if caller.uid != 0 {
            crate::caller_log!(Info, "scheme {name}: pid {} (uid {}) may not register schemes", caller.pid, caller.uid);
            return Err(Error::new(EACCES));
        }
        if !valid_name(name) {
            return Err(Error::new(EINVAL));
        }
        if caller.namespace.is_null() {
            return Err(Error::new(EACCES));
        }
        let id = self.handles.insert_with(|id| {
            let scheme = Arc::new(UserScheme::new(name, &caller.namespace, id, caller.pid));
            caller.namespace.insert(SchemeRef::new(name, scheme.clone()))?;
            Ok::<_, Error>(Handle::Socket(scheme))
        })?;
        super::registry::registered(name, caller.pid);
        log::info!("scheme {name}: registered by pid {}", caller.pid);
        Ok(id)
    }
}

impl KernelScheme for RootScheme {
    fn open(&self, path: &str, flags: usize, caller: &Caller) -> Result<Opened, Error> {
        if path.is_empty() {
            let mut list = Vec::new();
            for name in caller.namespace.names() {
                list.extend_from_slice(name.as_bytes());
                list.push(b'\n');
            }
            return Ok(Opened::Handle(self.insert(Handle::List(Snapshot::new(list)))));
        }
        if flags & O_CREAT == 0 {
            return Err(Error::new(ENOENT));
        }
        self.register(path, caller).map(Opened::Handle)
    }

    fn read(&self, handle: usize, buf: &mut [u8], flags: usize) -> Result<usize, Error> {
        match self.handle(handle)? {
            Handle::Socket(scheme) => scheme.next_request(buf.len(), flags, |head, input| {
                buf[..head.len()].copy_from_slice(head);
                buf[head.len()..head.len() + input.len()].copy_from_slice(input);
                Ok(())
            }),
            Handle::List(_) => match self.handles.with(handle, |h| match h {
                Handle::List(list) => Some(list.read(buf)),
                Handle::Socket(_) => None,
            }) {
                Ok(Some(n)) => Ok(n),
                _ => Err(Error::new(EBADF)),
            },
        }
    }

    /// A daemon's read of its socket goes straight to its buffer (no
    /// bounce buffer the size of its read).
    fn read_user(&self, handle: usize, buf: UserOut, flags: usize) -> Result<usize, Error> {
        match self.handle(handle)? {
            Handle::Socket(scheme) => scheme.next_request(buf.len(), flags, |head, input| to_user(&buf, head, input)),
            Handle::List(_) => super::with_bounce(buf.len(), |bounce| {
                let n = self.read(handle, bounce, flags)?;
                buf.prefix(n).copy_from_kernel(&bounce[..n])?;
                Ok(n)
            }),
        }
    }

    fn write(&self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize, Error> {
        match self.handle(handle)? {
            Handle::Socket(scheme) => scheme.answer(buf),
            Handle::List(_) => Err(Error::new(EBADF)),
        }
    }

    /// A daemon's answer is read from its buffer by the scheme (no bounce).
    fn write_user(&self, handle: usize, buf: UserIn, _flags: usize) -> Result<usize, Error> {
        match self.handle(handle)? {
            Handle::Socket(scheme) => scheme.answer_user(buf),
            Handle::List(_) => Err(Error::new(EBADF)),
        }
    }

    /// A daemon's answer and its next request, on one look-up of its
    /// socket (`SYS_WRITE_READ` after every request it serves).
    fn write_read_user(&self, handle: usize, out: UserIn, buf: UserOut, flags: usize) -> Result<usize, Error> {
        match self.handle(handle)? {
            Handle::Socket(scheme) => super::write_then_read(
                out.len(),
                buf.len(),
                || scheme.answer_user(out),
                || scheme.next_request(buf.len(), flags, |head, input| to_user(&buf, head, input)),
            ),
            Handle::List(_) if out.is_empty() => self.read_user(handle, buf, flags),
            Handle::List(_) => Err(Error::new(EBADF)),
        }
    }

    fn seek(&self, handle: usize, offset: isize, whence: usize) -> Result<usize, Error> {
        self.handles.with(handle, |h| match h {
            Handle::List(list) => list.seek(offset, whence),
            Handle::Socket(_) => Err(Error::new(abi::syscall::error::ESPIPE)),
        })?
    }

    fn fevent(&self, handle: usize, interest: EventFlags) -> Result<EventFlags, Error> {
        match self.handle(handle)? {
            Handle::Socket(scheme) if scheme.has_requests() => Ok(interest & EventFlags::EVENT_READ),
            Handle::Socket(_) => Ok(EventFlags::empty()),
            Handle::List(_) => Ok(interest & EventFlags::EVENT_READ),
        }
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        match self.handle(handle)? {
            Handle::Socket(_) => stat.st_mode = MODE_CHR | 0o600,
            Handle::List(list) => {
                stat.st_mode = MODE_DIR | 0o555;
                stat.st_size = list.len() as u64;
            }
        }
        Ok(())
    }

    fn fpath(&self, handle: usize) -> Result<String, Error> {
        match self.handle(handle)? {
            Handle::Socket(scheme) => Ok(String::from(scheme.name())),
            Handle::List(_) => Ok(String::new()),
        }
    }

    fn close(&self, handle: usize) -> Result<(), Error> {
        if let Handle::Socket(scheme) = self.handles.remove(handle)? {
            scheme.shutdown();
            super::registry::unregistered(scheme.name(), scheme.owner());
        }
        Ok(())
    }
}

/// A request for a daemon's buffer: its head, then its inline input.
#[inline]
fn to_user(buf: &UserOut, head: &[u8], input: &[u8]) -> Result<(), Error> {
    buf.prefix(head.len()).copy_from_kernel(head)?;
    if input.is_empty() {
        return Ok(());
    }
    buf.skip(head.len()).prefix(input.len()).copy_from_kernel(input)
}
