//! What `sort` compares: the N-th blank-separated field of a line
//! (`-k N`), as text or as a number (`-n`).

use core::cmp::Ordering;

/// The `n`-th (1-based) field of `line`, fields being runs of non-blanks
/// (spaces and tabs); empty when the line has fewer, or for `n` = 0.
pub fn field(line: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    line.split([' ', '\t']).filter(|f| !f.is_empty()).nth(n - 1).unwrap_or("")
}

/// The number `text` starts with, after blanks (`-1.5e`, `12abc` → 12); 0
/// when it starts with none, as `sort -n` takes it.
pub fn leading_number(text: &str) -> f64 {
    let text = text.trim_start_matches([' ', '\t']);
    let bytes = text.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        end = 1;
    }
    let digits_start = end;
    while bytes.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    if bytes.get(end) == Some(&b'.') {
        end += 1;
        while bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
    }
    let number = &text[..end];
    if end == digits_start || number.len() == digits_start + 1 && number.ends_with('.') {
        return 0.0;
    }
    number.parse().unwrap_or(0.0)
}

/// Compares two keys, numerically or as text.
pub fn compare(a: &str, b: &str, numeric: bool) -> Ordering {
    if numeric { leading_number(a).partial_cmp(&leading_number(b)).unwrap_or(Ordering::Equal) } else { a.cmp(b) }
}
