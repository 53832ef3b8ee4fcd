//! Test-only helpers: build ACPI structures byte by byte (with checksums
//! fixed up) and a tiny xorshift PRNG for the fuzz-style tests. Compiled only
//! under `cfg(test)`; touches nothing but the buffers it returns.

use std::vec::Vec;

/// Sets `bytes[at]` so that all of `bytes` sums to zero.
pub fn fix_checksum(bytes: &mut [u8], at: usize) {
    bytes[at] = 0;
    let sum = bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    bytes[at] = sum.wrapping_neg();
}

/// Like [`fix_checksum`] over the first `len` bytes only (clamped to the
/// buffer), for mutated tables whose length field no longer matches.
pub fn fix_checksum_prefix(bytes: &mut [u8], at: usize, len: usize) {
    let len = len.min(bytes.len());
    if at < len {
        fix_checksum(&mut bytes[..len], at);
    }
}

/// An ACPI 1.0 RSDP.
pub fn rsdp_v1(rsdt: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"RSD PTR ");
    b.push(0); // checksum
    b.extend_from_slice(b"BOCHS ");
    b.push(0); // revision
    b.extend_from_slice(&rsdt.to_le_bytes());
    assert_eq!(b.len(), 20);
    fix_checksum(&mut b, 8);
    b
}

/// An ACPI 2.0 RSDP.
pub fn rsdp_v2(rsdt: u32, xsdt: u64) -> Vec<u8> {
    let mut b = rsdp_v1(rsdt);
    b[15] = 2;
    b.extend_from_slice(&36u32.to_le_bytes());
    b.extend_from_slice(&xsdt.to_le_bytes());
    b.extend_from_slice(&[0; 4]); // extended checksum, reserved
    assert_eq!(b.len(), 36);
    fix_checksum(&mut b[..20], 8);
    fix_checksum(&mut b, 32);
    b
}

/// A table: header with `signature`, then `body`; length and checksum set.
pub fn sdt(signature: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(signature);
    b.extend_from_slice(&u32::try_from(36 + body.len()).unwrap().to_le_bytes());
    b.push(1); // revision
    b.push(0); // checksum
    b.extend_from_slice(b"BOCHS ");
    b.extend_from_slice(b"BXPC    ");
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(b"BXPC");
    b.extend_from_slice(&1u32.to_le_bytes());
    assert_eq!(b.len(), 36);
    b.extend_from_slice(body);
    fix_checksum(&mut b, 9);
    b
}

pub fn rsdt(entries: &[u32]) -> Vec<u8> {
    let body: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
    sdt(b"RSDT", &body)
}

pub fn xsdt(entries: &[u64]) -> Vec<u8> {
    let body: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
    sdt(b"XSDT", &body)
}

/// A MADT with the given fixed fields and already-encoded entries.
pub fn madt(local_apic: u32, flags: u32, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&local_apic.to_le_bytes());
    body.extend_from_slice(&flags.to_le_bytes());
    for e in entries {
        body.extend_from_slice(e);
    }
    sdt(b"APIC", &body)
}

fn entry(entry_type: u8, fields: &[&[u8]]) -> Vec<u8> {
    let mut e = std::vec![entry_type, 0];
    for f in fields {
        e.extend_from_slice(f);
    }
    e[1] = u8::try_from(e.len()).unwrap();
    e
}

pub fn local_apic(uid: u8, apic_id: u8, flags: u32) -> Vec<u8> {
    entry(0, &[&[uid, apic_id], &flags.to_le_bytes()])
}

pub fn io_apic(id: u8, address: u32, gsi_base: u32) -> Vec<u8> {
    entry(1, &[&[id, 0], &address.to_le_bytes(), &gsi_base.to_le_bytes()])
}

pub fn iso(bus: u8, source: u8, gsi: u32, flags: u16) -> Vec<u8> {
    entry(2, &[&[bus, source], &gsi.to_le_bytes(), &flags.to_le_bytes()])
}

pub fn nmi_source(flags: u16, gsi: u32) -> Vec<u8> {
    entry(3, &[&flags.to_le_bytes(), &gsi.to_le_bytes()])
}

pub fn local_apic_nmi(uid: u8, flags: u16, lint: u8) -> Vec<u8> {
    entry(4, &[&[uid], &flags.to_le_bytes(), &[lint]])
}

pub fn address_override(address: u64) -> Vec<u8> {
    entry(5, &[&[0, 0], &address.to_le_bytes()])
}

pub fn local_x2apic(x2apic_id: u32, flags: u32, uid: u32) -> Vec<u8> {
    entry(9, &[&[0, 0], &x2apic_id.to_le_bytes(), &flags.to_le_bytes(), &uid.to_le_bytes()])
}

pub fn local_x2apic_nmi(flags: u16, uid: u32, lint: u8) -> Vec<u8> {
    entry(10, &[&flags.to_le_bytes(), &uid.to_le_bytes(), &[lint, 0, 0, 0]])
}

/// The MADT QEMU (q35/pc) builds for `ncpus` CPUs: one local APIC per CPU,
/// one I/O APIC at 0xfec00000, IRQ0 → GSI2, IRQs 5, 9, 10, 11 level/active
/// high, LINT1 NMI for all processors.
pub fn qemu_madt(ncpus: u8) -> Vec<u8> {
    let mut entries = Vec::new();
    for i in 0..ncpus {
        entries.push(local_apic(i, i, 1));
    }
    entries.push(io_apic(0, 0xfec0_0000, 0));
    entries.push(iso(0, 0, 2, 0));
    for irq in [5, 9, 10, 11] {
        entries.push(iso(0, irq, u32::from(irq), 0xd));
    }
    entries.push(local_apic_nmi(0xff, 0, 1));
    madt(0xfee0_0000, 1, &entries)
}

/// xorshift64: deterministic, good enough to throw garbage at parsers.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
}

/// An MCFG with allocation entries `(base, segment, start_bus, end_bus)`.
pub fn mcfg(entries: &[(u64, u16, u8, u8)]) -> Vec<u8> {
    let mut body = std::vec![0u8; 8];
    for &(base, segment, start, end) in entries {
        body.extend_from_slice(&base.to_le_bytes());
        body.extend_from_slice(&segment.to_le_bytes());
        body.extend_from_slice(&[start, end, 0, 0, 0, 0]);
    }
    sdt(b"MCFG", &body)
}

/// An ACPI 1.0 FADT (116 bytes): DSDT pointer and PM1a control port only.
pub fn fadt_v1(dsdt: u32, pm1a_cnt: u32) -> Vec<u8> {
    let mut body = std::vec![0u8; 116 - 36];
    body[40 - 36..44 - 36].copy_from_slice(&dsdt.to_le_bytes());
    body[64 - 36..68 - 36].copy_from_slice(&pm1a_cnt.to_le_bytes());
    sdt(b"FACP", &body)
}

/// A FADT laid out as QEMU's q35 one (revision 3, 244 bytes): SMI command
/// 0xb2 takes 0xf1, PM1a control at port 0x604, reset by 6 to port 0xcf9.
pub fn qemu_fadt(dsdt: u64) -> Vec<u8> {
    let mut t = fadt_v1(dsdt as u32, 0x604);
    t.resize(244, 0);
    t[4..8].copy_from_slice(&244u32.to_le_bytes());
    t[8] = 3;
    t[48..52].copy_from_slice(&0xb2u32.to_le_bytes());
    t[52] = 0xf1;
    t[112..116].copy_from_slice(&(1u32 << 10).to_le_bytes());
    t[116..128].copy_from_slice(&[1, 8, 0, 0, 0xf9, 0x0c, 0, 0, 0, 0, 0, 0]);
    t[128] = 6;
    t[140..148].copy_from_slice(&dsdt.to_le_bytes());
    t[172..184].copy_from_slice(&[1, 16, 0, 2, 0x04, 0x06, 0, 0, 0, 0, 0, 0]);
    fix_checksum(&mut t, 9);
    t
}

/// A DSDT whose AML body is `parts` concatenated.
pub fn dsdt(parts: &[&[u8]]) -> Vec<u8> {
    sdt(b"DSDT", &parts.concat())
}

/// `Name ([\]_S5, Package (n) { elements })`, each element an encoded AML
/// data object.
pub fn s5_package(root: bool, elements: &[&[u8]]) -> Vec<u8> {
    let mut p = std::vec![0x08];
    if root {
        p.push(b'\\');
    }
    p.extend_from_slice(b"_S5_");
    let body: Vec<u8> = [&[u8::try_from(elements.len()).unwrap()][..], &elements.concat()].concat();
    p.push(0x12);
    p.push(u8::try_from(body.len() + 1).unwrap());
    p.extend_from_slice(&body);
    p
}
