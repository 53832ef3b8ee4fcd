//! `disk:`: the disks, as files of bytes (README "Disks").
//!
//! - `disk:` lists the disks, one name per line: `0`, `1`, ... in PCI
//!   order, each followed by its partitions, `NpM` for the partition in
//!   entry `M` (from 0) of the disk's GUID partition table, as the driver
//!   read it when it started (`lib/partition-table`).
//! - `disk:N` (root only, else `EACCES`): the whole disk; `disk:NpM` the
//!   partition, the same way, its bytes only. `read` at any
//!   offset and length (a read at or past the end gives 0 bytes, one
//!   across it stops there); `write` at any offset and length too (at or
//!   past the end `ENOSPC`, across it a short write; the sectors a write
//!   covers only in part are read first and written whole, as a block
//!   device's page cache does on Linux); `seek`; `fsync` (what was kept
//!   back, then the device's flush: what was written before is durable
//!   after);
//!   `fstat` (size, 512-byte blocks). A request moves at most 1 MiB;
//!   longer ones are short. A device error fails that request only
//!   (`EIO`; for writes kept back, the file's next write or `fsync`).
//! - `fsync` of `disk:` itself: every disk's writes kept back, then every
//!   disk's flush (init's before it stops the driver).
//!
//! Each open file has at most one request on the device at a time; the
//! call waits (parked) until it completes, so many callers on many files
//! keep many requests in flight.
//!
//! Read-ahead, as a block device's page cache does on Linux: a read of
//! less than [`AHEAD`] bytes that starts where the file's last read ended
//! asks the device for [`AHEAD`] bytes, and the next reads take from them
//! without a request. What was read ahead is stamped with its disk's write
//! count, and is not used once anything was written to that disk (through
//! any file) after the request went out. Once half of those bytes were
//! taken, the next [`AHEAD`] go out to the device while the caller goes on
//! reading (at most one such request per file), so a sequential reader
//! finds them there instead of waiting for the device.
//!
//! Write-behind, as a block device's page cache writes back on Linux: a
//! write of less than [`BEHIND_MAX`] bytes (or one not of whole sectors at
//! a sector's start, of any length) is answered at once and kept back, in
//! a queue per disk, and the writes that go on where the last one kept
//! back ends join it, so a sequential writer in small requests costs the
//! device one request per [`BEHIND_MAX`] bytes instead of one each. The
//! queue goes to the device in order, one request at a time, a part as
//! soon as nothing can join it any more; the last part goes when it has
//! waited [`BEHIND_FOR`] (the timer in `main`), when its file closes, when
//! a write of [`BEHIND_MAX`] or more goes to the device, and when a read
//! (of any file) or an `fsync` needs the disk: those wait until the whole
//! queue is on the device. So the device sees the writes in the order they
//! were made, and a read sees every write answered before it. A part that
//! covers a sector only in part reads that sector from the disk as it
//! goes (the sectors before it are written by then), and writes it whole.
//! When the device fails a part, the error is the answer to that file's
//! next write or `fsync` (once), as `file:`'s writes kept back; after a
//! close it is only logged.
//!
//! Posted writes (docs/architecture.md §3.13): a disk's file is opened as
//! [`Opened::Device`], so the kernel queues its small writes and lets the
//! writer go on at once, within the room this driver reports after each
//! write ([`Scheme::write_room`]): bytes it will keep back without making
//! the writer wait, at most [`ROOM`] kept back per disk and never past the
//! disk's end. A write within the room it owes is never parked, and never
//! fails for its offset or length; one past it waits (parked) while
//! [`ROOM`] bytes are kept back. A read or a seek of the file uses the room
//! up, here and in the kernel, so a write after one is a call of its own
//! whose answer tells the room again.
//!
//! May touch: the disks (through `virtio_glue::blk`), its handle table.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use rt::prelude::*;
use scheme::sc::{
    EACCES, EAGAIN, EINVAL, EIO, EISDIR, ENOENT, ENOSPC, EOPNOTSUPP, EROFS, MODE_DIR, MODE_FILE, O_ACCMODE, O_RDONLY,
    SEEK_CUR, SEEK_END, SEEK_SET,
};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat};
use virtio_glue::blk::{BlkError, BlockDevice, MAX_REQUEST, SECTOR, Tag};

/// The bytes a small sequential read fetches.
pub const AHEAD: usize = 128 * 1024;
/// The most bytes of consecutive small writes kept back as one request.
pub const BEHIND_MAX: usize = 128 * 1024;
/// The most bytes kept back per disk that the driver offers as room for
/// writes the kernel posts; a write it does not owe waits past it.
pub const ROOM: usize = 256 * 1024;
/// How long writes may be kept back before they go to the device.
pub const BEHIND_FOR: Duration = Duration::from_secs(1);

/// One disk.
pub struct Disk {
    /// Its PCI address.
    address: String,
    device: BlockDevice,
    /// Writes submitted to it so far (stamps what was read ahead).
    writes: u64,
    /// Writes kept back, not yet on the device, oldest first: only the
    /// last may still grow.
    behind: VecDeque<Behind>,
    /// The bytes in `behind`.
    behind_bytes: usize,
    /// Writes kept back, on their way to the device.
    sending: Option<Sending>,
}

impl Disk {
    pub fn new(address: String, device: BlockDevice) -> Disk {
        Disk { address, device, writes: 0, behind: VecDeque::new(), behind_bytes: 0, sending: None }
    }

    /// Whether the oldest part kept back can grow no more (another came
    /// after it, or its file closed): it goes to the device now.
    fn front_done(&self) -> bool {
        self.behind.len() > 1 || self.behind.front().is_some_and(|b| b.owner.is_none())
    }
}

/// Consecutive writes kept back: `data` from byte `at` of the disk (any
/// byte), written through `owner` (`None` once it closed), the first at
/// `since`.
struct Behind {
    owner: Option<usize>,
    at: u64,
    data: Vec<u8>,
    since: Duration,
}

/// Writes kept back, as request `tag` of `len` bytes for `owner`.
struct Sending {
    tag: Tag,
    owner: Option<usize>,
    len: usize,
}

/// Bytes read ahead: from `offset` in the entry, read after `stamp`
/// writes to the disk.
struct Ahead {
    offset: u64,
    stamp: u64,
    data: Vec<u8>,
}

/// The next bytes ahead, on their way from the device: from `offset` in
/// the entry, `len` of them from byte `skip` of the sectors asked for.
#[derive(Clone, Copy)]
struct Prefetch {
    tag: Tag,
    offset: u64,
    len: usize,
    skip: usize,
    stamp: u64,
}

/// What a `disk:` name stands for: a whole disk or a partition, as a
/// range of bytes on a disk.
struct Entry {
    name: String,
    disk: usize,
    /// The partition's number on its disk; `None` for the whole disk.
    partition: Option<usize>,
    start: u64,
    size: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Flush,
}

/// The request an open file has on its disk.
#[derive(Clone, Copy)]
struct Pending {
    tag: Tag,
    kind: Kind,
    /// File offset, the length the caller asked for, and the length
    /// requested (less, at the end of the disk or past `MAX_REQUEST`).
    offset: u64,
    asked: usize,
    len: usize,
    /// For reads: where the asked bytes start in the sectors read.
    skip: usize,
    /// A read ahead: the disk's write count when it was submitted.
    ahead: Option<u64>,
}

enum Handle {
    Listing {
        text: Vec<u8>,
        offset: usize,
        /// An `fsync` of `disk:`: each disk's flush, once nothing is kept back.
        flushes: Vec<(usize, Tag)>,
    },
    /// `entry` indexes [`Disks::entries`]; `offset` is within the entry.
    Disk {
        entry: usize,
        offset: u64,
        writable: bool,
        pending: Option<Pending>,
        /// Where the last read ended, what was read ahead, and what is
        /// being read ahead.
        next: u64,
        ahead: Option<Ahead>,
        prefetch: Option<Prefetch>,
        /// Sending writes kept back for this file failed: the answer to
        /// its next write or `fsync`.
        deferred: Option<Error>,
        /// The bytes of writes this file is owed without waiting: the
        /// room last reported, less what was written since (`ROOM`).
        owed: usize,
    },
}

pub struct Disks {
    disks: Vec<Disk>,
    entries: Vec<Entry>,
    handles: Handles<Handle>,
    /// Requests completed while the driver polled a disk itself (for a
    /// sector a write covers in part): parked calls may be done.
    polled: bool,
}

fn errno(err: BlkError) -> Error {
    Error::new(match err {
        BlkError::Busy => EAGAIN,
        BlkError::Invalid => EINVAL,
        BlkError::ReadOnly => EROFS,
        BlkError::Unsupported => EOPNOTSUPP,
        BlkError::Io | BlkError::Queue => EIO,
    })
}

impl Disks {
    /// The disks, and for each the partitions of its table (if any).
    pub fn new(disks: Vec<Disk>, tables: Vec<Vec<partition_table::Partition>>) -> Disks {
        let mut entries = Vec::new();
        for (n, disk) in disks.iter().enumerate() {
            entries.push(Entry { name: format!("{n}"), disk: n, partition: None, start: 0, size: disk.device.size() });
            for (m, part) in tables.get(n).into_iter().flatten().enumerate() {
                let (start, size) = (part.first * SECTOR as u64, part.sectors * SECTOR as u64);
                entries.push(Entry { name: format!("{n}p{m}"), disk: n, partition: Some(m), start, size });
            }
        }
        Disks { disks, entries, handles: Handles::new(), polled: false }
    }

    /// One line per disk and partition, for the log.
    pub fn describe(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| {
                let disk = &self.disks[e.disk];
                if e.partition.is_none() {
                    let mode = if disk.device.read_only() { ", read-only" } else { "" };
                    format!(
                        "disk:{} is {} at {} ({} bytes{mode})",
                        e.name,
                        crate::size_text(e.size),
                        disk.address,
                        e.size
                    )
                } else {
                    format!("disk:{} is {}, from byte {} of disk:{}", e.name, crate::size_text(e.size), e.start, e.disk)
                }
            })
            .collect()
    }

    /// Disk `index` interrupted: collect its completed requests. Returns
    /// how many completed.
    pub fn interrupt(&mut self, index: usize) -> usize {
        let Some(disk) = self.disks.get_mut(index) else { return 0 };
        let done = disk.device.poll();
        self.sent(index);
        done
    }

    /// The disk a disk or partition file is on.
    fn disk_of(&self, handle: usize) -> Result<usize> {
        match self.handles.get(handle)? {
            Handle::Disk { entry, .. } => Ok(self.entries[*entry].disk),
            Handle::Listing { .. } => Err(Error::new(EISDIR)),
        }
    }

    /// Whether requests completed while the driver polled a disk itself
    /// (asked once: parked calls should be tried again).
    pub fn completed_meanwhile(&mut self) -> bool {
        core::mem::take(&mut self.polled)
    }

    /// Sends the oldest part of disk `d`'s writes kept back, unless a part
    /// is on its way already (a full queue leaves it kept back, for the
    /// next try). A request the device refuses fails like one it failed.
    fn send_behind(&mut self, d: usize) {
        let disk = &mut self.disks[d];
        if disk.sending.is_some() {
            return;
        }
        let Some(behind) = disk.behind.pop_front() else { return };
        disk.behind_bytes -= behind.data.len();
        let len = behind.data.len();
        let behind = match self.whole_sectors(d, behind) {
            Ok(behind) => behind,
            Err((owner, err)) => return self.behind_failed(d, owner, len, err),
        };
        let disk = &mut self.disks[d];
        match disk.device.submit_write(behind.at / SECTOR as u64, &behind.data) {
            Ok(tag) => disk.sending = Some(Sending { tag, owner: behind.owner, len }),
            Err(BlkError::Busy) => {
                disk.behind_bytes += behind.data.len();
                disk.behind.push_front(behind);
            }
            Err(err) => self.behind_failed(d, behind.owner, len, errno(err)),
        }
    }

    /// `behind` as whole sectors: a sector it covers in part is read from
    /// disk `d` (polling the device: the writes before it are there by
    /// now, as it is the oldest part) and its bytes laid over it.
    fn whole_sectors(&mut self, d: usize, behind: Behind) -> core::result::Result<Behind, (Option<usize>, Error)> {
        let end = behind.at + behind.data.len() as u64;
        if behind.at.is_multiple_of(SECTOR as u64) && end.is_multiple_of(SECTOR as u64) {
            return Ok(behind);
        }
        let first = behind.at / SECTOR as u64;
        let last = end.div_ceil(SECTOR as u64) - 1;
        let mut whole = vec![0u8; ((last - first + 1) as usize) * SECTOR];
        let device = &mut self.disks[d].device;
        let mut read = |sector: u64, into: &mut [u8]| {
            let old = crate::read_now(device, sector, 1).ok_or((behind.owner, Error::new(EIO)))?;
            into.copy_from_slice(&old);
            Ok(())
        };
        if !behind.at.is_multiple_of(SECTOR as u64) {
            read(first, &mut whole[..SECTOR])?;
        }
        if !end.is_multiple_of(SECTOR as u64) && (last != first || behind.at.is_multiple_of(SECTOR as u64)) {
            let tail = whole.len() - SECTOR;
            read(last, &mut whole[tail..])?;
        }
        self.polled = true;
        let skip = (behind.at - first * SECTOR as u64) as usize;
        whole[skip..skip + behind.data.len()].copy_from_slice(&behind.data);
        Ok(Behind { at: first * SECTOR as u64, data: whole, ..behind })
    }

    /// Collects disk `d`'s writes kept back once the device is done with them.
    fn sent(&mut self, d: usize) {
        let disk = &mut self.disks[d];
        let Some(sending) = &disk.sending else { return };
        let Some(result) = disk.device.finish(sending.tag, 0, &mut []) else { return };
        let Some(Sending { owner, len, .. }) = disk.sending.take() else { return };
        // Counted again when done, as a write of its own is: a read ahead
        // that went out meanwhile may hold the bytes from before.
        disk.writes += 1;
        // A write done is done whole (the device has no short writes).
        if let Err(err) = result {
            self.behind_failed(d, owner, len, errno(err));
        }
        // The next part, if nothing can join it any more.
        if self.disks[d].front_done() {
            self.send_behind(d);
        }
    }

    /// Writes kept back for `owner` could not be written: say so, and keep
    /// the error for that file's next write or `fsync`.
    fn behind_failed(&mut self, d: usize, owner: Option<usize>, len: usize, error: Error) {
        log::error!("{}: writing {len} bytes kept back failed: {error}", self.disks[d].address);
        if let Some(owner) = owner
            && let Ok(Handle::Disk { deferred, .. }) = self.handles.get_mut(owner)
        {
            *deferred = Some(error);
        }
    }

    /// Whether nothing is kept back for disk `d` any more, sending what is
    /// (the caller then waits: `EAGAIN`, tried again after the interrupt).
    fn settled(&mut self, d: usize) -> bool {
        self.send_behind(d);
        self.sent(d);
        let disk = &self.disks[d];
        disk.behind.is_empty() && disk.sending.is_none()
    }

    /// Sends the writes that were kept back [`BEHIND_FOR`] by `now`; when
    /// the next ones will have been, if any are kept back.
    pub fn send_due(&mut self, now: Duration) -> Option<Duration> {
        let mut next: Option<Duration> = None;
        for d in 0..self.disks.len() {
            let disk = &self.disks[d];
            let Some(behind) = disk.behind.front() else { continue };
            let due = behind.since + BEHIND_FOR;
            if due <= now || disk.front_done() {
                self.send_behind(d);
            } else {
                next = Some(next.map_or(due, |at| at.min(due)));
            }
        }
        next
    }

    /// `fsync` of `disk:` itself: every disk's writes kept back sent, then
    /// each disk flushed. `EAGAIN` until all of that is done.
    fn sync_all(&mut self, handle: usize) -> Result<()> {
        let Handle::Listing { flushes, .. } = self.handles.get_mut(handle)? else { return Err(Error::new(EISDIR)) };
        if flushes.is_empty() {
            let mut settled = true;
            for d in 0..self.disks.len() {
                settled &= self.settled(d);
            }
            if !settled {
                return Err(Error::new(EAGAIN));
            }
            let mut tags = Vec::new();
            for d in 0..self.disks.len() {
                if self.disks[d].device.read_only() {
                    continue;
                }
                match self.disks[d].device.submit_flush() {
                    Ok(tag) => tags.push((d, tag)),
                    Err(err) => {
                        for (d, tag) in tags {
                            self.disks[d].device.abandon(tag);
                        }
                        return Err(errno(err));
                    }
                }
            }
            if tags.is_empty() {
                return Ok(());
            }
            if let Handle::Listing { flushes, .. } = self.handles.get_mut(handle)? {
                *flushes = tags;
            }
            return Err(Error::new(EAGAIN));
        }
        if flushes.iter().any(|&(d, tag)| self.disks[d].device.status(tag).is_none()) {
            return Err(Error::new(EAGAIN));
        }
        let mut result = Ok(());
        for (d, tag) in core::mem::take(flushes) {
            if let Some(Err(err)) = self.disks[d].device.finish(tag, 0, &mut []) {
                log::error!("{}: flush failed: {}", self.disks[d].address, errno(err));
                result = Err(errno(err));
            }
        }
        result
    }

    /// The result of the open file's request if it is the one described,
    /// `EAGAIN` while it (or another request of the file) is in flight, or
    /// `None` when the file has no request (left over ones are dropped).
    fn collect(&mut self, handle: usize, kind: Kind, len: usize, out: &mut [u8]) -> Result<Option<Result<usize>>> {
        let Handle::Disk { entry, offset, pending, ahead, next, .. } = self.handles.get_mut(handle)? else {
            return Err(Error::new(EISDIR));
        };
        let Some(p) = *pending else { return Ok(None) };
        let device = &mut self.disks[self.entries[*entry].disk].device;
        if p.kind == kind && p.offset == *offset && p.asked == len {
            if let Some(stamp) = p.ahead {
                let mut data = vec![0u8; p.len];
                let Some(result) = device.finish(p.tag, p.skip, &mut data) else {
                    return Err(Error::new(EAGAIN));
                };
                *pending = None;
                let Ok(got) = result else {
                    // The device failed somewhere in the bytes ahead: ask
                    // again for just the bytes wanted (not sequential now).
                    *next = u64::MAX;
                    return Ok(None);
                };
                data.truncate(got);
                let n = out.len().min(got);
                out[..n].copy_from_slice(&data[..n]);
                *ahead = Some(Ahead { offset: p.offset, stamp, data });
                return Ok(Some(Ok(n)));
            }
            let n = out.len().min(p.len);
            let Some(result) = device.finish(p.tag, p.skip, &mut out[..n]) else {
                return Err(Error::new(EAGAIN));
            };
            *pending = None;
            return Ok(Some(result.map_err(errno)));
        }
        // Another call's request (its caller gone, or a different call on
        // a shared file): let it finish, then drop it.
        if device.status(p.tag).is_none() {
            return Err(Error::new(EAGAIN));
        }
        device.abandon(p.tag);
        *pending = None;
        Ok(None)
    }

    /// A write of [`BEHIND_MAX`] or more, of whole sectors: after what is
    /// kept back, straight to the device (the call is parked until it is
    /// done).
    fn write_through(&mut self, handle: usize, buf: &[u8]) -> Result<usize> {
        if let Some(result) = self.collect(handle, Kind::Write, buf.len(), &mut [])? {
            if let Handle::Disk { entry, .. } = self.handles.get(handle)? {
                // Counted again when done: a read ahead that went out while
                // it was in flight may hold the bytes from before.
                self.disks[self.entries[*entry].disk].writes += 1;
            }
            let n = result.inspect_err(|err| log::error!("write failed: {err}"))?;
            if let Handle::Disk { offset, .. } = self.handles.get_mut(handle)? {
                *offset += n as u64;
            }
            return Ok(n);
        }
        let (d, size, at) = self.placed(handle)?;
        let len = (buf.len() as u64).min(size.saturating_sub(at.1)).min(MAX_REQUEST as u64) as usize;
        // Anything else reaches the disk after what is kept back; the
        // answer to this file's next call after a failure is the failure.
        if !self.settled(d) {
            return Err(Error::new(EAGAIN));
        }
        let Handle::Disk { offset, pending, deferred, .. } = self.handles.get_mut(handle)? else { unreachable!() };
        if let Some(error) = deferred.take() {
            return Err(error);
        }
        let disk = &mut self.disks[d];
        disk.writes += 1;
        let tag = disk.device.submit_write(at.0 / SECTOR as u64, &buf[..len]).map_err(errno)?;
        *pending =
            Some(Pending { tag, kind: Kind::Write, offset: *offset, asked: buf.len(), len, skip: 0, ahead: None });
        Err(Error::new(EAGAIN))
    }

    /// Where a write on `handle` goes: its disk, its entry's size and the
    /// byte on the disk and in the entry. `ENOSPC` at or past the end, or
    /// a failure of writes kept back not reported yet (taken).
    fn placed(&mut self, handle: usize) -> Result<(usize, u64, (u64, u64))> {
        let Handle::Disk { entry, offset, deferred, .. } = self.handles.get_mut(handle)? else {
            return Err(Error::new(EISDIR));
        };
        if let Some(error) = deferred.take() {
            return Err(error);
        }
        let entry = &self.entries[*entry];
        if *offset >= entry.size {
            return Err(Error::new(ENOSPC));
        }
        Ok((entry.disk, entry.size, (entry.start + *offset, *offset)))
    }

    /// A write kept back: joined to the last part of the queue when it
    /// goes on from there, else a part of its own. One not owed
    /// (`is_owed`: within the room told) waits while [`ROOM`] bytes are
    /// kept back.
    fn keep_back(&mut self, handle: usize, buf: &[u8], is_owed: bool) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (d, size, (at, offset)) = self.placed(handle)?;
        // At most one request's worth (a longer write is short), so that
        // a part with its sectors made whole is one request.
        let len = (buf.len() as u64).min(size - offset).min(BEHIND_MAX as u64) as usize;
        let disk = &mut self.disks[d];
        let joins = disk.behind.back().is_some_and(|last| {
            last.owner == Some(handle) && last.at + last.data.len() as u64 == at && last.data.len() + len <= BEHIND_MAX
        });
        if joins {
            if let Some(last) = disk.behind.back_mut() {
                last.data.extend_from_slice(&buf[..len]);
            }
        } else {
            if !is_owed && disk.behind_bytes >= ROOM {
                // Past the room: wait until the device has taken some.
                self.send_behind(d);
                return Err(Error::new(EAGAIN));
            }
            // Room for all it may hold: joining writes never reallocate.
            let mut data = Vec::with_capacity(BEHIND_MAX);
            data.extend_from_slice(&buf[..len]);
            disk.behind.push_back(Behind { owner: Some(handle), at, data, since: rt::time::now() });
        }
        disk.behind_bytes += len;
        disk.writes += 1;
        if let Ok(Handle::Disk { offset, .. }) = self.handles.get_mut(handle) {
            *offset += len as u64;
        }
        // A part nothing can join any more goes to the device now.
        if self.disks[d].front_done() {
            self.send_behind(d);
        }
        Ok(len)
    }
}

impl Scheme for Disks {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        let name = path.trim_matches('/');
        if name.is_empty() {
            let text: String = self.entries.iter().map(|e| format!("{}\n", e.name)).collect();
            return Ok(Opened::Handle(self.handles.insert(Handle::Listing {
                text: text.into_bytes(),
                offset: 0,
                flushes: Vec::new(),
            })));
        }
        let handle = {
            let entry = self.entries.iter().position(|e| e.name == name).ok_or(Error::new(ENOENT))?;
            if caller.uid != 0 {
                return Err(Error::new(EACCES));
            }
            let writable = flags & O_ACCMODE != O_RDONLY;
            if writable && self.disks[self.entries[entry].disk].device.read_only() {
                return Err(Error::new(EROFS));
            }
            Handle::Disk {
                entry,
                offset: 0,
                writable,
                pending: None,
                next: 0,
                ahead: None,
                prefetch: None,
                deferred: None,
                owed: 0,
            }
        };
        // A disk's bytes change only through writes on this scheme: the
        // kernel may read ahead for a sequential reader, and post small
        // writes within the room it is told (counted from the offset).
        Ok(Opened::Device(self.handles.insert(handle)))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        if let Handle::Listing { text, offset, .. } = self.handles.get_mut(handle)? {
            // The offset may be anywhere a seek put it, past the end too.
            let start = (*offset).min(text.len());
            let n = buf.len().min(text.len() - start);
            buf[..n].copy_from_slice(&text[start..start + n]);
            *offset += n;
            return Ok(n);
        }
        if let Handle::Disk { owed, .. } = self.handles.get_mut(handle)? {
            // The offset moves: the room told counts no more.
            *owed = 0;
        }
        if let Some(result) = self.collect(handle, Kind::Read, buf.len(), buf)? {
            let n = result.inspect_err(|err| log::error!("read failed: {err}"))?;
            if let Handle::Disk { offset, next, .. } = self.handles.get_mut(handle)? {
                *offset += n as u64;
                *next = *offset;
            }
            return Ok(n);
        }
        // Writes kept back reach the disk before any read does.
        let d = self.disk_of(handle)?;
        if !self.settled(d) {
            return Err(Error::new(EAGAIN));
        }
        let Handle::Disk { entry, offset, pending, next, ahead, prefetch, .. } = self.handles.get_mut(handle)? else {
            unreachable!()
        };
        let entry = &self.entries[*entry];
        let disk = &mut self.disks[entry.disk];
        let size = entry.size;
        if *offset >= size || buf.is_empty() {
            return Ok(0);
        }
        // The bytes being read ahead, when this read wants them: wait for
        // them, then read from them as below. A read neither there nor in
        // the bytes before them drops them.
        if let Some(f) = *prefetch {
            let before = ahead.as_ref().is_some_and(|a| *offset >= a.offset && *offset < f.offset);
            if f.offset != *offset && !before {
                disk.device.abandon(f.tag);
                *prefetch = None;
            } else if f.offset == *offset {
                let mut data = vec![0u8; f.len];
                let Some(result) = disk.device.finish(f.tag, f.skip, &mut data) else {
                    return Err(Error::new(EAGAIN));
                };
                *prefetch = None;
                match result {
                    Ok(got) => {
                        data.truncate(got);
                        *ahead = Some(Ahead { offset: f.offset, stamp: f.stamp, data });
                    }
                    // Ask again for just the bytes wanted (not sequential now).
                    Err(_) => *next = u64::MAX,
                }
            }
        }
        // From what was read ahead, while nothing was written since.
        if let Some(a) = ahead
            && a.stamp == disk.writes
            && *offset >= a.offset
            && *offset < a.offset + a.data.len() as u64
        {
            let start = (*offset - a.offset) as usize;
            let n = buf.len().min(a.data.len() - start);
            buf[..n].copy_from_slice(&a.data[start..start + n]);
            *offset += n as u64;
            *next = *offset;
            // Half of it taken: ask for the next bytes now (a busy queue
            // just means no read-ahead this time).
            let end = a.offset + a.data.len() as u64;
            if *offset >= a.offset + a.data.len() as u64 / 2 && end < size && prefetch.is_none() {
                let start = end / SECTOR as u64 * SECTOR as u64;
                let skip = (end - start) as usize;
                let len = (AHEAD as u64).min(size - end).min((MAX_REQUEST - skip) as u64) as usize;
                let sectors_len = (skip + len).next_multiple_of(SECTOR);
                if let Ok(tag) = disk.device.submit_read((entry.start + start) / SECTOR as u64, sectors_len) {
                    *prefetch = Some(Prefetch { tag, offset: end, len, skip, stamp: disk.writes });
                }
            }
            return Ok(n);
        }
        let start = *offset / SECTOR as u64 * SECTOR as u64;
        let skip = (*offset - start) as usize;
        let sequential = *offset == *next && buf.len() < AHEAD;
        let want = if sequential { AHEAD } else { buf.len() };
        let len = (want as u64).min(size - *offset).min((MAX_REQUEST - skip) as u64) as usize;
        let sectors_len = (skip + len).next_multiple_of(SECTOR);
        let tag = disk.device.submit_read((entry.start + start) / SECTOR as u64, sectors_len).map_err(errno)?;
        let stamp = sequential.then_some(disk.writes);
        *pending = Some(Pending { tag, kind: Kind::Read, offset: *offset, asked: buf.len(), len, skip, ahead: stamp });
        Err(Error::new(EAGAIN))
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let Handle::Disk { writable, offset, owed, .. } = self.handles.get_mut(handle)? else {
            return Err(Error::new(EISDIR));
        };
        if !*writable {
            return Err(Error::new(scheme::sc::EBADF));
        }
        // Within the room told less what was written since: the kernel
        // may have posted it, so it must not wait.
        let is_owed = buf.len() <= *owed;
        *owed = owed.saturating_sub(buf.len());
        let whole = offset.is_multiple_of(SECTOR as u64) && buf.len().is_multiple_of(SECTOR);
        if whole && buf.len() >= BEHIND_MAX {
            return self.write_through(handle, buf);
        }
        self.keep_back(handle, buf, is_owed)
    }

    /// The room a write on `handle` has now: what the disk's queue takes
    /// before [`ROOM`] and the disk's end allow, or what it is owed
    /// already if more (told once, it is owed until written or until a
    /// read or seek).
    fn write_room(&mut self, handle: usize) -> usize {
        let Ok(Handle::Disk { entry, offset, writable: true, owed, .. }) = self.handles.get_mut(handle) else {
            return 0;
        };
        let entry = &self.entries[*entry];
        let queued = self.disks[entry.disk].behind_bytes;
        let to_end = usize::try_from(entry.size.saturating_sub(*offset)).unwrap_or(usize::MAX);
        *owed = (*owed).max(ROOM.saturating_sub(queued).min(to_end));
        *owed
    }

    fn fsync(&mut self, handle: usize) -> Result<()> {
        if let Handle::Listing { .. } = self.handles.get(handle)? {
            return self.sync_all(handle);
        }
        if let Some(result) = self.collect(handle, Kind::Flush, 0, &mut [])? {
            return result.map(drop).inspect_err(|err| log::error!("flush failed: {err}"));
        }
        let d = self.disk_of(handle)?;
        if !self.settled(d) {
            return Err(Error::new(EAGAIN));
        }
        let Handle::Disk { offset, pending, deferred, .. } = self.handles.get_mut(handle)? else { unreachable!() };
        if let Some(error) = deferred.take() {
            return Err(error);
        }
        let tag = self.disks[d].device.submit_flush().map_err(errno)?;
        *pending = Some(Pending { tag, kind: Kind::Flush, offset: *offset, asked: 0, len: 0, skip: 0, ahead: None });
        Err(Error::new(EAGAIN))
    }

    fn seek(&mut self, handle: usize, to: isize, whence: usize) -> Result<usize> {
        let (offset, size) = match self.handles.get_mut(handle)? {
            Handle::Listing { text, offset, .. } => {
                let size = text.len() as i64;
                let base = match whence {
                    SEEK_SET => 0,
                    SEEK_CUR => *offset as i64,
                    SEEK_END => size,
                    _ => return Err(Error::new(EINVAL)),
                };
                let at = base.checked_add(to as i64).filter(|&at| at >= 0).ok_or(Error::new(EINVAL))?;
                *offset = at as usize;
                return Ok(*offset);
            }
            Handle::Disk { entry, offset, owed, .. } => {
                // The offset moves: the room told counts no more.
                *owed = 0;
                (offset, self.entries[*entry].size)
            }
        };
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *offset,
            SEEK_END => size,
            _ => return Err(Error::new(EINVAL)),
        };
        let at = i64::try_from(base)
            .ok()
            .and_then(|base| base.checked_add(to as i64))
            .filter(|&at| at >= 0)
            .ok_or(Error::new(EINVAL))?;
        *offset = at as u64;
        usize::try_from(at).map_err(|_| Error::new(EINVAL))
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        match self.handles.get(handle)? {
            Handle::Listing { text, .. } => {
                stat.st_mode = MODE_DIR | 0o555;
                stat.st_size = text.len() as u64;
            }
            Handle::Disk { entry, .. } => {
                let size = self.entries[*entry].size;
                stat.st_mode = MODE_FILE | 0o600;
                stat.st_size = size;
                stat.st_blksize = SECTOR as u32;
                stat.st_blocks = size / SECTOR as u64;
            }
        }
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        Ok(match self.handles.get(handle)? {
            Handle::Listing { .. } => String::new(),
            Handle::Disk { entry, .. } => self.entries[*entry].name.clone(),
        })
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        self.handles.get(handle)?;
        Ok(interest & (EventFlags::EVENT_READ | EventFlags::EVENT_WRITE))
    }

    fn close(&mut self, handle: usize) {
        match self.handles.remove(handle) {
            Some(Handle::Disk { entry, pending, prefetch, .. }) => {
                let d = self.entries[entry].disk;
                let disk = &mut self.disks[d];
                for tag in pending.map(|p| p.tag).into_iter().chain(prefetch.map(|f| f.tag)) {
                    disk.device.abandon(tag);
                }
                // What it kept back goes to the disk now; a failure can
                // only be logged.
                for behind in disk.behind.iter_mut().filter(|b| b.owner == Some(handle)) {
                    behind.owner = None;
                }
                if let Some(sending) = &mut disk.sending
                    && sending.owner == Some(handle)
                {
                    sending.owner = None;
                }
                self.send_behind(d);
            }
            Some(Handle::Listing { flushes, .. }) => {
                for (d, tag) in flushes {
                    self.disks[d].device.abandon(tag);
                }
            }
            None => {}
        }
    }
}
