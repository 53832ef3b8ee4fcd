//! Ferrite's system-call ABI, defined once for the kernel and userspace.
//!
//! Numbers, flags, errno values and the shared structures (`TimeSpec`,
//! `Stat`, `Packet`, ...) come from `redox_syscall` 0.5.18, re-exported as
//! [`syscall`]. What that version lacks — process control and the memory
//! calls a system without schemes needs — is defined here, in the range
//! `0x1000..0x1100`, which `redox_syscall` leaves unused and which carries no
//! class bits (these calls name neither a path nor a file descriptor).
//!
//! Calling convention (x86_64, `syscall` instruction): RAX = number; RDI,
//! RSI, RDX, R10, R8, R9 = arguments 1-6; RAX = result, a negative errno on
//! error ([`decode_result`]). RCX and R11 are clobbered.

#![no_std]
#![forbid(unsafe_code)]

pub use syscall;
pub use syscall::number::*;

/// End the calling process. `a` = exit status (0-255).
pub const SYS_EXIT: usize = 0x1000;
/// Duplicate the calling process (copy-on-write). Returns the child's pid in
/// the parent and 0 in the child.
pub const SYS_FORK: usize = 0x1001;
/// Replace the calling process's program with the ELF file open on fd `a`.
/// `b`/`c` = pointer/count of the argument strings, `d`/`e` = the same for
/// the environment; each is an array of [`UserStr`]. Does not return on
/// success.
pub const SYS_EXEC: usize = 0x1002;
/// Wait for a child to end. `a` = pid, or [`WAIT_ANY`]; `b` = pointer to a
/// `usize` for the status (may be 0); `c` = [`WNOHANG`] or 0. Returns the
/// pid that ended, or 0 with `WNOHANG` when none has yet.
pub const SYS_WAITPID: usize = 0x1003;
pub const SYS_GETPID: usize = 0x1004;
pub const SYS_GETPPID: usize = 0x1005;
/// Send signal `b` to process `a`, or, when `a` is negative as an
/// `isize`, to every live process of group `-a` the caller may signal
/// (`ESRCH` if the group has none, `EPERM` if it may signal none).
pub const SYS_KILL: usize = 0x1006;
/// Map anonymous zeroed memory. `a` = address hint (or the exact address
/// with `MAP_FIXED`), `b` = length, `c` = `syscall::MapFlags` bits
/// (`PROT_*`, `MAP_PRIVATE`, `MAP_FIXED`, `MAP_FIXED_NOREPLACE`). Returns
/// the address. Unmap with `SYS_FUNMAP(addr, len)`, change protection with
/// `SYS_MPROTECT(addr, len, flags)`.
pub const SYS_MMAP: usize = 0x1007;
/// Let process `a` use I/O ports `b..b + c` (root, and not from the null
/// namespace: a confined driver cannot take more ports).
pub const SYS_PORT_GRANT: usize = 0x1008;

/// Narrow the calling process's namespace to the schemes named by the
/// array of [`UserStr`] at `a` (`b` entries), each of which it must see now
/// (`ENODEV` otherwise). `b` = 0 enters the null namespace, where nothing
/// new can be opened. Children inherit the namespace; it never widens.
pub const SYS_NS_RESTRICT: usize = 0x1009;
/// Set the calling process's uid to `a` and gid to `b` (root only).
pub const SYS_SETUID: usize = 0x100a;
/// Put process `a` (0 = the caller; the caller itself or a child of it)
/// into process group `b` (0 = `a`'s pid). The group must be `a`'s own pid
/// or already have a live member (`EPERM` otherwise); `ESRCH` for any
/// other process, `EINVAL` for values negative as `isize`. Fork inherits
/// the group; the first process's group is its pid.
pub const SYS_SETPGID: usize = 0x100b;
/// The process group of process `a` (0 = the caller); `ESRCH` if there is
/// no such live process. `SYS_KILL` with `a` negative as `isize` signals
/// every live process of group `-a`.
pub const SYS_GETPGID: usize = 0x100c;
/// Write then read on one fd, in one system call: `a` = fd, `b`/`c` = the
/// bytes to write, `d`/`e` = the buffer to read into. Returns what the
/// read returns; if the write fails, its error (and nothing is read). A
/// short write is an `EIO`: the exchange is one message each way. A scheme
/// daemon answers a request and takes the next with it (the reply-and-wait
/// of L4-family kernels); a client on a socket sends and waits for the
/// reply.
pub const SYS_WRITE_READ: usize = 0x100d;
/// Several file operations in one system call: `a` = pointer to `b`
/// [`Sqe`]s (at most [`SUBMIT_MAX`]), `c` = pointer to as many [`Cqe`]s the
/// kernel fills. The operations run in order; the first that fails ends
/// the batch (its completion holds the error, the ones after `ECANCELED`).
/// Returns how many succeeded. An operation may name the file the batch's
/// last `SQE_OPEN` opened ([`SQE_FD_OPENED`]): open, read and close of a
/// file in one call. On a scheme daemon such a run reaches the daemon as
/// back-to-back requests, each sent as the last is answered, without a
/// trip back to the caller in between.
pub const SYS_SUBMIT: usize = 0x100e;

/// The most operations in one `SYS_SUBMIT`.
pub const SUBMIT_MAX: usize = 64;
/// `Sqe::op`: open the path at `addr`/`len` with open flags `arg`; the
/// completion holds the new fd (0 if a later `SQE_CLOSE` of the batch
/// closed it).
pub const SQE_OPEN: u32 = 1;
/// `Sqe::op`: read up to `len` bytes of `fd` into `addr`.
pub const SQE_READ: u32 = 2;
/// `Sqe::op`: write `len` bytes at `addr` to `fd`.
pub const SQE_WRITE: u32 = 3;
/// `Sqe::op`: seek `fd` to offset `arg` (as `isize`) from whence `len`.
pub const SQE_SEEK: u32 = 4;
/// `Sqe::op`: close `fd`.
pub const SQE_CLOSE: u32 = 5;
/// `Sqe::op`: the file's `Stat` into `addr` (`len` at least its size).
pub const SQE_FSTAT: u32 = 6;
/// `Sqe::fd`: the file the last `SQE_OPEN` before it in the batch opened.
pub const SQE_FD_OPENED: u64 = u64::MAX;

/// One operation of a `SYS_SUBMIT` batch (a submission queue entry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Sqe {
    /// `SQE_OPEN`, `SQE_READ`, ...
    pub op: u32,
    /// Reserved: 0.
    pub flags: u32,
    pub fd: u64,
    pub addr: u64,
    pub len: u64,
    pub arg: u64,
    /// Copied to the completion as is.
    pub user_data: u64,
}

/// What one operation of a batch did (a completion queue entry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Cqe {
    /// The operation's value (an fd, a count, an offset), or a negative
    /// errno.
    pub result: i64,
    /// The submission's `user_data`.
    pub user_data: u64,
}

/// `SYS_WAITPID`: wait for any child.
pub const WAIT_ANY: usize = usize::MAX;
/// `SYS_WAITPID`: return 0 instead of blocking.
pub const WNOHANG: usize = 1;

/// Signals understood by `SYS_KILL`.
pub const SIGINT: usize = 2;
pub const SIGKILL: usize = 9;
pub const SIGTERM: usize = 15;

/// Signals the kernel ends a faulting process with (reported by `waitpid`).
pub const SIGILL: usize = 4;
pub const SIGFPE: usize = 8;
pub const SIGSEGV: usize = 11;

/// How a wait status encodes the end of a process: an exit status in bits
/// 8-15 (low bits 0), or the signal that ended it in bits 0-6.
pub mod status {
    pub const fn exited(code: u8) -> usize {
        (code as usize) << 8
    }
    pub const fn signaled(signal: usize) -> usize {
        signal & 0x7f
    }
    pub const fn exit_code(status: usize) -> Option<u8> {
        if status & 0x7f == 0 { Some((status >> 8) as u8) } else { None }
    }
    pub const fn signal(status: usize) -> Option<usize> {
        if status & 0x7f != 0 { Some(status & 0x7f) } else { None }
    }
}

/// The result of a system call from its RAX: a negative errno (the values
/// `-4095..=-1`, as the whole register) is an error, anything else the
/// value. `redox_syscall`'s `Error::demux` must not be used for this: it
/// looks only at the low 32 bits, so a seek to offset `0xffff_ffff` (or
/// `isize::MAX`) came back as `EPERM`.
pub fn decode_result(ret: usize) -> Result<usize, syscall::Error> {
    if ret > usize::MAX - 4095 { Err(syscall::Error::new(ret.wrapping_neg() as i32)) } else { Ok(ret) }
}

/// Where `lseek(offset, whence)` moves a file offset that is now at
/// `current` in a file of `len` bytes; `None` for a bad `whence` or a
/// target before the start (`EINVAL`). Past the end is allowed, as POSIX
/// says. Shared by every scheme with offsets, kernel and daemons alike.
pub fn seek_target(current: usize, len: usize, offset: isize, whence: usize) -> Option<usize> {
    let base = match whence {
        syscall::SEEK_SET => 0,
        syscall::SEEK_CUR => current,
        syscall::SEEK_END => len,
        _ => return None,
    };
    base.checked_add_signed(offset)
}

/// Split a URL, `scheme:path`, at its first colon; `None` without one.
/// The kernel routes every open by it, so it looks for the colon eight
/// bytes at a time (`str::split_once` went a byte at a time through a
/// generic searcher: about 130 instructions on a 10-byte URL).
pub fn split_url(url: &str) -> Option<(&str, &str)> {
    let at = colon_at(url.as_bytes())?;
    // `:` is ASCII, so both sides of it are whole UTF-8.
    Some((url.get(..at)?, url.get(at + 1..)?))
}

/// Where the first `:` of `bytes` is.
fn colon_at(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const COLONS: u64 = ONES * b':' as u64;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let x = u64::from_le_bytes(word.try_into().unwrap_or_default()) ^ COLONS;
        // A zero byte of `x` is a colon. The lowest one sets the lowest
        // flagged bit: a borrow only runs upwards from a zero byte, so a
        // byte below the first colon is never flagged.
        let found = x.wrapping_sub(ONES) & !x & (ONES << 7);
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    words.remainder().iter().position(|&b| b == b':').map(|i| at + i)
}

/// A string passed to the kernel: pointer and length, no terminator.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct UserStr {
    pub ptr: usize,
    pub len: usize,
}

/// Auxiliary vector keys on a new program's stack (System V values).
pub mod auxv {
    pub const AT_NULL: usize = 0;
    pub const AT_PHDR: usize = 3;
    pub const AT_PHENT: usize = 4;
    pub const AT_PHNUM: usize = 5;
    pub const AT_PAGESZ: usize = 6;
    pub const AT_ENTRY: usize = 9;
    /// Bootstrap only (its stub puts these on the stack it makes): where
    /// the kernel mapped the initfs image, its length, and whether this is
    /// a self-test boot (then bootstrap execs the test suite, not init).
    pub const AT_FERRITE_IMAGE_ADDR: usize = 0x1000;
    pub const AT_FERRITE_IMAGE_LEN: usize = 0x1001;
    pub const AT_FERRITE_SELFTEST: usize = 0x1002;
}

/// The base every userspace program is linked at (non-PIE, docs/architecture.md §9.3).
pub const USER_IMAGE_BASE: usize = 0x40_0000;
/// The top of user address space (exclusive): the lower canonical half.
pub const USER_END: usize = 0x0000_8000_0000_0000;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn own_numbers_do_not_collide_with_redox() {
        let ours = [
            SYS_EXIT,
            SYS_FORK,
            SYS_EXEC,
            SYS_WAITPID,
            SYS_GETPID,
            SYS_GETPPID,
            SYS_KILL,
            SYS_MMAP,
            SYS_PORT_GRANT,
            SYS_NS_RESTRICT,
            SYS_SETUID,
            SYS_SETPGID,
            SYS_GETPGID,
            SYS_WRITE_READ,
            SYS_SUBMIT,
        ];
        let redox = [
            SYS_OPEN,
            SYS_OPENAT,
            SYS_RMDIR,
            SYS_UNLINK,
            SYS_CLOSE,
            SYS_DUP,
            SYS_DUP2,
            SYS_READ,
            SYS_WRITE,
            SYS_LSEEK,
            SYS_FCHMOD,
            SYS_FCHOWN,
            SYS_FCNTL,
            SYS_FEVENT,
            SYS_SENDFD,
            SYS_FMAP,
            SYS_FUNMAP,
            SYS_FPATH,
            SYS_FSTAT,
            SYS_FSYNC,
            SYS_FTRUNCATE,
            SYS_CLOCK_GETTIME,
            SYS_FUTEX,
            SYS_MPROTECT,
            SYS_MKNS,
            SYS_NANOSLEEP,
            SYS_YIELD,
        ];
        for n in ours {
            assert!(!redox.contains(&n), "{n:#x} collides");
            assert_eq!(n & SYS_CLASS, 0, "{n:#x} has class bits");
        }
    }

    #[test]
    fn seek_targets() {
        use syscall::{SEEK_CUR, SEEK_END, SEEK_SET};
        assert_eq!(seek_target(5, 10, 3, SEEK_SET), Some(3));
        assert_eq!(seek_target(5, 10, -2, SEEK_CUR), Some(3));
        assert_eq!(seek_target(5, 10, 4, SEEK_END), Some(14));
        assert_eq!(seek_target(5, 10, -11, SEEK_END), None);
        assert_eq!(seek_target(5, 10, -1, SEEK_SET), None);
        assert_eq!(seek_target(usize::MAX, 10, 1, SEEK_CUR), None);
        assert_eq!(seek_target(0, 0, 0, 3), None);
    }

    #[test]
    fn status_round_trips() {
        assert_eq!(status::exit_code(status::exited(3)), Some(3));
        assert_eq!(status::signal(status::exited(3)), None);
        assert_eq!(status::signal(status::signaled(SIGKILL)), Some(SIGKILL));
        assert_eq!(status::exit_code(status::signaled(SIGTERM)), None);
    }
}

#[cfg(test)]
mod result_tests {
    use super::*;

    #[test]
    fn results_decode_by_the_whole_register() {
        assert_eq!(decode_result(0), Ok(0));
        assert_eq!(decode_result(0xffff_ffff), Ok(0xffff_ffff));
        assert_eq!(decode_result(isize::MAX as usize), Ok(isize::MAX as usize));
        assert_eq!(decode_result(usize::MAX - 4095), Ok(usize::MAX - 4095));
        assert_eq!(decode_result(usize::MAX), Err(syscall::Error::new(syscall::error::EPERM)));
        assert_eq!(decode_result(-(syscall::error::ENOENT as isize) as usize).map_err(|e| e.errno), Err(2));
        assert_eq!(decode_result(usize::MAX - 4094).map_err(|e| e.errno), Err(4095));
        for errno in 1..4096 {
            assert_eq!(
                decode_result(syscall::Error::mux(Err(syscall::Error::new(errno)))),
                Err(syscall::Error::new(errno))
            );
        }
    }
}

#[cfg(test)]
mod url_tests {
    extern crate std;

    use super::*;
    use std::string::String;

    #[test]
    fn urls_split_at_their_first_colon() {
        assert_eq!(split_url("file:/a/b"), Some(("file", "/a/b")));
        assert_eq!(split_url(":name"), Some(("", "name")));
        assert_eq!(split_url("tcp:10.0.2.2:80"), Some(("tcp", "10.0.2.2:80")));
        assert_eq!(split_url("benchzero:"), Some(("benchzero", "")));
        assert_eq!(split_url("no-colon-in-this-long-name"), None);
        assert_eq!(split_url(""), None);
        assert_eq!(split_url("ünïcödé-schéme:päth"), Some(("ünïcödé-schéme", "päth")));
    }

    #[test]
    fn every_colon_position_agrees_with_split_once() {
        // Colons at every place of strings up to 40 bytes, with bytes on
        // either side of ':' (0x3a) that a word-at-a-time test could
        // mistake for it: 0x39, 0x3b, 0xba, and multi-byte characters.
        let fillers = ['9', ';', 'a', 'º', '€'];
        for len in 0..40 {
            for filler in fillers {
                let base: String = core::iter::repeat_n(filler, len).collect();
                assert_eq!(split_url(&base), base.split_once(':'), "{base:?}");
                for at in 0..=len {
                    let mut url: String = core::iter::repeat_n(filler, at).collect();
                    url.push(':');
                    url.extend(core::iter::repeat_n(filler, len - at));
                    url.push(':');
                    assert_eq!(split_url(&url), url.split_once(':'), "{url:?}");
                }
            }
        }
    }
}
