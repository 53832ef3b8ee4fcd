//! The one way the kernel touches user memory (docs/architecture.md §2.5).
//!
//! A [`UserSlice`] can only be made by a checking constructor: non-null,
//! no wrap-around, entirely below the end of user space. It says which way
//! its bytes go: a [`UserIn`] is a buffer the caller hands the kernel (the
//! data of a `write`, a path), which the kernel can only read
//! ([`UserIn::copy_to_kernel`]); a [`UserOut`] one the kernel fills (the
//! buffer of a `read`, a `Stat`), which it can only write
//! ([`UserOut::copy_from_kernel`]). So a handler that writes into an
//! input buffer, or a dispatcher that swaps the two, does not compile; the
//! same holds for single values ([`UserPtr`]'s `In`/`Out`). The copies open
//! SMAP (STAC/CLAC) for exactly the copy and run under the trap fixup: a
//! page the process has not touched yet is faulted in (demand-zero,
//! copy-on-write) and the copy goes on; a page that is not there or not
//! allowed ends the copy with `EFAULT`. The kernel never faults on a bad
//! user pointer.

use alloc::vec::Vec;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use abi::syscall::error::{EFAULT, ENOMEM, Error};

use super::address_space::{Access, USER_END};
use crate::arch::x86_64::percpu;
use crate::arch::x86_64::percpu::FaultRecord;
use crate::arch::x86_64::trap::TrapFrame;

/// Whether the CPUs have SMAP on (then STAC/CLAC bracket every copy).
static SMAP: AtomicBool = AtomicBool::new(false);

pub fn set_smap(enabled: bool) {
    SMAP.store(enabled, Ordering::Relaxed);
}

/// The kernel reads this memory (the caller's input).
#[derive(Clone, Copy, Debug)]
pub struct In;
/// The kernel writes this memory (the caller's output).
#[derive(Clone, Copy, Debug)]
pub struct Out;

/// A range of the current process's memory, checked to lie in user space,
/// that the kernel may only read (`A` = [`In`]) or only write ([`Out`]).
#[derive(Clone, Copy, Debug)]
pub struct UserSlice<A> {
    addr: u64,
    len: usize,
    _access: PhantomData<A>,
}

/// A buffer the kernel reads.
pub type UserIn = UserSlice<In>;
/// A buffer the kernel writes.
pub type UserOut = UserSlice<Out>;

impl<A> UserSlice<A> {
    /// `EFAULT` for a null pointer (with a non-zero length), a range that
    /// wraps, or one that reaches into the kernel half or past canonical
    /// addresses.
    pub fn new(addr: usize, len: usize) -> Result<Self, Error> {
        if len == 0 {
            return Ok(Self { addr: 0, len: 0, _access: PhantomData });
        }
        let end = (addr as u64).checked_add(len as u64).ok_or(Error::new(EFAULT))?;
        if addr == 0 || end > USER_END {
            return Err(Error::new(EFAULT));
        }
        Ok(Self { addr: addr as u64, len, _access: PhantomData })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// The first `len` bytes (or fewer if the slice is shorter).
    pub fn prefix(&self, len: usize) -> Self {
        Self { addr: self.addr, len: self.len.min(len), _access: PhantomData }
    }

    /// The part after the first `offset` bytes.
    pub fn skip(&self, offset: usize) -> Self {
        let offset = offset.min(self.len);
        let addr = if self.len == offset { 0 } else { self.addr + offset as u64 };
        Self { addr, len: self.len - offset, _access: PhantomData }
    }
}

impl UserSlice<In> {
    /// Copy the user bytes into `dst`, which must be as long as the slice.
    pub fn copy_to_kernel(&self, dst: &mut [u8]) -> Result<(), Error> {
        assert_eq!(dst.len(), self.len, "copy_to_kernel length mismatch");
        copy(dst.as_mut_ptr(), self.addr as *const u8, self.len)
    }

    /// The bytes, copied into a new kernel buffer (`ENOMEM` if the heap
    /// cannot hold that many: the length is the caller's choice).
    /// The buffer is not zeroed first: the copy fills it, and on a fault
    /// it is dropped unread.
    pub fn to_vec(&self) -> Result<Vec<u8>, Error> {
        let mut buf = Vec::new();
        buf.try_reserve_exact(self.len).map_err(|_| Error::new(ENOMEM))?;
        copy(buf.as_mut_ptr(), self.addr as *const u8, self.len)?;
        // SAFETY: the capacity is at least `len`, and the copy succeeded,
        // so it wrote all `len` bytes.
        unsafe { buf.set_len(self.len) };
        Ok(buf)
    }
}

impl UserSlice<Out> {
    /// Copy `src`, which must be as long as the slice, into user memory.
    pub fn copy_from_kernel(&self, src: &[u8]) -> Result<(), Error> {
        assert_eq!(src.len(), self.len, "copy_from_kernel length mismatch");
        copy(self.addr as *mut u8, src.as_ptr(), self.len)
    }
}

/// Plain data that may be copied to and from user memory as bytes: every
/// bit pattern (all zeroes included) is a valid value.
///
/// Some of these types have padding (`Stat`, `TimeSpec`): values written to
/// user memory must start from [`zeroed`] and be filled in field by field,
/// so no stale kernel bytes travel in the padding.
///
/// # Safety
/// Implement only for `repr(C)` types whose every bit pattern is valid.
pub unsafe trait Pod: Copy {}

/// An all-zero `T`, padding included.
pub fn zeroed<T: Pod>() -> T {
    // SAFETY: `T: Pod`, so all zeroes is a valid value.
    unsafe { core::mem::zeroed() }
}

/// A `T` made from exactly `size_of::<T>()` bytes (from a daemon's answer).
pub fn pod_from_bytes<T: Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() != size_of::<T>() {
        return None;
    }
    let mut value = zeroed::<T>();
    // SAFETY: `T: Pod`, so any bytes make a valid value; the lengths match
    // and the kernel-owned `value` does not overlap `bytes`.
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), core::ptr::from_mut(&mut value).cast::<u8>(), bytes.len())
    };
    Some(value)
}

// SAFETY: integers have no padding and no invalid bit patterns.
unsafe impl Pod for usize {}
// SAFETY: as above.
unsafe impl Pod for u64 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: `repr(C)` integers (and padding).
unsafe impl Pod for abi::syscall::TimeSpec {}
// SAFETY: two `usize` fields, `repr(C)`.
unsafe impl Pod for abi::UserStr {}
// SAFETY: five `u64`s and two `u32`s, no padding; any bits are a value.
unsafe impl Pod for abi::Sqe {}
// SAFETY: `repr(C)` integers (and padding).
unsafe impl Pod for abi::syscall::Stat {}
// SAFETY: `repr(C)` integers (and padding).
unsafe impl Pod for abi::syscall::StatVfs {}
// SAFETY: `repr(C)`: three `usize`s and a bitflags newtype over `usize`,
// which holds any bits (unknown ones are refused after reading).
unsafe impl Pod for abi::syscall::Map {}

/// A pointer to one `T` in user memory, which the kernel reads (`A` =
/// [`In`]) or writes ([`Out`]).
#[derive(Clone, Copy, Debug)]
pub struct UserPtr<T: Pod, A> {
    slice: UserSlice<A>,
    _type: PhantomData<T>,
}

impl<T: Pod, A> UserPtr<T, A> {
    pub fn new(addr: usize) -> Result<Self, Error> {
        if addr == 0 {
            return Err(Error::new(EFAULT));
        }
        Ok(Self { slice: UserSlice::new(addr, size_of::<T>())?, _type: PhantomData })
    }
}

impl<T: Pod> UserPtr<T, In> {
    pub fn read(&self) -> Result<T, Error> {
        let mut value = zeroed::<T>();
        // SAFETY: `T: Pod`, so its bytes may be overwritten with any data.
        let bytes = unsafe { core::slice::from_raw_parts_mut((&raw mut value).cast::<u8>(), size_of::<T>()) };
        self.slice.copy_to_kernel(bytes)?;
        Ok(value)
    }
}

impl<T: Pod> UserPtr<T, Out> {
    /// Write `value`, which must have been built from [`zeroed`].
    pub fn write(&self, value: &T) -> Result<(), Error> {
        // SAFETY: `T: Pod`; its padding bytes, if any, are zero because the
        // value was built from `zeroed` (see the trait's documentation).
        let bytes = unsafe { core::slice::from_raw_parts(core::ptr::from_ref(value).cast::<u8>(), size_of::<T>()) };
        self.slice.copy_from_kernel(bytes)
    }
}

/// Fill `values` from the array of as many `T`s at `addr` in user memory.
pub fn read_into<T: Pod>(addr: usize, values: &mut [T]) -> Result<(), Error> {
    let bytes = core::mem::size_of_val(values);
    let slice = UserIn::new(addr, bytes)?;
    // SAFETY: `T: Pod`, so any bytes are a valid `T`; the slice spans
    // exactly `values`.
    let raw = unsafe { core::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<u8>(), bytes) };
    slice.copy_to_kernel(raw)
}

/// [`read_into`] for room not filled yet (no zeroing first): the values
/// read, as initialized `T`s.
pub fn read_into_uninit<T: Pod>(addr: usize, room: &mut [MaybeUninit<T>]) -> Result<&mut [T], Error> {
    let bytes = core::mem::size_of_val(room);
    let slice = UserIn::new(addr, bytes)?;
    // SAFETY: the slice spans exactly `room`'s bytes; they are only
    // written here, never read before.
    let raw = unsafe { core::slice::from_raw_parts_mut(room.as_mut_ptr().cast::<u8>(), bytes) };
    slice.copy_to_kernel(raw)?;
    // SAFETY: every byte of `room` was just written, and `T: Pod` makes
    // any bytes a valid `T`.
    Ok(unsafe { core::slice::from_raw_parts_mut(room.as_mut_ptr().cast::<T>(), room.len()) })
}

/// An array of `count` `T`s in user memory.
pub fn read_array<T: Pod>(addr: usize, count: usize) -> Result<Vec<T>, Error> {
    let bytes = count.checked_mul(size_of::<T>()).ok_or(Error::new(EFAULT))?;
    let slice = UserIn::new(addr, bytes)?;
    let mut values = super::try_filled_vec(zeroed::<T>(), count)?;
    // SAFETY: `T: Pod`; the vector holds exactly `bytes` bytes.
    let raw = unsafe { core::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<u8>(), bytes) };
    slice.copy_to_kernel(raw)?;
    Ok(values)
}

// The copy itself: 8-byte words, then the bytes left (`rep movsb` moves
// one byte per iteration on CPUs without fast strings and under QEMU's
// TCG, one emulated instruction per byte). It pushes nothing, so a fault
// inside it that cannot be resolved resumes at `user_copy_fixup`
// ([`fixup`]) with the stack as it was, and the `ret` there returns 1 to
// the caller. A try_call recovery record would cost ~80 instructions a
// copy; this costs nothing until a copy faults.
/// The copy's body, shared by the routine with SMAP and the one without:
/// `len` in RDX, RDI/RSI set; leaves 0 in EAX.
macro_rules! copy_words {
    () => {
        "mov rcx, rdx\nshr rcx, 3\nrep movsq\nmov rcx, rdx\nand rcx, 7\nrep movsb\nxor eax, eax\n"
    };
}

core::arch::global_asm!(concat!(
    ".section .text.user_copy, \"ax\"\n",
    ".global user_copy_smap\n.global user_copy_plain\n.global user_copy_fixup\n",
    "user_copy_smap:\nstac\n",
    copy_words!(),
    "clac\nret\n",
    "user_copy_plain:\n",
    copy_words!(),
    "ret\n",
    "user_copy_fixup:\nmov eax, 1\nret\n",
));

unsafe extern "C" {
    /// Copy `len` bytes from `src` to `dst` with SMAP opened: 0, or 1 if a
    /// fault ended it.
    fn user_copy_smap(dst: *mut u8, src: *const u8, len: usize) -> u64;
    /// The same on a CPU without SMAP.
    fn user_copy_plain(dst: *mut u8, src: *const u8, len: usize) -> u64;
    /// Where a faulting copy resumes (the copies lie just before it).
    static user_copy_fixup: u8;
}

fn copy(dst: *mut u8, src: *const u8, len: usize) -> Result<(), Error> {
    if len == 0 {
        return Ok(());
    }
    let cpu = percpu::current();
    cpu.in_usercopy.store(true, Ordering::Relaxed);
    // SAFETY: the kernel side is a kernel buffer of `len` bytes the caller
    // owns; the user side was range-checked to lie below the end of user
    // space, and a fault on it is resolved (`resolve_fault`) or ends the
    // copy through `fixup`. STAC/CLAC open user access for just the copy.
    let faulted = unsafe {
        if SMAP.load(Ordering::Relaxed) { user_copy_smap(dst, src, len) } else { user_copy_plain(dst, src, len) }
    };
    cpu.in_usercopy.store(false, Ordering::Relaxed);
    if faulted != 0 {
        crate::caller_log!(Debug, "user copy faulted at {:#x}", cpu.last_fault.get().address);
        return Err(Error::new(EFAULT));
    }
    Ok(())
}

/// Called by the page-fault handler when a kernel-mode fault was not
/// resolved: if it hit inside the user copy, make the copy return 1
/// (through `user_copy_fixup`, SMAP closed again) and say so.
pub fn fixup(frame: &mut TrapFrame, address: u64) -> bool {
    let start = user_copy_smap as *const () as u64;
    let fixup = &raw const user_copy_fixup as u64;
    if frame.from_user() || !(start..fixup).contains(&frame.rip) {
        return false;
    }
    percpu::current().last_fault.set(FaultRecord { vector: 14, error_code: frame.error_code, address });
    frame.rip = fixup;
    // Close SMAP again (the fault may have come with it opened).
    frame.rflags &= !(1 << 18);
    true
}

/// Called by the page-fault handler for a kernel-mode fault on a user
/// address: inside a user copy, try to resolve it in the current process's
/// address space (true = retry the access).
pub fn resolve_fault(addr: u64, write: bool) -> bool {
    if !percpu::current().in_usercopy.load(Ordering::Relaxed) || addr >= USER_END {
        return false;
    }
    let access = if write { Access::Write } else { Access::Read };
    crate::context::with_current_space(|space| space.handle_fault(addr, access)).unwrap_or(false)
}
