//! Shell-style wildcards for one name: `*` any run of characters, `?` one
//! character, `[abc]`, `[a-z]`, `[!a]` (or `[^a]`) one character of (not
//! of) a set, `\c` the character `c` itself. A `[` without its `]` stands
//! for itself. Matching takes time proportional to pattern times name at
//! worst (no exponential backtracking).

use alloc::vec::Vec;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    Any,
    Star,
    /// A set: negated, then its ranges (a single character is `(c, c)`).
    Set(bool, Vec<(char, char)>),
}

fn tokens(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push(Token::Star),
            '?' => out.push(Token::Any),
            '\\' if i + 1 < chars.len() => {
                i += 1;
                out.push(Token::Literal(chars[i]));
            }
            '[' => match set(&chars, i + 1) {
                Some((token, next)) => {
                    out.push(token);
                    i = next;
                    continue;
                }
                None => out.push(Token::Literal('[')),
            },
            c => out.push(Token::Literal(c)),
        }
        i += 1;
    }
    out
}

/// The set starting after a `[` at `start`; the token and the index after
/// its `]`, or `None` when no `]` closes it.
fn set(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut i = start;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let first = i;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && i > first {
            return Some((Token::Set(negated, ranges), i + 1));
        }
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&end| end != ']') {
            ranges.push((c, chars[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
}

fn matches_one(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::Any => true,
        Token::Star => false,
        Token::Set(negated, ranges) => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated,
    }
}

/// Whether `name` matches `pattern` as a whole.
pub fn matches(pattern: &str, name: &str) -> bool {
    let pattern = tokens(pattern);
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    // Where to resume after the last `*`: its pattern index and the name
    // index it has swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(Token::Star) => {
                star = Some((p, n));
                p += 1;
            }
            Some(token) if matches_one(token, name[n]) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|token| *token == Token::Star)
}
