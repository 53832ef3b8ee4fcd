//! Writing a scheme daemon: implement [`Scheme`] (only the calls your
//! scheme supports; every method has a default that answers the errno a
//! caller expects), then hand it to [`serve`]:
//!
//! ```ignore
//! struct Hello;
//!
//! impl scheme::Scheme for Hello {
//!     fn open(&mut self, _path: &str, _flags: usize, _caller: &Caller) -> Result<Opened> {
//!         Ok(Opened::Handle(0))
//!     }
//!     fn read(&mut self, _handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
//!         let text = b"hello\n";
//!         let n = text.len().min(buf.len());
//!         buf[..n].copy_from_slice(&text[..n]);
//!         Ok(n)
//!     }
//! }
//!
//! fn main() -> Result<()> {
//!     scheme::serve("hello", Hello)
//! }
//! ```
//!
//! A scheme that is one device file (`zero:`, `null:`, `rand:`) only
//! implements [`Device`]'s read and write and serves [`DeviceScheme`].
//! A scheme with per-open state keeps it in [`Handles`].
//!
//! [`serve`] registers `NAME:` (the daemon must run as root), tells init
//! it is ready, and answers requests one at a time for as long as the
//! daemon runs. [`Server`] gives the same steps separately, plus
//! [`Server::confine`] to drop into the null namespace once registered.
//!
//! **Waiting without blocking the daemon**: a call that cannot complete
//! yet (a read of an empty channel, a write to a full one) returns
//! `Err(Error::new(EAGAIN))`. If the caller opened its fd with
//! `O_NONBLOCK`, that is its answer; otherwise the request is *parked*
//! and retried after every later request the daemon handles (or when the
//! daemon calls [`Server::retry_parked`]), so one daemon serves many
//! clients and none of them blocks another. A parked caller that is
//! killed is forgotten. A server may offer read timeouts
//! ([`Server::offer_read_timeouts`]: `dup(fd, "read_timeout")`, as a
//! socket's `SO_RCVTIMEO`): a read parked for longer than its fd's is
//! answered with `ETIMEDOUT` by the retry after its deadline, which a
//! daemon with its own loop arranges with [`Server::next_deadline`].
//!
//! **Events**: a scheme whose handles become ready (data arrived, room
//! freed) reports it by returning the handles from [`Scheme::drain_events`];
//! callers watching those fds through `event:` are told.
//!
//! No `unsafe` here: lent buffers arrive as ordinary slices from
//! `rt::scheme`.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod handles;
mod path;
mod read_timeout;

pub use handles::Handles;
pub use path::{check_new_name, components};
use read_timeout::ReadTimeouts;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use core::time::Duration;
pub use rt::abi::syscall::{self as sc, EventFlags, Stat, StatVfs};
use rt::event::EventQueue;
use rt::scheme::{INLINE_MAX, Incoming, Kind, Op, RESPONSE_SIZE, Request, Response, Socket, TAKES_CHAINS};
pub use rt::{Error, Result};
use sc::{EAGAIN, EBADF, EINVAL, EIO, ENOENT, ENOSYS, EOPNOTSUPP, ESPIPE, ETIMEDOUT};

/// Who made a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub pid: usize,
    pub uid: u32,
    pub gid: u32,
}

/// What an open (or dup) gives the caller.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// A handle of this scheme: later calls on the caller's fd name it.
    Handle(usize),
    /// An fd of this daemon's, handed to the caller (it leaves our table):
    /// how a daemon gives out files of other schemes.
    Fd(usize),
    /// A handle the kernel may read ahead on: its bytes change only through
    /// calls on this scheme (a regular file, a disk), and a read of more
    /// than was asked is harmless. A sequential reader's small reads then
    /// come mostly from the kernel, which asks this daemon for a window of
    /// them at a time (`scheme_proto::OPEN_READ_AHEAD`). Only an open may
    /// answer it (a dup answers it as a plain handle).
    ReadAhead(usize),
    /// A regular file's handle: read ahead as [`Opened::ReadAhead`], and
    /// its small writes posted (`scheme_proto::OPEN_POSTED_WRITES`): the
    /// kernel queues them and lets the caller go on at once, and reports a
    /// failure on the handle's next write or `fsync`. The scheme must
    /// never answer the handle's writes with `EAGAIN` and must write all
    /// of a write or fail it (`Server` takes requests in the order they
    /// come, so a write it never parks is answered before any later call).
    Buffered(usize),
    /// A stream's handle (a socket), from an open or a dup: the kernel
    /// posts its small writes within the room [`Scheme::write_room`]
    /// reports after each of its writes (`scheme_proto::
    /// OPEN_POSTED_WITHIN_ROOM`, docs/architecture.md §3.13). The scheme
    /// must take a write whole when it fits the room last reported less
    /// what was written since, and may fail it (a reset connection: the
    /// caller hears of it on its next write).
    Stream(usize),
    /// A disk's handle: read ahead as [`Opened::ReadAhead`], and its small
    /// writes posted within the room [`Scheme::write_room`] reports, as a
    /// stream's, except that the room counts bytes from the handle's
    /// offset (`scheme_proto::OPEN_ROOM_FROM_OFFSET`): a read or a seek of
    /// the handle uses it up, on both sides, until the answer to a write
    /// reports it again. The scheme must take a write whole when it fits
    /// the room last reported less what was written since, with no read
    /// or seek in between.
    Device(usize),
}

/// A scheme, as a daemon implements it. Handles are yours to choose; the
/// kernel passes back whatever [`Scheme::open`] returned. `flags` on reads
/// and writes are the caller's file status flags.
pub trait Scheme {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        let _ = (path, flags, caller);
        Err(Error::new(ENOENT))
    }
    fn read(&mut self, handle: usize, buf: &mut [u8], flags: usize) -> Result<usize> {
        let _ = (handle, buf, flags);
        Err(Error::new(EBADF))
    }
    fn write(&mut self, handle: usize, buf: &[u8], flags: usize) -> Result<usize> {
        let _ = (handle, buf, flags);
        Err(Error::new(EBADF))
    }
    fn seek(&mut self, handle: usize, offset: isize, whence: usize) -> Result<usize> {
        let _ = (handle, offset, whence);
        Err(Error::new(ESPIPE))
    }
    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        let _ = (handle, stat);
        Err(Error::new(EBADF))
    }
    /// The size and free space of the file system `handle` is on (`df`).
    fn fstatvfs(&mut self, handle: usize, statvfs: &mut StatVfs) -> Result<()> {
        let _ = (handle, statvfs);
        Err(Error::new(ENOSYS))
    }
    /// The handle's path, without `NAME:`.
    fn fpath(&mut self, handle: usize) -> Result<String> {
        let _ = handle;
        Err(Error::new(EBADF))
    }
    /// The caller's last fd for `handle` closed.
    fn close(&mut self, handle: usize) {
        let _ = handle;
    }
    /// `dup(fd, name)` with a non-empty name: a new handle derived from
    /// `handle`.
    fn dup(&mut self, handle: usize, name: &[u8], caller: &Caller) -> Result<Opened> {
        let _ = (handle, name, caller);
        Err(Error::new(EINVAL))
    }
    /// How many bytes more a write on `handle` would take whole now,
    /// without parking (its send buffer's free space): sent with every
    /// answer to a write, and what the kernel may post on an
    /// [`Opened::Stream`] handle. Only such a handle's matters.
    fn write_room(&mut self, handle: usize) -> usize {
        let _ = handle;
        0
    }
    /// Whether [`Scheme::peek_received`] may give bytes: a server whose
    /// scheme never does pays nothing for asking.
    const HANDS_OVER_RECEIVED: bool = false;
    /// Bytes that arrived on a stream's handle ([`Opened::Stream`]), to hand
    /// to the kernel ahead of its reads: all of them copied into `buf`
    /// (their count), without taking them; 0 if there are none or more
    /// than fit (a read takes them then). Asked when the handle is reported
    /// readable (`drain_events`); if the kernel takes them,
    /// [`Scheme::take_received`] follows and the readiness report is the
    /// kernel's.
    fn peek_received(&mut self, handle: usize, buf: &mut [u8]) -> usize {
        let _ = (handle, buf);
        0
    }
    /// The kernel took the `n` bytes [`Scheme::peek_received`] gave: they
    /// are read. Report the handle readable again when more arrive.
    fn take_received(&mut self, handle: usize, n: usize) {
        let _ = (handle, n);
    }
    /// Which of `interest` are ready now (later changes: [`Scheme::drain_events`]).
    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        let _ = (handle, interest);
        Err(Error::new(EOPNOTSUPP))
    }
    fn fsync(&mut self, handle: usize) -> Result<()> {
        let _ = handle;
        Err(Error::new(EINVAL))
    }
    fn ftruncate(&mut self, handle: usize, len: usize) -> Result<()> {
        let _ = (handle, len);
        Err(Error::new(EINVAL))
    }
    fn frename(&mut self, handle: usize, path: &str, caller: &Caller) -> Result<()> {
        let _ = (handle, path, caller);
        Err(Error::new(EOPNOTSUPP))
    }
    fn unlink(&mut self, path: &str, caller: &Caller) -> Result<()> {
        let _ = (path, caller);
        Err(Error::new(ENOENT))
    }
    fn rmdir(&mut self, path: &str, caller: &Caller) -> Result<()> {
        let _ = (path, caller);
        Err(Error::new(ENOENT))
    }
    /// `fmap` of `len` bytes (whole pages) at `offset`: answer the address
    /// of page-aligned memory of this daemon's that holds them; the caller
    /// maps the same pages (shared memory when `flags` say `MAP_SHARED`).
    fn fmap(&mut self, handle: usize, offset: usize, len: usize, flags: sc::MapFlags) -> Result<usize> {
        let _ = (handle, offset, len, flags);
        Err(Error::new(sc::ENODEV))
    }
    /// A caller sent an fd over `handle`; it is now our fd `fd`. The
    /// default refuses and closes it.
    fn sendfd(&mut self, handle: usize, fd: usize, flags: usize, arg: usize, caller: &Caller) -> Result<usize> {
        let _ = (handle, flags, arg, caller);
        let _ = rt::sys::close(fd);
        Err(Error::new(EOPNOTSUPP))
    }
    /// Handles that became ready since the last call, with what for.
    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        let _ = events;
    }
}

/// A registered scheme and its daemon loop.
pub struct Server<S: Scheme> {
    socket: Socket,
    scheme: S,
    /// The buffer inline reads are served into (grown to the largest),
    /// after `RESPONSE_SIZE` bytes of room for the answer's head, so the
    /// answer goes out from here ([`Server::framed`]).
    scratch: Vec<u8>,
    parked: VecDeque<Incoming>,
    events: Vec<(usize, EventFlags)>,
    /// The room of the last chain's answer, kept for the next one.
    chain_room: Vec<u8>,
    /// Where a stream's bytes are copied to be handed to the kernel
    /// ([`Scheme::peek_received`]); made on first use.
    received: Vec<u8>,
    /// Read timeouts, if offered (boxed: a server without them carries
    /// one word).
    timeouts: Option<alloc::boxed::Box<ReadTimeouts>>,
}

/// Register `name`, tell init the daemon is ready, and serve forever.
/// Returns only if the socket fails.
pub fn serve<S: Scheme>(name: &str, scheme: S) -> Result<()> {
    let mut server = Server::new(name, scheme)?;
    server.ready();
    server.run()
}

impl<S: Scheme> Server<S> {
    /// The answer to an open or a dup that gave `opened` (a stream's with
    /// its room now, so that its first writes may be posted).
    fn answer_opened(&mut self, id: u64, opened: Opened) -> Response {
        match opened {
            Opened::Handle(handle) => value(id, handle),
            Opened::Fd(fd) => Response::fd(id, fd),
            Opened::ReadAhead(handle) => Response::read_ahead(id, handle as u64),
            Opened::Buffered(handle) => Response::buffered(id, handle as u64),
            Opened::Stream(handle) => Response::stream(id, handle as u64, self.scheme.write_room(handle)),
            Opened::Device(handle) => Response::device(id, handle as u64, self.scheme.write_room(handle)),
        }
    }

    /// Register `name:` for `scheme` (root only; `EEXIST` if taken).
    /// The server takes chains (`Op::Chain`): the kernel may send an open
    /// and the calls after it as one request ([`Server::chain`]).
    pub fn new(name: &str, scheme: S) -> Result<Server<S>> {
        let socket = Socket::register(name)?;
        socket.takes(TAKES_CHAINS)?;
        Ok(Server {
            socket,
            scheme,
            scratch: Vec::new(),
            parked: VecDeque::new(),
            events: Vec::new(),
            chain_room: Vec::new(),
            received: Vec::new(),
            timeouts: None,
        })
    }

    /// Offer read timeouts on this scheme's fds: `dup(fd, "read_timeout")`
    /// (the server answers it and the setting's calls; the scheme sees
    /// none of them), and reads parked longer than their fd's limit are
    /// answered with `ETIMEDOUT` (`read_timeout.rs`).
    pub fn offer_read_timeouts(&mut self) {
        self.timeouts.get_or_insert_default();
    }

    /// Enter the null namespace: from now on this process can open
    /// nothing new (its open fds, the socket included, keep working).
    pub fn confine(&mut self) -> Result<()> {
        rt::sys::ns_restrict(&[])
    }

    /// Tell init (through `INIT_NOTIFY`) that the scheme is being served.
    pub fn ready(&mut self) {
        rt::scheme::signal_ready();
    }

    pub fn scheme(&mut self) -> &mut S {
        &mut self.scheme
    }

    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// How many requests wait for something to change.
    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    /// The earliest time a parked request's wait limit runs out: the
    /// daemon calls [`Server::retry_parked`] then, which answers it with
    /// `ETIMEDOUT` if it still waits.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.timeouts.as_ref()?.next_deadline()
    }

    /// For a daemon that waits on more than this socket (several schemes,
    /// a device): make the socket non-blocking and watch it on `queue`
    /// with `data`; when the queue reports `data`, call
    /// [`Server::handle_pending`].
    pub fn watch_on(&self, queue: &EventQueue, data: usize) -> Result<()> {
        self.socket.file().set_nonblocking(true)?;
        queue.watch(self.socket.file().fd(), EventFlags::EVENT_READ, data)
    }

    /// Handle every request waiting on the socket (made non-blocking by
    /// [`Server::watch_on`]), then return.
    pub fn handle_pending(&mut self) -> Result<()> {
        match self.serve() {
            Err(err) if err.errno == EAGAIN => Ok(()),
            other => other,
        }
    }

    /// Serve requests until the socket fails.
    pub fn run(&mut self) -> Result<()> {
        self.serve()
    }

    /// Serve requests until reading the socket fails (with `EAGAIN` once a
    /// non-blocking socket has none left). Each answer goes out with the
    /// read of the next request, in one system call
    /// ([`Socket::answer_and_next`]; its `EAGAIN` means the answer went out
    /// and nothing waits: an answer is never refused with `EAGAIN`).
    fn serve(&mut self) -> Result<()> {
        let mut incoming = self.socket.next_request()?;
        loop {
            incoming = match self.handle(incoming)? {
                Some(Reply { data: ReplyData::Message(message), .. }) => {
                    let next = self.socket.write_raw_and_next(&message);
                    self.chain_room = message;
                    next?
                }
                Some(reply) => match self.framed(&reply) {
                    Some(len) => self.socket.write_raw_and_next(&self.scratch[..len])?,
                    None => {
                        let data = reply.data.bytes(&self.scratch);
                        self.socket.reply_and_next(reply.response, data)?
                    }
                },
                None => self.socket.next_request()?,
            };
        }
    }

    /// Read one request (waiting for it unless the socket is non-blocking),
    /// handle it, then retry the parked ones.
    pub fn handle_next(&mut self) -> Result<()> {
        let incoming = self.socket.next_request()?;
        match self.handle(incoming)? {
            Some(reply) => self.send(reply),
            None => Ok(()),
        }
    }

    /// Handle `incoming` and retry the parked requests; an answer is
    /// returned to be sent (with the read of the next request, by
    /// `serve`): `incoming`'s if it has one now, else the last retried
    /// request's (a `chan:` read the request just made possible), which
    /// spares a system call per such request.
    fn handle(&mut self, incoming: Incoming) -> Result<Option<Reply>> {
        if incoming.request.op == Op::Cancel {
            let id = incoming.request.arg;
            self.parked.retain(|parked| parked.request.id != id);
            if self.timeouts.is_some() {
                self.forget_deadlines();
            }
            return Ok(None);
        }
        // A read timeout's own call (never parked, so not in `prepare`,
        // which retries run).
        if self.timeouts.is_some() && self.is_read_timeout_call(&incoming) {
            return Ok(self.read_timeout_call(incoming));
        }
        let mut reply = self.prepare(incoming);
        if self.parked.is_empty() {
            self.flush_events()?;
            return Ok(reply);
        }
        if let Some(reply) = reply.as_mut() {
            // The retries below read into the same scratch buffer.
            reply.data.own(&self.scratch);
        }
        let retried = self.retry_parked_but_last()?;
        match (reply, retried) {
            (Some(reply), Some(retried)) => {
                self.send(retried)?;
                Ok(Some(reply))
            }
            (reply, retried) => Ok(reply.or(retried)),
        }
    }

    fn send(&mut self, reply: Reply) -> Result<()> {
        if let ReplyData::Message(message) = reply.data {
            let sent = self.socket.write_raw(&message).map(drop);
            self.chain_room = message;
            return sent;
        }
        if let Some(len) = self.framed(&reply) {
            return self.socket.write_raw(&self.scratch[..len]).map(drop);
        }
        let data = reply.data.bytes(&self.scratch);
        self.socket.reply(reply.response, data)
    }

    /// An inline read's answer made in place: its data is already in the
    /// scratch buffer after room for the head, so the head goes in front
    /// and the whole message is sent as it lies (the message's length),
    /// where it was copied into a new message first (an allocation and a
    /// copy of 4 KiB for a 4 KiB read). `None` for any other reply, and
    /// for a failure, whose answer carries no data, and for an answer
    /// without data (a lent read's: the head alone goes out as it is).
    fn framed(&mut self, reply: &Reply) -> Option<usize> {
        let ReplyData::Scratch(len @ 1..) = reply.data else { return None };
        if !reply.response.kind.carries_data() || self.scratch.len() < RESPONSE_SIZE + len {
            return None;
        }
        let head = Response { len: len as u64, ..reply.response }.encode();
        self.scratch[..RESPONSE_SIZE].copy_from_slice(&head);
        Some(RESPONSE_SIZE + len)
    }

    /// Try every parked request again (after something changed).
    pub fn retry_parked(&mut self) -> Result<()> {
        match self.retry_parked_but_last()? {
            Some(reply) => self.send(reply),
            None => Ok(()),
        }
    }

    /// [`Self::retry_parked`], keeping the last answer back for the caller
    /// to send (its data may be in the scratch buffer).
    fn retry_parked_but_last(&mut self) -> Result<Option<Reply>> {
        let mut held: Option<Reply> = None;
        for _ in 0..self.parked.len() {
            let Some(incoming) = self.parked.pop_front() else { break };
            // The next one may use the scratch buffer.
            if let Some(reply) = held.as_mut() {
                reply.data.own(&self.scratch);
            }
            if let Some(reply) = self.prepare(incoming)
                && let Some(previous) = held.replace(reply)
            {
                self.send(previous)?;
            }
        }
        if self.timeouts.is_some() {
            self.forget_deadlines();
        }
        self.flush_events()?;
        Ok(held)
    }

    fn flush_events(&mut self) -> Result<()> {
        self.scheme.drain_events(&mut self.events);
        for (handle, mut flags) in self.events.drain(..) {
            // A stream's bytes go to the kernel ahead of its reads if they
            // fit one message; the kernel then reports it readable.
            if S::HANDS_OVER_RECEIVED && flags.contains(EventFlags::EVENT_READ) {
                if self.received.is_empty() {
                    self.received.resize(INLINE_MAX, 0);
                }
                let n = self.scheme.peek_received(handle, &mut self.received);
                if n > 0 && self.socket.push(handle, &self.received[..n.min(INLINE_MAX)]).is_ok() {
                    self.scheme.take_received(handle, n);
                    flags.remove(EventFlags::EVENT_READ);
                }
                if flags.is_empty() {
                    continue;
                }
            }
            // A stream's room goes with its readiness for writing (what
            // the kernel may post on it from then on).
            let room = if flags.contains(EventFlags::EVENT_WRITE) { self.scheme.write_room(handle) } else { 0 };
            self.socket.notify(handle, flags, room)?;
        }
        Ok(())
    }

    /// Carry out one request: its answer, or `None` if it needs none
    /// (a close) or was parked: because it would wait, or, for a
    /// write-and-read whose write is done, to have its read tried after
    /// the requests already waiting.
    fn prepare(&mut self, mut incoming: Incoming) -> Option<Reply> {
        // A write-and-read: the write first; once it is done, the same
        // request is a read (and parked as one if it waits, so that a
        // retry does not write again). A failed write is its answer.
        let write_failed = if incoming.request.op == Op::WriteRead {
            let (handle, flags) = (incoming.request.handle as usize, incoming.request.flags as usize);
            let input = incoming.input();
            match self.scheme.write(handle, input, flags) {
                Ok(n) if n == input.len() => {
                    incoming.written();
                    if !self.parked.is_empty() {
                        // Requests waiting already go first (the write may
                        // be what they wait for: a peer's read); this read
                        // is tried right after them, in the same pass.
                        self.parked.push_back(incoming);
                        return None;
                    }
                    None
                }
                Ok(_) => Some(Error::new(EIO)),
                Err(err) => Some(err),
            }
        } else {
            None
        };
        let request = incoming.request;
        let caller = Caller { pid: request.pid as usize, uid: request.uid, gid: request.gid };
        let id = request.id;
        let handle = request.handle as usize;
        let flags = request.flags as usize;
        let mut data: Vec<u8> = Vec::new();
        // A chain's whole answer, head and all.
        let mut chained = None;
        // An inline read's length: its data is `scratch_data(&self.scratch, read)`.
        let mut read = 0;
        let text = |bytes: &[u8]| core::str::from_utf8(bytes).map(String::from).map_err(|_| Error::new(EINVAL));
        let result: Result<Response> = match (write_failed, request.op) {
            (Some(err), _) => Err(err),
            (None, Op::Open) => text(incoming.input())
                .and_then(|path| self.scheme.open(&path, flags, &caller))
                .map(|opened| self.answer_opened(id, opened)),
            (None, Op::Dup) => {
                let name = incoming.input().to_vec();
                self.scheme.dup(handle, &name, &caller).map(|opened| self.answer_opened(id, opened))
            }
            (None, Op::Read) => match incoming.lent_output() {
                Some(buf) => self.scheme.read(handle, buf, flags).map(|n| Response::value(id, n as u64)),
                None => {
                    // Into the server's own buffer (zeroed: nothing of an
                    // earlier answer can leak), not a new one per read.
                    let len = (request.len as usize).min(INLINE_MAX);
                    if self.scratch.len() < RESPONSE_SIZE + len {
                        self.scratch.resize(RESPONSE_SIZE + len, 0);
                    }
                    let buf = &mut self.scratch[RESPONSE_SIZE..RESPONSE_SIZE + len];
                    buf.fill(0);
                    self.scheme.read(handle, buf, flags).map(|n| {
                        read = n.min(len);
                        Response::data(id, read)
                    })
                }
            },
            (None, Op::Write) => {
                let input = incoming.input();
                match self.scheme.write(handle, input, flags) {
                    Ok(n) => Ok(Response::value(id, n as u64).with_room(self.scheme.write_room(handle))),
                    // Parked: its answer comes (with the room) when retried.
                    Err(err) if err.errno == EAGAIN && !incoming.nonblocking() => Err(err),
                    Err(err) => Ok(Response::error(id, err.errno).with_room(self.scheme.write_room(handle))),
                }
            }
            (None, Op::Seek) => self.scheme.seek(handle, request.arg as i64 as isize, flags).map(|at| value(id, at)),
            (None, Op::Fstat) => {
                let mut stat = Stat::default();
                self.scheme.fstat(handle, &mut stat).map(|()| {
                    data = stat.to_vec();
                    Response::data(id, data.len())
                })
            }
            (None, Op::Fstatvfs) => {
                let mut statvfs = StatVfs::default();
                self.scheme.fstatvfs(handle, &mut statvfs).map(|()| {
                    data = statvfs.to_vec();
                    Response::data(id, data.len())
                })
            }
            (None, Op::Fpath) => self.scheme.fpath(handle).map(|path| {
                data = path.into_bytes();
                data.truncate(INLINE_MAX.min(request.len as usize));
                Response::data(id, data.len())
            }),
            (None, Op::Fevent) => {
                self.scheme.fevent(handle, EventFlags::from_bits_truncate(flags)).map(|ready| value(id, ready.bits()))
            }
            (None, Op::Fsync) => self.scheme.fsync(handle).map(|()| value(id, 0)),
            (None, Op::Ftruncate) => self.scheme.ftruncate(handle, request.arg as usize).map(|()| value(id, 0)),
            (None, Op::Frename) => {
                text(incoming.input()).and_then(|p| self.scheme.frename(handle, &p, &caller)).map(|()| value(id, 0))
            }
            (None, Op::Unlink) => {
                text(incoming.input()).and_then(|p| self.scheme.unlink(&p, &caller)).map(|()| value(id, 0))
            }
            (None, Op::Rmdir) => {
                text(incoming.input()).and_then(|p| self.scheme.rmdir(&p, &caller)).map(|()| value(id, 0))
            }
            (None, Op::SendFd) => self
                .scheme
                .sendfd(handle, request.arg as usize, flags, request.len as usize, &caller)
                .map(|v| value(id, v)),
            (None, Op::Close) => {
                self.scheme.close(handle);
                return None;
            }
            (None, Op::Fmap) => self
                .scheme
                .fmap(handle, request.arg as usize, request.len as usize, sc::MapFlags::from_bits_truncate(flags))
                .map(|addr| value(id, addr)),
            (None, Op::Cancel) => return None,
            (None, Op::Chain) => self.chain(&request, incoming.input()).map(|(response, message)| {
                chained = Some(message);
                response
            }),
            // Made a read above, once its write was done.
            (None, Op::WriteRead) => Err(Error::new(EINVAL)),
        };
        let response = match result {
            Ok(response) => response,
            // Parked (`None` out of here) unless its wait limit ran out.
            Err(err) if err.errno == EAGAIN && !incoming.nonblocking() => {
                if self.timeouts.is_some()
                    && let Some(late) = self.past_its_deadline(&incoming)
                {
                    late
                } else {
                    self.parked.push_back(incoming);
                    return None;
                }
            }
            Err(err) => Response::error(id, err.errno),
        };
        let data = match chained {
            Some(message) if response.kind == Kind::Value => ReplyData::Message(message),
            _ if request.op == Op::Read => ReplyData::Scratch(read),
            _ => ReplyData::Owned(data),
        };
        drop(incoming);
        Some(Reply { response, data })
    }

    /// With read timeouts offered: the answer (`ETIMEDOUT`) of a read
    /// about to be parked whose fd's limit has run out since it was first
    /// parked; a read parked for the first time starts its clock here.
    fn past_its_deadline(&mut self, incoming: &Incoming) -> Option<Response> {
        let timeouts = self.timeouts.as_mut()?;
        let request = &incoming.request;
        // A read, or a write-and-read whose write is done (a parked chain's
        // open has no handle yet).
        if request.op != Op::Read {
            return None;
        }
        timeouts.past_deadline(request.id, request.handle as usize).then(|| Response::error(request.id, ETIMEDOUT))
    }

    /// With read timeouts offered: forget the deadlines of requests no
    /// longer parked (answered or cancelled).
    fn forget_deadlines(&mut self) {
        if let Some(timeouts) = self.timeouts.as_mut() {
            timeouts.keep_deadlines(|id| self.parked.iter().any(|p| p.request.id == id));
        }
    }

    /// Whether the read timeouts answer `incoming` ([`Self::read_timeout_call`]):
    /// a `dup(fd, "read_timeout")` or a call on a setting. A close of the
    /// scheme's own handle is noted here and goes on to the scheme.
    fn is_read_timeout_call(&mut self, incoming: &Incoming) -> bool {
        let Some(timeouts) = self.timeouts.as_mut() else { return false };
        let request = &incoming.request;
        let handle = request.handle as usize;
        if matches!(request.op, Op::Open | Op::Unlink | Op::Rmdir | Op::Chain | Op::Cancel) {
            return false;
        }
        if ReadTimeouts::is_setting(handle) {
            return true;
        }
        match request.op {
            Op::Dup => incoming.input() == read_timeout::NAME,
            Op::Close => {
                timeouts.closed(handle);
                false
            }
            _ => false,
        }
    }

    /// The answer to a call [`Self::is_read_timeout_call`] took (`None`
    /// for a close).
    #[cold]
    fn read_timeout_call(&mut self, mut incoming: Incoming) -> Option<Reply> {
        let timeouts = self.timeouts.as_mut()?;
        let request = incoming.request;
        let (id, handle) = (request.id, request.handle as usize);
        let mut data = Vec::new();
        let result = match request.op {
            Op::Dup if !ReadTimeouts::is_setting(handle) => timeouts.dup(handle).map(|setting| value(id, setting)),
            Op::Read => match incoming.lent_output() {
                Some(buf) => timeouts.read(handle, buf).map(|n| Response::value(id, n as u64)),
                None => {
                    data.resize((request.len as usize).min(INLINE_MAX), 0);
                    timeouts.read(handle, &mut data).map(|n| {
                        data.truncate(n);
                        Response::data(id, n)
                    })
                }
            },
            Op::Write => timeouts.write(handle, incoming.input()).map(|n| Response::value(id, n as u64)),
            Op::Close => {
                timeouts.closed(handle);
                return None;
            }
            _ => Err(Error::new(EINVAL)),
        };
        let response = result.unwrap_or_else(|err| Response::error(id, err.errno));
        Some(Reply { response, data: ReplyData::Owned(data) })
    }
}

impl<S: Scheme> Server<S> {
    /// Run the links of an `Op::Chain` (`chain` is its request, `payload`
    /// its links) as the requests they are, in order: the open, then the
    /// calls on its handle. Returns how many links were answered and their
    /// answers, each a response head and its data. A failed open is the
    /// chain's own failure (so an open that would wait parks the whole
    /// chain, as it would park the open). Later links stop after one that
    /// failed, and before one that would have to wait (each is tried
    /// without waiting; the kernel sends that one again as a request of its
    /// own, which may be parked). A link that is not a call on the open's
    /// handle ends the chain unanswered.
    /// The answer goes out as one message, its head included, built in
    /// the room the last one used.
    fn chain(&mut self, chain: &Request, payload: &[u8]) -> Result<(Response, Vec<u8>)> {
        let mut links = rt::scheme::links(payload);
        let caller = Caller { pid: chain.pid as usize, uid: chain.uid, gid: chain.gid };
        let (open, path) = match links.next() {
            Some(Ok((open, path))) if open.op == Op::Open => (open, path),
            _ => return Err(Error::new(EINVAL)),
        };
        let path = core::str::from_utf8(path).map_err(|_| Error::new(EINVAL))?;
        let opened = self.scheme.open(path, open.flags as usize, &caller)?;
        let opened = self.answer_opened(0, opened);
        let mut answers = core::mem::take(&mut self.chain_room);
        answers.clear();
        // Room for the head, written last.
        answers.resize(RESPONSE_SIZE, 0);
        answers.extend_from_slice(&opened.encode());
        let mut answered = 1;
        let mut handle = (opened.kind == Kind::Value).then_some(opened.value);
        for link in links {
            let (Ok((link, input)), Some(opened)) = (link, handle) else { break };
            if !matches!(link.op, Op::Read | Op::Write | Op::Seek | Op::Fstat | Op::Close) {
                break;
            }
            let mut request = link.request(0, chain, opened);
            // A read or write is tried without waiting (a seek's flags
            // are its whence).
            let may_wait = matches!(request.op, Op::Read | Op::Write) && request.flags as usize & sc::O_NONBLOCK == 0;
            if may_wait {
                request.flags |= sc::O_NONBLOCK as u32;
            }
            let (response, data) = if request.op == Op::Close {
                self.scheme.close(opened as usize);
                handle = None;
                (value(0, 0), ReplyData::Owned(Vec::new()))
            } else {
                match self.prepare(Incoming::inline(request, input)) {
                    Some(reply) => (reply.response, reply.data),
                    None => break,
                }
            };
            if response.kind == Kind::Error && response.value == EAGAIN as u64 && may_wait {
                break;
            }
            let bytes = if response.kind == Kind::Value { data.bytes(&self.scratch) } else { &[] };
            answers.extend_from_slice(&Response { len: bytes.len() as u64, ..response }.encode());
            answers.extend_from_slice(bytes);
            answered += 1;
            if response.kind != Kind::Value {
                break;
            }
        }
        let response = Response { len: (answers.len() - RESPONSE_SIZE) as u64, ..Response::value(chain.id, answered) };
        answers[..RESPONSE_SIZE].copy_from_slice(&response.encode());
        Ok((response, answers))
    }
}

/// An answer ready to go.
/// (Its request is done with once the answer is made: a reply does not
/// carry it along, which cost four copies of it per request.)
struct Reply {
    response: Response,
    data: ReplyData,
}

/// An answer's data: the first bytes of the server's scratch buffer (an
/// inline read), or its own (kept in place when small).
enum ReplyData {
    Scratch(usize),
    Small([u8; SMALL_REPLY], usize),
    Owned(Vec<u8>),
    /// A whole message, head and data (a chain's answer).
    Message(Vec<u8>),
}

/// The most answer data a reply keeps without an allocation once it
/// leaves the scratch buffer (a `chan:` message of a byte or a line).
const SMALL_REPLY: usize = 16;

/// The first `len` bytes of data in the scratch buffer, past the room for
/// a head (none before the first inline read grew it: a lent read's
/// answer is `Scratch(0)`).
fn scratch_data(scratch: &[u8], len: usize) -> &[u8] {
    scratch.get(RESPONSE_SIZE..RESPONSE_SIZE + len).unwrap_or_default()
}

impl ReplyData {
    fn bytes<'a>(&'a self, scratch: &'a [u8]) -> &'a [u8] {
        match self {
            ReplyData::Scratch(len) => scratch_data(scratch, *len),
            ReplyData::Small(bytes, len) => &bytes[..*len],
            ReplyData::Owned(bytes) => bytes,
            ReplyData::Message(message) => &message[RESPONSE_SIZE..],
        }
    }

    /// Copy scratch data out, before the scratch buffer is used again.
    fn own(&mut self, scratch: &[u8]) {
        if let ReplyData::Scratch(len) = *self {
            let data = scratch_data(scratch, len);
            *self = if len <= SMALL_REPLY {
                let mut bytes = [0; SMALL_REPLY];
                bytes[..len].copy_from_slice(data);
                ReplyData::Small(bytes, len)
            } else {
                ReplyData::Owned(data.to_vec())
            };
        }
    }
}

fn value(id: u64, value: usize) -> Response {
    Response::value(id, value as u64)
}

/// A scheme with a single file, `NAME:` itself, that behaves as a
/// character device (`zero:`, `null:`, `rand:`): implement its reads and
/// writes, wrap it in [`DeviceScheme`], and the open, `fstat`, `fpath` and
/// readiness are done.
pub trait Device {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;
    fn write(&mut self, buf: &[u8]) -> Result<usize>;
}

/// The [`Scheme`] of a [`Device`]: opens only the empty path, always
/// ready, `MODE_CHR | 0o666`.
pub struct DeviceScheme<D: Device>(pub D);

impl<D: Device> Scheme for DeviceScheme<D> {
    fn open(&mut self, path: &str, _flags: usize, _caller: &Caller) -> Result<Opened> {
        if !path.is_empty() {
            return Err(Error::new(ENOENT));
        }
        Ok(Opened::Handle(0))
    }

    fn read(&mut self, _handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        self.0.read(buf)
    }

    fn write(&mut self, _handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        self.0.write(buf)
    }

    fn fstat(&mut self, _handle: usize, stat: &mut Stat) -> Result<()> {
        stat.st_mode = sc::MODE_CHR | 0o666;
        Ok(())
    }

    fn fpath(&mut self, _handle: usize) -> Result<String> {
        Ok(String::new())
    }

    fn fevent(&mut self, _handle: usize, interest: EventFlags) -> Result<EventFlags> {
        Ok(interest)
    }
}
