//! The command language of `sh` (`programs/sh`): turns one line (or a whole
//! script) into the lists, pipelines, commands and redirections the shell
//! runs, and expands a word once the variables are known.
//!
//! Why a crate of its own: the parser is pure logic that must answer every
//! input with a tree or an [`Error`], never a panic, so it lives here,
//! `no_std` + `alloc`, unit-tested and fuzzed on the host
//! (`cargo test -p shell-syntax`). It touches nothing but its input.
//!
//! # The language
//!
//! ```text
//! echo 'single $quoted' "double $HOME" back\ slash    # words and quotes
//! echo $VAR ${VAR} $?                                  # variables, last status
//! cat initfs:etc/init.rc | head -n 3 | wc              # pipelines
//! true; false && echo no || echo yes                   # lists
//! sleep 1 &                                            # background
//! echo hi > tmp:a.txt; echo more >> tmp:a.txt          # redirections
//! wc < tmp:a.txt 2> tmp:err.txt
//! ```
//!
//! - Words split at unquoted blanks (space, tab). `'…'` keeps everything
//!   literally; `"…"` keeps blanks and operators but expands variables, and
//!   a backslash there escapes only `$`, `"`, `\` and a newline. Outside
//!   quotes a backslash makes the next character literal.
//! - `$NAME` (letters, digits, `_`, not starting with a digit), `${NAME}`
//!   and `$?` expand; a `$` not followed by one of those is literal.
//!   An unquoted word that expands to nothing is dropped; `""` is an empty
//!   argument.
//! - `#` at the start of a word begins a comment to the end of the line.
//! - Operators: `|`, `&&`, `||`, `;`, `&`, newline (like `;`), and the
//!   redirections `>`, `>>`, `<`, `2>`, `2>>` followed by a word (`2>` only
//!   when the `2` stands alone before it: `a2>b` is the word `a2` then `>b`).
//! - `&` runs the and-or list before it in the background.
//!
//! Errors: unterminated quotes or `${`, a line ending in a backslash, a bad
//! `${…}` name, an operator with no command on one side, a redirection with
//! no target.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

#[cfg(test)]
mod tests;

/// One piece of a word, before expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// `$NAME` or `${NAME}`.
    Var(String),
    /// `$?`, the last status.
    Status,
}

/// A word: its pieces, and whether any of it was quoted (a quoted word is
/// kept even when it expands to nothing).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    pub parts: Vec<Part>,
    pub quoted: bool,
}

impl Word {
    fn push_char(&mut self, c: char) {
        if let Some(Part::Text(text)) = self.parts.last_mut() {
            text.push(c);
        } else {
            self.parts.push(Part::Text(String::from(c)));
        }
    }

    /// A word made of literal text only.
    pub fn literal(text: &str) -> Word {
        Word { parts: alloc::vec![Part::Text(String::from(text))], quoted: false }
    }

    /// The word with its variables replaced: `var` looks a name up (unset
    /// is empty), `status` is what `$?` stands for.
    pub fn expand(&self, var: &dyn Fn(&str) -> Option<String>, status: i32) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(name) => out.push_str(&var(name).unwrap_or_default()),
                Part::Status => {
                    use core::fmt::Write;
                    let _ = write!(out, "{status}");
                }
            }
        }
        out
    }

    /// Whether the word is dropped when it expands to `value` (unquoted and
    /// empty).
    pub fn vanishes(&self, value: &str) -> bool {
        !self.quoted && value.is_empty()
    }
}

/// Which stream a redirection replaces, and how it opens the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `<`: standard input from the file.
    Input,
    /// `>`: standard output to the file, created or truncated.
    Output,
    /// `>>`: standard output appended to the file.
    Append,
    /// `2>`: standard error to the file, created or truncated.
    Error,
    /// `2>>`: standard error appended to the file.
    ErrorAppend,
}

impl RedirectKind {
    /// The descriptor the redirection replaces.
    pub fn fd(self) -> usize {
        match self {
            RedirectKind::Input => 0,
            RedirectKind::Output | RedirectKind::Append => 1,
            RedirectKind::Error | RedirectKind::ErrorAppend => 2,
        }
    }
}

/// A redirection and its target word (a path or URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: Word,
}

/// A simple command: words (program and arguments) and redirections, in
/// the order they were written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
}

/// Commands joined by `|`: each one's standard output is the next one's
/// standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
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

/// Why a line did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A `'` with no closing `'`.
    UnterminatedSingleQuote,
    /// A `"` with no closing `"`.
    UnterminatedDoubleQuote,
    /// A `${` with no closing `}`.
    UnterminatedBrace,
    /// `${…}` holding something that is not a variable name.
    BadSubstitution(String),
    /// The input ends in a backslash with nothing to escape.
    TrailingBackslash,
    /// An operator where a command should be (`| a`, `a &&`, `;;`).
    MissingCommand(&'static str),
    /// A redirection operator with no word after it.
    MissingTarget(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnterminatedSingleQuote => f.write_str("unterminated single quote"),
            Error::UnterminatedDoubleQuote => f.write_str("unterminated double quote"),
            Error::UnterminatedBrace => f.write_str("unterminated ${"),
            Error::BadSubstitution(text) => write!(f, "bad substitution: ${{{text}}}"),
            Error::TrailingBackslash => f.write_str("backslash at the end of the input"),
            Error::MissingCommand(op) => write!(f, "syntax error near `{op}`: missing command"),
            Error::MissingTarget(op) => write!(f, "syntax error: `{op}` needs a file name"),
        }
    }
}

/// What the lexer produces.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(Word),
    Pipe,
    AndIf,
    OrIf,
    /// `;` or a newline.
    Semi,
    Amp,
    Redirect(RedirectKind),
}

impl Token {
    fn text(&self) -> &'static str {
        match self {
            Token::Word(_) => "word",
            Token::Pipe => "|",
            Token::AndIf => "&&",
            Token::OrIf => "||",
            Token::Semi => ";",
            Token::Amp => "&",
            Token::Redirect(kind) => redirect_text(*kind),
        }
    }
}

fn redirect_text(kind: RedirectKind) -> &'static str {
    match kind {
        RedirectKind::Input => "<",
        RedirectKind::Output => ">",
        RedirectKind::Append => ">>",
        RedirectKind::Error => "2>",
        RedirectKind::ErrorAppend => "2>>",
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

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r'
}

fn ends_word(c: char) -> bool {
    is_blank(c) || matches!(c, '\n' | '|' | '&' | ';' | '<' | '>')
}

struct Lexer<'a> {
    chars: core::iter::Peekable<core::str::Chars<'a>>,
}

impl Lexer<'_> {
    fn tokens(mut self) -> Result<Vec<Token>, Error> {
        let mut tokens = Vec::new();
        loop {
            while self.chars.next_if(|&c| is_blank(c)).is_some() {}
            let Some(&c) = self.chars.peek() else { return Ok(tokens) };
            let token = match c {
                '#' => {
                    while self.chars.next_if(|&c| c != '\n').is_some() {}
                    continue;
                }
                '\n' | ';' => {
                    self.chars.next();
                    Token::Semi
                }
                '|' => {
                    self.chars.next();
                    if self.chars.next_if_eq(&'|').is_some() { Token::OrIf } else { Token::Pipe }
                }
                '&' => {
                    self.chars.next();
                    if self.chars.next_if_eq(&'&').is_some() { Token::AndIf } else { Token::Amp }
                }
                '<' => {
                    self.chars.next();
                    Token::Redirect(RedirectKind::Input)
                }
                '>' => {
                    self.chars.next();
                    if self.chars.next_if_eq(&'>').is_some() {
                        Token::Redirect(RedirectKind::Append)
                    } else {
                        Token::Redirect(RedirectKind::Output)
                    }
                }
                _ => self.word()?,
            };
            tokens.push(token);
        }
    }

    /// A word, or `2>`/`2>>` when the word would be a lone `2` before `>`.
    fn word(&mut self) -> Result<Token, Error> {
        let mut word = Word::default();
        let mut first = true;
        while let Some(&c) = self.chars.peek() {
            if ends_word(c) {
                break;
            }
            self.chars.next();
            match c {
                '2' if first && self.chars.peek() == Some(&'>') => {
                    self.chars.next();
                    return Ok(Token::Redirect(if self.chars.next_if_eq(&'>').is_some() {
                        RedirectKind::ErrorAppend
                    } else {
                        RedirectKind::Error
                    }));
                }
                '\\' => match self.chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push_char(c),
                    None => return Err(Error::TrailingBackslash),
                },
                '\'' => {
                    word.quoted = true;
                    loop {
                        match self.chars.next() {
                            Some('\'') => break,
                            Some(c) => word.push_char(c),
                            None => return Err(Error::UnterminatedSingleQuote),
                        }
                    }
                }
                '"' => {
                    word.quoted = true;
                    loop {
                        match self.chars.next() {
                            Some('"') => break,
                            Some('\\') => match self.chars.next() {
                                Some(c @ ('$' | '"' | '\\')) => word.push_char(c),
                                Some('\n') => {}
                                Some(c) => {
                                    word.push_char('\\');
                                    word.push_char(c);
                                }
                                None => return Err(Error::UnterminatedDoubleQuote),
                            },
                            Some('$') => self.dollar(&mut word)?,
                            Some(c) => word.push_char(c),
                            None => return Err(Error::UnterminatedDoubleQuote),
                        }
                    }
                }
                '$' => self.dollar(&mut word)?,
                c => word.push_char(c),
            }
            first = false;
        }
        Ok(Token::Word(word))
    }

    /// After a `$`: a variable, `$?`, or a literal `$`.
    fn dollar(&mut self, word: &mut Word) -> Result<(), Error> {
        if self.chars.next_if_eq(&'?').is_some() {
            word.parts.push(Part::Status);
        } else if self.chars.next_if_eq(&'{').is_some() {
            let mut name = String::new();
            loop {
                match self.chars.next() {
                    Some('}') => break,
                    Some(c) => name.push(c),
                    None => return Err(Error::UnterminatedBrace),
                }
            }
            if name == "?" {
                word.parts.push(Part::Status);
            } else if is_name(&name) {
                word.parts.push(Part::Var(name));
            } else {
                return Err(Error::BadSubstitution(name));
            }
        } else if self.chars.peek().is_some_and(|&c| is_name_start(c)) {
            let mut name = String::new();
            while let Some(c) = self.chars.next_if(|&c| is_name_char(c)) {
                name.push(c);
            }
            word.parts.push(Part::Var(name));
        } else {
            word.push_char('$');
        }
        Ok(())
    }
}

/// Parses `input` (one line or a whole script) into and-or lists, in
/// order. Blank input and comments give an empty list.
pub fn parse(input: &str) -> Result<Vec<AndOr>, Error> {
    let tokens = Lexer { chars: input.chars().peekable() }.tokens()?;
    Parser { tokens: tokens.into_iter().peekable() }.script()
}

struct Parser {
    tokens: core::iter::Peekable<alloc::vec::IntoIter<Token>>,
}

impl Parser {
    fn script(&mut self) -> Result<Vec<AndOr>, Error> {
        let mut lists = Vec::new();
        loop {
            while self.tokens.next_if_eq(&Token::Semi).is_some() {}
            let Some(next) = self.tokens.peek() else { return Ok(lists) };
            if matches!(next, Token::Pipe | Token::AndIf | Token::OrIf | Token::Amp) {
                return Err(Error::MissingCommand(next.text()));
            }
            let mut list = AndOr { first: self.pipeline()?, rest: Vec::new(), background: false };
            loop {
                let connector = match self.tokens.peek() {
                    Some(Token::AndIf) => Connector::And,
                    Some(Token::OrIf) => Connector::Or,
                    _ => break,
                };
                let op = self.tokens.next().map_or("", |t| t.text());
                // A newline may follow `&&`/`||` before the next command.
                while self.tokens.next_if_eq(&Token::Semi).is_some() {}
                if !matches!(self.tokens.peek(), Some(Token::Word(_) | Token::Redirect(_))) {
                    return Err(Error::MissingCommand(op));
                }
                list.rest.push((connector, self.pipeline()?));
            }
            match self.tokens.next() {
                None | Some(Token::Semi) => {}
                Some(Token::Amp) => list.background = true,
                Some(other) => return Err(Error::MissingCommand(other.text())),
            }
            lists.push(list);
        }
    }

    fn pipeline(&mut self) -> Result<Pipeline, Error> {
        let mut commands = alloc::vec![self.command()?];
        while self.tokens.next_if_eq(&Token::Pipe).is_some() {
            if !matches!(self.tokens.peek(), Some(Token::Word(_) | Token::Redirect(_))) {
                return Err(Error::MissingCommand("|"));
            }
            commands.push(self.command()?);
        }
        Ok(Pipeline { commands })
    }

    fn command(&mut self) -> Result<Command, Error> {
        let mut command = Command::default();
        loop {
            match self.tokens.peek() {
                Some(Token::Word(_)) => {
                    if let Some(Token::Word(word)) = self.tokens.next() {
                        command.words.push(word);
                    }
                }
                Some(&Token::Redirect(kind)) => {
                    self.tokens.next();
                    match self.tokens.next() {
                        Some(Token::Word(target)) => command.redirects.push(Redirect { kind, target }),
                        _ => return Err(Error::MissingTarget(redirect_text(kind))),
                    }
                }
                Some(other) if command.words.is_empty() && command.redirects.is_empty() => {
                    return Err(Error::MissingCommand(other.text()));
                }
                _ => return Ok(command),
            }
        }
    }
}
