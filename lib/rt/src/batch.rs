//! Several file operations in one system call (`SYS_SUBMIT`,
//! docs/architecture.md §3.11): build a [`Batch`], then [`Batch::submit`].
//!
//! Operations run in order and the first failure ends the batch. One may
//! act on the file the batch's last open opened ([`On::Opened`]), so an
//! open, a read and a close take one call; on a scheme daemon they reach it
//! as one request (a chain) when their data and answers fit its 4 KiB
//! each way (a read of up to [`CHAIN_READ`] with an `fstat` and a close
//! does), else back to back, without a trip back to this process between.
//!
//! ```ignore
//! let mut buf = [0u8; 64];
//! let mut batch = Batch::new();
//! batch.open("tmp:motd", O_RDONLY);
//! batch.read(On::Opened, &mut buf);
//! batch.close(On::Opened);
//! let results = batch.submit()?; // [Ok(0), Ok(n), Ok(0)]
//! ```
//!
//! May touch: only the buffers it is given (the kernel reads and writes
//! them during `submit`, while the batch holds their borrows).

use alloc::vec::Vec;
use core::marker::PhantomData;

use smallvec::SmallVec;

use abi::syscall::Stat;
pub use abi::{Cqe, SUBMIT_MAX, Sqe};
use abi::{SQE_CLOSE, SQE_FD_OPENED, SQE_FSTAT, SQE_OPEN, SQE_READ, SQE_SEEK, SQE_WRITE};

use crate::{Error, Result, sys};

/// The largest read that travels in one chain request together with its
/// open, an `fstat` and a close: their answers share the `INLINE_MAX`
/// bytes a chain's answer holds, with a response head each.
pub const CHAIN_READ: usize = scheme_proto::INLINE_MAX - 256;

const _: () = assert!(
    CHAIN_READ + 4 * scheme_proto::RESPONSE_SIZE + size_of::<Stat>() <= scheme_proto::INLINE_MAX,
    "an open, an fstat, a read of CHAIN_READ and a close answer within one chain"
);

/// Which file an operation acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    /// An fd of this process.
    Fd(usize),
    /// The file the batch's last open (before this operation) opened.
    Opened,
}

impl On {
    fn raw(self) -> u64 {
        match self {
            On::Fd(fd) => fd as u64,
            On::Opened => SQE_FD_OPENED,
        }
    }
}

/// Operations a batch holds without an allocation (an open, a few calls
/// and a close); more go on the heap.
const ON_STACK: usize = 6;

/// Each operation's result, in order (no allocation up to
/// [`ON_STACK`] operations).
pub type Results = SmallVec<[Result<usize>; ON_STACK]>;

/// Operations to submit together; the buffers stay borrowed until then.
#[derive(Default)]
pub struct Batch<'a> {
    sqes: SmallVec<[Sqe; ON_STACK]>,
    /// The buffers the operations name, borrowed until `submit`.
    buffers: PhantomData<&'a mut [u8]>,
}

impl<'a> Batch<'a> {
    pub fn new() -> Batch<'a> {
        Batch { sqes: SmallVec::new(), buffers: PhantomData }
    }

    fn push(&mut self, op: u32, on: On, addr: usize, len: usize, arg: u64) -> usize {
        let index = self.sqes.len();
        self.sqes.push(Sqe {
            op,
            flags: 0,
            fd: on.raw(),
            addr: addr as u64,
            len: len as u64,
            arg,
            user_data: index as u64,
        });
        index
    }

    /// Open `path` with `flags`; its result is the fd (0 if a close of
    /// this batch closed it). Returns the operation's index.
    pub fn open(&mut self, path: &'a str, flags: usize) -> usize {
        self.push(SQE_OPEN, On::Fd(0), path.as_ptr().expose_provenance(), path.len(), flags as u64)
    }

    /// Read into `buf`; its result is the count read.
    pub fn read(&mut self, on: On, buf: &'a mut [u8]) -> usize {
        self.push(SQE_READ, on, buf.as_mut_ptr().expose_provenance(), buf.len(), 0)
    }

    /// Write `buf`; its result is the count written.
    pub fn write(&mut self, on: On, buf: &'a [u8]) -> usize {
        self.push(SQE_WRITE, on, buf.as_ptr().expose_provenance(), buf.len(), 0)
    }

    /// Seek to `offset` from `whence` (`SEEK_SET`, ...); its result is the
    /// new offset.
    pub fn seek(&mut self, on: On, offset: isize, whence: usize) -> usize {
        self.push(SQE_SEEK, on, 0, whence, offset as u64)
    }

    /// The file's status into `stat`.
    pub fn fstat(&mut self, on: On, stat: &'a mut Stat) -> usize {
        self.push(SQE_FSTAT, on, core::ptr::from_mut(stat).expose_provenance(), size_of::<Stat>(), 0)
    }

    /// Close the file.
    pub fn close(&mut self, on: On) -> usize {
        self.push(SQE_CLOSE, on, 0, 0, 0)
    }

    /// How many operations it holds.
    pub fn len(&self) -> usize {
        self.sqes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sqes.is_empty()
    }

    /// Run them all in one system call (at most [`SUBMIT_MAX`]; `EINVAL`
    /// past that): each operation's result, in order; after a failure,
    /// the rest are `ECANCELED`.
    pub fn submit(self) -> Result<Results> {
        // Completions of a small batch on the stack: one allocation less.
        let mut here = [Cqe::default(); ON_STACK];
        let mut heap = Vec::new();
        let cqes = if self.sqes.len() <= here.len() {
            &mut here[..self.sqes.len()]
        } else {
            heap.resize(self.sqes.len(), Cqe::default());
            &mut heap[..]
        };
        sys::submit(&self.sqes, cqes)?;
        Ok(cqes
            .iter()
            .map(|cqe| match cqe.result {
                value if value >= 0 => Ok(value as usize),
                errno => Err(Error::new(-errno as i32)),
            })
            .collect())
    }
}
