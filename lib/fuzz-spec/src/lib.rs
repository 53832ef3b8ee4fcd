//! What the system-call fuzzer (`programs/fuzz`) knows about the kernel's
//! interface, in the manner of syzkaller's descriptions: every system call
//! with the *kinds* of its arguments (an fd, a user buffer and its length,
//! a path URL, open or map flags, a pid, an address, a size, ...), and for
//! each kind a pool of values to draw from: valid ones (so most calls get
//! past the first check and reach the code behind it), boundary ones (0,
//! page sizes, the largest accepted lengths) and hostile ones (kernel and
//! non-canonical addresses, ranges that wrap, huge lengths, closed and
//! foreign fds, every scheme's paths, names too long or not UTF-8).
//!
//! It is pure: [`generate`] turns a random generator and a description of
//! the calling process ([`World`]: its scratch buffer, a read-only page,
//! an unmapped address, its fds and pids) into one [`Call`], writing any
//! pointed-to data (paths, `TimeSpec`s, `Map`s, string arrays) into the
//! scratch buffer. The same seed and world give the same calls, so a
//! child's run repeats from its seed.
//!
//! May touch: nothing but the scratch buffer it is given.

#![no_std]
#![forbid(unsafe_code)]

mod pools;
#[cfg(test)]
mod tests;

use abi::*;
use xorshift::Rng;

pub use pools::{PATHS, SCHEMES, SCHEMES_SPARED};

/// How an argument is made. Some kinds fill two registers (a pointer and
/// its length or count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// An fd: one of the process's, or 0-2, a closed one, a huge one.
    Fd,
    /// A buffer the kernel reads, and its length (two registers).
    InBuf,
    /// A buffer the kernel writes, and its length (two registers).
    OutBuf,
    /// A `scheme:path` URL and its length (two registers).
    Path,
    /// A dup name (`"listen"`, `"write"`, ...) and its length (two registers).
    DupName,
    /// `O_*` open flags.
    OpenFlags,
    /// `PROT_*`/`MAP_*` bits.
    MapFlags,
    /// A pid (own, parent, child, init, none, negative = group).
    Pid,
    Signal,
    /// A user address for memory calls (page-aligned mostly).
    Addr,
    /// A length for memory calls, `ftruncate`, `lseek`.
    Size,
    Whence,
    /// A signed offset.
    Offset,
    FcntlCmd,
    FutexOp,
    /// A pointer to a `TimeSpec`, or null.
    TimeSpec,
    /// A pointer to a `Map` (for `fmap`), and its size (two registers).
    Map,
    /// A pointer to an array of `UserStr` and its count (two registers).
    Strings,
    /// A pointer to an array of `Sqe` and its count (two registers): mostly
    /// an open and calls on the file it opens, the shape a daemon gets as
    /// one chain request.
    Batch,
    ClockId,
    /// A user or group id.
    Id,
    /// A small count (futex wakes, `ns_restrict` names).
    Count,
    /// Any 64 bits.
    Any,
}

impl Arg {
    /// Registers the argument fills.
    pub const fn slots(self) -> usize {
        match self {
            Arg::InBuf | Arg::OutBuf | Arg::Path | Arg::DupName | Arg::Map | Arg::Strings | Arg::Batch => 2,
            _ => 1,
        }
    }
}

/// One system call's description.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub name: &'static str,
    pub number: usize,
    pub args: &'static [Arg],
    /// How often it is drawn, relative to the others.
    pub weight: u32,
}

use Arg::*;

/// Every system call the kernel has (`kernel/src/syscall/mod.rs`'s
/// dispatcher), except `SYS_EXIT`, which the fuzzer makes only by ending.
pub const SPECS: &[Spec] = &[
    Spec { name: "open", number: SYS_OPEN, args: &[Path, OpenFlags], weight: 60 },
    Spec { name: "unlink", number: SYS_UNLINK, args: &[Path], weight: 8 },
    Spec { name: "rmdir", number: SYS_RMDIR, args: &[Path], weight: 6 },
    Spec { name: "close", number: SYS_CLOSE, args: &[Fd], weight: 30 },
    Spec { name: "read", number: SYS_READ, args: &[Fd, OutBuf], weight: 60 },
    Spec { name: "write", number: SYS_WRITE, args: &[Fd, InBuf], weight: 60 },
    Spec { name: "write_read", number: abi::SYS_WRITE_READ, args: &[Fd, InBuf, OutBuf], weight: 10 },
    // Batches of an open and calls on its file (chains, on daemons one
    // request), now and then random bytes as submissions.
    Spec { name: "submit", number: abi::SYS_SUBMIT, args: &[Batch, OutBuf], weight: 8 },
    Spec { name: "lseek", number: SYS_LSEEK, args: &[Fd, Offset, Whence], weight: 15 },
    Spec { name: "fstat", number: SYS_FSTAT, args: &[Fd, OutBuf], weight: 15 },
    Spec { name: "fpath", number: SYS_FPATH, args: &[Fd, OutBuf], weight: 10 },
    Spec { name: "dup", number: SYS_DUP, args: &[Fd, DupName], weight: 25 },
    Spec { name: "dup2", number: SYS_DUP2, args: &[Fd, Fd, DupName], weight: 8 },
    Spec { name: "fcntl", number: SYS_FCNTL, args: &[Fd, FcntlCmd, Any], weight: 10 },
    Spec { name: "fsync", number: SYS_FSYNC, args: &[Fd], weight: 5 },
    Spec { name: "fstatvfs", number: SYS_FSTATVFS, args: &[Fd, OutBuf], weight: 3 },
    Spec { name: "ftruncate", number: SYS_FTRUNCATE, args: &[Fd, Size], weight: 12 },
    Spec { name: "frename", number: SYS_FRENAME, args: &[Fd, Path], weight: 6 },
    Spec { name: "sendfd", number: SYS_SENDFD, args: &[Fd, Fd, Any, Any], weight: 6 },
    Spec { name: "fork", number: SYS_FORK, args: &[], weight: 2 },
    Spec { name: "exec", number: SYS_EXEC, args: &[Fd, Strings, Strings], weight: 3 },
    Spec { name: "waitpid", number: SYS_WAITPID, args: &[Pid, OutBuf], weight: 5 },
    Spec { name: "getpid", number: SYS_GETPID, args: &[], weight: 2 },
    Spec { name: "getppid", number: SYS_GETPPID, args: &[], weight: 2 },
    Spec { name: "kill", number: SYS_KILL, args: &[Pid, Signal], weight: 4 },
    Spec { name: "yield", number: SYS_YIELD, args: &[], weight: 3 },
    Spec { name: "port_grant", number: SYS_PORT_GRANT, args: &[Pid, Any, Count], weight: 2 },
    Spec { name: "ns_restrict", number: SYS_NS_RESTRICT, args: &[Strings], weight: 1 },
    Spec { name: "setuid", number: SYS_SETUID, args: &[Id, Id], weight: 2 },
    Spec { name: "setpgid", number: SYS_SETPGID, args: &[Pid, Pid], weight: 3 },
    Spec { name: "getpgid", number: SYS_GETPGID, args: &[Pid], weight: 2 },
    Spec { name: "mmap", number: SYS_MMAP, args: &[Addr, Size, MapFlags], weight: 20 },
    Spec { name: "fmap", number: SYS_FMAP, args: &[Fd, Map], weight: 15 },
    Spec { name: "funmap", number: SYS_FUNMAP, args: &[Addr, Size], weight: 15 },
    Spec { name: "mprotect", number: SYS_MPROTECT, args: &[Addr, Size, MapFlags], weight: 12 },
    Spec { name: "clock_gettime", number: SYS_CLOCK_GETTIME, args: &[ClockId, OutBuf], weight: 4 },
    Spec { name: "nanosleep", number: SYS_NANOSLEEP, args: &[TimeSpec, TimeSpec], weight: 2 },
    Spec { name: "futex", number: SYS_FUTEX, args: &[Addr, FutexOp, Any, TimeSpec], weight: 8 },
];

/// What the fuzzer knows of the calling process.
#[derive(Clone, Debug)]
pub struct World<'a> {
    /// The address of the scratch buffer (`generate`'s `scratch`), which
    /// the process owns and lets the kernel read and write.
    pub scratch_addr: usize,
    /// A read-only page of the process's.
    pub read_only: usize,
    /// A page-aligned range the process keeps for memory calls: mapping,
    /// unmapping and re-protecting inside it harms nothing else.
    pub playground: (usize, usize),
    /// Fds the process has (or had: closed ones stay in the list).
    pub fds: &'a [usize],
    pub pid: usize,
    pub ppid: usize,
    /// Its children (forked by the fuzzer's own `fork` calls).
    pub children: &'a [usize],
    /// Its number among the fuzzer's children, to name its files.
    pub slot: usize,
}

/// One generated call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub spec: usize,
    pub args: [usize; 6],
}

impl Call {
    pub fn spec(&self) -> &'static Spec {
        &SPECS[self.spec]
    }
}

/// Bytes of scratch [`generate`] may use.
pub const SCRATCH_LEN: usize = 64 * 1024;

/// A call drawn from `rng` for `world`, its pointed-to data written to
/// `scratch` (at least [`SCRATCH_LEN`] bytes, at `world.scratch_addr`).
pub fn generate(rng: &mut Rng, world: &World<'_>, scratch: &mut [u8]) -> Call {
    let total: u32 = SPECS.iter().map(|s| s.weight).sum();
    let mut pick = rng.below(total as usize) as u32;
    let mut spec = 0;
    for (i, s) in SPECS.iter().enumerate() {
        if pick < s.weight {
            spec = i;
            break;
        }
        pick -= s.weight;
    }
    let mut args = [0usize; 6];
    let mut slot = 0;
    let mut cursor = pools::Cursor::new(world.scratch_addr, scratch);
    for &arg in SPECS[spec].args {
        let values = pools::draw(rng, world, arg, &mut cursor);
        args[slot] = values[0];
        if arg.slots() == 2 {
            args[slot + 1] = values[1];
        }
        slot += arg.slots();
    }
    Call { spec, args }
}
