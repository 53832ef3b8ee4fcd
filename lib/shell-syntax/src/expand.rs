//! Word expansion: parameters and command substitutions replaced by what
//! the shell ([`Context`]) says they hold, then unquoted results split into
//! fields at `IFS`. Also the splitting `read` does.

use alloc::string::String;
use alloc::vec::Vec;

use crate::{AndOr, Param, ParamOp, Part, Word};

/// What `IFS` is when unset.
const DEFAULT_IFS: &str = " \t\n";

/// What expansion needs from the shell.
pub trait Context {
    /// The value of `param` (never asked for [`Param::All`] or
    /// [`Param::AllJoined`]); `None` when unset.
    fn param(&mut self, param: &Param) -> Option<String>;
    /// The positional parameters `$1`, `$2`, ….
    fn positional(&mut self) -> Vec<String>;
    /// Runs `list` and returns what it printed.
    fn substitute(&mut self, list: &[AndOr]) -> String;
    /// Sets the variable `name` (for `${NAME=WORD}`).
    fn assign(&mut self, name: &str, value: String);
    /// An expansion failed (`$((1/0))`): the shell reports `message` and
    /// does not run the command. The expansion goes on with nothing in its
    /// place.
    fn fail(&mut self, message: String);
}

/// `$((EXPR))`: the value, or nothing after telling the context why.
fn arithmetic(ctx: &mut dyn Context, expr: &Word) -> String {
    let text = expr.string(ctx);
    let mut var = |name: &str| ctx.param(&Param::Name(String::from(name)));
    match crate::evaluate_arithmetic(&text, &mut var) {
        Ok(value) => alloc::format!("{value}"),
        Err(err) => {
            ctx.fail(alloc::format!("$(({text})): {err}"));
            String::new()
        }
    }
}

/// A parameter's value; `$@` and `$*` are unset when there are no
/// positional parameters, else joined with spaces.
fn value(ctx: &mut dyn Context, param: &Param) -> Option<String> {
    match param {
        Param::All | Param::AllJoined => {
            let all = ctx.positional();
            if all.is_empty() { None } else { Some(all.join(" ")) }
        }
        param => ctx.param(param),
    }
}

/// What `${P…WORD}` stands for.
enum Altered<'a> {
    Value(String),
    Word(&'a Word),
}

fn alter<'a>(ctx: &mut dyn Context, param: &Param, op: ParamOp, colon: bool, word: &'a Word) -> Altered<'a> {
    let current = value(ctx, param);
    let unset = match &current {
        None => true,
        Some(value) => colon && value.is_empty(),
    };
    match op {
        ParamOp::Default if unset => Altered::Word(word),
        ParamOp::Assign if unset => {
            let value = word.string(ctx);
            if let Param::Name(name) = param {
                ctx.assign(name, value.clone());
            }
            Altered::Value(value)
        }
        ParamOp::Alternative if unset => Altered::Value(String::new()),
        ParamOp::Alternative => Altered::Word(word),
        ParamOp::Default | ParamOp::Assign => Altered::Value(current.unwrap_or_default()),
    }
}

/// `${#P}`: the number of characters of P's value (`${#@}`, `${#*}`: the
/// number of positional parameters).
fn length(ctx: &mut dyn Context, param: &Param) -> String {
    let length = match param {
        Param::All | Param::AllJoined => ctx.positional().len(),
        param => ctx.param(param).unwrap_or_default().chars().count(),
    };
    alloc::format!("{length}")
}

fn ifs(ctx: &mut dyn Context) -> String {
    ctx.param(&Param::Name(String::from("IFS"))).unwrap_or_else(|| String::from(DEFAULT_IFS))
}

/// The fields a word becomes, built piece by piece.
struct Fields {
    done: Vec<String>,
    current: String,
    /// Whether `current` is a field even if empty (something quoted, or
    /// text, went into it).
    live: bool,
}

impl Fields {
    fn finish(&mut self) {
        if self.live {
            self.done.push(core::mem::take(&mut self.current));
        }
        self.current.clear();
        self.live = false;
    }

    fn push_quoted(&mut self, text: &str) {
        self.current.push_str(text);
        self.live = true;
    }

    /// An unquoted expansion's value: split at `IFS` characters.
    fn push_split(&mut self, value: &str, ifs: &str) {
        let is_sep = |c: char| ifs.contains(c);
        if value.starts_with(is_sep) {
            self.finish();
        }
        let mut first = true;
        for piece in value.split(is_sep).filter(|piece| !piece.is_empty()) {
            if !first {
                self.finish();
            }
            first = false;
            self.current.push_str(piece);
            self.live = true;
        }
        if !first && value.ends_with(is_sep) {
            self.finish();
        }
    }
}

/// Adds the fields of `parts` to `fields`; `split_text` splits unquoted
/// literal text too (the word of an unquoted `${P-WORD}`).
fn fields_of(parts: &[Part], ctx: &mut dyn Context, fields: &mut Fields, ifs: &str, split_text: bool) {
    for part in parts {
        match part {
            Part::Text { text, quoted: false } if split_text => fields.push_split(text, ifs),
            Part::Text { text, .. } => fields.push_quoted(text),
            Part::Param { param: Param::All, quoted } => {
                for (i, arg) in ctx.positional().iter().enumerate() {
                    if i > 0 {
                        fields.finish();
                    }
                    if *quoted { fields.push_quoted(arg) } else { fields.push_split(arg, ifs) }
                }
            }
            Part::Param { param: Param::AllJoined, quoted: false } => {
                for arg in ctx.positional() {
                    fields.finish();
                    fields.push_split(&arg, ifs);
                }
            }
            Part::Param { param: Param::AllJoined, quoted: true } => fields.push_quoted(&joined(ctx)),
            Part::Param { param, quoted } => {
                let value = ctx.param(param).unwrap_or_default();
                if *quoted { fields.push_quoted(&value) } else { fields.push_split(&value, ifs) }
            }
            Part::Command { list, quoted } => {
                let value = substituted(ctx, list);
                if *quoted { fields.push_quoted(&value) } else { fields.push_split(&value, ifs) }
            }
            Part::Length { param, quoted } => {
                let value = length(ctx, param);
                if *quoted { fields.push_quoted(&value) } else { fields.push_split(&value, ifs) }
            }
            Part::Arithmetic { expr, quoted } => {
                let value = arithmetic(ctx, expr);
                if *quoted { fields.push_quoted(&value) } else { fields.push_split(&value, ifs) }
            }
            Part::Alter { param, op, colon, word, quoted } => match alter(ctx, param, *op, *colon, word) {
                Altered::Value(value) if *quoted => fields.push_quoted(&value),
                Altered::Value(value) => fields.push_split(&value, ifs),
                Altered::Word(word) => {
                    // A quoted one still makes a field, even if empty.
                    if *quoted {
                        fields.push_quoted("");
                    }
                    fields_of(&word.parts, ctx, fields, ifs, !quoted);
                }
            },
        }
    }
}

/// Output of a command substitution: trailing newlines removed.
fn substituted(ctx: &mut dyn Context, list: &[AndOr]) -> String {
    let mut out = ctx.substitute(list);
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

/// `$*` quoted: the positional parameters joined by the first character
/// of `IFS` (nothing when `IFS` is empty).
fn joined(ctx: &mut dyn Context) -> String {
    let separator = ifs(ctx).chars().next();
    let mut out = String::new();
    for (i, arg) in ctx.positional().iter().enumerate() {
        if i > 0
            && let Some(c) = separator
        {
            out.push(c);
        }
        out.push_str(arg);
    }
    out
}

impl Word {
    /// The fields (arguments) the word expands to: none for an unquoted
    /// word that expands to nothing or to only `IFS` characters, several
    /// for unquoted expansions holding `IFS` characters and for `"$@"`.
    pub fn fields(&self, ctx: &mut dyn Context) -> Vec<String> {
        let ifs = ifs(ctx);
        let mut fields = Fields { done: Vec::new(), current: String::new(), live: false };
        fields_of(&self.parts, ctx, &mut fields, &ifs, false);
        fields.finish();
        fields.done
    }

    /// The word as one string, without field splitting (assignments,
    /// redirection targets, `case` words, here-documents): `$@` and `$*`
    /// join the parameters with spaces.
    pub fn string(&self, ctx: &mut dyn Context) -> String {
        let mut out = String::new();
        for part in &self.parts {
            self.expand_part(part, ctx, &mut out, false);
        }
        out
    }

    /// The word as a `case` pattern: what was quoted is escaped with `\`
    /// so it matches itself; what was not keeps `*`, `?` and `[…]` special
    /// (also inside unquoted expansions).
    pub fn pattern(&self, ctx: &mut dyn Context) -> String {
        let mut out = String::new();
        for part in &self.parts {
            self.expand_part(part, ctx, &mut out, true);
        }
        out
    }

    fn expand_part(&self, part: &Part, ctx: &mut dyn Context, out: &mut String, escape_quoted: bool) {
        let value = match part {
            Part::Text { text, .. } => text.clone(),
            Part::Param { param: Param::All | Param::AllJoined, .. } => ctx.positional().join(" "),
            Part::Param { param, .. } => ctx.param(param).unwrap_or_default(),
            Part::Command { list, .. } => substituted(ctx, list),
            Part::Length { param, .. } => length(ctx, param),
            Part::Arithmetic { expr, .. } => arithmetic(ctx, expr),
            Part::Alter { param, op, colon, word, .. } => match alter(ctx, param, *op, *colon, word) {
                Altered::Value(value) => value,
                Altered::Word(word) => {
                    for inner in &word.parts {
                        self.expand_part(inner, ctx, out, escape_quoted);
                    }
                    return;
                }
            },
        };
        if escape_quoted && part.quoted() {
            for c in value.chars() {
                if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
        } else {
            out.push_str(&value);
        }
    }
}

/// What `read` stores for a line: `count` values (at least one), split at
/// the characters of `ifs`, the last holding the rest of the line. Blanks
/// of `ifs` around fields are dropped; another `ifs` character separates
/// two fields (so `a::b` with `IFS=:` is `a`, ``, `b`). Unless `raw`
/// (`read -r`), a backslash makes the next character literal (and is
/// removed).
pub fn split_read(line: &str, raw: bool, ifs: &str, count: usize) -> Vec<String> {
    // Each character and whether it was escaped.
    let mut chars: Vec<(char, bool)> = Vec::new();
    let mut iter = line.chars();
    while let Some(c) = iter.next() {
        if c == '\\' && !raw {
            if let Some(next) = iter.next() {
                chars.push((next, true));
            }
        } else {
            chars.push((c, false));
        }
    }
    let is_white = |&(c, escaped): &(char, bool)| !escaped && ifs.contains(c) && c.is_whitespace();
    let is_sep = |&(c, escaped): &(char, bool)| !escaped && ifs.contains(c);
    let mut i = 0;
    while i < chars.len() && is_white(&chars[i]) {
        i += 1;
    }
    let mut values = Vec::new();
    let count = count.max(1);
    while values.len() + 1 < count {
        let start = i;
        while i < chars.len() && !is_sep(&chars[i]) {
            i += 1;
        }
        values.push(chars[start..i].iter().map(|&(c, _)| c).collect());
        // The separator: blanks, at most one other IFS character, blanks.
        while i < chars.len() && is_white(&chars[i]) {
            i += 1;
        }
        if i < chars.len() && is_sep(&chars[i]) {
            i += 1;
            while i < chars.len() && is_white(&chars[i]) {
                i += 1;
            }
        }
    }
    let mut end = chars.len();
    while end > i && is_white(&chars[end - 1]) {
        end -= 1;
    }
    values.push(chars[i..end].iter().map(|&(c, _)| c).collect());
    values
}
