//! The pools of values each argument kind is drawn from. Roughly: three
//! draws in four are valid (so the call gets past the first check and
//! reaches the code behind it), the rest boundary or hostile values.

use abi::syscall::{
    F_GETFD, F_GETFL, F_SETFD, F_SETFL, FUTEX_WAIT, FUTEX_WAKE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL,
    O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
};
use abi::{
    SIGINT, SIGKILL, SIGTERM, SQE_CLOSE, SQE_FD_OPENED, SQE_FSTAT, SQE_OPEN, SQE_READ, SQE_SEEK, SQE_WRITE, Sqe,
    USER_END,
};
use xorshift::Rng;

use super::{Arg, SCRATCH_LEN, World};

const PAGE: usize = 4096;
/// The first half of the scratch buffer: in and out buffers. The second
/// half: data the kernel reads through pointers (paths, structures).
const BUFFERS: usize = SCRATCH_LEN / 2;

/// Schemes the fuzzer's children may not open, and why: `serial:`,
/// `fbcon:` and `debug:` are the consoles the harness reads and types into
/// (garbage written there would be taken for test output), `ps2:` is the
/// keyboard. The consoles' scheme code is fuzzed through a private console
/// instead.
pub const SCHEMES_SPARED: &[&str] = &["serial", "fbcon", "debug", "ps2"];

/// Scheme parts of generated URLs (`""` is the root scheme, `fuzzd` the
/// fuzzer's hostile daemon, `fuzzcon` its private console, `nope` one
/// that does not exist).
pub const SCHEMES: &[&str] = &[
    "tmp", "tmp", "tmp", "chan", "chan", "shm", "shm", "log", "pci", "sys", "null", "zero", "rand", "pipe", "pipe",
    "event", "event", "memory", "time", "irq", "initfs", "", "fuzzd", "fuzzd", "fuzzcon", "fuzzcon", "power", "disk",
    "file", "file", "tcp", "tcp", "udp", "icmp", "netcfg", "netcfg", "ip", "nope", "TMP",
];

/// Path parts of generated URLs; `@` is replaced by a digit (so children
/// share some names and race on them).
pub const PATHS: &[&str] = &[
    "",
    "/",
    "fuzz@",
    "fuzz@/a",
    "fuzz@/a/b",
    "fuzz@/b",
    "fuzz@/a/../a",
    "tmp/fuzz@",
    "tmp/fuzz@/a",
    "..",
    "../..",
    "context",
    "memory",
    "namespace",
    "log",
    "uname",
    "physical",
    "physical/0xa0000/0x1000",
    "dma/0x1000",
    "msi",
    "zero",
    "4",
    "1",
    "0",
    "2",
    "bin",
    "bin/hello",
    "test/not-elf",
    "test/truncated",
    "test/wx-segment",
    "etc/init.rc",
    "00:00.0",
    "00:01.0",
    "a\nb",
    "a\0b",
    ":",
    "fuzz@/\u{00e9}",
    "10.0.2.2:@",
    "10.0.2.2:80@",
    ":80@",
    "999.1.1.1:80",
    "echo/10.0.2.2",
    "echo/10.0.2.@",
    "eth0",
    "eth0/address",
    "eth@/gateway",
    "dns",
    "memory",
    "resolve/fuzz@.example",
    "17",
    "25@",
];

/// Where pointed-to data is written: the second half of the scratch.
pub(crate) struct Cursor<'a> {
    base: usize,
    scratch: &'a mut [u8],
    used: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(base: usize, scratch: &'a mut [u8]) -> Cursor<'a> {
        Cursor { base, scratch, used: BUFFERS }
    }

    /// Store `bytes` (8-byte aligned) and return their address; the last
    /// bytes of the scratch if it is full (a later call overwrites them,
    /// which is only more garbage).
    fn put(&mut self, bytes: &[u8]) -> usize {
        let len = bytes.len().min(SCRATCH_LEN - BUFFERS);
        let start = if self.used + len <= SCRATCH_LEN { self.used } else { SCRATCH_LEN - len };
        self.scratch[start..start + len].copy_from_slice(&bytes[..len]);
        self.used = (start + len).next_multiple_of(8).min(SCRATCH_LEN);
        self.base + start
    }

    fn put_words(&mut self, words: &[u64]) -> usize {
        let mut bytes = [0u8; 64];
        let n = words.len().min(8);
        for (i, w) in words[..n].iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        self.put(&bytes[..n * 8])
    }
}

/// One in `n`.
fn one_in(rng: &mut Rng, n: usize) -> bool {
    rng.below(n) == 0
}

/// Addresses no process may hand the kernel.
fn hostile_address(rng: &mut Rng, world: &World<'_>) -> usize {
    *rng.pick(&[
        0,
        1,
        PAGE - 1,
        0xffff_8000_0000_0000,
        0xffff_ffff_8000_0000,
        0xffff_ffff_ffff_f000,
        USER_END,
        USER_END - PAGE,
        USER_END - 1,
        usize::MAX - 7,
        0x0000_1234_5678_9000,
        world.read_only,
        world.read_only + PAGE - 8,
    ])
    .unwrap_or(&0)
}

/// Lengths at and past every limit the kernel has.
fn hostile_length(rng: &mut Rng) -> usize {
    *rng.pick(&[
        PAGE - 1,
        PAGE + 1,
        64 * 1024,
        1 << 20,
        16 << 20,
        (16 << 20) + 1,
        1 << 30,
        1 << 40,
        USER_END,
        isize::MAX as usize,
        usize::MAX,
        usize::MAX - PAGE + 1,
    ])
    .unwrap_or(&0)
}

fn fd(rng: &mut Rng, world: &World<'_>) -> usize {
    match rng.below(10) {
        0..=6 if !world.fds.is_empty() => *rng.pick(world.fds).unwrap_or(&0),
        0..=7 => rng.below(3),
        _ => *rng.pick(&[63, 64, 1023, 1024, 4096, 65536, usize::MAX, 1 << 32, isize::MAX as usize]).unwrap_or(&0),
    }
}

/// A buffer: (address, length). Valid buffers lie in the scratch's first
/// half; long ones start in the playground, which the process keeps only
/// for the kernel to scribble on.
fn buffer(rng: &mut Rng, world: &World<'_>, kernel_writes: bool) -> [usize; 2] {
    match rng.below(16) {
        0..=11 => {
            let len = match rng.below(4) {
                0 => rng.below(16),
                1 => rng.below(256),
                2 => *rng.pick(&[PAGE, PAGE - 1, PAGE + 1, 24, 32, 64]).unwrap_or(&PAGE),
                _ => rng.below(BUFFERS),
            };
            let start = rng.below(BUFFERS - len + 1);
            [world.scratch_addr + start, len]
        }
        12 | 13 => [world.playground.0 + rng.below(world.playground.1 / PAGE) * PAGE, hostile_length(rng)],
        14 if kernel_writes => [world.read_only, rng.below(2 * PAGE)],
        _ => [hostile_address(rng, world), if one_in(rng, 2) { rng.below(64) } else { hostile_length(rng) }],
    }
}

fn path(rng: &mut Rng, world: &World<'_>, cursor: &mut Cursor<'_>) -> [usize; 2] {
    if one_in(rng, 16) {
        return [hostile_address(rng, world), if one_in(rng, 2) { 8 } else { hostile_length(rng) }];
    }
    let mut bytes = [0u8; 320];
    let mut len = 0;
    let mut push = |bytes: &mut [u8; 320], part: &[u8]| {
        for &b in part {
            if len < bytes.len() {
                bytes[len] = b;
                len += 1;
            }
        }
    };
    let digit = b'0' + (world.slot % 4) as u8 + (rng.below(2) as u8 & u8::from(one_in(rng, 4)));
    match rng.below(24) {
        // Too long for a name (255+), or a long run of components.
        0 => {
            push(&mut bytes, b"tmp:fuzz");
            push(&mut bytes, &[digit]);
            push(&mut bytes, b"/");
            for _ in 0..(256 + rng.below(40)) {
                push(&mut bytes, b"n");
            }
        }
        1 => {
            push(&mut bytes, b"tmp:");
            for _ in 0..40 {
                push(&mut bytes, b"d/");
            }
        }
        // Bytes that are not UTF-8.
        2 => push(&mut bytes, b"tmp:\xff\xfe\x80"),
        // A path longer than any the kernel takes (4096): from the scratch
        // buffer's own garbage.
        3 => {
            let at = world.scratch_addr + rng.below(BUFFERS / 2);
            return [at, 4097 + rng.below(BUFFERS / 2 - 4097)];
        }
        _ => {
            let scheme = *rng.pick(SCHEMES).unwrap_or(&"tmp");
            push(&mut bytes, scheme.as_bytes());
            if !one_in(rng, 32) {
                push(&mut bytes, b":");
            }
            let part = *rng.pick(PATHS).unwrap_or(&"");
            for &b in part.as_bytes() {
                push(&mut bytes, &[if b == b'@' { digit } else { b }]);
            }
        }
    }
    [cursor.put(&bytes[..len]), len]
}

fn dup_name(rng: &mut Rng, world: &World<'_>, cursor: &mut Cursor<'_>) -> [usize; 2] {
    let names: &[&[u8]] = &[
        b"",
        b"",
        b"listen",
        b"connect",
        b"write",
        b"read",
        b"mode",
        b"pgrp",
        b"raw",
        b"\xff",
        b"listen\0",
        b"read_timeout",
    ];
    match rng.below(12) {
        0 => [hostile_address(rng, world), rng.below(64)],
        1 => [world.scratch_addr, 4097 + rng.below(4000)],
        _ => {
            let name = *rng.pick(names).unwrap_or(&&b""[..]);
            if name.is_empty() { [0, 0] } else { [cursor.put(name), name.len()] }
        }
    }
}

fn open_flags(rng: &mut Rng) -> usize {
    if one_in(rng, 16) {
        return rng.next_u64() as usize;
    }
    let mut flags = *rng.pick(&[O_RDONLY, O_WRONLY, O_RDWR, O_RDWR]).unwrap_or(&O_RDONLY);
    for (bit, odds) in [(O_CREAT, 3), (O_TRUNC, 8), (O_EXCL, 8), (O_APPEND, 8), (O_DIRECTORY, 10), (O_CLOEXEC, 6)] {
        if one_in(rng, odds) {
            flags |= bit;
        }
    }
    // Mostly non-blocking: a blocking read with no writer waits until the
    // harness kills the child, which tests kills but slows the run.
    if !one_in(rng, 8) {
        flags |= O_NONBLOCK;
    }
    flags
}

fn map_flags(rng: &mut Rng) -> usize {
    use abi::syscall::MapFlags as M;
    if one_in(rng, 16) {
        return rng.next_u64() as usize;
    }
    let mut flags = M::empty();
    for (bit, odds) in [
        (M::PROT_READ, 1),
        (M::PROT_WRITE, 2),
        (M::PROT_EXEC, 8),
        (M::MAP_SHARED, 4),
        (M::MAP_PRIVATE, 3),
        (M::MAP_FIXED, 3),
        (M::MAP_FIXED_NOREPLACE, 6),
    ] {
        if one_in(rng, odds) {
            flags |= bit;
        }
    }
    flags.bits()
}

fn pid(rng: &mut Rng, world: &World<'_>) -> usize {
    match rng.below(12) {
        0..=2 if !world.children.is_empty() => *rng.pick(world.children).unwrap_or(&0),
        0..=3 => world.pid,
        4 => world.ppid,
        5 => 0,
        6 => 1,
        7 => 2 + rng.below(30),
        8 => world.pid.wrapping_neg(),
        9 => usize::MAX,
        _ => *rng.pick(&[isize::MAX as usize, 1 << 32, usize::MAX - 1]).unwrap_or(&0),
    }
}

fn addr(rng: &mut Rng, world: &World<'_>) -> usize {
    let (start, len) = world.playground;
    match rng.below(16) {
        0..=11 => start + rng.below(len / PAGE) * PAGE,
        12 => start + 1 + rng.below(PAGE - 1),
        13 => world.scratch_addr + rng.below(BUFFERS / 4) * 4,
        _ => hostile_address(rng, world),
    }
}

fn size(rng: &mut Rng, world: &World<'_>) -> usize {
    match rng.below(8) {
        0..=2 => (1 + rng.below(16)) * PAGE,
        3 => rng.below(3 * PAGE),
        4 => world.playground.1,
        5 => 0,
        _ => hostile_length(rng),
    }
}

fn timespec(rng: &mut Rng, world: &World<'_>, cursor: &mut Cursor<'_>) -> usize {
    match rng.below(16) {
        0 => 0,
        1 => hostile_address(rng, world),
        _ => {
            let (secs, nanos): (u64, u64) = match rng.below(40) {
                0 => (0, 2_000_000_000),
                1 => (u64::MAX, 0),
                2 => (0, u64::from(u32::MAX)),
                // Rarely, a long wait: the harness must be able to kill it.
                3 => (30, 0),
                _ => (0, rng.below(3_000_000) as u64),
            };
            cursor.put_words(&[secs, nanos])
        }
    }
}

fn map(rng: &mut Rng, world: &World<'_>, cursor: &mut Cursor<'_>) -> [usize; 2] {
    if one_in(rng, 16) {
        return [hostile_address(rng, world), 32];
    }
    let offset = if one_in(rng, 4) { hostile_length(rng) } else { rng.below(4) * PAGE };
    let words = [offset as u64, size(rng, world) as u64, map_flags(rng) as u64, addr(rng, world) as u64];
    let len = if one_in(rng, 16) { rng.below(32) } else { 32 };
    [cursor.put_words(&words), len]
}

fn strings(rng: &mut Rng, world: &World<'_>, cursor: &mut Cursor<'_>) -> [usize; 2] {
    match rng.below(10) {
        0 => [0, 0],
        1 => [hostile_address(rng, world), 1 + rng.below(4)],
        2 => [world.scratch_addr + BUFFERS, *rng.pick(&[4097, 1 << 20, usize::MAX / 16]).unwrap_or(&4097)],
        _ => {
            let count = rng.below(5);
            let mut words = [0u64; 8];
            for i in 0..count {
                let s = cursor.put(rng.pick(SCHEMES).unwrap_or(&"tmp").as_bytes());
                let [ptr, len] = if one_in(rng, 6) { buffer(rng, world, false) } else { [s, 3] };
                words[2 * i] = ptr as u64;
                words[2 * i + 1] = len as u64;
            }
            [cursor.put_words(&words[..2 * count.max(1)]), count]
        }
    }
}

/// A `SYS_SUBMIT` batch: mostly an open of a generated URL and up to five
/// calls on the file it opens (what the kernel chains, and sends a daemon
/// as one request), with bad buffers, fds and flags now and then; one time
/// in eight random bytes.
fn batch(rng: &mut Rng, world: &World<'_>, cursor: &mut Cursor<'_>) -> [usize; 2] {
    if one_in(rng, 8) {
        return buffer(rng, world, false);
    }
    let count = 1 + rng.below(6);
    let [path, path_len] = path(rng, world, cursor);
    let mut bytes = [0u8; 6 * size_of::<Sqe>()];
    for i in 0..count {
        let fd = if one_in(rng, 10) { fd(rng, world) as u64 } else { SQE_FD_OPENED };
        let flags = u32::from(one_in(rng, 32));
        let sqe = match (i, rng.below(6)) {
            (0, _) => Sqe {
                op: SQE_OPEN,
                addr: path as u64,
                len: path_len as u64,
                arg: open_flags(rng) as u64,
                ..Sqe::default()
            },
            (_, 0 | 1) => {
                let [addr, len] = buffer(rng, world, true);
                Sqe { op: SQE_READ, fd, addr: addr as u64, len: len as u64, ..Sqe::default() }
            }
            (_, 2) => {
                let [addr, len] = buffer(rng, world, false);
                Sqe { op: SQE_WRITE, fd, addr: addr as u64, len: len as u64, ..Sqe::default() }
            }
            (_, 3) => {
                let whence = *rng.pick(&[0u64, 1, 2, 3]).unwrap_or(&0);
                let offset = *rng.pick(&[0u64, 1, 100, u64::MAX]).unwrap_or(&0);
                Sqe { op: SQE_SEEK, fd, len: whence, arg: offset, ..Sqe::default() }
            }
            (_, 4) => {
                let [addr, len] = buffer(rng, world, true);
                Sqe { op: SQE_FSTAT, fd, addr: addr as u64, len: len as u64, ..Sqe::default() }
            }
            _ => Sqe { op: SQE_CLOSE, fd, ..Sqe::default() },
        };
        let words = [u64::from(sqe.op) | u64::from(flags) << 32, sqe.fd, sqe.addr, sqe.len, sqe.arg, i as u64];
        for (j, word) in words.iter().enumerate() {
            let at = i * size_of::<Sqe>() + j * 8;
            bytes[at..at + 8].copy_from_slice(&word.to_le_bytes());
        }
    }
    [cursor.put(&bytes[..count * size_of::<Sqe>()]), count]
}

/// Any value: mostly interesting ones.
fn any(rng: &mut Rng, world: &World<'_>) -> usize {
    match rng.below(6) {
        0 => rng.next_u64() as usize,
        1 => hostile_length(rng),
        2 => hostile_address(rng, world),
        _ => rng.below(8),
    }
}

/// Draw the value(s) of one argument.
pub(crate) fn draw(rng: &mut Rng, world: &World<'_>, arg: Arg, cursor: &mut Cursor<'_>) -> [usize; 2] {
    let one = |v: usize| [v, 0];
    match arg {
        Arg::Fd => one(fd(rng, world)),
        Arg::InBuf => buffer(rng, world, false),
        Arg::OutBuf => buffer(rng, world, true),
        Arg::Path => path(rng, world, cursor),
        Arg::DupName => dup_name(rng, world, cursor),
        Arg::OpenFlags => one(open_flags(rng)),
        Arg::MapFlags => one(map_flags(rng)),
        Arg::Pid => one(pid(rng, world)),
        Arg::Signal => one(*rng.pick(&[SIGKILL, SIGTERM, SIGINT, 0, 1, 64, usize::MAX]).unwrap_or(&0)),
        Arg::Addr => one(addr(rng, world)),
        Arg::Size => one(size(rng, world)),
        Arg::Whence => one(*rng.pick(&[0, 1, 2, 3, usize::MAX]).unwrap_or(&0)),
        Arg::Offset => one(*rng
            .pick(&[0, 1, 100, PAGE, usize::MAX, isize::MAX as usize, isize::MIN as usize, 1 << 40, usize::MAX - 99])
            .unwrap_or(&0)),
        Arg::FcntlCmd => one(*rng.pick(&[F_GETFL, F_SETFL, F_GETFD, F_SETFD, 99, usize::MAX]).unwrap_or(&0)),
        Arg::FutexOp => one(*rng.pick(&[FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAKE, 99]).unwrap_or(&0)),
        Arg::TimeSpec => one(timespec(rng, world, cursor)),
        Arg::Map => map(rng, world, cursor),
        Arg::Strings => strings(rng, world, cursor),
        Arg::Batch => batch(rng, world, cursor),
        Arg::ClockId => one(*rng.pick(&[0, 1, 4, 99, usize::MAX]).unwrap_or(&0)),
        Arg::Id => one(*rng.pick(&[0, 1, 1000, 65534, u32::MAX as usize, usize::MAX]).unwrap_or(&0)),
        Arg::Count => one(*rng.pick(&[0, 1, 2, 16, 1 << 20, usize::MAX]).unwrap_or(&0)),
        Arg::Any => one(any(rng, world)),
    }
}
