//! File descriptors on the kernel's `initfs:` and `debug:` schemes: open,
//! read, write, lseek, fstat, fpath, dup, close, and the errors each gives
//! for bad descriptors, bad paths and read-only files; unknown system
//! call numbers.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use rt::abi::syscall::{
    self as sc, MODE_CHR, MODE_DIR, MODE_FILE, MODE_TYPE, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
    SEEK_CUR, SEEK_END, SEEK_SET,
};

use crate::support::{Outcome, SELF, ensure, expect_err, expect_errno, expect_ok, ok, syscall};

fn open(path: &str, flags: usize) -> Result<usize, String> {
    ok(&format!("open {path}"), rt::sys::open(path, flags))
}

/// `SYS_FPATH` into a buffer of `len` bytes.
fn fpath(fd: usize, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    let n = expect_ok("fpath", syscall(sc::SYS_FPATH, &[fd, buf.as_mut_ptr().expose_provenance(), len]))?;
    ensure!(n <= len, "fpath returned {n} for a {len}-byte buffer");
    buf.truncate(n);
    Ok(buf)
}

/// `SYS_DUP` without a name: a second descriptor for the same open file.
fn dup(fd: usize) -> isize {
    syscall(sc::SYS_DUP, &[fd, 0, 0])
}

fn read_all(fd: usize) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match ok("read", rt::sys::read(fd, &mut chunk))? {
            0 => return Ok(data),
            n => data.extend_from_slice(&chunk[..n]),
        }
    }
}

pub fn open_read_elf_header() -> Outcome {
    let fd = open(SELF, O_RDONLY)?;
    let mut magic = [0u8; 4];
    let n = ok("read", rt::sys::read(fd, &mut magic))?;
    ensure!(n == 4 && magic == *b"\x7fELF", "read {n} bytes {:?}, expected \\x7fELF", &magic[..n]);
    ok("close", rt::sys::close(fd))?;
    Ok(String::from("\\x7fELF"))
}

pub fn fstat_file_and_directory() -> Outcome {
    let fd = open(SELF, O_RDONLY)?;
    let stat = ok("fstat", rt::sys::fstat(fd))?;
    ensure!(stat.st_mode & MODE_TYPE == MODE_FILE, "file mode {:#o}", stat.st_mode);
    ensure!(stat.st_mode & 0o111 != 0, "program not executable: mode {:#o}", stat.st_mode);
    let end = ok("lseek END", rt::sys::lseek(fd, 0, SEEK_END))?;
    ensure!(end as u64 == stat.st_size, "st_size {} but the file ends at {end}", stat.st_size);
    ok("close", rt::sys::close(fd))?;
    let dir = open("initfs:bin", O_RDONLY | O_DIRECTORY)?;
    let dir_stat = ok("fstat dir", rt::sys::fstat(dir))?;
    ensure!(dir_stat.st_mode & MODE_TYPE == MODE_DIR, "directory mode {:#o}", dir_stat.st_mode);
    ok("close", rt::sys::close(dir))?;
    Ok(format!("{} bytes, mode {:o}", stat.st_size, stat.st_mode))
}

pub fn fpath_names_the_file() -> Outcome {
    let fd = open(SELF, O_RDONLY)?;
    let path = fpath(fd, 256)?;
    ensure!(path == SELF.as_bytes(), "fpath gave {:?}", String::from_utf8_lossy(&path));
    // A short buffer gets the start of the URL.
    let short = fpath(fd, 6)?;
    ensure!(short == b"initfs", "fpath into 6 bytes gave {:?}", String::from_utf8_lossy(&short));
    ok("close", rt::sys::close(fd))?;
    // A leading slash names the same file.
    let fd = open("initfs:/libexec/usertests", O_RDONLY)?;
    let path = fpath(fd, 256)?;
    ensure!(path == SELF.as_bytes(), "fpath of initfs:/libexec/usertests gave {:?}", String::from_utf8_lossy(&path));
    ok("close", rt::sys::close(fd))?;
    Ok(String::from(SELF))
}

pub fn lseek_set_cur_end() -> Outcome {
    let fd = open(SELF, O_RDONLY)?;
    let size = ok("lseek END", rt::sys::lseek(fd, 0, SEEK_END))?;
    ensure!(size > 64, "file of {size} bytes");
    ensure!(ok("lseek SET 0", rt::sys::lseek(fd, 0, SEEK_SET))? == 0, "SEEK_SET 0 did not return 0");
    let mut buf = [0u8; 4];
    ok("read", rt::sys::read(fd, &mut buf))?;
    ensure!(ok("lseek CUR", rt::sys::lseek(fd, 0, SEEK_CUR))? == 4, "offset after reading 4 bytes is not 4");
    ensure!(ok("lseek CUR -4", rt::sys::lseek(fd, -4, SEEK_CUR))? == 0, "SEEK_CUR -4 did not go back to 0");
    ensure!(ok("lseek SET 1", rt::sys::lseek(fd, 1, SEEK_SET))? == 1, "SEEK_SET 1");
    ok("read", rt::sys::read(fd, &mut buf[..3]))?;
    ensure!(buf[..3] == *b"ELF", "bytes 1..4 are {:?}", &buf[..3]);
    // The last byte, then the end of the file.
    ensure!(ok("lseek END -1", rt::sys::lseek(fd, -1, SEEK_END))? == size - 1, "SEEK_END -1");
    ensure!(ok("read last", rt::sys::read(fd, &mut buf))? == 1, "reading at the last byte gave more than 1");
    ensure!(ok("read at end", rt::sys::read(fd, &mut buf))? == 0, "reading at the end is not 0");
    // Past the end is allowed and reads nothing.
    ensure!(ok("lseek past end", rt::sys::lseek(fd, 1 << 20, SEEK_END))? == size + (1 << 20), "SEEK_END +1 MiB");
    ensure!(ok("read past end", rt::sys::read(fd, &mut buf))? == 0, "reading past the end is not 0");
    // A negative offset and an unknown whence are refused.
    expect_errno("lseek SET -1", syscall(sc::SYS_LSEEK, &[fd, -1isize as usize, SEEK_SET]), sc::EINVAL)?;
    expect_errno("lseek CUR -huge", syscall(sc::SYS_LSEEK, &[fd, isize::MIN as usize, SEEK_CUR]), sc::EINVAL)?;
    expect_errno("lseek whence 3", syscall(sc::SYS_LSEEK, &[fd, 0, 3]), sc::EINVAL)?;
    ok("close", rt::sys::close(fd))?;
    Ok(format!("{size}-byte file"))
}

pub fn read_whole_file_at_once() -> Outcome {
    let fd = open(SELF, O_RDONLY)?;
    let pieces = read_all(fd)?;
    ok("lseek", rt::sys::lseek(fd, 0, SEEK_SET))?;
    // One read bigger than the kernel's 64 KiB bounce buffer.
    let mut whole = vec![0u8; pieces.len() + 100];
    let n = ok("read", rt::sys::read(fd, &mut whole))?;
    ensure!(n == pieces.len(), "one read returned {n} bytes of {}", pieces.len());
    ensure!(whole[..n] == pieces[..], "one read and 4 KiB reads disagree");
    ok("close", rt::sys::close(fd))?;
    Ok(format!("{n} bytes in one read"))
}

pub fn read_directory_listing() -> Outcome {
    let fd = open("initfs:libexec", O_RDONLY)?;
    let listing = read_all(fd)?;
    ok("close", rt::sys::close(fd))?;
    let text = String::from_utf8_lossy(&listing);
    let names: Vec<&str> = text.lines().collect();
    ensure!(names.contains(&"usertests"), "initfs:libexec lists {names:?}");
    Ok(format!("{} entries", names.len()))
}

pub fn dup_shares_the_offset() -> Outcome {
    let fd = open(SELF, O_RDONLY)?;
    let copy = expect_ok("dup", dup(fd))?;
    ensure!(copy != fd, "dup returned the same descriptor {fd}");
    let mut buf = [0u8; 4];
    ok("read", rt::sys::read(fd, &mut buf))?;
    ensure!(ok("lseek dup", rt::sys::lseek(copy, 0, SEEK_CUR))? == 4, "the duplicate's offset did not move");
    ok("close original", rt::sys::close(fd))?;
    ok("read dup", rt::sys::read(copy, &mut buf))?;
    ensure!(ok("lseek dup", rt::sys::lseek(copy, 0, SEEK_CUR))? == 8, "the duplicate does not read on");
    // A named dup is not supported by these schemes; a bad fd is EBADF.
    let name = b"x";
    expect_errno("dup with a name", syscall(sc::SYS_DUP, &[copy, name.as_ptr().expose_provenance(), 1]), sc::EINVAL)?;
    expect_errno("dup of a closed fd", dup(fd), sc::EBADF)?;
    ok("close dup", rt::sys::close(copy))?;
    Ok(String::new())
}

pub fn closed_fd_is_ebadf() -> Outcome {
    let fd = open(SELF, O_RDONLY)?;
    ok("close", rt::sys::close(fd))?;
    let mut buf = [0u8; 16];
    let addr = buf.as_mut_ptr().expose_provenance();
    for bad in [fd, 4096, usize::MAX] {
        let calls: [(&str, usize, [usize; 3]); 7] = [
            ("close", sc::SYS_CLOSE, [bad, 0, 0]),
            ("read", sc::SYS_READ, [bad, addr, 16]),
            ("write", sc::SYS_WRITE, [bad, addr, 16]),
            ("lseek", sc::SYS_LSEEK, [bad, 0, SEEK_SET]),
            ("fstat", sc::SYS_FSTAT, [bad, addr, 0]),
            ("fpath", sc::SYS_FPATH, [bad, addr, 16]),
            ("dup", sc::SYS_DUP, [bad, 0, 0]),
        ];
        for (name, number, args) in calls {
            // fstat checks its length first: give it a real Stat.
            let ret = if number == sc::SYS_FSTAT {
                rt::sys::fstat(bad).map(|_| 0).unwrap_or_else(|e| -(e.errno as isize))
            } else {
                syscall(number, &args)
            };
            expect_errno(&format!("{name}({bad:#x})"), ret, sc::EBADF)?;
        }
    }
    Ok(String::from("7 calls x 3 descriptors"))
}

pub fn initfs_is_read_only() -> Outcome {
    for (what, flags) in
        [("O_WRONLY", O_WRONLY), ("O_RDWR", O_RDWR), ("O_CREAT", O_RDONLY | O_CREAT), ("O_TRUNC", O_RDONLY | O_TRUNC)]
    {
        expect_err(&format!("open {what}"), rt::sys::open(SELF, flags), sc::EROFS)?;
    }
    expect_err("creating a file", rt::sys::open("initfs:new-file", O_WRONLY | O_CREAT), sc::EROFS)?;
    let fd = open(SELF, O_RDONLY)?;
    expect_err("write", rt::sys::write(fd, b"x"), sc::EROFS)?;
    ok("close", rt::sys::close(fd))?;
    Ok(String::from("EROFS"))
}

pub fn initfs_spellings_of_a_path_agree() -> Outcome {
    // The daemon looks plain paths up in its index and any other spelling
    // up through the image: both must name the same file, or none.
    let want = ok("read initfs:etc/init.rc", rt::fs::read("initfs:etc/init.rc"))?;
    for path in ["initfs:/etc/init.rc", "initfs:etc//init.rc", "initfs://etc/init.rc", "initfs:etc/init.rc/"] {
        ensure!(ok(path, rt::fs::read(path))? == want, "{path} reads other bytes than initfs:etc/init.rc");
        let file = ok(path, rt::fs::File::open(path))?;
        let mode = ok("fstat", file.stat())?.st_mode;
        ensure!(mode & MODE_TYPE == MODE_FILE && mode & 0o777 != 0, "{path}: mode {mode:#o}");
    }
    for path in [
        "initfs:etc/./init.rc",
        "initfs:etc/../etc/init.rc",
        "initfs:etc/init.rc/x",
        "initfs:etc/init",
        "initfs:Etc/init.rc",
        "initfs:etc/init.rc2",
        "initfs:/etc/init.rc/.",
    ] {
        expect_err(path, rt::sys::open(path, O_RDONLY), sc::ENOENT)?;
    }
    let root = ok("read initfs:", rt::fs::read_to_string("initfs:"))?;
    ensure!(root.lines().any(|name| name == "etc"), "initfs: lists {root:?}");
    for path in ["initfs:/", "initfs://"] {
        ensure!(ok(path, rt::fs::read_to_string(path))? == root, "{path} lists other names than initfs:");
    }
    let etc = ok("read initfs:etc", rt::fs::read_to_string("initfs:etc"))?;
    ensure!(etc.lines().any(|name| name == "init.rc"), "initfs:etc lists {etc:?}");
    for path in ["initfs:/etc", "initfs:etc/", "initfs:/etc//"] {
        ensure!(ok(path, rt::fs::read_to_string(path))? == etc, "{path} lists other names than initfs:etc");
        let dir = ok(path, rt::fs::File::open(path))?;
        ensure!(ok("fstat", dir.stat())?.st_mode & MODE_TYPE == MODE_DIR, "{path} is not a directory");
    }
    Ok(String::from("5 spellings of a file, 3 of the root and 4 of a directory agree; 7 others ENOENT"))
}

pub fn open_bad_paths() -> Outcome {
    let cases: [(&str, usize, i32); 6] = [
        ("initfs:no/such/file", O_RDONLY, sc::ENOENT),
        ("nosuchscheme:x", O_RDONLY, sc::ENODEV),
        ("no-colon", O_RDONLY, sc::ENOENT),
        ("", O_RDONLY, sc::ENOENT),
        (SELF, O_RDONLY | O_DIRECTORY, sc::ENOTDIR),
        (":nosuchdaemon", O_RDONLY, sc::ENOENT),
    ];
    for (path, flags, want) in cases {
        let ret = syscall(sc::SYS_OPEN, &[path.as_ptr().expose_provenance(), path.len(), flags]);
        expect_errno(&format!("open {path:?}"), ret, want)?;
    }
    let not_utf8 = b"initfs:\xff\xfe";
    let ret = syscall(sc::SYS_OPEN, &[not_utf8.as_ptr().expose_provenance(), not_utf8.len(), O_RDONLY]);
    expect_errno("open of a non-UTF-8 path", ret, sc::EINVAL)?;
    let long = vec![b'a'; 4097];
    let ret = syscall(sc::SYS_OPEN, &[long.as_ptr().expose_provenance(), long.len(), O_RDONLY]);
    expect_errno("open of a 4097-byte path", ret, sc::ENAMETOOLONG)?;
    Ok(String::from("ENOENT ENODEV ENOTDIR EINVAL ENAMETOOLONG"))
}

pub fn debug_scheme_and_stdio() -> Outcome {
    let fd = open("debug:", O_RDWR | sc::O_NONBLOCK)?;
    let stat = ok("fstat debug:", rt::sys::fstat(fd))?;
    ensure!(stat.st_mode & MODE_TYPE == MODE_CHR, "debug: mode {:#o}", stat.st_mode);
    let mut buf = [0u8; 8];
    // Console input: none is typed during the suite.
    expect_err("read debug:", rt::sys::read(fd, &mut buf), sc::EAGAIN)?;
    ensure!(ok("write 0 bytes", rt::sys::write(fd, b""))? == 0, "an empty write did not return 0");
    let line = b"usertests: a line written to debug:\n";
    ensure!(ok("write", rt::sys::write(fd, line))? == line.len(), "a short write to debug:");
    ensure!(fpath(fd, 64)? == b"debug:", "fpath of debug: is not \"debug:\"");
    expect_errno("lseek on debug:", syscall(sc::SYS_LSEEK, &[fd, 0, SEEK_SET]), sc::ESPIPE)?;
    ok("close", rt::sys::close(fd))?;
    // `debug:raw`: write-only, its bytes unchanged (a console driver's).
    for flags in [O_RDONLY, O_RDWR] {
        expect_err("open debug:raw to read", rt::sys::open("debug:raw", flags), sc::EACCES)?;
    }
    let raw = open("debug:raw", sc::O_WRONLY)?;
    let line = b"usertests: a line written to debug:raw\r\n";
    ensure!(ok("write raw", rt::sys::write(raw, line))? == line.len(), "a short write to debug:raw");
    expect_err("read debug:raw", rt::sys::read(raw, &mut buf), sc::EBADF)?;
    ensure!(fpath(raw, 64)? == b"debug:raw", "fpath of debug:raw is not \"debug:raw\"");
    ok("close debug:raw", rt::sys::close(raw))?;
    // Standard output and error are the console too.
    for stdio in [1, 2] {
        let path = fpath(stdio, 64)?;
        ensure!(path == b"debug:", "fd {stdio} is {:?}", String::from_utf8_lossy(&path));
    }
    Ok(String::new())
}

/// `debug:level`: the kernel log's console level, readable by anyone,
/// set by root only, to a level name only.
pub fn debug_level_sets_what_the_console_prints() -> Outcome {
    let was = ok("read debug:level", rt::fs::read_to_string("debug:level"))?;
    ensure!(
        ["off", "error", "warn", "info", "debug", "trace"].contains(&was.trim_end()) && was.ends_with('\n'),
        "debug:level reads {was:?}"
    );
    let fd = open("debug:level", O_RDWR)?;
    ensure!(ok("set error", rt::sys::write(fd, b"error\n"))? == 6, "a short write to debug:level");
    ensure!(ok("read it back", rt::fs::read_to_string("debug:level"))? == "error\n", "debug:level did not change");
    expect_err("level loud", rt::sys::write(fd, b"loud"), sc::EINVAL)?;
    expect_err("debug:nosuch", rt::sys::open("debug:nosuch", O_RDONLY), sc::ENOENT)?;
    let status = crate::support::run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        let Ok(fd) = rt::sys::open("debug:level", O_RDWR) else { return 3 };
        match (rt::sys::write(fd, b"trace"), rt::fs::read_to_string("debug:level")) {
            (Err(err), Ok(text)) if err.errno == sc::EACCES && text == "error\n" => 0,
            _ => 1,
        }
    })?;
    ok("restore it", rt::sys::write(fd, was.as_bytes()))?;
    ok("close", rt::sys::close(fd))?;
    crate::support::expect_exit("debug:level as user 1000", status, 0)?;
    Ok(String::from("read by anyone, set by root, EINVAL for a bad level"))
}

pub fn descriptor_table_limit() -> Outcome {
    let fd = open(SELF, O_RDONLY)?;
    let mut fds = Vec::new();
    let limit_hit = loop {
        let ret = dup(fd);
        match crate::support::errno(ret) {
            None => fds.push(ret as usize),
            Some(errno) => break errno,
        }
        if fds.len() > 100_000 {
            break 0;
        }
    };
    let count = fds.len() + 4;
    for dup_fd in &fds {
        ok("close", rt::sys::close(*dup_fd))?;
    }
    ensure!(limit_hit == sc::EMFILE, "dup stopped after {count} descriptors with errno {limit_hit}, not EMFILE");
    // Closing made room again; the lowest free descriptor comes back.
    let again = expect_ok("dup after closing", dup(fd))?;
    ensure!(again == fds[0], "dup gave {again}, not the lowest free descriptor {}", fds[0]);
    ok("close", rt::sys::close(again))?;
    ok("close", rt::sys::close(fd))?;
    Ok(format!("EMFILE at {count} descriptors"))
}

pub fn unknown_syscall_is_enosys() -> Outcome {
    for number in [0xdead_usize, 0x10ff, sc::SYS_FCHMOD, sc::SYS_GETDENTS, usize::MAX] {
        expect_errno(&format!("system call {number:#x}"), syscall(number, &[1, 2, 3, 4, 5, 6]), sc::ENOSYS)?;
    }
    Ok(String::from("5 numbers"))
}

pub fn fmap_initfs_file_zero_copy() -> Outcome {
    let file = ok("open", rt::fs::File::open(SELF))?;
    let view = ok("fmap", rt::mem::map_file_read_only(file.fd(), 0, 8192))?;
    let magic: Vec<u8> = view.atomic_u8s()[..4].iter().map(|b| b.load(core::sync::atomic::Ordering::Relaxed)).collect();
    ensure!(magic == b"\x7fELF", "mapped bytes {magic:?}");
    let denied = fmap_raw(file.fd(), 0, 4096, sc::PROT_READ | sc::PROT_WRITE | sc::MAP_SHARED);
    expect_errno("shared writable fmap of initfs", denied, sc::EROFS)?;
    expect_errno("unaligned offset", fmap_raw(file.fd(), 100, 4096, sc::PROT_READ | sc::MAP_PRIVATE), sc::EINVAL)?;
    expect_errno("past the end", fmap_raw(file.fd(), 1 << 30, 4096, sc::PROT_READ | sc::MAP_PRIVATE), sc::EINVAL)?;
    let debug = ok("open debug:", rt::fs::File::open("debug:"))?;
    expect_errno("fmap of debug:", fmap_raw(debug.fd(), 0, 4096, sc::PROT_READ | sc::MAP_PRIVATE), sc::ENODEV)?;
    Ok(String::from("the ELF header through the ramdisk's own page"))
}

pub fn memory_scheme_anonymous_and_physical() -> Outcome {
    let zero = ok("open memory:", rt::fs::File::open_with("memory:", O_RDWR))?;
    let view = ok("fmap memory:", rt::mem::map_file_shared(zero.fd(), 0, 3 * 4096))?;
    ensure!(view.atomic_u64s().iter().all(|w| w.load(core::sync::atomic::Ordering::Relaxed) == 0), "not zeroed");
    view.atomic_u64s()[100].store(7, core::sync::atomic::Ordering::Relaxed);
    let phys = ok("open memory:physical", rt::fs::File::open_with("memory:physical", O_RDWR))?;
    // The legacy VGA window is device memory; RAM is refused.
    let vga = fmap_raw(phys.fd(), 0xa0000, 4096, sc::PROT_READ | sc::MAP_SHARED);
    expect_ok("fmap of the VGA window", vga)?;
    expect_errno("fmap of RAM", fmap_raw(phys.fd(), 0x20_0000, 4096, sc::PROT_READ | sc::MAP_SHARED), sc::EPERM)?;
    let status = crate::support::run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        match rt::fs::File::open("memory:physical") {
            Err(err) if err.errno == sc::EACCES => 0,
            _ => 1,
        }
    })?;
    crate::support::expect_exit("unprivileged memory:physical", status, 0)?;
    Ok(String::from("zeroed anonymous pages; device memory for root only; RAM refused"))
}

/// `SYS_FMAP` with a `Map` built here, without MAP_FIXED (harmless).
fn fmap_raw(fd: usize, offset: usize, size: usize, flags: sc::MapFlags) -> isize {
    let map = sc::Map { offset, size, flags, address: 0 };
    syscall(sc::SYS_FMAP, &[fd, (&raw const map).expose_provenance(), size_of::<sc::Map>()])
}

pub fn debug_input_nonblocking_and_events() -> Outcome {
    let console = ok("open debug:", rt::fs::File::open_with("debug:", O_RDWR | sc::O_NONBLOCK))?;
    let mut buf = [0u8; 16];
    // Nobody types during the suite: nothing to read.
    expect_err("non-blocking read of the console", rt::sys::read(console.fd(), &mut buf), sc::EAGAIN)?;
    let queue = ok("event:", rt::event::EventQueue::new())?;
    ok("watch", queue.watch(console.fd(), sc::EventFlags::EVENT_WRITE | sc::EventFlags::EVENT_READ, 9))?;
    let mut events = [sc::Event::default(); 2];
    let n = ok("wait", queue.wait(&mut events))?;
    ensure!(n == 1 && events[0].data == 9, "events {:?}", &events[..n]);
    ensure!(events[0].flags == sc::EventFlags::EVENT_WRITE, "ready for {:?} with no input", events[0].flags);
    Ok(String::from("EAGAIN without input; writable at once"))
}
