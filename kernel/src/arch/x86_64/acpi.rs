//! What the kernel needs from ACPI at boot: the CPUs, the IOAPICs and how
//! ISA IRQs map to GSIs, read from the MADT. Parsing is `acpi_tables`'s
//! (checked, host-tested); this module only finds the tables in physical
//! memory and turns the entries into a [`Platform`].

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
    let madt_phys = acpi_tables::root_table_entries(root, kind)?
        .filter(|&addr| addr != 0)
        .find(|&addr| table(addr).is_ok_and(|t| t.starts_with(b"APIC")))
        .ok_or(acpi_tables::Error::BadSignature)?;
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
