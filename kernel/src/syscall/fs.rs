//! File descriptors: open a `scheme:path` URL, then read, write, seek,
//! stat and close through the scheme that opened it. Data moves through a
//! kernel bounce buffer, one user copy per chunk.

use alloc::string::String;
use alloc::sync::Arc;

use abi::syscall::Stat;
use abi::syscall::error::{EINVAL, ENAMETOOLONG, Error};

use crate::context::process::Process;
use crate::memory::usercopy::{self, UserPtr, UserSlice};
use crate::scheme::{self, Caller};

/// Longest path accepted by `open`.
const MAX_PATH: usize = 4096;
/// Bytes moved per round through the bounce buffer.
const CHUNK: usize = 64 * 1024;

fn caller(process: &Process) -> Caller {
    Caller { pid: process.pid, uid: process.uid, gid: process.gid }
}

/// Copy a path argument in and check it is UTF-8.
pub(super) fn user_path(addr: usize, len: usize) -> Result<String, Error> {
    if len > MAX_PATH {
        return Err(Error::new(ENAMETOOLONG));
    }
    let bytes = UserSlice::new(addr, len)?.to_vec()?;
    String::from_utf8(bytes).map_err(|_| Error::new(EINVAL))
}

pub fn open(path: usize, len: usize, flags: usize) -> Result<usize, Error> {
    let process = super::me();
    let url = user_path(path, len)?;
    let file = scheme::open(&url, flags, &caller(&process))?;
    process.files.lock().insert(Arc::new(file), flags & abi::syscall::O_CLOEXEC != 0)
}

pub fn close(fd: usize) -> Result<usize, Error> {
    let file = super::me().files.lock().remove(fd)?;
    drop(file);
    Ok(0)
}

/// Move `len` bytes a chunk at a time: `step(done, want)` moves up to
/// `want` bytes at offset `done` and says how many it moved. A short step
/// ends the transfer, and so does an error: as a short count if anything
/// moved already (POSIX short read/write), else as the error.
fn in_chunks(len: usize, mut step: impl FnMut(usize, usize) -> Result<usize, Error>) -> Result<usize, Error> {
    let mut done = 0;
    while done < len {
        let want = (len - done).min(CHUNK);
        let n = match step(done, want) {
            Ok(n) => n,
            Err(err) if done == 0 => return Err(err),
            Err(_) => break,
        };
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done)
}

pub fn read(fd: usize, buf: usize, len: usize) -> Result<usize, Error> {
    let user = UserSlice::new(buf, len)?;
    let file = super::me().files.lock().get(fd)?;
    let scheme = file.scheme.scheme();
    let mut bounce = alloc::vec![0u8; len.min(CHUNK)];
    in_chunks(len, |done, want| {
        let n = scheme.read(file.handle, &mut bounce[..want])?;
        if let Err(err) = user.skip(done).prefix(n).copy_from_kernel(&bounce[..n]) {
            // The bytes read but not delivered are not lost: put them back
            // (schemes that cannot seek have nowhere to put them).
            let _ = scheme.seek(file.handle, -(n as isize), abi::syscall::SEEK_CUR);
            return Err(err);
        }
        Ok(n)
    })
}

pub fn write(fd: usize, buf: usize, len: usize) -> Result<usize, Error> {
    let user = UserSlice::new(buf, len)?;
    let file = super::me().files.lock().get(fd)?;
    let scheme = file.scheme.scheme();
    let mut bounce = alloc::vec![0u8; len.min(CHUNK)];
    in_chunks(len, |done, want| {
        user.skip(done).prefix(want).copy_to_kernel(&mut bounce[..want])?;
        scheme.write(file.handle, &bounce[..want])
    })
}

pub fn lseek(fd: usize, offset: isize, whence: usize) -> Result<usize, Error> {
    let file = super::me().files.lock().get(fd)?;
    file.scheme.scheme().seek(file.handle, offset, whence)
}

pub fn fstat(fd: usize, stat: usize, len: usize) -> Result<usize, Error> {
    if len < size_of::<Stat>() {
        return Err(Error::new(EINVAL));
    }
    let out = UserPtr::<Stat>::new(stat)?;
    let file = super::me().files.lock().get(fd)?;
    let mut value = usercopy::zeroed::<Stat>();
    file.scheme.scheme().fstat(file.handle, &mut value)?;
    out.write(&value)?;
    Ok(0)
}

/// The full URL of an open file, `scheme:path`, truncated to the buffer.
pub fn fpath(fd: usize, buf: usize, len: usize) -> Result<usize, Error> {
    let user = UserSlice::new(buf, len)?;
    let file = super::me().files.lock().get(fd)?;
    let path = file.scheme.scheme().fpath(file.handle)?;
    let mut url = String::from(file.scheme.name());
    url.push(':');
    url.push_str(&path);
    let n = url.len().min(len);
    user.prefix(n).copy_from_kernel(&url.as_bytes()[..n])?;
    Ok(n)
}

/// `dup(fd, buf)`: with an empty `buf`, another descriptor for the same
/// open file. (Derived handles named by `buf` come with user schemes.)
pub fn dup(fd: usize, buf: usize, len: usize) -> Result<usize, Error> {
    if len != 0 {
        let _ = UserSlice::new(buf, len)?;
        return Err(Error::new(EINVAL));
    }
    let process = super::me();
    let mut files = process.files.lock();
    let file = files.get(fd)?;
    files.insert(file, false)
}
