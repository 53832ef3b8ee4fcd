//! `printf FORMAT [ARG...]`: the arguments formatted by FORMAT (`%s %d %i
//! %x %X %o %c %%`, flags `-` and `0`, widths, `\n \t \\` escapes), the
//! format reused while arguments remain; the language is
//! `text_tools::printf`. A bad number or conversion is reported, status 1.
//! Touches only standard output and error.

use crate::report::{self, FAILED, OK};

pub fn main(args: &[&str]) -> u8 {
    let Some((&format, args)) = args.split_first() else {
        return report::usage("printf", "missing format");
    };
    let output = text_tools::printf::render(format, args);
    let written = rt::io::write_stdout(output.text.as_bytes());
    for error in &output.errors {
        rt::eprintln!("printf: {error}");
    }
    if written.is_err() || !output.errors.is_empty() { FAILED } else { OK }
}
