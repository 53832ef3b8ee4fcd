//! The scheme daemons init starts on a normal boot (`schemes/`), started
//! here by the test itself (a self-test boot runs no `init.rc`): `zero:`,
//! `null:`, `rand:` and the example `greet:`.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use rt::abi::syscall::{self as sc, O_RDWR};
use rt::fs::File;

use crate::support::{Outcome, WAIT, ensure, fork_child, kill_and_reap, ok, wait_until};

/// A daemon exec'd from the initfs, killed when dropped.
pub struct Daemon(usize);

impl Drop for Daemon {
    fn drop(&mut self) {
        kill_and_reap(self.0);
    }
}

/// Start `initfs:sbin/PROGRAM` and wait until `scheme:` opens.
pub fn start(program: &str, scheme: &str) -> Result<Daemon, String> {
    start_with(program, &[], scheme)
}

/// Start `initfs:sbin/PROGRAM ARGS...` and wait until `scheme:` opens.
pub fn start_with(program: &str, args: &[&str], scheme: &str) -> Result<Daemon, String> {
    let path = format!("initfs:sbin/{program}");
    let pid = fork_child(|| {
        let err = rt::process::exec(&path, args, &[]);
        rt::eprintln!("usertests: exec {path}: {err}");
        127
    })?;
    let daemon = Daemon(pid);
    let url = format!("{scheme}:");
    ensure!(wait_until(WAIT, || File::open(&url).is_ok()), "{program} never served {url}");
    Ok(daemon)
}

pub fn zero_null_and_rand_daemons() -> Outcome {
    let _zero = start("zerod", "zero")?;
    let _null = start("nulld", "null")?;
    let _rand = start("randd", "rand")?;
    let mut zero = ok("open zero:", File::open_with("zero:", O_RDWR))?;
    let mut big = vec![0xffu8; 65_536 + 7];
    let n = ok("read zero:", zero.read(&mut big[7..]))?;
    ensure!(n == 65_536 && big[7..].iter().all(|&b| b == 0), "zero: gave {n} bytes, not all zero");
    ensure!(big[..7].iter().all(|&b| b == 0xff), "zero: wrote outside the buffer");
    ensure!(ok("write zero:", zero.write(b"gone"))? == 4, "zero: refused a write");

    let mut null = ok("open null:", File::open_with("null:", O_RDWR))?;
    let mut buf = [1u8; 16];
    ensure!(ok("read null:", null.read(&mut buf))? == 0, "null: is not end-of-file");
    ensure!(ok("write null:", null.write(&big))? == big.len(), "null: took less than everything");

    let mut rand = ok("open rand:", File::open("rand:"))?;
    let mut a = vec![0u8; 4096];
    let mut b = vec![0u8; 4096];
    ok("read rand:", rand.read_exact(&mut a))?;
    ok("read rand:", rand.read_exact(&mut b))?;
    ensure!(a != b, "two reads of rand: gave the same bytes");
    let mut counts = [0u32; 256];
    for &byte in a.iter().chain(&b) {
        counts[usize::from(byte)] += 1;
    }
    // 8192 bytes over 256 values: 32 expected each; a broken generator
    // (all zero, a short cycle) leaves most values out.
    let seen = counts.iter().filter(|&&c| c > 0).count();
    ensure!(seen > 240, "rand: used only {seen} of 256 byte values in 8 KiB");
    expect_enoent()?;
    Ok(format!("zero: 64 KiB of zeroes, null: EOF and a sink, rand: {seen}/256 byte values"))
}

fn expect_enoent() -> Result<(), String> {
    for url in ["zero:x", "null:x", "rand:x"] {
        crate::support::expect_err(url, File::open(url), sc::ENOENT)?;
    }
    Ok(())
}

pub fn greet_example_daemon() -> Outcome {
    let _greet = start("greetd", "greet")?;
    let hello = ok("read greet:world", rt::fs::read_to_string("greet:world"))?;
    ensure!(hello == "Hello, world!\n", "greet:world says {hello:?}");
    ok("write greet:", rt::fs::write("greet:", b"Howdy\n"))?;
    let howdy = ok("read greet:Ferrite", rt::fs::read_to_string("greet:Ferrite"))?;
    ensure!(howdy == "Howdy, Ferrite!\n", "after the write, greet:Ferrite says {howdy:?}");
    let lines: Vec<&str> = howdy.lines().collect();
    Ok(String::from(lines[0]))
}

pub fn tmp_file_system() -> Outcome {
    use rt::abi::syscall::{O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_TRUNC, O_WRONLY};
    use rt::fs::SeekFrom;
    let _tmp = start("tmpd", "tmp")?;
    // Files: create, write, read back, append, seek, truncate.
    ok("write tmp:a.txt", rt::fs::write("tmp:a.txt", b"hello\n"))?;
    let text = ok("read tmp:a.txt", rt::fs::read_to_string("tmp:a.txt"))?;
    ensure!(text == "hello\n", "tmp:a.txt holds {text:?}");
    let mut log = ok("append", File::open_with("tmp:a.txt", O_WRONLY | O_APPEND))?;
    ok("append", log.write_all(b"more\n"))?;
    drop(log);
    let mut file = ok("open rw", File::open_with("tmp:a.txt", O_RDWR))?;
    ok("seek", file.seek(SeekFrom::Start(6)))?;
    let mut tail = String::new();
    ok("read tail", file.read_to_string(&mut tail))?;
    ensure!(tail == "more\n", "after append and seek: {tail:?}");
    ok("truncate", file.set_len(2))?;
    ensure!(ok("fstat", file.stat())?.st_size == 2, "truncate did not shrink");
    ensure!(ok("fpath", file.path())? == "tmp:a.txt", "fpath");
    crate::support::expect_err(
        "O_EXCL on an existing file",
        File::open_with("tmp:a.txt", O_CREAT | O_EXCL | O_RDWR),
        sc::EEXIST,
    )?;
    // Directories: make, list, nest, refuse to remove when not empty.
    drop(ok("mkdir", File::open_with("tmp:dir", O_CREAT | O_DIRECTORY | O_RDONLY))?);
    ok("nested file", rt::fs::write("tmp:dir/inner", b"x"))?;
    let listing = ok("list tmp:", rt::fs::read_to_string("tmp:"))?;
    ensure!(listing == "a.txt\ndir\n", "tmp: lists {listing:?}");
    let stat = ok("fstat dir", File::open("tmp:dir").and_then(|d| d.stat()))?;
    ensure!(stat.st_mode & sc::MODE_TYPE == sc::MODE_DIR, "tmp:dir mode {:#o}", stat.st_mode);
    crate::support::expect_err("rmdir of a full directory", rt::fs::remove_dir("tmp:dir"), sc::ENOTEMPTY)?;
    crate::support::expect_err("write to a directory", File::open_with("tmp:dir", O_WRONLY), sc::EISDIR)?;
    crate::support::expect_err("unlink a directory", rt::fs::remove_file("tmp:dir"), sc::EISDIR)?;
    crate::support::expect_err("missing parent", File::create("tmp:nope/x"), sc::ENOENT)?;
    crate::support::expect_err("file as a directory", File::create("tmp:a.txt/x"), sc::ENOTDIR)?;
    // A listing is one name per line: a name with a newline could be
    // neither listed nor removed by its listing.
    crate::support::expect_err("a name with a newline", File::create("tmp:a\nb"), sc::EINVAL)?;
    crate::support::expect_err("a name with a NUL", File::create("tmp:a\0b"), sc::EINVAL)?;
    crate::support::expect_err("a 256-byte name", File::create(&format!("tmp:{}", "n".repeat(256))), sc::ENAMETOOLONG)?;
    // Rename, into the directory and over a file.
    crate::support::expect_err("rename to a name with a newline", rt::sys::frename(file.fd(), "tmp:x\ny"), sc::EINVAL)?;
    ok("rename", rt::sys::frename(file.fd(), "tmp:dir/b.txt"))?;
    ensure!(ok("fpath after rename", file.path())? == "tmp:dir/b.txt", "fpath after rename");
    crate::support::expect_err("old name", File::open("tmp:a.txt"), sc::ENOENT)?;
    crate::support::expect_err(
        "rename into itself",
        rt::sys::frename(ok("open dir", File::open("tmp:dir"))?.fd(), "tmp:dir/sub"),
        sc::EINVAL,
    )?;
    // Unlinked while open: still readable until closed.
    ok("unlink", rt::fs::remove_file("tmp:dir/b.txt"))?;
    ok("seek", file.seek(SeekFrom::Start(0)))?;
    let mut kept = String::new();
    ok("read unlinked", file.read_to_string(&mut kept))?;
    ensure!(kept == "he", "the unlinked file reads {kept:?}");
    drop(file);
    ok("unlink inner", rt::fs::remove_file("tmp:dir/inner"))?;
    ok("rmdir", rt::fs::remove_dir("tmp:dir"))?;
    ensure!(ok("list", rt::fs::read_to_string("tmp:"))?.is_empty(), "tmp: not empty at the end");
    // A megabyte through lent pages, and O_TRUNC.
    let big: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    ok("write 1 MiB", rt::fs::write("tmp:big", &big))?;
    ensure!(ok("read 1 MiB", rt::fs::read("tmp:big"))? == big, "1 MiB came back different");
    drop(ok("O_TRUNC", File::open_with("tmp:big", O_WRONLY | O_TRUNC))?);
    ensure!(ok("read truncated", rt::fs::read("tmp:big"))?.is_empty(), "O_TRUNC kept data");
    Ok(String::from("files, append, seek, truncate, directories, names, rename, unlink while open, 1 MiB"))
}

pub fn log_collects_lines() -> Outcome {
    let _log = start("logd", "log")?;
    let mut follower = ok("open log:console", File::open_with("log:console", sc::O_RDONLY | sc::O_NONBLOCK))?;
    let mut reader = ok("open log: for reading", File::open("log:"))?;
    let mut writer = ok("open log: for writing", File::open_with("log:", sc::O_WRONLY))?;
    ok("write", writer.write_all(b"first line\nsecond "))?;
    ok("write", writer.write_all(b"half\nunfinished"))?;
    let before = ok("cat log:", rt::fs::read_to_string("log:"))?;
    let pid = rt::process::getpid();
    ensure!(before.contains(&format!("] INFO  pid {pid} first line\n")), "log: holds {before:?}");
    ensure!(before.contains("second half\n"), "a line split across writes: {before:?}");
    ensure!(!before.contains("unfinished"), "a partial line was kept before its newline");
    drop(writer);
    // The close is answered before the next request: read until it shows.
    ensure!(
        wait_until(WAIT, || rt::fs::read_to_string("log:").is_ok_and(|t| t.contains("unfinished"))),
        "the partial line was lost at close"
    );
    let lines = ok("cat log:", rt::fs::read_to_string("log:"))?.lines().count();
    ensure!(lines == 3, "{lines} lines kept, expected 3");
    crate::support::expect_err(
        "write to a reader",
        rt::sys::write(ok("open", File::open("log:"))?.fd(), b"x"),
        sc::EBADF,
    )?;

    // A reader at the end sees what comes later (`tail -f log:`).
    let mut buf = vec![0u8; 4096];
    let n = ok("read log:", reader.read(&mut buf))?;
    ensure!(n > 0 && ok("read at the end", reader.read(&mut buf))? == 0, "log: did not end");
    let mut writer = ok("open log: for writing", File::open_with("log:", sc::O_WRONLY))?;
    ok("write", writer.write_all(b"<warn>test: a warning\n<debug>test: chatter\n"))?;
    let n = ok("read on", reader.read(&mut buf))?;
    let later = String::from_utf8_lossy(&buf[..n]).into_owned();
    ensure!(
        later.contains(&format!("] WARN  pid {pid} test: a warning\n")) && later.contains("] DEBUG "),
        "a reader at the end then got {later:?}"
    );

    // log:console: what is at least as severe as the console level
    // (info at start), from the open on.
    let n = ok("read log:console", follower.read(&mut buf))?;
    let shown = String::from_utf8_lossy(&buf[..n]).into_owned();
    ensure!(shown.contains("first line") && shown.contains("a warning"), "log:console gave {shown:?}");
    ensure!(!shown.contains("chatter"), "log:console showed a debug line: {shown:?}");
    crate::support::expect_err("log:console when empty", follower.read(&mut buf).map(drop), sc::EAGAIN)?;
    let mut level = ok("open log:console-level", File::open_with("log:console-level", sc::O_RDWR))?;
    ensure!(ok("read it", rt::fs::read_to_string("log:console-level"))? == "info\n", "the level is not info");
    crate::support::expect_err("level loud", level.write_all(b"loud").map(drop), sc::EINVAL)?;
    ok("set warn", level.write_all(b"warn\n"))?;
    ok("write", writer.write_all(b"test: ordinary\n<error>test: broken\n"))?;
    let n = ok("read log:console", follower.read(&mut buf))?;
    let shown = String::from_utf8_lossy(&buf[..n]).into_owned();
    ensure!(shown.contains("ERROR") && !shown.contains("ordinary"), "at warn, log:console gave {shown:?}");
    crate::support::expect_err("log:console for writing", rt::sys::open("log:console", sc::O_WRONLY), sc::EACCES)?;
    crate::support::expect_err("log:nosuch", rt::sys::open("log:nosuch", sc::O_RDONLY), sc::ENOENT)?;
    let status = crate::support::run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        match (rt::sys::open("log:console-level", sc::O_WRONLY), rt::fs::read_to_string("log:console-level")) {
            (Err(err), Ok(text)) if err.errno == sc::EACCES && text == "warn\n" => 0,
            _ => 1,
        }
    })?;
    crate::support::expect_exit("log:console-level as user 1000", status, 0)?;
    Ok(String::from(
        "lines with time, level and pid; split and partial lines; readers follow; the console's lines and level",
    ))
}
