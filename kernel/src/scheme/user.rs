//! Userspace schemes: a daemon serves `NAME:` through the socket it got by
//! opening `:NAME` on the root scheme.
//!
//! Every call on the scheme becomes a [`Call`]: a `scheme_proto::Request`
//! queued for the daemon, which `read`s it from the socket and `write`s a
//! `Response` back; the caller sleeps until then. Small data travels inline
//! (copied through the kernel); a buffer over `INLINE_MAX` bytes is lent:
//! the caller's pages that lie wholly inside it are mapped into the daemon
//! while it handles the call, and the partial first and last pages are
//! stand-in copies, so the daemon sees nothing outside the buffer.
//!
//! Failure is always prompt: when the socket closes (the daemon exits,
//! crashes or closes it), every queued and in-flight call fails with `EIO`,
//! and so does every later call on an fd opened on it (a new open of the
//! name reaches whatever serves it now, or gets `ENODEV`). A caller killed while waiting gives its
//! call up: a queued one is dropped, an in-flight one is cancelled (the
//! daemon reads a `Cancel`, and the lent pages leave it then). An answer
//! that makes no sense fails its caller with `EIO` and the daemon's write
//! with `EINVAL`, and is logged.
//!
//! Bounds: a daemon has at most [`PENDING_MAX`] calls waiting on it (read
//! or not); one more is refused with `EAGAIN` and logged, so callers of a
//! daemon that has stopped reading cannot pile up without limit. A caller
//! has at most one call waiting (a process has one thread); the closes it
//! queues are bounded by its fds, and are never refused, so a daemon never
//! loses track of a handle; the writes it posts (nobody waits for them:
//! [`super::posted_writes`]) by that module's bounds.
//!
//! Lock order: the scheme's `state`, then a call's `outcome`, then a run
//! queue (the caller is woken under `outcome`). None is held while
//! blocking or while calling into another scheme.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use smallvec::SmallVec;

use abi::syscall::error::{EAGAIN, EBADF, EINVAL, EIO, ENODEV, ENOMEM, EPERM, Error};
use abi::syscall::{EventFlags, MapFlags, Stat, StatVfs};
use scheme_proto::{
    INLINE_MAX, Kind, LINK_SIZE, Link, OPEN_POSTED_WITHIN_ROOM, OPEN_POSTED_WRITES, OPEN_READ_AHEAD,
    OPEN_ROOM_FROM_OFFSET, Op, Payload, REQUEST_SIZE, RESPONSE_SIZE, Request, Response, TAKES_CHAINS,
};
use spin::Mutex;
use x86_64::PhysAddr;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::structures::paging::PhysFrame;

use super::posted_writes::{Posted, PostedWrites, Write};
use super::pushed_reads::{self, PushedReads};
use super::read_ahead::{self, Plan, ReadAhead};
use super::spare_slot::SpareSlot;
use super::{Caller, KernelScheme, Mapping, Namespace, Opened, event, key_of};
use crate::context::file::{self, FileDescription};
use crate::context::process::Pid;
use crate::context::thread::Thread;
use crate::context::wait_queue::{self, WaitQueue};
use crate::context::{process, scheduler};
use crate::memory::address_space::{FrameKind, Placement, Prot};
use crate::memory::usercopy::{self, UserIn, UserOut};
use crate::memory::{PAGE_SIZE, frame, phys_to_virt};

/// The largest buffer lent in one call; a longer read or write is short.
pub const LEND_MAX: usize = 16 << 20;

/// The most calls one daemon may have waiting (queued or being handled).
pub const PENDING_MAX: usize = 256;

/// The inline data of an answer: kept in the answer itself up to
/// [`DATA_INLINE`] bytes (a small read), so the common answer allocates
/// nothing.
type Data = SmallVec<[u8; DATA_INLINE]>;

/// The most answer data kept without an allocation: 16 bytes take the
/// room a `Vec`'s pointer and length would, so an `Answer` is no larger
/// than with a `Vec` (a larger inline array made every move of an answer
/// dearer than the allocation it saved: measured, 4,127 instructions a
/// 1-byte round trip with 128 bytes against 3,945 with a `Vec`).
const DATA_INLINE: usize = 16;

/// What a daemon answered.
enum Answer {
    /// A value, and for reads, `fstat` and `fpath` the data that came inline.
    Value(usize, Data),
    /// An open file the daemon handed over.
    File(Arc<FileDescription>),
    /// Pages of the daemon's, for an fmap.
    Frames(super::Frames),
}

impl Answer {
    /// The value of a plain success (`EIO` for an answer of another kind:
    /// the daemon's answer did not fit the request).
    fn value(self) -> Result<usize, Error> {
        match self {
            Answer::Value(value, _) => Ok(value),
            _ => Err(Error::new(EIO)),
        }
    }

    /// The inline data of a success.
    fn data(self) -> Result<Data, Error> {
        match self {
            Answer::Value(_, data) => Ok(data),
            _ => Err(Error::new(EIO)),
        }
    }
}

/// Why an answer makes no sense, and the errno the daemon's write gets.
struct Garbage {
    why: &'static str,
    errno: i32,
}

impl Garbage {
    const fn invalid(why: &'static str) -> Garbage {
        Garbage { why, errno: EINVAL }
    }
}

/// The inline data of an answer: in kernel memory, or still in the
/// daemon's buffer (copied once, when the answer is known to be sound).
enum Inline<'a> {
    Kernel(&'a [u8]),
    User(UserIn),
}

impl Inline<'_> {
    fn len(&self) -> usize {
        match self {
            Inline::Kernel(bytes) => bytes.len(),
            Inline::User(buf) => buf.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data as the answer keeps it: copied (from the daemon's buffer
    /// when it is still there) without an allocation when it is small.
    fn to_data(&self) -> Result<Data, Error> {
        match self {
            Inline::Kernel(bytes) => Ok(Data::from_slice(bytes)),
            Inline::User(buf) if buf.len() <= DATA_INLINE => {
                let mut data = Data::from_buf_and_len([0; DATA_INLINE], buf.len());
                buf.copy_to_kernel(&mut data)?;
                Ok(data)
            }
            Inline::User(buf) => buf.to_vec().map(Data::from_vec),
        }
    }
}

/// Where the lent pages of a call were mapped in the daemon.
#[derive(Clone, Copy)]
struct Mapped {
    pid: Pid,
    addr: u64,
    len: u64,
}

/// One call from a process to the daemon.
struct Call {
    request: Request,
    /// Input that travels inline (paths, small writes; up to
    /// [`DATA_INLINE`] bytes without an allocation).
    inline: Data,
    lend: Option<Lend>,
    /// The fd being sent (`SendFd`), until the daemon takes it.
    file: Mutex<Option<Arc<FileDescription>>>,
    /// For `Cancel`: the call given up.
    target: Option<Arc<Call>>,
    mapped: Mutex<Option<Mapped>>,
    outcome: Mutex<Option<Result<Answer, Error>>>,
    /// The thread waiting for the outcome (none for a close, a cancel or a
    /// chain's link): woken under the `outcome` lock when it is set
    /// ([`wait_queue::wait_alone`]).
    caller: Option<Arc<Thread>>,
    cancelled: AtomicBool,
    /// The chain this call is a link of: its outcome goes there, and the
    /// chain's next call is queued in its place ([`UserScheme::chain_open`]).
    chain: Option<Arc<ChainRun>>,
    /// A posted write's handle record: its answer goes there, nobody
    /// waits for it ([`super::posted_writes`]).
    posted: Option<Arc<Posted>>,
    /// A write's on a stream's handle, posted or not: its answer reports
    /// the daemon's room there ([`Posted::write_answered`]).
    room: Option<Arc<Posted>>,
}

impl Call {
    /// The inline input the daemon reads after the request: a chain
    /// request's links, or what the call carries.
    fn input(&self) -> &[u8] {
        match &self.chain {
            Some(run) if self.request.op == Op::Chain => &run.links,
            _ => &self.inline,
        }
    }

    /// Make a kept call (one that holds nothing: [`UserScheme::keep`]) a
    /// new one for `request`.
    fn reuse(&mut self, request: Request) {
        self.request = request;
        self.inline.clear();
        *self.cancelled.get_mut() = false;
    }

    fn new(request: Request) -> Call {
        Call {
            request,
            inline: Data::new(),
            lend: None,
            file: Mutex::new(None),
            target: None,
            mapped: Mutex::new(None),
            outcome: Mutex::new(None),
            caller: None,
            cancelled: AtomicBool::new(false),
            chain: None,
            posted: None,
            room: None,
        }
    }
}

/// One call of a chain after its open, on the handle the open returned.
pub enum Step {
    /// Read up to this many bytes (at most `INLINE_MAX`).
    Read(usize),
    /// Write these bytes (at most `INLINE_MAX`).
    Write(Vec<u8>),
    /// Seek: offset, whence.
    Seek(isize, usize),
    /// The file's `Stat` (its bytes come back as a read's data do).
    Fstat,
    Close,
}

impl Step {
    /// This step as a chain's link, with `flags` the file's, and the most
    /// answer data it may get.
    fn link(&self, flags: usize) -> (Link, usize) {
        let flags = flags as u32;
        match self {
            Step::Read(len) => (Link::new(Op::Read, flags, *len as u32, 0), *len),
            Step::Write(data) => (Link::new(Op::Write, flags, data.len() as u32, 0), 0),
            Step::Seek(offset, whence) => (Link::new(Op::Seek, *whence as u32, 0, *offset as u64), 0),
            Step::Fstat => (Link::new(Op::Fstat, 0, size_of::<Stat>() as u32, 0), size_of::<Stat>()),
            Step::Close => (Link::new(Op::Close, 0, 0, 0), 0),
        }
    }

    /// Whether an answer (`value`, `data`) to this step makes sense.
    fn fits(&self, value: usize, data: &[u8]) -> bool {
        match self {
            Step::Read(len) => data.len() <= *len && value == data.len(),
            Step::Write(bytes) => data.is_empty() && value <= bytes.len(),
            Step::Seek(..) => data.is_empty(),
            Step::Fstat => data.len() == size_of::<Stat>(),
            Step::Close => data.is_empty() && value == 0,
        }
    }
}

/// What a chain's steps did (see [`Chained::step`]), as far as the chain
/// went: it ends at the first failure, or after the open if the daemon
/// answered it with a file of its own.
pub struct Chained<'a> {
    steps: &'a [Result<Answer, Error>],
}

impl Chained<'_> {
    /// How many steps ran.
    pub fn steps_run(&self) -> usize {
        self.steps.len()
    }

    /// Step `i`'s value, and its data (a read's bytes, an fstat's `Stat`).
    pub fn step(&self, i: usize) -> Result<(usize, &[u8]), Error> {
        match &self.steps[i] {
            Ok(Answer::Value(value, data)) => Ok((*value, data)),
            Ok(_) => Err(Error::new(EIO)),
            Err(err) => Err(*err),
        }
    }
}

/// A chain in progress (shared by its calls and its caller). A finished
/// one is kept for the next chain (`UserScheme::spare_chain`), its lists'
/// room with it.
struct ChainRun {
    /// Who the calls are made for (the caller's pid, uid and gid).
    pid: u32,
    uid: u32,
    gid: u32,
    /// What the steps' reads and writes pass on: the open's kept flags.
    flags: usize,
    /// The links of its `Op::Chain` request (written while the run is
    /// not shared yet, then only read; its room is kept with the run).
    links: Vec<u8>,
    progress: Mutex<ChainProgress>,
    /// The caller sleeps here until `finished`.
    done: WaitQueue,
}

struct ChainProgress {
    /// Steps not sent yet.
    steps: VecDeque<Step>,
    /// The open's handle, once answered.
    handle: Option<usize>,
    /// Whether a `Close` of it was sent.
    closed: bool,
    /// Outcomes so far: the open's first.
    outcomes: Vec<Result<Answer, Error>>,
    /// How many of `steps` (the first ones) the chain's `Op::Chain`
    /// request carries while the daemon has it (0: the links go one by one).
    carried: usize,
    finished: bool,
    /// The caller gave up (killed): finish, closing what was opened.
    cancelled: bool,
}

impl ChainRun {
    fn new() -> ChainRun {
        ChainRun {
            pid: 0,
            uid: 0,
            gid: 0,
            flags: 0,
            links: Vec::new(),
            progress: Mutex::new(ChainProgress {
                steps: VecDeque::new(),
                handle: None,
                closed: false,
                outcomes: Vec::new(),
                carried: 0,
                finished: false,
                cancelled: false,
            }),
            done: WaitQueue::new(),
        }
    }

    /// Make a kept (or new) chain a new one for `request`'s caller.
    fn reset(&mut self, request: &Request) {
        (self.pid, self.uid, self.gid) = (request.pid, request.uid, request.gid);
        self.flags = request.flags as usize & file::KEPT_FLAGS;
        self.links.clear();
        let progress = self.progress.get_mut();
        progress.steps.clear();
        progress.outcomes.clear();
        progress.handle = None;
        progress.carried = 0;
        (progress.closed, progress.finished, progress.cancelled) = (false, false, false);
    }
}

struct State {
    alive: bool,
    /// Calls the daemon has not read yet, oldest first.
    queue: VecDeque<Arc<Call>>,
    /// Calls read and not answered (a daemon answers them in any order;
    /// there are few, so a list beats a map).
    in_flight: Vec<Arc<Call>>,
}

impl State {
    /// Take the in-flight call `id` out, if it is in flight.
    fn take_in_flight(&mut self, id: u64) -> Option<Arc<Call>> {
        let at = self.in_flight.iter().position(|call| call.request.id == id)?;
        Some(self.in_flight.swap_remove(at))
    }

    fn is_in_flight(&self, id: u64) -> bool {
        self.in_flight.iter().any(|call| call.request.id == id)
    }
}

pub struct UserScheme {
    name: String,
    /// The namespace it is registered in, to leave when the socket closes.
    namespace: Weak<Namespace>,
    /// The socket's handle on the root scheme (for readiness events).
    socket: usize,
    /// The process that registered it.
    owner: Pid,
    state: Mutex<State>,
    /// The daemon waits here for requests.
    daemon: WaitQueue,
    next_id: AtomicU64,
    /// Finished calls kept for the next ones, holding nothing (see
    /// [`UserScheme::keep`]): a call allocated and freed per round trip
    /// cost about 100 instructions of 3,500. One is kept without a lock
    /// (a round trip's), up to [`SPARE_CALLS`] more in the list.
    spare_one: SpareSlot<Call>,
    spare: Mutex<Vec<Arc<Call>>>,
    /// A finished chain kept for the next ([`UserScheme::chain_open`]).
    spare_chain: Mutex<Option<Arc<ChainRun>>>,
    /// The daemon takes a chain as one request (`Op::Chain`): it said so
    /// with a `Kind::Takes` message.
    takes_chains: AtomicBool,
    /// What the kernel read ahead on the daemon's files ([`read_ahead`]).
    ahead: ReadAhead,
    /// The handles whose small writes are posted ([`super::posted_writes`]).
    posted: PostedWrites,
    /// The stream handles whose daemon hands over bytes ahead of the reads
    /// ([`super::pushed_reads`]).
    pushed: PushedReads,
}

/// The most finished calls a scheme keeps for reuse.
const SPARE_CALLS: usize = 4;

impl UserScheme {
    pub fn new(name: &str, namespace: &Arc<Namespace>, socket: usize, owner: Pid) -> UserScheme {
        UserScheme {
            name: String::from(name),
            namespace: Arc::downgrade(namespace),
            socket,
            owner,
            state: Mutex::new(State { alive: true, queue: VecDeque::new(), in_flight: Vec::new() }),
            daemon: WaitQueue::new(),
            next_id: AtomicU64::new(1),
            spare_one: SpareSlot::new(),
            spare: Mutex::new(Vec::new()),
            spare_chain: Mutex::new(None),
            takes_chains: AtomicBool::new(false),
            ahead: ReadAhead::default(),
            posted: PostedWrites::default(),
            pushed: PushedReads::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pid that registered it.
    pub fn owner(&self) -> Pid {
        self.owner
    }

    /// Whether requests are waiting to be read (the socket is readable).
    pub fn has_requests(&self) -> bool {
        without_interrupts(|| !self.state.lock().queue.is_empty())
    }

    fn request(&self, op: Op, handle: usize) -> Request {
        let mut request = Request::new(self.next_id.fetch_add(1, Ordering::Relaxed), op);
        request.handle = handle as u64;
        if scheduler::has_current() {
            scheduler::with_current(|thread| {
                if let Some(caller) = &thread.process {
                    request.pid = caller.pid as u32;
                    request.uid = caller.uid();
                    request.gid = caller.gid();
                }
            });
        }
        request
    }

    /// A request for `op` on `handle` whose `len` bytes of input travel
    /// inline after it.
    #[inline]
    fn inline_request(&self, op: Op, handle: usize, flags: usize, len: usize) -> Request {
        let mut request = self.request(op, handle);
        request.flags = flags as u32;
        request.payload = Payload::Inline;
        request.len = len as u64;
        request
    }

    /// Queue `call` for the daemon and tell it.
    fn submit(&self, call: Arc<Call>) -> Result<(), Error> {
        without_interrupts(|| {
            let mut state = self.state.lock();
            if !state.alive {
                // An fd opened on this instance: it fails for good, even
                // once a new daemon (a restart) serves the same name, whose
                // handles it can never reach (they are another scheme's).
                return Err(Error::new(EIO));
            }
            let waits = !matches!(call.request.op, Op::Close | Op::Cancel);
            if waits && state.queue.len() + state.in_flight.len() >= PENDING_MAX {
                return Err(Error::new(EAGAIN));
            }
            state.queue.push_back(call);
            Ok(())
        })
        .inspect_err(|err| {
            if err.errno == EAGAIN {
                crate::caller_log!(Warn, "scheme {}: {PENDING_MAX} calls wait already; one more refused", self.name);
            }
        })?;
        self.daemon.wake(1);
        event::trigger(super::root::key(), self.socket, EventFlags::EVENT_READ);
        Ok(())
    }

    /// Make the call and sleep until the daemon answers it.
    /// `fill` sets what the call carries besides `request` (its inline
    /// input, an fd to send).
    fn call(&self, request: Request, fill: impl FnOnce(&mut Call)) -> Result<Answer, Error> {
        let call = self.new_call(request, fill);
        let outcome = self.call_shared(&call);
        self.keep(call);
        outcome
    }

    /// A call of the current thread's for `request`, filled in by `fill`:
    /// in a spare cell if there is one, written field by field (a call is
    /// 300 bytes; moving one in cost more than it is worth).
    fn new_call(&self, request: Request, fill: impl FnOnce(&mut Call)) -> Arc<Call> {
        self.call_for(request, scheduler::try_current(), fill)
    }

    /// [`Self::new_call`] with the thread to wake when it is answered
    /// (none for a call nobody waits on by itself: a close, a chain's link).
    fn call_for(&self, request: Request, caller: Option<Arc<Thread>>, fill: impl FnOnce(&mut Call)) -> Arc<Call> {
        let spare = self.spare_one.take().or_else(|| without_interrupts(|| self.spare.lock().pop()));
        let mut cell = spare.unwrap_or_else(|| Arc::new(Call::new(request)));
        match Arc::get_mut(&mut cell) {
            Some(call) => {
                call.reuse(request);
                call.caller = caller;
                fill(call);
                cell
            }
            // A spare is never shared (`keep`); were one, a new call does.
            None => {
                let mut call = Call::new(request);
                call.caller = caller;
                fill(&mut call);
                Arc::new(call)
            }
        }
    }

    /// Keep a finished call for reuse if nothing else holds it and it
    /// holds nothing (no lent pages, fd, outcome or spilled data: a small
    /// call's usual state once answered; a chain it was a link of it
    /// lets go), so a spare never keeps a resource alive. Anything else is
    /// simply dropped. Called wherever a call is let go of: by its caller,
    /// after a daemon's answer, after a daemon read a call it does not
    /// answer (a close); whichever holds it last keeps it.
    #[inline]
    fn keep(&self, call: Arc<Call>) {
        // Most often another holder is still there (the caller, the
        // in-flight list): one plain load says so, inline.
        if Arc::strong_count(&call) == 1 {
            self.keep_alone(call);
        }
    }

    /// [`Self::keep`] of a call nothing else seems to hold.
    fn keep_alone(&self, mut call: Arc<Call>) {
        let Some(slot) = Arc::get_mut(&mut call) else { return };
        slot.chain = None;
        slot.posted = None;
        slot.room = None;
        let idle = slot.lend.is_none()
            && slot.target.is_none()
            && !slot.inline.spilled()
            && slot.file.get_mut().is_none()
            && slot.mapped.get_mut().is_none()
            && slot.outcome.get_mut().is_none();
        if !idle {
            return;
        }
        slot.caller = None;
        let Some(call) = self.spare_one.put(call) else { return };
        let rejected = without_interrupts(|| {
            let mut spare = self.spare.lock();
            if spare.len() < SPARE_CALLS {
                spare.push(call);
                None
            } else {
                Some(call)
            }
        });
        drop(rejected);
    }

    /// [`Self::call`], keeping the call (for what it holds after the
    /// answer); its `caller` is the current thread.
    fn call_shared(&self, call: &Arc<Call>) -> Result<Answer, Error> {
        self.submit(call.clone())?;
        self.await_answer(call)
    }

    /// The rest of [`Self::call_shared`]: `call` is queued; sleep until it
    /// is answered.
    #[inline(always)]
    fn await_answer(&self, call: &Arc<Call>) -> Result<Answer, Error> {
        let outcome = match wait_queue::wait_alone(|| call.outcome.lock().is_some()) {
            Ok(()) => without_interrupts(|| call.outcome.lock().take()).unwrap_or(Err(Error::new(EIO))),
            Err(err) => {
                self.give_up(call);
                Err(err)
            }
        };
        if self.ahead.used() && changes_data(call.request.op, call.request.flags) {
            self.ahead.changed();
        }
        outcome
    }

    /// The caller of `call` stops waiting (it is being killed).
    fn give_up(&self, call: &Arc<Call>) {
        let answered = without_interrupts(|| {
            let mut state = self.state.lock();
            call.cancelled.store(true, Ordering::Release);
            if let Some(at) = state.queue.iter().position(|c| Arc::ptr_eq(c, call)) {
                state.queue.remove(at);
                return None;
            }
            if state.is_in_flight(call.request.id) {
                let mut cancel = Call::new(self.request(Op::Cancel, call.request.handle as usize));
                cancel.request.arg = call.request.id;
                cancel.target = Some(call.clone());
                if state.alive {
                    state.queue.push_back(Arc::new(cancel));
                }
                return None;
            }
            call.outcome.lock().take()
        });
        match answered {
            Some(outcome) => self.discard(call.request.op, outcome),
            None => {
                self.daemon.wake(1);
            }
        }
    }

    /// An answer nobody will read: give back what it holds (a handle the
    /// daemon opened is closed; a handed-over file is dropped).
    fn discard(&self, op: Op, outcome: Result<Answer, Error>) {
        if let Ok(Answer::Value(handle, _)) = outcome
            && matches!(op, Op::Open | Op::Dup)
        {
            let _ = self.close(handle);
        }
    }

    /// The daemon's `read` on its socket: the next request with its inline
    /// payload (at most `capacity` bytes), handed to `out` (a copy into the
    /// daemon's buffer). If `out` fails (a bad buffer), that call fails
    /// with `EIO` and so does the read, with `out`'s error.
    pub fn next_request(
        &self,
        capacity: usize,
        flags: usize,
        out: impl FnOnce(&[u8], &[u8]) -> Result<(), Error>,
    ) -> Result<usize, Error> {
        if capacity < REQUEST_SIZE {
            return Err(Error::new(EINVAL));
        }
        loop {
            let mut taken: Option<Result<Arc<Call>, Error>> = None;
            let mut take = || {
                let mut state = self.state.lock();
                let Some(front) = state.queue.front() else {
                    if !state.alive {
                        taken = Some(Err(Error::new(ENODEV)));
                    }
                    return !state.alive;
                };
                if REQUEST_SIZE + front.input().len() > capacity {
                    taken = Some(Err(Error::new(EINVAL)));
                    return true;
                }
                let call = state.queue.pop_front().expect("front exists");
                if call.request.op.expects_answer() {
                    state.in_flight.push(call.clone());
                }
                taken = Some(Ok(call));
                true
            };
            self.daemon.wait_unless_nonblocking(flags, &mut take)?;
            let call = taken.expect("a request or an error")?;
            match self.deliver(&call) {
                Ok(head) => {
                    let input = call.input();
                    if let Err(err) = out(&head, input) {
                        self.fail_taken(&call, Error::new(EIO));
                        return Err(err);
                    }
                    let len = REQUEST_SIZE + input.len();
                    self.keep(call);
                    return Ok(len);
                }
                Err(err) => {
                    // This call cannot reach the daemon: fail it, try the next.
                    crate::caller_log!(Warn, "scheme {}: cannot deliver {:?}: {err}", self.name, call.request.op);
                    self.fail_taken(&call, err);
                }
            }
        }
    }

    /// A call taken off the queue that never reached the daemon: it leaves
    /// the in-flight set (and the daemon, with its pages) and fails.
    fn fail_taken(&self, call: &Arc<Call>, err: Error) {
        let removed = without_interrupts(|| self.state.lock().take_in_flight(call.request.id).is_some());
        unmap_lent(call);
        if removed {
            self.complete(call, Err(err));
        }
    }

    /// Put `call` in the daemon's hands: move a sent fd into its table, map
    /// lent pages into it, encode the request (its inline input follows
    /// it: [`Call::input`]).
    #[inline]
    fn deliver(&self, call: &Arc<Call>) -> Result<[u8; REQUEST_SIZE], Error> {
        // Most calls move nothing into the daemon (only a `SendFd` has a
        // file): a look at three fields says so, without the file's lock.
        if call.target.is_none() && call.lend.is_none() && call.request.op != Op::SendFd {
            return Ok(call.request.encode());
        }
        self.deliver_moving(call)
    }

    /// [`Self::deliver`] of a call that cancels another, sends an fd or
    /// lends pages.
    #[inline(never)]
    fn deliver_moving(&self, call: &Arc<Call>) -> Result<[u8; REQUEST_SIZE], Error> {
        let mut request = call.request;
        if let Some(target) = &call.target {
            // The cancelled call leaves the daemon now, pages and all.
            without_interrupts(|| self.state.lock().take_in_flight(target.request.id));
            unmap_lent(target);
        }
        if let Some(file) = without_interrupts(|| call.file.lock().take()) {
            request.arg = file::insert_current(file, false)? as u64;
        }
        if let Some(lend) = &call.lend {
            let process = scheduler::current().process.clone().ok_or(Error::new(EPERM))?;
            let frames: Vec<(PhysFrame, FrameKind)> = lend.pages.iter().map(|p| (p.frame, p.kind)).collect();
            let prot = if lend.daemon_writes { Prot::RW } else { Prot::R };
            let base = process
                .with_space(|space| space.map_frames(&frames, prot, true, 0, Placement::Hint))
                .ok_or(Error::new(ENOMEM))??;
            let len = frames.len() as u64 * PAGE_SIZE;
            *call.mapped.lock() = Some(Mapped { pid: process.pid, addr: base, len });
            request.addr = base + lend.offset as u64;
        }
        Ok(request.encode())
    }

    /// The daemon's `write` on its socket: one response (or notification),
    /// from kernel memory.
    pub fn answer(&self, buf: &[u8]) -> Result<usize, Error> {
        let (response, data) = Response::decode(buf).map_err(|err| self.malformed(err))?;
        self.answer_decoded(&response, buf.len(), Inline::Kernel(data))
    }

    /// The daemon's `write` on its socket, from its own buffer: the fixed
    /// part is read first, and any inline data is copied once, straight
    /// into what the caller gets.
    pub fn answer_user(&self, buf: UserIn) -> Result<usize, Error> {
        let mut head = [0u8; RESPONSE_SIZE];
        if buf.len() < RESPONSE_SIZE {
            return Err(self.malformed(scheme_proto::DecodeError::Short));
        }
        buf.prefix(RESPONSE_SIZE).copy_to_kernel(&mut head)?;
        let data = buf.skip(RESPONSE_SIZE);
        let response = Response::decode_head(&head, data.len()).map_err(|err| self.malformed(err))?;
        self.answer_decoded(&response, buf.len(), Inline::User(data))
    }

    fn malformed(&self, err: scheme_proto::DecodeError) -> Error {
        crate::caller_log!(Warn, "scheme {}: daemon wrote a malformed response ({err})", self.name);
        Error::new(EINVAL)
    }

    fn answer_decoded(&self, response: &Response, written: usize, data: Inline) -> Result<usize, Error> {
        match response.kind {
            Kind::Nop => return Ok(written),
            Kind::Takes => {
                self.takes_chains.store(response.flags & TAKES_CHAINS != 0, Ordering::Relaxed);
                return Ok(written);
            }
            Kind::Data => return self.received(response.value as usize, &data).map(|()| written),
            Kind::Event => {
                let flags = EventFlags::from_bits_truncate(response.flags as usize);
                if flags.contains(EventFlags::EVENT_WRITE) {
                    self.posted.room_told(response.value as usize, response.id);
                }
                event::trigger(key_of(self), response.value as usize, flags);
                return Ok(written);
            }
            Kind::Value | Kind::Error | Kind::Fd => {}
        }
        let call = without_interrupts(|| self.state.lock().take_in_flight(response.id)).ok_or_else(|| {
            crate::caller_log!(
                Warn,
                "scheme {}: daemon answered request {} that is not waiting",
                self.name,
                response.id
            );
            Error::new(EINVAL)
        })?;
        unmap_lent(&call);
        let (outcome, reply) = match self.interpret(&call, response, data) {
            Ok(Ok(outcome)) => (outcome, Ok(written)),
            // The daemon's buffer could not be read: its write fails, and
            // so does the call it answered (it is out of the daemon's hands).
            Ok(Err(err)) => (Err(Error::new(EIO)), Err(err)),
            Err(Garbage { why, errno }) => {
                crate::caller_log!(
                    Warn,
                    "scheme {}: bad answer to {:?} from pid {}: {why}; the caller gets EIO",
                    self.name,
                    call.request.op,
                    call.request.pid
                );
                (Err(Error::new(EIO)), Err(Error::new(errno)))
            }
        };
        self.complete(&call, outcome);
        self.keep(call);
        reply
    }

    /// What `response` means for `call`, or why it is garbage.
    /// `Ok(Err(_))`: the answer is sound but its data could not be read
    /// from the daemon's buffer.
    #[allow(clippy::type_complexity)]
    fn interpret(
        &self,
        call: &Call,
        response: &Response,
        data: Inline,
    ) -> Result<Result<Result<Answer, Error>, Error>, Garbage> {
        let request = &call.request;
        if let Some(stream) = &call.room {
            // Any answer ends a stream's write; a success or an error
            // carries the daemon's room.
            let room = if matches!(response.kind, Kind::Value | Kind::Error) { response.flags } else { 0 };
            stream.write_answered(room, call.posted.is_some().then_some(request.len as usize));
        }
        let value = usize::try_from(response.value).map_err(|_| Garbage::invalid("value out of range"))?;
        match response.kind {
            Kind::Error => Ok(Ok(Err(answered_errno(value)?))),
            Kind::Fd => {
                if !matches!(request.op, Op::Open | Op::Dup) {
                    return Err(Garbage::invalid("an fd answers only open and dup"));
                }
                let file =
                    file::take_current(file::Fd(value)).map_err(|_| Garbage { why: "no such fd", errno: EBADF })?;
                Ok(Ok(Ok(Answer::File(file))))
            }
            Kind::Value if request.op == Op::Chain => {
                let count = self.chain_answers(call, value, &data)?;
                Ok(count.map(|count| Ok(Answer::Value(count, Data::new()))))
            }
            Kind::Value if request.op == Op::Fmap => {
                // The daemon answered an address of its own: the caller
                // gets the frames behind it (taken here, in the daemon).
                let flags = MapFlags::from_bits_truncate(request.flags as usize);
                let write = flags.contains(MapFlags::PROT_WRITE) && flags.contains(MapFlags::MAP_SHARED);
                let process = scheduler::current().process.clone().ok_or(Garbage::invalid("no daemon process"))?;
                let frames = process
                    .with_space(|space| space.frames_of(value as u64, request.len, write))
                    .ok_or(Garbage::invalid("the daemon has no address space"))?
                    .map_err(|_| Garbage::invalid("fmap answer is not mapped memory of the daemon's"))?;
                Ok(Ok(super::Frames::new(frames).map(Answer::Frames)))
            }
            _ => {
                let wanted = request.len as usize;
                let ok = match request.op {
                    Op::Read if call.lend.is_some() => data.is_empty() && value <= wanted,
                    Op::Read => data.len() <= wanted && value == data.len(),
                    Op::WriteRead => data.len() <= request.arg as usize && value == data.len(),
                    Op::Write => data.is_empty() && value <= wanted,
                    Op::Fstat => data.len() == size_of::<Stat>(),
                    Op::Fstatvfs => data.len() == size_of::<StatVfs>(),
                    Op::Fpath => value == data.len(),
                    _ => data.is_empty(),
                };
                if !ok {
                    return Err(Garbage::invalid("value or data does not fit the request"));
                }
                match request.op {
                    Op::Open if call.chain.is_some() => self.chain_opened_with(value, response.flags),
                    Op::Open => self.opened_with(value, response.flags),
                    // A dup's handle is read and written as it comes,
                    // unless it is a stream's (an accepted connection).
                    Op::Dup if response.flags & OPEN_POSTED_WITHIN_ROOM != 0 => {
                        self.opened_with(value, response.flags & !(OPEN_READ_AHEAD | OPEN_POSTED_WRITES))
                    }
                    Op::Dup => self.opened_with(value, 0),
                    _ => {}
                }
                Ok(data.to_data().map(|bytes| Ok(Answer::Value(value, bytes))))
            }
        }
    }

    /// The answer to an `Op::Chain` request: `count` link answers in
    /// `data`, recorded in the chain's outcomes (all of them, or none if
    /// one makes no sense). `Ok(Err(_))`: the daemon's buffer could not be
    /// read.
    fn chain_answers(&self, call: &Call, count: usize, data: &Inline) -> Result<Result<usize, Error>, Garbage> {
        let run = call.chain.as_ref().ok_or(Garbage::invalid("a chain's answer without a chain"))?;
        // The answers in kernel memory: on the stack when small.
        let mut here = [0u8; CHAIN_ANSWER_ON_STACK];
        let heap: Vec<u8>;
        let bytes: &[u8] = match data {
            Inline::Kernel(bytes) => bytes,
            Inline::User(buf) if buf.len() <= here.len() => match buf.copy_to_kernel(&mut here[..buf.len()]) {
                Ok(()) => &here[..buf.len()],
                Err(err) => return Ok(Err(err)),
            },
            Inline::User(buf) => match buf.to_vec() {
                Ok(bytes) => {
                    heap = bytes;
                    &heap
                }
                Err(err) => return Ok(Err(err)),
            },
        };
        let mut answers = scheme_proto::answers(bytes);
        let bad = |_| Garbage::invalid("a chain's answers do not decode");
        let (open, open_data) =
            answers.next().ok_or(Garbage::invalid("a chain answered with no link"))?.map_err(bad)?;
        if !open_data.is_empty() {
            return Err(Garbage::invalid("data on an open's answer"));
        }
        if open.kind == Kind::Fd {
            // A file of the daemon's for the open: nothing can follow it.
            if count != 1 || answers.next().is_some() {
                return Err(Garbage::invalid("links answered after an open that gave an fd"));
            }
            let file = file::take_current(file::Fd(open.value as usize))
                .map_err(|_| Garbage { why: "no such fd", errno: EBADF })?;
            without_interrupts(|| run.progress.lock().outcomes.push(Ok(Answer::File(file))));
            return Ok(Ok(1));
        }
        let open_flags = without_interrupts(|| {
            let mut progress = run.progress.lock();
            let progress = &mut *progress;
            let before = progress.outcomes.len();
            let recorded = record_chain_answers(progress, count, (open, open_data), answers);
            if recorded.is_err() {
                progress.outcomes.truncate(before);
            }
            recorded
        })?;
        if let Some(flags) = open_flags {
            // A stream's room the open's answer told came before the
            // chain's writes: it starts with none (its next write's answer
            // tells it).
            let flags = flags & !(u32::MAX << scheme_proto::OPEN_ROOM_SHIFT);
            self.chain_opened_with(open.value as usize, flags);
        }
        Ok(Ok(count))
    }

    /// The daemon opened `handle` with these answer flags: what the kernel
    /// may do on it. (A handle number is new to the caller, but the daemon
    /// may have given it before: what a closed handle allowed goes.)
    fn opened_with(&self, handle: usize, flags: u32) {
        if flags & OPEN_READ_AHEAD != 0 {
            self.ahead.enable(handle);
        } else {
            self.ahead.forget(handle);
        }
        let from_offset = flags & OPEN_ROOM_FROM_OFFSET != 0;
        if flags & OPEN_POSTED_WRITES != 0 {
            self.posted.enable(handle, None, false);
        } else if flags & OPEN_POSTED_WITHIN_ROOM != 0 {
            self.posted.enable(handle, Some(scheme_proto::open_room(flags)), from_offset);
        } else {
            self.posted.forget(handle);
        }
        if flags & OPEN_POSTED_WITHIN_ROOM != 0 && flags & OPEN_POSTED_WRITES == 0 && !from_offset {
            self.pushed.enable(handle);
        } else {
            self.pushed.forget(handle);
        }
    }

    /// [`Self::opened_with`] for a handle a chain opened. Its daemon is
    /// not taken at its word that it may hand over the stream's bytes
    /// ([`super::pushed_reads`]): the chain's reads go to the daemon
    /// after its open's answer (or after its own answer, for the links
    /// left over) without the count of reads out that keeps bytes handed
    /// over from coming before what those reads get.
    /// A disk's room (`OPEN_ROOM_FROM_OFFSET`) is used up by the chain's
    /// links, which may have moved the handle's offset.
    fn chain_opened_with(&self, handle: usize, flags: u32) {
        self.opened_with(handle, flags);
        self.pushed.forget(handle);
        self.posted.moved(handle);
    }

    /// `handle` is closed: its read-ahead, posted writes and bytes handed
    /// over are let go of.
    fn forget_records(&self, handle: usize) {
        self.ahead.forget(handle);
        self.posted.forget(handle);
        self.pushed.forget(handle);
    }

    /// Queue a write of `buf` (at most `INLINE_MAX` bytes) on `handle`
    /// without waiting for its answer, under the reservation `posted`
    /// ([`super::posted_writes`]): the caller is told all of it was written.
    fn post_write(&self, handle: usize, buf: UserIn, flags: usize, posted: Arc<Posted>) -> Result<usize, Error> {
        let input = match Inline::User(buf).to_data() {
            Ok(input) => input,
            Err(err) => {
                self.posted.unpost(&posted);
                return Err(err);
            }
        };
        let request = self.inline_request(Op::Write, handle, flags, input.len());
        let len = input.len();
        let call = self.call_for(request, None, |call| {
            call.inline = input;
            call.posted = Some(posted.clone());
        });
        if let Err(err) = self.submit(call) {
            self.posted.unpost(&posted);
            return Err(err);
        }
        // A buffer read ahead before now must not hide the write from a
        // read that comes after it returned.
        if self.ahead.used() {
            self.ahead.changed();
        }
        Ok(len)
    }

    /// A write on a scheme some handle of which posts: its outcome if
    /// it was posted (or counted for a stream's room, or a posted write's
    /// failure was reported), `None` if it is an ordinary write.
    #[inline(never)]
    fn write_on_posting_scheme(&self, handle: usize, buf: UserIn, flags: usize) -> Option<Result<usize, Error>> {
        match self.posted.before_write(handle, !buf.is_empty() && buf.len() <= INLINE_MAX) {
            Err(err) => Some(Err(err)),
            Ok(Write::Plain) => None,
            Ok(Write::Post(posted)) => {
                if let Err(err) = self.settle(handle) {
                    self.posted.unpost(&posted);
                    return Some(Err(err));
                }
                Some(self.post_write(handle, buf, flags, posted))
            }
            Ok(Write::Stream(stream)) => Some(self.stream_write(handle, buf, flags, stream)),
        }
    }

    /// A write on a stream's handle ([`super::posted_writes`]): posted if
    /// it fits the room the daemon reported, else an ordinary call whose
    /// answer reports the room again.
    fn stream_write(&self, handle: usize, buf: UserIn, flags: usize, stream: Arc<Posted>) -> Result<usize, Error> {
        self.settle(handle)?;
        let len = buf.len();
        let mut input = if len <= INLINE_MAX { Some(Inline::User(buf).to_data()?) } else { None };
        let posted = self.posted.post_within_room(&stream, len, || {
            let input = input.take().unwrap_or_else(Data::new);
            let request = self.inline_request(Op::Write, handle, flags, input.len());
            self.submit(self.call_for(request, None, |call| {
                call.inline = input;
                call.posted = Some(stream.clone());
                call.room = Some(stream.clone());
            }))
        })?;
        if posted {
            // (A daemon that also lets the kernel read ahead on a stream
            // sees its read-ahead dropped, as for a file.)
            if self.ahead.used() {
                self.ahead.changed();
            }
            return Ok(len);
        }
        // Counted as a write out that was not posted until its answer.
        let call = match input {
            Some(input) => {
                let request = self.inline_request(Op::Write, handle, flags, input.len());
                self.new_call(request, |call| {
                    call.inline = input;
                    call.room = Some(stream.clone());
                })
            }
            None => {
                let mut call = self.lent_write_call(handle, buf, flags).inspect_err(|_| {
                    self.posted.plain_write_not_sent(&stream);
                })?;
                call.room = Some(stream.clone());
                Arc::new(call)
            }
        };
        if let Err(err) = self.submit(call.clone()) {
            self.posted.plain_write_not_sent(&stream);
            return Err(err);
        }
        let outcome = self.await_answer(&call);
        self.keep(call);
        outcome?.value()
    }

    /// The daemon handed over `data`, bytes that arrived on stream
    /// `handle` ([`super::pushed_reads`]): taken whole, and the handle
    /// reported readable; or refused (`EAGAIN`, `EBADF`: the daemon keeps
    /// them for a read).
    fn received(&self, handle: usize, data: &Inline) -> Result<(), Error> {
        let bytes = data.to_data()?;
        self.pushed.push(handle, &bytes)?;
        event::trigger(key_of(self), handle, EventFlags::EVENT_READ);
        Ok(())
    }

    /// A read of bytes a stream's daemon handed over ([`Self::received`]):
    /// `bytes` to the caller; if it could not take them, they go back.
    fn hand_over_received(&self, handle: usize, bytes: &[u8], again: bool, buf: UserOut) -> Result<usize, Error> {
        if let Err(err) = buf.prefix(bytes.len()).copy_from_kernel(bytes) {
            self.pushed.give_back(handle, bytes);
            return Err(err);
        }
        if again {
            // The daemon still has bytes it reported once: report them again.
            event::trigger(key_of(self), handle, EventFlags::EVENT_READ);
        }
        Ok(bytes.len())
    }

    /// A read on a scheme some handle of which is a stream's: from the
    /// bytes its daemon handed over, if the handle is one and has some.
    #[inline(never)]
    fn read_stream(&self, handle: usize, buf: UserOut, flags: usize) -> Result<usize, Error> {
        match self.pushed.before_read(handle, buf.len()) {
            pushed_reads::Read::Daemon => self.read_from_daemon(handle, buf, flags),
            pushed_reads::Read::Held { bytes, again } => self.hand_over_received(handle, &bytes, again, buf),
            pushed_reads::Read::Out(record) => {
                let read = self.read_from_daemon(handle, buf, flags);
                self.pushed.read_done(&record);
                read
            }
        }
    }

    /// A read that goes to the daemon: read ahead when the handle allows.
    #[inline(always)]
    fn read_from_daemon(&self, handle: usize, buf: UserOut, flags: usize) -> Result<usize, Error> {
        if let Some(plan) = self.ahead.plan(handle, buf.len(), INLINE_MAX) {
            return self.read_planned(handle, buf, flags, plan);
        }
        self.read_plain(handle, buf, flags)
    }

    /// Hand `outcome` to the caller of `call` (or discard it if the caller
    /// is gone).
    fn complete(&self, call: &Arc<Call>, outcome: Result<Answer, Error>) {
        if let Some(run) = &call.chain {
            self.chain_advance(run, call.request.op, outcome);
            return;
        }
        if let Some(posted) = &call.posted {
            let len = call.request.len as usize;
            if let Some(err) = self.posted.finish(posted, outcome.and_then(Answer::value), len) {
                crate::caller_log!(
                    Warn,
                    "scheme {}: a posted write of {len} bytes to handle {} failed: {err} (reported on its next write or fsync)",
                    self.name,
                    call.request.handle
                );
            }
            if self.ahead.used() {
                self.ahead.changed();
            }
            return;
        }
        // The `outcome` lock orders this with `give_up`, which marks the
        // call cancelled before it looks for an outcome under that lock:
        // either it takes this outcome, or this sees it cancelled.
        let unclaimed = without_interrupts(|| {
            let mut slot = call.outcome.lock();
            if call.cancelled.load(Ordering::Acquire) {
                return Some(outcome);
            }
            *slot = Some(outcome);
            // Under the lock the caller checks with: see `wait_alone`.
            if let Some(caller) = &call.caller {
                scheduler::wake(caller);
            }
            None
        });
        if let Some(outcome) = unclaimed {
            self.discard(call.request.op, outcome);
        }
    }

    /// Open `path` and run `steps` on the handle, as one chain: each call
    /// is queued for the daemon when the one before is answered (in the
    /// daemon's own write, so its next read takes it at once), and the
    /// caller sleeps once for all of them. A daemon that takes chains gets
    /// the open and the steps whose requests and answers fit inline as one
    /// `Op::Chain` request, and the rest (those left over, or not run by the
    /// daemon) one by one after it. A chain ends at the first failure.
    /// Paths and data are inline (the caller checks the sizes). `then` gets
    /// the open's result and what the steps did.
    pub fn chain_open<R>(
        &self,
        path: &[u8],
        flags: usize,
        steps: impl Iterator<Item = Step>,
        then: impl FnOnce(Result<Opened, Error>, Chained) -> R,
    ) -> R {
        if path.len() > INLINE_MAX {
            return then(Err(Error::new(abi::syscall::error::ENAMETOOLONG)), Chained { steps: &[] });
        }
        let mut request = self.inline_request(Op::Open, 0, flags, path.len());
        let spare = without_interrupts(|| self.spare_chain.lock().take());
        let mut run = spare.filter(|run| Arc::strong_count(run) == 1).unwrap_or_else(|| Arc::new(ChainRun::new()));
        let as_one = self.takes_chains.load(Ordering::Relaxed) && LINK_SIZE + path.len() <= INLINE_MAX;
        let changes = {
            let fresh = Arc::get_mut(&mut run).expect("a chain not shared yet");
            fresh.reset(&request);
            let progress = fresh.progress.get_mut();
            for step in steps {
                progress.steps.push_back(step);
            }
            progress.outcomes.reserve(progress.steps.len() + 1);
            if as_one {
                progress.carried = chain_links(&request, path, &progress.steps, fresh.flags, &mut fresh.links);
                (request.op, request.len) = (Op::Chain, fresh.links.len() as u64);
            }
            changes_data(Op::Open, flags as u32) || progress.steps.iter().any(|step| matches!(step, Step::Write(_)))
        };
        let call = self.call_for(request, None, |call| {
            if !as_one {
                call.inline = Data::from_slice(path);
            }
            call.chain = Some(run.clone());
        });
        if let Err(err) = self.submit(call) {
            return then(Err(err), Chained { steps: &[] });
        }
        let finished = || without_interrupts(|| run.progress.lock().finished);
        let waited = run.done.wait_until(finished, 0);
        if changes {
            self.ahead.changed();
        }
        if let Err(err) = waited {
            // Killed: the chain finishes by itself (closing what it opened),
            // unless it did already, in which case that is ours to do.
            let leftover = without_interrupts(|| {
                let mut progress = run.progress.lock();
                progress.cancelled = true;
                (progress.finished && !progress.closed).then_some(progress.handle).flatten()
            });
            if let Some(handle) = leftover {
                let _ = self.close(handle);
            }
            return then(Err(err), Chained { steps: &[] });
        }
        let mut outcomes = without_interrupts(|| core::mem::take(&mut run.progress.lock().outcomes));
        let result = match outcomes.first_mut() {
            None => then(Err(Error::new(EIO)), Chained { steps: &[] }),
            Some(open) => {
                let opened = core::mem::replace(open, Err(Error::new(EIO))).and_then(Self::opened);
                then(opened, Chained { steps: &outcomes[1..] })
            }
        };
        // Kept for the next chain if its links have let go of it (they
        // have, unless a daemon on another CPU still holds the last one).
        if let Some(kept) = Arc::get_mut(&mut run) {
            outcomes.clear();
            kept.progress.get_mut().outcomes = outcomes;
            let replaced = without_interrupts(|| self.spare_chain.lock().replace(run));
            drop(replaced);
        }
        result
    }

    /// A link of `run` was answered (or failed): record it, then queue the
    /// next link at the front of the daemon's queue, or finish the chain.
    fn chain_advance(&self, run: &Arc<ChainRun>, op: Op, outcome: Result<Answer, Error>) {
        // Made here, in whatever process answers: the caller's identity
        // comes from the chain.
        let request = |op: Op, handle: usize| {
            let mut request = Request::new(self.next_id.fetch_add(1, Ordering::Relaxed), op);
            request.handle = handle as u64;
            (request.pid, request.uid, request.gid) = (run.pid, run.uid, run.gid);
            request
        };
        let (queued, finished, closed) = without_interrupts(|| {
            let mut state = self.state.lock();
            let mut progress = run.progress.lock();
            let was_closed = progress.closed;
            progress.carried = 0;
            let ok = match (op, outcome) {
                // The daemon answered `count` links of a chain request: their
                // outcomes are recorded already (`chain_answers`).
                (Op::Chain, Ok(Answer::Value(count, _))) => {
                    let first = progress.outcomes.len() - count;
                    if let Some(Ok(Answer::Value(handle, _))) = progress.outcomes.get(first) {
                        progress.handle = Some(*handle);
                    }
                    for _ in 1..count {
                        if let Some(Step::Close) = progress.steps.pop_front() {
                            progress.closed = true;
                        }
                    }
                    matches!(progress.outcomes.last(), Some(Ok(Answer::Value(..))))
                }
                (op, outcome) => {
                    if op == Op::Open
                        && let Ok(Answer::Value(handle, _)) = &outcome
                    {
                        progress.handle = Some(*handle);
                    }
                    // (A chain request fails whole: its open failed.)
                    let ok = outcome.is_ok();
                    progress.outcomes.push(outcome);
                    ok
                }
            };
            let mut queued = false;
            let next = match (ok && !progress.cancelled && !progress.closed && state.alive, progress.handle) {
                (true, Some(handle)) => progress.steps.pop_front().map(|step| (handle, step)),
                _ => None,
            };
            if let Some((handle, step)) = next {
                queued = true;
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                let mut link = step.link(run.flags).0.request(id, &Request::new(0, Op::Chain), handle as u64);
                (link.pid, link.uid, link.gid) = (run.pid, run.uid, run.gid);
                let call = self.call_for(link, None, |call| match step {
                    Step::Write(data) => {
                        call.inline = Data::from_vec(data);
                        call.chain = Some(run.clone());
                    }
                    Step::Close => {
                        // No answer comes: it is done once queued, and it
                        // ends the chain (nothing can follow on the handle).
                        progress.closed = true;
                        progress.outcomes.push(Ok(Answer::Value(0, Data::new())));
                    }
                    _ => call.chain = Some(run.clone()),
                });
                let more = call.chain.is_some();
                state.queue.push_front(call);
                if more {
                    // (Not a close: the handle is open still.)
                    return (true, false, None);
                }
            }
            if !state.alive && ok && progress.handle.is_some() && !progress.steps.is_empty() {
                progress.outcomes.push(Err(Error::new(EIO)));
            }
            progress.finished = true;
            // A caller gone leaves its handle to be closed here.
            if progress.cancelled
                && !progress.closed
                && state.alive
                && let Some(handle) = progress.handle
            {
                progress.closed = true;
                state.queue.push_back(self.call_for(request(Op::Close, handle), None, |_| ()));
                queued = true;
            }
            let closed = if progress.closed && !was_closed { progress.handle } else { None };
            (queued, true, closed)
        });
        // The chain closed its handle (a link of its own, or for a caller
        // gone): what the kernel kept for it goes, as on a close. Handle
        // numbers are not given out again, so a record left behind would
        // stay for the daemon's life: one per `cat` of a file.
        if let Some(handle) = closed {
            self.forget_records(handle);
        }
        if queued {
            self.daemon.wake(1);
            event::trigger(super::root::key(), self.socket, EventFlags::EVENT_READ);
        }
        if finished {
            run.done.wake_all();
        }
    }

    /// The socket closed: the scheme is gone. Fail everything at once.
    pub fn shutdown(&self) {
        let (queued, in_flight) = without_interrupts(|| {
            let mut state = self.state.lock();
            state.alive = false;
            (core::mem::take(&mut state.queue), core::mem::take(&mut state.in_flight))
        });
        self.ahead.clear();
        if let Some(namespace) = self.namespace.upgrade() {
            namespace.remove(&self.name, key_of(self));
        }
        let failed = queued.len() + in_flight.len();
        for call in queued.into_iter().chain(in_flight) {
            unmap_lent(&call);
            if call.request.op.expects_answer() {
                self.complete(&call, Err(Error::new(EIO)));
            }
        }
        self.daemon.wake_all();
        // Those who only watch its files hear of it too.
        event::trigger_scheme_gone(key_of(self));
        log::info!("scheme {}: unregistered (its socket closed; {failed} pending calls failed)", self.name);
    }

    /// A call that moves no data.
    fn simple(&self, op: Op, handle: usize, flags: u32, arg: u64) -> Result<usize, Error> {
        let mut request = self.request(op, handle);
        request.flags = flags;
        request.arg = arg;
        self.call(request, |_| ())?.value()
    }

    /// A call whose input (a path, a name, small data) travels inline.
    fn with_input(&self, op: Op, handle: usize, flags: usize, input: &[u8]) -> Result<Answer, Error> {
        if input.len() > INLINE_MAX {
            return Err(Error::new(abi::syscall::error::ENAMETOOLONG));
        }
        self.with_owned_input(op, handle, flags, Data::from_slice(input))
    }

    /// [`Self::with_input`] with the input already copied into the kernel.
    fn with_owned_input(&self, op: Op, handle: usize, flags: usize, input: Data) -> Result<Answer, Error> {
        if input.len() > INLINE_MAX {
            return Err(Error::new(abi::syscall::error::ENAMETOOLONG));
        }
        let request = self.inline_request(op, handle, flags, input.len());
        self.call(request, |call| call.inline = input)
    }

    fn opened(answer: Answer) -> Result<Opened, Error> {
        match answer {
            Answer::Value(handle, _) => Ok(Opened::Handle(handle)),
            Answer::File(file) => Ok(Opened::File(file)),
            Answer::Frames(_) => Err(Error::new(EIO)),
        }
    }

    /// A read's inline data to the caller's buffer; if that fails, the
    /// data was not delivered, so not consumed (where the daemon can seek).
    #[inline]
    fn hand_over(&self, handle: usize, data: &[u8], buf: UserOut) -> Result<usize, Error> {
        if let Err(err) = buf.prefix(data.len()).copy_from_kernel(data) {
            let _ = self.seek(handle, -(data.len() as isize), abi::syscall::SEEK_CUR);
            return Err(err);
        }
        Ok(data.len())
    }

    /// A call whose output comes back inline.
    fn output(&self, op: Op, handle: usize, flags: usize, len: usize) -> Result<Data, Error> {
        let mut request = self.request(op, handle);
        request.flags = flags as u32;
        request.len = len as u64;
        self.call(request, |_| ())?.data()
    }

    /// Read into a large buffer by lending its pages (the daemon writes
    /// them; stand-ins for partial pages are copied back after).
    fn lent_read(&self, handle: usize, buf: UserOut, flags: usize) -> Result<usize, Error> {
        let buf = buf.prefix(buf.len().min(LEND_MAX));
        let call = Arc::new(self.lent_call(Op::Read, handle, Lend::new(buf.addr(), buf.len(), None)?, flags));
        let n = self.call_shared(&call)?.value()?;
        if let Some(lend) = &call.lend {
            lend.copy_back(buf, n)?;
        }
        Ok(n)
    }

    /// Write from a large buffer by lending its pages (the daemon reads
    /// them; stand-ins for partial pages are filled first).
    fn lent_write(&self, handle: usize, buf: UserIn, flags: usize) -> Result<usize, Error> {
        let call = Arc::new(self.lent_write_call(handle, buf, flags)?);
        self.call_shared(&call)?.value()
    }

    /// The call of a [`Self::lent_write`] (of its first `LEND_MAX` bytes).
    fn lent_write_call(&self, handle: usize, buf: UserIn, flags: usize) -> Result<Call, Error> {
        let buf = buf.prefix(buf.len().min(LEND_MAX));
        Ok(self.lent_call(Op::Write, handle, Lend::new(buf.addr(), buf.len(), Some(buf))?, flags))
    }

    /// A read of a handle that is not read ahead, or not now: inline when
    /// small, else lent.
    #[inline]
    fn read_plain(&self, handle: usize, buf: UserOut, flags: usize) -> Result<usize, Error> {
        if buf.len() <= INLINE_MAX {
            let data = self.output(Op::Read, handle, flags, buf.len())?;
            return self.hand_over(handle, &data, buf);
        }
        self.lent_read(handle, buf, flags)
    }

    /// A read on a read-ahead handle, as [`ReadAhead::plan`] laid it out:
    /// what the buffer holds, then (unless that was all) the rest from the
    /// daemon, through a fill or a plain read. Bytes from the buffer are
    /// the caller's even if the rest fails (a short read).
    fn read_planned(&self, handle: usize, buf: UserOut, flags: usize, plan: Plan) -> Result<usize, Error> {
        let mut served = 0;
        if let Some((buffer, from, n)) = plan.serve {
            if let Err(err) = buffer.copy_out(from, buf.prefix(n)) {
                self.ahead.unclaim(handle, &buffer, from, n);
                if plan.fill {
                    self.ahead.fill_failed(handle, None);
                }
                return Err(err);
            }
            served = n;
            if plan.done {
                return Ok(n);
            }
        }
        if plan.give_back > 0
            && let Err(err) = self.seek_back(handle, plan.give_back)
        {
            if plan.fill {
                self.ahead.fill_failed(handle, None);
            }
            return Err(err);
        }
        let rest = buf.skip(served);
        let got = if plan.fill {
            self.fill(handle, rest, flags)
        } else {
            let got = self.read_plain(handle, rest, flags);
            self.ahead.read_done(handle, rest.len(), *got.as_ref().unwrap_or(&0));
            got
        };
        match got {
            Ok(n) => Ok(served + n),
            Err(_) if served > 0 => Ok(served),
            Err(err) => Err(err),
        }
    }

    /// Read `buf` (at most `INLINE_MAX` bytes) by asking the daemon for a
    /// whole window of such reads, into a buffer of kernel frames lent to
    /// it; the caller gets its part, the rest is kept for its next reads.
    fn fill(&self, handle: usize, buf: UserOut, flags: usize) -> Result<usize, Error> {
        let want = buf.len();
        let window = read_ahead::WINDOW / want * want;
        let Some(buffer) = self.ahead.buffer_for_fill(handle) else {
            self.ahead.fill_failed(handle, None);
            return self.read_plain(handle, buf, flags);
        };
        let Some(lend) = Lend::of_frames(buffer.frames(), window) else {
            self.ahead.fill_failed(handle, Some(buffer));
            return self.read_plain(handle, buf, flags);
        };
        let generation = self.ahead.generation();
        let call = Arc::new(self.lent_call(Op::Read, handle, lend, flags));
        let got = match self.call_shared(&call).and_then(Answer::value) {
            Ok(got) => got,
            Err(err) => {
                self.ahead.fill_failed(handle, Some(buffer));
                return Err(err);
            }
        };
        drop(call);
        let given = got.min(want);
        let copied = buffer.copy_out(0, buf.prefix(given));
        // A copy that failed consumed nothing: the bytes stay for the next read.
        let consumed = if copied.is_ok() { given } else { 0 };
        self.ahead.filled(handle, buffer, generation, window, got, consumed);
        copied.map(|()| given)
    }

    /// Before a call that works at the handle's offset: move the daemon's
    /// offset back over what was read ahead and not consumed.
    fn settle(&self, handle: usize) -> Result<(), Error> {
        match self.ahead.give_back(handle) {
            0 => Ok(()),
            back => self.seek_back(handle, back),
        }
    }

    /// A seek, to the daemon: a `SEEK_CUR` seek counts from the caller's
    /// offset, behind the daemon's by what was read ahead.
    fn seek_daemon(&self, handle: usize, offset: isize, whence: usize) -> Result<usize, Error> {
        let back = self.ahead.give_back(handle);
        if back == 0 {
            return self.simple(Op::Seek, handle, whence as u32, offset as u64);
        }
        let adjusted = match whence {
            abi::syscall::SEEK_CUR => offset.checked_sub(back as isize),
            _ => Some(offset),
        };
        adjusted
            .ok_or(Error::new(EINVAL))
            .and_then(|adjusted| self.simple(Op::Seek, handle, whence as u32, adjusted as u64))
            .inspect_err(|_| {
                // The offset did not move: it is still the caller's.
                let _ = self.seek_back(handle, back);
            })
    }

    fn seek_back(&self, handle: usize, back: usize) -> Result<(), Error> {
        let offset = -(back as i64);
        let sought = self.simple(Op::Seek, handle, abi::syscall::SEEK_CUR as u32, offset as u64).map(drop);
        // The daemon saw a seek: a disk's room is used up there too.
        self.posted.moved(handle);
        sought
    }

    fn lent_call(&self, op: Op, handle: usize, lend: Lend, flags: usize) -> Call {
        let mut request = self.request(op, handle);
        request.flags = flags as u32;
        request.payload = Payload::Lent;
        request.len = lend.len as u64;
        let mut call = Call::new(request);
        call.lend = Some(lend);
        call.caller = scheduler::try_current();
        call
    }
}

/// Take the lent pages of `call` out of the daemon, if the current
/// process is the one they were mapped into (`unmap` shoots down any other
/// CPU that has the space loaded). Another process's mapping is left to its
/// exit: its pages stay referenced, so nothing is freed under it.
fn unmap_lent(call: &Call) {
    if call.lend.is_none() {
        return; // nothing was mapped
    }
    let Some(mapped) = without_interrupts(|| call.mapped.lock().take()) else { return };
    let current = scheduler::try_current().and_then(|t| t.process.clone());
    match current {
        Some(process) if process.pid == mapped.pid => {
            let _ = process.with_space(|space| space.unmap(mapped.addr, mapped.len));
        }
        _ => {
            if let Some(owner) = process::get(mapped.pid) {
                log::debug!("lent pages stay in pid {} until it unmaps or exits", owner.pid);
            }
        }
    }
}

/// One page of a lent buffer.
struct LentPage {
    frame: PhysFrame,
    /// Counted RAM (the lend holds a reference), a ramdisk page or device
    /// memory (neither is counted).
    kind: FrameKind,
    /// A stand-in for a page only partly inside the buffer.
    stand_in: bool,
}

/// A caller's buffer, pinned page by page for a daemon to use.
struct Lend {
    pages: Vec<LentPage>,
    /// Where the buffer starts in its first page.
    offset: usize,
    /// The buffer's length.
    len: usize,
    daemon_writes: bool,
}

impl Lend {
    /// Pin the pages of the caller's buffer at `start` (`len` bytes, a
    /// checked `UserIn` or `UserOut`) in the current (calling) process.
    /// With `input`, the daemon reads them (a write); without, it writes
    /// them (a read). Whole pages are the caller's own frames, made present
    /// and, if the daemon writes, private; partial ones are stand-ins
    /// holding just the buffer's bytes (copied from `input`).
    fn new(start: u64, len: usize, input: Option<UserIn>) -> Result<Lend, Error> {
        let daemon_writes = input.is_none();
        let end = start + len as u64;
        let first = start & !(PAGE_SIZE - 1);
        let process = scheduler::current().process.clone().ok_or(Error::new(EPERM))?;
        let mut lend = Lend { pages: Vec::new(), offset: (start - first) as usize, len, daemon_writes };
        let mut page = first;
        while page < end {
            if page >= start && page + PAGE_SIZE <= end {
                let (frame, kind) =
                    process.with_space(|space| space.pin_page(page, daemon_writes)).ok_or(Error::new(EPERM))??;
                if kind == FrameKind::Counted && !frame::try_share(frame) {
                    return Err(Error::new(ENOMEM));
                }
                lend.pages.push(LentPage { frame, kind, stand_in: false });
            } else {
                // Check the caller may use this page as the call will
                // (reading it, or writing it when the answer comes back),
                // so a bad buffer fails before the daemon acts on it.
                process
                    .with_space(|space| space.pin_page(page.max(start), daemon_writes))
                    .ok_or(Error::new(EPERM))??;
                let frame = frame::allocate_user().ok_or(Error::new(ENOMEM))?;
                lend.pages.push(LentPage { frame, kind: FrameKind::Counted, stand_in: true });
                if let Some(buf) = input {
                    let (from, to) = (start.max(page), end.min(page + PAGE_SIZE));
                    let part = buf.skip((from - start) as usize).prefix((to - from) as usize);
                    part.copy_to_kernel(&mut stand_in(frame)[(from - page) as usize..(to - page) as usize])?;
                }
            }
            page += PAGE_SIZE;
        }
        Ok(lend)
    }

    /// The first `len` bytes of kernel frames (a read-ahead buffer) for the
    /// daemon to write: the lend holds its own reference to each. `None`
    /// if a frame's count is full.
    fn of_frames(frames: &[PhysFrame], len: usize) -> Option<Lend> {
        let mut lend = Lend { pages: Vec::new(), offset: 0, len, daemon_writes: true };
        for &frame in &frames[..len.div_ceil(PAGE_SIZE as usize)] {
            if !frame::try_share(frame) {
                return None;
            }
            lend.pages.push(LentPage { frame, kind: FrameKind::Counted, stand_in: false });
        }
        Some(lend)
    }

    /// After a read: copy what the daemon wrote into stand-in pages (the
    /// first `n` bytes of the buffer only) to the caller's memory.
    fn copy_back(&self, buf: UserOut, n: usize) -> Result<(), Error> {
        let start = buf.addr();
        let end = start + n as u64;
        let first = start & !(PAGE_SIZE - 1);
        for (i, page) in self.pages.iter().enumerate() {
            let base = first + i as u64 * PAGE_SIZE;
            let (from, to) = (start.max(base), end.min(base + PAGE_SIZE));
            if !page.stand_in || from >= to {
                continue;
            }
            let part = buf.skip((from - start) as usize).prefix((to - from) as usize);
            part.copy_from_kernel(&stand_in(page.frame)[(from - base) as usize..(to - base) as usize])?;
        }
        Ok(())
    }
}

impl Drop for Lend {
    fn drop(&mut self) {
        for page in &self.pages {
            if page.kind == FrameKind::Counted {
                frame::release(page.frame);
            }
        }
    }
}

/// The bytes of a stand-in frame (ours until the lend is dropped; the
/// daemon writes it only while the caller sleeps).
fn stand_in(frame: PhysFrame) -> &'static mut [u8] {
    let addr: PhysAddr = frame.start_address();
    // SAFETY: a frame from `allocate_user`, held by the lend, visible
    // through the physical map; the only other writer is the daemon, which
    // has it mapped only between delivery and answer, while the caller (the
    // only user of this slice) is asleep.
    unsafe { core::slice::from_raw_parts_mut(phys_to_virt(addr).as_mut_ptr::<u8>(), PAGE_SIZE as usize) }
}

impl KernelScheme for UserScheme {
    fn as_user_scheme(&self) -> Option<&UserScheme> {
        Some(self)
    }

    fn open(&self, path: &str, flags: usize, _caller: &Caller) -> Result<Opened, Error> {
        self.with_input(Op::Open, 0, flags, path.as_bytes()).and_then(Self::opened)
    }

    fn read(&self, handle: usize, buf: &mut [u8], flags: usize) -> Result<usize, Error> {
        self.settle(handle)?;
        let data = self.output(Op::Read, handle, flags, buf.len().min(INLINE_MAX));
        self.posted.moved(handle);
        let data = data?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    fn write(&self, handle: usize, buf: &[u8], flags: usize) -> Result<usize, Error> {
        self.settle(handle)?;
        self.with_input(Op::Write, handle, flags, &buf[..buf.len().min(INLINE_MAX)])?.value()
    }

    fn read_user(&self, handle: usize, buf: UserOut, flags: usize) -> Result<usize, Error> {
        if self.pushed.used() {
            return self.read_stream(handle, buf, flags);
        }
        let read = self.read_from_daemon(handle, buf, flags);
        // A disk's room for posted writes counts from its offset.
        self.posted.moved(handle);
        read
    }

    /// Both small: one request ([`Op::WriteRead`]), answered as a read; the
    /// daemon parks its read part as it would a read. Otherwise the two
    /// calls.
    fn write_read_user(&self, handle: usize, out: UserIn, buf: UserOut, flags: usize) -> Result<usize, Error> {
        self.settle(handle)?;
        // A stream whose writes post goes the two-call way: its write's
        // answer tells the daemon's room (and a posted write's failure is
        // reported by it, as by any write).
        let stream = self.posted.used() && matches!(self.posted.before_write(handle, false)?, Write::Stream(_));
        if stream || out.is_empty() || buf.is_empty() || out.len() > INLINE_MAX || buf.len() > INLINE_MAX {
            return super::write_then_read(
                out.len(),
                buf.len(),
                || self.write_user(handle, out, flags),
                || self.read_user(handle, buf, flags),
            );
        }
        let input = Inline::User(out).to_data()?;
        let mut request = self.inline_request(Op::WriteRead, handle, flags, input.len());
        request.arg = buf.len() as u64;
        let data = self.call(request, |call| call.inline = input)?.data()?;
        self.hand_over(handle, &data, buf)
    }

    fn write_user(&self, handle: usize, buf: UserIn, flags: usize) -> Result<usize, Error> {
        // A scheme none of whose handles posts pays one load.
        if self.posted.used()
            && let Some(written) = self.write_on_posting_scheme(handle, buf, flags)
        {
            return written;
        }
        self.settle(handle)?;
        if buf.len() <= INLINE_MAX {
            return self.with_owned_input(Op::Write, handle, flags, Inline::User(buf).to_data()?)?.value();
        }
        self.lent_write(handle, buf, flags)
    }

    /// A seek ([`Self::seek_daemon`]); a disk's room for posted writes
    /// is used up by it.
    fn seek(&self, handle: usize, offset: isize, whence: usize) -> Result<usize, Error> {
        let sought = self.seek_daemon(handle, offset, whence);
        self.posted.moved(handle);
        sought
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        let data = self.output(Op::Fstat, handle, 0, size_of::<Stat>())?;
        *stat = usercopy::pod_from_bytes(&data).ok_or(Error::new(EIO))?;
        Ok(())
    }

    fn fstatvfs(&self, handle: usize, statvfs: &mut StatVfs) -> Result<(), Error> {
        let data = self.output(Op::Fstatvfs, handle, 0, size_of::<StatVfs>())?;
        *statvfs = usercopy::pod_from_bytes(&data).ok_or(Error::new(EIO))?;
        Ok(())
    }

    fn fpath(&self, handle: usize) -> Result<String, Error> {
        let data = self.output(Op::Fpath, handle, 0, INLINE_MAX)?;
        String::from_utf8(data.into_vec()).map_err(|_| Error::new(EIO))
    }

    fn dup(&self, handle: usize, buf: &[u8], flags: usize, _caller: &Caller) -> Result<Opened, Error> {
        self.settle(handle)?;
        self.with_input(Op::Dup, handle, flags, buf).and_then(Self::opened)
    }

    fn fevent(&self, handle: usize, interest: EventFlags) -> Result<EventFlags, Error> {
        let ready = self.simple(Op::Fevent, handle, interest.bits() as u32, 0)?;
        let mut ready = EventFlags::from_bits_truncate(ready);
        // Bytes handed over ahead of the reads are the handle's too.
        if interest.contains(EventFlags::EVENT_READ) && self.pushed.holds(handle) {
            ready |= EventFlags::EVENT_READ;
        }
        Ok(ready)
    }

    /// Its answer comes after those of the writes posted before it, so a
    /// failure of one of them is reported here if no write reported it.
    fn fsync(&self, handle: usize) -> Result<(), Error> {
        self.simple(Op::Fsync, handle, 0, 0)?;
        match self.posted.take_failure(handle) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn ftruncate(&self, handle: usize, len: usize) -> Result<(), Error> {
        self.simple(Op::Ftruncate, handle, 0, len as u64).map(drop)
    }

    fn frename(&self, handle: usize, path: &str, _caller: &Caller) -> Result<(), Error> {
        self.with_input(Op::Frename, handle, 0, path.as_bytes()).map(drop)
    }

    fn unlink(&self, path: &str, _caller: &Caller) -> Result<(), Error> {
        self.with_input(Op::Unlink, 0, 0, path.as_bytes()).map(drop)
    }

    fn rmdir(&self, path: &str, _caller: &Caller) -> Result<(), Error> {
        self.with_input(Op::Rmdir, 0, 0, path.as_bytes()).map(drop)
    }

    fn sendfd(&self, handle: usize, file: &Arc<FileDescription>, flags: usize, arg: usize) -> Result<usize, Error> {
        let mut request = self.request(Op::SendFd, handle);
        request.flags = flags as u32;
        request.len = arg as u64;
        self.call(request, |call| *call.file.get_mut() = Some(file.clone()))?.value()
    }

    fn fmap(&self, handle: usize, offset: usize, len: usize, flags: MapFlags) -> Result<Mapping, Error> {
        let mut request = self.request(Op::Fmap, handle);
        request.flags = flags.bits() as u32;
        request.len = len as u64;
        request.arg = offset as u64;
        match self.call(request, |_| ())? {
            Answer::Frames(frames) => Ok(Mapping::Frames(frames)),
            _ => Err(Error::new(EIO)),
        }
    }

    /// Closing never waits for the daemon: the request is queued and the
    /// fd is gone at once. (A dead daemon has nothing left to close.)
    fn close(&self, handle: usize) -> Result<(), Error> {
        self.forget_records(handle);
        let call = self.call_for(self.request(Op::Close, handle), None, |_| ());
        match self.submit(call) {
            Ok(()) | Err(_) => Ok(()),
        }
    }
}

/// Whether a call may change the data of a scheme's files (a read-ahead
/// buffer filled before it finished is stale).
fn changes_data(op: Op, flags: u32) -> bool {
    match op {
        Op::Read
        | Op::Seek
        | Op::Fstat
        | Op::Fstatvfs
        | Op::Fpath
        | Op::Fevent
        | Op::Fsync
        | Op::Close
        | Op::Cancel => false,
        Op::Open => flags as usize & (abi::syscall::O_CREAT | abi::syscall::O_TRUNC) != 0,
        _ => true,
    }
}

/// A chain's answers up to this many bytes are read onto the kernel stack
/// (an open, a read of up to 16 bytes and a close take at most 112; the
/// room is cleared first, so it is no larger than that common case).
const CHAIN_ANSWER_ON_STACK: usize = 112;

/// The links of an `Op::Chain` request into `links`: the open (`open`,
/// `path`), then as many of `steps` as fit inline (their links and
/// their largest answers within `INLINE_MAX` each way). Returns how many
/// steps it carries.
fn chain_links(open: &Request, path: &[u8], steps: &VecDeque<Step>, flags: usize, links: &mut Vec<u8>) -> usize {
    links.reserve(LINK_SIZE * (1 + steps.len().min(4)) + path.len());
    links.extend_from_slice(&Link::new(Op::Open, open.flags, path.len() as u32, 0).encode());
    links.extend_from_slice(path);
    let mut answer_room = INLINE_MAX - RESPONSE_SIZE;
    let mut carried = 0;
    for step in steps {
        let (link, most) = step.link(flags);
        let input: &[u8] = match step {
            Step::Write(data) => data,
            _ => &[],
        };
        if links.len() + LINK_SIZE + input.len() > INLINE_MAX || RESPONSE_SIZE + most > answer_room {
            break;
        }
        links.extend_from_slice(&link.encode());
        links.extend_from_slice(input);
        answer_room -= RESPONSE_SIZE + most;
        carried += 1;
    }
    carried
}

/// Check and record the answers of a chain request (`count` in all: the
/// open's, `first`, then those in `rest`, one per carried step in order) in
/// `progress.outcomes`. Returns the flags of the open's answer if it
/// opened a handle (`OPEN_READ_AHEAD`, `OPEN_POSTED_WRITES`). On garbage
/// some may be recorded; the caller takes them back.
fn record_chain_answers(
    progress: &mut ChainProgress,
    count: usize,
    first: (Response, &[u8]),
    rest: scheme_proto::Answers,
) -> Result<Option<u32>, Garbage> {
    let mut answered = 0;
    let mut ended = false;
    for answer in core::iter::once(Ok(first)).chain(rest) {
        let (response, data) = answer.map_err(|_| Garbage::invalid("a chain's answers do not decode"))?;
        if ended || answered > progress.carried {
            return Err(Garbage::invalid("answers after the chain ended, or more than its links"));
        }
        let value = usize::try_from(response.value).map_err(|_| Garbage::invalid("value out of range"))?;
        let outcome = match response.kind {
            Kind::Error => Err(answered_errno(value)?),
            Kind::Value if answered == 0 => Ok(Answer::Value(value, Data::new())),
            Kind::Value if progress.steps[answered - 1].fits(value, data) => {
                Ok(Answer::Value(value, Data::from_slice(data)))
            }
            Kind::Value => return Err(Garbage::invalid("a link's value or data does not fit it")),
            _ => return Err(Garbage::invalid("an fd answers only a chain's open, alone")),
        };
        ended = outcome.is_err();
        progress.outcomes.push(outcome);
        answered += 1;
    }
    if answered != count {
        return Err(Garbage::invalid("a chain's count is not its answers'"));
    }
    Ok((first.0.kind == Kind::Value).then_some(first.0.flags))
}

/// The error a daemon's `Kind::Error` answer names (an errno 1..4096).
fn answered_errno(value: usize) -> Result<Error, Garbage> {
    i32::try_from(value)
        .ok()
        .filter(|e| (1..4096).contains(e))
        .map(Error::new)
        .ok_or(Garbage::invalid("errno out of range"))
}
