//! How utilities report trouble: `NAME: ARGUMENT: description` on standard
//! error (the description is the errno's text, as `strerror` gives it),
//! and the exit statuses that go with it.

use rt::{eprintln, println};

/// Exit status of a utility that did everything.
pub const OK: u8 = 0;
/// Exit status after an error on some argument (the others were still
/// handled).
pub const FAILED: u8 = 1;
/// Exit status for a usage error (bad option or missing argument).
pub const USAGE: u8 = 2;

/// Prints `tool: what: err`.
pub fn error(tool: &str, what: &str, err: rt::Error) {
    eprintln!("{tool}: {what}: {err}");
}

/// The usage text of `tool` from the table in `names.rs`.
fn usage_text(tool: &str) -> &'static str {
    crate::names::utility_named(tool).map_or("", |utility| utility.usage)
}

/// Prints `tool: message` and the tool's usage (from `names.rs`) on
/// standard error; returns [`USAGE`].
pub fn usage(tool: &str, message: &str) -> u8 {
    eprintln!("{tool}: {message}");
    eprintln!("usage: {}", usage_text(tool));
    USAGE
}

/// Prints only the usage of `tool` on standard error (for a mistake the
/// usage itself explains); returns [`USAGE`].
pub fn usage_only(tool: &str) -> u8 {
    eprintln!("usage: {}", usage_text(tool));
    USAGE
}

/// What `tool --help` prints on standard output: the summary line and the
/// usage, from `names.rs`.
pub fn help(tool: &str) -> u8 {
    if let Some(utility) = crate::names::utility_named(tool) {
        println!("{}: {}", utility.name, utility.summary);
        println!("usage: {}", utility.usage);
    }
    OK
}

/// `tool: unknown option -x` and the usage, for a bad option `-x`.
pub fn unknown_option(tool: &str, option: &str) -> u8 {
    usage(tool, &alloc::format!("unknown option {option}"))
}

/// The whole text at `url` (a `sys:` file, say), or `None` after
/// reporting why not, as `tool: url: description`.
pub fn read_text(tool: &str, url: &str) -> Option<alloc::string::String> {
    match rt::fs::read_to_string(url) {
        Ok(text) => Some(text),
        Err(err) => {
            error(tool, url, err);
            None
        }
    }
}
