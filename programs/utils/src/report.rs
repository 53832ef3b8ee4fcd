//! How utilities report trouble: `NAME: ARGUMENT: description` on standard
//! error (the description is the errno's text, as `strerror` gives it),
//! and the exit statuses that go with it.

use rt::eprintln;

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

/// Prints `tool: message` and the usage line; returns [`USAGE`].
pub fn usage(tool: &str, message: &str, usage: &str) -> u8 {
    eprintln!("{tool}: {message}");
    eprintln!("usage: {tool} {usage}");
    USAGE
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
