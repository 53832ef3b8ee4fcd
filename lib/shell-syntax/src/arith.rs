//! `$((EXPR))`: integer arithmetic on 64-bit signed numbers, wrapping on
//! overflow. The expression is what is left once `$` expansions inside it
//! are done:
//!
//! ```text
//! 42 0x1f NAME            numbers (decimal, hex) and variables (unset or
//!                         empty is 0; a value must be a number)
//! ( E )  -E  +E  !E       grouping, negation, not (1 if E is 0, else 0)
//! * / %   + -             by precedence, left to right
//! < <= > >=   == !=       comparisons: 1 or 0
//! &&   ||                 logic: 1 or 0
//! ```

use alloc::string::String;
use core::fmt;

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArithError {
    /// Something that is no number, name, operator or parenthesis, or one
    /// in the wrong place.
    Syntax(String),
    /// A variable whose value is no number.
    NotANumber(String, String),
    /// `/ 0` or `% 0`.
    DivisionByZero,
    /// Parentheses or signs nested deeper than any script needs.
    TooDeep,
}

impl fmt::Display for ArithError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArithError::Syntax(at) if at.is_empty() => f.write_str("arithmetic syntax error: unexpected end"),
            ArithError::Syntax(at) => write!(f, "arithmetic syntax error at `{at}`"),
            ArithError::NotANumber(name, value) => write!(f, "arithmetic: {name}={value} is not a number"),
            ArithError::DivisionByZero => f.write_str("arithmetic: division by zero"),
            ArithError::TooDeep => f.write_str("arithmetic: expression nested too deeply"),
        }
    }
}

const MAX_NESTING: usize = 64;

/// Evaluates `text`; `var` gives a variable's value.
pub fn evaluate_arithmetic(text: &str, var: &mut dyn FnMut(&str) -> Option<String>) -> Result<i64, ArithError> {
    let mut eval = Eval { text, pos: 0, var, depth: 0 };
    let value = eval.or()?;
    eval.skip_blanks();
    if eval.pos < text.len() {
        return Err(eval.syntax());
    }
    Ok(value)
}

fn number(text: &str) -> Option<i64> {
    let text = text.trim();
    let (digits, negative) = match text.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let value = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok()? as i64,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse::<u64>().ok()? as i64,
        None => return None,
    };
    Some(if negative { value.wrapping_neg() } else { value })
}

struct Eval<'a, 'v> {
    text: &'a str,
    pos: usize,
    var: &'v mut dyn FnMut(&str) -> Option<String>,
    depth: usize,
}

impl Eval<'_, '_> {
    fn skip_blanks(&mut self) {
        while self.text[self.pos..].starts_with([' ', '\t', '\n']) {
            self.pos += 1;
        }
    }

    fn syntax(&self) -> ArithError {
        ArithError::Syntax(String::from(&self.text[self.pos..]))
    }

    /// Takes the first of `ops` the text continues with (longest first).
    fn op(&mut self, ops: &[&'static str]) -> Option<&'static str> {
        self.skip_blanks();
        let op = ops.iter().copied().find(|op| self.text[self.pos..].starts_with(op))?;
        self.pos += op.len();
        Some(op)
    }

    fn or(&mut self) -> Result<i64, ArithError> {
        let mut value = self.and()?;
        while self.op(&["||"]).is_some() {
            let right = self.and()?;
            value = i64::from(value != 0 || right != 0);
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<i64, ArithError> {
        let mut value = self.equality()?;
        while self.op(&["&&"]).is_some() {
            let right = self.equality()?;
            value = i64::from(value != 0 && right != 0);
        }
        Ok(value)
    }

    fn equality(&mut self) -> Result<i64, ArithError> {
        let mut value = self.relation()?;
        while let Some(op) = self.op(&["==", "!="]) {
            let right = self.relation()?;
            value = i64::from((value == right) == (op == "=="));
        }
        Ok(value)
    }

    fn relation(&mut self) -> Result<i64, ArithError> {
        let mut value = self.sum()?;
        while let Some(op) = self.op(&["<=", ">=", "<", ">"]) {
            let right = self.sum()?;
            value = i64::from(match op {
                "<=" => value <= right,
                ">=" => value >= right,
                "<" => value < right,
                _ => value > right,
            });
        }
        Ok(value)
    }

    fn sum(&mut self) -> Result<i64, ArithError> {
        let mut value = self.product()?;
        while let Some(op) = self.op(&["+", "-"]) {
            let right = self.product()?;
            value = if op == "+" { value.wrapping_add(right) } else { value.wrapping_sub(right) };
        }
        Ok(value)
    }

    fn product(&mut self) -> Result<i64, ArithError> {
        let mut value = self.unary()?;
        while let Some(op) = self.op(&["*", "/", "%"]) {
            let right = self.unary()?;
            value = match op {
                "*" => value.wrapping_mul(right),
                _ if right == 0 => return Err(ArithError::DivisionByZero),
                "/" => value.wrapping_div(right),
                _ => value.wrapping_rem(right),
            };
        }
        Ok(value)
    }

    fn unary(&mut self) -> Result<i64, ArithError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(ArithError::TooDeep);
        }
        let value = match self.op(&["-", "+", "!"]) {
            Some("-") => self.unary()?.wrapping_neg(),
            Some("!") => i64::from(self.unary()? == 0),
            Some(_) => self.unary()?,
            None => self.primary()?,
        };
        self.depth -= 1;
        Ok(value)
    }

    fn primary(&mut self) -> Result<i64, ArithError> {
        self.skip_blanks();
        let rest = &self.text[self.pos..];
        if self.op(&["("]).is_some() {
            let value = self.or()?;
            if self.op(&[")"]).is_none() {
                return Err(self.syntax());
            }
            return Ok(value);
        }
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let token = &rest[..len];
        if token.is_empty() {
            return Err(self.syntax());
        }
        if token.starts_with(|c: char| c.is_ascii_digit()) {
            let value = number(token).ok_or_else(|| self.syntax())?;
            self.pos += len;
            return Ok(value);
        }
        if !crate::is_name(token) {
            return Err(self.syntax());
        }
        self.pos += len;
        let value = (self.var)(token).unwrap_or_default();
        if value.trim().is_empty() {
            return Ok(0);
        }
        number(&value).ok_or_else(|| ArithError::NotANumber(String::from(token), value))
    }
}
