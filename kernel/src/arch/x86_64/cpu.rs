//! CPU identification and the control-register hardening every CPU applies
//! at start-up (SMEP, SMAP, UMIP, NXE, WP). Reads CPUID and writes CR0, CR4
//! and EFER; nothing else.

use core::arch::x86_64::{__cpuid, __cpuid_count};
use core::fmt;

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};

/// The CPU features the kernel cares about.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub vendor: [u8; 12],
    pub family: u32,
    pub model: u32,
    pub x2apic: bool,
    pub tsc_deadline: bool,
    pub invariant_tsc: bool,
    pub xsave: bool,
    pub smep: bool,
    pub smap: bool,
    pub umip: bool,
    pub nx: bool,
    pub rdrand: bool,
    pub rdseed: bool,
    pub fsgsbase: bool,
    pub pcid: bool,
    pub hypervisor: bool,
}

impl Features {
    pub fn detect() -> Self {
        // Leaves above the reported maxima are not queried.
        let leaf0 = __cpuid(0);
        let leaf1 = __cpuid(1);
        let leaf7 = (leaf0.eax >= 7).then(|| __cpuid_count(7, 0));
        let ext_max = __cpuid(0x8000_0000).eax;
        let ext1 = (ext_max >= 0x8000_0001).then(|| __cpuid(0x8000_0001));
        let ext7 = (ext_max >= 0x8000_0007).then(|| __cpuid(0x8000_0007));
        let mut vendor = [0u8; 12];
        vendor[0..4].copy_from_slice(&leaf0.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&leaf0.edx.to_le_bytes());
        vendor[8..12].copy_from_slice(&leaf0.ecx.to_le_bytes());
        let base_family = (leaf1.eax >> 8) & 0xf;
        let family = if base_family == 0xf { base_family + ((leaf1.eax >> 20) & 0xff) } else { base_family };
        let model = ((leaf1.eax >> 4) & 0xf) | (((leaf1.eax >> 16) & 0xf) << 4);
        let bit = |reg: u32, n: u32| reg & (1 << n) != 0;
        let (ebx7, ecx7) = leaf7.map_or((0, 0), |l| (l.ebx, l.ecx));
        Self {
            vendor,
            family,
            model,
            x2apic: bit(leaf1.ecx, 21),
            tsc_deadline: bit(leaf1.ecx, 24),
            xsave: bit(leaf1.ecx, 26),
            rdrand: bit(leaf1.ecx, 30),
            hypervisor: bit(leaf1.ecx, 31),
            pcid: bit(leaf1.ecx, 17),
            fsgsbase: bit(ebx7, 0),
            smep: bit(ebx7, 7),
            smap: bit(ebx7, 20),
            rdseed: bit(ebx7, 18),
            umip: bit(ecx7, 2),
            nx: ext1.is_some_and(|l| bit(l.edx, 20)),
            invariant_tsc: ext7.is_some_and(|l| bit(l.edx, 8)),
        }
    }

    pub fn vendor_str(&self) -> &str {
        core::str::from_utf8(&self.vendor).unwrap_or("unknown")
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} family {:#x} model {:#x}:", self.vendor_str(), self.family, self.model)?;
        let flags = [
            ("x2apic", self.x2apic),
            ("tsc-deadline", self.tsc_deadline),
            ("invariant-tsc", self.invariant_tsc),
            ("xsave", self.xsave),
            ("smep", self.smep),
            ("smap", self.smap),
            ("umip", self.umip),
            ("nx", self.nx),
            ("rdrand", self.rdrand),
            ("rdseed", self.rdseed),
            ("fsgsbase", self.fsgsbase),
            ("pcid", self.pcid),
            ("hypervisor", self.hypervisor),
        ];
        for (name, present) in flags {
            if present {
                write!(f, " {name}")?;
            }
        }
        Ok(())
    }
}

/// The protections this CPU turned on, for the boot log and the banner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Protections {
    pub smep: bool,
    pub smap: bool,
    pub umip: bool,
    pub nxe: bool,
    pub wp: bool,
}

impl fmt::Display for Protections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, on) in
            [("SMEP", self.smep), ("SMAP", self.smap), ("UMIP", self.umip), ("NXE", self.nxe), ("WP", self.wp)]
        {
            if on {
                if !first {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Turn on every protection this CPU supports and report what is on.
/// Called on each CPU before it runs anything but kernel code.
pub fn harden(features: &Features) -> Protections {
    // SAFETY: the kernel maps no user pages yet and only touches user memory
    // through the copy functions (which toggle SMAP), so SMEP/SMAP cannot
    // break it; UMIP only restricts ring 3; WP makes ring 0 honour read-only
    // pages, which the kernel never writes; NXE is required by the page
    // tables the bootloader built (they already use the NX bit).
    unsafe {
        Efer::update(|efer| efer.insert(EferFlags::NO_EXECUTE_ENABLE | EferFlags::SYSTEM_CALL_EXTENSIONS));
        Cr0::update(|cr0| cr0.insert(Cr0Flags::WRITE_PROTECT));
        Cr4::update(|cr4| {
            cr4.insert(Cr4Flags::PAGE_GLOBAL);
            if features.smep {
                cr4.insert(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION);
            }
            if features.smap {
                cr4.insert(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION);
            }
            if features.umip {
                cr4.insert(Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION);
            }
        });
    }
    current_protections()
}

/// Read back what is actually enabled on this CPU.
pub fn current_protections() -> Protections {
    let cr4 = Cr4::read();
    Protections {
        smep: cr4.contains(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION),
        smap: cr4.contains(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION),
        umip: cr4.contains(Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION),
        nxe: Efer::read().contains(EferFlags::NO_EXECUTE_ENABLE),
        wp: Cr0::read().contains(Cr0Flags::WRITE_PROTECT),
    }
}
