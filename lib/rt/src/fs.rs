//! Files: anything named by a `scheme:path` URL (`initfs:/sbin/init`,
//! `debug:`, ...), opened into an fd that [`File`] owns and closes on drop;
//! and [`resolve`], which turns a path relative to the shell's current
//! directory (`PWD`) into a URL.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use abi::syscall::{self as sc, Stat, StatVfs};

use crate::{Error, Result, io, sys};

/// An open file descriptor, closed when dropped.
#[derive(Debug)]
pub struct File {
    fd: usize,
}

/// Where [`File::seek`] counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekFrom {
    Start(u64),
    Current(i64),
    End(i64),
}

impl File {
    /// Opens `path` for reading.
    pub fn open(path: &str) -> Result<File> {
        File::open_with(path, sc::O_RDONLY)
    }

    /// Opens `path` for writing, creating it if needed and truncating it.
    pub fn create(path: &str) -> Result<File> {
        File::open_with(path, sc::O_WRONLY | sc::O_CREAT | sc::O_TRUNC)
    }

    /// Opens `path` with `O_*` `flags` (`abi::syscall::O_RDWR`, ...).
    pub fn open_with(path: &str, flags: usize) -> Result<File> {
        sys::open(path, flags).map(|fd| File { fd })
    }

    /// The file descriptor (still owned by this `File`).
    pub fn fd(&self) -> usize {
        self.fd
    }

    /// Gives up ownership: returns the fd without closing it.
    pub fn into_fd(self) -> usize {
        let fd = self.fd;
        core::mem::forget(self);
        fd
    }

    /// Takes ownership of `fd`: the `File` closes it when dropped.
    pub fn from_fd(fd: usize) -> File {
        File { fd }
    }

    /// Reads up to `buf.len()` bytes; returns how many (0 at the end).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        io::read(self.fd, buf)
    }

    /// Writes all of `out`, then reads into `buf`, in one system call
    /// (`SYS_WRITE_READ`): a request and the wait for its reply. On a
    /// daemon's file, both travel to the daemon as one request when each
    /// is at most `INLINE_MAX` bytes. A short write is `EIO` (nothing is
    /// read); otherwise it returns what the read returns.
    pub fn write_read(&mut self, out: &[u8], buf: &mut [u8]) -> Result<usize> {
        sys::write_read(self.fd, out, buf)
    }

    /// Fills all of `buf`; `EIO` if the file ends first.
    pub fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            match self.read(buf)? {
                0 => return Err(Error::new(sc::EIO)),
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    /// Reads to the end of the file, appending to `buf`; returns how many
    /// bytes were read.
    pub fn read_to_end(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        let start = buf.len();
        // The size is only a hint (the file may not know it, or change):
        // read that much, then probe with a small read for the end.
        let hint = self.stat().map_or(0, |stat| usize::try_from(stat.st_size).unwrap_or(0));
        const MAX_CHUNK: usize = 1 << 20;
        let mut chunk = if hint > 0 { hint.min(MAX_CHUNK) } else { 4096 };
        loop {
            let len = buf.len();
            buf.resize(len + chunk, 0);
            match self.read(&mut buf[len..]) {
                Ok(0) => {
                    buf.truncate(len);
                    return Ok(len - start);
                }
                Ok(n) => buf.truncate(len + n),
                Err(err) => {
                    buf.truncate(len);
                    return Err(err);
                }
            }
            let total = buf.len() - start;
            chunk = if total == hint {
                64
            } else if total < hint {
                (hint - total).min(MAX_CHUNK)
            } else {
                (chunk * 2).clamp(4096, MAX_CHUNK)
            };
        }
    }

    /// Reads to the end of the file as UTF-8, appending to `buf`; `EILSEQ`
    /// if the bytes are not UTF-8 (and `buf` is left as it was).
    pub fn read_to_string(&mut self, buf: &mut String) -> Result<usize> {
        let mut bytes = Vec::new();
        let n = self.read_to_end(&mut bytes)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::new(sc::EILSEQ))?;
        buf.push_str(&text);
        Ok(n)
    }

    /// Writes up to `buf.len()` bytes; returns how many.
    pub fn write(&mut self, buf: &[u8]) -> Result<usize> {
        sys::write(self.fd, buf)
    }

    /// Writes all of `buf`.
    pub fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        io::write_all(self.fd, buf)
    }

    /// Moves the file offset; returns the new offset from the start.
    pub fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let (offset, whence) = match pos {
            SeekFrom::Start(offset) => (isize::try_from(offset).map_err(|_| Error::new(sc::EINVAL))?, sc::SEEK_SET),
            SeekFrom::Current(offset) => (offset as isize, sc::SEEK_CUR),
            SeekFrom::End(offset) => (offset as isize, sc::SEEK_END),
        };
        sys::lseek(self.fd, offset, whence).map(|offset| offset as u64)
    }

    /// The file's metadata (`SYS_FSTAT`).
    pub fn stat(&self) -> Result<Stat> {
        sys::fstat(self.fd)
    }

    /// Makes what was written to the file stay across a power cut
    /// (`SYS_FSYNC`).
    pub fn sync(&self) -> Result<()> {
        sys::fsync(self.fd)
    }

    /// The size and free space of the file system the file is on
    /// (`SYS_FSTATVFS`; `ENOSYS` from schemes that are no file system).
    pub fn statvfs(&self) -> Result<StatVfs> {
        sys::fstatvfs(self.fd)
    }

    /// Another fd for the same open file (sharing its offset and flags).
    pub fn try_clone(&self) -> Result<File> {
        sys::dup(self.fd, &[]).map(File::from_fd)
    }

    /// A new file the scheme derives from this one, named by `name`
    /// (`dup(fd, name)`): `"write"` on a pipe's read end, `"listen"` on a
    /// channel, ...
    pub fn derive(&self, name: &str) -> Result<File> {
        sys::dup(self.fd, name.as_bytes()).map(File::from_fd)
    }

    /// Bounds how long a read that waits may wait before it fails with
    /// `ETIMEDOUT` (`None`: as long as it takes), where the scheme offers
    /// it (`tcp:`, `udp:`, `icmp:`: `lib/scheme`'s `offer_read_timeouts`):
    /// writes the limit to `dup(fd, "read_timeout")`, as Redox's sockets
    /// take `SO_RCVTIMEO`.
    pub fn set_read_timeout(&self, limit: Option<core::time::Duration>) -> Result<()> {
        let mut setting = self.derive("read_timeout")?;
        setting.write_all(&crate::time::timespec_bytes(limit.unwrap_or_default()))?;
        setting.close()
    }

    /// Turns `O_NONBLOCK` on or off: reads and writes that would wait fail
    /// with `EAGAIN` instead.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        let flags = sys::fcntl(self.fd, sc::F_GETFL, 0)?;
        let flags = if nonblocking { flags | sc::O_NONBLOCK } else { flags & !sc::O_NONBLOCK };
        sys::fcntl(self.fd, sc::F_SETFL, flags).map(drop)
    }

    /// The file's URL, `scheme:path`.
    pub fn path(&self) -> Result<String> {
        let mut buf = alloc::vec![0u8; 4096 + 64];
        let n = sys::fpath(self.fd, &mut buf)?;
        buf.truncate(n);
        String::from_utf8(buf).map_err(|_| Error::new(sc::EILSEQ))
    }

    /// Sets the file's length.
    pub fn set_len(&self, len: usize) -> Result<()> {
        sys::ftruncate(self.fd, len)
    }

    /// Closes the file, reporting an error that dropping it would ignore.
    pub fn close(self) -> Result<()> {
        sys::close(self.into_fd())
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = sys::close(self.fd);
    }
}

impl fmt::Write for File {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_all(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// A pipe: `(read end, write end)`. Reads return 0 once every write end
/// is closed and the data drained; writes fail with `EPIPE` once every
/// read end is closed. Neither end is close-on-exec, so children inherit
/// both (close the end a child does not use).
pub fn pipe() -> Result<(File, File)> {
    let read = File::open_with("pipe:", sc::O_RDWR)?;
    let write = read.derive("write")?;
    Ok((read, write))
}

/// Removes the file at the URL `path`.
pub fn remove_file(path: &str) -> Result<()> {
    sys::unlink(path)
}

/// Removes the (empty) directory at the URL `path`.
pub fn remove_dir(path: &str) -> Result<()> {
    sys::rmdir(path)
}

/// The whole contents of the file at `path`.
pub fn read(path: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The whole contents of the file at `path`, as UTF-8 (`EILSEQ` if not).
pub fn read_to_string(path: &str) -> Result<String> {
    let mut text = String::new();
    File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// Writes `bytes` to `path`, creating or truncating it.
pub fn write(path: &str, bytes: &[u8]) -> Result<()> {
    File::create(path)?.write_all(bytes)
}

/// Whether `path` is a URL (`scheme:path`): it has a `:` before any `/`
/// (`tmp:a.txt`, `initfs:bin`, `:`). Anything else is relative to the
/// current directory.
pub fn is_url(path: &str) -> bool {
    match (path.find(':'), path.find('/')) {
        (Some(colon), Some(slash)) => colon < slash,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// `path` as a URL: a URL as it is (with `.` and `..` components folded),
/// anything else taken relative to the directory `cwd` (a URL such as
/// `initfs:` or `tmp:dir`). `..` stops at the scheme's root; `.` and empty
/// components vanish, so `resolve_in("tmp:a/b", "../c/./d")` is
/// `tmp:a/c/d` and `resolve_in("initfs:", "")` is `initfs:`. When `cwd` is
/// not a URL either, `path` is returned as given.
pub fn resolve_in(cwd: &str, path: &str) -> String {
    let (base, relative) = if is_url(path) {
        (path, "")
    } else if is_url(cwd) {
        (cwd, path)
    } else {
        return String::from(path);
    };
    let (scheme, base_path) = abi::split_url(base).unwrap_or((base, ""));
    let mut parts: Vec<&str> = Vec::new();
    for part in base_path.split('/').chain(relative.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let mut url = String::from(scheme);
    url.push(':');
    if base_path.starts_with('/') {
        url.push('/');
    }
    url.push_str(&parts.join("/"));
    url
}

/// `path` as a URL, relative paths taken from the current directory the
/// shell exports as `PWD` ([`resolve_in`]). Utilities call this on every
/// path argument.
pub fn resolve(path: &str) -> String {
    resolve_in(crate::env::var("PWD").unwrap_or(""), path)
}
