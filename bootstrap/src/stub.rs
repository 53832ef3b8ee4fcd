//! The entry. The kernel starts bootstrap with no stack at all: RDI is the
//! address of the initfs image it mapped, RSI its length, RDX 1 on a
//! self-test boot. This stub points RSP at a stack in `.bss`, lays out the
//! System V start block the runtime reads (no arguments, no environment,
//! and the three values as auxiliary-vector entries) and jumps to the
//! runtime's `_start`, so everything after it is an ordinary program.

#![allow(unsafe_code)]

use rt::abi::auxv::{AT_FERRITE_IMAGE_ADDR, AT_FERRITE_IMAGE_LEN, AT_FERRITE_SELFTEST, AT_NULL};

// SAFETY: this is the ELF entry (build.rs), run once with no Rust code
// before it; it only writes the `.bss` stack it owns (nothing else refers
// to `STACK`) and hands `_start` exactly the start block `rt::start`
// documents, 16-byte aligned.
core::arch::global_asm!(
    ".section .text._bootstrap_start,\"ax\",@progbits",
    ".global _bootstrap_start",
    "_bootstrap_start:",
    "lea rsp, [rip + {stack} + {size}]",
    "push 0",                 // padding: argc ends up 16-byte aligned
    "push 0",                 // AT_NULL's value
    "push {at_null}",
    "push rdx",
    "push {at_selftest}",
    "push rsi",
    "push {at_len}",
    "push rdi",
    "push {at_addr}",
    "push 0",                 // end of the environment
    "push 0",                 // end of argv
    "push 0",                 // argc
    "xor edi, edi",
    "xor esi, esi",
    "xor edx, edx",
    "jmp _start",
    stack = sym STACK,
    size = const STACK_SIZE,
    at_null = const AT_NULL,
    at_addr = const AT_FERRITE_IMAGE_ADDR,
    at_len = const AT_FERRITE_IMAGE_LEN,
    at_selftest = const AT_FERRITE_SELFTEST,
);

/// Bootstrap's stack (it never forks deep or recurses; the daemon it forks
/// keeps running on its copy).
const STACK_SIZE: usize = 256 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// Only the stub touches it, through its address.
static mut STACK: Stack = Stack([0; STACK_SIZE]);
