//! Command-line options for the utilities that take POSIX-style ones:
//! single letters after `-`, grouped (`-ivn`), a value either attached or
//! next (`-n5`, `-n 5`); options end at the first operand, at `-` (an
//! operand: standard input) or after `--`. A bad option is reported as
//! `NAME: unknown option -x` with the usage (`report::usage`).
//! Touches nothing but its arguments and standard error.

use alloc::vec::Vec;

use crate::report;

/// The options found and the operands after them.
pub struct Parsed<'a> {
    flags: Vec<(char, Option<&'a str>)>,
    pub operands: &'a [&'a str],
}

impl<'a> Parsed<'a> {
    /// Whether option `flag` was given.
    pub fn has(&self, flag: char) -> bool {
        self.flags.iter().any(|&(f, _)| f == flag)
    }

    /// The value of the last `flag` given.
    pub fn value(&self, flag: char) -> Option<&'a str> {
        self.flags.iter().rev().find(|&&(f, _)| f == flag).and_then(|&(_, value)| value)
    }
}

/// Parses `args` for `tool`: `plain` lists the options without a value,
/// `valued` those with one. On a bad option, reports it and returns the
/// usage status as `Err`.
pub fn parse<'a>(tool: &str, args: &'a [&'a str], plain: &str, valued: &str) -> Result<Parsed<'a>, u8> {
    let mut flags = Vec::new();
    let mut i = 0;
    while let Some(&arg) = args.get(i) {
        if arg == "--" {
            i += 1;
            break;
        }
        if arg == "-" || !arg.starts_with('-') {
            break;
        }
        for (at, flag) in arg.char_indices().skip(1) {
            if plain.contains(flag) {
                flags.push((flag, None));
            } else if valued.contains(flag) {
                let attached = &arg[at + flag.len_utf8()..];
                let value = if !attached.is_empty() {
                    attached
                } else {
                    i += 1;
                    match args.get(i) {
                        Some(&value) => value,
                        None => return Err(report::usage(tool, &alloc::format!("option -{flag} needs a value"))),
                    }
                };
                flags.push((flag, Some(value)));
                break;
            } else {
                return Err(report::unknown_option(tool, &alloc::format!("-{flag}")));
            }
        }
        i += 1;
    }
    Ok(Parsed { flags, operands: &args[i.min(args.len())..] })
}

/// The value of option `flag` as a count, or the usage error.
pub fn count(tool: &str, parsed: &Parsed<'_>, flag: char, default: usize) -> Result<usize, u8> {
    match parsed.value(flag) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| report::usage(tool, &alloc::format!("-{flag}: {text}: not a number"))),
    }
}
