//! Event queues (`event:`): wait on many fds at once. Watch an fd for
//! readability or writability with a `data` word of your choosing; a wait
//! returns the fds that became ready with their data.

use abi::syscall::{self as sc, Event, EventFlags};

use crate::Result;
use crate::fs::File;

const EVENT_SIZE: usize = size_of::<Event>();
const _: () = assert!(EVENT_SIZE == 3 * size_of::<usize>(), "an event is three words");

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
        let mut one = [Event::default()];
        let events = if events.is_empty() { &mut one[..] } else { events };
        // Straight into the caller's events: a stack buffer for 16 of them,
        // zeroed on every wait and decoded after, cost about 100
        // instructions a wait (a daemon waits once or twice a frame).
        let len = core::mem::size_of_val(events);
        // SAFETY: `Event` is `repr(C)`, three words without padding, and
        // any bytes make one (its flags are a plain word, cleaned below);
        // the slice spans exactly `events`, borrowed mutably here.
        let bytes = unsafe { core::slice::from_raw_parts_mut(events.as_mut_ptr().cast::<u8>(), len) };
        let n = crate::sys::read(self.file.fd(), bytes)? / EVENT_SIZE;
        for event in events.iter_mut().take(n) {
            event.flags = EventFlags::from_bits_truncate(event.flags.bits());
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
