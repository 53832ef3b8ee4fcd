//! A handle on bytes fixed at open (a listing, a `sys:` file): reads and
//! seeks see one consistent text, whatever changes meanwhile. Used by the
//! schemes whose files are generated.

use alloc::sync::Arc;

use abi::syscall::error::{EINVAL, Error};

#[derive(Clone)]
pub struct Snapshot {
    bytes: Arc<[u8]>,
    offset: usize,
}

impl Snapshot {
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Snapshot {
        Snapshot { bytes: bytes.into(), offset: 0 }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Copy from the offset into `buf`; the count (0 at the end).
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let start = self.offset.min(self.bytes.len());
        let n = buf.len().min(self.bytes.len() - start);
        buf[..n].copy_from_slice(&self.bytes[start..start + n]);
        self.offset = start + n;
        n
    }

    pub fn seek(&mut self, offset: isize, whence: usize) -> Result<usize, Error> {
        self.offset = abi::seek_target(self.offset, self.bytes.len(), offset, whence).ok_or(Error::new(EINVAL))?;
        Ok(self.offset)
    }
}
