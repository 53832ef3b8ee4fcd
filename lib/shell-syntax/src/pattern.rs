//! `case` patterns: `*` (any run of characters), `?` (one character),
//! `[abc]`, `[a-z]`, `[!x]` or `[^x]` (one character of a set or not of
//! it), and `\` making the next character literal (what
//! [`Word::pattern`](crate::Word::pattern) puts before quoted characters).
//! The same wildcards as `find -name`'s, so one matcher serves both:
//! `lib/text-tools`'s.

/// Whether all of `text` matches `pattern`.
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    text_tools::glob::matches(pattern, text)
}
