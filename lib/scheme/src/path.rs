//! Paths inside a scheme: what a file-system daemon (`tmp:`, `file:`)
//! makes of the path part of a URL, and which names it may make. Touches
//! nothing but the string.

use alloc::vec::Vec;

use rt::abi::syscall::EINVAL;
use rt::{Error, Result};

/// The components of a `/`-separated `path`, with empty ones and `.`
/// dropped and `..` applied; `EINVAL` for a `..` above the root.
pub fn components(path: &str) -> Result<Vec<&str>> {
    let mut parts = Vec::new();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            parts.pop().ok_or(Error::new(EINVAL))?;
        } else {
            parts.push(part);
        }
    }
    Ok(parts)
}

/// Whether `name` may be given to a new file or directory (made, or
/// renamed to): a directory reads as its names one per line, so a name
/// holding a newline would read as two names that lead nowhere, and the
/// file behind it could be neither found nor removed by listing it. A
/// name with a newline or a NUL is `EINVAL`; the length limit is the
/// file system's own.
pub fn check_new_name(name: &str) -> Result<()> {
    match name.bytes().any(|b| b == b'\n' || b == 0) {
        true => Err(Error::new(EINVAL)),
        false => Ok(()),
    }
}
