//! Userspace schemes: daemons registered on the root scheme and the calls
//! routed to them — inline and lent buffers, two daemons at once, a daemon
//! killed under 50 blocked callers, garbage answers, namespaces, fd
//! passing, events, cancellation, and the root scheme's rules.
//!
//! Each test forks its own daemon(s) from a small test scheme ([`Store`])
//! served by the `scheme` framework, under a name unique to the test.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use core::time::Duration;

use rt::abi::syscall::{self as sc, EventFlags, O_CREAT, O_NONBLOCK, O_RDWR, Stat};
use rt::fs::File;
use rt::mem::SharedMapping;
use scheme::{Caller, Opened, Scheme, Server};

use crate::support::{
    Outcome, WAIT, ensure, expect_err, expect_exit, expect_signal, fork_child, kill_and_reap, now, ok, shared_page,
    wait_for, wait_until,
};

/// A scheme for tests. Paths:
/// - `park`: a shared queue; reads wait (park) until a write to any
///   `park` handle brings data;
/// - `probe`: a write reads the last lent read buffer's first byte (the
///   daemon dies if the kernel unmapped it, as it must);
/// - `secret`: a write counts 0xAA bytes in the pages around the lent
///   buffer, outside it (0 if the kernel showed nothing but the buffer);
/// - `posted`: a file whose small writes the kernel posts
///   (`Opened::Buffered`); a write that starts with `fail!` fails with
///   `ENOSPC`, one that starts with `short!` writes only its first half;
/// - `stream` (or `dup(fd, "stream")`): a socket-like stream whose small
///   writes the kernel posts within the room reported (`Opened::Stream`):
///   writes fill a buffer of [`STREAM_ROOM`] bytes (a short write when
///   less is free, `EAGAIN` when none is), reads drain it; a write that
///   starts with `fail!` fails with `ECONNRESET`; a read that frees room
///   tells the handle ready for writing (with its room);
/// - `device`: a disk-like file whose small writes the kernel posts within
///   the room reported, [`STREAM_ROOM`] bytes, counted from the offset
///   (`Opened::Device`); a write that starts with `fail!` fails with
///   `ENOSPC`;
/// - `echo`: a stream whose reads give back what was written to it; what
///   was written is handed to the kernel ahead of the reads when it fits
///   (`Scheme::peek_received`); its `fstat` size counts the reads that
///   reached the daemon;
/// - anything else: a file whose contents start as the path.
struct Store {
    /// A page shared with callers that fmap a `shm` handle.
    shm: Option<SharedMapping>,
    handles: BTreeMap<usize, (String, Vec<u8>, usize)>,
    next: usize,
    queue: VecDeque<u8>,
    last_lent: usize,
    ready: Vec<(usize, EventFlags)>,
    closed: usize,
}

/// The buffer of a `stream` handle of [`Store`].
const STREAM_ROOM: usize = 1000;

impl Store {
    /// A new handle for `path`.
    fn insert(&mut self, path: &str) -> usize {
        self.next += 1;
        let start = if path == "stream" || path == "echo" { Vec::new() } else { path.as_bytes().to_vec() };
        self.handles.insert(self.next, (String::from(path), start, 0));
        self.next
    }

    fn new() -> Store {
        Store {
            shm: None,
            handles: BTreeMap::new(),
            next: 0,
            queue: VecDeque::new(),
            last_lent: 0,
            ready: Vec::new(),
            closed: 0,
        }
    }

    fn get(&mut self, handle: usize) -> scheme::Result<&mut (String, Vec<u8>, usize)> {
        self.handles.get_mut(&handle).ok_or(rt::Error::new(sc::EBADF))
    }

    fn park_handles(&self) -> Vec<usize> {
        self.handles.iter().filter(|(_, (p, _, _))| p == "park").map(|(&h, _)| h).collect()
    }
}

impl Scheme for Store {
    fn open(&mut self, path: &str, _flags: usize, _caller: &Caller) -> scheme::Result<Opened> {
        let handle = self.insert(path);
        Ok(match path {
            "posted" => Opened::Buffered(handle),
            "stream" | "echo" => Opened::Stream(handle),
            "device" => Opened::Device(handle),
            _ => Opened::Handle(handle),
        })
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> scheme::Result<usize> {
        if buf.len() > scheme_proto_inline() {
            self.last_lent = buf.as_ptr() as usize;
        }
        if self.get(handle)?.0 == "shm" {
            let shm = self.shm.as_ref().ok_or(rt::Error::new(sc::EIO))?;
            let n = buf.len().min(8);
            for (dst, src) in buf.iter_mut().zip(shm.atomic_u8s()).take(n) {
                *dst = src.load(Ordering::Relaxed);
            }
            return Ok(n);
        }
        let (path, data, offset) = self.get(handle)?;
        if path == "stream" {
            let n = buf.len().min(data.len());
            buf[..n].copy_from_slice(&data[..n]);
            data.drain(..n);
            if n == 0 {
                return Err(rt::Error::new(sc::EAGAIN));
            }
            self.ready.push((handle, EventFlags::EVENT_WRITE));
            return Ok(n);
        }
        if path == "echo" {
            *offset += 1;
            let n = buf.len().min(data.len());
            buf[..n].copy_from_slice(&data[..n]);
            data.drain(..n);
            return if n == 0 { Err(rt::Error::new(sc::EAGAIN)) } else { Ok(n) };
        }
        if path == "park" {
            if self.queue.is_empty() {
                return Err(rt::Error::new(sc::EAGAIN));
            }
            let n = buf.len().min(self.queue.len());
            for (dst, src) in buf.iter_mut().zip(self.queue.drain(..n)) {
                *dst = src;
            }
            return Ok(n);
        }
        let start = (*offset).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        *offset = start + n;
        Ok(n)
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> scheme::Result<usize> {
        let last_lent = self.last_lent;
        let (path, data, offset) = self.get(handle)?;
        match path.as_str() {
            "park" => {
                self.queue.extend(buf);
                for h in self.park_handles() {
                    self.ready.push((h, EventFlags::EVENT_READ));
                }
                Ok(buf.len())
            }
            "probe" => Ok(rt::testing::peek(last_lent) as usize),
            "echo" => {
                data.extend_from_slice(buf);
                self.ready.push((handle, EventFlags::EVENT_READ));
                Ok(buf.len())
            }
            "stream" if buf.starts_with(b"fail!") => Err(rt::Error::new(sc::ECONNRESET)),
            "stream" => {
                let n = buf.len().min(STREAM_ROOM - data.len());
                if n == 0 && !buf.is_empty() {
                    return Err(rt::Error::new(sc::EAGAIN));
                }
                data.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            "posted" | "device" if buf.starts_with(b"fail!") => Err(rt::Error::new(sc::ENOSPC)),
            "posted" if buf.starts_with(b"short!") => {
                let half = buf.len() / 2;
                let end = *offset + half;
                if data.len() < end {
                    data.resize(end, 0);
                }
                data[*offset..end].copy_from_slice(&buf[..half]);
                *offset = end;
                Ok(half)
            }
            "secret" => {
                let start = buf.as_ptr() as usize;
                let end = start + buf.len();
                let (first, last) = (start & !4095, (end + 4095) & !4095);
                let seen = (first..start).chain(end..last).filter(|&a| rt::testing::peek(a) == 0xAA).count();
                Ok(seen)
            }
            _ => {
                let end = *offset + buf.len();
                if data.len() < end {
                    data.resize(end, 0);
                }
                data[*offset..end].copy_from_slice(buf);
                *offset = end;
                Ok(buf.len())
            }
        }
    }

    fn seek(&mut self, handle: usize, offset: isize, whence: usize) -> scheme::Result<usize> {
        let (_, data, at) = self.get(handle)?;
        *at = rt::abi::seek_target(*at, data.len(), offset, whence).ok_or(rt::Error::new(sc::EINVAL))?;
        Ok(*at)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> scheme::Result<()> {
        let (path, data, reads) = self.get(handle)?;
        stat.st_mode = sc::MODE_FILE | 0o644;
        stat.st_size = if path == "echo" { *reads } else { data.len() } as u64;
        Ok(())
    }

    const HANDS_OVER_RECEIVED: bool = true;
    fn peek_received(&mut self, handle: usize, buf: &mut [u8]) -> usize {
        match self.get(handle) {
            Ok((path, data, _)) if path == "echo" && data.len() <= buf.len() => {
                buf[..data.len()].copy_from_slice(data);
                data.len()
            }
            _ => 0,
        }
    }

    fn take_received(&mut self, handle: usize, n: usize) {
        if let Ok((_, data, _)) = self.get(handle) {
            data.drain(..n.min(data.len()));
        }
    }

    fn fsync(&mut self, handle: usize) -> scheme::Result<()> {
        self.get(handle).map(drop)
    }

    fn write_room(&mut self, handle: usize) -> usize {
        match self.get(handle) {
            Ok((path, data, _)) if path == "stream" => STREAM_ROOM - data.len(),
            Ok((path, _, _)) if path == "device" => STREAM_ROOM,
            _ => 0,
        }
    }

    fn fpath(&mut self, handle: usize) -> scheme::Result<String> {
        Ok(self.get(handle)?.0.clone())
    }

    fn close(&mut self, handle: usize) {
        self.handles.remove(&handle);
        self.closed += 1;
    }

    /// `dup(fd, "fd")`: answers with an fd of another scheme.
    fn dup(&mut self, _handle: usize, name: &[u8], _caller: &Caller) -> scheme::Result<Opened> {
        match name {
            b"fd" => Ok(Opened::Fd(rt::sys::open(crate::support::SELF, sc::O_RDONLY)?)),
            b"stream" => Ok(Opened::Stream(self.insert("stream"))),
            _ => Err(rt::Error::new(sc::EINVAL)),
        }
    }

    /// A sent fd: read what it holds into the handle's contents.
    fn sendfd(&mut self, handle: usize, fd: usize, _flags: usize, _arg: usize, _c: &Caller) -> scheme::Result<usize> {
        let mut buf = [0u8; 64];
        let n = rt::sys::read(fd, &mut buf);
        let _ = rt::sys::close(fd);
        let n = n?;
        let (_, data, offset) = self.get(handle)?;
        *data = buf[..n].to_vec();
        *offset = 0;
        Ok(n)
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> scheme::Result<EventFlags> {
        let queue_empty = self.queue.is_empty();
        let (path, data, _) = self.get(handle)?;
        let readable = match path.as_str() {
            "park" => !queue_empty,
            // What the kernel holds of it is not the daemon's to report.
            "echo" => !data.is_empty(),
            _ => true,
        };
        Ok(if readable { EventFlags::EVENT_READ & interest } else { EventFlags::empty() })
    }

    /// `shm`: one page of shared memory, the same for every caller.
    fn fmap(&mut self, handle: usize, offset: usize, len: usize, _flags: sc::MapFlags) -> scheme::Result<usize> {
        if self.get(handle)?.0 != "shm" || offset != 0 || len != 4096 {
            return Err(rt::Error::new(sc::EINVAL));
        }
        if self.shm.is_none() {
            self.shm = Some(rt::mem::map_shared(4096)?);
        }
        Ok(self.shm.as_ref().map_or(0, SharedMapping::addr))
    }

    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        events.append(&mut self.ready);
    }
}

fn scheme_proto_inline() -> usize {
    rt::scheme::INLINE_MAX
}

/// Word 0 of a daemon's status page: 1 once registered; word 1: parked
/// requests; word 2: closes seen.
pub(crate) struct Daemon {
    pid: usize,
    page: SharedMapping,
}

impl Daemon {
    /// Fork a daemon serving `Store` as `name`.
    pub(crate) fn start(name: &str) -> Result<Daemon, String> {
        let page = shared_page()?;
        let words = page.atomic_u32s();
        let name = String::from(name);
        let pid = fork_child(|| {
            let Ok(mut server) = Server::new(&name, Store::new()) else { return 3 };
            words[0].store(1, Ordering::Release);
            loop {
                if server.handle_next().is_err() {
                    return 4;
                }
                words[1].store(server.parked() as u32, Ordering::Release);
                words[2].store(server.scheme().closed as u32, Ordering::Release);
            }
        })?;
        let daemon = Daemon { pid, page };
        if !wait_until(WAIT, || daemon.words()[0].load(Ordering::Acquire) == 1) {
            kill_and_reap(pid);
            return Err(format!("daemon {name} did not register"));
        }
        Ok(daemon)
    }

    fn words(&self) -> &[core::sync::atomic::AtomicU32] {
        self.page.atomic_u32s()
    }

    pub(crate) fn parked(&self) -> u32 {
        self.words()[1].load(Ordering::Acquire)
    }

    /// Closes the daemon has seen.
    pub(crate) fn closes(&self) -> u32 {
        self.words()[2].load(Ordering::Acquire)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        kill_and_reap(self.pid);
    }
}

pub(crate) fn unique(base: &str) -> String {
    format!("{base}{}", rt::process::getpid())
}

fn open(url: &str, flags: usize) -> Result<File, String> {
    ok(&format!("open {url}"), File::open_with(url, flags))
}

pub fn user_scheme_round_trip() -> Outcome {
    let name = unique("ut-store");
    let _daemon = Daemon::start(&name)?;
    let mut file = open(&format!("{name}:notes"), O_RDWR)?;
    let mut small = [0u8; 16];
    let n = ok("read", file.read(&mut small))?;
    ensure!(&small[..n] == b"notes", "first read gave {:?}", &small[..n]);
    ok("write", file.write_all(b" and more"))?;
    ok("seek", file.seek(rt::fs::SeekFrom::Start(0)))?;
    let mut text = String::new();
    ok("read_to_string", file.read_to_string(&mut text))?;
    ensure!(text == "notes and more", "read back {text:?}");
    let stat = ok("fstat", file.stat())?;
    ensure!(stat.st_size == 14, "fstat size {}", stat.st_size);
    let path = ok("fpath", file.path())?;
    ensure!(path == format!("{name}:notes"), "fpath {path:?}");
    // 64 KiB at an odd offset, out and back: lent pages both ways.
    let big: Vec<u8> = (0..65_536u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut out = vec![0u8; big.len() + 3];
    out[3..].copy_from_slice(&big);
    ok("seek", file.seek(rt::fs::SeekFrom::Start(0)))?;
    let n = ok("big write", rt::sys::write(file.fd(), &out[3..]))?;
    ensure!(n == big.len(), "big write took {n}");
    ok("seek", file.seek(rt::fs::SeekFrom::Start(0)))?;
    let mut back = vec![0u8; big.len() + 5];
    let n = ok("big read", rt::sys::read(file.fd(), &mut back[5..]))?;
    ensure!(n == big.len() && back[5..] == big[..], "big read: {n} bytes, equal: {}", back[5..5 + n] == big[..n]);
    ensure!(back[..5] == [0; 5], "bytes before the read buffer changed");
    Ok(String::from("inline and lent reads and writes, fstat, fpath, seek"))
}

pub fn two_daemons_at_once() -> Outcome {
    let (a, b) = (unique("ut-a"), unique("ut-b"));
    let _da = Daemon::start(&a)?;
    let _db = Daemon::start(&b)?;
    let mut fa = open(&format!("{a}:x"), O_RDWR)?;
    let mut fb = open(&format!("{b}:y"), O_RDWR)?;
    for round in 0..50u32 {
        ok("seek a", fa.seek(rt::fs::SeekFrom::Start(0)))?;
        ok("seek b", fb.seek(rt::fs::SeekFrom::Start(0)))?;
        ok("write a", fa.write_all(&round.to_le_bytes()))?;
        ok("write b", fb.write_all(&(round + 1000).to_le_bytes()))?;
        let (mut ra, mut rb) = ([0u8; 4], [0u8; 4]);
        ok("seek a", fa.seek(rt::fs::SeekFrom::Start(0)))?;
        ok("seek b", fb.seek(rt::fs::SeekFrom::Start(0)))?;
        ok("read a", fa.read_exact(&mut ra))?;
        ok("read b", fb.read_exact(&mut rb))?;
        ensure!(u32::from_le_bytes(ra) == round && u32::from_le_bytes(rb) == round + 1000, "round {round} mixed up");
    }
    let list = ok("read :", rt::fs::read_to_string(":"))?;
    ensure!(list.lines().any(|l| l == a) && list.lines().any(|l| l == b), "`:` lists {list:?}");
    Ok(String::from("50 interleaved rounds"))
}

pub fn daemon_killed_under_fifty_callers() -> Outcome {
    const CALLERS: usize = 50;
    let name = unique("ut-park");
    let daemon = Daemon::start(&name)?;
    let url = format!("{name}:park");
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let url = url.clone();
        callers.push(fork_child(move || {
            let Ok(mut file) = File::open_with(&url, O_RDWR) else { return 2 };
            let mut buf = [0u8; 8];
            match file.read(&mut buf) {
                Err(err) if err.errno == sc::EIO => 0,
                _ => 1,
            }
        })?);
    }
    let all_parked = wait_until(WAIT, || daemon.parked() as usize == CALLERS);
    ensure!(all_parked, "only {} of {CALLERS} callers blocked", daemon.parked());
    let start = now();
    drop(daemon);
    for pid in callers {
        let status = wait_for(pid, Duration::from_secs(5))?;
        expect_exit("caller", status, 0)?;
    }
    let took = now() - start;
    expect_err("open after the daemon died", File::open_with(&url, O_RDWR), sc::ENODEV)?;
    Ok(format!("{CALLERS} callers got EIO within {} ms", took.as_millis()))
}

pub fn garbage_answers_give_eio() -> Outcome {
    let name = unique("ut-garbage");
    let page = shared_page()?;
    let words = page.atomic_u32s();
    let daemon_name = name.clone();
    let daemon = fork_child(|| {
        let Ok(mut socket) = rt::scheme::Socket::register(&daemon_name) else { return 3 };
        words[0].store(1, Ordering::Release);
        // Random bytes, a short header, an unknown id: all refused.
        let refused = [
            socket.write_raw(&[0xff; 40]),
            socket.write_raw(&[0; 8]),
            socket.write_raw(&rt::scheme::Response::value(999_999, 0).encode()),
        ]
        .iter()
        .filter(|r| matches!(r, Err(e) if e.errno == sc::EINVAL))
        .count();
        words[1].store(refused as u32, Ordering::Release);
        let mut answered = 0;
        loop {
            let Ok(incoming) = socket.next_request() else { return 4 };
            let id = incoming.request.id;
            let too_much = [7u8; 32];
            let (bad, data): (_, &[u8]) = match incoming.request.op {
                // An open answered with an fd we do not have, a read
                // claiming more than asked for, a write-and-read handing
                // back more bytes than its read takes, an errno out of range.
                rt::scheme::Op::Open if answered == 0 => (rt::scheme::Response::fd(id, 999), &[]),
                rt::scheme::Op::Open => (rt::scheme::Response::value(id, 1), &[]),
                rt::scheme::Op::Read => (rt::scheme::Response::value(id, 1 << 20), &[]),
                rt::scheme::Op::WriteRead => (rt::scheme::Response::data(id, too_much.len()), &too_much),
                _ => (rt::scheme::Response::error(id, 100_000), &[]),
            };
            let _ = socket.answer(incoming, bad, data);
            answered += 1;
            words[2].store(answered, Ordering::Release);
        }
    })?;
    let result = (|| {
        ensure!(wait_until(WAIT, || words[0].load(Ordering::Acquire) == 1), "daemon did not register");
        ensure!(wait_until(WAIT, || words[1].load(Ordering::Acquire) == 3), "malformed writes were not all refused");
        let url = format!("{name}:x");
        expect_err("open answered with a bad fd", File::open_with(&url, O_RDWR), sc::EIO)?;
        let mut file = open(&url, O_RDWR)?;
        let mut buf = [0u8; 16];
        expect_err("read answered with too much", file.read(&mut buf), sc::EIO)?;
        expect_err("write + read answered with too much", file.write_read(b"hi", &mut buf), sc::EIO)?;
        expect_err("fsync answered with a bad errno", rt::sys::fsync(file.fd()), sc::EIO)?;
        Ok(String::from("callers got EIO, the daemon EINVAL/EBADF"))
    })();
    kill_and_reap(daemon);
    result
}

pub fn null_namespace_opens_nothing() -> Outcome {
    let status = crate::support::run_child(|| {
        let Ok(kept) = File::open(crate::support::SELF) else { return 10 };
        if rt::sys::ns_restrict(&["initfs"]).is_err() {
            return 11;
        }
        if !matches!(File::open("debug:"), Err(e) if e.errno == sc::ENODEV) {
            return 12;
        }
        if File::open(crate::support::SELF).is_err() {
            return 13;
        }
        // Narrowing never widens.
        if !matches!(rt::sys::ns_restrict(&["initfs", "debug"]), Err(e) if e.errno == sc::ENODEV) {
            return 14;
        }
        if rt::sys::ns_restrict(&[]).is_err() {
            return 15;
        }
        if !matches!(File::open(crate::support::SELF), Err(e) if e.errno == sc::ENODEV) {
            return 16;
        }
        if !matches!(File::open_with(":ut-null", O_CREAT | O_RDWR), Err(e) if e.errno == sc::EACCES) {
            return 17;
        }
        if !matches!(rt::fs::read_to_string(":"), Ok(list) if list.is_empty()) {
            return 18;
        }
        // What it had open still works.
        let mut magic = [0u8; 4];
        let mut kept = kept;
        if kept.read_exact(&mut magic).is_err() || magic != *b"\x7fELF" {
            return 19;
        }
        0
    })?;
    expect_exit("child in the null namespace", status, 0)?;
    Ok(String::from("narrowed, then null: nothing new opens, old fds work"))
}

pub fn registration_rules() -> Outcome {
    let name = unique("ut-reg");
    let socket = ok("register", rt::scheme::Socket::register(&name))?;
    expect_err("second registration", rt::scheme::Socket::register(&name), sc::EEXIST)?;
    for bad in ["", "a:b", "a/b", "sp ace", &"x".repeat(65)] {
        expect_err(&format!("name {bad:?}"), File::open_with(&format!(":{bad}"), O_CREAT | O_RDWR), sc::EINVAL)
            .or_else(|e| if bad.is_empty() { Ok(()) } else { Err(e) })?;
    }
    let list = ok("read :", rt::fs::read_to_string(":"))?;
    ensure!(list.lines().any(|l| l == name), "`:` lists {list:?}");
    ensure!(list.lines().any(|l| l == "initfs"), "`:` lacks initfs: {list:?}");
    // Names alike in length and first eight bytes (the namespace's key)
    // are told apart by the rest, and go one by one.
    let (first, second) = (format!("{name}-a1"), format!("{name}-a2"));
    let first_socket = ok("register the first twin", rt::scheme::Socket::register(&first))?;
    let second_socket = ok("register the second twin", rt::scheme::Socket::register(&second))?;
    drop(first_socket);
    let list = ok("read :", rt::fs::read_to_string(":"))?;
    ensure!(!list.lines().any(|l| l == first) && list.lines().any(|l| l == second), "`:` lists {list:?}");
    expect_err("open of the twin gone", File::open(&format!("{first}:x")), sc::ENODEV)?;
    drop(second_socket);
    drop(socket);
    expect_err("open after unregistering", File::open(&format!("{name}:x")), sc::ENODEV)?;
    expect_err("open of the other twin gone", File::open(&format!("{second}:x")), sc::ENODEV)?;
    let status = crate::support::run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        match rt::scheme::Socket::register("ut-unprivileged") {
            Err(e) if e.errno == sc::EACCES => 0,
            _ => 1,
        }
    })?;
    expect_exit("unprivileged registration", status, 0)?;
    Ok(String::from(
        "EEXIST, EINVAL names, listing, names alike in their first 8 bytes, unregister on close, EACCES for uid 1000",
    ))
}

pub fn fd_passing() -> Outcome {
    let name = unique("ut-fds");
    let _daemon = Daemon::start(&name)?;
    let mut target = open(&format!("{name}:inbox"), O_RDWR)?;
    let (read_end, mut write_end) = ok("pipe", rt::fs::pipe())?;
    ok("write to pipe", write_end.write_all(b"carried by an fd"))?;
    let sent = read_end.into_fd();
    let n = ok("sendfd", rt::sys::sendfd(target.fd(), sent, 0, 0))?;
    ensure!(n == 16, "daemon read {n} bytes from the sent fd");
    expect_err("the sent fd is gone here", rt::sys::fstat(sent), sc::EBADF)?;
    let mut text = String::new();
    ok("read back", target.read_to_string(&mut text))?;
    ensure!(text == "carried by an fd", "daemon stored {text:?}");
    // An open answered with another scheme's fd.
    let other = ok("dup fd", target.derive("fd"))?;
    let path = ok("fpath", other.path())?;
    ensure!(path.starts_with("initfs:"), "handed-over fd is {path:?}");
    // A failed sendfd keeps the fd.
    let keep = ok("open", File::open(crate::support::SELF))?;
    expect_err("sendfd to a kernel scheme", rt::sys::sendfd(keep.fd(), write_end.fd(), 0, 0), sc::EOPNOTSUPP)?;
    ok("fd still there", rt::sys::fstat(write_end.fd()))?;
    Ok(format!("sent a pipe end; received {path}"))
}

pub fn events_on_nonblocking_fds() -> Outcome {
    let name = unique("ut-events");
    let _daemon = Daemon::start(&name)?;
    let url = format!("{name}:park");
    let mut reader = open(&url, O_RDWR | O_NONBLOCK)?;
    let mut buf = [0u8; 8];
    expect_err("non-blocking read of nothing", reader.read(&mut buf), sc::EAGAIN)?;
    let queue = ok("event:", rt::event::EventQueue::new())?;
    ok("watch", queue.watch(reader.fd(), EventFlags::EVENT_READ, 77))?;
    ok("queue non-blocking", queue.file().set_nonblocking(true))?;
    let mut events = [sc::Event::default(); 4];
    expect_err("no event yet", queue.wait(&mut events), sc::EAGAIN)?;
    let url2 = url.clone();
    let writer = fork_child(move || match File::open_with(&url2, O_RDWR).and_then(|mut f| f.write_all(b"ping")) {
        Ok(()) => 0,
        Err(_) => 1,
    })?;
    expect_exit("writer", wait_for(writer, WAIT)?, 0)?;
    ok("queue blocking", queue.file().set_nonblocking(false))?;
    let n = ok("wait", queue.wait(&mut events))?;
    ensure!(n >= 1 && events[0].id == reader.fd() && events[0].data == 77, "event {:?}", &events[..n]);
    ensure!(events[0].flags.contains(EventFlags::EVENT_READ), "flags {:?}", events[0].flags);
    let got = ok("read after the event", reader.read(&mut buf))?;
    ensure!(&buf[..got] == b"ping", "read {:?}", &buf[..got]);
    Ok(String::from("EAGAIN, then an event with its data, then the bytes"))
}

pub fn lent_pages_leave_the_daemon() -> Outcome {
    let name = unique("ut-lend");
    let daemon = Daemon::start(&name)?;
    let mut file = open(&format!("{name}:{}", "z".repeat(10)), O_RDWR)?;
    let mut big = vec![0u8; 3 * 4096];
    ok("lent read", file.read(&mut big))?;
    // The daemon now touches the buffer it was lent: it must be gone.
    let probe = open(&format!("{name}:probe"), O_RDWR)?;
    let answer = rt::sys::write(probe.fd(), b"x");
    ensure!(answer.is_err(), "the daemon could still read a lent page after answering");
    let status = wait_for(daemon.pid, WAIT)?;
    expect_signal("daemon touching a returned page", status, rt::abi::SIGSEGV)?;
    Ok(String::from("the daemon faulted on the page it had been lent"))
}

pub fn lent_buffer_shows_nothing_else() -> Outcome {
    let name = unique("ut-secret");
    let _daemon = Daemon::start(&name)?;
    let file = open(&format!("{name}:secret"), O_RDWR)?;
    let mut pages = vec![0xAAu8; 6 * 4096];
    let base = pages.as_ptr() as usize;
    let skip = (4096 - base % 4096) % 4096 + 100;
    let buf = &mut pages[skip..skip + 3 * 4096 + 50];
    buf.fill(0x11);
    let seen = ok("write", rt::sys::write(file.fd(), buf))?;
    ensure!(seen == 0, "the daemon saw {seen} bytes of the caller's memory outside the buffer");
    Ok(String::from("partial pages arrive as copies"))
}

pub fn killed_caller_cancels_its_call() -> Outcome {
    let name = unique("ut-cancel");
    let daemon = Daemon::start(&name)?;
    let url = format!("{name}:park");
    let caller = fork_child(move || {
        let mut buf = [0u8; 8];
        let _ = File::open_with(&url, O_RDWR).and_then(|mut f| f.read(&mut buf));
        1
    })?;
    ensure!(wait_until(WAIT, || daemon.parked() == 1), "the caller's read never parked");
    kill_and_reap(caller);
    // The daemon learns of it with its next request (the cancel).
    ensure!(wait_until(WAIT, || daemon.parked() == 0), "the daemon still holds the killed caller's read");
    Ok(String::from("cancel reached the daemon"))
}

pub fn closing_reaches_the_daemon() -> Outcome {
    let name = unique("ut-close");
    let daemon = Daemon::start(&name)?;
    for i in 0..10 {
        let file = open(&format!("{name}:f{i}"), O_RDWR)?;
        let copy = ok("dup", file.try_clone())?;
        drop(file);
        drop(copy);
    }
    ensure!(
        wait_until(WAIT, || daemon.words()[2].load(Ordering::Acquire) == 10),
        "daemon saw {} closes of 10",
        daemon.words()[2].load(Ordering::Acquire)
    );
    Ok(String::from("one close per open file, after its last fd"))
}

pub fn fmap_of_a_daemons_pages() -> Outcome {
    let name = unique("ut-shm");
    let _daemon = Daemon::start(&name)?;
    let mut file = open(&format!("{name}:shm"), O_RDWR)?;
    let view = ok("fmap", rt::mem::map_file_shared(file.fd(), 0, 4096))?;
    view.atomic_u8s()[0].store(0x42, Ordering::Relaxed);
    view.atomic_u8s()[7].store(0x24, Ordering::Relaxed);
    let mut seen = [0u8; 8];
    ok("read", file.read(&mut seen))?;
    ensure!(seen[0] == 0x42 && seen[7] == 0x24, "the daemon sees {seen:?}");
    let other = open(&format!("{name}:shm"), O_RDWR)?;
    let second = ok("second fmap", rt::mem::map_file_shared(other.fd(), 0, 4096))?;
    ensure!(second.atomic_u8s()[0].load(Ordering::Relaxed) == 0x42, "a second mapping sees other pages");
    expect_err(
        "fmap of a plain file",
        rt::mem::map_file_shared(open(&format!("{name}:x"), O_RDWR)?.fd(), 0, 4096),
        sc::EINVAL,
    )?;
    Ok(String::from("caller, daemon and a second mapping share one page"))
}

/// Small writes to a file whose daemon lets the kernel post them
/// (docs/architecture.md §3.13): each returns at once, later calls find
/// them all done and in order, and a posted write that fails (or writes
/// less than all) is reported once, by the next `fsync` or write.
pub fn posted_writes_keep_order_and_report_failures() -> Outcome {
    let name = unique("ut-posted");
    let _daemon = Daemon::start(&name)?;
    let mut file = open(&format!("{name}:posted"), O_RDWR)?;
    // More writes than the kernel posts at once for a handle: the ones
    // past that wait for their answers.
    let mut model = Vec::new();
    for i in 0..40u32 {
        let chunk: Vec<u8> = (0..100 + i).map(|j| 0x80 | (i * 7 + j) as u8).collect();
        let n = ok("write", rt::sys::write(file.fd(), &chunk))?;
        ensure!(n == chunk.len(), "write {i} took {n} of {}", chunk.len());
        model.extend_from_slice(&chunk);
    }
    let stat = ok("fstat", file.stat())?;
    ensure!(
        stat.st_size as usize == model.len(),
        "fstat after the writes: {} bytes, not {}",
        stat.st_size,
        model.len()
    );
    ok("seek", file.seek(rt::fs::SeekFrom::Start(0)))?;
    let mut back = Vec::new();
    ok("read back", file.read_to_end(&mut back))?;
    ensure!(back == model, "read back {} bytes, equal: {}", back.len(), back == model);
    // A failed write was told it went well (it was posted): the next fsync
    // says it did not, once.
    let n = ok("a write that fails", rt::sys::write(file.fd(), b"fail! no room"))?;
    ensure!(n == 13, "the failing write was not posted: it took {n}");
    expect_err("fsync after a failed posted write", file.sync(), sc::ENOSPC)?;
    ok("a second fsync", file.sync())?;
    // Or the next write, once a call answered after it (fstat) is back.
    ok("a write that fails", rt::sys::write(file.fd(), b"fail! again"))?;
    ok("fstat", file.stat())?;
    expect_err("the write after a failed posted write", rt::sys::write(file.fd(), b"lost"), sc::ENOSPC)?;
    ok("write", rt::sys::write(file.fd(), b"tail"))?;
    // A write of less than all is a failure too.
    ok("a short write", rt::sys::write(file.fd(), b"short!write!"))?;
    expect_err("fsync after a short posted write", file.sync(), sc::ENOSPC)?;
    model.extend_from_slice(b"tailshort!");
    ok("seek", file.seek(rt::fs::SeekFrom::Start(0)))?;
    back.clear();
    ok("read back", file.read_to_end(&mut back))?;
    ensure!(
        back == model,
        "after the failures: {} bytes, tail {:?}",
        back.len(),
        &back[back.len().saturating_sub(12)..]
    );
    Ok(String::from(
        "40 small writes posted (16 at a time) and found in order by fstat and read; a failed and a short one \
         reported once, by fsync or the next write",
    ))
}

/// A stream's bytes (`Opened::Stream`, a socket's) are handed to the
/// kernel ahead of its reads when they fit one message
/// (docs/architecture.md §3.14): reads get them in order without reaching
/// the daemon; more than fit, or than the kernel holds, come from the
/// daemon by a read after those held; a handle with bytes held is
/// reported readable.
pub fn stream_reads_get_bytes_handed_over() -> Outcome {
    let name = unique("ut-echo");
    let _daemon = Daemon::start(&name)?;
    let file = open(&format!("{name}:echo"), O_RDWR | O_NONBLOCK)?;
    let fd = file.fd();
    let daemon_reads = |what: &str| -> Result<u64, String> { Ok(ok(what, file.stat())?.st_size) };
    let mut buf = vec![0u8; 8192];
    ok("write", rt::sys::write(fd, b"hello"))?;
    // Handed over before the write's answer: readable, and read without
    // the daemon.
    let mut readable = ok("event: for the fd", rt::event::Readable::new(fd))?;
    ensure!(ok("wait for readable", readable.wait(WAIT))?, "bytes held, but the fd is not reported readable");
    let n = ok("read", rt::sys::read(fd, &mut buf))?;
    ensure!(&buf[..n] == b"hello", "read {:?}, not hello", &buf[..n]);
    ok("write", rt::sys::write(fd, b"abc"))?;
    ok("write", rt::sys::write(fd, b"def"))?;
    let n = ok("read 4", rt::sys::read(fd, &mut buf[..4]))?;
    ensure!(&buf[..n] == b"abcd", "read {:?}, not abcd", &buf[..n]);
    let n = ok("read the rest", rt::sys::read(fd, &mut buf))?;
    ensure!(&buf[..n] == b"ef", "read {:?}, not ef", &buf[..n]);
    let reads = daemon_reads("fstat")?;
    ensure!(reads == 0, "{reads} reads reached the daemon; the bytes handed over should have served them");
    // Nothing held: the read goes to the daemon.
    expect_err("a read with nothing there", rt::sys::read(fd, &mut buf), sc::EAGAIN)?;
    ensure!(daemon_reads("fstat")? == 1, "the read with nothing held did not reach the daemon");
    // More than a message: the daemon keeps it for the read.
    let big: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    ok("a write of 5,000", rt::sys::write(fd, &big))?;
    let n = ok("read", rt::sys::read(fd, &mut buf))?;
    ensure!(buf[..n] == big[..], "read {n} bytes, not the 5,000 written");
    ensure!(daemon_reads("fstat")? == 2, "5,000 bytes were handed over, more than a message");
    // More than the kernel holds: the rest waits at the daemon, after
    // those held, and the read that empties the kernel's reports the fd
    // readable again.
    let first = vec![b'x'; 3000];
    let second = vec![b'y'; 2000];
    ok("write 3,000", rt::sys::write(fd, &first))?;
    ok("write 2,000", rt::sys::write(fd, &second))?;
    // (The reports so far, taken.)
    ok("wait for readable", readable.wait(WAIT))?;
    let n = ok("read", rt::sys::read(fd, &mut buf))?;
    ensure!(buf[..n] == first[..], "read {n} bytes first, not the 3,000 held");
    ensure!(
        ok("wait for readable", readable.wait(WAIT))?,
        "the 2,000 left at the daemon are not reported again once the kernel's 3,000 were read"
    );
    let n = ok("read", rt::sys::read(fd, &mut buf))?;
    ensure!(buf[..n] == second[..], "read {n} bytes second, not the 2,000 the daemon kept");
    let reads = daemon_reads("fstat")?;
    ensure!(reads == 3, "{reads} reads reached the daemon, not 3");
    // A handle a chain opened: its reads went to the daemon uncounted, so
    // the kernel takes no bytes for it, and every read reaches the daemon.
    let path = format!("{name}:echo");
    let mut nothing = [0u8; 1];
    let mut batch = rt::batch::Batch::new();
    batch.open(&path, O_RDWR | O_NONBLOCK);
    batch.read(rt::batch::On::Opened, &mut nothing);
    let results = ok("a chain: open, read", batch.submit())?;
    let chained = match results.first() {
        Some(Ok(fd)) => File::from_fd(*fd),
        other => return Err(format!("the chain's open: {other:?}")),
    };
    ensure!(
        matches!(results.get(1), Some(Err(e)) if e.errno == sc::EAGAIN),
        "the chain's read of nothing: {:?}",
        results.get(1)
    );
    ok("write on the chain's handle", rt::sys::write(chained.fd(), b"zz"))?;
    let mut chained_readable = ok("event: for it", rt::event::Readable::new(chained.fd()))?;
    ensure!(ok("wait for readable", chained_readable.wait(WAIT))?, "the chain's handle is not reported readable");
    let n = ok("read", rt::sys::read(chained.fd(), &mut buf))?;
    ensure!(&buf[..n] == b"zz", "read {:?}, not zz", &buf[..n]);
    let reads = ok("fstat", chained.stat())?.st_size;
    ensure!(reads == 2, "{reads} reads of the chain's handle reached the daemon, not 2 (the kernel took its bytes)");
    Ok(String::from(
        "bytes handed over read in order without the daemon (readable by event:); 5,000 at once and the \
         2,000 past the kernel's 4 KiB read from the daemon, after those held; none for a handle a chain opened",
    ))
}

/// A daemon that dies fails every file opened on it (`EIO`), and a
/// program that only waits on such a file with `event:` hears of it as
/// readable (docs/architecture.md §3.9), so it calls and finds the failure
/// instead of waiting forever.
pub fn watchers_hear_when_a_daemon_dies() -> Outcome {
    let name = unique("ut-gone");
    let daemon = Daemon::start(&name)?;
    let file = open(&format!("{name}:park"), O_RDWR)?;
    let mut readable = ok("watch it", rt::event::Readable::new(file.fd()))?;
    let early = ok("wait", readable.wait(Duration::from_millis(200)))?;
    ensure!(!early, "an idle park handle was reported readable");
    drop(daemon);
    ensure!(ok("wait", readable.wait(WAIT))?, "the daemon's death was not reported to the watcher");
    expect_err("a read after it", rt::sys::read(file.fd(), &mut [0u8; 1]), sc::EIO)?;
    Ok(String::from("an idle watched file reported readable when its daemon was killed; its read then EIO"))
}

/// A disk's small writes (`Opened::Device`) are posted within the room its
/// daemon reported, as a stream's, but that room counts from the handle's
/// offset (docs/architecture.md §3.13): a read or a seek uses it up, so
/// the write after one is a call of its own (its failure is its own), and
/// that call's answer tells the room again.
pub fn device_writes_post_until_a_read_or_a_seek() -> Outcome {
    let name = unique("ut-device");
    let _daemon = Daemon::start(&name)?;
    let file = open(&format!("{name}:device"), O_RDWR)?;
    let fd = file.fd();
    let n = ok("a failing first write", rt::sys::write(fd, b"fail! first"))?;
    ensure!(n == 11, "the room the open told was not used (the first write took {n})");
    ok("fstat", file.stat())?;
    expect_err("the write after it", rt::sys::write(fd, b"x"), sc::ENOSPC)?;
    for what in ["a seek", "a read", "a relative seek"] {
        let moved = match what {
            "a seek" => rt::sys::lseek(fd, 0, sc::SEEK_SET),
            "a read" => rt::sys::read(fd, &mut [0u8; 1]),
            _ => rt::sys::lseek(fd, 1, sc::SEEK_CUR),
        };
        ok(what, moved)?;
        expect_err(&format!("a failing write after {what}"), rt::sys::write(fd, b"fail! own"), sc::ENOSPC)?;
        let n = ok("a failing write after that", rt::sys::write(fd, b"fail! posted"))?;
        ensure!(n == 12, "after {what}, the room the write's answer told was not used (took {n})");
        expect_err("the fsync after it", file.sync(), sc::ENOSPC)?;
    }
    // The posted writes that went well are there, in order.
    ok("seek", rt::sys::lseek(fd, 0, sc::SEEK_SET))?;
    for (i, piece) in [b"a1", b"b2", b"c3"].iter().enumerate() {
        let n = ok("a write", rt::sys::write(fd, *piece))?;
        ensure!(n == 2, "write {i} took {n}");
    }
    ok("seek", rt::sys::lseek(fd, 0, sc::SEEK_SET))?;
    let mut back = [0u8; 6];
    ok("read back", rt::sys::read(fd, &mut back))?;
    ensure!(&back == b"a1b2c3", "read back {back:?}");
    Ok(String::from(
        "writes posted within the room the open and each write's answer told; after a seek, a read or a \
         relative seek the next write is a call with its own error, and the one after it is posted again",
    ))
}

/// A stream's small writes (`Opened::Stream`, a socket's) are posted only
/// within the room its daemon reported, less what was posted since
/// (docs/architecture.md §3.13): a failing write within it is told it went
/// well and reported by the next write or `fsync`; one past it is a call
/// of its own, answered with its own error or short count; the bytes
/// arrive in order. A handle from a dup (an accepted connection) posts too.
pub fn stream_writes_post_within_the_room() -> Outcome {
    let name = unique("ut-stream");
    let _daemon = Daemon::start(&name)?;
    let opened = open(&format!("{name}:stream"), O_RDWR | O_NONBLOCK)?;
    let derived = ok("dup(fd, \"stream\")", opened.derive("stream"))?;
    ok("O_NONBLOCK on the dup", derived.set_nonblocking(true))?;
    for (what, file) in [("opened", &opened), ("dup", &derived)] {
        let fd = file.fd();
        // The open's (the dup's) answer told the room (1,000): a failing
        // write is posted, told it went well, and the next write reports
        // it, once (once a call answered after it, `fstat`, is back).
        let n = ok("a failing first write", rt::sys::write(fd, b"fail! first"))?;
        ensure!(n == 11, "{what}: the room the open told was not used (the first write took {n})");
        ok("fstat", file.stat())?;
        expect_err("the write after it", rt::sys::write(fd, b"lost"), sc::ECONNRESET)?;
        let mut model = Vec::new();
        for i in 0..3u8 {
            let chunk = vec![b'a' + i; 300];
            let n = ok("a write within the room", rt::sys::write(fd, &chunk))?;
            ensure!(n == 300, "{what}: write {i} took {n} of 300");
            model.extend_from_slice(&chunk);
        }
        // 900 bytes posted of 1,000: a failing write of 205 is past the
        // room, so it is a call and fails itself.
        let mut past = b"fail!".to_vec();
        past.resize(205, b'x');
        expect_err(&format!("{what}: a failing write past the room"), rt::sys::write(fd, &past), sc::ECONNRESET)?;
        // It told the room left (100): a write of 300 is a call too, and
        // short, as a full socket's is.
        let n = ok("a write past the room", rt::sys::write(fd, &[b'd'; 300]))?;
        ensure!(n == 100, "{what}: a write past the room took {n}, not the 100 bytes left");
        model.extend_from_slice(&[b'd'; 100]);
        expect_err("a write with no room", rt::sys::write(fd, b"full"), sc::EAGAIN)?;
        let mut back = vec![0u8; 2 * STREAM_ROOM];
        let n = ok("read", rt::sys::read(fd, &mut back))?;
        ensure!(
            back[..n] == model[..],
            "{what}: read {n} bytes, not the {} written in order (first {:?})",
            model.len(),
            &back[..n.min(8)]
        );
        // The read freed room, and the daemon told it (with the handle's
        // readiness for writing, before the read's answer): posted again.
        let n = ok("a failing write after the read", rt::sys::write(fd, b"fail! later"))?;
        ensure!(n == 11, "{what}: the room the event told was not used (the write took {n})");
        expect_err("fsync after it", file.sync(), sc::ECONNRESET)?;
        ok("a second fsync", file.sync())?;
    }
    Ok(String::from(
        "opened and dup'ed streams: writes posted within the 1,000 bytes of room told (by the open's answer, \
         a write's, an event), a failing one \
         reported by the next write or fsync; past the room a call (its own error, a short count, EAGAIN); \
         900 + 100 bytes read back in order",
    ))
}
