//! File descriptors and scheme paths: open a `scheme:path` URL, then read,
//! write, seek, stat, dup, fcntl and close through the scheme that opened
//! it; path calls (`unlink`, `rmdir`) route like open; `sendfd` hands an
//! open file to a scheme daemon.

use alloc::string::String;
use alloc::sync::Arc;

use abi::syscall::error::{EBADF, EINVAL, ENAMETOOLONG, Error};
use abi::syscall::{F_GETFD, F_GETFL, F_SETFD, F_SETFL, O_CLOEXEC, Stat, StatVfs};

use crate::context::file::{Fd, FileDescription};
use crate::memory::usercopy::{self, Out, UserIn, UserOut, UserPtr};
use crate::scheme;

/// Longest path accepted by path calls.
const MAX_PATH: usize = 4096;
/// `F_GETFD`/`F_SETFD`: the close-on-exec bit.
const FD_CLOEXEC: usize = 1;

/// A path (or dup name) argument: `ENAMETOOLONG` past [`MAX_PATH`],
/// whatever the pointer, then the range check of any [`UserIn`].
pub(super) fn path(addr: usize, len: usize) -> Result<UserIn, Error> {
    if len > MAX_PATH {
        return Err(Error::new(ENAMETOOLONG));
    }
    UserIn::new(addr, len)
}

/// Paths up to this long are copied onto the kernel stack, not the heap
/// (nearly every URL: an open then allocates nothing for its path).
const PATH_ON_STACK: usize = 128;

/// Copy a path argument in, check it is UTF-8 and hand it to `then`.
pub(super) fn with_user_path<R>(path: UserIn, then: impl FnOnce(&str) -> Result<R, Error>) -> Result<R, Error> {
    let mut on_stack = [0u8; PATH_ON_STACK];
    let on_heap;
    let bytes = if path.len() <= PATH_ON_STACK {
        let bytes = &mut on_stack[..path.len()];
        path.copy_to_kernel(bytes)?;
        bytes
    } else {
        on_heap = path.to_vec()?;
        &on_heap[..]
    };
    then(text(bytes)?)
}

/// A path's bytes as text. URLs are nearly always ASCII, which
/// `is_ascii` checks a word at a time; `from_utf8`'s general walk cost
/// 87 instructions on a 10-byte URL (`cargo mk bench --profile`).
#[inline]
fn text(bytes: &[u8]) -> Result<&str, Error> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Ok(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    core::str::from_utf8(bytes).map_err(|_| Error::new(EINVAL))
}

/// The caller's open file `fd`. Inlined: every file call starts here, and
/// left to the compiler it became a call of its own once (31
/// instructions more per scheme round trip, `cargo mk bench --profile`).
#[inline]
fn file(fd: Fd) -> Result<Arc<FileDescription>, Error> {
    crate::context::file::current(fd)
}

pub fn open(path: UserIn, flags: usize) -> Result<usize, Error> {
    let process = super::me();
    let file = with_user_path(path, |url| scheme::open(url, flags, &process.caller()))?;
    process.files.lock().insert(file, flags & O_CLOEXEC != 0)
}

pub fn close(fd: Fd) -> Result<usize, Error> {
    let file = super::me().files.lock().remove(fd)?;
    drop(file);
    Ok(0)
}

/// One call to the scheme: a read may be short (a stream returns what it
/// has), and so may a write (the caller writes the rest).
pub fn read(fd: Fd, buf: UserOut) -> Result<usize, Error> {
    let file = file(fd)?;
    if buf.is_empty() {
        return Ok(0);
    }
    file.scheme.scheme().read_user(file.handle, buf, file.flags())
}

pub fn write(fd: Fd, buf: UserIn) -> Result<usize, Error> {
    let file = file(fd)?;
    if buf.is_empty() {
        return Ok(0);
    }
    file.scheme.scheme().write_user(file.handle, buf, file.flags())
}

/// `SYS_WRITE_READ`: one message out, then one in, on the same file (a
/// daemon's answer and its next request).
#[inline]
pub fn write_read(fd: Fd, out: UserIn, buf: UserOut) -> Result<usize, Error> {
    let file = file(fd)?;
    file.scheme.scheme().write_read_user(file.handle, out, buf, file.flags())
}

pub fn lseek(fd: Fd, offset: isize, whence: usize) -> Result<usize, Error> {
    let file = file(fd)?;
    file.scheme.scheme().seek(file.handle, offset, whence)
}

pub fn fstat(fd: Fd, stat: usize, len: usize) -> Result<usize, Error> {
    if len < size_of::<Stat>() {
        return Err(Error::new(EINVAL));
    }
    let out = UserPtr::<Stat, Out>::new(stat)?;
    let file = file(fd)?;
    let mut value = usercopy::zeroed::<Stat>();
    file.scheme.scheme().fstat(file.handle, &mut value)?;
    out.write(&value)?;
    Ok(0)
}

/// The size and free space of the file system `fd` is on (schemes that
/// are no file system answer `ENOSYS`).
pub fn fstatvfs(fd: Fd, statvfs: usize, len: usize) -> Result<usize, Error> {
    if len < size_of::<StatVfs>() {
        return Err(Error::new(EINVAL));
    }
    let out = UserPtr::<StatVfs, Out>::new(statvfs)?;
    let file = file(fd)?;
    let mut value = usercopy::zeroed::<StatVfs>();
    file.scheme.scheme().fstatvfs(file.handle, &mut value)?;
    out.write(&value)?;
    Ok(0)
}

/// The full URL of an open file, `scheme:path`, truncated to the buffer.
pub fn fpath(fd: Fd, user: UserOut) -> Result<usize, Error> {
    let file = file(fd)?;
    let path = file.scheme.scheme().fpath(file.handle)?;
    let mut url = String::from(file.scheme.name());
    url.push(':');
    url.push_str(&path);
    let n = url.len().min(user.len());
    user.prefix(n).copy_from_kernel(&url.as_bytes()[..n])?;
    Ok(n)
}

/// The file `dup(fd, buf)` makes: with an empty `buf` the same open file;
/// otherwise a new one the scheme derives from it, named by `buf`.
fn duplicate(fd: Fd, name: UserIn) -> Result<Arc<FileDescription>, Error> {
    let file = file(fd)?;
    if name.is_empty() {
        return Ok(file);
    }
    let name = name.to_vec()?;
    let opened = file.scheme.scheme().dup(file.handle, &name, file.flags(), &super::me().caller())?;
    Ok(scheme::describe(file.scheme.clone(), opened, file.flags()))
}

pub fn dup(fd: Fd, name: UserIn) -> Result<usize, Error> {
    let new = duplicate(fd, name)?;
    super::me().files.lock().insert(new, false)
}

/// `dup2(fd, new_fd, buf)`: like dup, at exactly `new_fd` (closing what
/// was there).
pub fn dup2(fd: Fd, new_fd: Fd, name: UserIn) -> Result<usize, Error> {
    let new = duplicate(fd, name)?;
    let old = super::me().files.lock().insert_at(new_fd, new, false)?;
    drop(old);
    Ok(new_fd.0)
}

pub fn fcntl(fd: Fd, cmd: usize, arg: usize) -> Result<usize, Error> {
    let process = super::me();
    match cmd {
        F_GETFL => Ok(file(fd)?.flags()),
        F_SETFL => {
            file(fd)?.set_status_flags(arg);
            Ok(0)
        }
        F_GETFD => Ok(if process.files.lock().close_on_exec_flag(fd)? { FD_CLOEXEC } else { 0 }),
        F_SETFD => {
            process.files.lock().set_close_on_exec(fd, arg & FD_CLOEXEC != 0)?;
            Ok(0)
        }
        _ => Err(Error::new(EINVAL)),
    }
}

pub fn fsync(fd: Fd) -> Result<usize, Error> {
    let file = file(fd)?;
    file.scheme.scheme().fsync(file.handle).map(|()| 0)
}

pub fn ftruncate(fd: Fd, len: usize) -> Result<usize, Error> {
    let file = file(fd)?;
    file.scheme.scheme().ftruncate(file.handle, len).map(|()| 0)
}

/// `frename(fd, path)`: rename the open file to `path` (a URL on the same
/// scheme, or a bare path).
pub fn frename(fd: Fd, path: UserIn) -> Result<usize, Error> {
    let file = file(fd)?;
    with_user_path(path, |url| {
        let target = match scheme::split_url(url) {
            Some((name, _)) if name != file.scheme.name() => return Err(Error::new(abi::syscall::error::EXDEV)),
            Some((_, path)) => path,
            None => url,
        };
        file.scheme.scheme().frename(file.handle, target, &super::me().caller()).map(|()| 0)
    })
}

pub fn unlink(path: UserIn) -> Result<usize, Error> {
    with_user_path(path, |url| scheme::remove(url, false, &super::me().caller()).map(|()| 0))
}

pub fn rmdir(path: UserIn) -> Result<usize, Error> {
    with_user_path(path, |url| scheme::remove(url, true, &super::me().caller()).map(|()| 0))
}

/// `sendfd(socket, fd, flags, arg)`: give the open file `fd` to the daemon
/// serving `socket`'s scheme. On success the fd has left the sender's
/// table (dup it first to keep a copy); on failure it is still there.
pub fn sendfd(socket: Fd, fd: Fd, flags: usize, arg: usize) -> Result<usize, Error> {
    if socket == fd {
        return Err(Error::new(EBADF));
    }
    let target = file(socket)?;
    let sent = file(fd)?;
    let value = target.scheme.scheme().sendfd(target.handle, &sent, flags, arg)?;
    let process = super::me();
    let mut files = process.files.lock();
    if files.get(fd).is_ok_and(|f| Arc::ptr_eq(&f, &sent)) {
        let gone = files.remove(fd);
        drop(files);
        drop(gone);
    }
    Ok(value)
}
