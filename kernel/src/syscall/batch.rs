//! `SYS_SUBMIT`: several file operations in one system call
//! (docs/architecture.md §3.11).
//!
//! The caller hands an array of [`Sqe`]s and gets as many [`Cqe`]s back.
//! Operations run in order and the first failure ends the batch (the ones
//! after it complete with `ECANCELED`). An operation may name the file the
//! batch's last `SQE_OPEN` opened ([`SQE_FD_OPENED`]).
//!
//! Most operations run exactly as their own system calls would
//! ([`super::fs`]). One shape goes faster: an open on a daemon-served scheme
//! followed by reads, writes and seeks of at most `INLINE_MAX` bytes and
//! a close, all on the opened file, becomes one chain of requests
//! ([`UserScheme::chain_open`]): the daemon gets each as it answers the one
//! before, and the caller sleeps once. Its results are the same as the
//! plain path's, with one difference: a read buffer that turns out bad
//! after the daemon answered fails that read with `EFAULT`, and the steps
//! after it (which the daemon already did) report what they did.
//!
//! May touch: the calling process's files (through `fs`) and memory (the
//! arrays and the operations' buffers, through `usercopy`).

use alloc::vec::Vec;
use core::mem::MaybeUninit;

use smallvec::SmallVec;

use abi::syscall::O_CLOEXEC;
use abi::syscall::Stat;
use abi::syscall::error::{EBADF, ECANCELED, EINVAL, Error};
use abi::{Cqe, SQE_CLOSE, SQE_FD_OPENED, SQE_FSTAT, SQE_OPEN, SQE_READ, SQE_SEEK, SQE_WRITE, SUBMIT_MAX, Sqe};
use scheme_proto::INLINE_MAX;

use super::fs;
use crate::context::file::Fd;
use crate::memory::usercopy::{self, UserIn, UserOut};
use crate::scheme::user::{Chained, Step};
use crate::scheme::{self, Opened, SchemeRef};

/// Batches up to this many operations live on the kernel stack; larger
/// ones (up to [`SUBMIT_MAX`]) on the heap. (Zeroing room for the largest
/// batch would cost more than a small batch saves.)
const ON_STACK: usize = 8;

/// A chain's steps live on the kernel stack up to this many (an open,
/// a read and a close need two).
const STEPS_ON_STACK: usize = 4;

/// `SYS_SUBMIT`: run `count` operations from `sqes`, completions to `cqes`.
pub fn submit(sqes: usize, count: usize, cqes: usize) -> Result<usize, Error> {
    if count == 0 {
        return Ok(0);
    }
    if count > SUBMIT_MAX {
        return Err(Error::new(EINVAL));
    }
    let out = UserOut::new(cqes, count * size_of::<Cqe>())?;
    // Room for the entries as they come, not zeroed first (384 bytes,
    // most of a batch's `memset`); the completions start out zero.
    let mut ops_here = [const { MaybeUninit::<Sqe>::uninit() }; ON_STACK];
    let mut cqes_here = [Cqe::default(); ON_STACK];
    let (mut ops_heap, mut cqes_heap) = (Vec::new(), Vec::new());
    let (ops, completions): (&mut [Sqe], &mut [Cqe]) = if count <= ON_STACK {
        let ops = usercopy::read_into_uninit(sqes, &mut ops_here[..count])?;
        (ops, &mut cqes_here[..count])
    } else {
        ops_heap.resize(count, Sqe::default());
        cqes_heap.resize(count, Cqe::default());
        usercopy::read_into(sqes, &mut ops_heap)?;
        (&mut ops_heap, &mut cqes_heap)
    };
    let mut batch = Batch { ops, completions, done: 0, failed: false, opened: None };
    while batch.done < count && !batch.failed {
        if !batch.try_chain(batch.done) {
            let result = batch.run_one(batch.done);
            batch.push(result);
        }
    }
    let Batch { ops, completions, done, .. } = batch;
    let mut succeeded = 0;
    for (i, (op, completion)) in ops.iter().zip(completions.iter_mut()).enumerate() {
        if i >= done {
            completion.result = -i64::from(ECANCELED);
        } else if completion.result >= 0 {
            succeeded += 1;
        }
        completion.user_data = op.user_data;
    }
    // SAFETY: `Cqe` is plain data (two integers, no padding).
    let bytes = unsafe { core::slice::from_raw_parts(completions.as_ptr().cast::<u8>(), count * size_of::<Cqe>()) };
    out.copy_from_kernel(bytes)?;
    Ok(succeeded)
}

struct Batch<'a> {
    ops: &'a [Sqe],
    /// The results of the first `done` operations, as they go out (a
    /// value, or a negated errno).
    completions: &'a mut [Cqe],
    done: usize,
    /// Whether an operation failed (which ends the batch).
    failed: bool,
    /// The last `SQE_OPEN`: its index and the fd it made (None once a
    /// close of the batch closed it).
    opened: Option<(usize, Option<usize>)>,
}

impl Batch<'_> {
    fn push(&mut self, result: Result<usize, Error>) {
        self.completions[self.done].result = match result {
            Ok(value) => value as i64,
            Err(err) => {
                self.failed = true;
                -i64::from(err.errno)
            }
        };
        self.done += 1;
    }

    /// The fd an operation names.
    fn fd(&self, op: &Sqe) -> Result<Fd, Error> {
        if op.fd == SQE_FD_OPENED {
            return match self.opened {
                Some((_, Some(fd))) => Ok(Fd(fd)),
                _ => Err(Error::new(EBADF)),
            };
        }
        usize::try_from(op.fd).map(Fd).map_err(|_| Error::new(EBADF))
    }

    /// One operation, as its own system call would do it.
    fn run_one(&mut self, at: usize) -> Result<usize, Error> {
        let op = self.ops[at];
        if op.flags != 0 {
            return Err(Error::new(EINVAL));
        }
        let (addr, len) = (op.addr as usize, op.len as usize);
        match op.op {
            SQE_OPEN => {
                let fd = fs::open(fs::path(addr, len)?, op.arg as usize)?;
                self.opened = Some((at, Some(fd)));
                Ok(fd)
            }
            SQE_READ => fs::read(self.fd(&op)?, UserOut::new(addr, len)?),
            SQE_WRITE => fs::write(self.fd(&op)?, UserIn::new(addr, len)?),
            SQE_SEEK => fs::lseek(self.fd(&op)?, op.arg as isize, len),
            SQE_FSTAT => fs::fstat(self.fd(&op)?, addr, len),
            SQE_CLOSE => {
                let fd = self.fd(&op)?;
                fs::close(fd)?;
                self.note_closed(fd);
                Ok(0)
            }
            _ => Err(Error::new(EINVAL)),
        }
    }

    /// After a close of `fd`: if it was the batch's opened file, its open
    /// completes with 0 and later operations cannot name it.
    fn note_closed(&mut self, fd: Fd) {
        if let Some((index, Some(opened))) = self.opened
            && opened == fd.0
        {
            self.opened = Some((index, None));
            self.completions[index].result = 0;
        }
    }

    /// Run the operations from `at` as one chain if they have its shape
    /// (see the module comment); false if they do not (nothing was done).
    fn try_chain(&mut self, at: usize) -> bool {
        let open = self.ops[at];
        if open.op != SQE_OPEN || open.flags != 0 || open.len as usize > INLINE_MAX {
            return false;
        }
        // The steps: everything after the open on the opened file, up to
        // and including a close.
        let mut steps: SmallVec<[Step; STEPS_ON_STACK]> = SmallVec::new();
        for op in &self.ops[at + 1..] {
            if op.fd != SQE_FD_OPENED || op.flags != 0 {
                break;
            }
            let step = match op.op {
                SQE_READ if op.len as usize <= INLINE_MAX => {
                    if UserOut::new(op.addr as usize, op.len as usize).is_err() {
                        break;
                    }
                    Step::Read(op.len as usize)
                }
                SQE_WRITE if op.len as usize <= INLINE_MAX => {
                    match UserIn::new(op.addr as usize, op.len as usize).and_then(|buf| buf.to_vec()) {
                        Ok(data) => Step::Write(data),
                        Err(_) => break,
                    }
                }
                SQE_SEEK => Step::Seek(op.arg as isize, op.len as usize),
                SQE_FSTAT if op.len as usize >= size_of::<Stat>() => {
                    if UserOut::new(op.addr as usize, size_of::<Stat>()).is_err() {
                        break;
                    }
                    Step::Fstat
                }
                SQE_CLOSE => Step::Close,
                _ => break,
            };
            let close = matches!(step, Step::Close);
            steps.push(step);
            if close {
                break;
            }
        }
        if steps.is_empty() {
            return false;
        }
        let Ok(path) = fs::path(open.addr as usize, open.len as usize) else { return false };
        let step_count = steps.len();
        let process = super::me();
        let chained = fs::with_user_path(path, |url| {
            let (name, rest) = scheme::split_url(url).ok_or(Error::new(EINVAL))?;
            let scheme_ref = scheme::lookup(name, &process.caller())?;
            let user = scheme_ref.scheme().as_user_scheme().ok_or(Error::new(EINVAL))?;
            let flags = open.arg as usize;
            // What the daemon gets: the path after `name:`.
            user.chain_open(rest.as_bytes(), flags, steps.drain(..), |opened, chained| {
                self.chain_done(at, step_count, &scheme_ref, flags, opened, chained);
            });
            Ok(())
        });
        // Not a chain after all (no such scheme, not a daemon's, a bad
        // path): the operations run one by one, and fail there if they must.
        chained.is_ok()
    }

    /// Record what a chain that began at `at` did: its open (an fd unless
    /// a step closed it again) and the `step_count` steps after it, as far
    /// as they ran.
    fn chain_done(
        &mut self,
        at: usize,
        step_count: usize,
        scheme_ref: &SchemeRef,
        flags: usize,
        opened: Result<Opened, Error>,
        chained: Chained,
    ) {
        let process = super::me();
        // The open: an fd unless a step of the chain closed it.
        let ran = chained.steps_run();
        let closed =
            ran == step_count && matches!(self.ops[at + step_count].op, SQE_CLOSE) && chained.step(ran - 1).is_ok();
        let fd = match opened {
            Err(err) => {
                self.push(Err(err));
                return;
            }
            Ok(Opened::File(file)) => {
                // The daemon handed over a file of its own: the steps run
                // on it one by one.
                let fd = process.files.lock().insert(file, flags & O_CLOEXEC != 0);
                self.opened = fd.as_ref().ok().map(|fd| (at, Some(*fd)));
                self.push(fd);
                return;
            }
            Ok(Opened::Handle(_)) if closed => {
                self.opened = Some((at, None));
                Ok(0)
            }
            Ok(opened @ Opened::Handle(_)) => {
                let file = scheme::describe(scheme_ref.clone(), opened, flags);
                let fd = process.files.lock().insert(file, flags & O_CLOEXEC != 0);
                self.opened = fd.as_ref().ok().map(|fd| (at, Some(*fd)));
                fd
            }
        };
        self.push(fd);
        for i in 0..ran {
            let op = self.ops[at + 1 + i];
            let result = chained.step(i).and_then(|(value, data)| {
                if matches!(op.op, SQE_READ | SQE_FSTAT) && !data.is_empty() {
                    UserOut::new(op.addr as usize, data.len())?.copy_from_kernel(data)?;
                }
                // An fstat's value is 0, as its system call's.
                Ok(if op.op == SQE_FSTAT { 0 } else { value })
            });
            self.push(result);
        }
    }
}
