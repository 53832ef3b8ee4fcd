//! Switching kernel stacks between threads. A thread that is not running
//! keeps its kernel context on its own stack: RFLAGS and the callee-saved
//! registers, below the return address into `switch_context`'s caller. Its
//! saved RSP is all the scheduler stores.

use core::arch::global_asm;

use super::trap::TrapFrame;

global_asm!(
    r#"
    .section .text.switch_context, "ax"
    // switch_context(save_rsp: *mut u64, next_rsp: u64)
    .global switch_context
switch_context:
    pushfq
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    popfq
    ret

    // Where a new thread starts: finish the switch bookkeeping, then leave
    // for user mode through the trap frame at the top of its stack.
    .global new_thread_entry
new_thread_entry:
    call {finish}
    jmp trap_exit
    "#,
    finish = sym new_thread_finish,
);

unsafe extern "C" {
    fn switch_context(save_rsp: *mut u64, next_rsp: u64);
    fn new_thread_entry();
}

extern "C" fn new_thread_finish() {
    crate::context::scheduler::finish_switch();
}

/// Save the current kernel context, storing its RSP in `*save_rsp`, and
/// resume the one saved at `next_rsp`.
///
/// # Safety
/// `next_rsp` must be a context saved by this function or built by
/// [`prepare_new_thread`] on a stack that is mapped and that no other CPU
/// runs on; `save_rsp` must stay valid until this thread is resumed.
pub unsafe fn switch(save_rsp: *mut u64, next_rsp: u64) {
    // SAFETY: per the caller's contract.
    unsafe { switch_context(save_rsp, next_rsp) }
}

/// Words `switch_context` pops: r15, r14, r13, r12, rbx, rbp, rflags, and
/// then the return address.
const SAVED_WORDS: usize = 8;

/// Lay out a new thread's kernel stack: `frame` at the very top (what the
/// thread will return to user mode with) and below it a context that
/// `switch_context` resumes into `new_thread_entry`, interrupts off.
/// Returns the RSP to resume.
///
/// # Safety
/// `stack_top` must be the 16-byte aligned top of a mapped kernel stack of
/// at least a page that nothing else uses.
pub unsafe fn prepare_new_thread(stack_top: u64, frame: &TrapFrame) -> u64 {
    let frame_addr = stack_top - core::mem::size_of::<TrapFrame>() as u64;
    let context = frame_addr - (SAVED_WORDS * 8) as u64;
    let words: [u64; SAVED_WORDS] = [0, 0, 0, 0, 0, 0, 0x2, new_thread_entry as *const () as u64];
    // SAFETY: both writes are inside the caller's stack, below its top.
    unsafe {
        (frame_addr as *mut TrapFrame).write(*frame);
        (context as *mut [u64; SAVED_WORDS]).write(words);
    }
    context
}

/// The trap frame at the top of a thread's kernel stack.
pub fn user_frame_at(stack_top: u64) -> *mut TrapFrame {
    (stack_top - core::mem::size_of::<TrapFrame>() as u64) as *mut TrapFrame
}
