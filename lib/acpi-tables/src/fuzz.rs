//! Fuzz-style tests: random byte strings and random mutations of valid
//! tables fed to every parser, which must return (Ok or Err) without
//! panicking or looping. Compiled only under `cfg(test)`.

use std::vec::Vec;

use crate::testutil::*;
use crate::*;

/// Runs every parser over `bytes` and walks whatever parses.
fn exercise(bytes: &[u8]) {
    if let Ok(rsdp) = parse_rsdp(bytes) {
        let _ = rsdp.root_table();
    }
    let _ = parse_sdt_header(bytes);
    let _ = validate_sdt(bytes, b"APIC");
    for kind in [RootTableKind::Rsdt, RootTableKind::Xsdt] {
        if let Ok(entries) = root_table_entries(bytes, kind) {
            let n = entries.len();
            assert_eq!(entries.count(), n);
        }
    }
    if let Ok(madt) = parse_madt(bytes) {
        // Every Ok entry consumes at least two bytes and an Err ends the walk.
        let mut steps = 0usize;
        for entry in madt.entries() {
            steps += 1;
            assert!(steps <= bytes.len() / 2 + 1, "MADT walk does not end");
            if entry.is_err() {
                break;
            }
        }
        for irq in (0..16).chain([255]) {
            let _ = madt.isa_irq_to_gsi(irq);
        }
    }
    if let Ok(mcfg) = parse_mcfg(bytes) {
        assert!(mcfg.entries().count() <= bytes.len() / 16);
        for region in mcfg.entries().flatten() {
            let _ = region.function_address(region.end_bus, 31, 7);
        }
    }
    if let Ok(fadt) = parse_fadt(bytes) {
        let _ = (fadt.dsdt(), fadt.pm1a_control(), fadt.pm1b_control(), fadt.reset());
    }
    let _ = find_s5(bytes);
}

#[test]
fn random_bytes() {
    let mut rng = Rng::new(0x5eed_1234_abcd_0001);
    for _ in 0..20_000 {
        let len = rng.below(160);
        let b = rng.bytes(len);
        exercise(&b);
    }
}

/// Random bytes behind valid-looking signatures, lengths and checksums, so
/// the garbage reaches the code after the header checks.
#[test]
fn random_bodies_with_valid_headers() {
    let mut rng = Rng::new(0x0bad_f00d_0000_0002);
    for _ in 0..20_000 {
        let len = rng.below(120);
        let body = rng.bytes(len);
        for sig in [b"APIC", b"RSDT", b"XSDT", b"MCFG", b"FACP", b"DSDT"] {
            exercise(&sdt(sig, &body));
        }
        let mut r = rng.bytes(36);
        r[..8].copy_from_slice(b"RSD PTR ");
        fix_checksum(&mut r[..20], 8);
        if rng.below(2) == 0 {
            r[20..24].copy_from_slice(&36u32.to_le_bytes());
        }
        fix_checksum(&mut r, 32);
        exercise(&r);
    }
}

fn mutate(rng: &mut Rng, b: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            // Flip a bit.
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            // Overwrite a byte, biased to interesting values.
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = [0, 1, 2, 0xff, rng.byte()][rng.below(5)];
            }
            // Truncate.
            2 => {
                let n = rng.below(b.len() + 1);
                b.truncate(n);
            }
            // Append garbage.
            3 => {
                let n = rng.below(16);
                b.extend(rng.bytes(n));
            }
            // Rewrite the SDT length field.
            4 if b.len() >= 8 => {
                let len = match rng.below(3) {
                    0 => rng.below(b.len() + 8) as u32,
                    1 => rng.next_u64() as u32,
                    _ => b.len() as u32,
                };
                b[4..8].copy_from_slice(&len.to_le_bytes());
            }
            // Insert a byte (shifting later entries out of alignment).
            _ => {
                let i = rng.below(b.len() + 1);
                b.insert(i, rng.byte());
            }
        }
    }
}

/// Fixes the SDT checksum over the declared length most of the time, so
/// mutations get past validation.
fn maybe_fix_sdt(rng: &mut Rng, b: &mut [u8]) {
    if b.len() >= 8 && rng.below(4) != 0 {
        let len = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
        fix_checksum_prefix(b, 9, len);
    }
}

#[test]
fn mutated_madt() {
    let mut rng = Rng::new(0xfeed_face_cafe_0003);
    let base = madt(
        0xfee0_0000,
        1,
        &[
            local_apic(0, 0, 1),
            local_apic(1, 1, 0),
            local_x2apic(300, 1, 300),
            io_apic(0, 0xfec0_0000, 0),
            iso(0, 0, 2, 0),
            iso(0, 9, 9, 0xf),
            nmi_source(0xd, 23),
            local_apic_nmi(0xff, 0, 1),
            local_x2apic_nmi(0, 0xffff_ffff, 1),
            address_override(0x1_0000_0000),
            std::vec![0x42, 4, 0, 0],
        ],
    );
    exercise(&base);
    let mut reached_entries = 0;
    for _ in 0..50_000 {
        let mut b = base.clone();
        mutate(&mut rng, &mut b);
        maybe_fix_sdt(&mut rng, &mut b);
        if parse_madt(&b).is_ok() {
            reached_entries += 1;
        }
        exercise(&b);
    }
    // The mutations must actually exercise the entry walk.
    assert!(reached_entries > 10_000, "{reached_entries}");
}

#[test]
fn mutated_mcfg_fadt_and_dsdt() {
    let mut rng = Rng::new(0x5151_aced_0bad_0005);
    let s5 = s5_package(true, &[&[0x0a, 5], &[0x0b, 1, 0], &[0], &[1]]);
    let bases = [
        mcfg(&[(0xb000_0000, 0, 0, 0xff), (0xc000_0000, 1, 4, 9)]),
        qemu_fadt(0x7fe0_0000),
        dsdt(&[&[0x10, 0x4b, 0x01, b'_', b'S', b'B', b'_'], &s5, &[0x14, 0x08, b'_', b'P', b'T', b'S', 0x01]]),
    ];
    let mut reached = [0usize; 3];
    for _ in 0..30_000 {
        for (i, base) in bases.iter().enumerate() {
            let mut b = base.clone();
            mutate(&mut rng, &mut b);
            maybe_fix_sdt(&mut rng, &mut b);
            let parsed = match i {
                0 => parse_mcfg(&b).is_ok(),
                1 => parse_fadt(&b).is_ok(),
                _ => find_s5(&b).is_ok(),
            };
            reached[i] += usize::from(parsed);
            exercise(&b);
        }
    }
    assert!(reached.iter().all(|&n| n > 5_000), "{reached:?}");
}

#[test]
fn mutated_root_tables_and_rsdp() {
    let mut rng = Rng::new(0x1234_5678_9abc_0004);
    let bases = [rsdt(&[0x1000, 0x2000, 0x3000]), xsdt(&[0x1000, 0x2000, 0x3000])];
    for _ in 0..20_000 {
        for base in &bases {
            let mut b = base.clone();
            mutate(&mut rng, &mut b);
            maybe_fix_sdt(&mut rng, &mut b);
            exercise(&b);
        }
        let mut r = rsdp_v2(0x1000, 0x2000);
        mutate(&mut rng, &mut r);
        if r.len() >= 20 && rng.below(2) == 0 {
            fix_checksum(&mut r[..20], 8);
        }
        if r.len() >= 36 && rng.below(2) == 0 {
            fix_checksum(&mut r[..36], 32);
        }
        exercise(&r);
    }
}
