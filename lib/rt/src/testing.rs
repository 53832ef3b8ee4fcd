//! Hazardous primitives for Ferrite's own test suite (`programs/usertests`)
//! and the system-call fuzzer (`programs/fuzz`), compiled only with the
//! `testing` feature. `cargo mk` builds those two in a cargo call of their
//! own (`mk/src/userspace.rs`, `TESTING_PROGRAMS`), so cargo's feature
//! unification never compiles this module into any other program, and a
//! host test checks that no other program's manifest asks for it.
//!
//! A test suite has to do what no well-behaved program does: hand the kernel
//! addresses it does not own, fault on purpose, touch I/O ports, fill the FPU
//! with patterns. The `unsafe` for that lives here, so the suite itself keeps
//! `#![forbid(unsafe_code)]` like every other program.
//!
//! These functions are `pub fn`, not `unsafe fn`, **by convention only**:
//! most of them can break the calling process's memory or end it, and each
//! one's documentation says when. Call them from a process whose only job is
//! the test at hand — typically a child that is *expected* to be killed, or
//! code that passes addresses the kernel must refuse.

use core::arch::asm;
use core::hint::black_box;

use crate::mem::SharedMapping;
use crate::sync::Mutex;

/// Makes system call `number` with `args` in RDI, RSI, RDX, R10, R8, R9 and
/// returns RAX as the kernel left it: the result, or a negative errno.
///
/// For tests that pass arguments the process does not own — null,
/// kernel-half, non-canonical, wrapping or unmapped addresses, guard pages,
/// absurd lengths — which the kernel must refuse (`EFAULT`, `EINVAL`, ...)
/// without harming the caller, and for calls `rt::sys` has no wrapper for.
///
/// Contract: with a valid address the kernel really reads or writes it, and
/// some calls (`SYS_FUNMAP`, `SYS_MPROTECT`, `SYS_MMAP` with `MAP_FIXED`,
/// `SYS_EXIT`, `SYS_EXEC`) change or end the whole process. The caller must
/// only pass addresses that are either invalid (the point of the test) or
/// buffers it owns and expects to be written, and must not unmap or
/// re-protect memory Rust still uses.
pub fn raw_syscall(number: usize, args: [usize; 6]) -> isize {
    let [a, b, c, d, e, f] = args;
    // SAFETY: not sound for every argument (see the contract above); the
    // caller takes on that contract. The stub itself saves and clobbers
    // exactly what the kernel ABI says.
    unsafe { crate::arch::syscall6(number, a, b, c, d, e, f) as isize }
}

/// Reads the byte at `addr`. For addresses the process may not read
/// (null, unmapped, `PROT_NONE`, kernel-half, non-canonical): the kernel
/// must kill the caller with `SIGSEGV`, so this returns only if `addr` was
/// readable after all.
pub fn peek(addr: usize) -> u8 {
    let value: u8;
    // SAFETY: a one-byte load through an integer address, outside Rust's
    // knowledge of memory: it cannot alias anything Rust relies on. If the
    // address is not readable the process is killed before it continues.
    unsafe {
        asm!("mov {v}, byte ptr [{a}]", a = in(reg) addr, v = out(reg_byte) value,
            options(nostack, preserves_flags, readonly));
    }
    value
}

/// Writes `value` to the byte at `addr`. For addresses the process may not
/// write (read-only, `PROT_NONE`, unmapped, kernel-half): the kernel must
/// kill the caller with `SIGSEGV`.
///
/// Contract: if `addr` is writable after all, the byte changes behind Rust's
/// back; use only addresses that are not Rust memory of this process (a
/// mapping made with [`raw_syscall`] that nothing else uses) or that the
/// test expects to be unwritable.
pub fn poke(addr: usize, value: u8) {
    // SAFETY: a one-byte store through an integer address; by the contract
    // above it is either refused by the MMU (the process dies) or lands in
    // memory no Rust value lives in.
    unsafe {
        asm!("mov byte ptr [{a}], {v}", a = in(reg) addr, v = in(reg_byte) value,
            options(nostack, preserves_flags));
    }
}

/// Reads address 0. The page is never mapped, so the kernel must kill the
/// caller with `SIGSEGV`; returns only if it did not.
pub fn null_read() -> u8 {
    peek(0)
}

/// Writes the first byte of this function's own machine code (the byte it
/// already holds). Program text is mapped read-only, so the kernel must kill
/// the caller with `SIGSEGV`; returns only if it did not (and then the code
/// is unchanged).
pub fn write_to_own_text() {
    let addr = write_to_own_text as fn() as usize;
    // SAFETY: loads a byte of our code and stores the same value back: even
    // if the store were allowed, no instruction would change. The expected
    // outcome is a write fault that ends the process.
    unsafe {
        asm!("mov {b}, byte ptr [{a}]", "mov byte ptr [{a}], {b}", a = in(reg) addr, b = out(reg_byte) _,
            options(nostack, preserves_flags));
    }
}

/// Copies a `ret` instruction into a buffer on the stack and calls it.
/// Stacks are mapped no-execute, so the kernel must kill the caller with
/// `SIGSEGV`; returns only if the stack was executable.
pub fn execute_on_stack() {
    // `ret` (0xc3) throughout, so a call anywhere into it returns at once.
    let code = black_box([0xc3u8; 16]);
    // SAFETY: the buffer lives on this frame for the whole call and holds
    // only `ret`: if the CPU ran it, it would pop the return address `call`
    // pushed and come straight back, changing no register or memory. The
    // stack is used (the push), hence no `nostack`.
    unsafe {
        asm!("call {code}", code = in(reg) code.as_ptr(), options(preserves_flags));
    }
}

/// Runs `sgdt`, which user mode may not use while the kernel has UMIP on:
/// the kernel must kill the caller (`#GP` → `SIGSEGV`). Returns the GDT base
/// it read if the instruction was allowed.
pub fn sgdt() -> u64 {
    let mut descriptor = [0u8; 10];
    // SAFETY: `sgdt` stores 10 bytes (limit, base) into the buffer, which
    // is ours and exactly that long.
    unsafe {
        asm!("sgdt [{}]", in(reg) descriptor.as_mut_ptr(), options(nostack, preserves_flags));
    }
    let mut base = [0u8; 8];
    base.copy_from_slice(&descriptor[2..]);
    u64::from_le_bytes(base)
}

/// Divides by zero (`div` with a zero divisor): the kernel must kill the
/// caller with `SIGFPE`. Returns the quotient if the CPU did not fault.
pub fn divide_by_zero() -> u64 {
    let divisor = black_box(0u64);
    let quotient: u64;
    // SAFETY: a register-only division; a zero divisor raises #DE, which
    // ends the process rather than returning here.
    unsafe {
        asm!("div {d}", d = in(reg) divisor, inout("rax") 1u64 => quotient, inout("rdx") 0u64 => _,
            options(nomem, nostack));
    }
    quotient
}

/// Executes `ud2`: the kernel must kill the caller with `SIGILL`. If it
/// resumed the process instead, `ud2` would run again: this never returns.
pub fn ud2() -> ! {
    // SAFETY: `ud2` only raises #UD; it touches no memory.
    unsafe { asm!("2: ud2", "jmp 2b", options(nomem, nostack, noreturn)) }
}

/// The 512-byte `FXSAVE` image: x87 control and status, the eight x87
/// registers, MXCSR and the sixteen XMM registers.
#[repr(C, align(16))]
struct FxArea([u8; 512]);

const FCW: usize = 0;
const FTW: usize = 4;
const MXCSR: usize = 24;
const ST0: usize = 32;
const XMM0: usize = 160;

/// A pseudo-random word sequence from `seed` (splitmix64).
fn pattern(seed: u64) -> impl Iterator<Item = u64> {
    let mut state = seed;
    core::iter::repeat_with(move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// The FPU image [`fpu_fill`] loads for `seed`.
fn fpu_image(seed: u64) -> FxArea {
    let mut area = FxArea([0; 512]);
    let mut words = pattern(seed);
    let mut next = || words.next().unwrap_or(0);
    let image = &mut area.0;
    // x87 control word: every exception masked (0x37f) with a seed-chosen
    // rounding mode (bits 10-11). Status word 0 (stack top 0), tag word 0:
    // all eight registers empty, so the x87 stack is empty as Rust's asm
    // rules require, yet the register contents are still saved and
    // restored.
    let fcw = 0x037f_u16 | (((seed & 3) as u16) << 10);
    image[FCW..FCW + 2].copy_from_slice(&fcw.to_le_bytes());
    image[FTW] = 0;
    // MXCSR: every exception masked (0x1f80) with a seed-chosen rounding
    // mode (bits 13-14); no reserved bit set, so FXRSTOR accepts it.
    let mxcsr = 0x1f80_u32 | ((((seed >> 2) & 3) as u32) << 13);
    image[MXCSR..MXCSR + 4].copy_from_slice(&mxcsr.to_le_bytes());
    for i in 0..8 {
        // A normal 80-bit number: explicit integer bit, exponent near 1.0.
        let mantissa = next() | (1 << 63);
        let sign = if next() & 1 == 1 { 0x8000 } else { 0 };
        let sign_exponent = (0x3fff_u16 + (next() % 64) as u16) | sign;
        let at = ST0 + 16 * i;
        image[at..at + 8].copy_from_slice(&mantissa.to_le_bytes());
        image[at + 8..at + 10].copy_from_slice(&sign_exponent.to_le_bytes());
    }
    for i in 0..16 {
        let at = XMM0 + 16 * i;
        image[at..at + 8].copy_from_slice(&next().to_le_bytes());
        image[at + 8..at + 16].copy_from_slice(&next().to_le_bytes());
    }
    area
}

/// Loads every x87, MMX and SSE register (the eight x87 registers, the x87
/// control word, MXCSR, XMM0-XMM15) with a pattern derived from `seed`, for
/// tests that the kernel keeps each process's FPU state: call
/// [`fpu_check`] with the same seed later, after being preempted, forked,
/// or blocked.
///
/// Programs are built soft-float (`x86_64-unknown-none`): the compiler never
/// uses these registers, so nothing else in the process notices the change.
pub fn fpu_fill(seed: u64) {
    let area = fpu_image(seed);
    // SAFETY: FXRSTOR reads the 512-byte, 16-byte-aligned image, which is
    // valid (no reserved MXCSR bit set). It changes only FPU/SSE state, which
    // code built for this soft-float target never reads or relies on; the
    // x87 stack stays empty (tag word 0).
    unsafe {
        asm!("fxrstor64 [{}]", in(reg) area.0.as_ptr(), options(nostack, preserves_flags, readonly));
    }
}

/// The FPU state now, as `FXSAVE` writes it.
fn fpu_saved() -> FxArea {
    let mut area = FxArea([0; 512]);
    // SAFETY: FXSAVE writes the 512-byte, 16-byte-aligned area, which is
    // ours; it only reads the FPU state.
    unsafe {
        asm!("fxsave64 [{}]", in(reg) area.0.as_mut_ptr(), options(nostack, preserves_flags));
    }
    area
}

/// Whether the registers an `FXSAVE` image holds (the x87 control and
/// tag words and registers, MXCSR, XMM0-XMM15) are `want`'s.
fn fpu_same(have: &FxArea, want: &FxArea) -> bool {
    let (have, want) = (&have.0, &want.0);
    let same = |at: usize, len: usize| have[at..at + len] == want[at..at + len];
    same(FCW, 2)
        && same(FTW, 1)
        && same(MXCSR, 4)
        && (0..8).all(|i| same(ST0 + 16 * i, 10))
        && (0..16).all(|i| same(XMM0 + 16 * i, 16))
}

/// Whether the FPU still holds exactly what [`fpu_fill`] loaded for `seed`:
/// the x87 control word, tag word and registers, MXCSR and XMM0-XMM15.
pub fn fpu_check(seed: u64) -> bool {
    fpu_same(&fpu_saved(), &fpu_image(seed))
}

/// Whether the FPU holds the state a program starts with: x87 control
/// word 0x37f, MXCSR 0x1f80, every x87 and XMM register zero, the x87
/// stack empty (nothing of another program's).
pub fn fpu_is_initial() -> bool {
    let mut initial = FxArea([0; 512]);
    initial.0[FCW..FCW + 2].copy_from_slice(&0x037f_u16.to_le_bytes());
    initial.0[MXCSR..MXCSR + 4].copy_from_slice(&0x1f80_u32.to_le_bytes());
    fpu_same(&fpu_saved(), &initial)
}

/// The start of `mapping` as a [`Mutex<u64>`] that every process sharing
/// the mapping sees, for tests of futex-based locking across processes
/// (fork after mapping; each process locks, updates, unlocks).
///
/// Contract: the mapping's first `size_of::<Mutex<u64>>()` bytes must be
/// used only through this function, in every process that shares them:
/// still zero (a fresh mapping: all zeroes is an unlocked mutex holding 0)
/// or as a previous call left them. Do not also read or write those bytes
/// through [`SharedMapping::atomic_u8s`] and friends.
///
/// # Panics
///
/// If the mapping is too small to hold the mutex.
pub fn shared_mutex(mapping: &SharedMapping) -> &Mutex<u64> {
    assert!(mapping.len() >= size_of::<Mutex<u64>>(), "mapping too small for a Mutex<u64>");
    // SAFETY: the mapping is page-aligned (enough for the mutex), readable
    // and writable and at least as long as the mutex while `mapping` lives
    // (the borrow ties the result to it). All zeroes is a valid `Mutex<u64>`
    // (state UNLOCKED = 0, value 0). Other processes reach the same bytes
    // only through this function (the contract), so every access to the
    // value happens under the mutex's lock, whose atomic state word orders
    // it across processes exactly as across threads.
    unsafe { &*core::ptr::with_exposed_provenance::<Mutex<u64>>(mapping.addr()) }
}
