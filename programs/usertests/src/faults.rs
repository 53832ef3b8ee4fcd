//! CPU faults in user mode end the process with a signal its parent sees,
//! and nothing else: null and kernel-half accesses, writing code, running
//! the stack, `sgdt` under UMIP, division by zero, `ud2`, stack overflow
//! into the guard page, port I/O without a grant.

use core::hint::black_box;

use rt::abi::{SIGFPE, SIGILL, SIGSEGV};
use rt::testing;

use crate::support::{Outcome, dies_with};

pub fn null_dereference_sigsegv() -> Outcome {
    dies_with(SIGSEGV, || {
        testing::null_read();
    })
}

pub fn kernel_and_noncanonical_access_sigsegv() -> Outcome {
    dies_with(SIGSEGV, || {
        testing::peek(0xffff_ffff_8000_0000);
    })?;
    dies_with(SIGSEGV, || {
        testing::poke(0xffff_8000_0000_0000, 1);
    })?;
    // A non-canonical address is a #GP, not a page fault.
    dies_with(SIGSEGV, || {
        testing::peek(0x0000_8000_0000_0000);
    })
}

pub fn write_to_text_sigsegv() -> Outcome {
    dies_with(SIGSEGV, testing::write_to_own_text)
}

pub fn execute_stack_sigsegv() -> Outcome {
    dies_with(SIGSEGV, testing::execute_on_stack)
}

pub fn sgdt_blocked_by_umip() -> Outcome {
    dies_with(SIGSEGV, || {
        testing::sgdt();
    })
}

pub fn divide_by_zero_sigfpe() -> Outcome {
    dies_with(SIGFPE, || {
        testing::divide_by_zero();
    })
}

pub fn invalid_opcode_sigill() -> Outcome {
    dies_with(SIGILL, || testing::ud2())
}

/// Recurses with a 4 KiB frame per level until the stack runs into its
/// guard page.
fn recurse(depth: u64) -> u64 {
    let mut frame = black_box([0u8; 4096]);
    frame[(depth % 4096) as usize] = depth as u8;
    let frame = black_box(frame);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + u64::from(frame[0])
}

pub fn stack_overflow_hits_guard_page() -> Outcome {
    dies_with(SIGSEGV, || {
        black_box(recurse(0));
    })
}

pub fn port_io_without_grant_sigsegv() -> Outcome {
    dies_with(SIGSEGV, || {
        rt::port::inb(0x80);
    })
}
