//! One wrapper per system call: the raw call with its result decoded
//! (`abi::decode_result`). Each is safe unless it can break memory safety by
//! itself (mapping over, unmapping or re-protecting arbitrary addresses);
//! those are `unsafe fn`s, and the safe interfaces over them are in
//! [`crate::mem`]. Higher-level modules ([`crate::fs`], [`crate::process`],
//! ...) build on these.

use core::mem::size_of;
use core::sync::atomic::AtomicU32;

use abi::UserStr;
use abi::syscall::{self as sc, MapFlags, Stat, StatVfs, TimeSpec};

use crate::Result;
use crate::arch::{syscall0, syscall1, syscall2, syscall3, syscall4, syscall5};

// Pointers go to the kernel as `expose_provenance()` addresses: the
// `syscall` asm may then read and write what they point to.

fn demux(ret: usize) -> Result<usize> {
    abi::decode_result(ret)
}

/// `SYS_OPEN`: opens the `scheme:path` URL `path` with `O_*` `flags`;
/// returns the new fd.
pub fn open(path: &str, flags: usize) -> Result<usize> {
    // SAFETY: the kernel only reads `path.len()` bytes at `path`.
    demux(unsafe { syscall3(sc::SYS_OPEN, path.as_ptr().expose_provenance(), path.len(), flags) })
}

/// `SYS_CLOSE`.
pub fn close(fd: usize) -> Result<()> {
    // SAFETY: closing an fd touches no memory of ours.
    demux(unsafe { syscall1(sc::SYS_CLOSE, fd) }).map(drop)
}

/// `SYS_READ`: reads up to `buf.len()` bytes; returns how many (0 at the
/// end of the file).
pub fn read(fd: usize, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which
    // we hold exclusively.
    demux(unsafe { syscall3(sc::SYS_READ, fd, buf.as_mut_ptr().expose_provenance(), buf.len()) })
}

/// `SYS_WRITE`: writes up to `buf.len()` bytes; returns how many.
pub fn write(fd: usize, buf: &[u8]) -> Result<usize> {
    // SAFETY: the kernel only reads `buf`.
    demux(unsafe { syscall3(sc::SYS_WRITE, fd, buf.as_ptr().expose_provenance(), buf.len()) })
}

/// `abi::SYS_WRITE_READ`: writes `out` to `fd`, then reads into `buf`
/// (one system call); returns what the read returns.
pub fn write_read(fd: usize, out: &[u8], buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel reads `out` and writes at most `buf.len()` bytes
    // into `buf`, which we hold exclusively.
    demux(unsafe {
        syscall5(
            abi::SYS_WRITE_READ,
            fd,
            out.as_ptr().expose_provenance(),
            out.len(),
            buf.as_mut_ptr().expose_provenance(),
            buf.len(),
        )
    })
}

/// `abi::SYS_SUBMIT`: runs `sqes` in order, one completion each into
/// `cqes` (which must be as long); returns how many succeeded.
pub fn submit(sqes: &[abi::Sqe], cqes: &mut [abi::Cqe]) -> Result<usize> {
    if sqes.len() != cqes.len() {
        return Err(crate::Error::new(sc::EINVAL));
    }
    // SAFETY: the kernel reads the submissions (and the buffers they name,
    // which the caller keeps borrowed for the call) and writes exactly
    // `cqes.len()` completions into `cqes`, which we hold exclusively.
    demux(unsafe {
        syscall3(abi::SYS_SUBMIT, sqes.as_ptr().expose_provenance(), sqes.len(), cqes.as_mut_ptr().expose_provenance())
    })
}

/// `SYS_LSEEK`: `whence` is `SEEK_SET`/`SEEK_CUR`/`SEEK_END` (0/1/2);
/// returns the new offset.
pub fn lseek(fd: usize, offset: isize, whence: usize) -> Result<usize> {
    // SAFETY: seeking touches no memory of ours.
    demux(unsafe { syscall3(sc::SYS_LSEEK, fd, offset as usize, whence) })
}

/// `SYS_FSTAT`.
pub fn fstat(fd: usize) -> Result<Stat> {
    let mut stat = Stat::default();
    // SAFETY: the kernel writes at most `size_of::<Stat>()` bytes into
    // `stat`, a plain-data struct any bytes are valid for.
    demux(unsafe { syscall3(sc::SYS_FSTAT, fd, (&raw mut stat).expose_provenance(), size_of::<Stat>()) })?;
    Ok(stat)
}

/// `SYS_FSTATVFS`: the size and free space of the file system `fd` is on.
pub fn fstatvfs(fd: usize) -> Result<StatVfs> {
    let mut statvfs = StatVfs::default();
    // SAFETY: the kernel writes at most `size_of::<StatVfs>()` bytes into
    // `statvfs`, a plain-data struct any bytes are valid for.
    demux(unsafe { syscall3(sc::SYS_FSTATVFS, fd, (&raw mut statvfs).expose_provenance(), size_of::<StatVfs>()) })?;
    Ok(statvfs)
}

/// `SYS_EXIT`: ends the process with `status` (0-255).
pub fn exit(status: usize) -> ! {
    crate::arch::exit(status)
}

/// `SYS_FORK`: returns the child's pid in the parent, 0 in the child.
pub fn fork() -> Result<usize> {
    // SAFETY: the child gets a copy-on-write copy of this address space
    // (shared mappings stay shared), so no memory of ours changes meaning.
    demux(unsafe { syscall0(abi::SYS_FORK) })
}

/// `SYS_EXEC`: replaces this program with the ELF file open on `fd`,
/// passing `argv` and `envp`. Returns only on failure.
pub fn exec(fd: usize, argv: &[&[u8]], envp: &[&[u8]]) -> sc::Error {
    fn user_strs(strs: &[&[u8]]) -> alloc::vec::Vec<UserStr> {
        strs.iter().map(|s| UserStr { ptr: s.as_ptr().expose_provenance(), len: s.len() }).collect()
    }
    let argv = user_strs(argv);
    let envp = user_strs(envp);
    // SAFETY: the kernel only reads the two `UserStr` arrays and the bytes
    // they point to, all alive for the call; on success this program's
    // memory is gone and nothing of it runs again.
    let ret = unsafe {
        syscall5(
            abi::SYS_EXEC,
            fd,
            argv.as_ptr().expose_provenance(),
            argv.len(),
            envp.as_ptr().expose_provenance(),
            envp.len(),
        )
    };
    match demux(ret) {
        Err(err) => err,
        // A successful exec does not return; if it did, say so.
        Ok(_) => sc::Error::new(sc::EIO),
    }
}

/// `SYS_WAITPID`: waits for child `pid` (or any child with
/// `abi::WAIT_ANY`); `flags` is `abi::WNOHANG` or 0. Returns the pid that
/// ended and its raw status (`abi::status`), or pid 0 with `WNOHANG` when
/// none has yet.
pub fn waitpid(pid: usize, flags: usize) -> Result<(usize, usize)> {
    let mut status = 0usize;
    // SAFETY: the kernel writes one `usize` into `status`.
    let pid = demux(unsafe { syscall3(abi::SYS_WAITPID, pid, (&raw mut status).expose_provenance(), flags) })?;
    Ok((pid, status))
}

/// `SYS_GETPID`.
pub fn getpid() -> Result<usize> {
    // SAFETY: touches no memory of ours.
    demux(unsafe { syscall0(abi::SYS_GETPID) })
}

/// `SYS_GETPPID`.
pub fn getppid() -> Result<usize> {
    // SAFETY: touches no memory of ours.
    demux(unsafe { syscall0(abi::SYS_GETPPID) })
}

/// `SYS_KILL`: sends `signal` (`abi::SIG*`) to process `pid`.
pub fn kill(pid: usize, signal: usize) -> Result<()> {
    // SAFETY: touches no memory of ours (killing ourselves just ends us).
    demux(unsafe { syscall2(abi::SYS_KILL, pid, signal) }).map(drop)
}

/// `abi::SYS_SETPGID`: puts process `pid` (0 = this one) into group
/// `pgid` (0 = `pid`'s own).
pub fn setpgid(pid: usize, pgid: usize) -> Result<()> {
    // SAFETY: touches no memory of ours.
    demux(unsafe { syscall2(abi::SYS_SETPGID, pid, pgid) }).map(drop)
}

/// `abi::SYS_GETPGID`: the group of process `pid` (0 = this one).
pub fn getpgid(pid: usize) -> Result<usize> {
    // SAFETY: touches no memory of ours.
    demux(unsafe { syscall1(abi::SYS_GETPGID, pid) })
}

/// `SYS_YIELD`: gives up the rest of this time slice.
pub fn sched_yield() -> Result<()> {
    // SAFETY: touches no memory of ours.
    demux(unsafe { syscall0(sc::SYS_YIELD) }).map(drop)
}

/// `SYS_CLOCK_GETTIME`: `clock` is `CLOCK_MONOTONIC` or `CLOCK_REALTIME`.
pub fn clock_gettime(clock: usize) -> Result<TimeSpec> {
    let mut time = TimeSpec::default();
    // SAFETY: the kernel writes one `TimeSpec` (plain data) into `time`.
    demux(unsafe { syscall2(sc::SYS_CLOCK_GETTIME, clock, (&raw mut time).expose_provenance()) })?;
    Ok(time)
}

/// `SYS_NANOSLEEP`: sleeps for `duration`; when interrupted (`EINTR`), the
/// time left is written to `remaining` if given.
pub fn nanosleep(duration: &TimeSpec, remaining: Option<&mut TimeSpec>) -> Result<()> {
    let remaining = remaining.map_or(0, |rem| (rem as *mut TimeSpec).expose_provenance());
    // SAFETY: the kernel reads one `TimeSpec` from `duration` and writes at
    // most one into `remaining`, which we hold exclusively (or is 0).
    demux(unsafe { syscall2(sc::SYS_NANOSLEEP, (duration as *const TimeSpec).expose_provenance(), remaining) })
        .map(drop)
}

/// `SYS_MMAP`: maps `len` bytes of zeroed anonymous memory with `flags`
/// (`PROT_*`, `MAP_SHARED`/`MAP_PRIVATE`, `MAP_FIXED*`) near `hint`;
/// returns the address.
///
/// # Safety
///
/// With `MAP_FIXED` the new mapping replaces whatever was at
/// `[hint, hint + len)`, which must then be memory nothing in the program
/// uses. Without it the kernel picks free addresses and the call is
/// harmless.
pub unsafe fn mmap(hint: usize, len: usize, flags: MapFlags) -> Result<usize> {
    // SAFETY: the caller vouches for the range when MAP_FIXED is given.
    demux(unsafe { syscall3(abi::SYS_MMAP, hint, len, flags.bits()) })
}

/// `SYS_FUNMAP`: unmaps `[addr, addr + len)`.
///
/// # Safety
///
/// Nothing may use memory in that range afterwards: no reference, no heap
/// block, no stack.
pub unsafe fn munmap(addr: usize, len: usize) -> Result<()> {
    // SAFETY: the caller guarantees the range is no longer used.
    demux(unsafe { syscall2(sc::SYS_FUNMAP, addr, len) }).map(drop)
}

/// `SYS_MPROTECT`: sets the protection (`PROT_*` bits of `flags`) of
/// `[addr, addr + len)`.
///
/// # Safety
///
/// Removing access from memory the program still uses turns later uses
/// into faults, and adding `PROT_EXEC` makes data executable; the caller
/// must know the range is only used in ways the new protection allows.
pub unsafe fn mprotect(addr: usize, len: usize, flags: MapFlags) -> Result<()> {
    // SAFETY: the caller vouches for the range and its new protection.
    demux(unsafe { syscall3(sc::SYS_MPROTECT, addr, len, flags.bits()) }).map(drop)
}

/// `SYS_FUTEX` with `FUTEX_WAIT`: sleeps while `*word == expected`, until a
/// [`futex_wake`] on the same word (or `timeout`, then `ETIMEDOUT`).
/// Returns at once with `EAGAIN` if the word already differs.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<&TimeSpec>) -> Result<()> {
    let timeout = timeout.map_or(0, |t| (t as *const TimeSpec).expose_provenance());
    // SAFETY: the kernel only reads the word (atomically) and the timeout.
    demux(unsafe {
        syscall5(sc::SYS_FUTEX, word.as_ptr().expose_provenance(), sc::FUTEX_WAIT, expected as usize, timeout, 0)
    })
    .map(drop)
}

/// `SYS_FUTEX` with `FUTEX_WAKE`: wakes up to `count` waiters on `word`;
/// returns how many were woken.
pub fn futex_wake(word: &AtomicU32, count: usize) -> Result<usize> {
    // SAFETY: the kernel does not touch the word's memory for a wake.
    demux(unsafe { syscall5(sc::SYS_FUTEX, word.as_ptr().expose_provenance(), sc::FUTEX_WAKE, count, 0, 0) })
}

/// `SYS_PORT_GRANT`: lets process `pid` use I/O ports `base..base + count`
/// (privileged).
pub fn port_grant(pid: usize, base: usize, count: usize) -> Result<()> {
    // SAFETY: changes another process's I/O permissions, no memory of ours.
    demux(unsafe { syscall3(abi::SYS_PORT_GRANT, pid, base, count) }).map(drop)
}

/// `SYS_DUP`: with an empty `name`, another fd for the same open file;
/// otherwise a new file the scheme derives from it (`"write"` on a pipe's
/// read end, `"listen"` on a channel, ...).
pub fn dup(fd: usize, name: &[u8]) -> Result<usize> {
    // SAFETY: the kernel only reads `name`.
    demux(unsafe { syscall3(sc::SYS_DUP, fd, name.as_ptr().expose_provenance(), name.len()) })
}

/// `SYS_DUP2`: like [`dup`], at exactly `new_fd` (closing what was there).
pub fn dup2(fd: usize, new_fd: usize, name: &[u8]) -> Result<usize> {
    // SAFETY: the kernel only reads `name`; replacing `new_fd` closes a file,
    // which touches no memory of ours.
    demux(unsafe { syscall4(sc::SYS_DUP2, fd, new_fd, name.as_ptr().expose_provenance(), name.len()) })
}

/// `SYS_FCNTL`: `F_GETFL`/`F_SETFL` (status flags such as `O_NONBLOCK`),
/// `F_GETFD`/`F_SETFD` (close-on-exec).
pub fn fcntl(fd: usize, cmd: usize, arg: usize) -> Result<usize> {
    // SAFETY: touches no memory of ours.
    demux(unsafe { syscall3(sc::SYS_FCNTL, fd, cmd, arg) })
}

/// `SYS_FSYNC`.
pub fn fsync(fd: usize) -> Result<()> {
    // SAFETY: touches no memory of ours.
    demux(unsafe { syscall1(sc::SYS_FSYNC, fd) }).map(drop)
}

/// `SYS_FTRUNCATE`: sets the file's length to `len`.
pub fn ftruncate(fd: usize, len: usize) -> Result<()> {
    // SAFETY: touches no memory of ours.
    demux(unsafe { syscall2(sc::SYS_FTRUNCATE, fd, len) }).map(drop)
}

/// `SYS_FRENAME`: renames the file open on `fd` to `path` (same scheme).
pub fn frename(fd: usize, path: &str) -> Result<()> {
    // SAFETY: the kernel only reads `path`.
    demux(unsafe { syscall3(sc::SYS_FRENAME, fd, path.as_ptr().expose_provenance(), path.len()) }).map(drop)
}

/// `SYS_UNLINK`: removes the file at the URL `path`.
pub fn unlink(path: &str) -> Result<()> {
    // SAFETY: the kernel only reads `path`.
    demux(unsafe { syscall2(sc::SYS_UNLINK, path.as_ptr().expose_provenance(), path.len()) }).map(drop)
}

/// `SYS_RMDIR`: removes the directory at the URL `path`.
pub fn rmdir(path: &str) -> Result<()> {
    // SAFETY: the kernel only reads `path`.
    demux(unsafe { syscall2(sc::SYS_RMDIR, path.as_ptr().expose_provenance(), path.len()) }).map(drop)
}

/// `SYS_SENDFD`: gives the open file `fd` to the daemon serving `socket`'s
/// scheme, with `flags` and `arg` for it; on success `fd` is closed here.
pub fn sendfd(socket: usize, fd: usize, flags: usize, arg: usize) -> Result<usize> {
    // SAFETY: moves an fd, touches no memory of ours.
    demux(unsafe { syscall4(sc::SYS_SENDFD, socket, fd, flags, arg) })
}

/// `SYS_FPATH`: the URL of the file open on `fd`, written into `buf`;
/// returns its length (truncated to `buf`).
pub fn fpath(fd: usize, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    demux(unsafe { syscall3(sc::SYS_FPATH, fd, buf.as_mut_ptr().expose_provenance(), buf.len()) })
}

/// `abi::SYS_NS_RESTRICT`: keep only the schemes in `names` visible from
/// now on (none: the null namespace, which opens nothing new).
pub fn ns_restrict(names: &[&str]) -> Result<()> {
    let strs: alloc::vec::Vec<UserStr> =
        names.iter().map(|s| UserStr { ptr: s.as_ptr().expose_provenance(), len: s.len() }).collect();
    // SAFETY: the kernel only reads the `UserStr` array and the names.
    demux(unsafe { syscall2(abi::SYS_NS_RESTRICT, strs.as_ptr().expose_provenance(), strs.len()) }).map(drop)
}

/// `abi::SYS_SETUID`: become user `uid`, group `gid` (root only).
pub fn setuid(uid: u32, gid: u32) -> Result<()> {
    // SAFETY: touches no memory of ours.
    demux(unsafe { syscall2(abi::SYS_SETUID, uid as usize, gid as usize) }).map(drop)
}

/// `SYS_FMAP`: maps `size` bytes of the file open on `fd` at `offset`
/// (page-aligned) with `flags` (`PROT_*`, `MAP_SHARED`/`MAP_PRIVATE`,
/// `MAP_FIXED*`) near `hint`; returns the address.
///
/// # Safety
///
/// As for [`mmap`]: with `MAP_FIXED` the range must be memory nothing in
/// the program uses.
pub unsafe fn fmap(fd: usize, offset: usize, size: usize, flags: MapFlags, hint: usize) -> Result<usize> {
    let map = sc::Map { offset, size, flags, address: hint };
    // SAFETY: the kernel reads one `Map`; the caller vouches for MAP_FIXED.
    demux(unsafe { syscall3(sc::SYS_FMAP, fd, (&raw const map).expose_provenance(), size_of::<sc::Map>()) })
}
