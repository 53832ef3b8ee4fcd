//! `pipe:` and the fd calls around it: ordered, lossless transfer between
//! processes, end-of-file and `EPIPE`, non-blocking ends, events, `dup2`
//! and `fcntl`.

use alloc::format;
use alloc::string::String;
use alloc::vec;

use rt::abi::syscall::{self as sc, EventFlags};
use rt::fs::File;

use crate::support::{Outcome, WAIT, ensure, expect_err, expect_exit, fork_child, ok, wait_for};

pub fn pipe_carries_a_megabyte_in_order() -> Outcome {
    const TOTAL: usize = 1 << 20;
    let (mut read_end, write_end) = ok("pipe", rt::fs::pipe())?;
    let writer = fork_child(move || {
        let mut write_end = write_end;
        let mut sent = 0usize;
        let mut chunk = vec![0u8; 7919];
        while sent < TOTAL {
            let n = chunk.len().min(TOTAL - sent);
            for (i, byte) in chunk[..n].iter_mut().enumerate() {
                *byte = ((sent + i) % 251) as u8;
            }
            if write_end.write_all(&chunk[..n]).is_err() {
                return 1;
            }
            sent += n;
        }
        0
    })?;
    let mut received = 0usize;
    let mut buf = vec![0u8; 10_000];
    loop {
        let n = ok("read", read_end.read(&mut buf))?;
        if n == 0 {
            break;
        }
        for (i, &byte) in buf[..n].iter().enumerate() {
            ensure!(byte == ((received + i) % 251) as u8, "byte {} is {byte}", received + i);
        }
        received += n;
        ensure!(received <= TOTAL, "received more than was sent");
    }
    expect_exit("writer", wait_for(writer, WAIT)?, 0)?;
    ensure!(received == TOTAL, "received {received} of {TOTAL} bytes");
    Ok(format!("{TOTAL} bytes, then end-of-file"))
}

pub fn pipe_end_of_file_and_epipe() -> Outcome {
    let (mut read_end, write_end) = ok("pipe", rt::fs::pipe())?;
    let mut buf = [0u8; 4];
    ok("write", rt::sys::write(write_end.fd(), b"ab"))?;
    drop(write_end);
    let n = ok("read the rest", read_end.read(&mut buf))?;
    ensure!(&buf[..n] == b"ab", "read {:?}", &buf[..n]);
    ensure!(ok("read at the end", read_end.read(&mut buf))? == 0, "no end-of-file after the writer closed");
    let (read_end, write_end) = ok("pipe", rt::fs::pipe())?;
    drop(read_end);
    expect_err("write with no reader", rt::sys::write(write_end.fd(), b"x"), sc::EPIPE)?;
    expect_err("write to the read end", rt::sys::write(read_end_of(&write_end)?.fd(), b"x"), sc::EBADF)?;
    Ok(String::from("0 after the writer, EPIPE without a reader"))
}

fn read_end_of(write_end: &File) -> Result<File, String> {
    ok("derive read end", write_end.derive("read"))
}

pub fn pipe_nonblocking_and_events() -> Outcome {
    let (mut read_end, mut write_end) = ok("pipe", rt::fs::pipe())?;
    ok("nonblocking", read_end.set_nonblocking(true))?;
    ok("nonblocking", write_end.set_nonblocking(true))?;
    let mut buf = [0u8; 8];
    expect_err("empty read", read_end.read(&mut buf), sc::EAGAIN)?;
    let queue = ok("event:", rt::event::EventQueue::new())?;
    ok("watch", queue.watch(read_end.fd(), EventFlags::EVENT_READ, 5))?;
    // Fill it: the last write is short or EAGAIN, never a lost byte.
    let chunk = vec![1u8; 4096];
    let mut written = 0usize;
    loop {
        match write_end.write(&chunk) {
            Ok(n) => written += n,
            Err(err) if err.errno == sc::EAGAIN => break,
            Err(err) => return Err(format!("write: {}", crate::support::ename(err))),
        }
        ensure!(written <= 1 << 20, "a pipe took {written} bytes without filling");
    }
    let mut events = [sc::Event::default(); 2];
    let n = ok("wait", queue.wait(&mut events))?;
    ensure!(n == 1 && events[0].data == 5, "events {:?}", &events[..n]);
    let mut drained = 0usize;
    let mut big = vec![0u8; 8192];
    loop {
        match read_end.read(&mut big) {
            Ok(n) => drained += n,
            Err(err) if err.errno == sc::EAGAIN => break,
            Err(err) => return Err(format!("read: {}", crate::support::ename(err))),
        }
    }
    ensure!(drained == written, "wrote {written}, drained {drained}");
    Ok(format!("full at {written} bytes; EAGAIN both ways; READ event"))
}

pub fn dup2_and_fcntl() -> Outcome {
    let (read_end, write_end) = ok("pipe", rt::fs::pipe())?;
    let target = 40;
    let fd = ok("dup2", rt::sys::dup2(write_end.fd(), target, &[]))?;
    ensure!(fd == target, "dup2 returned {fd}");
    ok("write via the copy", rt::sys::write(target, b"z"))?;
    let mut buf = [0u8; 1];
    ok("read", rt::sys::read(read_end.fd(), &mut buf))?;
    ensure!(buf == *b"z", "read {buf:?}");
    let flags = ok("F_GETFL", rt::sys::fcntl(target, sc::F_GETFL, 0))?;
    ensure!(flags & sc::O_NONBLOCK == 0, "O_NONBLOCK set from the start");
    ok("F_SETFL", rt::sys::fcntl(target, sc::F_SETFL, flags | sc::O_NONBLOCK))?;
    let shared = ok("F_GETFL", rt::sys::fcntl(write_end.fd(), sc::F_GETFL, 0))?;
    ensure!(shared & sc::O_NONBLOCK != 0, "status flags not shared by dup2 copies");
    ok("F_SETFD", rt::sys::fcntl(target, sc::F_SETFD, 1))?;
    ensure!(ok("F_GETFD", rt::sys::fcntl(target, sc::F_GETFD, 0))? == 1, "close-on-exec not set");
    ensure!(ok("F_GETFD", rt::sys::fcntl(write_end.fd(), sc::F_GETFD, 0))? == 0, "close-on-exec leaked");
    expect_err("fcntl bad command", rt::sys::fcntl(target, 999, 0), sc::EINVAL)?;
    expect_err("fcntl bad fd", rt::sys::fcntl(999, sc::F_GETFL, 0), sc::EBADF)?;
    expect_err("dup2 too high", rt::sys::dup2(target, 1 << 20, &[]), sc::EBADF)?;
    expect_err("dup bad name", rt::sys::dup(read_end.fd(), b"sideways"), sc::EINVAL)?;
    ok("close", rt::sys::close(target))?;
    Ok(String::from("dup2 at a chosen fd, shared status flags, per-fd close-on-exec"))
}
