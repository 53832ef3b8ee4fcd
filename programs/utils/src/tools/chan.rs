//! `chan`: talk over `chan:` (served by `ipcd`) from the shell.
//!
//! - `chan listen NAME`: listen on `chan:NAME`, accept one client, copy
//!   everything it sends to standard output until it closes, then exit;
//! - `chan send NAME TEXT...`: connect to `chan:NAME`, write the words
//!   joined by spaces plus a newline, and close.
//!
//! ```text
//! chan listen talk > tmp:got &
//! chan send talk hello
//! cat tmp:got
//! ```
//!
//! Errors name the URL: `chan: chan:nope: No such file or directory`.

use alloc::format;

use rt::abi::syscall::{O_CLOEXEC, O_CREAT, O_EXCL, O_RDWR, O_WRONLY};
use rt::fs::File;

use crate::report::{self, FAILED, OK};
use crate::stream;

pub fn main(args: &[&str]) -> u8 {
    let (result, url) = match args {
        ["listen", name] => {
            let url = format!("chan:{name}");
            (listen(&url), url)
        }
        ["send", name, words @ ..] if !words.is_empty() => {
            let url = format!("chan:{name}");
            (send(&url, words), url)
        }
        _ => {
            return report::usage_only("chan");
        }
    };
    match result {
        Ok(()) => OK,
        Err((what, err)) => {
            report::error("chan", what.unwrap_or(&url), err);
            FAILED
        }
    }
}

/// A failure: on the channel (`None`), or on what the `&str` names.
type Failure = (Option<&'static str>, rt::Error);

/// Listen on `url`, accept one client and copy what it sends to stdout.
fn listen(url: &str) -> Result<(), Failure> {
    let listener = File::open_with(url, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC).map_err(|e| (None, e))?;
    let mut client = listener.derive("listen").map_err(|e| (None, e))?;
    // The name is free again as soon as the one client is in.
    drop(listener);
    match stream::copy(&mut client, rt::io::STDOUT) {
        Ok(_) => Ok(()),
        Err((true, err)) => Err((None, err)),
        Err((false, err)) => Err((Some("write error"), err)),
    }
}

/// Connect to `url` and write `words` as one line.
fn send(url: &str, words: &[&str]) -> Result<(), Failure> {
    let peer = File::open_with(url, O_WRONLY | O_CLOEXEC).map_err(|e| (None, e))?;
    let mut line = words.join(" ");
    line.push('\n');
    rt::io::write_all(peer.fd(), line.as_bytes()).map_err(|e| (None, e))?;
    peer.close().map_err(|e| (None, e))
}
