//! FPU/SSE state. The kernel itself never uses these registers (it is built
//! soft-float), and neither do Ferrite's own programs (the soft-float
//! `x86_64-unknown-none` target), so a thread's state is saved and
//! restored only once the thread has used them (docs/architecture.md
//! §5.4, "FPU state"): a thread starts with CR0.TS set, its first x87 or
//! SSE instruction traps (#NM, `scheduler::fpu_first_use`), and from then on each
//! switch saves and restores its 512-byte `FXSAVE64` area. A thread that
//! has not used the registers never runs while they hold another thread's
//! state: they are reset to the initial image first (no state is left for
//! a LazyFP-style speculative read). Enabling touches CR0 and CR4 only.

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

/// The FXSAVE image of one thread (x87, MMX, SSE registers and MXCSR).
#[derive(Clone)]
#[repr(C, align(16))]
pub struct FpuState([u8; 512]);

impl FpuState {
    /// The state a new program starts with: x87 and SSE reset, all
    /// exceptions masked (FCW 0x37f, MXCSR 0x1f80).
    pub const fn initial() -> Self {
        let mut image = [0u8; 512];
        image[0] = 0x7f; // FCW low
        image[1] = 0x03; // FCW high
        image[24] = 0x80; // MXCSR = 0x1f80
        image[25] = 0x1f;
        Self(image)
    }

    pub fn save(&mut self) {
        // SAFETY: the area is 512 bytes, 16-byte aligned, owned by `self`;
        // OSFXSR is set on every CPU by `enable`.
        unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) self.0.as_mut_ptr(), options(nostack, preserves_flags)) };
    }

    pub fn restore(&self) {
        // SAFETY: as for `save`; the image came from `initial` or `save`, so
        // its reserved bits and MXCSR are valid.
        unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) self.0.as_ptr(), options(nostack, preserves_flags)) };
    }
}

/// Let user code use x87 and SSE on this CPU, with SIMD exceptions
/// reported as #XM rather than #UD.
pub fn enable() {
    // SAFETY: turning on FPU/SSE support changes no memory and is required
    // before any thread may use those registers.
    unsafe {
        Cr0::update(|cr0| {
            cr0.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
            cr0.insert(Cr0Flags::MONITOR_COPROCESSOR | Cr0Flags::NUMERIC_ERROR);
        });
        Cr4::update(|cr4| cr4.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
        core::arch::asm!("fninit", options(nomem, nostack));
    }
}

/// Make this CPU's next x87/SSE instruction trap (#NM): CR0.TS.
pub fn trap_use() {
    // SAFETY: setting CR0.TS changes no memory; it only makes FPU/SSE
    // instructions fault until `allow_use`, and the kernel runs none.
    unsafe { Cr0::update(|cr0| cr0.insert(Cr0Flags::TASK_SWITCHED)) };
}

/// Let this CPU run x87/SSE instructions again: `clts`.
pub fn allow_use() {
    // SAFETY: clearing CR0.TS changes no memory.
    unsafe { core::arch::asm!("clts", options(nomem, nostack, preserves_flags)) };
}
