//! The command language of `sh` (`programs/sh`): turns a line or a whole
//! script into the tree of lists, pipelines, compound commands, functions
//! and redirections the shell runs, expands words once the shell says what
//! the parameters hold, matches `case` patterns, splits what `read` reads
//! and evaluates `test` expressions.
//!
//! Why a crate of its own: the parser is pure logic that must answer every
//! input with a tree or an [`Error`], never a panic, so it lives here,
//! `no_std` + `alloc`, unit-tested and fuzzed on the host
//! (`cargo test -p shell-syntax`). It touches nothing but its input: what
//! needs the system (a parameter's value, the output of `$(…)`, whether a
//! file exists) it asks the caller through [`Context`] or a closure.
//!
//! # The language
//!
//! ```text
//! echo 'single $quoted' "double $HOME" back\ slash    # words and quotes
//! echo $VAR ${VAR} $? $# $@ "$@" $1 ${10} $0 $$ $!    # parameters
//! echo ${1:-default} ${X-unset} ${X:=set} ${X:+alt} ${#X}
//! echo "now: $(date)" `uname`                          # command substitution
//! i=$((i + 1)); echo $(( (2 + 3) * 4 % 7 < 5 ))         # arithmetic
//! cat initfs:etc/init.rc | head -n 3 | wc              # pipelines
//! true; false && echo no || echo yes; ! false          # lists, negation
//! sleep 1 &                                            # background
//! echo hi > tmp:a.txt; echo more >> tmp:a.txt 2>&1     # redirections
//! cat <<EOF                                            # here-documents
//! if test -f tmp:a.txt; then echo yes; elif false; then :; else echo no; fi
//! while read line; do echo "$line"; done < tmp:a.txt   # also `until`
//! for x in a b c; do echo $x; done; for arg; do :; done
//! case $x in a|b) echo ab;; [0-9]*) echo digit;; *) echo other;; esac
//! greet() { echo "hello $1"; return 3; }; greet you
//! { echo grouped; echo output; } > tmp:g; (cd tmp:; ls)
//! ```
//!
//! - Words split at unquoted blanks (space, tab). `'…'` keeps everything
//!   literally; `"…"` keeps blanks and operators but expands `$` and
//!   `` ` ``, and a backslash there escapes only `$`, `` ` ``, `"`, `\` and
//!   a newline. Outside quotes a backslash makes the next character
//!   literal; a backslash before a newline joins the lines.
//! - `$NAME`, `${NAME}`, `$?` (last status), `$#` (count of positional
//!   parameters), `$@` and `$*` (all of them), `$0`…`$9` and `${10}`,
//!   `$$` (the shell's pid), `$!` (the last background job's pid). A `$`
//!   followed by none of those is literal. `${P-W}` is W when P is unset,
//!   `${P=W}` also sets the variable P to it, `${P+W}` is W when P is set
//!   (nothing otherwise); with a colon (`${P:-W}`…) an empty P counts as
//!   unset. `${#P}` is the length of P's value.
//! - `$(LIST)` and `` `LIST` `` are replaced by what LIST prints, its
//!   trailing newlines removed; they nest and work inside `"…"`.
//! - `$((EXPR))` is the value of an integer expression (see
//!   [`evaluate_arithmetic`]); `$((` always starts one (write `$( (…) )`
//!   for a subshell in a command substitution).
//! - Unquoted expansions are split into fields at the characters of `IFS`
//!   (blanks and newline when unset); `"$@"` gives each positional
//!   parameter as a word of its own. An unquoted word that expands to
//!   nothing is dropped; `""` is an empty argument. There is no pathname
//!   expansion: `*` is only special in `case` patterns.
//! - `#` at the start of a word begins a comment to the end of the line.
//! - Operators: `|`, `&&`, `||`, `;`, `&`, newline (like `;`), `!` before
//!   a pipeline, `(`…`)`, and the redirections `<`, `>`, `>>`, `<&`, `>&`,
//!   `<<`, `<<-`, each optionally after a one-digit descriptor (`2>`,
//!   `2>&1`; the digit only counts when it stands alone before the
//!   operator: `a2>b` is the word `a2` then `>b`).
//! - Reserved words, recognized only where a command starts: `if then elif
//!   else fi while until do done for in case esac { } !`.
//! - `<<WORD` reads the lines after the current one up to a line that is
//!   exactly WORD (`<<-`: tabs at the start of each line are removed
//!   first); `$` and `` ` `` expand in it unless WORD had quotes.
//! - `NAME() COMMAND` defines a function; its body is a compound command.
//!
//! Errors: unterminated quotes, `${`, `$(`, `$((`, `` ` `` or here-document, a
//! line ending in a backslash, a bad `${…}`, an operator or reserved word
//! where it cannot be, a construct the input ends inside, a redirection
//! with no target, a bad name after `for` or before `()`, nesting deeper
//! than [`MAX_DEPTH`]. [`Error::incomplete`] tells which mean that more
//! input could complete the command.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod arith;
mod expand;
mod parse;
mod pattern;
mod test_expr;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use arith::{ArithError, evaluate_arithmetic};
pub use expand::{Context, split_read};
pub use parse::{MAX_DEPTH, parse};
pub use pattern::pattern_matches;
pub use test_expr::{FileTest, TestError, evaluate_test};

#[cfg(test)]
mod tests;

/// A parameter a `$` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// `$NAME`, `${NAME}`: a variable.
    Name(String),
    /// `$0`…`$9`, `${10}`…: the script's name and its arguments.
    Positional(usize),
    /// `$?`: the last status.
    Status,
    /// `$#`: how many positional parameters there are.
    Count,
    /// `$@`: every positional parameter, each a field of its own.
    All,
    /// `$*`: every positional parameter, joined (when quoted) by the first
    /// character of `IFS`.
    AllJoined,
    /// `$$`: the shell's process id.
    Pid,
    /// `$!`: the process id of the last background job.
    LastBackground,
}

/// One piece of a word, before expansion. `quoted` pieces are never split
/// into fields and match themselves literally in a `case` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Text { text: String, quoted: bool },
    /// A parameter's value.
    Param { param: Param, quoted: bool },
    /// `$(…)` or `` `…` ``: what the commands print.
    Command { list: Vec<AndOr>, quoted: bool },
    /// `${P-WORD}` and the like: the parameter's value, or WORD instead
    /// (`colon`: a set but empty parameter counts as unset).
    Alter { param: Param, op: ParamOp, colon: bool, word: Word, quoted: bool },
    /// `${#P}`: the length of the parameter's value, in characters.
    Length { param: Param, quoted: bool },
    /// `$((EXPR))`: the value of the arithmetic expression (its pieces
    /// are expanded first, as if quoted).
    Arithmetic { expr: Word, quoted: bool },
}

/// What `${P…WORD}` does with WORD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamOp {
    /// `-`: WORD if P is unset, else P.
    Default,
    /// `=`: like `-`, and P (a variable) is set to WORD.
    Assign,
    /// `+`: WORD if P is set, else nothing.
    Alternative,
}

impl Part {
    fn quoted(&self) -> bool {
        match self {
            Part::Text { quoted, .. }
            | Part::Param { quoted, .. }
            | Part::Command { quoted, .. }
            | Part::Alter { quoted, .. }
            | Part::Length { quoted, .. }
            | Part::Arithmetic { quoted, .. } => *quoted,
        }
    }
}

/// A word: its pieces in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    pub parts: Vec<Part>,
}

impl Word {
    /// Appends literal text, joining it to the last piece when that is
    /// literal text quoted the same way. An empty quoted text is kept (it
    /// makes `""` an argument).
    fn push_text(&mut self, text: &str, quoted: bool) {
        if let Some(Part::Text { text: last, quoted: q }) = self.parts.last_mut()
            && *q == quoted
        {
            last.push_str(text);
            return;
        }
        if quoted || !text.is_empty() {
            self.parts.push(Part::Text { text: String::from(text), quoted });
        }
    }

    fn push_char(&mut self, c: char, quoted: bool) {
        let mut buf = [0u8; 4];
        self.push_text(c.encode_utf8(&mut buf), quoted);
    }

    /// A word made of literal text only.
    pub fn literal(text: &str) -> Word {
        Word { parts: alloc::vec![Part::Text { text: String::from(text), quoted: false }] }
    }

    /// Whether any piece was quoted (a quoted word is kept even when it
    /// expands to nothing).
    pub fn is_quoted(&self) -> bool {
        self.parts.iter().any(Part::quoted)
    }

    /// The text of a word that is one unquoted literal (a reserved word, a
    /// name), else `None`.
    pub fn plain(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Text { text, quoted: false }] => Some(text),
            _ => None,
        }
    }

    /// The word roughly as written, for messages.
    pub fn source(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text { text, .. } => out.push_str(text),
                Part::Param { param, .. } | Part::Alter { param, .. } | Part::Length { param, .. } => {
                    out.push('$');
                    match param {
                        Param::Name(name) => out.push_str(name),
                        Param::Positional(n) => out.push_str(&alloc::format!("{{{n}}}")),
                        Param::Status => out.push('?'),
                        Param::Count => out.push('#'),
                        Param::All => out.push('@'),
                        Param::AllJoined => out.push('*'),
                        Param::Pid => out.push('$'),
                        Param::LastBackground => out.push('!'),
                    }
                }
                Part::Command { .. } => out.push_str("$(…)"),
                Part::Arithmetic { .. } => out.push_str("$((…))"),
            }
        }
        out
    }
}

/// What a redirection does with its descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectOp {
    /// `<`: reads the file.
    Input,
    /// `>`: writes the file, created or truncated.
    Output,
    /// `>>`: appends to the file, created if needed.
    Append,
    /// `<&N`: a copy of descriptor N (for reading).
    DupInput,
    /// `>&N`: a copy of descriptor N (for writing): `2>&1`, `>&2`.
    DupOutput,
    /// `<<WORD`, `<<-WORD` (`strip_tabs`): the here-document's text; the
    /// redirection's target is that text.
    HereDoc { strip_tabs: bool },
}

impl RedirectOp {
    /// The descriptor it replaces when none is written before it.
    pub fn default_fd(self) -> usize {
        match self {
            RedirectOp::Input | RedirectOp::DupInput | RedirectOp::HereDoc { .. } => 0,
            RedirectOp::Output | RedirectOp::Append | RedirectOp::DupOutput => 1,
        }
    }

    /// The operator as written.
    pub fn text(self) -> &'static str {
        match self {
            RedirectOp::Input => "<",
            RedirectOp::Output => ">",
            RedirectOp::Append => ">>",
            RedirectOp::DupInput => "<&",
            RedirectOp::DupOutput => ">&",
            RedirectOp::HereDoc { strip_tabs: false } => "<<",
            RedirectOp::HereDoc { strip_tabs: true } => "<<-",
        }
    }
}

/// A redirection: the descriptor it replaces, how, and its target word
/// (a path or URL, a descriptor number, or a here-document's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub fd: usize,
    pub op: RedirectOp,
    pub target: Word,
    /// While parsing: which here-document body goes here.
    here: Option<usize>,
}

/// A simple command: words (assignments, program and arguments) and
/// redirections, in the order they were written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Simple {
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
}

/// A command that holds other commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compound {
    /// `{ LIST; }`: runs in the shell.
    Brace(Vec<AndOr>),
    /// `( LIST )`: runs in a copy of the shell.
    Subshell(Vec<AndOr>),
    /// `if C; then B; elif C; then B; else B; fi`: `(condition, body)`
    /// pairs in order, and the `else` body.
    If { branches: Vec<(Vec<AndOr>, Vec<AndOr>)>, otherwise: Option<Vec<AndOr>> },
    /// `while C; do B; done`, or `until` when `until`.
    Loop { until: bool, condition: Vec<AndOr>, body: Vec<AndOr> },
    /// `for NAME in WORDS; do B; done`; `words` is `None` without `in`
    /// (the loop goes over `"$@"`).
    For { name: String, words: Option<Vec<Word>>, body: Vec<AndOr> },
    /// `case WORD in P|P) B;; … esac`.
    Case { word: Word, arms: Vec<CaseArm> },
}

/// One `PATTERN|PATTERN) LIST ;;` of a `case`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseArm {
    pub patterns: Vec<Word>,
    pub body: Vec<AndOr>,
}

/// A command of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Simple(Simple),
    /// A compound command and the redirections after it.
    Compound(Compound, Vec<Redirect>),
    /// `NAME() BODY`: defines a function; `body` is a `Compound`.
    Function {
        name: String,
        body: Box<Command>,
    },
}

/// Commands joined by `|`: each one's standard output is the next one's
/// standard input. `negated` (`! a | b`) inverts the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub negated: bool,
    pub commands: Vec<Command>,
}

/// How a pipeline joins the one before it in an and-or list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    /// `&&`: runs only if the previous status was 0.
    And,
    /// `||`: runs only if the previous status was not 0.
    Or,
}

/// Pipelines joined by `&&` and `||`, run left to right; `background`
/// when it ended with `&`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
    pub background: bool,
}

/// Why the input did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A `'` with no closing `'`.
    UnterminatedSingleQuote,
    /// A `"` with no closing `"`.
    UnterminatedDoubleQuote,
    /// A `${` with no closing `}`.
    UnterminatedBrace,
    /// A `$(` with no closing `)`, or a `` ` `` with no closing one.
    UnterminatedSubstitution,
    /// The input ended before the line closing a here-document (its
    /// delimiter is given).
    UnterminatedHereDoc(String),
    /// `${…}` holding something that is not a parameter.
    BadSubstitution(String),
    /// The input ends in a backslash with nothing to escape.
    TrailingBackslash,
    /// An operator or reserved word where it cannot be (`| a`, `fi`, `;;`).
    Unexpected(String),
    /// The input ended inside a construct; what was expected next.
    EndOfInput(&'static str),
    /// A redirection operator with no word after it.
    MissingTarget(&'static str),
    /// Not a valid name after `for` (`for`) or before `()` (`function`).
    BadName(&'static str, String),
    /// A quote, substitution or construct left open inside text that is
    /// complete (a here-document, `` `…` ``).
    IncompleteInside(&'static str),
    /// Constructs and substitutions nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl Error {
    /// Whether more input (the next line) could complete what was read:
    /// the input ended inside quotes, a substitution, a here-document or a
    /// compound command, after a backslash, or after `|`, `&&` or `||`.
    pub fn incomplete(&self) -> bool {
        matches!(
            self,
            Error::UnterminatedSingleQuote
                | Error::UnterminatedDoubleQuote
                | Error::UnterminatedBrace
                | Error::UnterminatedSubstitution
                | Error::UnterminatedHereDoc(_)
                | Error::TrailingBackslash
                | Error::EndOfInput(_)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnterminatedSingleQuote => f.write_str("unterminated single quote"),
            Error::UnterminatedDoubleQuote => f.write_str("unterminated double quote"),
            Error::UnterminatedBrace => f.write_str("unterminated ${"),
            Error::UnterminatedSubstitution => f.write_str("unterminated command substitution"),
            Error::UnterminatedHereDoc(word) => write!(f, "here-document not ended by `{word}`"),
            Error::BadSubstitution(text) => write!(f, "bad substitution: ${{{text}}}"),
            Error::TrailingBackslash => f.write_str("backslash at the end of the input"),
            Error::Unexpected(token) => write!(f, "syntax error near unexpected `{token}`"),
            Error::EndOfInput(expected) => write!(f, "syntax error: unexpected end of input (expecting {expected})"),
            Error::MissingTarget(op) => write!(f, "syntax error: `{op}` needs a file name"),
            Error::BadName(what, name) => write!(f, "syntax error: `{name}` is not a valid {what} name"),
            Error::IncompleteInside(what) => write!(f, "syntax error: unterminated construct inside {what}"),
            Error::TooDeep => write!(f, "syntax error: nested deeper than {MAX_DEPTH} levels"),
        }
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `name` is a valid variable name (for `export`/`unset` too).
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}
