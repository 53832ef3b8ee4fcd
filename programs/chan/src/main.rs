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
//! Errors name the URL and say what went wrong, e.g.
//! `chan: chan:nope: No such file or directory`; the exit status is then 1
//! (2 for a usage mistake).
//!
//! May touch: the `chan:` URL it is given, standard output and error.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use rt::abi::syscall::{O_CLOEXEC, O_CREAT, O_EXCL, O_RDWR, O_WRONLY};
use rt::fs::File;
use rt::prelude::*;
use rt::process::ExitCode;

rt::main!(main);

const USAGE: &str = "usage: chan listen NAME | chan send NAME TEXT...";

/// A failure: what it concerned and why.
struct Failure {
    what: String,
    err: rt::Error,
}

fn on(what: &str) -> impl FnOnce(rt::Error) -> Failure + '_ {
    move |err| Failure { what: String::from(what), err }
}

fn main() -> ExitCode {
    let args: Vec<&str> = rt::env::args().collect();
    let result = match args.get(1..) {
        Some(["listen", name]) => listen(&url(name)),
        Some(["send", name, words @ ..]) if !words.is_empty() => send(&url(name), words),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { what, err }) => {
            eprintln!("chan: {what}: {err}");
            ExitCode::FAILURE
        }
    }
}

fn url(name: &str) -> String {
    format!("chan:{name}")
}

/// Listen on `url`, accept one client and copy what it sends to stdout.
fn listen(url: &str) -> Result<(), Failure> {
    let listener = File::open_with(url, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC).map_err(on(url))?;
    let accepted = rt::sys::dup(listener.fd(), b"listen").map_err(on(url))?;
    let client = File::from_fd(accepted);
    // The name is free again as soon as the one client is in.
    drop(listener);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = rt::io::read(client.fd(), &mut buf).map_err(on(url))?;
        if n == 0 {
            return Ok(());
        }
        rt::io::write_all(rt::io::STDOUT, &buf[..n]).map_err(on("standard output"))?;
    }
}

/// Connect to `url` and write `words` as one line.
fn send(url: &str, words: &[&str]) -> Result<(), Failure> {
    let peer = File::open_with(url, O_WRONLY | O_CLOEXEC).map_err(on(url))?;
    let mut line = words.join(" ");
    line.push('\n');
    rt::io::write_all(peer.fd(), line.as_bytes()).map_err(on(url))?;
    peer.close().map_err(on(url))
}
