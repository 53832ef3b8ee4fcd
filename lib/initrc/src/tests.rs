//! Host tests for the init.rc parser and the environment init keeps.
//!
//! Why this exists: init runs whatever this parser returns at boot, and a
//! panic here would take pid 1 down, so every rule and every error has a
//! test, and a deterministic fuzz-style test (fixed-seed xorshift) throws
//! random and mutated scripts at it that must never panic and must keep
//! the parser's promises.
//!
//! What it may touch: only memory of its own; it runs on the host only.

use super::*;
use alloc::string::ToString;
use alloc::vec;
use std::format;
use xorshift::Rng;

fn s(text: &str) -> String {
    String::from(text)
}

fn words(line: &str) -> Vec<String> {
    split_words(line).unwrap_or_else(|err| panic!("{line:?}: {err}"))
}

fn one(line: &str) -> Command {
    match parse_line(line) {
        Ok(Some(command)) => command,
        other => panic!("{line:?}: {other:?}"),
    }
}

fn error(line: &str) -> ErrorKind {
    match parse_line(line) {
        Err(kind) => kind,
        other => panic!("{line:?} parsed: {other:?}"),
    }
}

fn run(path: &str, args: &[&str]) -> Command {
    Command::Run(Program { path: s(path), args: args.iter().map(|a| s(a)).collect() })
}

fn spawn(path: &str, args: &[&str]) -> Command {
    Command::Spawn(Program { path: s(path), args: args.iter().map(|a| s(a)).collect() })
}

fn export(name: &str, value: &str) -> Command {
    Command::Export { name: s(name), value: s(value) }
}

// ---- lines, blanks, comments ----

#[test]
fn blank_and_comment_lines_are_ignored() {
    for line in ["", " ", "\t \t", "# comment", "   # indented comment", "\t#", "#run x", "\r", "  \r"] {
        assert_eq!(parse_line(line), Ok(None), "{line:?}");
    }
    let script = parse("\n\n# only comments\n   \n\t# here\n");
    assert_eq!(script, Script::default());
}

#[test]
fn trailing_comment_after_whitespace() {
    assert_eq!(one("run a b # the rest is ignored \" unterminated"), run("a", &["b"]));
    assert_eq!(one("run a\t#tab before"), run("a", &[]));
    assert_eq!(one("export A=1 # comment"), export("A", "1"));
}

#[test]
fn hash_inside_a_word_or_quotes_is_literal() {
    assert_eq!(words("a#b c#"), vec![s("a#b"), s("c#")]);
    assert_eq!(words("\"#not a comment\" x"), vec![s("#not a comment"), s("x")]);
    assert_eq!(words("\"a\"#b"), vec![s("a#b")]);
    assert_eq!(one("export C=#1"), export("C", "#1"));
}

#[test]
fn line_numbers_are_one_based_and_count_every_line() {
    let script = parse("# header\n\nrun a\n  \nspawn b\n");
    let lines: Vec<usize> = script.steps.iter().map(|step| step.line).collect();
    assert_eq!(lines, vec![3, 5]);
    assert!(script.errors.is_empty());
}

#[test]
fn crlf_line_ends_are_accepted() {
    let script = parse("export A=1\r\nrun x y\r\n");
    assert_eq!(script.errors, vec![]);
    let commands: Vec<Command> = script.steps.into_iter().map(|step| step.command).collect();
    assert_eq!(commands, vec![export("A", "1"), run("x", &["y"])]);
    // Only one `\r` right before the line end is dropped.
    assert_eq!(words("a\r\r"), vec![s("a\r")]);
    assert_eq!(words("a\rb"), vec![s("a\rb")]);
}

#[test]
fn last_line_without_newline_counts() {
    let script = parse("run a\nrun b");
    assert_eq!(script.steps.len(), 2);
    assert_eq!(script.steps[1], Step { line: 2, command: run("b", &[]) });
}

// ---- words and quotes ----

#[test]
fn words_split_on_spaces_and_tabs() {
    assert_eq!(words("  a  b\tc \t d  "), vec![s("a"), s("b"), s("c"), s("d")]);
    assert_eq!(words("x"), vec![s("x")]);
    // Other whitespace is part of a word.
    assert_eq!(words("a\u{b}b"), vec![s("a\u{b}b")]);
}

#[test]
fn quoted_words_keep_spaces_and_join_with_neighbours() {
    assert_eq!(words("\"a b\" c"), vec![s("a b"), s("c")]);
    assert_eq!(words("a\"b c\"d"), vec![s("ab cd")]);
    assert_eq!(words("\"a\"\"b\""), vec![s("ab")]);
    assert_eq!(words("\"\t x \""), vec![s("\t x ")]);
}

#[test]
fn empty_quotes_are_an_empty_word() {
    assert_eq!(words("a \"\" b"), vec![s("a"), s(""), s("b")]);
    assert_eq!(words("\"\""), vec![s("")]);
    assert_eq!(one("run prog \"\""), run("prog", &[""]));
}

#[test]
fn escapes_inside_quotes() {
    assert_eq!(words(r#""say \"hi\"""#), vec![s("say \"hi\"")]);
    assert_eq!(words(r#""back\\slash""#), vec![s("back\\slash")]);
    assert_eq!(words(r#""\\\"""#), vec![s("\\\"")]);
}

#[test]
fn backslash_outside_quotes_is_literal() {
    assert_eq!(words(r"a\b c\"), vec![s(r"a\b"), s(r"c\")]);
}

#[test]
fn unknown_escape_is_an_error() {
    assert_eq!(split_words(r#""a\nb""#), Err(ErrorKind::UnknownEscape('n')));
    assert_eq!(error(r#"run "\x""#), ErrorKind::UnknownEscape('x'));
}

#[test]
fn unterminated_quote_is_an_error() {
    for line in ["\"", "run \"abc", "export A=\"x", "a\"b", r#"run "ends in backslash\"#, r#""\"#, "\"a\" \""] {
        assert_eq!(split_words(line), Err(ErrorKind::UnterminatedQuote), "{line:?}");
    }
    // A comment does not hide it: the `#` is inside the quote.
    assert_eq!(error("run \"a # b"), ErrorKind::UnterminatedQuote);
}

#[test]
fn nul_byte_is_an_error() {
    assert_eq!(error("run a\0b"), ErrorKind::NulByte);
    assert_eq!(error("# even in a comment \0"), ErrorKind::NulByte);
}

#[test]
fn non_ascii_text_is_fine() {
    assert_eq!(one("run initfs:bin/é \"ü ö\""), run("initfs:bin/é", &["ü ö"]));
}

// ---- export / unset ----

#[test]
fn export_sets_name_and_value() {
    assert_eq!(one("export PATH=initfs:bin"), export("PATH", "initfs:bin"));
    assert_eq!(one("export _x9=1"), export("_x9", "1"));
    assert_eq!(one("export A==b=c"), export("A", "=b=c"));
}

#[test]
fn export_value_may_be_empty_or_quoted() {
    assert_eq!(one("export EMPTY="), export("EMPTY", ""));
    assert_eq!(one("export EMPTY=\"\""), export("EMPTY", ""));
    assert_eq!(one("export MSG=\"hello, world\""), export("MSG", "hello, world"));
    assert_eq!(one("\"export\" \"Q=a b\""), export("Q", "a b"));
}

#[test]
fn export_errors() {
    assert_eq!(error("export"), ErrorKind::MissingArgument { command: "export", what: "NAME=VALUE" });
    assert_eq!(error("export # comment"), ErrorKind::MissingArgument { command: "export", what: "NAME=VALUE" });
    assert_eq!(error("export A"), ErrorKind::MissingEquals(s("A")));
    assert_eq!(error("export A=1 B=2"), ErrorKind::ExtraArguments { command: "export", count: 2 });
    assert_eq!(error("export A= 1"), ErrorKind::ExtraArguments { command: "export", count: 2 });
    for (line, name) in [("export =x", ""), ("export 1A=x", "1A"), ("export A-B=x", "A-B"), ("export É=x", "É")] {
        assert_eq!(error(line), ErrorKind::BadName(s(name)), "{line:?}");
    }
}

#[test]
fn unset_removes_a_name() {
    assert_eq!(one("unset PATH"), Command::Unset { name: s("PATH") });
    assert_eq!(error("unset"), ErrorKind::MissingArgument { command: "unset", what: "a NAME" });
    assert_eq!(error("unset A B C"), ErrorKind::ExtraArguments { command: "unset", count: 3 });
    assert_eq!(error("unset A=1"), ErrorKind::BadName(s("A=1")));
    assert_eq!(error("unset \"\""), ErrorKind::BadName(s("")));
}

#[test]
fn valid_names() {
    for name in ["A", "_", "a_B_9", "PATH", "__"] {
        assert!(valid_name(name), "{name:?}");
    }
    for name in ["", "9", "9A", "A-B", "A B", "A=B", "a.b", "ü"] {
        assert!(!valid_name(name), "{name:?}");
    }
}

// ---- run / spawn ----

#[test]
fn run_and_spawn_take_a_program_and_arguments() {
    assert_eq!(one("run initfs:bin/hello"), run("initfs:bin/hello", &[]));
    assert_eq!(one("run initfs:bin/logd --level \"info only\""), run("initfs:bin/logd", &["--level", "info only"]));
    assert_eq!(one("spawn initfs:bin/sh"), spawn("initfs:bin/sh", &[]));
    assert_eq!(one("\tspawn  a  b  c "), spawn("a", &["b", "c"]));
}

#[test]
fn run_and_spawn_errors() {
    assert_eq!(error("run"), ErrorKind::MissingArgument { command: "run", what: "a program" });
    assert_eq!(error("spawn   # nothing"), ErrorKind::MissingArgument { command: "spawn", what: "a program" });
    assert_eq!(error("run \"\" x"), ErrorKind::EmptyProgram { command: "run" });
    assert_eq!(error("spawn \"\""), ErrorKind::EmptyProgram { command: "spawn" });
}

#[test]
fn console_takes_a_url_a_program_and_arguments() {
    let program = |path: &str, args: &[&str]| Program { path: s(path), args: args.iter().map(|a| s(a)).collect() };
    assert_eq!(
        one("console serial: initfs:bin/sh"),
        Command::Console { console: s("serial:"), program: program("initfs:bin/sh", &[]) }
    );
    assert_eq!(
        one("console \"fbcon:\" initfs:bin/sh -x \"a b\" # comment"),
        Command::Console { console: s("fbcon:"), program: program("initfs:bin/sh", &["-x", "a b"]) }
    );
    assert!(!Env::new().apply(&one("console serial: x")));
}

#[test]
fn console_errors() {
    assert_eq!(error("console"), ErrorKind::MissingArgument { command: "console", what: "a console URL" });
    assert_eq!(error("console serial:"), ErrorKind::MissingArgument { command: "console", what: "a program" });
    assert_eq!(error("console \"\" initfs:bin/sh"), ErrorKind::EmptyConsole);
    assert_eq!(error("console serial: \"\""), ErrorKind::EmptyProgram { command: "console" });
    assert_eq!(ErrorKind::EmptyConsole.to_string(), "console: empty console URL");
}

#[test]
fn unknown_commands_are_errors() {
    for word in ["rn", "RUN", "Export", "start", "exec", "=", "\"\"", "run\\"] {
        let line = format!("{word} x");
        let expected = split_words(word).unwrap().remove(0);
        assert_eq!(error(&line), ErrorKind::UnknownCommand(expected), "{line:?}");
    }
    // Commands are whole words.
    assert_eq!(error("runx a"), ErrorKind::UnknownCommand(s("runx")));
}

#[test]
fn program_names_for_logs() {
    let name = |path: &str| Program { path: s(path), args: vec![] }.name().to_string();
    assert_eq!(name("initfs:bin/ipcd"), "ipcd");
    assert_eq!(name("initfs:ipcd"), "ipcd");
    assert_eq!(name("ipcd"), "ipcd");
    assert_eq!(name("a:b/c/d"), "d");
    assert_eq!(name("initfs:bin/"), "initfs:bin/");
    assert_eq!(name("chan:"), "chan:");
}

// ---- errors and recovery ----

#[test]
fn errors_display_with_line_and_reason() {
    let script = parse("run a\nexport A=1\nrn x\n");
    assert_eq!(script.errors.len(), 1);
    let text = script.errors[0].to_string();
    assert!(text.starts_with("line 3: unknown command \"rn\""), "{text}");
    let cases = [
        (ErrorKind::NotUtf8, "not valid UTF-8"),
        (ErrorKind::NulByte, "contains a NUL byte"),
        (ErrorKind::UnterminatedQuote, "unterminated quote"),
        (ErrorKind::UnknownEscape('n'), r#"unknown escape \n inside quotes (only \" and \\)"#),
        (ErrorKind::UnknownEscape('\t'), r#"unknown escape \\t inside quotes (only \" and \\)"#),
        (ErrorKind::MissingArgument { command: "run", what: "a program" }, "run needs a program"),
        (ErrorKind::ExtraArguments { command: "unset", count: 2 }, "unset takes one argument, found 2"),
        (ErrorKind::MissingEquals(s("A")), "export \"A\": expected NAME=VALUE"),
        (ErrorKind::BadName(s("1A")), "bad variable name \"1A\" (letters, digits and _, not starting with a digit)"),
        (ErrorKind::EmptyProgram { command: "spawn" }, "spawn: empty program name"),
    ];
    for (kind, text) in cases {
        assert_eq!(kind.to_string(), text);
        assert_eq!(Error { line: 7, kind }.to_string(), format!("line 7: {text}"));
    }
    // Control characters in a word are escaped, so a log line stays one line.
    assert_eq!(ErrorKind::UnknownCommand(s("a\u{1b}b")).to_string().lines().count(), 1);
    assert!(ErrorKind::UnknownCommand(s("a\u{1b}b")).to_string().starts_with(r#"unknown command "a\u{1b}b""#));
}

#[test]
fn parsing_goes_on_past_bad_lines() {
    let text = "\
# init.rc
export PATH=initfs:bin
rn initfs:bin/a
run initfs:bin/ipcd
export 1=2
run \"unterminated
unset PATH
spawn
spawn initfs:bin/sh -l
";
    let script = parse(text);
    let steps: Vec<(usize, Command)> = script.steps.into_iter().map(|step| (step.line, step.command)).collect();
    assert_eq!(
        steps,
        vec![
            (2, export("PATH", "initfs:bin")),
            (4, run("initfs:bin/ipcd", &[])),
            (7, Command::Unset { name: s("PATH") }),
            (9, spawn("initfs:bin/sh", &["-l"])),
        ]
    );
    let errors: Vec<usize> = script.errors.iter().map(|err| err.line).collect();
    assert_eq!(errors, vec![3, 5, 6, 8]);
    assert_eq!(script.errors[0].kind, ErrorKind::UnknownCommand(s("rn")));
    assert_eq!(script.errors[1].kind, ErrorKind::BadName(s("1")));
    assert_eq!(script.errors[2].kind, ErrorKind::UnterminatedQuote);
    assert_eq!(script.errors[3].kind, ErrorKind::MissingArgument { command: "spawn", what: "a program" });
}

#[test]
fn parse_bytes_reports_bad_utf8_per_line() {
    let script = parse_bytes(b"run a\nrun \xff\xfe\nrun b\n\xc3\n");
    let steps: Vec<usize> = script.steps.iter().map(|step| step.line).collect();
    assert_eq!(steps, vec![1, 3]);
    assert_eq!(
        script.errors,
        vec![Error { line: 2, kind: ErrorKind::NotUtf8 }, Error { line: 4, kind: ErrorKind::NotUtf8 }]
    );
    // Valid UTF-8 parses the same either way.
    let text = "export A=\"x y\"\nrn\nspawn s # c\r\n";
    assert_eq!(parse_bytes(text.as_bytes()), parse(text));
}

#[test]
fn the_shipped_init_rc_parses_cleanly() {
    let script = parse(include_str!("../../../initfs/etc/init.rc"));
    assert_eq!(script.errors, vec![]);
    assert!(
        script
            .steps
            .iter()
            .any(|step| matches!(step.command, Command::Run(_) | Command::Spawn(_) | Command::Restart { .. }))
    );
}

// ---- the environment ----

#[test]
fn env_set_replaces_in_place_and_unset_removes() {
    let mut env = Env::new();
    assert!(env.is_empty());
    env.set("A", "1");
    env.set("B", "2");
    env.set("A", "3");
    assert_eq!(env.entries(), vec![s("A=3"), s("B=2")]);
    assert_eq!(env.get("A"), Some("3"));
    assert_eq!(env.get("C"), None);
    env.unset("A");
    env.unset("missing");
    assert_eq!(env.entries(), vec![s("B=2")]);
    assert_eq!(env.len(), 1);
    env.set("E", "");
    assert_eq!(env.entries(), vec![s("B=2"), s("E=")]);
    assert_eq!(env.iter().collect::<Vec<_>>(), vec![("B", "2"), ("E", "")]);
}

#[test]
fn env_applies_export_and_unset_only() {
    let script = parse("export A=1\nexport B=\"two words\"\nrun x\nunset A\nexport B=3\nspawn y\n");
    let mut env = Env::new();
    let applied: Vec<bool> = script.steps.iter().map(|step| env.apply(&step.command)).collect();
    assert_eq!(applied, vec![true, true, false, true, true, false]);
    assert_eq!(env.entries(), vec![s("B=3")]);
}

#[test]
fn env_from_entries_skips_bad_ones() {
    let env = Env::from_entries(["A=1", "noequals", "1X=2", "B==", "A=4", "=x"]);
    assert_eq!(env.entries(), vec![s("A=4"), s("B==")]);
}

// ---- fuzz-style ----

/// Pieces that matter to the parser, so random scripts hit every rule.
const PIECES: &[&str] = &[
    "run",
    "spawn",
    "export",
    "unset",
    "rn",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "#",
    " #",
    "\"",
    "\\",
    "\\\"",
    "\\\\",
    "=",
    "A",
    "PATH",
    "_x1",
    "9",
    "initfs:bin/hello",
    "é",
    "\0",
    "\"\"",
    "a b",
    "-",
    "x",
];

/// One of `items`, which are never empty here.
fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    rng.pick(items).expect("a non-empty list")
}

fn random_text(rng: &mut Rng) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(8) {
        // Most lines start like a command, so the rules past the first
        // word get exercised too.
        if rng.below(4) != 0 {
            text.push_str(pick::<&str>(rng, &["run ", "spawn ", "export ", "unset ", "  run\t", "console "]));
        }
        for _ in 0..rng.below(8) {
            if rng.below(8) == 0 {
                text.push(char::from_u32(rng.below(0x800) as u32).unwrap_or('?'));
            } else {
                text.push_str(pick::<&str>(rng, PIECES));
            }
        }
        text.push('\n');
    }
    text
}

/// Quotes `word` so that `split_words` gives it back.
fn quote(word: &str) -> String {
    let mut quoted = String::from("\"");
    for c in word.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// Whatever the input, the parse keeps its promises.
fn check(script: &Script, lines: usize) -> (usize, usize) {
    let mut seen: Vec<usize> =
        script.steps.iter().map(|step| step.line).chain(script.errors.iter().map(|e| e.line)).collect();
    let count = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), count, "a line gave more than one result");
    assert!(seen.iter().all(|&line| (1..=lines).contains(&line)), "line numbers {seen:?} of {lines}");
    assert!(script.steps.windows(2).all(|w| w[0].line < w[1].line));
    assert!(script.errors.windows(2).all(|w| w[0].line < w[1].line));
    for step in &script.steps {
        match &step.command {
            Command::Export { name, value } => {
                assert!(valid_name(name), "{name:?}");
                assert!(!value.contains('\0'));
            }
            Command::Unset { name } => assert!(valid_name(name), "{name:?}"),
            Command::Console { console, program } => {
                assert!(!console.is_empty() && !console.contains('\0'));
                assert!(!program.path.is_empty());
            }
            Command::Run(program) | Command::Spawn(program) | Command::Restart { program, .. } => {
                assert!(!program.path.is_empty());
                assert!(!program.name().is_empty());
                assert!(!program.path.contains('\0') && program.args.iter().all(|a| !a.contains('\0')));
            }
        }
    }
    for err in &script.errors {
        let text = err.to_string();
        assert!(text.starts_with(&format!("line {}: ", err.line)));
        assert_eq!(text.lines().count(), 1, "{text:?}");
    }
    let mut env = Env::new();
    for step in &script.steps {
        env.apply(&step.command);
    }
    assert!(env.entries().iter().all(|entry| entry.contains('=')));
    (script.steps.len(), script.errors.len())
}

/// Adds up what [`check`] counted, so a test can tell that its inputs
/// reached both the commands and the errors.
#[derive(Default)]
struct Tally {
    steps: usize,
    errors: usize,
}

impl Tally {
    fn add(&mut self, (steps, errors): (usize, usize)) {
        self.steps += steps;
        self.errors += errors;
    }

    fn assert_both(&self, at_least: usize) {
        assert!(self.steps >= at_least && self.errors >= at_least, "{} steps, {} errors", self.steps, self.errors);
    }
}

#[test]
fn fuzz_random_scripts_never_panic() {
    let mut rng = Rng::new(0x1217_0e5a_b0a7_f00d);
    let mut tally = Tally::default();
    for _ in 0..5000 {
        let text = random_text(&mut rng);
        tally.add(check(&parse(&text), text.split('\n').count()));
        assert_eq!(parse_bytes(text.as_bytes()), parse(&text));
    }
    tally.assert_both(2000);
}

#[test]
fn fuzz_random_bytes_never_panic() {
    let mut rng = Rng::new(0xdead_beef_cafe_f00d);
    let mut tally = Tally::default();
    for _ in 0..5000 {
        let mut bytes = Vec::new();
        for _ in 0..rng.below(60) {
            match rng.below(6) {
                0 => bytes.push(*pick(&mut rng, b"\n\"\\# \t=\r")),
                1 => bytes.push(b'a' + rng.below(26) as u8),
                2 => bytes.extend_from_slice(pick(&mut rng, PIECES).as_bytes()),
                3 => bytes.extend_from_slice(b"\nrun "),
                _ => bytes.push(rng.next_u64() as u8),
            }
        }
        tally.add(check(&parse_bytes(&bytes), bytes.split(|&b| b == b'\n').count()));
    }
    tally.assert_both(1000);
}

#[test]
fn fuzz_mutated_scripts_never_panic() {
    let base = "\
# init.rc
export PATH=initfs:bin
export MSG=\"hello \\\"world\\\" \\\\ # not a comment\"
run initfs:bin/ipcd --flag # comment
spawn initfs:bin/sh \"-c\" \"echo hi\"
unset MSG
";
    let mut rng = Rng::new(0x0bad_5eed_1234_5678);
    let mut tally = Tally::default();
    for _ in 0..5000 {
        let mut bytes = base.as_bytes().to_vec();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(4) {
                0 if at < bytes.len() => bytes[at] = rng.next_u64() as u8,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                2 => bytes.insert(at, *pick(&mut rng, b"\"\\#\n \t=\0")),
                _ => {
                    let cut = rng.below(bytes.len() + 1);
                    bytes.truncate(cut);
                }
            }
        }
        tally.add(check(&parse_bytes(&bytes), bytes.split(|&b| b == b'\n').count()));
    }
    tally.assert_both(1000);
}

#[test]
fn fuzz_quoted_words_round_trip() {
    let mut rng = Rng::new(0x5151_2024_abcd_ef01);
    let alphabet = ['a', 'Z', '0', ' ', '\t', '"', '\\', '#', '=', ':', '/', 'é', '\r'];
    for _ in 0..3000 {
        let originals: Vec<String> =
            (0..1 + rng.below(6)).map(|_| (0..rng.below(10)).map(|_| *pick(&mut rng, &alphabet)).collect()).collect();
        let line: Vec<String> = originals.iter().map(|word| quote(word)).collect();
        let separator = if rng.below(2) == 0 { " " } else { " \t " };
        let line = line.join(separator);
        assert_eq!(split_words(&line), Ok(originals.clone()), "{line:?}");
        // As arguments of `run`, after a program, with a trailing comment.
        let script = parse(&format!("run prog {line} # done"));
        assert_eq!(script.errors, vec![]);
        assert_eq!(script.steps[0].command, Command::Run(Program { path: s("prog"), args: originals }));
    }
}

#[test]
fn restart_policies() {
    let program = Program { path: s("initfs:bin/tmpd"), args: vec![s("-v")] };
    assert_eq!(
        one("restart on-failure initfs:bin/tmpd -v"),
        Command::Restart { policy: Policy::OnFailure, program: program.clone() }
    );
    assert_eq!(one("restart always initfs:bin/tmpd -v"), Command::Restart { policy: Policy::Always, program });
    assert_eq!(error("restart sometimes initfs:bin/tmpd"), ErrorKind::BadPolicy(s("sometimes")));
    assert_eq!(error("restart"), ErrorKind::MissingArgument { command: "restart", what: "a policy" });
    assert_eq!(error("restart always"), ErrorKind::MissingArgument { command: "restart", what: "a program" });
    assert_eq!(error("restart always \"\""), ErrorKind::EmptyProgram { command: "restart" });
    assert!(Policy::Always.restarts(false) && Policy::Always.restarts(true));
    assert!(Policy::OnFailure.restarts(true) && !Policy::OnFailure.restarts(false));
    assert!(!Env::new().apply(&one("restart always x:y")));
}

#[test]
fn backoff_restarts_at_once_then_doubles_for_quick_ends() {
    use core::time::Duration;
    let mut backoff = Backoff::default();
    assert_eq!(backoff.delay(Duration::from_secs(60)), Duration::ZERO);
    let waits: Vec<u64> = (0..10).map(|_| backoff.delay(Duration::from_millis(5)).as_millis() as u64).collect();
    assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
    assert_eq!(backoff.quick_ends(), 10);
    // A long run resets it.
    assert_eq!(backoff.delay(Backoff::QUICK), Duration::ZERO);
    assert_eq!(backoff.delay(Duration::ZERO), Backoff::FIRST);
    // Never overflows.
    for _ in 0..100 {
        assert!(backoff.delay(Duration::ZERO) <= Backoff::MAX);
    }
}
