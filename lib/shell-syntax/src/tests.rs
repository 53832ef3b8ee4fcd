//! Host tests of the parser: every construct, every error, and a fuzz loop
//! over random and mutated lines that must never panic.

extern crate std;

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use xorshift::Rng;

/// The words of each command of each pipeline of each list, expanded with
/// `HOME=/h`, `EMPTY=` and status 3; `&`/`&&`/`||` and redirections shown
/// as markers.
fn show(input: &str) -> Vec<String> {
    let lists = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    let var = |name: &str| match name {
        "HOME" => Some(String::from("/h")),
        "EMPTY" => Some(String::new()),
        "SPACE" => Some(String::from("a b")),
        _ => None,
    };
    let mut out = Vec::new();
    for list in &lists {
        let pipelines = core::iter::once((None, &list.first)).chain(list.rest.iter().map(|(c, p)| (Some(*c), p)));
        for (connector, pipeline) in pipelines {
            match connector {
                Some(Connector::And) => out.push("&&".to_string()),
                Some(Connector::Or) => out.push("||".to_string()),
                None => {}
            }
            for (i, command) in pipeline.commands.iter().enumerate() {
                if i > 0 {
                    out.push("|".to_string());
                }
                for word in &command.words {
                    let value = word.expand(&var, 3);
                    if !word.vanishes(&value) {
                        out.push(std::format!("[{value}]"));
                    }
                }
                for redirect in &command.redirects {
                    out.push(std::format!("{}{}", redirect_text(redirect.kind), redirect.target.expand(&var, 3)));
                }
            }
        }
        out.push(if list.background { "&".to_string() } else { ";".to_string() });
    }
    out
}

#[test]
fn words_and_blanks() {
    assert_eq!(show("echo  a\tb "), ["[echo]", "[a]", "[b]", ";"]);
    assert_eq!(show(""), Vec::<String>::new());
    assert_eq!(show("   # only a comment"), Vec::<String>::new());
    assert_eq!(show("echo a#b # c"), ["[echo]", "[a#b]", ";"]);
}

#[test]
fn quotes_and_escapes() {
    assert_eq!(show(r#"echo 'a  $HOME "x"' "b  $HOME 'y'""#), ["[echo]", r#"[a  $HOME "x"]"#, "[b  /h 'y']", ";"]);
    assert_eq!(show(r"echo a\ b \$HOME \\ \'"), ["[echo]", "[a b]", "[$HOME]", r"[\]", "[']", ";"]);
    assert_eq!(show(r#"echo "a\"b\$c\\d\e""#), ["[echo]", r#"[a"b$c\d\e]"#, ";"]);
    assert_eq!(show("echo '' \"\" x''y"), ["[echo]", "[]", "[]", "[xy]", ";"]);
    assert_eq!(show("echo 'a|b;c&d>e'"), ["[echo]", "[a|b;c&d>e]", ";"]);
    assert_eq!(show("echo a\\\nb"), ["[echo]", "[ab]", ";"]);
}

#[test]
fn variables() {
    assert_eq!(show("echo $HOME ${HOME}x $HOMEx $? ${?}"), ["[echo]", "[/h]", "[/hx]", "[3]", "[3]", ";"]);
    assert_eq!(show("echo $ a$ $1 $-"), ["[echo]", "[$]", "[a$]", "[$1]", "[$-]", ";"]);
    // An unquoted empty expansion is dropped, a quoted one kept.
    assert_eq!(show("echo $EMPTY $NOPE \"$EMPTY\" x$EMPTY"), ["[echo]", "[]", "[x]", ";"]);
    // No field splitting: a value with a space stays one argument.
    assert_eq!(show("echo $SPACE"), ["[echo]", "[a b]", ";"]);
    assert!(is_name("_a1") && !is_name("1a") && !is_name("") && !is_name("a-b"));
}

#[test]
fn pipelines_and_lists() {
    assert_eq!(show("a | b|c"), ["[a]", "|", "[b]", "|", "[c]", ";"]);
    assert_eq!(show("a; b\nc;"), ["[a]", ";", "[b]", ";", "[c]", ";"]);
    assert_eq!(show("a && b || c"), ["[a]", "&&", "[b]", "||", "[c]", ";"]);
    assert_eq!(show("a &\nb & c"), ["[a]", "&", "[b]", "&", "[c]", ";"]);
    assert_eq!(show("a &&\n b"), ["[a]", "&&", "[b]", ";"]);
    let lists = parse("a | b && c &").unwrap();
    assert_eq!(lists.len(), 1);
    assert!(lists[0].background);
    assert_eq!(lists[0].first.commands.len(), 2);
}

#[test]
fn redirections() {
    assert_eq!(show("cat < in:x > out:y 2> err:z"), ["[cat]", "<in:x", ">out:y", "2>err:z", ";"]);
    assert_eq!(show("echo a >>tmp:log 2>>tmp:e"), ["[echo]", "[a]", ">>tmp:log", "2>>tmp:e", ";"]);
    // `2` only redirects when it stands alone.
    assert_eq!(show("echo a2>x 2 > y"), ["[echo]", "[a2]", "[2]", ">x", ">y", ";"]);
    assert_eq!(show("echo '2'>x"), ["[echo]", "[2]", ">x", ";"]);
    assert_eq!(show("> tmp:x echo"), ["[echo]", ">tmp:x", ";"]);
    assert_eq!(show("echo > \"$HOME/a b\""), ["[echo]", ">/h/a b", ";"]);
}

#[test]
fn errors() {
    let cases: &[(&str, Error)] = &[
        ("echo 'a", Error::UnterminatedSingleQuote),
        ("echo \"a", Error::UnterminatedDoubleQuote),
        ("echo \"a\\", Error::UnterminatedDoubleQuote),
        ("echo ${A", Error::UnterminatedBrace),
        ("echo ${1x}", Error::BadSubstitution("1x".to_string())),
        ("echo ${}", Error::BadSubstitution(String::new())),
        ("echo a\\", Error::TrailingBackslash),
        ("| a", Error::MissingCommand("|")),
        ("a |", Error::MissingCommand("|")),
        ("a | | b", Error::MissingCommand("|")),
        ("a &&", Error::MissingCommand("&&")),
        ("a ||;", Error::MissingCommand("||")),
        ("&& a", Error::MissingCommand("&&")),
        ("& a", Error::MissingCommand("&")),
        ("a & & b", Error::MissingCommand("&")),
        ("a >", Error::MissingTarget(">")),
        ("a > ;", Error::MissingTarget(">")),
        ("a 2>", Error::MissingTarget("2>")),
        ("a < | b", Error::MissingTarget("<")),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input).as_ref(), Err(want), "{input:?}");
        assert!(!want.to_string().is_empty());
    }
}

#[test]
fn fuzz_never_panics() {
    const ALPHABET: &[&str] = &[
        "a", "b", " ", "\t", "\n", "'", "\"", "\\", "$", "{", "}", "?", "|", "||", "&", "&&", ";", "<", ">", ">>", "2",
        "2>", "#", "é", "\r", "${X}", "$?", "_", "0",
    ];
    let mut rng = Rng::new(0x5eed_1234_abcd_ef01);
    let var = |name: &str| Some(String::from(name));
    for _ in 0..200_000 {
        let len = rng.below(16);
        let mut line = String::new();
        for _ in 0..len {
            line.push_str(ALPHABET[rng.below(ALPHABET.len())]);
        }
        if let Ok(lists) = parse(&line) {
            for list in lists {
                for command in list.first.commands.iter().chain(list.rest.iter().flat_map(|(_, p)| &p.commands)) {
                    assert!(!command.words.is_empty() || !command.redirects.is_empty(), "{line:?}");
                    for word in &command.words {
                        let _ = word.expand(&var, -1);
                    }
                }
            }
        }
    }
    // Random bytes, lossily made text.
    for _ in 0..20_000 {
        let bytes: Vec<u8> = (0..rng.below(40)).map(|_| rng.next_u64() as u8).collect();
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }
    let _ = vec![0u8; 0];
}
