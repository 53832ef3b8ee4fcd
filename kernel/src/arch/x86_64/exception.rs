//! CPU exceptions (vectors 0-31). A breakpoint is logged and execution
//! resumes; a fault inside `trap::try_call` resumes at its recovery point;
//! anything else in the kernel prints the full register state (and, for a
//! page fault, the faulting address and decoded error code) and panics.

use core::fmt;
use core::sync::atomic::Ordering;

use x86_64::registers::control::{Cr0, Cr2, Cr3, Cr4};

use super::percpu;
use super::trap::{TrapFrame, resume_at_recovery};
use crate::memory::address_space::Access;
use crate::memory::{kstack, usercopy};

pub const DIVIDE_ERROR: u8 = 0;
pub const NMI: u8 = 2;
pub const BREAKPOINT: u8 = 3;
pub const INVALID_OPCODE: u8 = 6;
pub const DEVICE_NOT_AVAILABLE: u8 = 7;
pub const DOUBLE_FAULT: u8 = 8;
pub const STACK_SEGMENT: u8 = 12;
pub const GENERAL_PROTECTION: u8 = 13;
pub const PAGE_FAULT: u8 = 14;
pub const ALIGNMENT_CHECK: u8 = 17;
pub const MACHINE_CHECK: u8 = 18;

pub fn name(vector: u8) -> &'static str {
    match vector {
        0 => "divide error (#DE)",
        1 => "debug (#DB)",
        2 => "non-maskable interrupt",
        3 => "breakpoint (#BP)",
        4 => "overflow (#OF)",
        5 => "bound range exceeded (#BR)",
        6 => "invalid opcode (#UD)",
        7 => "device not available (#NM)",
        8 => "double fault (#DF)",
        10 => "invalid TSS (#TS)",
        11 => "segment not present (#NP)",
        12 => "stack-segment fault (#SS)",
        13 => "general protection fault (#GP)",
        14 => "page fault (#PF)",
        16 => "x87 floating-point error (#MF)",
        17 => "alignment check (#AC)",
        18 => "machine check (#MC)",
        19 => "SIMD floating-point error (#XM)",
        20 => "virtualization exception (#VE)",
        21 => "control protection exception (#CP)",
        28 => "hypervisor injection exception (#HV)",
        29 => "VMM communication exception (#VC)",
        30 => "security exception (#SX)",
        _ => "reserved exception",
    }
}

/// The page-fault error code, decoded.
pub struct PageFaultCode(pub u64);

impl fmt::Display for PageFaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.0;
        let bit = |n: u32| code & (1 << n) != 0;
        f.write_str(if bit(0) { "protection violation" } else { "page not present" })?;
        f.write_str(if bit(4) {
            ", instruction fetch"
        } else if bit(1) {
            ", write"
        } else {
            ", read"
        })?;
        f.write_str(if bit(2) { ", user mode" } else { ", kernel mode" })?;
        for (n, what) in [(3, "reserved bit set"), (5, "protection key"), (6, "shadow stack"), (15, "SGX")] {
            if bit(n) {
                write!(f, ", {what}")?;
            }
        }
        Ok(())
    }
}

pub(super) fn handle(vector: u8, frame: &mut TrapFrame) {
    if frame.from_user() {
        return user_exception(vector, frame);
    }
    match vector {
        BREAKPOINT => {
            percpu::current().breakpoints.fetch_add(1, Ordering::Relaxed);
            log::info!("breakpoint at {:#x}, resuming", frame.rip - 1);
        }
        NMI => {
            if crate::boot::panicking() {
                // Another CPU panicked and asked everyone to stop.
                super::halt_forever();
            }
            log::warn!("non-maskable interrupt at {:#x}", frame.rip);
        }
        PAGE_FAULT | DOUBLE_FAULT => {
            let address = Cr2::read_raw();
            // A user copy touching a page the process has not faulted in yet.
            if vector == PAGE_FAULT && usercopy::resolve_fault(address, frame.error_code & PF_WRITE != 0) {
                return;
            }
            // A user copy that cannot go on: it returns an error.
            if vector == PAGE_FAULT && usercopy::fixup(frame, address) {
                return;
            }
            if resume_at_recovery(vector, frame, address) {
                return;
            }
            fatal(vector, frame, Some(address));
        }
        DIVIDE_ERROR | INVALID_OPCODE | GENERAL_PROTECTION | STACK_SEGMENT | ALIGNMENT_CHECK => {
            if resume_at_recovery(vector, frame, 0) {
                return;
            }
            fatal(vector, frame, None);
        }
        _ => fatal(vector, frame, None),
    }
}

const PF_WRITE: u64 = 1 << 1;
const PF_FETCH: u64 = 1 << 4;

/// An exception in ring 3: resolve it if it is a page the process may have
/// (demand-zero, copy-on-write); otherwise end the process, say why in the
/// log, and let its parent see the signal.
fn user_exception(vector: u8, frame: &mut TrapFrame) {
    if vector == DEVICE_NOT_AVAILABLE {
        // The thread's first x87/SSE instruction (CR0.TS, `fpu`).
        crate::context::scheduler::fpu_first_use();
        return;
    }
    let (signal, address) = match vector {
        PAGE_FAULT => {
            let address = Cr2::read_raw();
            let access = if frame.error_code & PF_FETCH != 0 {
                Access::Execute
            } else if frame.error_code & PF_WRITE != 0 {
                Access::Write
            } else {
                Access::Read
            };
            let resolve = || crate::context::with_current_space(|space| space.handle_fault(address, access));
            if resolve().unwrap_or(false) {
                return;
            }
            // Out of memory: the largest process dies, not necessarily this one.
            if !crate::memory::frame::user_frames_available()
                && let Some(current) = crate::context::current_process()
                && crate::context::oom::make_room(&current)
                && resolve().unwrap_or(false)
            {
                return;
            }
            (abi::SIGSEGV, Some(address))
        }
        DIVIDE_ERROR | 16 | 19 => (abi::SIGFPE, None),
        INVALID_OPCODE => (abi::SIGILL, None),
        _ => (abi::SIGSEGV, None),
    };
    let process = crate::context::current_process();
    let (pid, name) = process.as_ref().map_or((0, alloc::string::String::new()), |p| (p.pid, p.name.lock().clone()));
    crate::caller_log!(
        Warn,
        "pid {pid} ({name}): {} at RIP {:#x}{} - killed",
        self::name(vector),
        frame.rip,
        UserFaultDetail { vector, error_code: frame.error_code, address }
    );
    drop(process);
    crate::context::process::exit_current(abi::status::signaled(signal));
}

struct UserFaultDetail {
    vector: u8,
    error_code: u64,
    address: Option<u64>,
}

impl fmt::Display for UserFaultDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.address {
            Some(address) if self.vector == PAGE_FAULT => {
                write!(f, ", address {address:#x} ({})", PageFaultCode(self.error_code))
            }
            _ if self.error_code != 0 => write!(f, ", error code {:#x}", self.error_code),
            _ => Ok(()),
        }
    }
}

fn fatal(vector: u8, frame: &TrapFrame, address: Option<u64>) -> ! {
    crate::kprintln!(
        "\nCPU {} EXCEPTION: {}{}\n{}\n  CR0 {:#x}  CR2 {:#x}  CR3 {:#x}  CR4 {:#x}",
        percpu::current_index(),
        name(vector),
        FaultDetail { vector, error_code: frame.error_code, address },
        frame,
        Cr0::read_raw(),
        Cr2::read_raw(),
        Cr3::read().0.start_address().as_u64(),
        Cr4::read_raw(),
    );
    panic!("unhandled {} in the kernel at {:#x}", name(vector), frame.rip);
}

/// The address and cause of a fault, for the fatal report.
struct FaultDetail {
    vector: u8,
    error_code: u64,
    address: Option<u64>,
}

impl fmt::Display for FaultDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(address) = self.address else {
            return Ok(());
        };
        if self.vector == PAGE_FAULT {
            write!(f, " at {address:#x}: {}", PageFaultCode(self.error_code))?;
        }
        if let Some(stack) = kstack::guard_page_owner(address) {
            write!(
                f,
                " (kernel stack overflow: {address:#x} is the guard page below the stack {:#x}..{:#x})",
                stack.start, stack.end
            )?;
        }
        Ok(())
    }
}
