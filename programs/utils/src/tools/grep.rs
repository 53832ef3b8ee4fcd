//! `grep [-i] [-v] [-n] [-c] [-r] PATTERN [FILE...]`: the lines of each
//! file (standard input when none) that match a regular expression (the
//! `regex` crate's syntax, on bytes, ASCII classes; `-i` folds ASCII case).
//! With several files or `-r`, each line is prefixed with `FILE:`; `-r`
//! walks directories of any scheme (`grep -r sbin initfs:etc`). Status 0
//! when a line was selected, 1 when none, 2 on trouble. Reads only.

use alloc::format;
use alloc::vec::Vec;

use regex::bytes::{Regex, RegexBuilder};

use crate::options;
use crate::report;
use crate::stream::{self, Output};
use crate::walk;

struct Search {
    regex: Regex,
    invert: bool,
    numbers: bool,
    count: bool,
    names: bool,
    selected: bool,
    trouble: bool,
}

impl Search {
    fn file(&mut self, name: &str, out: &mut Output) {
        let result = stream::open_input(name).and_then(|mut file| self.lines(name, &mut file, out));
        if let Err(err) = result {
            report::error("grep", name, err);
            self.trouble = true;
        }
    }

    fn lines(&mut self, name: &str, file: &mut rt::fs::File, out: &mut Output) -> rt::Result<()> {
        let mut number = 0u64;
        let mut count = 0u64;
        let prefix = if self.names { format!("{name}:") } else { alloc::string::String::new() };
        let (regex, invert, numbers, counting) = (&self.regex, self.invert, self.numbers, self.count);
        let out = core::cell::RefCell::new(out);
        stream::for_each_line(
            file,
            &mut |line| {
                number += 1;
                if regex.is_match(line) == invert {
                    return Ok(true);
                }
                count += 1;
                if !counting {
                    let mut out = out.borrow_mut();
                    out.push(prefix.as_bytes())?;
                    if numbers {
                        out.push(format!("{number}:").as_bytes())?;
                    }
                    out.push(line)?;
                    out.push(b"\n")?;
                }
                Ok(true)
            },
            &mut || out.borrow_mut().flush(),
        )?;
        let out = out.into_inner();
        if counting {
            out.push(format!("{prefix}{count}\n").as_bytes())?;
        }
        out.flush()?;
        self.selected |= count > 0;
        Ok(())
    }
}

pub fn main(args: &[&str]) -> u8 {
    let parsed = match options::parse("grep", args, "ivncr", "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let Some((&pattern, files)) = parsed.operands.split_first() else {
        return report::usage("grep", "missing pattern");
    };
    let regex = match RegexBuilder::new(pattern).unicode(false).case_insensitive(parsed.has('i')).build() {
        Ok(regex) => regex,
        Err(_) => {
            rt::eprintln!("grep: {pattern}: invalid regular expression");
            return report::USAGE;
        }
    };
    let recursive = parsed.has('r');
    let files: Vec<&str> = match (files, recursive) {
        ([], false) => alloc::vec!["-"],
        ([], true) => alloc::vec!["."],
        (files, _) => files.to_vec(),
    };
    let mut search = Search {
        regex,
        invert: parsed.has('v'),
        numbers: parsed.has('n'),
        count: parsed.has('c'),
        names: files.len() > 1 || recursive,
        selected: false,
        trouble: false,
    };
    let mut out = Output::new();
    for file in files {
        if recursive && file != "-" {
            let root = rt::fs::resolve(file);
            let mut found = Vec::new();
            let mut trouble = false;
            walk::walk(
                &root,
                &mut |url, is_dir| {
                    if !is_dir {
                        found.push(alloc::string::String::from(url));
                    }
                },
                &mut |url, err| {
                    report::error("grep", url, err);
                    trouble = true;
                },
            );
            search.trouble |= trouble;
            for url in found {
                search.file(&url, &mut out);
            }
        } else {
            search.file(file, &mut out);
        }
    }
    if search.trouble {
        report::USAGE
    } else if search.selected {
        report::OK
    } else {
        report::FAILED
    }
}
