//! `pipe:` — one-way byte streams between processes.
//!
//! `open("pipe:")` returns the read end; `dup(read_end, "write")` makes
//! the write end. Reads wait for data and return 0 once every write end is
//! closed and the buffer is drained; writes wait for room and fail with
//! `EPIPE` once every read end is closed. Both ends honour `O_NONBLOCK`
//! (`EAGAIN`) and report readiness to `event:` queues. The buffer is
//! bounded ([`CAPACITY`]); no byte is lost or duplicated.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;

use abi::syscall::error::{EBADF, EINVAL, ENOENT, EPIPE, Error};
use abi::syscall::{EventFlags, MODE_FIFO, Stat};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

use super::handles::HandleTable;
use super::{Caller, KernelScheme, Opened, event, key_of};
use crate::context::wait_queue::WaitQueue;

/// Bytes a pipe holds before writers wait.
pub const CAPACITY: usize = 64 * 1024;

struct Buffer {
    bytes: VecDeque<u8>,
    readers: usize,
    writers: usize,
}

struct Pipe {
    buffer: Mutex<Buffer>,
    /// Readers wait here for data, writers for room.
    readable: WaitQueue,
    writable: WaitQueue,
    /// The handles of each end, for events.
    ends: Mutex<alloc::vec::Vec<(usize, bool)>>,
}

#[derive(Clone)]
struct End {
    pipe: Arc<Pipe>,
    write: bool,
}

pub struct PipeScheme {
    ends: HandleTable<End>,
}

impl Default for PipeScheme {
    fn default() -> Self {
        Self::new()
    }
}

impl PipeScheme {
    pub fn new() -> PipeScheme {
        PipeScheme { ends: HandleTable::new() }
    }

    fn end(&self, handle: usize) -> Result<End, Error> {
        self.ends.get(handle)
    }

    fn add_end(&self, pipe: Arc<Pipe>, write: bool) -> usize {
        // Nobody knows the handle before it is returned, so the order of
        // the two records does not matter.
        let id = self.ends.insert(End { pipe: pipe.clone(), write });
        without_interrupts(|| pipe.ends.lock().push((id, write)));
        id
    }

    /// Tell watchers of `pipe`'s ends what is ready now.
    fn notify(&self, pipe: &Pipe) {
        if !event::watching() {
            return;
        }
        let (readable, writable) = without_interrupts(|| {
            let b = pipe.buffer.lock();
            (!b.bytes.is_empty() || b.writers == 0, b.bytes.len() < CAPACITY || b.readers == 0)
        });
        let ends = without_interrupts(|| pipe.ends.lock().clone());
        for (handle, write) in ends {
            let ready = if write { writable } else { readable };
            if ready {
                let flags = if write { EventFlags::EVENT_WRITE } else { EventFlags::EVENT_READ };
                event::trigger(key_of(self), handle, flags);
            }
        }
    }
}

impl KernelScheme for PipeScheme {
    fn open(&self, path: &str, _flags: usize, _caller: &Caller) -> Result<Opened, Error> {
        if !path.is_empty() {
            return Err(Error::new(ENOENT));
        }
        let pipe = Arc::new(Pipe {
            buffer: Mutex::new(Buffer { bytes: VecDeque::new(), readers: 1, writers: 0 }),
            readable: WaitQueue::new(),
            writable: WaitQueue::new(),
            ends: Mutex::new(alloc::vec::Vec::new()),
        });
        Ok(Opened::Handle(self.add_end(pipe, false)))
    }

    /// `dup(end, "write")` / `dup(end, "read")`: another end of the pipe.
    fn dup(&self, handle: usize, buf: &[u8], _flags: usize, _caller: &Caller) -> Result<Opened, Error> {
        let end = self.end(handle)?;
        let write = match buf {
            b"write" => true,
            b"read" => false,
            _ => return Err(Error::new(EINVAL)),
        };
        without_interrupts(|| {
            let mut b = end.pipe.buffer.lock();
            if write { b.writers += 1 } else { b.readers += 1 }
        });
        Ok(Opened::Handle(self.add_end(end.pipe, write)))
    }

    fn read(&self, handle: usize, buf: &mut [u8], flags: usize) -> Result<usize, Error> {
        let end = self.end(handle)?;
        if end.write {
            return Err(Error::new(EBADF));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let pipe = &end.pipe;
        let mut n = 0;
        let mut take = || {
            let mut b = pipe.buffer.lock();
            if b.bytes.is_empty() {
                return b.writers == 0;
            }
            n = buf.len().min(b.bytes.len());
            let mut at = 0;
            take_front(&mut b.bytes, n, |part| {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            });
            true
        };
        pipe.readable.wait_unless_nonblocking(flags, &mut take)?;
        if n > 0 {
            pipe.writable.wake_all();
            self.notify(pipe);
        }
        Ok(n)
    }

    fn write(&self, handle: usize, buf: &[u8], flags: usize) -> Result<usize, Error> {
        let end = self.end(handle)?;
        if !end.write {
            return Err(Error::new(EBADF));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let pipe = &end.pipe;
        let mut result = Ok(0);
        let mut put = || {
            let mut b = pipe.buffer.lock();
            if b.readers == 0 {
                result = Err(Error::new(EPIPE));
                return true;
            }
            let room = CAPACITY - b.bytes.len();
            if room == 0 {
                return false;
            }
            let n = room.min(buf.len());
            b.bytes.extend(&buf[..n]);
            result = Ok(n);
            true
        };
        pipe.writable.wait_unless_nonblocking(flags, &mut put)?;
        if let Err(err) = result {
            crate::caller_log!(Debug, "pipe: write with no reader left");
            return Err(err);
        }
        pipe.readable.wake_all();
        self.notify(pipe);
        result
    }

    fn fevent(&self, handle: usize, interest: EventFlags) -> Result<EventFlags, Error> {
        let end = self.end(handle)?;
        let b = without_interrupts(|| {
            let b = end.pipe.buffer.lock();
            (b.bytes.len(), b.readers, b.writers)
        });
        let (len, readers, writers) = b;
        let ready = if end.write {
            if len < CAPACITY || readers == 0 { EventFlags::EVENT_WRITE } else { EventFlags::empty() }
        } else if len > 0 || writers == 0 {
            EventFlags::EVENT_READ
        } else {
            EventFlags::empty()
        };
        Ok(ready & interest)
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        let end = self.end(handle)?;
        stat.st_mode = MODE_FIFO | 0o600;
        stat.st_size = without_interrupts(|| end.pipe.buffer.lock().bytes.len()) as u64;
        Ok(())
    }

    fn fpath(&self, handle: usize) -> Result<String, Error> {
        let end = self.end(handle)?;
        Ok(String::from(if end.write { "write" } else { "read" }))
    }

    fn close(&self, handle: usize) -> Result<(), Error> {
        let end = self.ends.remove(handle)?;
        let pipe = end.pipe;
        without_interrupts(|| {
            pipe.ends.lock().retain(|&(h, _)| h != handle);
            let mut b = pipe.buffer.lock();
            if end.write { b.writers -= 1 } else { b.readers -= 1 }
        });
        // The other side may be waiting for exactly this.
        pipe.readable.wake_all();
        pipe.writable.wake_all();
        self.notify(&pipe);
        Ok(())
    }
}

/// Takes the first `n` bytes (at most all) off `ring`, handing them to
/// `out` a slice at a time (the ring's two halves) rather than a byte at
/// a time through `drain`'s iterator, which cost a pipe read and a stream
/// read of a socket's held bytes about 140 instructions per frame of the
/// HTTP rows (`cargo mk bench --profile-net`).
pub fn take_front(ring: &mut VecDeque<u8>, n: usize, mut out: impl FnMut(&[u8])) {
    let n = n.min(ring.len());
    let (front, back) = ring.as_slices();
    let first = n.min(front.len());
    out(&front[..first]);
    if n > first {
        out(&back[..n - first]);
    }
    ring.drain(..n);
}
