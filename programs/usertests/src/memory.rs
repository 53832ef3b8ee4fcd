//! Anonymous memory: zeroed pages, protections enforced (a child that
//! touches what it may not is killed), W+X refused, unmapping, fixed
//! placement, and the errors for bad arguments.

use alloc::string::String;

use rt::abi::SIGSEGV;
use rt::abi::syscall::{
    self as sc, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MapFlags, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE,
};
use rt::testing::{peek, poke};

use crate::support::{Outcome, dies_with, ensure, expect_errno, expect_ok, ok, syscall, text_address};

const PAGE: usize = 4096;

fn mmap(addr: usize, len: usize, flags: MapFlags) -> isize {
    syscall(rt::abi::SYS_MMAP, &[addr, len, flags.bits()])
}

fn munmap(addr: usize, len: usize) -> isize {
    syscall(sc::SYS_FUNMAP, &[addr, len])
}

fn mprotect(addr: usize, len: usize, flags: MapFlags) -> isize {
    syscall(sc::SYS_MPROTECT, &[addr, len, flags.bits()])
}

/// Maps `pages` fresh read-write private pages (raw: no Rust value lives
/// there, so `peek`/`poke` may use them).
fn map_rw(pages: usize) -> Result<usize, String> {
    expect_ok("mmap", mmap(0, pages * PAGE, PROT_READ | PROT_WRITE | MAP_PRIVATE))
}

pub fn mmap_anonymous_is_zeroed() -> Outcome {
    let mut mapping = ok("map_anonymous", rt::mem::map_anonymous(64 * 1024))?;
    ensure!(mapping.addr() % PAGE == 0, "mapping at {:#x} is not page-aligned", mapping.addr());
    ensure!(mapping.iter().all(|&b| b == 0), "fresh memory is not zero");
    for (i, byte) in mapping.iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    ensure!(mapping.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8), "memory did not keep what was written");
    ok("munmap", mapping.unmap())?;
    // A free hint is honoured.
    let hint = 0x0000_0400_0000_0000;
    let addr = expect_ok("mmap at a hint", mmap(hint, PAGE, PROT_READ | MAP_PRIVATE))?;
    ensure!(addr == hint, "hint {hint:#x} not used: got {addr:#x}");
    expect_ok("munmap", munmap(addr, PAGE))?;
    Ok(String::from("64 KiB"))
}

pub fn mmap_bad_arguments() -> Outcome {
    let rw = PROT_READ | PROT_WRITE | MAP_PRIVATE;
    expect_errno("mmap of 0 bytes", mmap(0, 0, rw), sc::EINVAL)?;
    expect_errno("mmap of 2 TiB", mmap(0, 2 << 40, rw), sc::EINVAL)?;
    expect_errno("mmap of usize::MAX bytes", mmap(0, usize::MAX, rw), sc::EINVAL)?;
    let unknown = syscall(rt::abi::SYS_MMAP, &[0, PAGE, rw.bits() | (1 << 40)]);
    expect_errno("mmap with unknown flags", unknown, sc::EINVAL)?;
    let fixed = rw | MAP_FIXED;
    expect_errno("MAP_FIXED unaligned", mmap(0x0000_0400_0000_0123, PAGE, fixed), sc::EINVAL)?;
    expect_errno("MAP_FIXED at 0", mmap(0, PAGE, fixed), sc::EINVAL)?;
    expect_errno("MAP_FIXED in the kernel half", mmap(0xffff_8000_0000_0000, PAGE, fixed), sc::EINVAL)?;
    expect_errno(
        "MAP_FIXED across the end of user space",
        mmap(rt::abi::USER_END - PAGE, 2 * PAGE, fixed),
        sc::EINVAL,
    )?;
    expect_errno("munmap unaligned", munmap(0x0000_0400_0000_0123, PAGE), sc::EINVAL)?;
    expect_errno("munmap of 0 bytes", munmap(0x0000_0400_0000_0000, 0), sc::EINVAL)?;
    expect_errno("munmap in the kernel half", munmap(0xffff_8000_0000_0000, PAGE), sc::EINVAL)?;
    expect_errno("mprotect of unmapped memory", mprotect(0x0000_0400_0000_0000, PAGE, PROT_READ), sc::ENOMEM)?;
    expect_errno(
        "mprotect with unknown flags",
        syscall(sc::SYS_MPROTECT, &[text_address() & !4095, PAGE, 1 << 40]),
        sc::EINVAL,
    )?;
    Ok(String::from("EINVAL, ENOMEM"))
}

pub fn write_execute_refused() -> Outcome {
    let wx = PROT_READ | PROT_WRITE | PROT_EXEC | MAP_PRIVATE;
    expect_errno("mmap W+X", mmap(0, PAGE, wx), sc::EINVAL)?;
    let addr = map_rw(1)?;
    expect_errno("mprotect to W+X", mprotect(addr, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), sc::EINVAL)?;
    let text = text_address() & !(PAGE - 1);
    expect_errno(
        "mprotect of the program's text to W+X",
        mprotect(text, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC),
        sc::EINVAL,
    )?;
    // W then X is allowed, one at a time.
    expect_ok("mprotect to R+X", mprotect(addr, PAGE, PROT_READ | PROT_EXEC))?;
    expect_ok("munmap", munmap(addr, PAGE))?;
    Ok(String::from("EINVAL for mmap and mprotect"))
}

pub fn prot_none_access_kills() -> Outcome {
    let addr = expect_ok("mmap PROT_NONE", mmap(0, PAGE, PROT_NONE | MAP_PRIVATE))?;
    let fd = ok("open", rt::sys::open(crate::support::SELF, sc::O_RDONLY))?;
    expect_errno("read into PROT_NONE memory", syscall(sc::SYS_READ, &[fd, addr, 16]), sc::EFAULT)?;
    ok("close", rt::sys::close(fd))?;
    dies_with(SIGSEGV, || {
        peek(addr);
    })?;
    dies_with(SIGSEGV, || poke(addr, 1))
}

pub fn read_only_protection_kills_writers() -> Outcome {
    let addr = map_rw(1)?;
    poke(addr, 0x42);
    expect_ok("mprotect to read-only", mprotect(addr, PAGE, PROT_READ))?;
    ensure!(peek(addr) == 0x42, "the page lost its contents");
    dies_with(SIGSEGV, || poke(addr, 1))?;
    // Writable again, same contents.
    expect_ok("mprotect back to read-write", mprotect(addr, PAGE, PROT_READ | PROT_WRITE))?;
    poke(addr, 0x43);
    ensure!(peek(addr) == 0x43, "the page did not take a write");
    expect_ok("munmap", munmap(addr, PAGE))?;
    Ok(String::from("writer killed, readers fine"))
}

pub fn munmap_then_access_kills() -> Outcome {
    let addr = map_rw(3)?;
    for page in 0..3 {
        poke(addr + page * PAGE, 7);
    }
    // Unmapping the middle page splits the mapping.
    expect_ok("munmap middle page", munmap(addr + PAGE, PAGE))?;
    ensure!(peek(addr) == 7 && peek(addr + 2 * PAGE) == 7, "the pages around the hole changed");
    dies_with(SIGSEGV, || {
        peek(addr + PAGE);
    })?;
    expect_ok("munmap the rest", munmap(addr, 3 * PAGE))?;
    dies_with(SIGSEGV, || {
        peek(addr);
    })?;
    // The whole range is free again.
    let again = expect_ok("mmap", mmap(addr, 3 * PAGE, PROT_READ | MAP_PRIVATE | MAP_FIXED_NOREPLACE))?;
    ensure!(again == addr, "remapping the freed range gave {again:#x}");
    ensure!(peek(addr) == 0, "remapped memory is not zero");
    expect_ok("munmap", munmap(addr, 3 * PAGE))?;
    Ok(String::from("hole and whole range"))
}

pub fn fixed_placement() -> Outcome {
    let rw = PROT_READ | PROT_WRITE | MAP_PRIVATE;
    let addr = map_rw(2)?;
    poke(addr, 9);
    expect_errno("MAP_FIXED_NOREPLACE over a mapping", mmap(addr, PAGE, rw | MAP_FIXED_NOREPLACE), sc::EEXIST)?;
    expect_errno(
        "MAP_FIXED_NOREPLACE over a mapping's tail",
        mmap(addr + PAGE, 2 * PAGE, rw | MAP_FIXED_NOREPLACE),
        sc::EEXIST,
    )?;
    let text = text_address() & !(PAGE - 1);
    expect_errno("MAP_FIXED_NOREPLACE over the program", mmap(text, PAGE, rw | MAP_FIXED_NOREPLACE), sc::EEXIST)?;
    ensure!(peek(addr) == 9, "a refused mapping changed memory");
    // MAP_FIXED replaces: the page comes back zeroed.
    let fixed = expect_ok("MAP_FIXED over a mapping", mmap(addr, PAGE, rw | MAP_FIXED))?;
    ensure!(fixed == addr, "MAP_FIXED gave {fixed:#x}, not {addr:#x}");
    ensure!(peek(addr) == 0, "MAP_FIXED did not replace the old page");
    expect_ok("munmap", munmap(addr, 2 * PAGE))?;
    // A free address is taken exactly.
    let free = 0x0000_0410_0000_0000;
    let got = expect_ok("MAP_FIXED_NOREPLACE at a free address", mmap(free, PAGE, rw | MAP_FIXED_NOREPLACE))?;
    ensure!(got == free, "MAP_FIXED_NOREPLACE gave {got:#x}, not {free:#x}");
    expect_ok("munmap", munmap(free, PAGE))?;
    Ok(String::from("EEXIST, replace, exact address"))
}

pub fn out_of_memory_kills_only_the_hog() -> Outcome {
    // A child touches page after page of a mapping far bigger than the
    // machine's memory: when frames run out it must be killed, and the
    // kernel and everyone else go on.
    const HUGE: usize = 1 << 33;
    let status = crate::support::run_child(|| {
        let Ok(addr) = expect_ok("mmap", mmap(0, HUGE, PROT_READ | PROT_WRITE | MAP_PRIVATE)) else {
            return 1;
        };
        for page in (0..HUGE).step_by(PAGE) {
            poke(addr + page, 1);
        }
        2
    })?;
    ensure!(status.code() != Some(2), "8 GiB of memory were handed out");
    crate::support::expect_signal("the process that ran out of memory", status, SIGSEGV)?;
    // Its memory came back: a new process can use plenty.
    let status = crate::support::run_child(|| {
        let Ok(addr) = expect_ok("mmap", mmap(0, 64 << 20, PROT_READ | PROT_WRITE | MAP_PRIVATE)) else {
            return 1;
        };
        for page in (0..64 << 20).step_by(PAGE) {
            poke(addr + page, 1);
        }
        0
    })?;
    crate::support::expect_exit("a process using 64 MiB afterwards", status, 0)?;
    Ok(String::from("killed by SIGSEGV; 64 MiB usable afterwards"))
}
