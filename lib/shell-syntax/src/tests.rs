//! Host tests of the parser, the expansion, `case` patterns, `read`'s
//! splitting and `test`: every construct, every error, and fuzz loops over
//! random and mutated scripts that must never panic, generated valid
//! scripts that must parse, and their prefixes that must ask for more
//! input rather than fail.

extern crate std;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use xorshift::Rng;

/// The context the tests expand words in: a few variables, positional
/// parameters `p1` and `p 2`, status 3, and command substitutions shown as
/// `<…>` around the rendered list (with a trailing newline, which goes).
struct Fake;

impl Context for Fake {
    fn param(&mut self, param: &Param) -> Option<String> {
        Some(String::from(match param {
            Param::Name(name) => match name.as_str() {
                "HOME" => "/h",
                "EMPTY" => "",
                "SPACE" => "a b",
                "STAR" => "*",
                "LINES" => "one\ntwo\n",
                _ => return None,
            },
            Param::Positional(0) => "sh",
            Param::Positional(1) => "p1",
            Param::Positional(2) => "p 2",
            Param::Positional(_) => return None,
            Param::Status => "3",
            Param::Count => "2",
            Param::Pid => "42",
            Param::LastBackground => "7",
            Param::All | Param::AllJoined => return None,
        }))
    }

    fn positional(&mut self) -> Vec<String> {
        vec![String::from("p1"), String::from("p 2")]
    }

    fn substitute(&mut self, list: &[AndOr]) -> String {
        format!("<{}>\n", render(list))
    }

    fn assign(&mut self, _name: &str, _value: String) {}

    fn fail(&mut self, _message: String) {}
}

fn words(words: &[Word]) -> String {
    let mut out = String::new();
    for word in words {
        for field in word.fields(&mut Fake) {
            out.push_str(&format!("[{field}]"));
        }
    }
    out
}

fn redirects(redirects: &[Redirect]) -> String {
    let mut out = String::new();
    for r in redirects {
        out.push_str(&format!(" {}{}{}", r.fd, r.op.text(), r.target.string(&mut Fake)));
    }
    out
}

fn render_command(command: &Command) -> String {
    match command {
        Command::Simple(simple) => format!("{}{}", words(&simple.words), redirects(&simple.redirects)),
        Command::Function { name, body } => format!("{name}()={}", render_command(body)),
        Command::Compound(compound, redirs) => {
            let inner = match compound {
                Compound::Brace(list) => format!("{{{}}}", render(list)),
                Compound::Subshell(list) => format!("({})", render(list)),
                Compound::If { branches, otherwise } => {
                    let mut out = String::new();
                    for (i, (condition, body)) in branches.iter().enumerate() {
                        out.push_str(if i == 0 { "if " } else { " elif " });
                        out.push_str(&format!("{} then {}", render(condition), render(body)));
                    }
                    if let Some(body) = otherwise {
                        out.push_str(&format!(" else {}", render(body)));
                    }
                    out + " fi"
                }
                Compound::Loop { until, condition, body } => {
                    format!("{} {} do {} done", if *until { "until" } else { "while" }, render(condition), render(body))
                }
                Compound::For { name, words: list, body } => match list {
                    Some(list) => format!("for {name} in {} do {} done", words(list), render(body)),
                    None => format!("for {name} do {} done", render(body)),
                },
                Compound::Case { word, arms } => {
                    let mut out = format!("case {} in", word.string(&mut Fake));
                    for arm in arms {
                        let patterns: Vec<String> = arm.patterns.iter().map(|p| p.pattern(&mut Fake)).collect();
                        out.push_str(&format!(" {}) {} ;;", patterns.join("|"), render(&arm.body)));
                    }
                    out + " esac"
                }
            };
            inner + &redirects(redirs)
        }
    }
}

/// A parsed list rendered compactly: words as their expanded fields in
/// brackets, `;` or `&` after each and-or list.
fn render(lists: &[AndOr]) -> String {
    let mut out = String::new();
    for list in lists {
        let pipelines = core::iter::once((None, &list.first)).chain(list.rest.iter().map(|(c, p)| (Some(*c), p)));
        for (connector, pipeline) in pipelines {
            match connector {
                Some(Connector::And) => out.push_str(" && "),
                Some(Connector::Or) => out.push_str(" || "),
                None => {}
            }
            if pipeline.negated {
                out.push_str("! ");
            }
            let commands: Vec<String> = pipeline.commands.iter().map(render_command).collect();
            out.push_str(&commands.join(" | "));
        }
        out.push_str(if list.background { "&" } else { ";" });
    }
    out
}

fn show(input: &str) -> String {
    render(&parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}")))
}

#[test]
fn words_and_blanks() {
    assert_eq!(show("echo  a\tb "), "[echo][a][b];");
    assert_eq!(show(""), "");
    assert_eq!(show("   # only a comment\n\n"), "");
    assert_eq!(show("echo a#b # c"), "[echo][a#b];");
    assert_eq!(show("echo a \\\n  b"), "[echo][a][b];");
}

#[test]
fn quotes_and_escapes() {
    assert_eq!(show(r#"echo 'a  $HOME "x"' "b  $HOME 'y'""#), r#"[echo][a  $HOME "x"][b  /h 'y'];"#);
    assert_eq!(show(r"echo a\ b \$HOME \\ \'"), r"[echo][a b][$HOME][\]['];");
    assert_eq!(show(r#"echo "a\"b\$c\\d\e\`""#), r#"[echo][a"b$c\d\e`];"#);
    assert_eq!(show("echo '' \"\" x''y"), "[echo][][][xy];");
    assert_eq!(show("echo 'a|b;c&d>e(f)'"), "[echo][a|b;c&d>e(f)];");
    assert_eq!(show("echo a\\\nb"), "[echo][ab];");
    assert_eq!(show("echo \"a\nb\""), "[echo][a\nb];");
}

#[test]
fn parameters() {
    assert_eq!(show("echo $HOME ${HOME}x $HOMEx $? ${?}"), "[echo][/h][/hx][3][3];");
    assert_eq!(show("echo $ a$ $- $1 ${1}0 $10"), "[echo][$][a$][$-][p1][p10][p10];");
    assert_eq!(show("echo $# $0 $$ $! \"${2}\" ${10}x"), "[echo][2][sh][42][7][p 2][x];");
    // An unquoted empty expansion is dropped, a quoted one kept.
    assert_eq!(show("echo $EMPTY $NOPE \"$EMPTY\" x$EMPTY"), "[echo][][x];");
    assert!(is_name("_a1") && !is_name("1a") && !is_name("") && !is_name("a-b"));
}

#[test]
fn parameter_operators() {
    assert_eq!(
        show("echo ${NOPE-d} ${EMPTY-d} ${EMPTY:-d} ${HOME:-d} ${NOPE+a} ${HOME+a} ${EMPTY+a} ${EMPTY:+a}"),
        "[echo][d][d][/h][a][a];"
    );
    assert_eq!(
        show("echo ${1:-x} ${3:-three} ${#HOME} ${#} ${#1} ${#@} ${#NOPE}"),
        "[echo][p1][three][2][2][2][2][0];"
    );
    assert_eq!(
        show("echo ${NOPE:-a b} \"${NOPE:-a b}\" ${NOPE:-\"a b\"} x${NOPE:-}y \"${NOPE-}\""),
        "[echo][a][b][a b][a b][xy][];"
    );
    assert_eq!(
        show("echo ${NOPE:-${HOME}x} \"${NOPE:-$(echo hi)}\" ${NOPE:-a\\}b} ${NOPE:-'q}'}"),
        "[echo][/hx][<[echo][hi];>][a}b][q}];"
    );
    assert_eq!(show("echo ${HOME:+\"$SPACE\"} ${SPACE:+$SPACE}"), "[echo][a b][a][b];");
    // `${X=WORD}` assigns through the context.
    struct Record(Vec<(String, String)>);
    impl Context for Record {
        fn param(&mut self, param: &Param) -> Option<String> {
            match param {
                Param::Name(name) => self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()),
                _ => None,
            }
        }
        fn positional(&mut self) -> Vec<String> {
            Vec::new()
        }
        fn substitute(&mut self, _list: &[AndOr]) -> String {
            String::new()
        }
        fn assign(&mut self, name: &str, value: String) {
            self.0.push((name.to_string(), value));
        }
        fn fail(&mut self, message: String) {
            self.0.push((String::from("failed"), message));
        }
    }
    let lists = parse("echo ${X:=one} ${X:=two} ${Y=} ${Y:=three}").unwrap();
    let Command::Simple(simple) = &lists[0].first.commands[0] else { panic!("not simple") };
    let mut record = Record(Vec::new());
    let fields: Vec<String> = simple.words.iter().flat_map(|w| w.fields(&mut record)).collect();
    assert_eq!(fields, ["echo", "one", "one", "three"]);
    assert_eq!(
        record.0,
        [
            ("X".to_string(), "one".to_string()),
            ("Y".to_string(), String::new()),
            ("Y".to_string(), "three".to_string())
        ]
    );
    // In a pattern, the word's quoted parts stay literal.
    assert_eq!(show("case x in ${NOPE:-\"*\"}|${NOPE:-*}) ;; esac"), "case x in \\*|*)  ;; esac;");
}

#[test]
fn arithmetic() {
    let vars = |name: &str| match name {
        "x" => Some(String::from("41")),
        "neg" => Some(String::from(" -3 ")),
        "empty" => Some(String::new()),
        "word" => Some(String::from("abc")),
        _ => None,
    };
    let eval = |text: &str| evaluate_arithmetic(text, &mut |name: &str| vars(name));
    let cases: &[(&str, i64)] = &[
        ("1 + 2 * 3", 7),
        ("(1+2)*3", 9),
        ("10 / 3", 3),
        ("10 % 3", 1),
        ("-5 / 2", -2),
        ("2 < 3", 1),
        ("3 <= 2", 0),
        ("3 >= 3", 1),
        ("4 > 5", 0),
        ("1 == 1 && 2 != 2", 0),
        ("0 || 5", 1),
        ("!0", 1),
        ("!7", 0),
        ("- -3", 3),
        ("+4", 4),
        ("x + 1", 42),
        ("nope * 2 + empty", 0),
        ("neg * neg", 9),
        ("0x10", 16),
        ("9223372036854775807 + 1", i64::MIN),
        (" 7 ", 7),
        ("2 - 3 - 4", -5),
    ];
    for &(text, want) in cases {
        assert_eq!(eval(text), Ok(want), "{text:?}");
    }
    let errors: &[(&str, ArithError)] = &[
        ("1 +", ArithError::Syntax(String::new())),
        ("", ArithError::Syntax(String::new())),
        ("1 / 0", ArithError::DivisionByZero),
        ("1 % (2 - 2)", ArithError::DivisionByZero),
        ("word + 1", ArithError::NotANumber("word".to_string(), "abc".to_string())),
        ("(1", ArithError::Syntax(String::new())),
        ("1 2", ArithError::Syntax("2".to_string())),
        ("1 @ 2", ArithError::Syntax("@ 2".to_string())),
        ("1x", ArithError::Syntax("1x".to_string())),
    ];
    for (text, want) in errors {
        assert_eq!(eval(text).as_ref(), Err(want), "{text:?}");
        assert!(!want.to_string().is_empty());
    }
    assert_eq!(eval(&("(".repeat(100) + "1" + &")".repeat(100))), Err(ArithError::TooDeep));
    assert_eq!(
        show("echo $((2 * (3 + 4))) \"$(( $# + 1 ))\" $((10/3))x $(( ${#HOME} * 7 ))"),
        "[echo][14][3][3x][14];"
    );
    assert_eq!(error("echo $((1 + 2"), Error::UnterminatedSubstitution);
    assert_eq!(error("echo $((1)+2)"), Error::Unexpected(")".to_string()));
    // A failure goes to the context, and the expansion gives nothing.
    struct Failing(Vec<String>);
    impl Context for Failing {
        fn param(&mut self, _param: &Param) -> Option<String> {
            None
        }
        fn positional(&mut self) -> Vec<String> {
            Vec::new()
        }
        fn substitute(&mut self, _list: &[AndOr]) -> String {
            String::new()
        }
        fn assign(&mut self, _name: &str, _value: String) {}
        fn fail(&mut self, message: String) {
            self.0.push(message);
        }
    }
    let lists = parse("echo a$((1/0))b").unwrap();
    let Command::Simple(simple) = &lists[0].first.commands[0] else { panic!("not simple") };
    let mut failing = Failing(Vec::new());
    assert_eq!(simple.words[1].fields(&mut failing), ["ab"]);
    assert_eq!(failing.0, ["$((1/0)): arithmetic: division by zero"]);
}

#[test]
fn field_splitting() {
    assert_eq!(show("echo $SPACE \"$SPACE\" x${SPACE}y"), "[echo][a][b][a b][xa][by];");
    assert_eq!(show("echo $LINES"), "[echo][one][two];");
    assert_eq!(show("echo \"$@\" $@"), "[echo][p1][p 2][p1][p][2];");
    assert_eq!(show("echo \"x$@y\""), "[echo][xp1][p 2y];");
    assert_eq!(show("echo \"$*\" $*"), "[echo][p1 p 2][p1][p][2];");
    // A literal `*` stays: there is no pathname expansion.
    assert_eq!(show("echo * $STAR"), "[echo][*][*];");
}

#[test]
fn command_substitution() {
    assert_eq!(show("echo $(ls -l) x"), "[echo][<[ls][-l];>][x];");
    assert_eq!(show("echo \"$(echo a  b)\""), "[echo][<[echo][a][b];>];");
    assert_eq!(show("echo $(echo $(echo in))"), "[echo][<[echo][<[echo][in];>];>];");
    assert_eq!(show("echo \"a $(echo \"q $HOME\") b\""), "[echo][a <[echo][q /h];> b];");
    assert_eq!(show("echo `echo b` \"`echo c`\""), "[echo][<[echo][b];>][<[echo][c];>];");
    assert_eq!(show("echo \"$(case x in x) echo y;; esac)\""), "[echo][<case x in x) [echo][y]; ;; esac;>];");
    assert_eq!(show("x=$(\n  echo a\n  echo b\n)"), "[x=<[echo][a];[echo][b];>];");
    assert_eq!(show("echo $()"), "[echo][<>];");
}

#[test]
fn pipelines_and_lists() {
    assert_eq!(show("a | b|c"), "[a] | [b] | [c];");
    assert_eq!(show("a; b\nc;"), "[a];[b];[c];");
    assert_eq!(show("a && b || c"), "[a] && [b] || [c];");
    assert_eq!(show("a &\nb & c"), "[a]&[b]&[c];");
    assert_eq!(show("a &&\n b ||\n\n c"), "[a] && [b] || [c];");
    assert_eq!(show("a |\n b"), "[a] | [b];");
    assert_eq!(show("! a | b && ! ! c"), "! [a] | [b] && [c];");
    assert_eq!(show("echo !"), "[echo][!];");
    let lists = parse("a | b && c &").unwrap();
    assert_eq!(lists.len(), 1);
    assert!(lists[0].background);
    assert_eq!(lists[0].first.commands.len(), 2);
}

#[test]
fn redirections() {
    assert_eq!(show("cat < in:x > out:y 2> err:z"), "[cat] 0<in:x 1>out:y 2>err:z;");
    assert_eq!(show("echo a >>tmp:log 2>>tmp:e"), "[echo][a] 1>>tmp:log 2>>tmp:e;");
    // A digit only names a descriptor when it stands alone.
    assert_eq!(show("echo a2>x 2 > y"), "[echo][a2][2] 1>x 1>y;");
    assert_eq!(show("echo '2'>x"), "[echo][2] 1>x;");
    assert_eq!(show("> tmp:x echo"), "[echo] 1>tmp:x;");
    assert_eq!(show("echo > \"$HOME/a b\""), "[echo] 1>/h/a b;");
    assert_eq!(show("echo x >&2 2>&1 0<&3 >| f"), "[echo][x] 1>&2 2>&1 0<&3 1>f;");
}

#[test]
fn here_documents() {
    assert_eq!(
        show("cat <<EOF\nhello $HOME\n  \\$x \"q\"\nEOF\necho after"),
        "[cat] 0<<hello /h\n  $x \"q\"\n;[echo][after];"
    );
    assert_eq!(show("cat <<'EOF'\n$HOME `x`\nEOF"), "[cat] 0<<$HOME `x`\n;");
    assert_eq!(show("cat <<\"E F\"\n$HOME\nE F\n"), "[cat] 0<<$HOME\n;");
    assert_eq!(show("cat <<-EOF\n\t\tindented\n\tEOF\n"), "[cat] 0<<-indented\n;");
    assert_eq!(show("cat <<A <<B\na\nA\nb\nB\n"), "[cat] 0<<a\n 0<<b\n;");
    assert_eq!(show("cat <<A | wc\nbody\nA"), "[cat] 0<<body\n | [wc];");
    assert_eq!(show("cat <<A\nA\n"), "[cat] 0<<;");
    assert_eq!(show("cat <<A\nx $(echo in) y\nA\n"), "[cat] 0<<x <[echo][in];> y\n;");
    assert_eq!(
        show("while read l; do\n  cat <<E\n$l\nE\ndone <<E2\nline\nE2\n"),
        "while [read][l]; do [cat] 0<<\n; done 0<<line\n;"
    );
    // The body of a here-document inside a substitution comes after the
    // substitution's own line.
    assert_eq!(show("echo \"$(cat <<E\ninner\nE\n)\""), "[echo][<[cat] 0<<inner\n;>];");
}

#[test]
fn if_clauses() {
    assert_eq!(show("if a; then b; fi"), "if [a]; then [b]; fi;");
    assert_eq!(
        show("if a\nthen\n  b\nelif c; then d; e\nelse f\nfi"),
        "if [a]; then [b]; elif [c]; then [d];[e]; else [f]; fi;"
    );
    assert_eq!(show("if a && b; then :; fi > out"), "if [a] && [b]; then [:]; fi 1>out;");
    assert_eq!(show("if if a; then b; fi; then c; fi | d"), "if if [a]; then [b]; fi; then [c]; fi | [d];");
    // Reserved words are only reserved where a command starts.
    assert_eq!(show("echo if then fi"), "[echo][if][then][fi];");
    assert_eq!(show("\"if\" x; 'fi'"), "[if][x];[fi];");
}

#[test]
fn loops() {
    assert_eq!(show("while a; do b; done"), "while [a]; do [b]; done;");
    assert_eq!(show("until a\ndo\n b\ndone &"), "until [a]; do [b]; done&");
    assert_eq!(show("for x in a $SPACE \"$@\"; do echo $x; done"), "for x in [a][a][b][p1][p 2] do [echo]; done;");
    assert_eq!(show("for x\ndo\n :\ndone"), "for x do [:]; done;");
    assert_eq!(show("for x; do :; done"), "for x do [:]; done;");
    assert_eq!(show("for x do :; done"), "for x do [:]; done;");
    assert_eq!(show("for x in; do :; done"), "for x in  do [:]; done;");
    assert_eq!(show("for x in do done; do :; done"), "for x in [do][done] do [:]; done;");
    assert_eq!(
        show("while a; do for i in 1; do break 2; done; done"),
        "while [a]; do for i in [1] do [break][2]; done; done;"
    );
}

#[test]
fn case_clauses() {
    assert_eq!(
        show("case $x in a|b) echo ab;; *) echo other;; esac"),
        "case  in a|b) [echo][ab]; ;; *) [echo][other]; ;; esac;"
    );
    assert_eq!(
        show("case a in\n  (a) x\n  ;;\n  [0-9]*)\n  ;;\n  b) y\nesac"),
        "case a in a) [x]; ;; [0-9]*)  ;; b) [y]; ;; esac;"
    );
    assert_eq!(show("case a in esac"), "case a in esac;");
    assert_eq!(show("case a in \"*\"|'?'|\\[x) ;; $STAR) ;; esac"), "case a in \\*|\\?|\\[x)  ;; *)  ;; esac;");
    assert_eq!(show("case in in in) echo in;; esac"), "case in in in) [echo][in]; ;; esac;");
}

#[test]
fn functions_and_groups() {
    assert_eq!(show("f() { echo $1; }"), "f()={[echo][p1];};");
    assert_eq!(show("f ()\n{\n  echo\n}\nf a"), "f()={[echo];};[f][a];");
    assert_eq!(show("f() ( cd x ) > log"), "f()=([cd][x];) 1>log;");
    assert_eq!(show("f() if a; then b; fi"), "f()=if [a]; then [b]; fi;");
    assert_eq!(show("{ a; b; } | c"), "{[a];[b];} | [c];");
    assert_eq!(show("(a; (b)) && c"), "([a];([b];);) && [c];");
    assert_eq!(show("{echo}"), "[{echo}];");
}

fn error(input: &str) -> Error {
    match parse(input) {
        Ok(lists) => panic!("{input:?} parsed: {}", render(&lists)),
        Err(err) => err,
    }
}

#[test]
fn errors() {
    let u = |s: &str| Error::Unexpected(s.to_string());
    let cases: Vec<(&str, Error)> = vec![
        ("echo 'a", Error::UnterminatedSingleQuote),
        ("echo \"a", Error::UnterminatedDoubleQuote),
        ("echo \"a\\", Error::UnterminatedDoubleQuote),
        ("echo ${A", Error::UnterminatedBrace),
        ("echo $(a", Error::UnterminatedSubstitution),
        ("echo `a", Error::UnterminatedSubstitution),
        ("echo $(echo 'a", Error::UnterminatedSingleQuote),
        ("cat <<EOF\nno end", Error::UnterminatedHereDoc("EOF".to_string())),
        ("cat <<EOF", Error::UnterminatedHereDoc("EOF".to_string())),
        ("echo ${1x}", Error::BadSubstitution("1x".to_string())),
        ("echo ${}", Error::BadSubstitution(String::new())),
        ("echo ${1=x}", Error::BadSubstitution("1=x".to_string())),
        ("echo ${a?x}", Error::BadSubstitution("a?x".to_string())),
        ("echo ${#1x}", Error::BadSubstitution("#1x".to_string())),
        ("echo ${a:x}", Error::BadSubstitution("a:x".to_string())),
        ("echo ${a-b", Error::UnterminatedBrace),
        ("echo ${a:-'b}", Error::UnterminatedSingleQuote),
        ("echo ${a:", Error::UnterminatedBrace),
        ("echo a\\", Error::TrailingBackslash),
        ("| a", u("|")),
        ("a | | b", u("|")),
        ("a && && b", u("&&")),
        ("a ||;", u(";")),
        ("&& a", u("&&")),
        ("& a", u("&")),
        ("a & & b", u("&")),
        ("; a", u(";")),
        ("a ;; b", u(";;")),
        ("a )", u(")")),
        ("fi", u("fi")),
        ("then", u("then")),
        ("done", u("done")),
        ("in", u("in")),
        ("esac", u("esac")),
        ("}", u("}")),
        ("if then b; fi", u("then")),
        ("if a; then fi", u("fi")),
        ("if a; then b; else fi", u("fi")),
        ("if a; then b; done", u("done")),
        ("while do b; done", u("do")),
        ("while a; do done", u("done")),
        ("while a; b; done", u("done")),
        ("for x in a b & do :; done", u("&")),
        ("if a; then b; fi c", u("c")),
        ("case a in x) y;; esac z", u("z")),
        ("case a x", u("x")),
        ("case a in x y) ;; esac", u("y")),
        ("case a in x) a ) ;; esac", u(")")),
        ("case ; in esac", u(";")),
        ("{ }", u("}")),
        ("()", u(")")),
        ("f() g", u("g")),
        ("f(x)", u("x")),
        ("echo $(a ;; b)", u(";;")),
        ("a >", Error::MissingTarget(">")),
        ("a > ;", Error::MissingTarget(">")),
        ("a 2>", Error::MissingTarget(">")),
        ("a < | b", Error::MissingTarget("<")),
        ("cat <<", Error::MissingTarget("<<")),
        ("cat <<$X\n", Error::BadName("here-document delimiter", "$X".to_string())),
        ("for 1x in a; do :; done", Error::BadName("variable", "1x".to_string())),
        ("for 'x' in a; do :; done", Error::BadName("variable", "x".to_string())),
        ("a-b() { :; }", Error::BadName("function", "a-b".to_string())),
        ("echo `echo $(`", Error::IncompleteInside("`…`")),
        ("cat <<E\n$(echo\nE\n", Error::IncompleteInside("a here-document")),
        ("a &&", Error::EndOfInput("a command after `&&`")),
        ("a ||\n\n", Error::EndOfInput("a command after `||`")),
        ("a |", Error::EndOfInput("a command after `|`")),
        ("!", Error::EndOfInput("a command")),
        ("if a", Error::EndOfInput("`then`")),
        ("if", Error::EndOfInput("`then`")),
        ("if a; then", Error::EndOfInput("`fi`")),
        ("if a; then b", Error::EndOfInput("`fi`")),
        ("if a; then b; else c", Error::EndOfInput("`fi`")),
        ("if a; then b; elif c", Error::EndOfInput("`then`")),
        ("while a", Error::EndOfInput("`do`")),
        ("while a; do b", Error::EndOfInput("`done`")),
        ("until a; do", Error::EndOfInput("`done`")),
        ("for", Error::EndOfInput("a variable name")),
        ("for x in a b", Error::EndOfInput("`do`")),
        ("for x in a b\n", Error::EndOfInput("`do`")),
        ("for x", Error::EndOfInput("`do`")),
        ("case", Error::EndOfInput("a word after `case`")),
        ("case a", Error::EndOfInput("`in`")),
        ("case a in", Error::EndOfInput("a pattern")),
        ("case a in x", Error::EndOfInput("`)`")),
        ("case a in x)", Error::EndOfInput("`;;` or `esac`")),
        ("case a in x) y;;", Error::EndOfInput("a pattern")),
        ("{ a", Error::EndOfInput("`}`")),
        ("{", Error::EndOfInput("`}`")),
        ("( a", Error::EndOfInput("`)`")),
        ("f()", Error::EndOfInput("a function body")),
        ("f(", Error::EndOfInput("`)`")),
    ];
    for (input, want) in &cases {
        assert_eq!(&error(input), want, "{input:?}");
        assert!(!want.to_string().is_empty());
    }
    let deep = "(".repeat(MAX_DEPTH + 1) + "a" + &")".repeat(MAX_DEPTH + 1);
    assert_eq!(error(&deep), Error::TooDeep);
    let deep = "$(".repeat(MAX_DEPTH + 1) + &")".repeat(MAX_DEPTH + 1);
    assert_eq!(error(&deep), Error::TooDeep);
    let fine = "(".repeat(MAX_DEPTH) + "a" + &")".repeat(MAX_DEPTH);
    assert!(parse(&fine).is_ok());
}

#[test]
fn which_errors_want_more_input() {
    for input in
        ["echo 'a", "echo \"a", "a \\", "echo $(a", "if a; then", "while a", "cat <<E\nx", "a &&", "a |", "f()"]
    {
        assert!(error(input).incomplete(), "{input:?}");
    }
    for input in ["fi", "a >", "echo ${1x}", "a ;; b", "echo `echo $(`", "for 1 in; do :; done", "a | | b"] {
        assert!(!error(input).incomplete(), "{input:?}");
    }
}

#[test]
fn patterns() {
    let cases: &[(&str, &str, bool)] = &[
        ("*", "", true),
        ("*", "anything", true),
        ("a*", "abc", true),
        ("a*", "ba", false),
        ("*.txt", "notes.txt", true),
        ("*.txt", "notes.txt.bak", false),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("[abc]x", "bx", true),
        ("[a-c]x", "dx", false),
        ("[!a-c]x", "dx", true),
        ("[^a-c]x", "ax", false),
        ("[]x]", "]", true),
        ("[a-]", "-", true),
        ("[", "[", true),
        ("[ab", "[ab", true),
        ("\\*", "*", true),
        ("\\*", "x", false),
        ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "aXbYbZ", false),
        ("é?", "éé", true),
        ("", "", true),
        ("", "x", false),
        ("**", "x", true),
        ("[0-9]*", "7up", true),
    ];
    for &(pattern, text, want) in cases {
        assert_eq!(pattern_matches(pattern, text), want, "{pattern:?} {text:?}");
    }
}

#[test]
fn read_splitting() {
    let ifs = " \t\n";
    assert_eq!(split_read("  a  b  c  ", false, ifs, 2), ["a", "b  c"]);
    assert_eq!(split_read("a b", false, ifs, 3), ["a", "b", ""]);
    assert_eq!(split_read("  a b  ", false, ifs, 1), ["a b"]);
    assert_eq!(split_read("a\\ b c", false, ifs, 2), ["a b", "c"]);
    assert_eq!(split_read("a\\ b c", true, ifs, 2), ["a\\", "b c"]);
    assert_eq!(split_read("x\\\\y", false, ifs, 1), ["x\\y"]);
    assert_eq!(split_read("a::b:c", false, ":", 3), ["a", "", "b:c"]);
    assert_eq!(split_read("a : b", false, ": ", 2), ["a", "b"]);
    assert_eq!(split_read("", false, ifs, 2), ["", ""]);
    assert_eq!(split_read("abc", false, "", 2), ["abc", ""]);
}

fn test_expr(args: &[&str]) -> Result<bool, TestError> {
    // Files: `dir` is a directory, `file` a non-empty file, `empty` an
    // empty one; only `file` may be executed.
    let mut file = |test: FileTest, path: &str| {
        matches!(
            (test, path),
            (FileTest::Exists | FileTest::Readable | FileTest::Writable, "dir" | "file" | "empty")
                | (FileTest::Directory | FileTest::Executable, "dir")
                | (FileTest::File, "file" | "empty")
                | (FileTest::NonEmpty | FileTest::Executable, "file")
        )
    };
    evaluate_test(args, &mut file)
}

#[test]
fn test_expressions() {
    let t = |args: &[&str]| test_expr(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(!t(&[]));
    assert!(t(&["x"]) && !t(&[""]));
    assert!(t(&["-n"]) && t(&["!"]) && t(&["-z"]));
    assert!(t(&["-z", ""]) && !t(&["-z", "x"]) && t(&["-n", "x"]) && !t(&["-n", ""]));
    assert!(t(&["!", ""]) && !t(&["!", "x"]));
    assert!(t(&["a", "=", "a"]) && t(&["a", "==", "a"]) && t(&["a", "!=", "b"]) && !t(&["a", "=", "b"]));
    assert!(t(&["a", "<", "b"]) && t(&["b", ">", "a"]));
    assert!(t(&["!", "=", "!"]) && t(&["=", "=", "="]) && t(&["-n", "=", "-n"]));
    assert!(t(&["10", "-gt", "9"]) && t(&[" 3", "-eq", "3 "]) && t(&["-2", "-lt", "1"]) && t(&["2", "-ge", "2"]));
    assert!(t(&["1", "-le", "1"]) && t(&["1", "-ne", "2"]) && !t(&["1", "-gt", "1"]));
    assert!(t(&["-e", "dir"]) && t(&["-d", "dir"]) && !t(&["-f", "dir"]) && t(&["-f", "file"]));
    assert!(!t(&["-e", "nope"]) && t(&["-s", "file"]) && !t(&["-s", "empty"]) && t(&["-x", "file"]));
    assert!(t(&["-r", "empty"]) && t(&["-w", "empty"]) && !t(&["-x", "empty"]));
    assert!(t(&["!", "-f", "dir"]) && t(&["!", "a", "=", "b"]));
    assert!(t(&["(", "x", ")"]) && t(&["(", "-d", "dir", ")"]));
    assert!(t(&["a", "-a", "b"]) && !t(&["a", "-a", ""]) && t(&["", "-o", "b"]));
    assert!(t(&["-f", "file", "-a", "-d", "dir"]) && !t(&["-f", "file", "-a", "-d", "file"]));
    assert!(t(&["-f", "dir", "-o", "-d", "dir"]));
    // `-a` binds tighter than `-o`.
    assert!(t(&["x", "-o", "", "-a", ""]));
    assert!(!t(&["(", "x", "-o", "", ")", "-a", ""]));
    assert!(t(&["!", "(", "a", "=", "b", ")"]));
    assert!(t(&["!", "!", "!", "", "-a", "x"]));
}

#[test]
fn test_errors() {
    let cases: &[(&[&str], TestError)] = &[
        (&["a", "-eq", "1"], TestError::IntegerExpected("a".to_string())),
        (&["1", "-lt", ""], TestError::IntegerExpected(String::new())),
        (&["-q", "x"], TestError::UnaryExpected("-q".to_string())),
        (&["a", "b", "c"], TestError::BinaryExpected("b".to_string())),
        (&["(", "a", "b", "c", "d"], TestError::ParenExpected),
        (&["-f", "file", "-a", "-d"], TestError::ArgumentExpected),
        (&["a", "=", "a", "b", "c"], TestError::Unexpected("b".to_string())),
    ];
    for (args, want) in cases {
        assert_eq!(test_expr(args).as_ref(), Err(want), "{args:?}");
        assert!(!want.to_string().is_empty());
    }
    let deep: Vec<&str> = core::iter::repeat_n("(", 40).chain(["x"]).chain(core::iter::repeat_n(")", 40)).collect();
    assert_eq!(test_expr(&deep), Err(TestError::TooDeep));
}

// ---- fuzzing ----

/// A random script that is valid by construction, nested up to `depth`.
fn gen_list(rng: &mut Rng, depth: usize, out: &mut String) {
    for i in 0..1 + rng.below(3) {
        if i > 0 {
            out.push_str(rng.pick(&["; ", "\n", " & ", ";\n\n"]).unwrap_or(&"; "));
        }
        gen_pipeline(rng, depth, out);
        while rng.below(4) == 0 {
            out.push_str(rng.pick(&[" && ", " || ", " &&\n  ", " ||\n"]).unwrap_or(&" && "));
            gen_pipeline(rng, depth, out);
        }
    }
}

fn gen_pipeline(rng: &mut Rng, depth: usize, out: &mut String) {
    if rng.below(6) == 0 {
        out.push_str("! ");
    }
    gen_command(rng, depth, out);
    while rng.below(4) == 0 {
        out.push_str(rng.pick(&[" | ", " |\n"]).unwrap_or(&" | "));
        gen_command(rng, depth, out);
    }
}

fn gen_word(rng: &mut Rng, depth: usize, out: &mut String) {
    const WORDS: &[&str] = &[
        "echo",
        "a",
        "'q u'",
        "\"$x\"",
        "$1",
        "${10}",
        "\"$@\"",
        "$#",
        "x=1",
        "\\;",
        "b$?c",
        "''",
        "if",
        "done",
        "'fi'",
        "\"a b\"",
        "é",
        "[x]*",
        "--",
        "$",
        "a\\\nb",
        "${x:-d}",
        "\"${1+$x}\"",
        "${#x}",
        "${y:=$(echo)}",
    ];
    if depth > 0 && rng.below(10) == 0 {
        let quoted = rng.below(2) == 0;
        // `$((` would be arithmetic: a blank keeps a subshell a subshell.
        out.push_str(if quoted { "\"$( " } else { "$( " });
        gen_list(rng, depth - 1, out);
        out.push_str(if quoted { ")\"" } else { ")" });
    } else {
        out.push_str(rng.pick(WORDS).unwrap_or(&"a"));
    }
}

fn gen_simple(rng: &mut Rng, depth: usize, out: &mut String) {
    out.push_str(rng.pick(&["echo", "cat", "x=$(a)", "test", "[", "f", "read"]).unwrap_or(&"echo"));
    for _ in 0..rng.below(4) {
        out.push(' ');
        if rng.below(6) == 0 {
            out.push_str(rng.pick(&["> tmp:f", "2>&1", "< in", ">> log", "2> err", ">&2"]).unwrap_or(&">x"));
        } else {
            gen_word(rng, depth, out);
        }
    }
}

fn gen_command(rng: &mut Rng, depth: usize, out: &mut String) {
    if depth == 0 || rng.below(3) != 0 {
        gen_simple(rng, depth, out);
        return;
    }
    let d = depth - 1;
    match rng.below(8) {
        0 => {
            out.push_str("if ");
            gen_list(rng, d, out);
            out.push_str("; then ");
            gen_list(rng, d, out);
            if rng.below(2) == 0 {
                out.push_str("\nelif ");
                gen_list(rng, d, out);
                out.push_str("\nthen\n");
                gen_list(rng, d, out);
            }
            if rng.below(2) == 0 {
                out.push_str("; else ");
                gen_list(rng, d, out);
            }
            out.push_str("\nfi");
        }
        1 => {
            out.push_str(if rng.below(2) == 0 { "while " } else { "until " });
            gen_list(rng, d, out);
            out.push_str("; do\n");
            gen_list(rng, d, out);
            out.push_str("\ndone");
        }
        2 => {
            out.push_str(
                rng.pick(&["for x in a 'b c' $y; do ", "for x; do ", "for x\ndo\n", "for x in\ndo "]).unwrap_or(&""),
            );
            gen_list(rng, d, out);
            out.push_str("; done");
        }
        3 => {
            out.push_str("case $x in\n");
            for _ in 0..rng.below(3) {
                out.push_str(rng.pick(&["a|b) ", "(*) ", "[0-9]*)\n", "'x'|\"y\") "]).unwrap_or(&"a) "));
                if rng.below(3) != 0 {
                    gen_list(rng, d, out);
                }
                out.push_str(";;\n");
            }
            out.push_str("esac");
        }
        4 => {
            out.push_str("{ ");
            gen_list(rng, d, out);
            out.push_str("; }");
        }
        5 => {
            out.push('(');
            gen_list(rng, d, out);
            out.push(')');
        }
        6 => {
            out.push_str("f() {\n");
            gen_list(rng, d, out);
            out.push_str("\n}");
        }
        _ => {
            out.push_str("cat <<EOF");
            out.push_str(" | wc\nline $x\n$(echo in)\nEOF\n");
            out.push_str("true");
        }
    }
    if rng.below(5) == 0 {
        out.push_str(" > tmp:out 2>&1");
    }
}

/// Every simple command has a word or a redirection; expanding every word
/// works.
fn check_tree(lists: &[AndOr], input: &str) {
    for list in lists {
        for pipeline in core::iter::once(&list.first).chain(list.rest.iter().map(|(_, p)| p)) {
            assert!(!pipeline.commands.is_empty(), "{input:?}");
            for command in &pipeline.commands {
                let _ = render_command(command);
                if let Command::Simple(simple) = command {
                    assert!(!simple.words.is_empty() || !simple.redirects.is_empty(), "{input:?}");
                }
            }
        }
    }
}

#[test]
fn fuzz_generated_scripts_parse_and_their_prefixes_want_more() {
    let mut rng = Rng::new(0x5c71_9700_0000_0013);
    for _ in 0..3_000 {
        let mut script = String::new();
        gen_list(&mut rng, 3, &mut script);
        let lists = parse(&script).unwrap_or_else(|e| panic!("{script:?}: {e}"));
        check_tree(&lists, &script);
        // Cut after any line: the shell must read on, never call it an error.
        // (Long scripts only every few lines, to keep the test quick.)
        let step = 1 + script.len() / 400;
        for (end, _) in script.match_indices('\n').step_by(step) {
            let prefix = &script[..=end];
            if let Err(err) = parse(prefix) {
                assert!(err.incomplete(), "{prefix:?}: {err}");
            }
        }
    }
}

#[test]
fn fuzz_never_panics() {
    const ALPHABET: &[&str] = &[
        "a", "b", " ", "\t", "\n", "'", "\"", "\\", "$", "{", "}", "?", "|", "||", "&", "&&", ";", ";;", "<", ">",
        ">>", "2", "2>", "#", "é", "\r", "${X}", "$?", "_", "0", "(", ")", "$(", "`", "<<", "<<-", "EOF", ">&", "<&",
        "if ", "then ", "elif ", "else ", "fi ", "while ", "until ", "do ", "done ", "for ", " in ", "case ", "esac ",
        "{ ", " }", "! ", "f()", "$@", "\"$@\"", "$#", "$1", "${10}", "*", "[", "]", "-", "${X:-", "${#", "${1+", ":=",
        "$((", "))", "+",
    ];
    let mut rng = Rng::new(0x5eed_1234_abcd_ef01);
    for _ in 0..150_000 {
        let len = rng.below(20);
        let mut line = String::new();
        for _ in 0..len {
            line.push_str(ALPHABET[rng.below(ALPHABET.len())]);
        }
        if let Ok(lists) = parse(&line) {
            check_tree(&lists, &line);
        }
    }
    // Valid scripts with one token changed, dropped or repeated.
    for _ in 0..3_000 {
        let mut script = String::new();
        gen_list(&mut rng, 3, &mut script);
        let mut chars: Vec<char> = script.chars().collect();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(chars.len() + 1);
            match rng.below(3) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => {
                    for c in ALPHABET[rng.below(ALPHABET.len())].chars().rev() {
                        chars.insert(at, c);
                    }
                }
                _ => chars.truncate(at),
            }
        }
        let mutated: String = chars.into_iter().collect();
        if let Ok(lists) = parse(&mutated) {
            check_tree(&lists, &mutated);
        }
    }
    // Random bytes, lossily made text.
    for _ in 0..20_000 {
        let bytes: Vec<u8> = (0..rng.below(40)).map(|_| rng.next_u64() as u8).collect();
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }
    // Patterns, `read` and `test` on random input.
    const PIECES: &[&str] = &["*", "?", "[", "]", "!", "^", "-", "\\", "a", "b", "é", "(", ")", "=", "-a", "-o", "-f"];
    for _ in 0..20_000 {
        let pick = |rng: &mut Rng| -> String { (0..rng.below(8)).map(|_| PIECES[rng.below(PIECES.len())]).collect() };
        let (pattern, text) = (pick(&mut rng), pick(&mut rng));
        let _ = pattern_matches(&pattern, &text);
        assert!(pattern_matches(&pattern, &pattern) || pattern.contains(['[', '\\', '?', '*']), "{pattern:?}");
        let _ = split_read(&text, rng.below(2) == 0, &pattern, rng.below(4));
        let args: Vec<&str> = (0..rng.below(8)).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        let _ = test_expr(&args);
    }
}
