//! The SYSCALL/SYSRET entry and exit (docs/architecture.md §2.1).
//!
//! Entry: `swapgs` to this CPU's data, park the user RSP there, switch to
//! the running thread's kernel stack (`PerCpu::kernel_rsp`), and build the
//! same [`TrapFrame`] an interrupt from ring 3 would: SS, RSP, RFLAGS (from
//! R11), CS, RIP (from RCX), then every general register. The Rust
//! dispatcher reads the number and arguments from the frame and writes the
//! result into its RAX.
//!
//! Exit: SYSRET when the frame still describes an ordinary return to ring
//! 3 (user CS/SS, canonical lower-half RIP); otherwise IRETQ, which can
//! return anywhere the frame says without SYSRET's non-canonical-RIP trap
//! in ring 0. RCX and R11 are clobbered on return, as the syscall ABI says.
//!
//! RFLAGS on entry: SFMASK clears IF, DF, TF and AC, so the entry runs with
//! interrupts off until the dispatcher turns them on on the kernel stack,
//! and needs no `cld` for the Rust code (DF is already clear).

use core::arch::global_asm;

use x86_64::VirtAddr;
use x86_64::registers::model_specific::{LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;

use super::gdt;
use super::percpu::{KERNEL_RSP_OFFSET, USER_RSP_OFFSET};
use super::trap::{TrapFrame, pop_registers, push_registers};

/// The `vector` field of a frame built by the SYSCALL entry.
pub const SYSCALL_FRAME: u64 = 0x100;

global_asm!(
    r#"
    .section .text.syscall_entry, "ax"
    .global syscall_entry
syscall_entry:
    swapgs
    mov gs:[{user_rsp}], rsp
    mov rsp, gs:[{kernel_rsp}]
    push {user_ss}
    push qword ptr gs:[{user_rsp}]
    push r11
    push {user_cs}
    push rcx
    push 0
    push {marker}
"#,
    push_registers!(),
    r#"
    mov rdi, rsp
    call {dispatch}
    cli
"#,
    pop_registers!(),
    r#"
    add rsp, 16
    // [rsp] RIP, [rsp+8] CS, [rsp+16] RFLAGS, [rsp+24] RSP, [rsp+32] SS
    mov rcx, [rsp]
    mov r11, rcx
    shr r11, 47
    jnz 1f
    cmp qword ptr [rsp + 8], {user_cs}
    jne 1f
    cmp qword ptr [rsp + 32], {user_ss}
    jne 1f
    mov r11, [rsp + 16]
    mov rsp, [rsp + 24]
    swapgs
    sysretq
1:
    swapgs
    iretq
    "#,
    user_rsp = const USER_RSP_OFFSET,
    kernel_rsp = const KERNEL_RSP_OFFSET,
    user_ss = const gdt::USER_DATA.0 as u64,
    user_cs = const gdt::USER_CODE.0 as u64,
    marker = const SYSCALL_FRAME,
    dispatch = sym syscall_entry_rust,
);

unsafe extern "C" {
    fn syscall_entry();
}

extern "C" fn syscall_entry_rust(frame: &mut TrapFrame) {
    crate::syscall::handle(frame);
}

/// Program this CPU's SYSCALL MSRs (EFER.SCE is set by `cpu::harden`).
pub fn init_this_cpu() {
    Star::write(gdt::USER_CODE, gdt::USER_DATA, gdt::KERNEL_CODE, gdt::KERNEL_DATA)
        .expect("GDT layout does not fit SYSCALL/SYSRET");
    LStar::write(VirtAddr::new(syscall_entry as *const () as u64));
    SFMask::write(RFlags::INTERRUPT_FLAG | RFlags::DIRECTION_FLAG | RFlags::TRAP_FLAG | RFlags::ALIGNMENT_CHECK);
}
