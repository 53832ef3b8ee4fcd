//! `redoxfsd`: the Redox file system (the `redoxfs` crate) on a disk,
//! served as `file:` (README "Files that stay"; the scheme is in
//! [`files`]).
//!
//! `redoxfsd [DISK [SCHEME]]` (defaults `disk:0` and `file`): open the
//! disk, mount the file system on it, register the scheme, enter the null
//! namespace and serve. A disk smaller than the file system on it says it
//! is (a truncated image) is refused before anything is written. A
//! disk that holds no RedoxFS, or a corrupt one, is refused with a line
//! on standard error (the console) and in `log:` ([`Say`]), and
//! the daemon exits with status 1; the rest of the system runs on. So it
//! does when the disk fails under it (its driver died: the old driver's
//! files keep failing), after which init starts it again.
//!
//! Between requests it waits on an `event:` queue for the scheme socket
//! and a `time:` timeout, which it arms for when the oldest commit not yet
//! durable has waited `redoxfs_glue::group::INTERVAL`.
//!
//! May touch: its disk file, its scheme socket, its event queue and timer.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod files;

use core::time::Duration;

use rt::abi::syscall::{Event, EventFlags, O_NONBLOCK};
use rt::event::EventQueue;
use rt::fs::File;
use rt::prelude::*;
use scheme::sc::{EINTR, EIO, O_APPEND, O_RDWR, O_WRONLY};
use scheme::{Error, Result, Server};

/// The event queue's tags.
const SOCKET: usize = 0;
const TIMER: usize = 1;

rt::main!(main);

/// Where the daemon's trouble is told: standard error and `log:` (opened
/// at the start, before the null namespace; without logd, stderr alone).
struct Say(Option<File>);

impl Say {
    fn line(&mut self, line: &str) {
        eprintln!("{line}");
        if let Some(log) = &mut self.0 {
            let _ = log.write_all(format!("{line}\n").as_bytes());
        }
    }
}

fn main() -> Result<()> {
    let disk_url = rt::env::args().nth(1).unwrap_or("disk:0");
    let scheme_name = rt::env::args().nth(2).unwrap_or("file");
    let mut say = Say(File::open_with("log:", O_WRONLY | O_APPEND).ok());
    let file = File::open_with(disk_url, O_RDWR)
        .inspect_err(|err| say.line(&format!("redoxfsd: cannot open {disk_url}: {err}")))?;
    let mut disk = redoxfs_glue::SchemeDisk::new(file)?;
    let disk_size = redoxfs::Disk::size(&mut disk).unwrap_or(0);
    let mut refuse = |why: &str| {
        say.line(&format!("redoxfsd: {disk_url} {why}; not serving {scheme_name}:"));
        Error::new(EIO)
    };
    let mut fs = redoxfs::FileSystem::open(disk, None, None, false)
        .map_err(|err| refuse(&format!("holds no usable RedoxFS ({err})")))?;
    // A file system larger than its disk (an image cut short) would fail
    // on its first block past the end; say why now instead.
    if fs.header.size() > disk_size {
        let (fs_mib, disk_mib) = (fs.header.size() >> 20, disk_size >> 20);
        return Err(refuse(&format!("is {disk_mib} MiB but its RedoxFS says {fs_mib} MiB (a truncated image?)")));
    }
    fs.cleanup().map_err(|err| refuse(&format!("holds a RedoxFS that cannot be cleaned up ({err})")))?;
    let (size, free) = files::space(&fs);
    let files =
        files::Files::new(fs).inspect_err(|err| say.line(&format!("redoxfsd: cannot commit on {disk_url}: {err}")))?;
    let mut server = Server::new(scheme_name, files)?;
    let queue = EventQueue::new()?;
    let mut timer = File::open_with("time:4", O_RDWR | O_NONBLOCK)?;
    server.watch_on(&queue, SOCKET)?;
    queue.watch(timer.fd(), EventFlags::EVENT_READ, TIMER)?;
    server.confine().inspect_err(|err| eprintln!("redoxfsd: cannot enter the null namespace: {err}"))?;
    println!("redoxfsd: RedoxFS on {disk_url}: {} MiB, {} MiB free; serving {scheme_name}:", size >> 20, free >> 20);
    server.ready();
    let mut armed: Option<Duration> = None;
    let mut events = [Event::default(); 4];
    loop {
        let n = match queue.wait(&mut events) {
            Ok(n) => n,
            Err(err) if err.errno == EINTR => 0,
            Err(err) => return Err(err),
        };
        if events[..n].iter().any(|e| e.data == TIMER) {
            // Disarms the timer once its time passed (EAGAIN before).
            let _ = timer.read(&mut [0u8; 16]);
            armed = None;
        }
        server.handle_pending()?;
        let files = server.scheme();
        let now = rt::time::now();
        match files.durable_due(now) {
            // A failure is the disk's, and reported below.
            (true, _) => drop(files.make_durable()),
            (false, Some(at)) if armed != Some(at) => {
                timer.write_all(&rt::time::timespec(at))?;
                armed = Some(at);
            }
            _ => {}
        }
        if let Some(err) = files.disk_failed() {
            // What was made durable is on the disk; init starts us again.
            say.line(&format!(
                "redoxfsd: {disk_url} failed ({err}); stopping so that init starts the file system again"
            ));
            return Err(err);
        }
    }
}
