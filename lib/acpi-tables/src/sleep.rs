//! The `\_S5` object in the DSDT: the `SLP_TYP` values that, written to the
//! PM1 control registers with `SLP_EN`, power the machine off. The kernel
//! has no AML interpreter, so the object is found by its encoding,
//! `NameOp "_S5_" PackageOp PkgLength NumElements Integer Integer ...`, as
//! firmware writes it (a `Name` with constant integers, never a `Method`).
//! Touches only the slice passed in.

use crate::Error;
use crate::bytes::{u8_at, u16_at, u32_at, u64_at};
use crate::sdt::validated;

/// Signature of the DSDT.
pub const DSDT_SIGNATURE: &[u8; 4] = b"DSDT";

const NAME_OP: u8 = 0x08;
const ROOT_PREFIX: u8 = b'\\';
const PACKAGE_OP: u8 = 0x12;
const ZERO_OP: u8 = 0x00;
const ONE_OP: u8 = 0x01;
const BYTE_PREFIX: u8 = 0x0a;
const WORD_PREFIX: u8 = 0x0b;
const DWORD_PREFIX: u8 = 0x0c;
const QWORD_PREFIX: u8 = 0x0e;
const ONES_OP: u8 = 0xff;
/// `SLP_TYP` is a 3-bit field of PM1 control.
const SLP_TYP_MASK: u64 = 0b111;

/// The `SLP_TYP` values of a sleep state, for PM1a and PM1b control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SleepState {
    /// `SLP_TYP` for `PM1a_CNT`.
    pub slp_typ_a: u8,
    /// `SLP_TYP` for `PM1b_CNT` (0 if the package has one element).
    pub slp_typ_b: u8,
}

/// Finds `\_S5` in a whole DSDT (validated as an SDT with signature
/// [`DSDT_SIGNATURE`]). [`Error::NotFound`] if no well-formed `Name (_S5,
/// Package () { Integer, ... })` is in the table.
pub fn find_s5(dsdt: &[u8]) -> Result<SleepState, Error> {
    let (_, body) = validated(dsdt, DSDT_SIGNATURE)?;
    let mut at = 0usize;
    while let Some(found) = body.get(at..).and_then(|rest| rest.windows(4).position(|w| w == b"_S5_")) {
        let name = at.checked_add(found).ok_or(Error::NotFound)?;
        if is_name_declaration(body, name)
            && let Some(state) = name.checked_add(4).and_then(|after| sleep_package(body, after))
        {
            return Ok(state);
        }
        at = name.checked_add(1).ok_or(Error::NotFound)?;
    }
    Err(Error::NotFound)
}

/// Whether the name segment at `name` follows `NameOp` or `NameOp '\'`.
fn is_name_declaration(body: &[u8], name: usize) -> bool {
    let before = |n: usize| name.checked_sub(n).and_then(|i| u8_at(body, i));
    before(1) == Some(NAME_OP) || (before(1) == Some(ROOT_PREFIX) && before(2) == Some(NAME_OP))
}

/// Decodes `PackageOp PkgLength NumElements Integer [Integer]` at `at`.
fn sleep_package(body: &[u8], at: usize) -> Option<SleepState> {
    if u8_at(body, at)? != PACKAGE_OP {
        return None;
    }
    let (length, length_bytes) = package_length(body, at.checked_add(1)?)?;
    // The package's bytes: PkgLength counts itself and everything after it.
    let package = body.get(at.checked_add(1)?..at.checked_add(1)?.checked_add(length)?)?;
    let elements = u8_at(package, length_bytes)?;
    if elements == 0 {
        return None;
    }
    let (a, next) = integer(package, length_bytes.checked_add(1)?)?;
    let b = if elements > 1 { integer(package, next)?.0 } else { 0 };
    Some(SleepState { slp_typ_a: (a & SLP_TYP_MASK) as u8, slp_typ_b: (b & SLP_TYP_MASK) as u8 })
}

/// An AML PkgLength at `at`: (the length, how many bytes encode it).
fn package_length(body: &[u8], at: usize) -> Option<(usize, usize)> {
    let lead = u8_at(body, at)?;
    let follow = usize::from(lead >> 6);
    if follow == 0 {
        return Some((usize::from(lead & 0x3f), 1));
    }
    let mut length = usize::from(lead & 0x0f);
    for i in 0..follow {
        let byte = usize::from(u8_at(body, at.checked_add(1)?.checked_add(i)?)?);
        length |= byte.checked_shl(u32::try_from(4usize.checked_add(i.checked_mul(8)?)?).ok()?)?;
    }
    Some((length, follow.checked_add(1)?))
}

/// An AML constant integer at `at`: (its value, the offset after it).
fn integer(package: &[u8], at: usize) -> Option<(u64, usize)> {
    let after = |n: usize| at.checked_add(1)?.checked_add(n);
    let data = at.checked_add(1)?;
    match u8_at(package, at)? {
        ZERO_OP => Some((0, after(0)?)),
        ONE_OP => Some((1, after(0)?)),
        ONES_OP => Some((u64::MAX, after(0)?)),
        BYTE_PREFIX => Some((u64::from(u8_at(package, data)?), after(1)?)),
        WORD_PREFIX => Some((u64::from(u16_at(package, data)?), after(2)?)),
        DWORD_PREFIX => Some((u64::from(u32_at(package, data)?), after(4)?)),
        QWORD_PREFIX => Some((u64_at(package, data)?, after(8)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{dsdt, s5_package};
    use std::vec;

    #[test]
    fn qemu_s5_is_zero() {
        // QEMU: Name (_S5, Package (4) { Zero, Zero, Zero, Zero }) at root.
        let t = dsdt(&[&[0x10, 0x05, b'\\', b'_', b'S', b'B', b'_'], &s5_package(true, &[&[ZERO_OP][..]; 4])]);
        assert_eq!(find_s5(&t), Ok(SleepState { slp_typ_a: 0, slp_typ_b: 0 }));
    }

    #[test]
    fn prefixed_values() {
        // Real firmware: Name (\_S5, Package (2) { 0x07, 0x07 }), and word/dword forms.
        let t = dsdt(&[&s5_package(false, &[&[BYTE_PREFIX, 7], &[BYTE_PREFIX, 7]])]);
        assert_eq!(find_s5(&t), Ok(SleepState { slp_typ_a: 7, slp_typ_b: 7 }));
        let t = dsdt(&[&s5_package(true, &[&[WORD_PREFIX, 5, 1], &[DWORD_PREFIX, 0xe, 0, 0, 0]])]);
        assert_eq!(find_s5(&t), Ok(SleepState { slp_typ_a: 5, slp_typ_b: 6 }));
        let t = dsdt(&[&s5_package(true, &[&[ONE_OP]])]);
        assert_eq!(find_s5(&t), Ok(SleepState { slp_typ_a: 1, slp_typ_b: 0 }));
    }

    #[test]
    fn skips_references_and_malformed_declarations() {
        // "_S5_" used as a reference (no NameOp), then a declaration whose
        // package holds a method call, then the real one.
        let reference = [0x70, b'_', b'S', b'5', b'_', 0x60];
        let bad = s5_package(false, &[&[0x14, 0]]);
        let good = s5_package(false, &[&[BYTE_PREFIX, 3], &[ZERO_OP]]);
        let t = dsdt(&[&reference, &bad, &good]);
        assert_eq!(find_s5(&t), Ok(SleepState { slp_typ_a: 3, slp_typ_b: 0 }));
        assert_eq!(find_s5(&dsdt(&[&reference])), Err(Error::NotFound));
        assert_eq!(find_s5(&dsdt(&[&bad])), Err(Error::NotFound));
    }

    #[test]
    fn package_length_forms() {
        assert_eq!(package_length(&[0x3f], 0), Some((0x3f, 1)));
        assert_eq!(package_length(&[0x4a, 0x12], 0), Some((0x12a, 2)));
        assert_eq!(package_length(&[0x81, 0x02, 0x03], 0), Some((0x3021, 3)));
        assert_eq!(package_length(&[0xc1, 0x02, 0x03, 0x04], 0), Some((0x40_3021, 4)));
        assert_eq!(package_length(&[0xc1, 0x02], 0), None);
        // A package running past the table is rejected.
        let mut p = vec![NAME_OP];
        p.extend_from_slice(b"_S5_");
        p.extend_from_slice(&[PACKAGE_OP, 0x30, 2, 0, 0]);
        assert_eq!(find_s5(&dsdt(&[&p])), Err(Error::NotFound));
    }
}
