//! The initfs image the kernel mapped into bootstrap.

/// The image as a byte slice.
#[allow(unsafe_code)]
pub fn from_kernel(addr: usize, len: usize) -> &'static [u8] {
    // SAFETY: the kernel mapped `len` bytes of the image read-only at
    // `addr` for the life of this process and of the processes it forks
    // (they inherit the mapping); nothing unmaps or writes it. (Exec drops
    // it along with every other mapping, and no reference survives exec.)
    unsafe { core::slice::from_raw_parts(core::ptr::with_exposed_provenance(addr), len) }
}
