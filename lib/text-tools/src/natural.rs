//! Natural order for names: runs of digits compare as numbers (`2` before
//! `10`: `irq:2`, `irq:10`), everything else byte by byte. Names equal
//! that way (`07` and `7`) fall back to plain byte order, so the order is
//! total and the same every time.

use core::cmp::Ordering;

/// The digit run starting at `at` in `s`, and the index after it.
fn digits(s: &[u8], at: usize) -> (&[u8], usize) {
    let end = s[at..].iter().position(|b| !b.is_ascii_digit()).map_or(s.len(), |len| at + len);
    (&s[at..end], end)
}

fn compare_numbers(a: &[u8], b: &[u8]) -> Ordering {
    let trim = |d: &[u8]| -> usize { d.iter().position(|&b| b != b'0').unwrap_or(d.len()) };
    let (a, b) = (&a[trim(a)..], &b[trim(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compares `a` and `b` in natural order.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        if x[i].is_ascii_digit() && y[j].is_ascii_digit() {
            let (da, next_i) = digits(x, i);
            let (db, next_j) = digits(y, j);
            match compare_numbers(da, db) {
                Ordering::Equal => {}
                other => return other,
            }
            i = next_i;
            j = next_j;
        } else {
            match x[i].cmp(&y[j]) {
                Ordering::Equal => {}
                other => return other,
            }
            i += 1;
            j += 1;
        }
    }
    (x.len() - i).cmp(&(y.len() - j)).then_with(|| x.cmp(y))
}
