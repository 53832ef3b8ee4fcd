//! The wire format between the kernel and a userspace scheme daemon.
//!
//! A daemon registers `:NAME` on the root scheme and gets a socket fd.
//! Every call a process makes on `NAME:` becomes a [`Request`] the daemon
//! `read`s from that socket; the daemon answers with a [`Response`] it
//! `write`s back. Both are fixed-size little-endian records, encoded and
//! checked here so that the kernel and the framework agree byte for byte
//! and neither trusts the other's bytes.
//!
//! Why not `redox_syscall`'s `Packet`: its four argument words cannot carry
//! a read's file-status flags (a non-blocking read must say so), an offset
//! *and* a length, and it returns fds by overloading an errno. A request
//! here has room for all of them and a response says what it carries.
//!
//! Data travels in one of two ways ([`Payload`]):
//! - **inline**: small inputs (paths, writes up to [`INLINE_MAX`]) follow
//!   the request header in the daemon's read buffer, and small outputs
//!   (reads up to [`INLINE_MAX`], `fstat`, `fpath`) follow the response
//!   header in the daemon's write;
//! - **lent**: a larger caller buffer is mapped into the daemon for the
//!   duration of the call (`addr`, `len` in the request). Only pages that
//!   lie wholly inside the buffer are the caller's own; the partial first
//!   and last pages are copies, so the daemon never sees a byte outside it.
//!
//! Pure logic: no allocation, no unsafe; host-tested.

#![no_std]
#![forbid(unsafe_code)]

/// Bytes of an encoded [`Request`].
pub const REQUEST_SIZE: usize = 64;
/// Bytes of an encoded [`Link`] of an [`Op::Chain`] (inline data may
/// follow).
pub const LINK_SIZE: usize = 24;
/// Bytes of an encoded [`Response`] header (inline data may follow).
pub const RESPONSE_SIZE: usize = 32;
/// The most data that travels inline, either way. Larger buffers are lent.
pub const INLINE_MAX: usize = 4096;
/// A daemon's read buffer must hold a request and the largest inline payload.
pub const READ_BUFFER: usize = REQUEST_SIZE + INLINE_MAX;

/// [`Response::flags`] of an open's answer: the daemon lets the kernel
/// read ahead on the handle. It promises that the handle's bytes change
/// only through calls on its scheme (a regular file, a disk) and that a
/// read of more than was asked is harmless: the kernel may ask a
/// sequential reader's small reads for more and keep the rest for its next
/// ones (it drops what it kept when a call that may change data finishes,
/// and seeks the handle back over bytes it did not hand out).
pub const OPEN_READ_AHEAD: u32 = 1;

/// [`Response::flags`] of an open's answer: the kernel may post the
/// handle's small writes (docs/architecture.md §3.13): queue the write for
/// the daemon and return to the caller at once, reporting a failure on the
/// handle's next write or `fsync`. The daemon promises that it answers the
/// handle's calls in the order they came, never parks a write (no
/// `EAGAIN`), and writes all of a write or fails it (a short count is
/// reported as `ENOSPC`): a regular file.
pub const OPEN_POSTED_WRITES: u32 = 2;

/// [`Response::flags`] of an open's or a dup's answer: a stream's handle
/// (a socket), whose small writes the kernel may post within the room the
/// daemon reports (docs/architecture.md §3.13). Every answer to a write on
/// the handle, success or error, carries in its `flags` the daemon's room:
/// how many bytes more it would take whole, without parking, at that
/// point ([`Response::written`]). The daemon promises that it answers the
/// handle's calls in the order they came and takes a write whole when it
/// fits the room it last reported less the bytes written since; a write
/// that fails (the connection reset) is reported on the next write.
/// The answer's flags from bit [`OPEN_ROOM_SHIFT`] up are the handle's
/// room when it was opened ([`open_room`]).
pub const OPEN_POSTED_WITHIN_ROOM: u32 = 4;

/// With [`OPEN_POSTED_WITHIN_ROOM`], in an open's answer: the room counts
/// bytes from the handle's offset (a disk's, which ends at the disk's
/// end), so it holds only while the offset moves by writes. A read or a
/// seek of the handle uses it up: the kernel posts nothing more on it
/// until the answer to a write reports the room again, and the daemon,
/// which sees the read or seek too, owes nothing more before that answer.
/// Nothing is handed over on such a handle (it is not a stream's).
pub const OPEN_ROOM_FROM_OFFSET: u32 = 8;

/// Where a stream's room at its open starts in the flags of the open's
/// (or dup's) answer: 24 bits of bytes, saturated ([`Response::stream`]).
pub const OPEN_ROOM_SHIFT: u32 = 8;

/// The room a stream's open (or dup) answer's `flags` carry.
pub const fn open_room(flags: u32) -> usize {
    (flags >> OPEN_ROOM_SHIFT) as usize
}

/// [`Response::flags`] of a [`Kind::Takes`] message: the daemon takes
/// [`Op::Chain`] requests.
pub const TAKES_CHAINS: u32 = 1;

/// What a request asks for. The numbering is part of the ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Op {
    /// Open the path in the inline payload with `flags`; answer a handle
    /// ([`Response::value`]) or an fd of the daemon's ([`Response::fd`]).
    Open = 1,
    /// Read up to `len` bytes from `handle` at its offset.
    Read = 2,
    /// Write the payload to `handle`.
    Write = 3,
    /// Seek `handle`: `arg` = offset (as i64), `flags` = whence.
    Seek = 4,
    /// Answer a `Stat` inline.
    Fstat = 5,
    /// Answer the handle's path (without `scheme:`) inline.
    Fpath = 6,
    /// The handle's last fd closed. Not answered.
    Close = 7,
    /// A derived handle named by the payload (`dup(fd, buf)`).
    Dup = 8,
    /// Which of `flags` (event bits) are ready now; later changes are sent
    /// as [`Response::event`] notifications.
    Fevent = 9,
    Fsync = 10,
    /// Truncate or extend to `arg` bytes.
    Ftruncate = 11,
    /// Remove the file named by the payload.
    Unlink = 12,
    /// Remove the directory named by the payload.
    Rmdir = 13,
    /// Rename `handle` to the path in the payload.
    Frename = 14,
    /// A caller sent an fd: the kernel put it in the daemon's table as fd
    /// `arg`; `flags` and `len` are the sender's flags and argument.
    SendFd = 15,
    /// The call with id `arg` was given up (its caller was killed): forget
    /// it. Not answered.
    Cancel = 16,
    /// Map `len` bytes of `handle` at offset `arg`, `flags` = `MapFlags`:
    /// answer the address, in the daemon, of page-aligned memory the caller
    /// may share.
    Fmap = 17,
    /// Answer a `StatVfs` inline: the size and free space of the file
    /// system the handle is on.
    Fstatvfs = 18,
    /// Write the inline payload to `handle`, then read up to `arg` bytes
    /// from it: `SYS_WRITE_READ` on a daemon's file as one request (a
    /// client's request and the wait for its reply). Answered as a read
    /// is, with the data inline, or with the write's error; a write that
    /// takes fewer bytes than it was given is `EIO`, and nothing is read.
    WriteRead = 19,
    /// Several calls as one request (a `SYS_SUBMIT` chain: an open, calls
    /// on the handle it answers, perhaps a close). The inline payload is
    /// the links ([`links`]): each an encoded [`Link`] followed by its
    /// inline data, the first an `Open`, the others a `Read`, `Write`,
    /// `Seek`, `Fstat` or `Close` on the open's handle (a link is what a
    /// request says less what the chain's request says for all of them:
    /// the caller; the daemon fills in the handle, [`Link::request`]). The
    /// daemon runs them in order and answers one [`Kind::Value`] whose
    /// `value` is how many links it answered and whose data is their
    /// answers in turn, each a response head and its data ([`answers`]; a
    /// close's answer is the value 0). It stops after a link that failed
    /// or an open answered with an fd, and before a link that would have
    /// to wait, and leaves the links it did not answer to the kernel, which
    /// sends them as requests of their own. Sent only to a daemon that said
    /// it takes chains ([`Kind::Takes`], [`TAKES_CHAINS`]).
    Chain = 20,
}

impl Op {
    pub fn from_u16(raw: u16) -> Option<Op> {
        use Op::*;
        // A table indexed by the number (a search through it cost a
        // tenth of decoding a request).
        const ALL: [Op; 20] = [
            Open, Read, Write, Seek, Fstat, Fpath, Close, Dup, Fevent, Fsync, Ftruncate, Unlink, Rmdir, Frename,
            SendFd, Cancel, Fmap, Fstatvfs, WriteRead, Chain,
        ];
        ALL.get(usize::from(raw).checked_sub(1)?).copied()
    }

    /// Whether the daemon must answer this request.
    pub fn expects_answer(self) -> bool {
        !matches!(self, Op::Close | Op::Cancel)
    }
}

/// Where a request's data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Payload {
    /// No data, or (for reads) the answer carries it inline.
    None = 0,
    /// `len` bytes follow the request header in the same read.
    Inline = 1,
    /// The caller's buffer is mapped at `addr`, `len` bytes long, writable
    /// for reads and read-only for writes.
    Lent = 2,
}

/// One call, as the daemon reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Chosen by the kernel; the answer names it.
    pub id: u64,
    pub op: Op,
    pub payload: Payload,
    /// Open flags (`O_*`), the file's status flags for reads, writes and
    /// dups (`O_NONBLOCK` says the caller must not be made to wait), event bits
    /// for `Fevent`, whence for `Seek`, map flags for `Fmap`.
    pub flags: u32,
    /// Who is calling.
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
    /// The daemon's handle (what it answered to the open); 0 for path calls.
    pub handle: u64,
    /// Daemon-side address of lent memory (0 unless `payload` is `Lent`).
    pub addr: u64,
    /// Bytes of payload, or bytes wanted for a read.
    pub len: u64,
    /// Per-op argument (seek offset, truncate length, fd, cancelled id).
    pub arg: u64,
}

/// Why bytes are not a valid message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than a header.
    Short,
    /// An op, payload or response kind this version does not know.
    Unknown,
    /// Fields that contradict each other (inline data longer than what
    /// follows, inline data over [`INLINE_MAX`], ...).
    Inconsistent,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DecodeError::Short => "shorter than a header",
            DecodeError::Unknown => "unknown kind",
            DecodeError::Inconsistent => "inconsistent lengths",
        })
    }
}

impl Request {
    /// A request with every field but `id` and `op` zero.
    pub const fn new(id: u64, op: Op) -> Request {
        Request { id, op, payload: Payload::None, flags: 0, pid: 0, uid: 0, gid: 0, handle: 0, addr: 0, len: 0, arg: 0 }
    }

    pub fn encode(&self) -> [u8; REQUEST_SIZE] {
        let mut out = [0u8; REQUEST_SIZE];
        out[0..8].copy_from_slice(&self.id.to_le_bytes());
        out[8..10].copy_from_slice(&(self.op as u16).to_le_bytes());
        out[10] = self.payload as u8;
        out[12..16].copy_from_slice(&self.flags.to_le_bytes());
        out[16..20].copy_from_slice(&self.pid.to_le_bytes());
        out[20..24].copy_from_slice(&self.uid.to_le_bytes());
        out[24..28].copy_from_slice(&self.gid.to_le_bytes());
        out[32..40].copy_from_slice(&self.handle.to_le_bytes());
        out[40..48].copy_from_slice(&self.addr.to_le_bytes());
        out[48..56].copy_from_slice(&self.len.to_le_bytes());
        out[56..64].copy_from_slice(&self.arg.to_le_bytes());
        out
    }

    /// Decode a request and, for inline payloads, check that its bytes
    /// follow it in `bytes`; returns the request and its inline payload.
    pub fn decode(bytes: &[u8]) -> Result<(Request, &[u8]), DecodeError> {
        let Some(head) = bytes.first_chunk::<REQUEST_SIZE>() else {
            return Err(DecodeError::Short);
        };
        // Fixed offsets into a fixed-size array: no bounds checks left.
        let op = Op::from_u16(u16::from_le_bytes([head[8], head[9]])).ok_or(DecodeError::Unknown)?;
        let payload = match head[10] {
            0 => Payload::None,
            1 => Payload::Inline,
            2 => Payload::Lent,
            _ => return Err(DecodeError::Unknown),
        };
        let request = Request {
            id: fixed_u64(head, 0),
            op,
            payload,
            flags: fixed_u32(head, 12),
            pid: fixed_u32(head, 16),
            uid: fixed_u32(head, 20),
            gid: fixed_u32(head, 24),
            handle: fixed_u64(head, 32),
            addr: fixed_u64(head, 40),
            len: fixed_u64(head, 48),
            arg: fixed_u64(head, 56),
        };
        let inline = match payload {
            Payload::Inline => {
                let len = usize::try_from(request.len).map_err(|_| DecodeError::Inconsistent)?;
                if len > INLINE_MAX {
                    return Err(DecodeError::Inconsistent);
                }
                bytes.get(REQUEST_SIZE..REQUEST_SIZE + len).ok_or(DecodeError::Inconsistent)?
            }
            _ => &[][..],
        };
        Ok((request, inline))
    }
}

/// What a response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Kind {
    /// Success with `value` (a count, an offset, a handle); inline data
    /// may follow (reads, `fstat`, `fpath`).
    Value = 0,
    /// Failure with errno `value`.
    Error = 1,
    /// Success: `value` is an fd of the daemon's, handed to the caller as
    /// the result of an open or dup (it leaves the daemon's table).
    Fd = 2,
    /// Not an answer: handle `value` became ready for the event bits in
    /// `flags`. The `id` is the handle's room when it is a stream's
    /// ([`OPEN_POSTED_WITHIN_ROOM`]) told ready for writing, as a write's
    /// answer carries it ([`Response::event_with_room`]); otherwise it is
    /// ignored.
    Event = 3,
    /// Not an answer: park nothing, just a no-op the kernel accepts (a
    /// keep-alive for tests of the socket).
    Nop = 4,
    /// Not an answer: the daemon takes the kinds of request whose bits are
    /// in `flags` ([`TAKES_CHAINS`]); sent once, after registering.
    Takes = 5,
    /// Not an answer: bytes that arrived on a stream's handle `value`
    /// ([`OPEN_POSTED_WITHIN_ROOM`]), `len` of them after the header,
    /// handed to the kernel ahead of its reads (docs/architecture.md
    /// §3.14; [`Response::received`]). The kernel takes them whole or
    /// refuses them (the daemon's write fails, `EAGAIN`): the daemon keeps
    /// them until taken.
    Data = 6,
}

impl Kind {
    /// Whether a response of this kind may carry data after its head: a
    /// success's inline answer, or bytes handed over. The decoder holds
    /// every other kind to `len` 0, and encoders leave their data out.
    pub fn carries_data(self) -> bool {
        matches!(self, Kind::Value | Kind::Data)
    }
}

/// A daemon's answer (or notification), as it writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request answered.
    pub id: u64,
    pub kind: Kind,
    /// Event bits for [`Kind::Event`]; [`OPEN_READ_AHEAD`],
    /// [`OPEN_POSTED_WRITES`] and [`OPEN_POSTED_WITHIN_ROOM`] for an
    /// open's [`Kind::Value`]; the room for a write's answer on a stream
    /// ([`Response::with_room`]).
    pub flags: u32,
    pub value: u64,
    /// Bytes of inline data after the header.
    pub len: u64,
}

impl Response {
    pub const fn value(id: u64, value: u64) -> Response {
        Response { id, kind: Kind::Value, flags: 0, value, len: 0 }
    }

    pub const fn error(id: u64, errno: i32) -> Response {
        Response { id, kind: Kind::Error, flags: 0, value: errno as u64, len: 0 }
    }

    pub const fn fd(id: u64, fd: usize) -> Response {
        Response { id, kind: Kind::Fd, flags: 0, value: fd as u64, len: 0 }
    }

    /// The answer to an open: `handle`, which the kernel may read ahead
    /// on ([`OPEN_READ_AHEAD`]).
    pub const fn read_ahead(id: u64, handle: u64) -> Response {
        Response { id, kind: Kind::Value, flags: OPEN_READ_AHEAD, value: handle, len: 0 }
    }

    /// The answer to an open: `handle`, which the kernel may read ahead on
    /// and whose small writes it may post ([`OPEN_POSTED_WRITES`]).
    pub const fn buffered(id: u64, handle: u64) -> Response {
        Response { id, kind: Kind::Value, flags: OPEN_READ_AHEAD | OPEN_POSTED_WRITES, value: handle, len: 0 }
    }

    /// The answer to an open or a dup: `handle`, a stream's, whose small
    /// writes the kernel may post within the room the daemon reports
    /// ([`OPEN_POSTED_WITHIN_ROOM`]), `room` now (saturated at 24 bits).
    pub const fn stream(id: u64, handle: u64, room: usize) -> Response {
        let max = (u32::MAX >> OPEN_ROOM_SHIFT) as usize;
        let room = if room > max { max } else { room };
        let flags = OPEN_POSTED_WITHIN_ROOM | ((room as u32) << OPEN_ROOM_SHIFT);
        Response { id, kind: Kind::Value, flags, value: handle, len: 0 }
    }

    /// The answer to an open: `handle`, a disk's, which the kernel may
    /// read ahead on and whose small writes it may post within the room
    /// the daemon reports, counted from the handle's offset
    /// ([`OPEN_ROOM_FROM_OFFSET`]), `room` now (saturated at 24 bits).
    pub const fn device(id: u64, handle: u64, room: usize) -> Response {
        let stream = Response::stream(id, handle, room);
        Response { flags: stream.flags | OPEN_READ_AHEAD | OPEN_ROOM_FROM_OFFSET, ..stream }
    }

    /// This answer to a write, with the daemon's room after it (how many
    /// bytes more it would take whole now; [`OPEN_POSTED_WITHIN_ROOM`]),
    /// saturated at `u32::MAX`.
    pub fn with_room(self, room: usize) -> Response {
        Response { flags: u32::try_from(room).unwrap_or(u32::MAX), ..self }
    }

    /// Bytes that arrived on stream `handle`, `len` of them right after
    /// the header ([`Kind::Data`]).
    pub const fn received(handle: u64, len: usize) -> Response {
        Response { id: 0, kind: Kind::Data, flags: 0, value: handle, len: len as u64 }
    }

    /// A success carrying `len` bytes of data right after the header.
    pub const fn data(id: u64, len: usize) -> Response {
        Response { id, kind: Kind::Value, flags: 0, value: len as u64, len: len as u64 }
    }

    /// Tell the kernel that `handle` is ready for `events`.
    pub const fn event(handle: u64, events: u32) -> Response {
        Response { id: 0, kind: Kind::Event, flags: events, value: handle, len: 0 }
    }

    /// [`Response::event`], with the room of a stream's handle that is
    /// ready for writing ([`OPEN_POSTED_WITHIN_ROOM`]): the kernel may post
    /// that much more on it, less what it posted and was not answered.
    pub const fn event_with_room(handle: u64, events: u32, room: usize) -> Response {
        Response { id: room as u64, kind: Kind::Event, flags: events, value: handle, len: 0 }
    }

    pub fn encode(&self) -> [u8; RESPONSE_SIZE] {
        let mut out = [0u8; RESPONSE_SIZE];
        out[0..8].copy_from_slice(&self.id.to_le_bytes());
        out[8..10].copy_from_slice(&(self.kind as u16).to_le_bytes());
        out[12..16].copy_from_slice(&self.flags.to_le_bytes());
        out[16..24].copy_from_slice(&self.value.to_le_bytes());
        out[24..32].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Decode a response and the inline data after it (exactly `len`
    /// bytes must follow, at most [`INLINE_MAX`]).
    pub fn decode(bytes: &[u8]) -> Result<(Response, &[u8]), DecodeError> {
        let Some(head) = bytes.first_chunk::<RESPONSE_SIZE>() else {
            return Err(DecodeError::Short);
        };
        let rest = &bytes[RESPONSE_SIZE..];
        Ok((Response::decode_head(head, rest.len())?, rest))
    }

    /// Decode a response's fixed part, followed by `following` bytes of
    /// inline data (which must be exactly its `len`, at most
    /// [`INLINE_MAX`]): for a reader that copies the data separately.
    pub fn decode_head(head: &[u8; RESPONSE_SIZE], following: usize) -> Result<Response, DecodeError> {
        let response = Response::fields(head)?;
        if response.len != following as u64 || following > INLINE_MAX {
            return Err(DecodeError::Inconsistent);
        }
        Ok(response)
    }

    /// The fields of a response head, its kind known and its data (if any)
    /// on a success or on bytes handed over ([`Kind::Data`]) only.
    fn fields(head: &[u8; RESPONSE_SIZE]) -> Result<Response, DecodeError> {
        let kind = match u16::from_le_bytes([head[8], head[9]]) {
            0 => Kind::Value,
            1 => Kind::Error,
            2 => Kind::Fd,
            3 => Kind::Event,
            4 => Kind::Nop,
            5 => Kind::Takes,
            6 => Kind::Data,
            _ => return Err(DecodeError::Unknown),
        };
        let response = Response {
            id: fixed_u64(head, 0),
            kind,
            flags: fixed_u32(head, 12),
            value: fixed_u64(head, 16),
            len: fixed_u64(head, 24),
        };
        if response.len != 0 && !kind.carries_data() {
            return Err(DecodeError::Inconsistent);
        }
        Ok(response)
    }
}

/// One call of an [`Op::Chain`], as its payload carries it: a [`Request`]
/// less what the chain's own request says for every link (its caller),
/// what the daemon fills in (the handle the chain's open answered, the
/// id) and lent memory, which a link never has. An `Open` or a `Write`
/// is followed by its `len` bytes of inline data (the path, the bytes to
/// write); the other links carry none. A third of a request's bytes, so
/// the kernel writes and the daemon reads a chain in fewer instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub op: Op,
    /// As a request's: open flags, a read's or write's file-status flags,
    /// a seek's whence.
    pub flags: u32,
    /// Bytes of inline data (`Open`, `Write`), or bytes wanted (`Read`,
    /// `Fstat`), at most [`INLINE_MAX`].
    pub len: u32,
    /// As a request's (a seek's offset).
    pub arg: u64,
}

impl Link {
    pub const fn new(op: Op, flags: u32, len: u32, arg: u64) -> Link {
        Link { op, flags, len, arg }
    }

    /// Whether the link is followed by `len` bytes of inline data.
    pub const fn carries_input(&self) -> bool {
        matches!(self.op, Op::Open | Op::Write)
    }

    /// The request this link stands for, with `id`, made by the caller
    /// of `chain` (its `pid`, `uid` and `gid`) on `handle`.
    pub fn request(&self, id: u64, chain: &Request, handle: u64) -> Request {
        Request {
            id,
            op: self.op,
            payload: if self.carries_input() { Payload::Inline } else { Payload::None },
            flags: self.flags,
            pid: chain.pid,
            uid: chain.uid,
            gid: chain.gid,
            handle,
            addr: 0,
            len: u64::from(self.len),
            arg: self.arg,
        }
    }

    pub fn encode(&self) -> [u8; LINK_SIZE] {
        let mut out = [0u8; LINK_SIZE];
        out[0..2].copy_from_slice(&(self.op as u16).to_le_bytes());
        out[4..8].copy_from_slice(&self.flags.to_le_bytes());
        out[8..12].copy_from_slice(&self.len.to_le_bytes());
        out[16..24].copy_from_slice(&self.arg.to_le_bytes());
        out
    }

    /// Decode a link and its inline data from the front of `bytes`. A
    /// chain in a chain, nonzero reserved bytes or inline data longer
    /// than what follows or than [`INLINE_MAX`] are `Inconsistent`.
    pub fn decode(bytes: &[u8]) -> Result<(Link, &[u8]), DecodeError> {
        let Some(head) = bytes.first_chunk::<LINK_SIZE>() else {
            return Err(DecodeError::Short);
        };
        let op = Op::from_u16(u16::from_le_bytes([head[0], head[1]])).ok_or(DecodeError::Unknown)?;
        if op == Op::Chain || head[2..4] != [0, 0] || fixed_u32(head, 12) != 0 {
            return Err(DecodeError::Inconsistent);
        }
        let link = Link { op, flags: fixed_u32(head, 4), len: fixed_u32(head, 8), arg: fixed_u64(head, 16) };
        if link.len as usize > INLINE_MAX {
            return Err(DecodeError::Inconsistent);
        }
        let inline = if link.carries_input() {
            bytes.get(LINK_SIZE..LINK_SIZE + link.len as usize).ok_or(DecodeError::Inconsistent)?
        } else {
            &[][..]
        };
        Ok((link, inline))
    }
}

/// The links of an [`Op::Chain`]'s payload, in order: each [`Link`] and
/// its inline data. A link that does not decode ends the walk with an
/// error.
pub fn links(payload: &[u8]) -> Links<'_> {
    Links { rest: payload }
}

/// See [`links`].
pub struct Links<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Links<'a> {
    type Item = Result<(Link, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let link = Link::decode(self.rest);
        Some(advance(&mut self.rest, LINK_SIZE, link))
    }
}

/// The link answers in the data of an [`Op::Chain`]'s answer, in order:
/// each response head (a `Value`, `Error` or `Fd`) and its data. One that
/// is cut short or of another kind ends the walk with an error.
pub fn answers(data: &[u8]) -> Answers<'_> {
    Answers { rest: data }
}

/// See [`answers`].
pub struct Answers<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Answers<'a> {
    type Item = Result<(Response, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let answer = self.rest.first_chunk::<RESPONSE_SIZE>().ok_or(DecodeError::Short).and_then(|head| {
            let response = Response::fields(head)?;
            if !matches!(response.kind, Kind::Value | Kind::Error | Kind::Fd) {
                return Err(DecodeError::Inconsistent);
            }
            let data = usize::try_from(response.len)
                .ok()
                .and_then(|len| self.rest.get(RESPONSE_SIZE..RESPONSE_SIZE.checked_add(len)?))
                .ok_or(DecodeError::Inconsistent)?;
            Ok((response, data))
        });
        Some(advance(&mut self.rest, RESPONSE_SIZE, answer))
    }
}

/// A walk's step over `rest`: past a message of `head` bytes and its data
/// when it decoded, to the end when it did not (a walk stops at the first
/// error).
fn advance<'a, T>(
    rest: &mut &'a [u8],
    head: usize,
    step: Result<(T, &'a [u8]), DecodeError>,
) -> Result<(T, &'a [u8]), DecodeError> {
    *rest = match &step {
        Ok((_, data)) => &rest[head + data.len()..],
        Err(_) => &[],
    };
    step
}

/// The little-endian `u64` at `at` in a fixed-size message head.
#[inline(always)]
fn fixed_u64<const N: usize>(head: &[u8; N], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&head[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// The little-endian `u32` at `at` in a fixed-size message head.
#[inline(always)]
fn fixed_u32<const N: usize>(head: &[u8; N], at: usize) -> u32 {
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(&head[at..at + 4]);
    u32::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests;
