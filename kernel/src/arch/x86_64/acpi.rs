//! What the kernel needs from ACPI at boot: the CPUs, the IOAPICs and how
//! ISA IRQs map to GSIs (the MADT), where PCI Express configuration space
//! is mapped (the MCFG), and how to power off and reset (the FADT, and
//! `\_S5` in the DSDT). Parsing is `acpi_tables`'s (checked, host-tested;
//! `\_S5` is found by its byte pattern, as the kernel has no AML
//! interpreter); this module only finds the tables in physical memory and
//! turns them into a [`Platform`]. A missing or broken MCFG, FADT or DSDT
//! is logged and leaves that part empty; only the MADT is required.

use alloc::vec::Vec;

use acpi_tables::{IsaRoute, MadtEntry, RootTableKind, SDT_HEADER_LEN};
use x86_64::PhysAddr;

use crate::memory::phys_to_virt;

/// Tables longer than this are treated as corrupt.
const MAX_TABLE_LEN: usize = 1 << 20;

#[derive(Debug)]
pub struct IoApicInfo {
    pub id: u8,
    pub address: u64,
    pub gsi_base: u32,
}

#[derive(Debug)]
pub struct Platform {
    pub local_apic_address: u64,
    /// APIC IDs of the usable CPUs, in MADT order (the BSP among them).
    pub cpu_apic_ids: Vec<u32>,
    pub ioapics: Vec<IoApicInfo>,
    /// Route of each ISA IRQ 0-15 after the MADT's overrides.
    pub isa_routes: [IsaRoute; 16],
    /// How to power off and reset (from the FADT and the DSDT's `\_S5`).
    pub power: super::power::Power,
    /// PCI Express configuration space (ECAM) regions, from the MCFG.
    pub ecam: Vec<acpi_tables::EcamRegion>,
}

/// `len` bytes of physical memory at `phys`, through the physical-memory
/// mapping. ACPI tables live in RAM the bootloader mapped.
fn physical_bytes(phys: u64, len: usize) -> &'static [u8] {
    // SAFETY: the firmware's tables lie in RAM covered by the bootloader's
    // physical-memory mapping and are never written after boot; the parser
    // checks everything it reads, so a bad length yields an error, not UB
    // beyond reading mapped RAM.
    unsafe { core::slice::from_raw_parts(phys_to_virt(PhysAddr::new(phys)).as_ptr::<u8>(), len) }
}

/// A whole table at `phys`: read its header, then map its full length.
fn table(phys: u64) -> Result<&'static [u8], acpi_tables::Error> {
    let header = acpi_tables::parse_sdt_header(physical_bytes(phys, SDT_HEADER_LEN))?;
    let len = header.length as usize;
    if !(SDT_HEADER_LEN..=MAX_TABLE_LEN).contains(&len) {
        return Err(acpi_tables::Error::BadLength);
    }
    Ok(physical_bytes(phys, len))
}

pub fn discover(rsdp_phys: u64) -> Result<Platform, acpi_tables::Error> {
    let rsdp = acpi_tables::parse_rsdp(physical_bytes(rsdp_phys, acpi_tables::RSDP_V2_LEN))?;
    let (kind, root_phys) = rsdp.root_table();
    let root = table(root_phys)?;
    let find = |signature: &[u8; 4]| -> Option<u64> {
        acpi_tables::root_table_entries(root, kind)
            .ok()?
            .filter(|&addr| addr != 0)
            .find(|&addr| table(addr).is_ok_and(|t| t.starts_with(signature)))
    };
    let madt_phys = find(b"APIC").ok_or(acpi_tables::Error::BadSignature)?;
    let madt = acpi_tables::parse_madt(table(madt_phys)?)?;
    log::info!(
        "ACPI {}: {} at {root_phys:#x}, MADT at {madt_phys:#x}",
        if rsdp.revision >= 2 { "2.0+" } else { "1.0" },
        if kind == RootTableKind::Xsdt { "XSDT" } else { "RSDT" },
    );

    let mut platform = Platform {
        local_apic_address: madt.local_apic_address,
        cpu_apic_ids: Vec::new(),
        ioapics: Vec::new(),
        isa_routes: core::array::from_fn(|irq| madt.isa_irq_to_gsi(irq as u8)),
        power: find(b"FACP").map(power).unwrap_or_default(),
        ecam: find(b"MCFG").map(ecam).unwrap_or_default(),
    };
    for entry in madt.entries() {
        match entry? {
            MadtEntry::LocalApic { apic_id, enabled: true, .. } => platform.cpu_apic_ids.push(u32::from(apic_id)),
            MadtEntry::LocalX2Apic { x2apic_id, enabled: true, .. } => platform.cpu_apic_ids.push(x2apic_id),
            MadtEntry::IoApic { id, address, gsi_base } => {
                platform.ioapics.push(IoApicInfo { id, address: u64::from(address), gsi_base })
            }
            MadtEntry::LocalApicAddressOverride { address } => platform.local_apic_address = address,
            _ => {}
        }
    }
    Ok(platform)
}

/// The ECAM regions the MCFG at `phys` lists.
fn ecam(phys: u64) -> Vec<acpi_tables::EcamRegion> {
    let regions: Result<Vec<_>, _> =
        table(phys).and_then(acpi_tables::parse_mcfg).and_then(|mcfg| mcfg.entries().collect());
    match regions {
        Ok(regions) => {
            for r in &regions {
                log::info!("PCIe: segment {} buses {}-{} at {:#x}", r.segment, r.start_bus, r.end_bus, r.base);
            }
            regions
        }
        Err(err) => {
            log::warn!("ACPI: MCFG unusable ({err}); no PCIe configuration space");
            Vec::new()
        }
    }
}

/// What the FADT at `phys` and its DSDT say about powering off and
/// resetting.
fn power(phys: u64) -> super::power::Power {
    use super::power::{Power, ResetRegister};
    use acpi_tables::AddressSpace;
    let fadt = match table(phys).and_then(acpi_tables::parse_fadt) {
        Ok(fadt) => fadt,
        Err(err) => {
            log::warn!("ACPI: FADT unusable ({err}); poweroff and reboot fall back to the 8042");
            return Power::default();
        }
    };
    let port = |gas: Option<acpi_tables::GenericAddress>| {
        gas.filter(|g| g.space == AddressSpace::SystemIo)
            .and_then(|g| u16::try_from(g.address).ok())
            .filter(|&p| p != 0)
    };
    let s5 = match table(fadt.dsdt()).and_then(acpi_tables::find_s5) {
        Ok(state) => Some((state.slp_typ_a, state.slp_typ_b)),
        Err(err) => {
            log::warn!("ACPI: no \\_S5 in the DSDT ({err}); poweroff will not work");
            None
        }
    };
    let reset = fadt.reset().and_then(|(gas, value)| match gas.space {
        AddressSpace::SystemIo => u16::try_from(gas.address).ok().map(|p| ResetRegister::Port(p, value)),
        AddressSpace::SystemMemory => Some(ResetRegister::Memory(gas.address, value)),
        _ => None,
    });
    let power = Power {
        pm1a_control: port(fadt.pm1a_control()),
        pm1b_control: port(fadt.pm1b_control()),
        s5,
        smi_command: u16::try_from(fadt.smi_command).unwrap_or(0),
        acpi_enable: fadt.acpi_enable,
        reset,
    };
    log::info!("ACPI power: PM1a_CNT {:?}, \\_S5 {:?}, reset {:?}", power.pm1a_control, power.s5, power.reset);
    power
}
