//! The Ferrite kernel.
//!
//! Boot order (docs/architecture.md §1.2): console and log, CPU tables, memory, interrupt
//! controllers and clocks, other CPUs, then — in self-test mode — the
//! self-tests. Everything hardware-specific lives under `arch::x86_64`;
//! `memory` owns physical frames, page tables, the heap and kernel stacks.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod arch;
pub mod boot;
pub mod console;
pub mod context;
pub mod framebuffer;
pub mod log_limit;
pub mod logger;
pub mod memory;
pub mod qemu;
pub mod scheme;
pub mod selftest;
pub mod syscall;
pub mod time;

pub use boot::{BOOTLOADER_CONFIG, Mode, kernel_main};
