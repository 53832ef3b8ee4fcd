//! Host tests of the text tools, with randomized never-panics loops for
//! the parsers of what users type (printf formats, globs).

extern crate std;

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use xorshift::Rng;

use crate::{glob, natural, printf, sort_key, url};

#[test]
fn glob_basics() {
    assert!(glob::matches("*.txt", "a.txt"));
    assert!(glob::matches("*.txt", ".txt"));
    assert!(!glob::matches("*.txt", "a.txt.bak"));
    assert!(glob::matches("a?c", "abc"));
    assert!(!glob::matches("a?c", "ac"));
    assert!(glob::matches("[ab]*", "banana"));
    assert!(!glob::matches("[!ab]*", "banana"));
    assert!(glob::matches("[^ab]*", "cherry"));
    assert!(glob::matches("file[0-9]", "file7"));
    assert!(!glob::matches("file[0-9]", "filex"));
    assert!(glob::matches("*", ""));
    assert!(!glob::matches("?", ""));
    assert!(glob::matches("a*b*c", "aXXbYYc"));
    assert!(!glob::matches("a*b*c", "aXXbYY"));
    assert!(glob::matches("\\*", "*"));
    assert!(!glob::matches("\\*", "a"));
    // An unclosed `[` is itself.
    assert!(glob::matches("[ab", "[ab"));
    // `]` first in a set is a member.
    assert!(glob::matches("[]a]", "]"));
    assert!(glob::matches("**a", "bba"));
    assert!(glob::matches("é?", "éa"));
}

#[test]
fn natural_order() {
    let mut names = ["10", "2", "1", "irq11", "irq2", "a", "b10", "b9", "007", "7"];
    names.sort_by(|a, b| natural::compare(a, b));
    assert_eq!(names, ["1", "2", "007", "7", "10", "a", "b9", "b10", "irq2", "irq11"]);
    assert_eq!(natural::compare("x", "x"), Ordering::Equal);
    assert_eq!(natural::compare("x", "x1"), Ordering::Less);
    assert_eq!(natural::compare("99999999999999999999999", "100000000000000000000000"), Ordering::Less);
}

#[test]
fn natural_order_is_total() {
    let mut rng = Rng::new(0x0a70_0001);
    let alphabet = ["0", "1", "9", "00", "a", "b", ".", ""];
    let word = |rng: &mut Rng| -> String { (0..rng.below(5)).map(|_| alphabet[rng.below(alphabet.len())]).collect() };
    for _ in 0..20_000 {
        let (a, b, c) = (word(&mut rng), word(&mut rng), word(&mut rng));
        assert_eq!(natural::compare(&a, &b), natural::compare(&b, &a).reverse(), "{a:?} {b:?}");
        assert_eq!(natural::compare(&a, &b) == Ordering::Equal, a == b, "{a:?} {b:?}");
        if natural::compare(&a, &b) != Ordering::Greater && natural::compare(&b, &c) != Ordering::Greater {
            assert_ne!(natural::compare(&a, &c), Ordering::Greater, "{a:?} {b:?} {c:?}");
        }
    }
}

fn text(format: &str, args: &[&str]) -> String {
    let out = printf::render(format, args);
    assert!(out.errors.is_empty(), "{format:?}: {:?}", out.errors);
    out.text
}

#[test]
fn printf_conversions() {
    assert_eq!(text("%s-%d\\n", &["a", "42"]), "a-42\n");
    assert_eq!(text("%5s|%-5s|", &["ab", "cd"]), "   ab|cd   |");
    assert_eq!(text("%05d %x %X %o %c %%", &["-42", "255", "255", "8", "xyz"]), "-0042 ff FF 10 x %");
    assert_eq!(text("%i\\t\\\\", &["0x10"]), "16\t\\");
    assert_eq!(text("%.2s %.3d", &["abcdef", "7"]), "ab 007");
    assert_eq!(text("[%s]\\n", &["a", "b", "c"]), "[a]\n[b]\n[c]\n");
    assert_eq!(text("%s %s\\n", &["a", "b", "c"]), "a b\nc \n");
    assert_eq!(text("no args\\n", &["ignored"]), "no args\n");
    assert_eq!(text("%d %s|", &[]), "0 |");
}

#[test]
fn printf_escapes() {
    assert_eq!(text("\\0101\\q", &[]), "A\\q");
    assert_eq!(text("tail\\", &[]), "tail\\");
    assert_eq!(text("%d", &["'A"]), "65");
}

#[test]
fn printf_errors() {
    let out = printf::render("%d|%d\\n", &["x1", "3"]);
    assert_eq!(out.text, "0|3\n");
    assert_eq!(out.errors, ["x1: invalid number"]);
    let out = printf::render("a%qb", &["1"]);
    assert_eq!(out.text, "a");
    assert_eq!(out.errors, ["%q: invalid conversion"]);
    let out = printf::render("a%", &[]);
    assert_eq!(out.text, "a");
    assert_eq!(out.errors.len(), 1);
    assert_eq!(printf::render("%d", &["99999999999999999999"]).errors.len(), 1);
}

#[test]
fn printf_width_is_clamped() {
    let out = printf::render("%999999999999999999999s", &["a"]);
    assert!(out.text.len() <= 4096);
}

#[test]
fn sort_keys() {
    assert_eq!(sort_key::field("  a  b\tc ", 2), "b");
    assert_eq!(sort_key::field("a b", 3), "");
    assert_eq!(sort_key::field("a b", 0), "");
    assert_eq!(sort_key::leading_number(" 12abc"), 12.0);
    assert_eq!(sort_key::leading_number("-1.5x"), -1.5);
    assert_eq!(sort_key::leading_number("abc"), 0.0);
    assert_eq!(sort_key::leading_number("-"), 0.0);
    assert_eq!(sort_key::leading_number("."), 0.0);
    assert_eq!(sort_key::compare("9", "10", true), Ordering::Less);
    assert_eq!(sort_key::compare("9", "10", false), Ordering::Greater);
}

#[test]
fn url_names() {
    assert_eq!(url::dirname("tmp:a/b"), "tmp:a");
    assert_eq!(url::dirname("tmp:a"), "tmp:");
    assert_eq!(url::dirname("tmp:"), "tmp:");
    assert_eq!(url::dirname("file:/home/root"), "file:/home");
    assert_eq!(url::dirname("file:/home"), "file:/");
    assert_eq!(url::dirname("/a/b/"), "/a");
    assert_eq!(url::dirname("/a"), "/");
    assert_eq!(url::dirname("/"), "/");
    assert_eq!(url::dirname("a"), ".");
    assert_eq!(url::dirname("a/b"), "a");
    assert_eq!(url::dirname("a/x:b"), "a");
    assert_eq!(url::basename("tmp:a/b.txt", ".txt"), "b");
    assert_eq!(url::basename("tmp:a", ""), "a");
    assert_eq!(url::basename("tmp:", ""), "tmp:");
    assert_eq!(url::basename("/a/b/", ""), "b");
    assert_eq!(url::basename("/", ""), "/");
    assert_eq!(url::basename(".txt", ".txt"), ".txt");
    assert_eq!(url::basename("initfs:bin/ls", ""), "ls");
}

/// Random formats and patterns from pieces that matter to the parsers,
/// and random bytes: no input may panic.
#[test]
fn parsers_never_panic() {
    const PIECES: &[&str] = &[
        "%",
        "%%",
        "s",
        "d",
        "i",
        "x",
        "o",
        "c",
        "-",
        "0",
        "9",
        ".",
        "\\",
        "n",
        "t",
        "0",
        "7",
        "[",
        "]",
        "!",
        "^",
        "*",
        "?",
        "a",
        "é",
        " ",
        "'",
        "99999999999",
        "q",
    ];
    const ARGS: &[&str] = &["", "1", "-5", "0x1f", "'a", "abc", "99999999999999999999", "é", "-", "0"];
    let mut rng = Rng::new(0x7e47_7001_5eed_0001);
    for _ in 0..100_000 {
        let line: String = (0..rng.below(12)).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        let args: Vec<&str> = (0..rng.below(4)).map(|_| ARGS[rng.below(ARGS.len())]).collect();
        let out = printf::render(&line, &args);
        assert!(out.text.len() <= 12 * 4 * (4096 + 16), "{line:?}");
        let name: String = (0..rng.below(6)).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        let _ = glob::matches(&line, &name);
        let _ = url::basename(&line, &name);
        let _ = url::dirname(&line);
        let _ = sort_key::leading_number(&line);
        let _ = natural::compare(&line, &name);
    }
    for _ in 0..20_000 {
        let bytes: Vec<u8> = (0..rng.below(30)).map(|_| rng.next_u64() as u8).collect();
        let line = String::from_utf8_lossy(&bytes);
        let _ = printf::render(&line, &["1", "x"]);
        let _ = glob::matches(&line, "abc");
        let _ = glob::matches("a*", &line);
    }
}
