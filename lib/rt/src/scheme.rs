//! The daemon's end of a userspace scheme: the socket a daemon gets by
//! registering `:NAME`, and the requests read from it (`scheme_proto`
//! describes the messages). The `scheme` framework crate builds the usual
//! daemon loop on this; use this module directly only for unusual daemons
//! (and tests that misbehave on purpose).
//!
//! A request's data is either inline (copied into the request) or *lent*:
//! the caller's buffer mapped into this process until the request is
//! answered (or cancelled). [`Incoming`] owns that mapping: the only way to
//! answer is [`Socket::answer`], which consumes it, so no reference to lent
//! memory outlives the mapping.

use alloc::vec::Vec;

use abi::syscall::{self as sc, EventFlags};
pub use scheme_proto::{
    INLINE_MAX, Kind, LINK_SIZE, Link, Op, Payload, READ_BUFFER, REQUEST_SIZE, RESPONSE_SIZE, Request, Response,
    TAKES_CHAINS, answers, links,
};
use smallvec::SmallVec;

use crate::fs::File;
use crate::{Error, Result, sys};

/// The largest answer built on the stack.
const SMALL_ANSWER: usize = scheme_proto::RESPONSE_SIZE + 96;

/// An answer with a few bytes of data (a `chan:` message, a short read).
const TINY_ANSWER: usize = scheme_proto::RESPONSE_SIZE + 16;

/// A registered scheme's socket.
#[derive(Debug)]
pub struct Socket {
    file: File,
    buf: Vec<u8>,
}

/// A caller buffer mapped into this process for one request.
#[derive(Debug)]
struct Lent {
    addr: usize,
    len: usize,
}

#[derive(Debug)]
enum Data {
    None,
    /// Kept in the request itself up to 16 bytes (a small write, a short
    /// name): no heap for most requests.
    Inline(SmallVec<[u8; 16]>),
    Lent(Lent),
}

/// One request, with its data.
#[derive(Debug)]
pub struct Incoming {
    pub request: Request,
    data: Data,
}

impl Incoming {
    /// A request whose input is `input` (a link of an `Op::Chain`).
    pub fn inline(request: Request, input: &[u8]) -> Incoming {
        let data = if input.is_empty() { Data::None } else { Data::Inline(SmallVec::from_slice(input)) };
        Incoming { request, data }
    }

    /// The input bytes: the path of an open, the data of a write, the name
    /// of a dup (empty if the request carries none).
    pub fn input(&self) -> &[u8] {
        match &self.data {
            Data::None => &[],
            Data::Inline(bytes) => bytes,
            Data::Lent(lent) if self.request.op != Op::Read => lent.bytes(),
            Data::Lent(_) => &[],
        }
    }

    /// For a read whose buffer was lent: that buffer, to fill in place.
    /// `None` for inline reads (answer with the data instead).
    pub fn lent_output(&mut self) -> Option<&mut [u8]> {
        match &mut self.data {
            Data::Lent(lent) if self.request.op == Op::Read => Some(lent.bytes_mut()),
            _ => None,
        }
    }

    /// A `WriteRead` whose write part was done: from now on it is the read
    /// of up to `arg` bytes it asked for (so that a read that has to wait,
    /// and is tried again later, does not write again).
    pub fn written(&mut self) {
        if self.request.op == Op::WriteRead {
            self.request.op = Op::Read;
            self.request.len = self.request.arg;
            self.request.payload = Payload::Inline;
            self.data = Data::None;
        }
    }

    /// Whether the caller asked not to be made to wait (`O_NONBLOCK`).
    pub fn nonblocking(&self) -> bool {
        self.request.flags as usize & sc::O_NONBLOCK != 0
    }
}

impl Lent {
    fn bytes(&self) -> &[u8] {
        // SAFETY: the kernel mapped exactly `[addr, addr + len)` into this
        // process for this request (readable, and writable for reads) and
        // keeps it mapped until the request is answered or cancelled. The
        // `Incoming` that owns this `Lent` is consumed by the answer, and a
        // cancelled request is dropped unused; nothing else refers to the
        // range, which the kernel placed away from every other mapping.
        unsafe { core::slice::from_raw_parts(core::ptr::with_exposed_provenance(self.addr), self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; the range is writable for a read request,
        // and `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(core::ptr::with_exposed_provenance_mut(self.addr), self.len) }
    }
}

impl Socket {
    /// Register `NAME:` (root only): calls on it arrive on this socket
    /// until it is closed.
    pub fn register(name: &str) -> Result<Socket> {
        let mut url = alloc::string::String::from(":");
        url.push_str(name);
        let file = File::open_with(&url, sc::O_CREAT | sc::O_RDWR | sc::O_CLOEXEC)?;
        Ok(Socket { file, buf: alloc::vec![0u8; READ_BUFFER] })
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// The next request (waits for one unless the socket is non-blocking).
    pub fn next_request(&mut self) -> Result<Incoming> {
        let n = sys::read(self.file.fd(), &mut self.buf)?;
        self.incoming(n)
    }

    /// The request in the first `n` bytes of the buffer.
    fn incoming(&self, n: usize) -> Result<Incoming> {
        let (request, inline) = Request::decode(&self.buf[..n]).map_err(|_| Error::new(sc::EIO))?;
        let data = match request.payload {
            Payload::None => Data::None,
            Payload::Inline => Data::Inline(SmallVec::from_slice(inline)),
            Payload::Lent => Data::Lent(Lent { addr: request.addr as usize, len: request.len as usize }),
        };
        Ok(Incoming { request, data })
    }

    /// Answer `incoming` with `response` and, for inline reads, `fstat` and
    /// `fpath`, `data` (at most `INLINE_MAX` bytes; only a success carries
    /// data, so it is left out of any other answer).
    pub fn answer(&self, incoming: Incoming, response: Response, data: &[u8]) -> Result<()> {
        drop(incoming);
        self.reply(response, data)
    }

    /// [`Self::answer`] for a server that keeps track of its requests
    /// itself (`lib/scheme`'s `Server`): the response names the request.
    pub fn reply(&self, response: Response, data: &[u8]) -> Result<()> {
        with_answer(response, data, |message| sys::write(self.file.fd(), message).map(drop))
    }

    /// [`Self::answer`], then wait for the next request, in one system
    /// call (`SYS_WRITE_READ`): what a daemon with nothing else to do does
    /// after each request. A socket made non-blocking gets `EAGAIN` when
    /// nothing waits (the answer went out all the same).
    pub fn answer_and_next(&mut self, incoming: Incoming, response: Response, data: &[u8]) -> Result<Incoming> {
        drop(incoming);
        self.reply_and_next(response, data)
    }

    /// [`Self::answer_and_next`] with the request kept track of by the
    /// caller, as [`Self::reply`].
    pub fn reply_and_next(&mut self, response: Response, data: &[u8]) -> Result<Incoming> {
        let fd = self.file.fd();
        let buf = &mut self.buf;
        let n = with_answer(response, data, |message| sys::write_read(fd, message, buf))?;
        self.incoming(n)
    }

    /// Tell the kernel `handle` became ready for `events` (for callers
    /// watching it through `event:`); `room` is a stream's room when
    /// `events` has writing (`Response::event_with_room`), else 0.
    pub fn notify(&self, handle: usize, events: EventFlags, room: usize) -> Result<()> {
        let message = Response::event_with_room(handle as u64, events.bits() as u32, room).encode();
        sys::write(self.file.fd(), &message).map(drop)
    }

    /// Hand the kernel `bytes` that arrived on stream `handle`, ahead of
    /// its reads (`Kind::Data`, docs/architecture.md §3.14): `Ok` if it
    /// took them all (they are read: drop them), an error (`EAGAIN`: a read
    /// of the handle is on its way here, or the kernel holds enough) if it
    /// took none.
    pub fn push(&self, handle: usize, bytes: &[u8]) -> Result<()> {
        let fd = self.file.fd();
        with_answer(Response::received(handle as u64, bytes.len()), bytes, |message| sys::write(fd, message)).map(drop)
    }

    /// Tell the kernel which kinds of request this daemon takes besides
    /// the plain ones (`flags`: [`TAKES_CHAINS`]).
    pub fn takes(&self, flags: u32) -> Result<()> {
        let message = Response { id: 0, kind: Kind::Takes, flags, value: 0, len: 0 }.encode();
        sys::write(self.file.fd(), &message).map(drop)
    }

    /// Write a whole encoded answer, then wait for the next request, in
    /// one system call (as [`Self::reply_and_next`]).
    pub fn write_raw_and_next(&mut self, message: &[u8]) -> Result<Incoming> {
        let n = sys::write_read(self.file.fd(), message, &mut self.buf)?;
        self.incoming(n)
    }

    /// Write raw bytes to the socket (an encoded answer; for tests of the
    /// kernel's checks, anything).
    pub fn write_raw(&self, bytes: &[u8]) -> Result<usize> {
        sys::write(self.file.fd(), bytes)
    }
}

/// Run `send` on the encoded answer: the response's fixed part and its
/// data (left out unless it is a success), on the stack when small.
fn with_answer<R>(response: Response, data: &[u8], send: impl FnOnce(&[u8]) -> Result<R>) -> Result<R> {
    let data = if response.kind.carries_data() { data } else { &[] };
    let head = Response { len: data.len() as u64, ..response }.encode();
    let len = head.len() + data.len();
    // Most answers are small: no heap, and no more stack cleared than
    // they need (clearing 128 bytes was a tenth of a daemon's work on a
    // 1-byte read).
    if data.is_empty() {
        send(&head)
    } else if len <= TINY_ANSWER {
        on_stack::<TINY_ANSWER, R>(&head, data, send)
    } else if len <= SMALL_ANSWER {
        on_stack::<SMALL_ANSWER, R>(&head, data, send)
    } else {
        let mut message = Vec::with_capacity(len);
        message.extend_from_slice(&head);
        message.extend_from_slice(data);
        send(&message)
    }
}

/// [`with_answer`]'s message in an `N`-byte stack buffer (`head` and
/// `data` fit).
fn on_stack<const N: usize, R>(head: &[u8], data: &[u8], send: impl FnOnce(&[u8]) -> Result<R>) -> Result<R> {
    let len = head.len() + data.len();
    let mut message = [0u8; N];
    message[..head.len()].copy_from_slice(head);
    message[head.len()..len].copy_from_slice(data);
    send(&message[..len])
}

/// Tell whoever started this daemon (init, through `INIT_NOTIFY`) that it
/// is ready: one byte on that fd, which is then closed. Does nothing when
/// the variable is absent.
pub fn signal_ready() {
    if let Some(fd) = crate::env::var("INIT_NOTIFY").and_then(|v| v.parse::<usize>().ok()) {
        let _ = sys::write(fd, b"R");
        let _ = sys::close(fd);
    }
}
