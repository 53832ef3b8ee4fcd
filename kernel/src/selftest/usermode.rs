//! Self-tests of the boundary between kernel and user memory, run on a
//! scratch address space: the kernel cannot execute user pages (SMEP) or
//! touch them outside the user-copy functions (SMAP), and the user-copy
//! functions move data and refuse bad pointers with `EFAULT`.

use alloc::format;
use alloc::string::String;

use abi::syscall::error::EFAULT;
use x86_64::registers::control::{Cr3, Cr3Flags};

use super::{Outcome, ensure};
use crate::arch::x86_64::{exception, trap};
use crate::memory::address_space::{AddressSpace, Placement, Prot};
use crate::memory::paging;
use crate::memory::usercopy::{UserIn, UserOut};

const CODE_PAGE: u64 = 0x40_0000;
const DATA_PAGE: u64 = 0x50_0000;

/// Run `f` with a scratch address space loaded: one user page holding
/// `ret` (R-X) and one data page (RW) holding a known pattern.
fn with_user_pages(f: impl FnOnce() -> Outcome) -> Outcome {
    let mut space = AddressSpace::new().map_err(|e| format!("address space: {e}"))?;
    space.map(CODE_PAGE, 4096, Prot::RX, false, Placement::FixedNoReplace).map_err(|e| format!("map: {e}"))?;
    space.map(DATA_PAGE, 4096, Prot::RW, false, Placement::FixedNoReplace).map_err(|e| format!("map: {e}"))?;
    space.write_bytes(CODE_PAGE, &[0xc3]).map_err(|e| format!("write: {e}"))?;
    space.write_bytes(DATA_PAGE, b"ferrite!").map_err(|e| format!("write: {e}"))?;
    let previous = Cr3::read().0;
    crate::memory::tlb::note_loaded(space.pml4());
    // SAFETY: the scratch space's kernel half is the kernel's own, so the
    // running code and stack stay mapped; the previous table is restored
    // below before the space is dropped.
    unsafe { Cr3::write(space.pml4(), Cr3Flags::empty()) };
    let result = f();
    crate::memory::tlb::note_loaded(previous);
    // SAFETY: as above.
    unsafe { Cr3::write(previous, Cr3Flags::empty()) };
    drop(space);
    result
}

extern "C" fn call_address(addr: usize) {
    // SAFETY: deliberately jumps to a user page from ring 0 under
    // `trap::try_call`: SMEP must stop it with a page fault.
    let f: extern "C" fn() = unsafe { core::mem::transmute::<usize, extern "C" fn()>(addr) };
    f();
}

extern "C" fn read_address(addr: usize) {
    // SAFETY: deliberately reads a user page without STAC under
    // `trap::try_call`: SMAP must stop it with a page fault.
    unsafe { core::ptr::read_volatile(addr as *const u8) };
}

pub fn smep() -> Outcome {
    if !crate::arch::x86_64::protections().smep {
        return Err(String::from("SMEP is not enabled"));
    }
    with_user_pages(|| {
        let fault = trap::try_call(call_address, CODE_PAGE as usize).err().ok_or("ring 0 executed a user page")?;
        ensure!(
            fault.vector == exception::PAGE_FAULT && fault.error_code & 0x11 == 0x11,
            "expected an instruction-fetch protection fault, got {fault:?}"
        );
        Ok(format!("fetch from user page {CODE_PAGE:#x} faulted"))
    })
}

pub fn smap() -> Outcome {
    if !crate::arch::x86_64::protections().smap {
        return Err(String::from("SMAP is not enabled"));
    }
    with_user_pages(|| {
        let fault = trap::try_call(read_address, DATA_PAGE as usize).err().ok_or("ring 0 read a user page freely")?;
        ensure!(
            fault.vector == exception::PAGE_FAULT && fault.error_code & 0x5 == 0x1,
            "expected a supervisor protection fault, got {fault:?}"
        );
        Ok(format!("plain read of user page {DATA_PAGE:#x} faulted"))
    })
}

pub fn user_copy() -> Outcome {
    with_user_pages(|| {
        let mut buf = [0u8; 8];
        UserIn::new(DATA_PAGE as usize, 8)
            .and_then(|s| s.copy_to_kernel(&mut buf))
            .map_err(|e| format!("copy in: {e}"))?;
        ensure!(&buf == b"ferrite!", "copied {buf:?}");
        UserOut::new(DATA_PAGE as usize + 8, 4)
            .and_then(|s| s.copy_from_kernel(b"ok!!"))
            .map_err(|e| format!("copy out: {e}"))?;
        let bad: [(&str, usize, usize); 6] = [
            ("null", 0, 8),
            ("kernel half", 0xffff_8000_0000_0000, 8),
            ("non-canonical", 0x0000_8000_0000_0000, 8),
            ("wrapping", usize::MAX - 3, 8),
            ("unmapped", 0x60_0000, 8),
            ("past the page", DATA_PAGE as usize + 4090, 16),
        ];
        for (what, addr, len) in bad {
            let result = UserIn::new(addr, len).and_then(|s| s.copy_to_kernel(&mut alloc::vec![0u8; len]));
            ensure!(result.is_err_and(|e| e.errno == EFAULT), "{what} ({addr:#x}+{len}) gave {result:?}, not EFAULT");
        }
        // The kernel stays usable after the refused copies.
        ensure!(paging::translate(x86_64::VirtAddr::new(DATA_PAGE)).is_none(), "user page visible in the kernel table");
        Ok(String::from("copies work; null, kernel, non-canonical, wrapping, unmapped ranges give EFAULT"))
    })
}
