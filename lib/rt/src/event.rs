//! Event queues (`event:`): wait on many fds at once. Watch an fd for
//! readability or writability with a `data` word of your choosing; a wait
//! returns the fds that became ready with their data.

use abi::syscall::{self as sc, Event, EventFlags};

use crate::Result;
use crate::fs::File;

const EVENT_SIZE: usize = size_of::<Event>();

/// An open `event:` queue.
#[derive(Debug)]
pub struct EventQueue {
    file: File,
}

fn encode(event: &Event) -> [u8; EVENT_SIZE] {
    let mut out = [0u8; EVENT_SIZE];
    out[0..8].copy_from_slice(&event.id.to_ne_bytes());
    out[8..16].copy_from_slice(&event.flags.bits().to_ne_bytes());
    out[16..24].copy_from_slice(&event.data.to_ne_bytes());
    out
}

fn decode(bytes: &[u8]) -> Event {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
        usize::from_ne_bytes(w)
    };
    Event { id: word(0), flags: EventFlags::from_bits_truncate(word(1)), data: word(2) }
}

impl EventQueue {
    pub fn new() -> Result<EventQueue> {
        File::open_with("event:", sc::O_RDWR | sc::O_CLOEXEC).map(|file| EventQueue { file })
    }

    /// The queue's own fd (it can be made non-blocking, or watched itself).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Report `fd` when it becomes ready for any of `flags`, with `data`.
    /// What is ready already is reported at once.
    pub fn watch(&self, fd: usize, flags: EventFlags, data: usize) -> Result<()> {
        let event = Event { id: fd, flags, data };
        crate::sys::write(self.file.fd(), &encode(&event)).map(drop)
    }

    /// Stop reporting `fd`.
    pub fn unwatch(&self, fd: usize) -> Result<()> {
        self.watch(fd, EventFlags::empty(), 0)
    }

    /// Wait for events; fills `events` and returns how many (at least one,
    /// or `EAGAIN` if the queue is non-blocking and nothing is ready).
    pub fn wait(&self, events: &mut [Event]) -> Result<usize> {
        // A daemon waits for a few events at a time: no heap for 16.
        let mut small = [0u8; 16 * EVENT_SIZE];
        let mut large = alloc::vec::Vec::new();
        let len = events.len().max(1) * EVENT_SIZE;
        let buf = if len <= small.len() {
            &mut small[..len]
        } else {
            large.resize(len, 0u8);
            &mut large[..]
        };
        let n = crate::sys::read(self.file.fd(), buf)? / EVENT_SIZE;
        for (slot, bytes) in events.iter_mut().zip(buf.chunks_exact(EVENT_SIZE)).take(n) {
            *slot = decode(bytes);
        }
        Ok(n)
    }
}

/// One fd's readability, waited for with a time limit: an `event:` queue
/// watching the fd and a `time:4` timer, made once and kept, so a program
/// that waits for every reply (`ping`, `nc -w`, the benchmarks) pays no
/// set-up per wait (watching a daemon's fd asks the daemon).
#[derive(Debug)]
pub struct Readable {
    queue: EventQueue,
    timer: Timer,
}

/// A `time:4` timeout an event queue reports: set to a deadline on the
/// monotonic clock ([`crate::time::now`]), written to the kernel only when
/// the deadline changes. The loops that wait for requests and a deadline
/// at once (`redoxfsd`'s commits, `netd`'s polls, `virtio-blkd`'s writes
/// kept back, [`Readable`]) share it.
#[derive(Debug)]
pub struct Timer {
    file: File,
    /// The deadline it is set to.
    armed: Option<core::time::Duration>,
}

impl Timer {
    /// A new timer, unset, that `queue` reports with `data`.
    pub fn new(queue: &EventQueue, data: usize) -> Result<Timer> {
        let file = File::open_with("time:4", sc::O_RDWR | sc::O_NONBLOCK | sc::O_CLOEXEC)?;
        queue.watch(file.fd(), EventFlags::EVENT_READ, data)?;
        Ok(Timer { file, armed: None })
    }

    /// The deadline it is set to, if any.
    pub fn armed(&self) -> Option<core::time::Duration> {
        self.armed
    }

    /// Sets it to fire at `at`, unless it is set there already.
    pub fn arm(&mut self, at: core::time::Duration) -> Result<()> {
        if self.armed != Some(at) {
            self.file.write_all(&crate::time::timespec(at))?;
            self.armed = Some(at);
        }
        Ok(())
    }

    /// Its event came (it fired, or an earlier deadline's report): disarms
    /// it (a read, once its time passed; `EAGAIN` before, which is fine), so
    /// the next [`Timer::arm`] sets it again.
    pub fn fired(&mut self) {
        let _ = self.file.read(&mut [0u8; 16]);
        self.armed = None;
    }
}

/// Event data of the watched fd and of the timer.
const FD: usize = 1;
const TIMER: usize = 2;

impl Readable {
    pub fn new(fd: usize) -> Result<Readable> {
        let queue = EventQueue::new()?;
        queue.watch(fd, EventFlags::EVENT_READ, FD)?;
        let timer = Timer::new(&queue, TIMER)?;
        Ok(Readable { queue, timer })
    }

    /// Whether the fd was reported readable before `deadline` (on the
    /// monotonic clock, [`crate::time::now`]). A report may be stale (the
    /// data it announced was read already): read without blocking, and
    /// wait again on `EAGAIN`.
    pub fn wait_until(&mut self, deadline: core::time::Duration) -> Result<bool> {
        let mut events = [Event::default(); 2];
        loop {
            if crate::time::now() >= deadline {
                return Ok(false);
            }
            self.timer.arm(deadline)?;
            let n = match self.queue.wait(&mut events) {
                Ok(n) => n,
                Err(err) if err.errno == sc::EINTR => continue,
                Err(err) => return Err(err),
            };
            if events[..n].iter().any(|e| e.data == TIMER) {
                // Look at the clock again.
                self.timer.fired();
            }
            if events[..n].iter().any(|e| e.data == FD) {
                return Ok(true);
            }
        }
    }

    /// [`Readable::wait_until`] for at most `limit` from now.
    pub fn wait(&mut self, limit: core::time::Duration) -> Result<bool> {
        self.wait_until(crate::time::now() + limit)
    }
}
