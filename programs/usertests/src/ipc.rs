//! `ipcd`: `chan:` channels and `shm:` shared memory, between this test
//! and forked children. Each test execs its own `initfs:sbin/ipcd chan`
//! and `ipcd shm` (a self-test boot runs no `init.rc`) and kills them at
//! the end.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use rt::abi::syscall::{self as sc, Event, EventFlags, O_CREAT, O_EXCL, O_NONBLOCK, O_RDWR};
use rt::event::EventQueue;
use rt::fs::File;
use xorshift::Rng;

use crate::support::{
    Outcome, WAIT, await_flag, ensure, expect_err, expect_exit, fork_child, kill_and_reap, ok, raise_flag, shared_page,
    sleep_ms, wait_for, wait_until,
};

/// Bytes a channel holds each way (ipcd's `chan::CAPACITY`).
const CAPACITY: usize = 64 * 1024;

/// The daemons (`chan:`'s, `shm:`'s), killed when dropped.
struct Ipcd([usize; 2]);

impl Drop for Ipcd {
    fn drop(&mut self) {
        for pid in self.0 {
            kill_and_reap(pid);
        }
    }
}

/// Whether `scheme:` is served (any answer but `ENODEV` means registered).
fn served(scheme: &str) -> bool {
    !matches!(File::open(&format!("{scheme}:")), Err(err) if err.errno == sc::ENODEV)
}

fn start() -> Result<Ipcd, String> {
    let spawn = |scheme: &'static str| {
        fork_child(move || {
            let err = rt::process::exec("initfs:sbin/ipcd", &[scheme], &[]);
            rt::eprintln!("usertests: exec ipcd {scheme}: {err}");
            127
        })
    };
    let chan = spawn("chan")?;
    let shm = match spawn("shm") {
        Ok(pid) => pid,
        Err(err) => {
            kill_and_reap(chan);
            return Err(err);
        }
    };
    let daemons = Ipcd([chan, shm]);
    ensure!(wait_until(WAIT, || served("chan") && served("shm")), "ipcd never served chan: and shm:");
    Ok(daemons)
}

fn open(url: &str, flags: usize) -> Result<File, String> {
    ok(&format!("open {url}"), File::open_with(url, flags))
}

fn accept(listener: &File) -> Result<File, String> {
    ok("dup listen", listener.derive("listen"))
}

/// Read exactly `len` bytes (the writer may deliver them in pieces).
fn read_exactly(file: &mut File, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    ok("read", file.read_exact(&mut buf))?;
    Ok(buf)
}

pub fn chan_listen_connect_accept() -> Outcome {
    let _ipcd = start()?;
    expect_err("connect to nobody", File::open_with("chan:nobody", O_RDWR), sc::ENOENT)?;
    let listener = open("chan:talk", O_CREAT | O_EXCL | O_RDWR)?;
    expect_err("O_EXCL on a taken name", File::open_with("chan:talk", O_CREAT | O_EXCL | O_RDWR), sc::EEXIST)?;
    let mut client = open("chan:talk", O_RDWR)?;
    let mut server = accept(&listener)?;
    ok("client write", client.write_all(b"ping"))?;
    ensure!(read_exactly(&mut server, 4)? == b"ping", "server got other bytes");
    ok("server write", server.write_all(b"pong!"))?;
    ensure!(read_exactly(&mut client, 5)? == b"pong!", "client got other bytes");
    ensure!(ok("fpath", client.path())? == "chan:talk", "client's path is {:?}", client.path());
    ok("client write", client.write_all(b"xyz"))?;
    let stat = ok("fstat", server.stat())?;
    ensure!(stat.st_mode & sc::MODE_TYPE == sc::MODE_FIFO, "mode {:#o}", stat.st_mode);
    ensure!(stat.st_size == 3, "fstat counts {} bytes waiting, not 3", stat.st_size);

    // O_CREAT without O_EXCL on a taken name connects, like a file's open.
    let mut second = open("chan:talk", O_CREAT | O_RDWR)?;
    // An unnamed client, through the listener's fd.
    let mut third = ok("dup connect", listener.derive("connect"))?;
    let mut second_server = accept(&listener)?;
    let mut third_server = accept(&listener)?;
    ok("write", second.write_all(b"2"))?;
    ok("write", third.write_all(b"3"))?;
    ensure!(read_exactly(&mut second_server, 1)? == b"2", "connections accepted out of order");
    ensure!(read_exactly(&mut third_server, 1)? == b"3", "unnamed connection mixed up");

    // A client still waiting when the listener closes sees its peer gone.
    let mut waiting = open("chan:talk", O_RDWR)?;
    ok("close listener", listener.close())?;
    expect_err("connect after the listener closed", File::open_with("chan:talk", O_RDWR), sc::ENOENT)?;
    ensure!(ok("read", waiting.read(&mut [0u8; 8]))? == 0, "an unaccepted client is not at end-of-file");
    expect_err("write to an unaccepted client's gone listener", waiting.write(b"x"), sc::EPIPE)?;
    // Accepted connections outlive their listener.
    ok("write", server.write_all(b"still here"))?;
    ensure!(read_exactly(&mut client, 10)? == b"still here", "connection broke with its listener");
    // The name is free again.
    let mut again = open("chan:talk", O_CREAT | O_EXCL | O_RDWR)?;
    expect_err("read a listener", again.read(&mut [0u8; 1]), sc::ENOTCONN)?;
    Ok(String::from("listen, connect, accept in order, unnamed connect, ENOENT, EEXIST, name freed on close"))
}

pub fn chan_eof_and_epipe() -> Outcome {
    let _ipcd = start()?;
    let listener = open("chan:eof", O_CREAT | O_RDWR)?;
    let mut client = open("chan:eof", O_RDWR)?;
    let mut server = accept(&listener)?;
    ok("write", client.write_all(b"last words"))?;
    ok("close client", client.close())?;
    ensure!(read_exactly(&mut server, 10)? == b"last words", "data written before close was lost");
    ensure!(ok("read", server.read(&mut [0u8; 16]))? == 0, "no end-of-file after the peer closed");
    ensure!(ok("read", server.read(&mut [0u8; 16]))? == 0, "end-of-file does not last");
    expect_err("write to a closed peer", server.write(b"anyone?"), sc::EPIPE)?;
    Ok(String::from("drain, then 0, then 0; EPIPE"))
}

pub fn chan_nonblocking_eagain() -> Outcome {
    let _ipcd = start()?;
    let listener = open("chan:nb", O_CREAT | O_RDWR | O_NONBLOCK)?;
    expect_err("non-blocking accept with nobody waiting", listener.derive("listen"), sc::EAGAIN)?;
    let mut client = open("chan:nb", O_RDWR | O_NONBLOCK)?;
    let mut server = accept(&listener)?;
    ok("O_NONBLOCK", server.set_nonblocking(true))?;
    expect_err("read of an empty channel", server.read(&mut [0u8; 8]), sc::EAGAIN)?;
    let chunk = vec![0x5au8; 10_000];
    let mut total = 0;
    loop {
        match client.write(&chunk) {
            Ok(n) => total += n,
            Err(err) if err.errno == sc::EAGAIN => break,
            Err(err) => return Err(format!("write: {err}")),
        }
        ensure!(total <= CAPACITY, "the channel took {total} bytes, more than {CAPACITY}");
    }
    ensure!(total == CAPACITY, "the channel held {total} bytes, not {CAPACITY}");
    // Free 100 bytes; a 300-byte write takes exactly those (a partial write).
    ensure!(read_exactly(&mut server, 100)?.iter().all(|&b| b == 0x5a), "wrong bytes");
    ensure!(ok("partial write", client.write(&[1u8; 300]))? == 100, "a partial write took other than the free room");
    expect_err("write to a full channel", client.write(b"x"), sc::EAGAIN)?;
    Ok(format!("EAGAIN on accept, empty read and full write at {CAPACITY} bytes; partial write counted"))
}

pub fn chan_blocked_writer_released() -> Outcome {
    let _ipcd = start()?;
    let listener = open("chan:block", O_CREAT | O_RDWR)?;
    let flag = shared_page()?;
    const TOTAL: usize = 3 * CAPACITY + 1234;
    let writer = fork_child(|| {
        let Ok(mut peer) = File::open_with("chan:block", O_RDWR) else { return 2 };
        let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
        if peer.write_all(&data).is_err() {
            return 3;
        }
        raise_flag(&flag.atomic_u32s()[0]);
        0
    })?;
    let mut server = accept(&listener)?;
    sleep_ms(200);
    ensure!(flag.atomic_u32s()[0].load(Ordering::Acquire) == 0, "the writer finished with nobody reading");
    let got = read_exactly(&mut server, TOTAL)?;
    ensure!(await_flag(&flag.atomic_u32s()[0], WAIT), "the writer was never released");
    expect_exit("writer", wait_for(writer, WAIT)?, 0)?;
    ensure!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8), "bytes arrived changed or out of order");
    Ok(format!("{TOTAL} bytes through a {CAPACITY}-byte channel; the writer waited"))
}

/// Byte `i` of the transfer.
fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

pub fn chan_random_transfer_between_processes() -> Outcome {
    let _ipcd = start()?;
    let listener = open("chan:bulk", O_CREAT | O_RDWR)?;
    const TOTAL: usize = 1 << 20;
    let sender = fork_child(|| {
        let Ok(mut peer) = File::open_with("chan:bulk", O_RDWR) else { return 2 };
        let mut rng = Rng::new(0x1234_5678_9abc_def1);
        let mut sent = 0;
        while sent < TOTAL {
            let len = (1 + rng.below(3 * CAPACITY / 2)).min(TOTAL - sent);
            let chunk: Vec<u8> = (sent..sent + len).map(pattern).collect();
            // Partial writes are part of the test: resend only the rest.
            let mut done = 0;
            while done < len {
                match peer.write(&chunk[done..]) {
                    Ok(0) => return 3,
                    Ok(n) => done += n,
                    Err(_) => return 4,
                }
            }
            sent += len;
        }
        0
    })?;
    let mut server = accept(&listener)?;
    let mut rng = Rng::new(0x0fed_cba9_8765_4321);
    let mut received = 0;
    let mut reads = 0;
    let mut buf = vec![0u8; 2 * CAPACITY];
    loop {
        let want = 1 + rng.below(buf.len());
        let n = ok("read", server.read(&mut buf[..want]))?;
        if n == 0 {
            break;
        }
        reads += 1;
        if let Some(bad) = (0..n).find(|&i| buf[i] != pattern(received + i)) {
            return Err(format!("byte {} is {:#x}, not {:#x}", received + bad, buf[bad], pattern(received + bad)));
        }
        received += n;
        ensure!(received <= TOTAL, "more bytes arrived than were sent");
    }
    expect_exit("sender", wait_for(sender, WAIT)?, 0)?;
    ensure!(received == TOTAL, "{received} of {TOTAL} bytes arrived");
    Ok(format!("{TOTAL} bytes in random writes, {reads} random reads, none lost or repeated"))
}

/// The events ready now on a non-blocking queue.
fn events_now(queue: &EventQueue) -> Result<Vec<Event>, String> {
    let mut events = [Event::default(); 8];
    let mut all = Vec::new();
    loop {
        match queue.wait(&mut events) {
            Ok(n) => all.extend_from_slice(&events[..n]),
            Err(err) if err.errno == sc::EAGAIN => return Ok(all),
            Err(err) => return Err(format!("event wait: {err}")),
        }
    }
}

/// Whether no event for `data` is ready now.
fn quiet(queue: &EventQueue, data: usize) -> Result<bool, String> {
    Ok(!events_now(queue)?.iter().any(|event| event.data == data))
}

/// Wait (bounded) for an event for `data` that has all of `flags`; others
/// are dropped. The daemon reports readiness right after it answers the
/// call that caused it, so it may come a moment after that call returns.
fn await_event(queue: &EventQueue, data: usize, flags: EventFlags, what: &str) -> Result<Event, String> {
    let mut found = None;
    let mut failure = None;
    wait_until(WAIT, || match events_now(queue) {
        Ok(events) => {
            found = events.into_iter().find(|event| event.data == data && event.flags.contains(flags));
            found.is_some()
        }
        Err(err) => {
            failure = Some(err);
            true
        }
    });
    if let Some(err) = failure {
        return Err(err);
    }
    found.ok_or(format!("no event: {what}"))
}

pub fn chan_events_readable_writable_hangup() -> Outcome {
    const LISTENER: usize = 1;
    const SERVER: usize = 2;
    const CLIENT: usize = 3;
    let _ipcd = start()?;
    let queue = ok("event:", EventQueue::new())?;
    ok("O_NONBLOCK on the queue", queue.file().set_nonblocking(true))?;
    let listener = open("chan:ev", O_CREAT | O_RDWR | O_NONBLOCK)?;
    ok("watch listener", queue.watch(listener.fd(), EventFlags::EVENT_READ, LISTENER))?;
    ensure!(quiet(&queue, LISTENER)?, "a listener with nobody waiting is readable");
    let mut client = open("chan:ev", O_RDWR | O_NONBLOCK)?;
    await_event(&queue, LISTENER, EventFlags::EVENT_READ, "listener readable when a client waits")?;
    let mut server = accept(&listener)?;
    ok("O_NONBLOCK", server.set_nonblocking(true))?;
    ok("unwatch", queue.unwatch(listener.fd()))?;

    ok("watch server", queue.watch(server.fd(), EventFlags::EVENT_READ, SERVER))?;
    ensure!(quiet(&queue, SERVER)?, "an empty end is readable");
    ok("write", client.write_all(b"hi"))?;
    await_event(&queue, SERVER, EventFlags::EVENT_READ, "readable after a write")?;
    ensure!(read_exactly(&mut server, 2)? == b"hi", "wrong bytes");
    ok("unwatch", queue.unwatch(server.fd()))?;

    // Fill the client's way out; it is not writable until the server reads.
    let chunk = vec![7u8; 16 * 1024];
    while client.write(&chunk).is_ok() {}
    ok("watch client", queue.watch(client.fd(), EventFlags::EVENT_WRITE, CLIENT))?;
    ensure!(quiet(&queue, CLIENT)?, "a full end is writable");
    ensure!(ok("read", server.read(&mut [0u8; 512]))? == 512, "short read");
    await_event(&queue, CLIENT, EventFlags::EVENT_WRITE, "writable after the reader made room")?;
    ok("unwatch", queue.unwatch(client.fd()))?;

    // Hang-up: the client's end reports readable (end-of-file) and
    // writable (EPIPE) at once.
    while server.read(&mut [0u8; 4096]).is_ok() {}
    ok("watch client", queue.watch(client.fd(), EventFlags::EVENT_READ, CLIENT))?;
    ensure!(quiet(&queue, CLIENT)?, "an empty end with its peer there is readable");
    ok("close server", server.close())?;
    let event = await_event(&queue, CLIENT, EventFlags::EVENT_READ, "readable after the peer hung up")?;
    ensure!(event.flags.contains(EventFlags::EVENT_READ), "hang-up event {event:?}");
    ensure!(ok("read", client.read(&mut [0u8; 4]))? == 0, "no end-of-file after the hang-up event");
    expect_err("write after hang-up", client.write(b"x"), sc::EPIPE)?;
    ok("watch client for writing", queue.watch(client.fd(), EventFlags::EVENT_WRITE, CLIENT))?;
    await_event(&queue, CLIENT, EventFlags::EVENT_WRITE, "a hung-up end is writable (EPIPE)")?;
    Ok(String::from("listener readable on connect; end readable on data, writable on room, both on hang-up"))
}

pub fn shm_shared_between_processes() -> Outcome {
    let _ipcd = start()?;
    expect_err("open of a missing object", File::open_with("shm:region", O_RDWR), sc::ENOENT)?;
    let file = open("shm:region", O_CREAT | O_EXCL | O_RDWR)?;
    expect_err("O_EXCL on an existing object", File::open_with("shm:region", O_CREAT | O_EXCL | O_RDWR), sc::EEXIST)?;
    expect_err("fmap of an empty object", rt::mem::map_file_shared(file.fd(), 0, 4096), sc::EINVAL)?;
    const LEN: usize = 3 * 4096;
    ok("ftruncate", file.set_len(LEN))?;
    ensure!(ok("fstat", file.stat())?.st_size == LEN as u64, "size is not {LEN}");
    let view = ok("fmap", rt::mem::map_file_shared(file.fd(), 0, LEN))?;
    expect_err("fmap past the end", rt::mem::map_file_shared(file.fd(), 0, LEN + 4096), sc::EINVAL)?;
    expect_err("fmap at an unaligned offset", rt::mem::map_file_shared(file.fd(), 100, 4096), sc::EINVAL)?;
    expect_err("resize after mapping", file.set_len(LEN * 2), sc::EBUSY)?;
    ok("same size after mapping", file.set_len(LEN))?;
    let child = fork_child(|| {
        let Ok(file) = File::open_with("shm:region", O_RDWR) else { return 2 };
        // The last page only, at an offset: it is the same memory.
        let Ok(tail) = rt::mem::map_file_shared(file.fd(), 2 * 4096, 4096) else { return 3 };
        for (i, byte) in tail.atomic_u8s().iter().enumerate() {
            byte.store((i % 200) as u8 + 1, Ordering::Relaxed);
        }
        // Wait for the parent's answer in the first page.
        let Ok(head) = rt::mem::map_file_shared(file.fd(), 0, 4096) else { return 4 };
        head.atomic_u32s()[1].store(1, Ordering::Release);
        if !await_flag(&head.atomic_u32s()[0], WAIT) {
            return 5;
        }
        if head.atomic_u8s()[100].load(Ordering::Relaxed) != 0xab { 6 } else { 0 }
    })?;
    ensure!(await_flag(&view.atomic_u32s()[1], WAIT), "the child never wrote");
    let seen = &view.atomic_u8s()[2 * 4096..];
    ensure!(
        seen.iter().enumerate().all(|(i, b)| b.load(Ordering::Relaxed) == (i % 200) as u8 + 1),
        "the child's writes are not in this mapping"
    );
    view.atomic_u8s()[100].store(0xab, Ordering::Relaxed);
    raise_flag(&view.atomic_u32s()[0]);
    expect_exit("child", wait_for(child, WAIT)?, 0)?;
    // Reads through the file see the same bytes.
    let mut reader = open("shm:region", O_RDWR)?;
    let bytes = read_exactly(&mut reader, LEN)?;
    ensure!(bytes[100] == 0xab && bytes[2 * 4096 + 5] == 6, "read() disagrees with the mapping");
    ensure!(ok("read at the end", reader.read(&mut [0u8; 8]))? == 0, "read past the size");
    Ok(format!("{LEN} bytes shared both ways; EINVAL out of bounds, EBUSY resize once mapped"))
}

pub fn shm_unlink_keeps_existing_mappings() -> Outcome {
    let _ipcd = start()?;
    let file = open("shm:gone", O_CREAT | O_RDWR)?;
    ok("ftruncate", file.set_len(4096))?;
    let view = ok("fmap", rt::mem::map_file_shared(file.fd(), 0, 4096))?;
    view.atomic_u8s()[9].store(99, Ordering::Relaxed);
    ok("unlink", rt::fs::remove_file("shm:gone"))?;
    expect_err("open after unlink", File::open_with("shm:gone", O_RDWR), sc::ENOENT)?;
    expect_err("second unlink", rt::fs::remove_file("shm:gone"), sc::ENOENT)?;
    let fresh = open("shm:gone", O_CREAT | O_EXCL | O_RDWR)?;
    ensure!(ok("fstat", fresh.stat())?.st_size == 0, "the new object under the old name is not empty");
    ensure!(ok("fstat", file.stat())?.st_size == 4096, "the unlinked object lost its size");
    ok("close", file.close())?;
    ensure!(view.atomic_u8s()[9].load(Ordering::Relaxed) == 99, "the mapping lost its data after unlink and close");
    view.atomic_u8s()[10].store(1, Ordering::Relaxed);
    Ok(String::from("name gone at once, mapping keeps its memory"))
}

/// `frames_free` from `sys:memory`.
fn free_frames() -> Result<u64, String> {
    let text = ok("read sys:memory", rt::fs::read_to_string("sys:memory"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("frames_free: "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or(format!("no frames_free in sys:memory: {text:?}"))
}

pub fn shm_memory_freed_after_last_unmap() -> Outcome {
    let _ipcd = start()?;
    const PAGES: usize = 1024;
    // Warm up: the daemon's and this process's heaps reach their size.
    {
        let warm = open("shm:warm", O_CREAT | O_RDWR)?;
        ok("ftruncate", warm.set_len(4096))?;
        drop(ok("fmap", rt::mem::map_file_shared(warm.fd(), 0, 4096))?);
        ok("unlink", rt::fs::remove_file("shm:warm"))?;
    }
    let before = free_frames()?;
    let file = open("shm:big", O_CREAT | O_RDWR)?;
    ok("ftruncate", file.set_len(PAGES * 4096))?;
    let view = ok("fmap", rt::mem::map_file_shared(file.fd(), 0, PAGES * 4096))?;
    for page in 0..PAGES {
        view.atomic_u8s()[page * 4096].store(1, Ordering::Relaxed);
    }
    let during = free_frames()?;
    ensure!(before >= during + PAGES as u64, "{PAGES} pages in use took only {} frames", before.saturating_sub(during));
    ok("unlink", rt::fs::remove_file("shm:big"))?;
    ok("close", file.close())?;
    ensure!(free_frames()? + PAGES as u64 / 2 <= before, "the frames went while still mapped");
    ok("munmap", view.unmap())?;
    // Give the daemon its turn (the close is queued to it).
    let mut after = 0;
    let returned = wait_until(WAIT, || {
        after = free_frames().unwrap_or(0);
        after + 64 >= before
    });
    ensure!(returned, "{} frames free before, {during} while mapped, {after} after the last unmap", before);
    Ok(format!("{} frames taken, {} back after the last unmap", before - during, after.saturating_sub(during)))
}

pub fn ipcd_runs_in_the_null_namespace() -> Outcome {
    let ipcd = start()?;
    let text = ok("read sys:namespace", rt::fs::read_to_string("sys:namespace"))?;
    let mut lines = Vec::new();
    for pid in ipcd.0 {
        let line = text
            .lines()
            .find(|line| line.split_whitespace().next() == Some(&format!("{pid}")))
            .ok_or(format!("ipcd (pid {pid}) is not in sys:namespace"))?;
        ensure!(line.split_whitespace().skip(1).eq(["ipcd", "-"]), "ipcd's namespace is {line:?}");
        lines.push(line);
    }
    let mine = text
        .lines()
        .find(|line| line.split_whitespace().next() == Some(&format!("{}", rt::process::getpid())))
        .ok_or("this process is not in sys:namespace")?;
    ensure!(mine.split_whitespace().any(|name| name == "chan"), "this process's namespace is {mine:?}");
    Ok(format!("pids {:?}: {lines:?}", ipcd.0))
}

/// Run `initfs:bin/chan ARGS` with stdout and stderr on pipes; its exit
/// status's code, and what it wrote to each.
fn run_chan(args: &[&str]) -> Result<(Option<u8>, String, String), String> {
    let (mut out_read, out_write) = ok("pipe", rt::fs::pipe())?;
    let (mut err_read, err_write) = ok("pipe", rt::fs::pipe())?;
    let pid = fork_child(|| {
        if rt::sys::dup2(out_write.fd(), rt::io::STDOUT, b"").is_err()
            || rt::sys::dup2(err_write.fd(), rt::io::STDERR, b"").is_err()
        {
            return 126;
        }
        let _ = rt::process::exec("initfs:bin/chan", args, &[]);
        127
    })?;
    drop(out_write);
    drop(err_write);
    let mut out = String::new();
    let mut err = String::new();
    ok("read chan's stdout", out_read.read_to_string(&mut out))?;
    ok("read chan's stderr", err_read.read_to_string(&mut err))?;
    let status = wait_for(pid, WAIT)?;
    Ok((status.code(), out, err))
}

pub fn chan_program_listen_and_send() -> Outcome {
    let _ipcd = start()?;
    let (code, _, err) = run_chan(&["send", "nope", "hi"])?;
    ensure!(code == Some(1), "chan send to nobody exited with {code:?}");
    ensure!(err == "chan: chan:nope: No such file or directory\n", "chan send to nobody said {err:?}");
    let (code, _, err) = run_chan(&["bogus"])?;
    ensure!(code == Some(2) && err.starts_with("usage: chan"), "a usage mistake gave {code:?} {err:?}");

    let listener = fork_child(|| match run_chan(&["listen", "talk"]) {
        Ok((Some(0), out, err)) if out == "hello over chan\n" && err.is_empty() => 0,
        Ok((code, out, err)) => {
            rt::eprintln!("usertests: chan listen gave {code:?}, {out:?}, {err:?}");
            3
        }
        Err(why) => {
            rt::eprintln!("usertests: chan listen: {why}");
            4
        }
    })?;
    // Send until the listener is there: a send before it listens fails
    // with ENOENT and changes nothing (a probe that opened the name itself
    // could take it from the listener).
    let mut sent = None;
    let listening = wait_until(WAIT, || {
        let result = run_chan(&["send", "talk", "hello", "over", "chan"]);
        let early = matches!(&result, Ok((Some(1), _, err)) if err.contains("No such file or directory"));
        if !early {
            sent = Some(result);
        }
        !early
    });
    ensure!(listening, "chan listen never listened");
    let (code, out, err) = sent.ok_or("no send result")??;
    ensure!(code == Some(0) && out.is_empty() && err.is_empty(), "chan send gave {code:?} {out:?} {err:?}");
    expect_exit("chan listen (checked in a child)", wait_for(listener, WAIT)?, 0)?;
    Ok(String::from("listen + send carried one line; ENOENT and usage errors reported"))
}

/// An unprivileged user's `chan:` listeners and connections and `shm:`
/// bytes are bounded (`ENOSPC` past them), and come back when closed.
pub fn chan_and_shm_quotas_per_user() -> Outcome {
    let _ipcd = start()?;
    let status = crate::support::run_child(|| {
        if rt::sys::setuid(5004, 5004).is_err() {
            return 1;
        }
        let mut listeners = Vec::new();
        let refused = loop {
            match rt::sys::open(&format!("chan:quota{}", listeners.len()), sc::O_CREAT | sc::O_RDWR) {
                Ok(fd) => listeners.push(fd),
                Err(err) => break err.errno,
            }
            if listeners.len() > 200 {
                break 0;
            }
        };
        if refused != sc::ENOSPC || listeners.len() != 64 {
            return 2;
        }
        let mut connections = Vec::new();
        let refused = loop {
            match rt::sys::open("chan:quota0", sc::O_RDWR) {
                Ok(fd) => connections.push(fd),
                Err(err) => break err.errno,
            }
            if connections.len() > 300 {
                break 0;
            }
        };
        if refused != sc::ENOSPC || connections.len() != 128 {
            return 3;
        }
        for fd in connections.drain(..).chain(listeners.drain(..)) {
            let _ = rt::sys::close(fd);
        }
        // Closed: there is room again.
        match rt::sys::open("chan:quota-again", sc::O_CREAT | sc::O_RDWR) {
            Ok(fd) => drop(rt::sys::close(fd)),
            Err(_) => return 4,
        }
        let Ok(shm) = rt::sys::open("shm:quota", sc::O_CREAT | sc::O_RDWR) else { return 5 };
        let too_big = rt::sys::ftruncate(shm, (32 << 20) + 4096);
        let fits = rt::sys::ftruncate(shm, 16 << 20);
        let _ = rt::fs::remove_file("shm:quota");
        if !matches!(too_big, Err(e) if e.errno == sc::ENOSPC) || fits.is_err() {
            return 6;
        }
        0
    })?;
    crate::support::expect_exit("a user filling its quotas", status, 0)?;
    Ok(String::from("64 listeners, 128 connections, 32 MiB of shm: then ENOSPC"))
}

/// `SYS_WRITE_READ` on a channel: one request to `ipcd` (`Op::WriteRead`)
/// whose read part waits as a read does, and the rules it keeps.
pub fn chan_write_read() -> Outcome {
    let _ipcd = start()?;
    let listener = open("chan:wr", O_CREAT | O_RDWR)?;
    const ROUNDS: u8 = 200;
    // The peer answers each byte with the next value; the answer goes
    // out with the wait for the next byte.
    let peer = fork_child(|| {
        let Ok(mut end) = File::open_with("chan:wr", O_RDWR) else { return 2 };
        let mut byte = [0u8; 1];
        if !matches!(end.read(&mut byte), Ok(1)) {
            return 3;
        }
        loop {
            let out = [byte[0].wrapping_add(1)];
            match end.write_read(&out, &mut byte) {
                Ok(0) => return 0,
                Ok(1) => {}
                _ => return 4,
            }
        }
    })?;
    let mut server = accept(&listener)?;
    for i in 0..ROUNDS {
        let mut reply = [0u8; 1];
        ensure!(ok("write + read", server.write_read(&[i], &mut reply))? == 1, "round {i}: no byte back");
        ensure!(reply[0] == i.wrapping_add(1), "round {i}: got {} back", reply[0]);
    }
    ok("close", server.close())?;
    expect_exit("peer", wait_for(peer, WAIT)?, 0)?;

    // One process, both ends.
    let mut client = open("chan:wr", O_RDWR)?;
    let mut server = accept(&listener)?;
    // The reply is there already: the read part does not wait.
    ok("write", server.write_all(b"reply"))?;
    let mut buf = [0u8; 16];
    ensure!(ok("write + read", client.write_read(b"ask", &mut buf))? == 5 && &buf[..5] == b"reply", "wrong reply");
    ensure!(read_exactly(&mut server, 3)? == b"ask", "the request did not arrive");
    // Larger than a request holds: two calls, the same outcome.
    ok("write", server.write_all(b"big reply"))?;
    let big = vec![0x33u8; 5000];
    ensure!(ok("big write + read", client.write_read(&big, &mut buf))? == 9, "wrong big reply");
    ensure!(read_exactly(&mut server, 5000)? == big, "the big request arrived changed");
    // Non-blocking: the write is done, the read has nothing: EAGAIN.
    ok("O_NONBLOCK", client.set_nonblocking(true))?;
    expect_err("write + read with nothing to read", client.write_read(b"q", &mut buf), sc::EAGAIN)?;
    ensure!(read_exactly(&mut server, 1)? == b"q", "the write of a non-blocking write + read was lost");
    // A write that takes fewer bytes than given: EIO, and nothing is read.
    let chunk = vec![0x5au8; 10_000];
    let mut total = 0;
    while let Ok(n) = client.write(&chunk) {
        total += n;
        ensure!(total <= CAPACITY, "the channel took more than {CAPACITY} bytes");
    }
    ensure!(read_exactly(&mut server, 1)? == [0x5a], "wrong byte");
    ok("write", server.write_all(b"unread"))?;
    expect_err("write + read with room for one byte of two", client.write_read(b"xy", &mut buf), sc::EIO)?;
    let drained = read_exactly(&mut server, CAPACITY)?;
    ensure!(drained[CAPACITY - 1] == b'x', "the short write did not take the byte there was room for");
    ensure!(read_exactly(&mut client, 6)? == b"unread", "the failed write + read read something");
    // The peer gone: the write's error.
    ok("close", server.close())?;
    expect_err("write + read to a closed peer", client.write_read(b"z", &mut buf), sc::EPIPE)?;

    // A caller killed while its read part waits: ipcd forgets it and serves on.
    let waiter = fork_child(|| {
        let Ok(mut end) = File::open_with("chan:wr", O_RDWR) else { return 2 };
        let _ = end.write_read(b"k", &mut [0u8; 1]);
        5
    })?;
    let mut server = accept(&listener)?;
    ensure!(read_exactly(&mut server, 1)? == b"k", "the waiter's write did not arrive");
    kill_and_reap(waiter);
    let mut client = open("chan:wr", O_RDWR)?;
    let mut server = accept(&listener)?;
    ok("write", server.write_all(b"!"))?;
    ensure!(ok("write + read", client.write_read(b"?", &mut buf))? == 1 && buf[0] == b'!', "ipcd stopped serving");
    Ok(format!("{ROUNDS} rounds, replies waiting and not, the two-call path, EAGAIN, EIO, EPIPE, a killed waiter"))
}
