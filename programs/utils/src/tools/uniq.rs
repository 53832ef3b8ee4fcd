//! `uniq [-c] [FILE]`: the lines of a file (or standard input) with each
//! run of equal adjacent lines written once; `-c` puts the run's length
//! before it (right-aligned in 7 columns). Lines go out as they come.
//! Reads only.

use alloc::format;
use alloc::vec::Vec;

use crate::options;
use crate::report::{self, FAILED, OK};
use crate::stream::{self, Output};

fn emit(out: &mut Output, line: &[u8], count: u64, counting: bool) -> rt::Result<()> {
    if counting {
        out.push(format!("{count:>7} ").as_bytes())?;
    }
    out.push(line)?;
    out.push(b"\n")
}

pub fn main(args: &[&str]) -> u8 {
    let parsed = match options::parse("uniq", args, "c", "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let counting = parsed.has('c');
    let name = match parsed.operands {
        [] => "-",
        [name] => name,
        _ => return report::usage("uniq", "one file at most"),
    };
    let mut out = Output::new();
    let mut current: Option<(Vec<u8>, u64)> = None;
    let result = stream::open_input(name).and_then(|mut file| {
        let out = core::cell::RefCell::new(&mut out);
        stream::for_each_line(
            &mut file,
            &mut |line| {
                match &mut current {
                    Some((seen, count)) if seen.as_slice() == line => *count += 1,
                    _ => {
                        if let Some((seen, count)) = current.replace((line.to_vec(), 1)) {
                            emit(&mut out.borrow_mut(), &seen, count, counting)?;
                        }
                    }
                }
                Ok(true)
            },
            &mut || out.borrow_mut().flush(),
        )
    });
    let result = result.and_then(|()| match current.take() {
        Some((seen, count)) => emit(&mut out, &seen, count, counting).and_then(|()| out.flush()),
        None => Ok(()),
    });
    match result {
        Ok(()) => OK,
        Err(err) => {
            report::error("uniq", name, err);
            FAILED
        }
    }
}
