//! Bad pointers, one test per system call that takes one: null,
//! kernel-half, non-canonical, wrapping, unmapped, straddling the end of
//! user space, the stack's guard page, and (where the kernel writes)
//! read-only memory. Each must fail with `EFAULT` and leave the caller
//! running, which it shows by going on to the next case.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rt::abi::syscall::{
    self as sc, CLOCK_MONOTONIC, Event, EventFlags, MAP_FIXED_NOREPLACE, MAP_PRIVATE, O_RDONLY, PROT_READ, TimeSpec,
};
use rt::abi::{UserStr, WNOHANG};
use rt::event::EventQueue;

use crate::support::{
    Outcome, SELF, WAIT, ensure, expect_errno, expect_exit, expect_ok, fork_child, ok, show, syscall, wait_for,
};

/// The end of user space (exclusive): the first non-canonical address.
const USER_END: usize = rt::abi::USER_END;

/// Where the kernel puts the guard page below the initial stack: the stack
/// is the 8 MiB under 0x7fff_ffff_0000 (kernel/src/memory/address_space.rs).
const STACK_GUARD: usize = 0x7fff_ffff_0000 - (8 << 20) - 4096;

/// An address nothing is mapped at: between the program image and the
/// kernel's `mmap` area.
const UNMAPPED: usize = 0x0000_0600_0000_0000;

/// Addresses a call must refuse for a buffer of `len` bytes, named.
fn bad_buffers(len: usize) -> Vec<(&'static str, usize)> {
    let mut cases = Vec::from([
        ("null", 0),
        ("first page", 0x1000),
        ("kernel half", 0xffff_8000_0000_0000),
        ("top page", 0xffff_ffff_ffff_f000),
        ("non-canonical", USER_END),
        ("non-canonical middle", 0x1234_5678_9abc_def0),
        ("unmapped", UNMAPPED),
        ("stack guard page", STACK_GUARD),
    ]);
    // Kept 4-byte aligned, so futex words fail the range check, not the
    // alignment check (an aligned 4-byte word cannot straddle the end).
    if len > 4 {
        cases.push(("straddling the end of user space", (USER_END - len / 2) & !3));
    }
    if len > 1 {
        cases.push(("wrapping around", (usize::MAX - len / 2) & !3));
    }
    cases
}

/// Runs `call` on every bad address for a `len`-byte buffer and expects
/// `EFAULT` each time; returns how many cases ran.
fn each_bad(what: &str, len: usize, call: impl FnMut(usize) -> isize) -> Result<usize, String> {
    check_cases(what, bad_buffers(len), call)
}

/// [`each_bad`] for arguments where 0 means "none" (a `waitpid` status, a
/// futex timeout): every bad address but null.
fn each_bad_but_null(what: &str, len: usize, call: impl FnMut(usize) -> isize) -> Result<usize, String> {
    check_cases(what, bad_buffers(len).into_iter().filter(|&(_, addr)| addr != 0).collect(), call)
}

fn check_cases(
    what: &str,
    cases: Vec<(&'static str, usize)>,
    mut call: impl FnMut(usize) -> isize,
) -> Result<usize, String> {
    for &(name, addr) in &cases {
        expect_errno(&format!("{what} with a {name} pointer ({addr:#x})"), call(addr), sc::EFAULT)?;
    }
    Ok(cases.len())
}

fn open_self() -> Result<usize, String> {
    ok("open", rt::sys::open(SELF, O_RDONLY))
}

/// Checks that the stack guard page is where [`STACK_GUARD`] says: a
/// mapping is there (`EEXIST` for `MAP_FIXED_NOREPLACE`).
fn guard_page_is_mapped() -> Result<(), String> {
    let flags = (PROT_READ | MAP_PRIVATE | MAP_FIXED_NOREPLACE).bits();
    let ret = syscall(rt::abi::SYS_MMAP, &[STACK_GUARD, 4096, flags]);
    expect_errno("mapping over the stack guard page", ret, sc::EEXIST)
}

pub fn efault_open() -> Outcome {
    let n = each_bad("open", 16, |addr| syscall(sc::SYS_OPEN, &[addr, 16, O_RDONLY]))?;
    // A huge length is refused before the pointer is read.
    let path = SELF.as_bytes();
    let ret = syscall(sc::SYS_OPEN, &[path.as_ptr().expose_provenance(), usize::MAX, O_RDONLY]);
    expect_errno("open with length usize::MAX", ret, sc::ENAMETOOLONG)?;
    Ok(format!("{n} pointers"))
}

pub fn efault_read() -> Outcome {
    guard_page_is_mapped()?;
    let fd = open_self()?;
    let mut n = each_bad("read", 64, |addr| syscall(sc::SYS_READ, &[fd, addr, 64]))?;
    let mut buf = [0u8; 64];
    let ret = syscall(sc::SYS_READ, &[fd, buf.as_mut_ptr().expose_provenance(), usize::MAX]);
    expect_errno("read with length usize::MAX", ret, sc::EFAULT)?;
    // The kernel must not write into read-only memory for us either: our
    // own code, and a read-only mapping.
    let text = crate::support::text_address() & !4095;
    expect_errno("read into the program's text", syscall(sc::SYS_READ, &[fd, text, 64]), sc::EFAULT)?;
    let readonly = ok("map", rt::mem::map_anonymous(4096))?;
    let readonly = ok("mprotect", readonly.into_read_only())?;
    let ret = syscall(sc::SYS_READ, &[fd, readonly.addr(), 64]);
    expect_errno("read into a read-only mapping", ret, sc::EFAULT)?;
    ensure!(readonly.iter().all(|&b| b == 0), "the read-only mapping changed");
    n += 3;
    // A refused read consumes nothing: the offset has not moved. (Every
    // offset problem is collected, to report them all at once.)
    let mut offset_problems = Vec::new();
    let offset = ok("lseek CUR", rt::sys::lseek(fd, 0, sc::SEEK_CUR))?;
    if offset != 0 {
        offset_problems.push(format!("the refused reads moved the file offset to {offset}"));
    }
    // A buffer that runs off the end of its mapping, within one 64 KiB
    // kernel chunk and after a whole one: a short read that moves the
    // offset by what it returned, or EFAULT that moves nothing.
    for valid in [16, 64 * 1024] {
        if let Err(problem) = read_off_the_end(fd, valid) {
            offset_problems.push(problem);
        }
        n += 1;
    }
    ensure!(offset_problems.is_empty(), "{}", offset_problems.join("; "));
    // The descriptor still works.
    ok("lseek", rt::sys::lseek(fd, 0, sc::SEEK_SET))?;
    ok("read", rt::sys::read(fd, &mut buf))?;
    ensure!(buf[..4] == *b"\x7fELF", "the file no longer reads");
    ok("close", rt::sys::close(fd))?;
    Ok(format!("{n} pointers"))
}

/// Reads `valid + 64` bytes into a buffer whose first `valid` bytes are
/// the end of a mapping and the rest unmapped, from offset 0 of `fd`.
fn read_off_the_end(fd: usize, valid: usize) -> Result<(), String> {
    let rw = (sc::PROT_READ | sc::PROT_WRITE | MAP_PRIVATE).bits();
    let len = (valid + 4096).next_multiple_of(4096);
    let base = expect_ok("mmap", syscall(rt::abi::SYS_MMAP, &[0, len, rw]))?;
    let hole = base + len - 4096;
    expect_ok("munmap", syscall(sc::SYS_FUNMAP, &[hole, 4096]))?;
    ok("lseek", rt::sys::lseek(fd, 0, sc::SEEK_SET))?;
    let ret = syscall(sc::SYS_READ, &[fd, hole - valid, valid + 64]);
    let offset = ok("lseek CUR", rt::sys::lseek(fd, 0, sc::SEEK_CUR))?;
    expect_ok("munmap", syscall(sc::SYS_FUNMAP, &[base, len]))?;
    let what = format!("a {}-byte read into a buffer with {valid} good bytes", valid + 64);
    match crate::support::errno(ret) {
        None => ensure!(
            ret as usize <= valid && offset == ret as usize,
            "{what} returned {ret} and moved the offset to {offset}"
        ),
        Some(sc::EFAULT) => ensure!(offset == 0, "{what} was refused but moved the offset to {offset}"),
        Some(_) => return Err(format!("{what}: {}", show(ret))),
    }
    Ok(())
}

/// An `event:` read into a bad buffer is `EFAULT` and loses no event, also
/// when the buffer runs off its mapping after 8 whole events (a read takes
/// all the events it can or none).
pub fn efault_event_read() -> Outcome {
    const FDS: usize = 10;
    const EVENT: usize = size_of::<Event>();
    let queue = ok("event:", EventQueue::new())?;
    ok("O_NONBLOCK", queue.file().set_nonblocking(true))?;
    let mut pipes = Vec::new();
    for data in 0..FDS {
        let (reader, mut writer) = ok("pipe", rt::fs::pipe())?;
        ok("pipe write", writer.write_all(b"x"))?;
        ok("watch", queue.watch(reader.fd(), EventFlags::EVENT_READ, data))?;
        pipes.push((reader, writer));
    }
    let qfd = queue.file().fd();
    let n = each_bad("event read", FDS * EVENT, |addr| syscall(sc::SYS_READ, &[qfd, addr, FDS * EVENT]))?;
    // 8 events' room at the end of a mapping, the rest of the buffer
    // unmapped.
    let rw = (sc::PROT_READ | sc::PROT_WRITE | MAP_PRIVATE).bits();
    let base = expect_ok("mmap", syscall(rt::abi::SYS_MMAP, &[0, 8192, rw]))?;
    expect_ok("munmap", syscall(sc::SYS_FUNMAP, &[base + 4096, 4096]))?;
    let ret = syscall(sc::SYS_READ, &[qfd, base + 4096 - 8 * EVENT, FDS * EVENT]);
    expect_ok("munmap", syscall(sc::SYS_FUNMAP, &[base, 4096]))?;
    expect_errno("an event read with room for 8 of 10 events", ret, sc::EFAULT)?;
    let mut events = [Event::default(); FDS];
    let got = ok("event read", queue.wait(&mut events))?;
    let mut kept: Vec<usize> = events[..got].iter().map(|e| e.data).collect();
    kept.sort_unstable();
    ensure!(kept == (0..FDS).collect::<Vec<_>>(), "after the refused reads, the queue held events for {kept:?}");
    Ok(format!("{} pointers refused, no event lost", n + 1))
}

pub fn efault_write() -> Outcome {
    let fd = ok("open debug:", rt::sys::open("debug:", sc::O_WRONLY))?;
    let n = each_bad("write", 64, |addr| syscall(sc::SYS_WRITE, &[fd, addr, 64]))?;
    let buf = [b'\n'; 1];
    let ret = syscall(sc::SYS_WRITE, &[fd, buf.as_ptr().expose_provenance(), usize::MAX]);
    expect_errno("write with length usize::MAX", ret, sc::EFAULT)?;
    ok("close", rt::sys::close(fd))?;
    Ok(format!("{} pointers", n + 1))
}

pub fn efault_fstat() -> Outcome {
    let fd = open_self()?;
    let len = size_of::<sc::Stat>();
    let n = each_bad("fstat", len, |addr| syscall(sc::SYS_FSTAT, &[fd, addr, len]))?;
    let mut stat = sc::Stat::default();
    let ret = syscall(sc::SYS_FSTAT, &[fd, (&raw mut stat).expose_provenance(), len - 1]);
    expect_errno("fstat with a short buffer", ret, sc::EINVAL)?;
    ok("close", rt::sys::close(fd))?;
    Ok(format!("{n} pointers"))
}

pub fn efault_fpath() -> Outcome {
    let fd = open_self()?;
    let n = each_bad("fpath", 64, |addr| syscall(sc::SYS_FPATH, &[fd, addr, 64]))?;
    ok("close", rt::sys::close(fd))?;
    Ok(format!("{n} pointers"))
}

pub fn efault_dup() -> Outcome {
    let fd = open_self()?;
    // The kernel's schemes take no name for dup (EINVAL), so an unmapped
    // name inside user space may be refused for that before it is read;
    // everything outside user space must be EFAULT.
    let mut efault = 0;
    for (name, addr) in bad_buffers(8) {
        let ret = syscall(sc::SYS_DUP, &[fd, addr, 8]);
        let in_user_space = addr != 0 && addr.checked_add(8).is_some_and(|end| end <= USER_END);
        match crate::support::errno(ret) {
            Some(sc::EFAULT) => efault += 1,
            Some(sc::EINVAL) if in_user_space => {}
            _ => return Err(format!("dup with a {name} name ({addr:#x}): expected EFAULT, got {}", show(ret))),
        }
    }
    ok("close", rt::sys::close(fd))?;
    Ok(format!("{efault} EFAULT, the rest EINVAL (no named dup)"))
}

pub fn efault_waitpid() -> Outcome {
    let pid = fork_child(|| 7)?;
    // Let it end, so a wrongly accepted pointer would reap it.
    crate::support::sleep_ms(20);
    let n = each_bad_but_null("waitpid", 8, |addr| syscall(rt::abi::SYS_WAITPID, &[pid, addr, WNOHANG]))?;
    // Nothing was lost: the child is still there to reap.
    let status = wait_for(pid, WAIT)?;
    expect_exit("child after the refused waits", status, 7)?;
    Ok(format!("{n} pointers; child still reaped"))
}

pub fn efault_clock_gettime() -> Outcome {
    let n = each_bad("clock_gettime", size_of::<TimeSpec>(), |addr| {
        syscall(sc::SYS_CLOCK_GETTIME, &[CLOCK_MONOTONIC, addr])
    })?;
    Ok(format!("{n} pointers"))
}

pub fn efault_nanosleep() -> Outcome {
    let n = each_bad("nanosleep", size_of::<TimeSpec>(), |addr| syscall(sc::SYS_NANOSLEEP, &[addr, 0]))?;
    Ok(format!("{n} pointers"))
}

pub fn efault_futex() -> Outcome {
    let n = each_bad("futex wait", 4, |addr| syscall(sc::SYS_FUTEX, &[addr, sc::FUTEX_WAIT, 0, 0]))?;
    let m = each_bad("futex wake", 4, |addr| syscall(sc::SYS_FUTEX, &[addr, sc::FUTEX_WAKE, 1, 0]))?;
    // A bad timeout, on a word whose value does not match (so a kernel
    // that ignored the timeout would say EAGAIN, not hang).
    let word = core::sync::atomic::AtomicU32::new(5);
    let word_addr = word.as_ptr().expose_provenance();
    let t = each_bad_but_null("futex timeout", size_of::<TimeSpec>(), |addr| {
        syscall(sc::SYS_FUTEX, &[word_addr, sc::FUTEX_WAIT, 0, addr])
    })?;
    Ok(format!("{} pointers", n + m + t))
}

pub fn efault_exec() -> Outcome {
    let fd = open_self()?;
    let good = b"usertests";
    let strs = |ptr: usize, len: usize| [UserStr { ptr, len }];
    let good_array = strs(good.as_ptr().expose_provenance(), good.len());
    let good_addr = good_array.as_ptr().expose_provenance();
    // The argument and environment arrays themselves.
    let mut n = each_bad("exec argv", 16, |addr| syscall(rt::abi::SYS_EXEC, &[fd, addr, 1, good_addr, 1]))?;
    n += each_bad("exec envp", 16, |addr| syscall(rt::abi::SYS_EXEC, &[fd, good_addr, 1, addr, 1]))?;
    // A good array whose string pointer is bad.
    for (name, addr) in bad_buffers(8) {
        let array = strs(addr, 8);
        let ret = syscall(rt::abi::SYS_EXEC, &[fd, array.as_ptr().expose_provenance(), 1, 0, 0]);
        expect_errno(&format!("exec with a {name} argument string"), ret, sc::EFAULT)?;
        n += 1;
    }
    // Too many arguments.
    let many: Vec<UserStr> = (0..5000).map(|_| good_array[0]).collect();
    let ret = syscall(rt::abi::SYS_EXEC, &[fd, many.as_ptr().expose_provenance(), many.len(), 0, 0]);
    expect_errno("exec with 5000 arguments", ret, sc::E2BIG)?;
    let ret = syscall(rt::abi::SYS_EXEC, &[fd, good_addr, usize::MAX / 8, 0, 0]);
    expect_errno("exec with argc usize::MAX / 8", ret, sc::E2BIG)?;
    // Too many bytes: two arguments of 200 KiB.
    let big = alloc::vec![b'x'; 200 * 1024];
    let two = [UserStr { ptr: big.as_ptr().expose_provenance(), len: big.len() }; 2];
    let ret = syscall(rt::abi::SYS_EXEC, &[fd, two.as_ptr().expose_provenance(), 2, 0, 0]);
    expect_errno("exec with 400 KiB of arguments", ret, sc::E2BIG)?;
    ok("close", rt::sys::close(fd))?;
    Ok(format!("{n} pointers, E2BIG"))
}
