//! The MADT (Multiple APIC Description Table, signature `"APIC"`): the local
//! APICs (one per CPU), I/O APICs, ISA interrupt overrides and NMI wiring the
//! kernel needs for SMP bring-up and IRQ routing. Touches only the slice
//! passed in.

use core::iter::FusedIterator;

use crate::Error;
use crate::bytes::{array, u8_at, u16_at, u32_at, u64_at};
use crate::sdt::{SdtHeader, validated};

/// Signature of the MADT.
pub const MADT_SIGNATURE: &[u8; 4] = b"APIC";

/// MADT `flags` bit 0: the PC-AT dual 8259 PICs are present and must be
/// masked before the I/O APICs are used.
const PCAT_COMPAT: u32 = 1;

/// A validated MADT.
#[derive(Debug, Clone, Copy)]
pub struct Madt<'a> {
    /// The table's header.
    pub header: SdtHeader,
    /// Physical address of the local APICs: the table's 32-bit field, or the
    /// 64-bit address of a [`MadtEntry::LocalApicAddressOverride`] if one
    /// comes before any malformed entry.
    pub local_apic_address: u64,
    /// MADT flags; bit 0 is PC-AT compatibility, see [`Madt::has_8259_pics`].
    pub flags: u32,
    entries: &'a [u8],
}

/// Parses a whole MADT: validates it as an SDT with signature
/// [`MADT_SIGNATURE`], reads the fixed fields (a table too short for them is
/// [`Error::BadLength`]) and applies a local APIC address override. The
/// entries themselves are checked as [`Madt::entries`] walks them.
pub fn parse_madt(table: &[u8]) -> Result<Madt<'_>, Error> {
    let (header, body) = validated(table, MADT_SIGNATURE)?;
    let local_apic_address = u32_at(body, 0).ok_or(Error::BadLength)?;
    let flags = u32_at(body, 4).ok_or(Error::BadLength)?;
    let entries = body.get(8..).ok_or(Error::BadLength)?;
    let mut madt = Madt { header, local_apic_address: u64::from(local_apic_address), flags, entries };
    let override_address = madt.entries().map_while(Result::ok).find_map(|e| match e {
        MadtEntry::LocalApicAddressOverride { address } => Some(address),
        _ => None,
    });
    if let Some(address) = override_address {
        madt.local_apic_address = address;
    }
    Ok(madt)
}

impl<'a> Madt<'a> {
    /// The interrupt controller entries, in table order. Each item is an
    /// entry or, for a malformed one (length below 2, past the end of the
    /// table, or too short for its type), a single `Err(Error::BadLength)`
    /// after which the iterator ends.
    pub fn entries(&self) -> MadtEntries<'a> {
        MadtEntries { rest: self.entries }
    }

    /// Whether the legacy 8259 PICs are present (flags bit 0): if so the
    /// kernel must mask them before using the I/O APICs.
    pub fn has_8259_pics(&self) -> bool {
        self.flags & PCAT_COMPAT != 0
    }

    /// Where ISA IRQ `irq` arrives at the I/O APICs, applying the first
    /// [`MadtEntry::InterruptSourceOverride`] for it (the bus field, always 0
    /// = ISA, is not checked). With no override the IRQ is identity mapped,
    /// edge triggered and active high. An override's "bus default" polarity
    /// or trigger means the ISA default (active high, edge); a reserved value
    /// means active low / level, as Linux reads it. Entries after a malformed
    /// one are not consulted.
    ///
    /// Note an override also takes its GSI away from the identity mapping:
    /// with QEMU's IRQ0 → GSI2, ISA IRQ2 has no GSI of its own.
    pub fn isa_irq_to_gsi(&self, irq: u8) -> IsaRoute {
        let found = self.entries().map_while(Result::ok).find_map(|e| match e {
            MadtEntry::InterruptSourceOverride { source_irq, gsi, polarity, trigger, .. } if source_irq == irq => {
                Some((gsi, polarity, trigger))
            }
            _ => None,
        });
        match found {
            None => IsaRoute { gsi: u32::from(irq), active_low: false, level_triggered: false },
            Some((gsi, polarity, trigger)) => IsaRoute {
                gsi,
                active_low: matches!(polarity, Polarity::ActiveLow | Polarity::Reserved),
                level_triggered: matches!(trigger, Trigger::Level | Trigger::Reserved),
            },
        }
    }
}

/// How an ISA IRQ is wired to the I/O APICs; see [`Madt::isa_irq_to_gsi`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsaRoute {
    /// Global system interrupt: which I/O APIC input (minus that I/O APIC's
    /// `gsi_base`).
    pub gsi: u32,
    /// Program the redirection entry active low (else active high).
    pub active_low: bool,
    /// Program the redirection entry level triggered (else edge).
    pub level_triggered: bool,
}

/// Interrupt polarity from an entry's MPS INTI flags (bits 0-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    /// 0b00: conforms to the bus (ISA: active high).
    BusDefault,
    /// 0b01.
    ActiveHigh,
    /// 0b10: not defined by the spec.
    Reserved,
    /// 0b11.
    ActiveLow,
}

/// Trigger mode from an entry's MPS INTI flags (bits 2-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// 0b00: conforms to the bus (ISA: edge).
    BusDefault,
    /// 0b01.
    Edge,
    /// 0b10: not defined by the spec.
    Reserved,
    /// 0b11.
    Level,
}

impl Polarity {
    fn from_inti_flags(flags: u16) -> Self {
        match flags & 0b11 {
            0b00 => Polarity::BusDefault,
            0b01 => Polarity::ActiveHigh,
            0b10 => Polarity::Reserved,
            _ => Polarity::ActiveLow,
        }
    }
}

impl Trigger {
    fn from_inti_flags(flags: u16) -> Self {
        match flags & 0b1100 {
            0b0000 => Trigger::BusDefault,
            0b0100 => Trigger::Edge,
            0b1000 => Trigger::Reserved,
            _ => Trigger::Level,
        }
    }
}

/// One MADT interrupt controller structure. Entries longer than their type
/// needs are accepted (later ACPI revisions append fields); shorter ones are
/// an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MadtEntry {
    /// Type 0: a CPU with an xAPIC.
    LocalApic {
        /// ACPI processor UID (matches the namespace's processor objects).
        processor_uid: u8,
        /// The CPU's local APIC ID, as used for INIT/SIPI.
        apic_id: u8,
        /// Flags bit 0: usable now. Start only enabled CPUs.
        enabled: bool,
        /// Flags bit 1 (ACPI 6.3+): a disabled CPU that can be hot-added.
        online_capable: bool,
    },
    /// Type 1: an I/O APIC.
    IoApic {
        /// I/O APIC ID.
        id: u8,
        /// Physical address of its registers.
        address: u32,
        /// First global system interrupt it handles.
        gsi_base: u32,
    },
    /// Type 2: an ISA IRQ wired to a different GSI or with non-ISA polarity
    /// or trigger; see [`Madt::isa_irq_to_gsi`].
    InterruptSourceOverride {
        /// Always 0 (ISA).
        bus: u8,
        /// The ISA IRQ.
        source_irq: u8,
        /// The GSI it arrives on.
        gsi: u32,
        /// Polarity (flags bits 0-1).
        polarity: Polarity,
        /// Trigger mode (flags bits 2-3).
        trigger: Trigger,
    },
    /// Type 3: a GSI that must be programmed as an NMI.
    NmiSource {
        /// The GSI.
        gsi: u32,
        /// Polarity (flags bits 0-1).
        polarity: Polarity,
        /// Trigger mode (flags bits 2-3).
        trigger: Trigger,
    },
    /// Type 4: which local APIC LINT pin carries NMI.
    LocalApicNmi {
        /// Processor UID it applies to; 0xff means all processors.
        processor_uid: u8,
        /// LINT pin: 0 or 1.
        lint: u8,
        /// Polarity (flags bits 0-1).
        polarity: Polarity,
        /// Trigger mode (flags bits 2-3).
        trigger: Trigger,
    },
    /// Type 5: 64-bit local APIC address, replacing the table's 32-bit one
    /// (already applied to [`Madt::local_apic_address`]).
    LocalApicAddressOverride {
        /// Physical address of the local APICs.
        address: u64,
    },
    /// Type 9: a CPU with an x2APIC (used for APIC IDs above 254).
    LocalX2Apic {
        /// The CPU's 32-bit x2APIC ID.
        x2apic_id: u32,
        /// ACPI processor UID.
        processor_uid: u32,
        /// Flags bit 0: usable now. Start only enabled CPUs.
        enabled: bool,
        /// Flags bit 1 (ACPI 6.3+): a disabled CPU that can be hot-added.
        online_capable: bool,
    },
    /// Type 10: [`MadtEntry::LocalApicNmi`] for x2APIC processors.
    LocalX2ApicNmi {
        /// Processor UID it applies to; 0xffff_ffff means all processors.
        processor_uid: u32,
        /// LINT pin: 0 or 1.
        lint: u8,
        /// Polarity (flags bits 0-1).
        polarity: Polarity,
        /// Trigger mode (flags bits 2-3).
        trigger: Trigger,
    },
    /// Any other type, skipped over.
    Other {
        /// The entry's type byte.
        entry_type: u8,
        /// The entry's length byte (at least 2).
        length: u8,
    },
}

/// Iterator over a MADT's entries; see [`Madt::entries`].
#[derive(Debug, Clone)]
pub struct MadtEntries<'a> {
    rest: &'a [u8],
}

impl Iterator for MadtEntries<'_> {
    type Item = Result<MadtEntry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match split_entry(self.rest) {
            Ok((entry, rest)) => {
                self.rest = rest;
                Some(Ok(entry))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl FusedIterator for MadtEntries<'_> {}

/// Decodes the entry at the start of `bytes`; returns it and what follows.
fn split_entry(bytes: &[u8]) -> Result<(MadtEntry, &[u8]), Error> {
    let [entry_type, length] = array(bytes, 0).ok_or(Error::BadLength)?;
    if length < 2 {
        return Err(Error::BadLength);
    }
    let (entry, rest) = bytes.split_at_checked(usize::from(length)).ok_or(Error::BadLength)?;
    let entry = decode_entry(entry_type, length, entry).ok_or(Error::BadLength)?;
    Ok((entry, rest))
}

/// `None` if `e` is too short for its type.
fn decode_entry(entry_type: u8, length: u8, e: &[u8]) -> Option<MadtEntry> {
    Some(match entry_type {
        0 => {
            let flags = u32_at(e, 4)?;
            MadtEntry::LocalApic {
                processor_uid: u8_at(e, 2)?,
                apic_id: u8_at(e, 3)?,
                enabled: flags & 1 != 0,
                online_capable: flags & 2 != 0,
            }
        }
        1 => MadtEntry::IoApic { id: u8_at(e, 2)?, address: u32_at(e, 4)?, gsi_base: u32_at(e, 8)? },
        2 => {
            let flags = u16_at(e, 8)?;
            MadtEntry::InterruptSourceOverride {
                bus: u8_at(e, 2)?,
                source_irq: u8_at(e, 3)?,
                gsi: u32_at(e, 4)?,
                polarity: Polarity::from_inti_flags(flags),
                trigger: Trigger::from_inti_flags(flags),
            }
        }
        3 => {
            let flags = u16_at(e, 2)?;
            MadtEntry::NmiSource {
                gsi: u32_at(e, 4)?,
                polarity: Polarity::from_inti_flags(flags),
                trigger: Trigger::from_inti_flags(flags),
            }
        }
        4 => {
            let flags = u16_at(e, 3)?;
            MadtEntry::LocalApicNmi {
                processor_uid: u8_at(e, 2)?,
                lint: u8_at(e, 5)?,
                polarity: Polarity::from_inti_flags(flags),
                trigger: Trigger::from_inti_flags(flags),
            }
        }
        5 => MadtEntry::LocalApicAddressOverride { address: u64_at(e, 4)? },
        9 => {
            let flags = u32_at(e, 8)?;
            MadtEntry::LocalX2Apic {
                x2apic_id: u32_at(e, 4)?,
                processor_uid: u32_at(e, 12)?,
                enabled: flags & 1 != 0,
                online_capable: flags & 2 != 0,
            }
        }
        10 => {
            let flags = u16_at(e, 2)?;
            MadtEntry::LocalX2ApicNmi {
                processor_uid: u32_at(e, 4)?,
                lint: u8_at(e, 8)?,
                polarity: Polarity::from_inti_flags(flags),
                trigger: Trigger::from_inti_flags(flags),
            }
        }
        _ => MadtEntry::Other { entry_type, length },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use std::vec;
    use std::vec::Vec;

    fn all(madt: &Madt<'_>) -> Vec<Result<MadtEntry, Error>> {
        madt.entries().collect()
    }

    /// A MADT whose entry bytes are `raw` verbatim (for malformed entries).
    fn madt_raw(raw: &[u8]) -> Vec<u8> {
        madt(0xfee0_0000, 0, &[raw.to_vec()])
    }

    #[test]
    fn qemu_like() {
        let t = qemu_madt(4);
        let m = parse_madt(&t).unwrap();
        assert_eq!(m.header.signature, *b"APIC");
        assert_eq!(m.local_apic_address, 0xfee0_0000);
        assert!(m.has_8259_pics());
        let e: Vec<MadtEntry> = m.entries().map(Result::unwrap).collect();
        assert_eq!(e.len(), 4 + 1 + 5 + 1);
        for (i, entry) in e[..4].iter().enumerate() {
            let i = i as u8;
            assert_eq!(
                *entry,
                MadtEntry::LocalApic { processor_uid: i, apic_id: i, enabled: true, online_capable: false }
            );
        }
        assert_eq!(e[4], MadtEntry::IoApic { id: 0, address: 0xfec0_0000, gsi_base: 0 });
        assert_eq!(
            e[5],
            MadtEntry::InterruptSourceOverride {
                bus: 0,
                source_irq: 0,
                gsi: 2,
                polarity: Polarity::BusDefault,
                trigger: Trigger::BusDefault
            }
        );
        assert_eq!(
            e[10],
            MadtEntry::LocalApicNmi {
                processor_uid: 0xff,
                lint: 1,
                polarity: Polarity::BusDefault,
                trigger: Trigger::BusDefault
            }
        );
    }

    #[test]
    fn qemu_isa_routes() {
        let t = qemu_madt(1);
        let m = parse_madt(&t).unwrap();
        let edge_high = |gsi| IsaRoute { gsi, active_low: false, level_triggered: false };
        assert_eq!(m.isa_irq_to_gsi(0), edge_high(2));
        assert_eq!(m.isa_irq_to_gsi(1), edge_high(1));
        assert_eq!(m.isa_irq_to_gsi(4), edge_high(4));
        for irq in [5u8, 9, 10, 11] {
            assert_eq!(
                m.isa_irq_to_gsi(irq),
                IsaRoute { gsi: u32::from(irq), active_low: false, level_triggered: true }
            );
        }
    }

    #[test]
    fn sci_level_active_low_like_real_hardware() {
        let t = madt(0xfee0_0000, 1, &[iso(0, 9, 9, 0xf), iso(0, 0, 2, 0)]);
        let m = parse_madt(&t).unwrap();
        assert_eq!(
            m.entries().next(),
            Some(Ok(MadtEntry::InterruptSourceOverride {
                bus: 0,
                source_irq: 9,
                gsi: 9,
                polarity: Polarity::ActiveLow,
                trigger: Trigger::Level
            }))
        );
        assert_eq!(m.isa_irq_to_gsi(9), IsaRoute { gsi: 9, active_low: true, level_triggered: true });
        assert_eq!(m.isa_irq_to_gsi(0).gsi, 2);
    }

    #[test]
    fn inti_flags() {
        let pol = [Polarity::BusDefault, Polarity::ActiveHigh, Polarity::Reserved, Polarity::ActiveLow];
        let trig = [Trigger::BusDefault, Trigger::Edge, Trigger::Reserved, Trigger::Level];
        for flags in 0u16..16 {
            // Upper bits are reserved and must not matter.
            let flags_with_junk = flags | 0xfff0;
            assert_eq!(Polarity::from_inti_flags(flags_with_junk), pol[usize::from(flags & 3)]);
            assert_eq!(Trigger::from_inti_flags(flags_with_junk), trig[usize::from(flags >> 2)]);
        }
        // Reserved encodings route as Linux does: active low, level.
        let t = madt(0, 0, &[iso(0, 3, 20, 0b1010)]);
        let m = parse_madt(&t).unwrap();
        assert_eq!(m.isa_irq_to_gsi(3), IsaRoute { gsi: 20, active_low: true, level_triggered: true });
        // Explicit active high / edge.
        let t = madt(0, 0, &[iso(0, 3, 20, 0b0101)]);
        let m = parse_madt(&t).unwrap();
        assert_eq!(m.isa_irq_to_gsi(3), IsaRoute { gsi: 20, active_low: false, level_triggered: false });
    }

    #[test]
    fn first_override_wins() {
        let t = madt(0, 0, &[iso(0, 0, 2, 0), iso(0, 0, 7, 0xf)]);
        assert_eq!(parse_madt(&t).unwrap().isa_irq_to_gsi(0).gsi, 2);
    }

    #[test]
    fn cpus_enabled_disabled_online_capable() {
        let t = madt(
            0xfee0_0000,
            0,
            &[local_apic(0, 0, 1), local_apic(1, 2, 0), local_apic(2, 4, 2), local_apic(3, 6, 1 | 0xffff_fff0)],
        );
        let m = parse_madt(&t).unwrap();
        assert!(!m.has_8259_pics());
        let flags: Vec<(u8, u8, bool, bool)> = m
            .entries()
            .map(|e| match e.unwrap() {
                MadtEntry::LocalApic { processor_uid, apic_id, enabled, online_capable } => {
                    (processor_uid, apic_id, enabled, online_capable)
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(flags, [(0, 0, true, false), (1, 2, false, false), (2, 4, false, true), (3, 6, true, false),]);
    }

    #[test]
    fn x2apic_entries() {
        let t = madt(
            0xfee0_0000,
            0,
            &[local_x2apic(0x1_0000, 1, 300), local_x2apic(0xffff_fffe, 2, 301), local_x2apic_nmi(0xd, 0xffff_ffff, 1)],
        );
        let m = parse_madt(&t).unwrap();
        assert_eq!(
            all(&m),
            [
                Ok(MadtEntry::LocalX2Apic {
                    x2apic_id: 0x1_0000,
                    processor_uid: 300,
                    enabled: true,
                    online_capable: false
                }),
                Ok(MadtEntry::LocalX2Apic {
                    x2apic_id: 0xffff_fffe,
                    processor_uid: 301,
                    enabled: false,
                    online_capable: true
                }),
                Ok(MadtEntry::LocalX2ApicNmi {
                    processor_uid: 0xffff_ffff,
                    lint: 1,
                    polarity: Polarity::ActiveHigh,
                    trigger: Trigger::Level
                }),
            ]
        );
    }

    #[test]
    fn io_apics_and_nmi_source() {
        let t = madt(0xfee0_0000, 0, &[io_apic(8, 0xfec0_0000, 0), io_apic(9, 0xfec0_1000, 24), nmi_source(0xf, 23)]);
        let m = parse_madt(&t).unwrap();
        assert_eq!(
            all(&m),
            [
                Ok(MadtEntry::IoApic { id: 8, address: 0xfec0_0000, gsi_base: 0 }),
                Ok(MadtEntry::IoApic { id: 9, address: 0xfec0_1000, gsi_base: 24 }),
                Ok(MadtEntry::NmiSource { gsi: 23, polarity: Polarity::ActiveLow, trigger: Trigger::Level }),
            ]
        );
    }

    #[test]
    fn address_override_applies() {
        let t = madt(0xfee0_0000, 0, &[local_apic(0, 0, 1), address_override(0x1_fee0_0000)]);
        let m = parse_madt(&t).unwrap();
        assert_eq!(m.local_apic_address, 0x1_fee0_0000);
        assert_eq!(all(&m)[1], Ok(MadtEntry::LocalApicAddressOverride { address: 0x1_fee0_0000 }));
    }

    #[test]
    fn address_override_after_malformed_entry_ignored() {
        let mut raw = vec![0x7f, 0]; // length 0: malformed
        raw.extend_from_slice(&address_override(0x1_fee0_0000));
        let t = madt_raw(&raw);
        let m = parse_madt(&t).unwrap();
        assert_eq!(m.local_apic_address, 0xfee0_0000);
    }

    #[test]
    fn unknown_entry_types_are_skipped() {
        let t = madt(0, 0, &[vec![0x7f, 3, 0xaa], vec![0x10, 2], local_apic(0, 0, 1)]);
        let m = parse_madt(&t).unwrap();
        let e = all(&m);
        assert_eq!(
            e[..2],
            [
                Ok(MadtEntry::Other { entry_type: 0x7f, length: 3 }),
                Ok(MadtEntry::Other { entry_type: 0x10, length: 2 }),
            ]
        );
        assert!(matches!(e[2], Ok(MadtEntry::LocalApic { .. })));
    }

    #[test]
    fn longer_entries_accepted() {
        let mut e = local_apic(1, 2, 1);
        e.extend_from_slice(&[0xee; 4]);
        e[1] = 12;
        let t = madt(0, 0, &[e, io_apic(0, 0xfec0_0000, 0)]);
        let m = parse_madt(&t).unwrap();
        let e = all(&m);
        assert_eq!(e.len(), 2);
        assert!(matches!(e[0], Ok(MadtEntry::LocalApic { apic_id: 2, .. })));
        assert!(matches!(e[1], Ok(MadtEntry::IoApic { .. })));
    }

    #[test]
    fn zero_and_one_length_entries_stop_iteration() {
        for len in [0u8, 1] {
            let mut raw = vec![0, len];
            raw.extend_from_slice(&local_apic(0, 0, 1));
            let t = madt_raw(&raw);
            let m = parse_madt(&t).unwrap();
            let mut it = m.entries();
            assert_eq!(it.next(), Some(Err(Error::BadLength)));
            assert_eq!(it.next(), None);
            assert_eq!(it.next(), None);
        }
    }

    #[test]
    fn entry_past_end_of_table() {
        let mut e = io_apic(0, 0xfec0_0000, 0);
        e[1] = 13; // one more than there is
        let t = madt(0, 0, &[local_apic(0, 0, 1), e]);
        let m = parse_madt(&t).unwrap();
        let e = all(&m);
        assert!(matches!(e[0], Ok(MadtEntry::LocalApic { .. })));
        assert_eq!(e[1..], [Err(Error::BadLength)]);
    }

    #[test]
    fn lone_trailing_byte() {
        let t = madt(0, 0, &[local_apic(0, 0, 1), vec![0]]);
        let m = parse_madt(&t).unwrap();
        let e = all(&m);
        assert_eq!(e.len(), 2);
        assert_eq!(e[1], Err(Error::BadLength));
    }

    #[test]
    fn entry_too_short_for_its_type() {
        for (ty, needed) in [(0u8, 8u8), (1, 12), (2, 10), (3, 8), (4, 6), (5, 12), (9, 16), (10, 9)] {
            for len in 2..needed {
                let mut raw = vec![ty, len];
                raw.resize(usize::from(len), 0);
                let t = madt_raw(&raw);
                let m = parse_madt(&t).unwrap();
                assert_eq!(all(&m), [Err(Error::BadLength)], "type {ty} len {len}");
            }
            let mut raw = vec![ty, needed];
            raw.resize(usize::from(needed), 0);
            let t = madt_raw(&raw);
            let m = parse_madt(&t).unwrap();
            assert!(matches!(all(&m)[..], [Ok(_)]), "type {ty} len {needed}");
        }
    }

    #[test]
    fn no_entries() {
        let t = madt(0xfee0_0000, 1, &[]);
        let m = parse_madt(&t).unwrap();
        assert_eq!(m.entries().count(), 0);
        assert_eq!(m.isa_irq_to_gsi(7), IsaRoute { gsi: 7, active_low: false, level_triggered: false });
    }

    #[test]
    fn too_short_for_fixed_fields() {
        for body_len in 0..8 {
            let t = sdt(b"APIC", &vec![0; body_len]);
            assert_eq!(parse_madt(&t).err(), Some(Error::BadLength));
        }
    }

    #[test]
    fn rejects_other_tables_and_bad_checksum() {
        let mut t = qemu_madt(2);
        t[0..4].copy_from_slice(b"FACP");
        fix_checksum(&mut t, 9);
        assert_eq!(parse_madt(&t).err(), Some(Error::BadSignature));
        let mut t = qemu_madt(2);
        t[50] ^= 1;
        assert_eq!(parse_madt(&t).err(), Some(Error::BadChecksum));
    }

    #[test]
    fn truncated_at_every_length() {
        let t = qemu_madt(3);
        for n in 0..t.len() {
            assert_eq!(parse_madt(&t[..n]).err(), Some(Error::Truncated), "len {n}");
        }
        assert!(parse_madt(&t).is_ok());
    }

    #[test]
    fn entries_outlive_the_madt_value() {
        let t = qemu_madt(2);
        let entries = parse_madt(&t).unwrap().entries();
        assert_eq!(entries.count(), 2 + 1 + 5 + 1);
    }
}
