//! `printf FORMAT ARGS...`: the format language, rendered to text.
//!
//! Conversions `%s %d %i %x %X %o %c %%`, each with optional flags `-`
//! (left-align) and `0` (pad numbers with zeros), a width and a precision
//! (`.N`: at most N characters of a string, at least N digits of a
//! number); escapes `\n \t \r \\ \a \b \f \v \0NNN` (octal) and `\"`. The
//! format is used again while arguments remain (when it consumed any);
//! missing arguments are empty strings (and 0 for numbers).
//!
//! Trouble does not stop the output: an argument that is no number counts
//! as 0 and an error is noted; an unknown conversion ends the output there
//! with an error, as coreutils does.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// What [`render`] made: the text, and the errors to report (each
/// already worded, like `abc: invalid number`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub text: String,
    pub errors: Vec<String>,
}

/// One conversion's flags, width and precision.
#[derive(Default, Clone, Copy)]
struct Spec {
    left: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

/// The largest width or precision taken (a larger one is clamped), so a
/// format cannot ask for gigabytes of padding.
const MAX_WIDTH: usize = 4096;

fn pad(out: &mut String, body: &str, spec: Spec, numeric: bool) {
    let len = body.chars().count();
    let fill = spec.width.saturating_sub(len);
    if spec.left {
        out.push_str(body);
        out.extend(core::iter::repeat_n(' ', fill));
    } else if spec.zero && numeric && spec.precision.is_none() {
        // Zeros go after the sign.
        let (sign, digits) = match body.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", body),
        };
        out.push_str(sign);
        out.extend(core::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(core::iter::repeat_n(' ', fill));
        out.push_str(body);
    }
}

/// `text` as an integer: decimal, `0x` hex, leading `0` octal, or `'c`
/// (the character's code), with an optional sign.
pub fn parse_integer(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(quoted) = text.strip_prefix('\'').or_else(|| text.strip_prefix('"')) {
        return quoted.chars().next().map(|c| i64::from(u32::from(c)));
    }
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from(u64::from_str_radix(digits, radix).ok()?);
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

/// Applies the precision of a number: at least that many digits.
fn min_digits(body: String, precision: Option<usize>) -> String {
    let Some(precision) = precision else { return body };
    let (sign, digits) = match body.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", body.as_str()),
    };
    let zeros = precision.saturating_sub(digits.len());
    let mut out = String::from(sign);
    out.extend(core::iter::repeat_n('0', zeros));
    out.push_str(digits);
    out
}

/// Reads an escape after a `\` at `chars[at]`: the character and the
/// index after it; `None` for no known escape (the `\` then stays).
fn escape(chars: &[char], at: usize) -> Option<(char, usize)> {
    Some(match chars.get(at) {
        None => return None,
        Some('n') => ('\n', at + 1),
        Some('t') => ('\t', at + 1),
        Some('r') => ('\r', at + 1),
        Some('a') => ('\u{7}', at + 1),
        Some('b') => ('\u{8}', at + 1),
        Some('f') => ('\u{c}', at + 1),
        Some('v') => ('\u{b}', at + 1),
        Some('\\') => ('\\', at + 1),
        Some('"') => ('"', at + 1),
        Some('0') => {
            let mut value = 0u32;
            let mut i = at + 1;
            while i < at + 4 && chars.get(i).is_some_and(|c| ('0'..='7').contains(c)) {
                value = value * 8 + (chars[i] as u32 - '0' as u32);
                i += 1;
            }
            (char::from_u32(value).unwrap_or('\0'), i)
        }
        Some(_) => return None,
    })
}

/// Reads digits at `chars[*at..]` as a number, clamped to [`MAX_WIDTH`].
fn number(chars: &[char], at: &mut usize) -> usize {
    let mut value = 0usize;
    while let Some(digit) = chars.get(*at).and_then(|c| c.to_digit(10)) {
        value = (value * 10 + digit as usize).min(MAX_WIDTH);
        *at += 1;
    }
    value
}

/// Renders `format` with `args`.
pub fn render(format: &str, args: &[&str]) -> Output {
    let chars: Vec<char> = format.chars().collect();
    let mut out = Output::default();
    let mut next = 0;
    loop {
        let before = next;
        if !render_once(&chars, args, &mut next, &mut out) {
            return out;
        }
        if next >= args.len() || next == before {
            return out;
        }
    }
}

/// One pass over the format; `false` when it must stop (an unknown
/// conversion).
fn render_once(chars: &[char], args: &[&str], next: &mut usize, out: &mut Output) -> bool {
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let (c, after) = escape(chars, i + 1).unwrap_or(('\\', i + 1));
                out.text.push(c);
                i = after;
            }
            '%' => {
                let mut at = i + 1;
                let mut spec = Spec::default();
                while let Some(&flag) = chars.get(at) {
                    match flag {
                        '-' => spec.left = true,
                        '0' => spec.zero = true,
                        _ => break,
                    }
                    at += 1;
                }
                spec.width = number(chars, &mut at);
                if chars.get(at) == Some(&'.') {
                    at += 1;
                    spec.precision = Some(number(chars, &mut at));
                }
                let Some(&conversion) = chars.get(at) else {
                    out.errors.push(String::from("missing conversion after %"));
                    return false;
                };
                if conversion == '%' {
                    out.text.push('%');
                    i = at + 1;
                    continue;
                }
                if !matches!(conversion, 's' | 'd' | 'i' | 'x' | 'X' | 'o' | 'c') {
                    out.errors.push(format!("%{conversion}: invalid conversion"));
                    return false;
                }
                let arg = args.get(*next).copied();
                if arg.is_some() {
                    *next += 1;
                }
                convert(conversion, spec, arg, out);
                i = at + 1;
            }
            c => {
                out.text.push(c);
                i += 1;
            }
        }
    }
    true
}

fn convert(conversion: char, spec: Spec, arg: Option<&str>, out: &mut Output) {
    let text = arg.unwrap_or("");
    match conversion {
        's' => {
            let body: String = match spec.precision {
                Some(max) => text.chars().take(max).collect(),
                None => String::from(text),
            };
            pad(&mut out.text, &body, spec, false);
        }
        'c' => {
            let body: String = text.chars().take(1).collect();
            pad(&mut out.text, &body, spec, false);
        }
        _ => {
            let value = match arg {
                None => 0,
                Some(text) => parse_integer(text).unwrap_or_else(|| {
                    out.errors.push(format!("{text}: invalid number"));
                    0
                }),
            };
            let body = match conversion {
                'x' => format!("{:x}", value as u64),
                'X' => format!("{:X}", value as u64),
                'o' => format!("{:o}", value as u64),
                _ => format!("{value}"),
            };
            pad(&mut out.text, &min_digits(body, spec.precision), spec, true);
        }
    }
}
