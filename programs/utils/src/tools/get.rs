//! `get [-w SECONDS] URL`: fetch an `http://HOST[:PORT]/PATH` URL over
//! HTTP/1.1 and write the body to standard output (`get
//! http://10.0.2.2:8000/f > file:/f`). The response head is parsed by
//! `httparse`; the body is taken by `Content-Length`, chunked transfer
//! coding, or to the end of the connection. A status other than 2xx, a
//! connection that fails, a body cut short or standard output refusing
//! what it is given is an error: `get: URL: Connection refused`, `get:
//! URL: 404 Not Found`, exit status 1. With `-w`, a server that sends
//! nothing for SECONDS (the connection's read timeout, as `nc -w`) is one
//! too: `get: URL: Connection timed out`; without it `get` waits as long
//! as the connection lives (TCP's keep-alive ends a dead peer's).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use core::time::Duration;

use rt::abi::syscall::ECONNRESET;
use rt::eprintln;
use rt::io;

use crate::net;
use crate::report::{self, FAILED, OK};

/// The most bytes a response head may take.
const HEAD_MAX: usize = 64 * 1024;

/// `(host, port, path)` of an `http://` URL.
fn parse_url(url: &str) -> Option<(&str, u16, &str)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().ok().filter(|&p| p > 0)?),
        None => (authority, 80),
    };
    (!host.is_empty() && !path.bytes().any(|b| b.is_ascii_control() || b == b' ')).then_some((host, port, path))
}

/// How the body is delimited.
enum Body {
    Length(u64),
    Chunked(Chunks),
    ToEnd,
}

/// A chunked-coding decoder (RFC 9112 §7.1) fed what arrives.
struct Chunks {
    state: Chunk,
    line: Vec<u8>,
}

enum Chunk {
    /// Reading a size line.
    Size,
    Data(u64),
    /// The CRLF after a chunk's data.
    End(u8),
    /// After the last chunk: trailer lines until an empty one.
    Trailer,
    Done,
}

impl Chunks {
    /// Feed `input`; the data goes to `out`. `Err` on a malformed size.
    fn feed(&mut self, mut input: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), ()> {
        while !input.is_empty() {
            match &mut self.state {
                Chunk::Size | Chunk::Trailer => {
                    let b = input[0];
                    input = &input[1..];
                    if b != b'\n' {
                        if self.line.len() > 1024 {
                            return Err(());
                        }
                        self.line.push(b);
                        continue;
                    }
                    let line = core::str::from_utf8(&self.line).map_err(drop)?.trim_end_matches('\r');
                    let line = String::from(line);
                    self.line.clear();
                    self.state = match self.state {
                        Chunk::Trailer if line.is_empty() => Chunk::Done,
                        Chunk::Trailer => Chunk::Trailer,
                        _ => {
                            let hex = line.split(';').next().unwrap_or("").trim();
                            match u64::from_str_radix(hex, 16).map_err(drop)? {
                                0 => Chunk::Trailer,
                                n => Chunk::Data(n),
                            }
                        }
                    };
                }
                Chunk::Data(left) => {
                    let n = input.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    out(&input[..n]);
                    input = &input[n..];
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = Chunk::End(2);
                    }
                }
                Chunk::End(left) => {
                    input = &input[1..];
                    *left -= 1;
                    if *left == 0 {
                        self.state = Chunk::Size;
                    }
                }
                Chunk::Done => return Ok(()),
            }
        }
        Ok(())
    }
}

pub fn main(args: &[&str]) -> u8 {
    let (wait, args) = match args {
        ["-w", seconds, rest @ ..] => match seconds.parse::<u64>().ok().filter(|&s| s > 0) {
            Some(s) => (Some(Duration::from_secs(s)), rest),
            None => return report::usage("get", "bad -w"),
        },
        _ => (None, args),
    };
    let [url] = args else { return report::usage("get", "one URL expected") };
    let Some((host, port, path)) = parse_url(url) else {
        return report::usage("get", &format!("{url}: not an http:// URL"));
    };
    let fail = |what: &str| {
        eprintln!("get: {url}: {what}");
        FAILED
    };
    let mut conn = match net::connect(host, port) {
        Ok(conn) => conn,
        Err(err) => return fail(&format!("{err}")),
    };
    if let Err(err) = conn.set_read_timeout(wait) {
        return fail(&format!("{err}"));
    }
    let authority = if port == 80 { String::from(host) } else { format!("{host}:{port}") };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: ferrite-get/1\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    if let Err(err) = conn.write_all(request.as_bytes()) {
        return fail(&format!("{err}"));
    }
    // The head.
    let mut buf = Vec::new();
    let mut chunk = alloc::vec![0u8; 64 * 1024];
    let (head_len, code, reason, body) = loop {
        let n = match conn.read(&mut chunk) {
            Ok(0) => return fail("the connection ended before a response"),
            Ok(n) => n,
            Err(err) => return fail(&format!("{err}")),
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let code = response.code.unwrap_or(0);
                let reason = String::from(response.reason.unwrap_or(""));
                let header =
                    |name: &str| response.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value);
                let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
                let length = header("content-length")
                    .and_then(|v| core::str::from_utf8(v).ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                let body = match (chunked, length) {
                    (true, _) => Body::Chunked(Chunks { state: Chunk::Size, line: Vec::new() }),
                    (false, Some(n)) => Body::Length(n),
                    (false, None) => Body::ToEnd,
                };
                break (len, code, reason, body);
            }
            Ok(httparse::Status::Partial) if buf.len() < HEAD_MAX => {}
            Ok(httparse::Status::Partial) => return fail("response head too long"),
            Err(err) => return fail(&format!("bad response ({err})")),
        }
    };
    if !(200..300).contains(&code) {
        return fail(&format!("{code} {reason}"));
    }
    // The body: first what came with the head, then the rest.
    let mut body = body;
    let got = core::cell::Cell::new(0u64);
    // The first error writing standard output (a full disk): it ends the
    // download.
    let refused = core::cell::Cell::new(None);
    let mut first = buf.split_off(head_len);
    let mut out = |data: &[u8]| {
        got.set(got.get() + data.len() as u64);
        if refused.get().is_none()
            && let Err(err) = io::write_stdout(data)
        {
            refused.set(Some(err));
        }
    };
    loop {
        let done = match &mut body {
            Body::Length(n) => {
                let take = first.len().min(usize::try_from(n.saturating_sub(got.get())).unwrap_or(usize::MAX));
                out(&first[..take]);
                got.get() >= *n
            }
            Body::Chunked(chunks) => {
                if chunks.feed(&first, &mut out).is_err() {
                    return fail("bad chunked body");
                }
                matches!(chunks.state, Chunk::Done)
            }
            Body::ToEnd => {
                out(&first);
                false
            }
        };
        if let Some(err) = refused.get() {
            return fail(&format!("writing standard output: {err}"));
        }
        if done {
            return OK;
        }
        first.clear();
        match conn.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => first.extend_from_slice(&chunk[..n]),
            Err(err) if err.errno == ECONNRESET && matches!(body, Body::ToEnd) => break,
            Err(err) => return fail(&format!("{err}")),
        }
    }
    match body {
        Body::ToEnd => OK,
        Body::Length(n) => fail(&format!("the connection ended after {} of {n} bytes", got.get())),
        Body::Chunked(_) => fail("the connection ended inside the chunked body"),
    }
}
