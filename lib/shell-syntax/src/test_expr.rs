//! `test EXPR` and `[ EXPR ]`: evaluates the arguments as an expression.
//! Files are the caller's business (a closure answers each file test), so
//! this stays pure.
//!
//! ```text
//! -e P -f P -d P -s P -r P -w P -x P   P exists / is a file / a directory /
//!                                      not empty / readable / writable /
//!                                      executable
//! -z S  -n S  S                        S is empty / not empty / not empty
//! S = S  S == S  S != S  S < S  S > S  strings equal, differ, sort before/after
//! N -eq N  -ne  -lt  -le  -gt  -ge     integers
//! ! E   E -a E   E -o E   ( E )        not, and (binds tighter), or, grouping
//! ```
//!
//! With up to four arguments the POSIX rules by count decide (so
//! `[ "$x" = "" ]` works whatever `$x` holds); longer expressions are
//! parsed by precedence.

use alloc::string::String;
use core::fmt;

/// A question about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTest {
    /// `-e`: it exists.
    Exists,
    /// `-f`: it is a regular file.
    File,
    /// `-d`: it is a directory.
    Directory,
    /// `-s`: it is not empty.
    NonEmpty,
    /// `-r`: it may be read.
    Readable,
    /// `-w`: it may be written.
    Writable,
    /// `-x`: it may be executed (searched, for a directory).
    Executable,
}

/// Why the arguments are no expression (status 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestError {
    /// An integer comparison with something that is no integer.
    IntegerExpected(String),
    /// Two arguments whose first is no unary operator.
    UnaryExpected(String),
    /// Three arguments whose middle is no binary operator.
    BinaryExpected(String),
    /// A `(` without its `)`.
    ParenExpected,
    /// An operator at the end, with nothing to apply to.
    ArgumentExpected,
    /// Arguments left over after a whole expression.
    Unexpected(String),
    /// Parentheses nested deeper than any script needs.
    TooDeep,
}

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestError::IntegerExpected(text) => write!(f, "{text}: integer expression expected"),
            TestError::UnaryExpected(text) => write!(f, "{text}: unary operator expected"),
            TestError::BinaryExpected(text) => write!(f, "{text}: binary operator expected"),
            TestError::ParenExpected => f.write_str("`)` expected"),
            TestError::ArgumentExpected => f.write_str("argument expected"),
            TestError::Unexpected(text) => write!(f, "{text}: unexpected argument"),
            TestError::TooDeep => f.write_str("expression nested too deeply"),
        }
    }
}

/// How deep `(` may nest.
const MAX_PARENS: usize = 32;

enum Unary {
    File(FileTest),
    Empty,
    NotEmpty,
}

fn unary(op: &str) -> Option<Unary> {
    Some(match op {
        "-e" => Unary::File(FileTest::Exists),
        "-f" => Unary::File(FileTest::File),
        "-d" => Unary::File(FileTest::Directory),
        "-s" => Unary::File(FileTest::NonEmpty),
        "-r" => Unary::File(FileTest::Readable),
        "-w" => Unary::File(FileTest::Writable),
        "-x" => Unary::File(FileTest::Executable),
        "-z" => Unary::Empty,
        "-n" => Unary::NotEmpty,
        _ => return None,
    })
}

fn is_binary(op: &str) -> bool {
    matches!(op, "=" | "==" | "!=" | "<" | ">" | "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge")
}

fn integer(text: &str) -> Result<i64, TestError> {
    text.trim().parse::<i64>().map_err(|_| TestError::IntegerExpected(String::from(text)))
}

fn binary(left: &str, op: &str, right: &str) -> Result<bool, TestError> {
    Ok(match op {
        "=" | "==" => left == right,
        "!=" => left != right,
        "<" => left < right,
        ">" => left > right,
        _ => {
            let (l, r) = (integer(left)?, integer(right)?);
            match op {
                "-eq" => l == r,
                "-ne" => l != r,
                "-lt" => l < r,
                "-le" => l <= r,
                "-gt" => l > r,
                _ => l >= r,
            }
        }
    })
}

/// Evaluates `args` (without the closing `]` of `[`); `file` answers the
/// file tests for a path as written.
pub fn evaluate_test(args: &[&str], file: &mut dyn FnMut(FileTest, &str) -> bool) -> Result<bool, TestError> {
    let mut eval = Eval { args, pos: 0, file, parens: 0 };
    eval.by_count(args)
}

struct Eval<'a, 'f> {
    args: &'a [&'a str],
    pos: usize,
    file: &'f mut dyn FnMut(FileTest, &str) -> bool,
    parens: usize,
}

impl<'a> Eval<'a, '_> {
    fn apply(&mut self, op: Unary, operand: &str) -> bool {
        match op {
            Unary::File(test) => (self.file)(test, operand),
            Unary::Empty => operand.is_empty(),
            Unary::NotEmpty => !operand.is_empty(),
        }
    }

    /// POSIX's rules for up to four arguments, else the general parser.
    fn by_count(&mut self, args: &[&str]) -> Result<bool, TestError> {
        match *args {
            [] => Ok(false),
            [one] => Ok(!one.is_empty()),
            ["!", one] => Ok(one.is_empty()),
            [op, operand] => match unary(op) {
                Some(op) => Ok(self.apply(op, operand)),
                None => Err(TestError::UnaryExpected(String::from(op))),
            },
            [left, op, right] if is_binary(op) => binary(left, op, right),
            [left, "-a", right] => Ok(!left.is_empty() && !right.is_empty()),
            [left, "-o", right] => Ok(!left.is_empty() || !right.is_empty()),
            ["!", ref rest @ ..] if args.len() <= 4 => Ok(!self.by_count(rest)?),
            ["(", ref inner @ .., ")"] if args.len() <= 4 => self.by_count(inner),
            [_, op, _] => Err(TestError::BinaryExpected(String::from(op))),
            _ => {
                let value = self.or()?;
                match self.args.get(self.pos) {
                    None => Ok(value),
                    Some(extra) => Err(TestError::Unexpected(String::from(*extra))),
                }
            }
        }
    }

    fn peek(&self) -> Option<&'a str> {
        self.args.get(self.pos).copied()
    }

    fn or(&mut self) -> Result<bool, TestError> {
        let mut value = self.and()?;
        while self.peek() == Some("-o") {
            self.pos += 1;
            let right = self.and()?;
            value = value || right;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, TestError> {
        let mut value = self.not()?;
        while self.peek() == Some("-a") {
            self.pos += 1;
            let right = self.not()?;
            value = value && right;
        }
        Ok(value)
    }

    fn not(&mut self) -> Result<bool, TestError> {
        let mut negated = false;
        // `!` negates unless it is the left side of a comparison (`! = x`).
        while self.peek() == Some("!") && !self.binary_at(self.pos) {
            self.pos += 1;
            negated = !negated;
        }
        Ok(self.primary()? != negated)
    }

    /// Whether `args[at..]` starts with `WORD OP WORD`, OP binary.
    fn binary_at(&self, at: usize) -> bool {
        at + 2 < self.args.len() && is_binary(self.args[at + 1])
    }

    fn primary(&mut self) -> Result<bool, TestError> {
        let Some(first) = self.peek() else { return Err(TestError::ArgumentExpected) };
        if self.binary_at(self.pos) {
            let (op, right) = (self.args[self.pos + 1], self.args[self.pos + 2]);
            self.pos += 3;
            return binary(first, op, right);
        }
        if first == "(" {
            self.parens += 1;
            if self.parens > MAX_PARENS {
                return Err(TestError::TooDeep);
            }
            self.pos += 1;
            let value = self.or()?;
            if self.peek() != Some(")") {
                return Err(TestError::ParenExpected);
            }
            self.pos += 1;
            self.parens -= 1;
            return Ok(value);
        }
        if let Some(op) = unary(first) {
            let Some(operand) = self.args.get(self.pos + 1).copied() else { return Err(TestError::ArgumentExpected) };
            self.pos += 2;
            return Ok(self.apply(op, operand));
        }
        self.pos += 1;
        Ok(!first.is_empty())
    }
}
