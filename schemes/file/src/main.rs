//! `redoxfsd`: the Redox file system (the `redoxfs` crate) on a disk,
//! served as `file:` (README "Files that stay"; the scheme is in
//! [`files`]).
//!
//! `redoxfsd [DISK [SCHEME]]` (defaults `disk:0` and `file`): open the
//! disk, mount the file system on it, register the scheme, enter the null
//! namespace and serve. A disk smaller than the file system on it says it
//! is (a truncated image) is refused before anything is written. A
//! disk that holds no RedoxFS (no valid header in the ring at its start),
//! or a corrupt one, is refused with an error in `log:` (which the
//! consoles show), and
//! the daemon exits with status 1; the rest of the system runs on. So it
//! does when the disk fails under it (its driver died: the old driver's
//! files keep failing), after which init starts it again.
//!
//! Between requests it waits on an `event:` queue for the scheme socket,
//! a `time:` timeout, which it arms for when the oldest commit not yet
//! durable has waited `redoxfs_glue::group::INTERVAL`, and its disk's file,
//! which the kernel reports when the driver dies: then it asks the disk
//! (an `fstat`) and exits on the failure, even when no caller was about
//! to reach the disk.
//!
//! May touch: its disk file, its scheme socket, its event queue and timer.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod dir_names;
mod files;

use rt::abi::syscall::Event;
use rt::event::{EventQueue, Timer};
use rt::fs::{File, SeekFrom};
use rt::prelude::*;
use scheme::sc::{EINTR, EIO, O_RDWR};
use scheme::{Error, EventFlags, Result, Server};

/// The event queue's tags.
const SOCKET: usize = 0;
const TIMER: usize = 1;
/// Event data of the disk's file: its driver died (the kernel reports a
/// dead daemon's files to their watchers).
const DISK: usize = 2;

rt::main!(main);

/// Blocks read at once while looking for the header ring (64 KiB).
const RING_CHUNK: u64 = 16;

/// The first block of the header ring at the start of the disk that holds
/// a valid RedoxFS header, for `FileSystem::open` to start from. Looked for
/// here because `FileSystem::open` without a block goes on through 65,536
/// blocks (256 MiB, seconds of reads) when the ring is gone, and subtracts
/// the slot a header's generation names from the block it was found in,
/// which panics (debug build) or wraps (release) for a header found before
/// its slot (redoxfs 0.8.6, `src/filesystem.rs:52`): a forged or misplaced
/// header. Every RedoxFS that mk and `redoxfs::FileSystem::create` make
/// has its ring at block 0.
fn ring_slot(file: &mut File) -> core::result::Result<u64, String> {
    use redoxfs::{BLOCK_SIZE, HEADER_RING};
    let mut chunk = vec![0u8; (RING_CHUNK * BLOCK_SIZE) as usize];
    let mut header = redoxfs::Header::default();
    for first in (0..HEADER_RING).step_by(RING_CHUNK as usize) {
        file.seek(SeekFrom::Start(first * BLOCK_SIZE)).map_err(|err| format!("reading its start: {err}"))?;
        let mut got = 0;
        while got < chunk.len() {
            match file.read(&mut chunk[got..]).map_err(|err| format!("reading its start: {err}"))? {
                0 => break,
                n => got += n,
            }
        }
        for (i, bytes) in chunk[..got].chunks_exact(BLOCK_SIZE as usize).enumerate() {
            header.copy_from_slice(bytes);
            if !header.valid() {
                continue;
            }
            let (slot, home) = (first + i as u64, header.generation() % HEADER_RING);
            if home > slot {
                return Err(format!(
                    "the header in block {slot} has generation {}, whose place is block {home} of the ring",
                    header.generation()
                ));
            }
            return Ok(slot);
        }
        if got < chunk.len() {
            break;
        }
    }
    Err(format!("no valid header in its first {HEADER_RING} blocks"))
}

fn main() -> Result<()> {
    rt::log::init();
    let disk_url = rt::env::args().nth(1).unwrap_or("disk:0");
    let scheme_name = rt::env::args().nth(2).unwrap_or("file");
    let mut file = File::open_with(disk_url, O_RDWR).inspect_err(|err| log::error!("cannot open {disk_url}: {err}"))?;
    let refuse = |why: &str| {
        log::error!("{disk_url} {why}; not serving {scheme_name}:");
        Error::new(EIO)
    };
    let slot = ring_slot(&mut file).map_err(|why| refuse(&format!("holds no usable RedoxFS ({why})")))?;
    let mut disk = redoxfs_glue::SchemeDisk::new(file)?;
    let disk_size = redoxfs::Disk::size(&mut disk).unwrap_or(0);
    let mut fs = redoxfs::FileSystem::open(disk, None, Some(slot), false)
        .map_err(|err| refuse(&format!("holds no usable RedoxFS ({err})")))?;
    // A file system larger than its disk (an image cut short) would fail
    // on its first block past the end; say why now instead.
    if fs.header.size() > disk_size {
        let (fs_mib, disk_mib) = (fs.header.size() >> 20, disk_size >> 20);
        return Err(refuse(&format!("is {disk_mib} MiB but its RedoxFS says {fs_mib} MiB (a truncated image?)")));
    }
    fs.cleanup().map_err(|err| refuse(&format!("holds a RedoxFS that cannot be cleaned up ({err})")))?;
    let (size, free) = files::space(&fs);
    let files = files::Files::new(fs).inspect_err(|err| log::error!("cannot commit on {disk_url}: {err}"))?;
    let mut server = Server::new(scheme_name, files)?;
    let queue = EventQueue::new()?;
    server.watch_on(&queue, SOCKET)?;
    let mut timer = Timer::new(&queue, TIMER)?;
    // An idle file system would find its driver gone only at its next
    // disk call, a caller's; watching the disk's file finds it at once.
    if let Err(err) = queue.watch(server.scheme().disk_fd(), EventFlags::EVENT_READ, DISK) {
        log::warn!("cannot watch {disk_url} ({err}); a driver restart is seen at the next disk call");
    }
    server.confine().inspect_err(|err| log::error!("cannot enter the null namespace: {err}"))?;
    log::info!("RedoxFS on {disk_url}: {} MiB, {} MiB free; serving {scheme_name}:", size >> 20, free >> 20);
    server.ready();
    let mut events = [Event::default(); 4];
    loop {
        let n = match queue.wait(&mut events) {
            Ok(n) => n,
            Err(err) if err.errno == EINTR => 0,
            Err(err) => return Err(err),
        };
        if events[..n].iter().any(|e| e.data == TIMER) {
            timer.fired();
        }
        if events[..n].iter().any(|e| e.data == DISK) {
            server.scheme().probe_disk();
        }
        server.handle_pending()?;
        let files = server.scheme();
        let now = rt::time::now();
        match files.durable_due(now) {
            // A failure is the disk's, and reported below.
            (true, _) => drop(files.make_durable()),
            (false, Some(at)) => timer.arm(at)?,
            _ => {}
        }
        if let Some(err) = files.disk_failed() {
            // What was made durable is on the disk; init starts us again.
            log::error!("{disk_url} failed ({err}); stopping so that init starts the file system again");
            return Err(err);
        }
    }
}
