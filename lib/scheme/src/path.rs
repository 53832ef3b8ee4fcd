//! Paths inside a scheme: what a file-system daemon (`tmp:`, `file:`)
//! makes of the path part of a URL. Touches nothing but the string.

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
