//! `case` patterns: `*` (any run of characters), `?` (one character),
//! `[abc]`, `[a-z]`, `[!x]` or `[^x]` (one character of a set or not of
//! it), and `\` making the next character literal (what
//! [`Word::pattern`](crate::Word::pattern) puts before quoted characters).

use alloc::vec::Vec;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Char(p) => *p == c,
            Token::Any => true,
            Token::Star => false,
            Token::Class { negated, ranges } => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated,
        }
    }
}

/// `[…]` starting after the `[` at `chars[start]`: the class and the index
/// after its `]`, or `None` when there is no `]` (the `[` is literal).
fn class(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut i = start;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let mut c = *chars.get(i)?;
        if c == ']' && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        if c == '\\' {
            i += 1;
            c = *chars.get(i)?;
        }
        i += 1;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&n| n != ']') {
            let mut hi = chars[i + 1];
            i += 2;
            if hi == '\\' {
                hi = *chars.get(i)?;
                i += 1;
            }
            ranges.push((c, hi));
        } else {
            ranges.push((c, c));
        }
    }
}

fn tokens(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        out.push(match c {
            '*' => Token::Star,
            '?' => Token::Any,
            '\\' if i < chars.len() => {
                i += 1;
                Token::Char(chars[i - 1])
            }
            '[' => match class(&chars, i) {
                Some((token, next)) => {
                    i = next;
                    token
                }
                None => Token::Char('['),
            },
            c => Token::Char(c),
        });
    }
    out
}

/// Whether all of `text` matches `pattern`.
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    let pattern = tokens(pattern);
    let text: Vec<char> = text.chars().collect();
    // Greedy, backtracking to the last `*`: each `*` only ever needs to
    // take more characters than it took before.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(token) if token.matches(text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|token| *token == Token::Star)
}
