//! The lexer and the recursive-descent parser. They are one struct: the
//! parser asks for tokens one at a time, because what a token is depends on
//! where it stands (`$(` parses a whole list up to its `)`, a newline reads
//! the here-documents announced on its line, a reserved word is one only
//! where a command starts).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::{
    AndOr, CaseArm, Command, Compound, Connector, Error, Param, ParamOp, Part, Pipeline, Redirect, RedirectOp, Simple,
    Word, is_name, is_name_char, is_name_start,
};

/// How deep compound commands and substitutions may nest (each level is
/// a few stack frames here and in the shell).
pub const MAX_DEPTH: usize = 40;

/// Words that are reserved where a command starts.
const RESERVED: &[&str] =
    &["if", "then", "elif", "else", "fi", "while", "until", "do", "done", "for", "in", "case", "esac", "{", "}", "!"];

/// Reserved words that end a list (the caller decides whether it is the
/// one it wants).
const CLOSERS: &[&str] = &["then", "elif", "else", "fi", "do", "done", "esac", "}"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(Word),
    Newline,
    Semi,
    DSemi,
    Amp,
    AndIf,
    OrIf,
    Pipe,
    LParen,
    RParen,
    /// A redirection operator and the descriptor written before it.
    Redirect(Option<usize>, RedirectOp),
    End,
}

impl Token {
    fn text(&self) -> String {
        String::from(match self {
            Token::Word(word) => return word.source(),
            Token::Newline => "newline",
            Token::Semi => ";",
            Token::DSemi => ";;",
            Token::Amp => "&",
            Token::AndIf => "&&",
            Token::OrIf => "||",
            Token::Pipe => "|",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::Redirect(_, op) => op.text(),
            Token::End => "end of input",
        })
    }

    /// The reserved word this token is, if it is one.
    fn keyword(&self) -> Option<&'static str> {
        let Token::Word(word) = self else { return None };
        let text = word.plain()?;
        RESERVED.iter().copied().find(|&k| k == text)
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r'
}

fn ends_word(c: char) -> bool {
    is_blank(c) || matches!(c, '\n' | '|' | '&' | ';' | '<' | '>' | '(' | ')')
}

/// A here-document whose body comes after the next newline.
struct Pending {
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
    id: usize,
}

/// Parses `input` (one line or a whole script) into and-or lists, in
/// order. Blank input and comments give an empty list.
pub fn parse(input: &str) -> Result<Vec<AndOr>, Error> {
    parse_nested(input, 0)
}

fn parse_nested(input: &str, depth: usize) -> Result<Vec<AndOr>, Error> {
    let mut parser = Parser::new(input, depth);
    let mut lists = parser.list()?;
    match parser.next()? {
        Token::End => {}
        token => return Err(Error::Unexpected(token.text())),
    }
    let mut bodies: Vec<Option<Word>> = parser.bodies.into_iter().map(Some).collect();
    fill_lists(&mut lists, &mut bodies);
    Ok(lists)
}

struct Parser<'a> {
    src: &'a str,
    /// Byte offset of the next character.
    pos: usize,
    peeked: Option<Token>,
    /// Here-documents announced on the current line.
    pending: Vec<Pending>,
    /// Here-document bodies read so far, by id.
    bodies: Vec<Word>,
    /// Ids handed out (bodies may be read later than they are announced).
    next_id: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, depth: usize) -> Parser<'a> {
        Parser { src, pos: 0, peeked: None, pending: Vec::new(), bodies: Vec::new(), next_id: 0, depth }
    }

    // ---- characters ----

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.src[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek_char() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(Error::TooDeep) } else { Ok(()) }
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- tokens ----

    fn peek(&mut self) -> Result<&Token, Error> {
        if self.peeked.is_none() {
            let token = self.lex()?;
            self.peeked = Some(token);
        }
        Ok(self.peeked.get_or_insert(Token::End))
    }

    fn next(&mut self) -> Result<Token, Error> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lex(),
        }
    }

    fn peek_keyword(&mut self) -> Result<Option<&'static str>, Error> {
        Ok(self.peek()?.keyword())
    }

    fn skip_newlines(&mut self) -> Result<(), Error> {
        while *self.peek()? == Token::Newline {
            self.next()?;
        }
        Ok(())
    }

    fn lex(&mut self) -> Result<Token, Error> {
        loop {
            match self.peek_char() {
                Some(c) if is_blank(c) => {
                    self.bump();
                }
                Some('\\') if self.peek_second() == Some('\n') => {
                    self.pos += 2;
                }
                Some('#') => {
                    while self.peek_char().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                _ => break,
            }
        }
        let Some(c) = self.peek_char() else {
            return match self.pending.first() {
                Some(doc) => Err(Error::UnterminatedHereDoc(doc.delimiter.clone())),
                None => Ok(Token::End),
            };
        };
        let token = match c {
            '\n' => {
                self.bump();
                self.read_here_docs()?;
                Token::Newline
            }
            ';' => {
                self.bump();
                if self.eat(';') { Token::DSemi } else { Token::Semi }
            }
            '&' => {
                self.bump();
                if self.eat('&') { Token::AndIf } else { Token::Amp }
            }
            '|' => {
                self.bump();
                if self.eat('|') { Token::OrIf } else { Token::Pipe }
            }
            '(' => {
                self.bump();
                Token::LParen
            }
            ')' => {
                self.bump();
                Token::RParen
            }
            '<' | '>' => Token::Redirect(None, self.redirect_op()),
            d @ '0'..='9' if matches!(self.peek_second(), Some('<' | '>')) => {
                self.bump();
                Token::Redirect(Some(d as usize - '0' as usize), self.redirect_op())
            }
            _ => Token::Word(self.word()?),
        };
        Ok(token)
    }

    /// At `<` or `>`: the operator.
    fn redirect_op(&mut self) -> RedirectOp {
        if self.eat('<') {
            if self.eat('<') {
                RedirectOp::HereDoc { strip_tabs: self.eat('-') }
            } else if self.eat('&') {
                RedirectOp::DupInput
            } else {
                RedirectOp::Input
            }
        } else {
            self.bump();
            if self.eat('>') {
                RedirectOp::Append
            } else if self.eat('&') {
                RedirectOp::DupOutput
            } else {
                // `>|` is `>` (there is no noclobber to override).
                self.eat('|');
                RedirectOp::Output
            }
        }
    }

    fn word(&mut self) -> Result<Word, Error> {
        let mut word = Word::default();
        while let Some(c) = self.peek_char() {
            if ends_word(c) {
                break;
            }
            self.bump();
            match c {
                '\\' => match self.bump() {
                    Some('\n') => {}
                    Some(c) => word.push_char(c, true),
                    None => return Err(Error::TrailingBackslash),
                },
                '\'' => self.single_quoted(&mut word)?,
                '"' => self.double_quoted(&mut word)?,
                '$' => self.dollar(&mut word, false)?,
                '`' => self.backquote(&mut word, false)?,
                c => word.push_char(c, false),
            }
        }
        Ok(word)
    }

    /// After a `'`: everything up to the next `'`, literally.
    fn single_quoted(&mut self, word: &mut Word) -> Result<(), Error> {
        let start = self.pos;
        loop {
            match self.bump() {
                Some('\'') => break,
                Some(_) => {}
                None => return Err(Error::UnterminatedSingleQuote),
            }
        }
        let text = &self.src[start..self.pos - 1];
        word.push_text(text, true);
        Ok(())
    }

    /// After a `"`: the double-quoted text up to the closing `"`.
    fn double_quoted(&mut self, word: &mut Word) -> Result<(), Error> {
        word.push_text("", true);
        loop {
            match self.bump() {
                Some('"') => return Ok(()),
                Some('\\') => match self.bump() {
                    Some(c @ ('$' | '`' | '"' | '\\')) => word.push_char(c, true),
                    Some('\n') => {}
                    Some(c) => {
                        word.push_char('\\', true);
                        word.push_char(c, true);
                    }
                    None => return Err(Error::UnterminatedDoubleQuote),
                },
                Some('$') => self.dollar(word, true)?,
                Some('`') => self.backquote(word, true)?,
                Some(c) => word.push_char(c, true),
                None => return Err(Error::UnterminatedDoubleQuote),
            }
        }
    }

    /// A `${…}` that is not a parameter: its text up to `}` for the
    /// message (or the input ends inside it).
    fn bad_brace(&mut self, start: usize) -> Error {
        match self.src[start..].find('}') {
            Some(end) => {
                self.pos = start + end + 1;
                Error::BadSubstitution(String::from(&self.src[start..start + end]))
            }
            None => {
                self.pos = self.src.len();
                Error::UnterminatedBrace
            }
        }
    }

    /// The parameter named at the start of `${…}`, if one is.
    fn brace_param(&mut self) -> Option<Param> {
        let c = self.peek_char()?;
        if c.is_ascii_digit() {
            let start = self.pos;
            while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
            return self.src[start..self.pos].parse().ok().map(Param::Positional);
        }
        if is_name_start(c) {
            let start = self.pos;
            while self.peek_char().is_some_and(is_name_char) {
                self.bump();
            }
            return Some(Param::Name(String::from(&self.src[start..self.pos])));
        }
        let param = special(c.encode_utf8(&mut [0u8; 4]))?;
        self.bump();
        Some(param)
    }

    /// After `${`: `${P}`, `${#P}` (length), `${P-W}`, `${P:-W}`,
    /// `${P=W}`, `${P:=W}`, `${P+W}`, `${P:+W}`.
    fn braced(&mut self, word: &mut Word, quoted: bool) -> Result<(), Error> {
        let start = self.pos;
        if self.peek_char() == Some('#') && self.peek_second() != Some('}') {
            self.bump();
            let Some(param) = self.brace_param() else { return Err(self.bad_brace(start)) };
            if !self.eat('}') {
                return Err(self.bad_brace(start));
            }
            word.parts.push(Part::Length { param, quoted });
            return Ok(());
        }
        let Some(param) = self.brace_param() else { return Err(self.bad_brace(start)) };
        if self.eat('}') {
            word.parts.push(Part::Param { param, quoted });
            return Ok(());
        }
        let colon = self.eat(':');
        let op = match self.peek_char() {
            Some('-') => ParamOp::Default,
            Some('=') if matches!(param, Param::Name(_)) => ParamOp::Assign,
            Some('+') => ParamOp::Alternative,
            None => return Err(Error::UnterminatedBrace),
            Some(_) => return Err(self.bad_brace(start)),
        };
        self.bump();
        let operand = self.brace_operand(quoted)?;
        word.parts.push(Part::Alter { param, op, colon, word: operand, quoted });
        Ok(())
    }

    /// The word of `${P-WORD}` up to its `}`; its pieces are quoted when
    /// the `${…}` is.
    fn brace_operand(&mut self, quoted: bool) -> Result<Word, Error> {
        let mut word = Word::default();
        loop {
            let Some(c) = self.bump() else { return Err(Error::UnterminatedBrace) };
            match c {
                '}' => return Ok(word),
                '\\' => match self.bump() {
                    Some('\n') => {}
                    Some(c) if !quoted || matches!(c, '$' | '`' | '"' | '\\' | '}') => word.push_char(c, true),
                    Some(c) => {
                        word.push_char('\\', true);
                        word.push_char(c, true);
                    }
                    None => return Err(Error::UnterminatedBrace),
                },
                '\'' if !quoted => self.single_quoted(&mut word)?,
                '"' => self.double_quoted(&mut word)?,
                '$' => self.dollar(&mut word, quoted)?,
                '`' => self.backquote(&mut word, quoted)?,
                c => word.push_char(c, quoted),
            }
        }
    }

    /// After a `$`: a parameter, a command substitution, or a literal `$`.
    fn dollar(&mut self, word: &mut Word, quoted: bool) -> Result<(), Error> {
        let param = match self.peek_char() {
            Some('(') => {
                self.bump();
                if self.eat('(') {
                    let expr = self.arithmetic()?;
                    word.parts.push(Part::Arithmetic { expr, quoted });
                    return Ok(());
                }
                let list = self.substitution()?;
                word.parts.push(Part::Command { list, quoted });
                return Ok(());
            }
            Some('{') => {
                self.bump();
                return self.braced(word, quoted);
            }
            Some(c) if c.is_ascii_digit() => {
                self.bump();
                Param::Positional(c as usize - '0' as usize)
            }
            Some(c) if is_name_start(c) => {
                let start = self.pos;
                while self.peek_char().is_some_and(is_name_char) {
                    self.bump();
                }
                Param::Name(String::from(&self.src[start..self.pos]))
            }
            Some(c) => match special(c.encode_utf8(&mut [0u8; 4])) {
                Some(param) => {
                    self.bump();
                    param
                }
                None => {
                    word.push_char('$', quoted);
                    return Ok(());
                }
            },
            None => {
                word.push_char('$', quoted);
                return Ok(());
            }
        };
        word.parts.push(Part::Param { param, quoted });
        Ok(())
    }

    /// After `$((`: the expression up to the `))` that closes it, its `$`
    /// and `` ` `` expansions parsed (as if quoted).
    fn arithmetic(&mut self) -> Result<Word, Error> {
        self.enter()?;
        let mut expr = Word::default();
        let mut depth = 0usize;
        loop {
            match self.bump() {
                None => return Err(Error::UnterminatedSubstitution),
                Some('(') => {
                    depth += 1;
                    expr.push_char('(', true);
                }
                Some(')') if depth > 0 => {
                    depth -= 1;
                    expr.push_char(')', true);
                }
                Some(')') if self.eat(')') => break,
                Some(')') => return Err(Error::Unexpected(String::from(")"))),
                Some('\\') => match self.bump() {
                    Some(c) => expr.push_char(c, true),
                    None => return Err(Error::UnterminatedSubstitution),
                },
                Some('$') => self.dollar(&mut expr, true)?,
                Some('`') => self.backquote(&mut expr, true)?,
                Some(c) => expr.push_char(c, true),
            }
        }
        self.leave();
        Ok(expr)
    }

    /// After `$(`: the list up to the matching `)`.
    fn substitution(&mut self) -> Result<Vec<AndOr>, Error> {
        self.enter()?;
        let list = self.list()?;
        match self.next()? {
            Token::RParen => {}
            Token::End => return Err(Error::UnterminatedSubstitution),
            token => return Err(Error::Unexpected(token.text())),
        }
        self.leave();
        Ok(list)
    }

    /// After a `` ` ``: the text up to the next unescaped one, unescaped
    /// and parsed on its own.
    fn backquote(&mut self, word: &mut Word, quoted: bool) -> Result<(), Error> {
        let mut text = String::new();
        loop {
            match self.bump() {
                Some('`') => break,
                Some('\\') => match self.bump() {
                    Some(c @ ('$' | '`' | '\\')) => text.push(c),
                    Some('"') if quoted => text.push('"'),
                    Some(c) => {
                        text.push('\\');
                        text.push(c);
                    }
                    None => return Err(Error::UnterminatedSubstitution),
                },
                Some(c) => text.push(c),
                None => return Err(Error::UnterminatedSubstitution),
            }
        }
        if self.depth + 1 > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        // The inner text ended, not the input: more input cannot help.
        let list = parse_nested(&text, self.depth + 1).map_err(|err| inside(err, "`…`"))?;
        word.parts.push(Part::Command { list, quoted });
        Ok(())
    }

    /// After a newline: the bodies of the here-documents announced on the
    /// line, in order.
    fn read_here_docs(&mut self) -> Result<(), Error> {
        for doc in core::mem::take(&mut self.pending) {
            let mut body = String::new();
            loop {
                if self.pos >= self.src.len() {
                    return Err(Error::UnterminatedHereDoc(doc.delimiter));
                }
                let rest = &self.src[self.pos..];
                let (line, len) = match rest.find('\n') {
                    Some(end) => (&rest[..end], end + 1),
                    None => (rest, rest.len()),
                };
                self.pos += len;
                let line = if doc.strip_tabs { line.trim_start_matches('\t') } else { line };
                let line_text = line.strip_suffix('\r').unwrap_or(line);
                if line_text == doc.delimiter {
                    break;
                }
                body.push_str(line);
                body.push('\n');
            }
            let word = if doc.quoted {
                Word { parts: alloc::vec![Part::Text { text: body, quoted: true }] }
            } else {
                here_doc_word(&body, self.depth)?
            };
            if self.bodies.len() <= doc.id {
                self.bodies.resize(doc.id + 1, Word::default());
            }
            self.bodies[doc.id] = word;
        }
        Ok(())
    }

    // ---- grammar ----

    /// And-or lists separated by `;`, `&` and newlines, up to the end of
    /// the input or a token that cannot start a command (`)`, `;;`, a
    /// closing reserved word), which is left for the caller.
    fn list(&mut self) -> Result<Vec<AndOr>, Error> {
        let mut lists = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.at_list_end()? {
                return Ok(lists);
            }
            let mut list = self.and_or()?;
            match self.peek()? {
                Token::Semi => {
                    self.next()?;
                }
                Token::Amp => {
                    self.next()?;
                    list.background = true;
                }
                Token::Newline => {}
                _ => {
                    lists.push(list);
                    if self.at_list_end()? {
                        return Ok(lists);
                    }
                    return Err(Error::Unexpected(self.peek()?.text()));
                }
            }
            lists.push(list);
        }
    }

    fn at_list_end(&mut self) -> Result<bool, Error> {
        if let Some(keyword) = self.peek_keyword()? {
            return Ok(CLOSERS.contains(&keyword));
        }
        Ok(matches!(self.peek()?, Token::End | Token::RParen | Token::DSemi))
    }

    /// A list that must hold a command (the body of a construct).
    fn nonempty_list(&mut self, expecting: &'static str) -> Result<Vec<AndOr>, Error> {
        let list = self.list()?;
        if list.is_empty() {
            return Err(match self.peek()? {
                Token::End => Error::EndOfInput(expecting),
                token => Error::Unexpected(token.text()),
            });
        }
        Ok(list)
    }

    fn expect_keyword(&mut self, keyword: &'static str, expecting: &'static str) -> Result<(), Error> {
        if self.peek_keyword()? == Some(keyword) {
            self.next()?;
            return Ok(());
        }
        Err(match self.peek()? {
            Token::End => Error::EndOfInput(expecting),
            token => Error::Unexpected(token.text()),
        })
    }

    fn and_or(&mut self) -> Result<AndOr, Error> {
        let mut list = AndOr { first: self.pipeline()?, rest: Vec::new(), background: false };
        loop {
            let (connector, expecting) = match self.peek()? {
                Token::AndIf => (Connector::And, "a command after `&&`"),
                Token::OrIf => (Connector::Or, "a command after `||`"),
                _ => return Ok(list),
            };
            self.next()?;
            self.skip_newlines()?;
            if *self.peek()? == Token::End {
                return Err(Error::EndOfInput(expecting));
            }
            list.rest.push((connector, self.pipeline()?));
        }
    }

    fn pipeline(&mut self) -> Result<Pipeline, Error> {
        let mut negated = false;
        while self.peek_keyword()? == Some("!") {
            self.next()?;
            negated = !negated;
        }
        let mut commands = alloc::vec![self.command()?];
        while *self.peek()? == Token::Pipe {
            self.next()?;
            self.skip_newlines()?;
            if *self.peek()? == Token::End {
                return Err(Error::EndOfInput("a command after `|`"));
            }
            commands.push(self.command()?);
        }
        Ok(Pipeline { negated, commands })
    }

    fn command(&mut self) -> Result<Command, Error> {
        let compound = match self.peek_keyword()? {
            Some(keyword @ ("if" | "while" | "until" | "for" | "case" | "{")) => {
                self.enter()?;
                self.next()?;
                let compound = match keyword {
                    "if" => self.if_clause()?,
                    "while" | "until" => self.loop_clause(keyword == "until")?,
                    "for" => self.for_clause()?,
                    "case" => self.case_clause()?,
                    _ => {
                        let list = self.nonempty_list("`}`")?;
                        self.expect_keyword("}", "`}`")?;
                        Compound::Brace(list)
                    }
                };
                self.leave();
                compound
            }
            Some(keyword @ ("then" | "elif" | "else" | "fi" | "do" | "done" | "esac" | "}" | "in")) => {
                return Err(Error::Unexpected(String::from(keyword)));
            }
            _ => match self.peek()? {
                Token::LParen => {
                    self.enter()?;
                    self.next()?;
                    let list = self.nonempty_list("`)`")?;
                    match self.next()? {
                        Token::RParen => {}
                        Token::End => return Err(Error::EndOfInput("`)`")),
                        token => return Err(Error::Unexpected(token.text())),
                    }
                    self.leave();
                    Compound::Subshell(list)
                }
                Token::Word(_) | Token::Redirect(..) => return self.simple(),
                Token::End => return Err(Error::EndOfInput("a command")),
                token => return Err(Error::Unexpected(token.text())),
            },
        };
        let mut redirects = Vec::new();
        while let Token::Redirect(..) = self.peek()? {
            redirects.push(self.redirect()?);
        }
        Ok(Command::Compound(compound, redirects))
    }

    fn simple(&mut self) -> Result<Command, Error> {
        let mut command = Simple::default();
        loop {
            match self.peek()? {
                Token::Word(_) => {
                    let Token::Word(word) = self.next()? else { continue };
                    command.words.push(word);
                    if command.words.len() == 1 && command.redirects.is_empty() && *self.peek()? == Token::LParen {
                        let Some(Word { parts }) = command.words.pop() else { continue };
                        return self.function(Word { parts });
                    }
                }
                Token::Redirect(..) => command.redirects.push(self.redirect()?),
                _ => return Ok(Command::Simple(command)),
            }
        }
    }

    /// `NAME ( ) BODY`, after NAME.
    fn function(&mut self, name: Word) -> Result<Command, Error> {
        self.next()?;
        match self.next()? {
            Token::RParen => {}
            Token::End => return Err(Error::EndOfInput("`)`")),
            token => return Err(Error::Unexpected(token.text())),
        }
        let name = match name.plain() {
            Some(text) if is_name(text) && !RESERVED.contains(&text) => String::from(text),
            _ => return Err(Error::BadName("function", name.source())),
        };
        self.skip_newlines()?;
        let body = match self.peek_keyword()? {
            Some("if" | "while" | "until" | "for" | "case" | "{") => self.command()?,
            _ => match self.peek()? {
                Token::LParen => self.command()?,
                Token::End => return Err(Error::EndOfInput("a function body")),
                token => return Err(Error::Unexpected(token.text())),
            },
        };
        Ok(Command::Function { name, body: Box::new(body) })
    }

    fn redirect(&mut self) -> Result<Redirect, Error> {
        let Token::Redirect(fd, op) = self.next()? else { return Err(Error::Unexpected(String::from("?"))) };
        let fd = fd.unwrap_or(op.default_fd());
        let Token::Word(target) = self.next()? else { return Err(Error::MissingTarget(op.text())) };
        let RedirectOp::HereDoc { strip_tabs } = op else { return Ok(Redirect { fd, op, target, here: None }) };
        let mut delimiter = String::new();
        for part in &target.parts {
            match part {
                Part::Text { text, .. } => delimiter.push_str(text),
                _ => return Err(Error::BadName("here-document delimiter", target.source())),
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.pending.push(Pending { delimiter, strip_tabs, quoted: target.is_quoted(), id });
        Ok(Redirect { fd, op, target: Word::default(), here: Some(id) })
    }

    fn if_clause(&mut self) -> Result<Compound, Error> {
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let condition = self.nonempty_list("`then`")?;
            self.expect_keyword("then", "`then`")?;
            let body = self.nonempty_list("`fi`")?;
            branches.push((condition, body));
            match self.peek_keyword()? {
                Some("elif") => {
                    self.next()?;
                }
                Some("else") => {
                    self.next()?;
                    otherwise = Some(self.nonempty_list("`fi`")?);
                    self.expect_keyword("fi", "`fi`")?;
                    break;
                }
                _ => {
                    self.expect_keyword("fi", "`fi`")?;
                    break;
                }
            }
        }
        Ok(Compound::If { branches, otherwise })
    }

    fn loop_clause(&mut self, until: bool) -> Result<Compound, Error> {
        let condition = self.nonempty_list("`do`")?;
        let body = self.do_group()?;
        Ok(Compound::Loop { until, condition, body })
    }

    /// `do LIST done`.
    fn do_group(&mut self) -> Result<Vec<AndOr>, Error> {
        self.expect_keyword("do", "`do`")?;
        let body = self.nonempty_list("`done`")?;
        self.expect_keyword("done", "`done`")?;
        Ok(body)
    }

    fn for_clause(&mut self) -> Result<Compound, Error> {
        let name = match self.next()? {
            Token::Word(word) => match word.plain() {
                Some(text) if is_name(text) => String::from(text),
                _ => return Err(Error::BadName("variable", word.source())),
            },
            Token::End => return Err(Error::EndOfInput("a variable name")),
            token => return Err(Error::Unexpected(token.text())),
        };
        self.skip_newlines()?;
        let mut words = None;
        if self.peek_keyword()? == Some("in") {
            self.next()?;
            let mut list = Vec::new();
            loop {
                match self.next()? {
                    Token::Word(word) => list.push(word),
                    Token::Semi | Token::Newline => break,
                    Token::End => return Err(Error::EndOfInput("`do`")),
                    token => return Err(Error::Unexpected(token.text())),
                }
            }
            words = Some(list);
        } else if *self.peek()? == Token::Semi {
            self.next()?;
        }
        self.skip_newlines()?;
        let body = self.do_group()?;
        Ok(Compound::For { name, words, body })
    }

    fn case_clause(&mut self) -> Result<Compound, Error> {
        let word = match self.next()? {
            Token::Word(word) => word,
            Token::End => return Err(Error::EndOfInput("a word after `case`")),
            token => return Err(Error::Unexpected(token.text())),
        };
        self.skip_newlines()?;
        self.expect_keyword("in", "`in`")?;
        let mut arms = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.peek_keyword()? == Some("esac") {
                self.next()?;
                break;
            }
            if *self.peek()? == Token::LParen {
                self.next()?;
            }
            let mut patterns = Vec::new();
            loop {
                match self.next()? {
                    Token::Word(word) => patterns.push(word),
                    Token::End => return Err(Error::EndOfInput("a pattern")),
                    token => return Err(Error::Unexpected(token.text())),
                }
                match self.next()? {
                    Token::Pipe => {}
                    Token::RParen => break,
                    Token::End => return Err(Error::EndOfInput("`)`")),
                    token => return Err(Error::Unexpected(token.text())),
                }
            }
            let body = self.list()?;
            arms.push(CaseArm { patterns, body });
            match self.peek()? {
                Token::DSemi => {
                    self.next()?;
                }
                Token::End => return Err(Error::EndOfInput("`;;` or `esac`")),
                _ => {
                    self.expect_keyword("esac", "`esac`")?;
                    break;
                }
            }
        }
        Ok(Compound::Case { word, arms })
    }
}

/// The parameter a special character names (`?`, `#`, `@`, `*`, `$`, `!`).
fn special(text: &str) -> Option<Param> {
    Some(match text {
        "?" => Param::Status,
        "#" => Param::Count,
        "@" => Param::All,
        "*" => Param::AllJoined,
        "$" => Param::Pid,
        "!" => Param::LastBackground,
        _ => return None,
    })
}

/// An error from text that is complete (a here-document's body, the
/// inside of `` `…` ``): running out of it is no reason to read more.
fn inside(err: Error, what: &'static str) -> Error {
    if err.incomplete() { Error::IncompleteInside(what) } else { err }
}

/// A here-document's body with `$` and `` ` `` expanding and a backslash
/// escaping `$`, `` ` ``, `\` and a newline (quotes are plain text).
fn here_doc_word(body: &str, depth: usize) -> Result<Word, Error> {
    let mut parser = Parser::new(body, depth);
    let mut word = Word::default();
    word.push_text("", true);
    while let Some(c) = parser.bump() {
        match c {
            '\\' => match parser.bump() {
                Some(c @ ('$' | '`' | '\\')) => word.push_char(c, true),
                Some('\n') => {}
                Some(c) => {
                    word.push_char('\\', true);
                    word.push_char(c, true);
                }
                None => word.push_char('\\', true),
            },
            '$' => parser.dollar(&mut word, true).map_err(|err| inside(err, "a here-document"))?,
            '`' => parser.backquote(&mut word, true).map_err(|err| inside(err, "a here-document"))?,
            c => word.push_char(c, true),
        }
    }
    let mut bodies: Vec<Option<Word>> = parser.bodies.into_iter().map(Some).collect();
    fill_word(&mut word, &mut bodies);
    Ok(word)
}

// ---- here-document bodies into their redirections ----

fn fill_lists(lists: &mut [AndOr], bodies: &mut [Option<Word>]) {
    for list in lists {
        for pipeline in core::iter::once(&mut list.first).chain(list.rest.iter_mut().map(|(_, p)| p)) {
            for command in &mut pipeline.commands {
                fill_command(command, bodies);
            }
        }
    }
}

fn fill_command(command: &mut Command, bodies: &mut [Option<Word>]) {
    match command {
        Command::Simple(simple) => {
            for word in &mut simple.words {
                fill_word(word, bodies);
            }
            fill_redirects(&mut simple.redirects, bodies);
        }
        Command::Compound(compound, redirects) => {
            match compound {
                Compound::Brace(list) | Compound::Subshell(list) => fill_lists(list, bodies),
                Compound::If { branches, otherwise } => {
                    for (condition, body) in branches {
                        fill_lists(condition, bodies);
                        fill_lists(body, bodies);
                    }
                    if let Some(body) = otherwise {
                        fill_lists(body, bodies);
                    }
                }
                Compound::Loop { condition, body, .. } => {
                    fill_lists(condition, bodies);
                    fill_lists(body, bodies);
                }
                Compound::For { words, body, .. } => {
                    for word in words.iter_mut().flatten() {
                        fill_word(word, bodies);
                    }
                    fill_lists(body, bodies);
                }
                Compound::Case { word, arms } => {
                    fill_word(word, bodies);
                    for arm in arms {
                        for pattern in &mut arm.patterns {
                            fill_word(pattern, bodies);
                        }
                        fill_lists(&mut arm.body, bodies);
                    }
                }
            }
            fill_redirects(redirects, bodies);
        }
        Command::Function { body, .. } => fill_command(body, bodies),
    }
}

fn fill_redirects(redirects: &mut [Redirect], bodies: &mut [Option<Word>]) {
    for redirect in redirects {
        if let Some(id) = redirect.here.take() {
            redirect.target = bodies.get_mut(id).and_then(Option::take).unwrap_or_default();
        } else {
            fill_word(&mut redirect.target, bodies);
        }
    }
}

fn fill_word(word: &mut Word, bodies: &mut [Option<Word>]) {
    for part in &mut word.parts {
        match part {
            Part::Command { list, .. } => fill_lists(list, bodies),
            Part::Alter { word, .. } | Part::Arithmetic { expr: word, .. } => fill_word(word, bodies),
            _ => {}
        }
    }
}
