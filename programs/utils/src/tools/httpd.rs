//! `httpd DIR [PORT]`: serve the files under DIR (any scheme's directory:
//! `file:/www`, `initfs:`) over HTTP/1.1 on PORT (80), to many clients at
//! once: one `event:` queue watches the listener and every connection, all
//! non-blocking, so a slow client never holds up another.
//!
//! `GET` and `HEAD`; a directory gives its `index.html` or a listing; a
//! path with `..` gives 403, a missing file 404, another method 405. One
//! request per connection (`Connection: close`). Each request is logged
//! on standard output: `httpd: 10.0.2.2:41234 GET /index.html 200 1234`.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rt::abi::syscall::{self as sc, EACCES, EAGAIN, ENOENT, Event, EventFlags};
use rt::event::EventQueue;
use rt::fs::File;
use rt::println;

use crate::report::{self, FAILED};
use crate::stream;

const USAGE: &str = "httpd DIR [PORT]";
/// Bytes of a request head at most.
const HEAD_MAX: usize = 16 * 1024;
/// Event data of the listener; connections are numbered from 1.
const LISTENER: usize = 0;

enum Stage {
    /// Reading the request head.
    Head(Vec<u8>),
    /// Sending: `out` (head, then file chunks) from `at`, then the rest of `body`.
    Send { out: Vec<u8>, at: usize, body: Option<File> },
}

struct Conn {
    file: File,
    peer: String,
    stage: Stage,
}

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "md" | "rc" | "session") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// `%XX` decoded; `None` when that is not UTF-8.
fn decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = core::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A whole response whose body is `text`.
fn page(code: u16, kind: &str, text: &str, head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\nServer: ferrite-httpd\r\n\r\n",
        status_text(code),
        text.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(text.as_bytes());
    }
    out
}

fn error_page(code: u16, head_only: bool) -> (u16, Vec<u8>, Option<File>, u64) {
    let text = format!("{code} {}\n", status_text(code));
    (code, page(code, "text/plain; charset=utf-8", &text, head_only), None, text.len() as u64)
}

/// The response to `method path`: status, what to send first, the file to
/// send after it, and the body's length.
fn respond(root: &str, method: &str, target: &str) -> (u16, Vec<u8>, Option<File>, u64) {
    let head_only = method == "HEAD";
    if method != "GET" && method != "HEAD" {
        return error_page(405, head_only);
    }
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let Some(path) = decode(path) else { return error_page(400, head_only) };
    if !path.starts_with('/') {
        return error_page(400, head_only);
    }
    if path.split('/').any(|c| c == "..") {
        return error_page(403, head_only);
    }
    let rel = path.trim_start_matches('/');
    let join = |rel: &str| {
        if rel.is_empty() {
            String::from(root)
        } else if root.ends_with(':') || root.ends_with('/') {
            format!("{root}{rel}")
        } else {
            format!("{root}/{rel}")
        }
    };
    let mut url = join(rel);
    let mut file = match File::open(&url) {
        Ok(file) => file,
        Err(err) => return error_page(if err.errno == EACCES { 403 } else { 404 }, head_only),
    };
    if stream::is_dir(&file) {
        let index = join(&format!("{}{}index.html", rel, if rel.is_empty() || rel.ends_with('/') { "" } else { "/" }));
        match File::open(&index) {
            Ok(f) => {
                file = f;
                url = index;
            }
            Err(_) => {
                let mut names = String::new();
                let _ = file.read_to_string(&mut names);
                let base = if path.ends_with('/') { path.clone() } else { format!("{path}/") };
                let items: String =
                    names.lines().map(|n| format!("<li><a href=\"{base}{n}\">{n}</a></li>\n")).collect();
                let html = format!(
                    "<!DOCTYPE html>\n<html><head><title>{path}</title></head><body>\n<h1>{path} on Ferrite</h1>\n<ul>\n{items}</ul>\n</body></html>\n"
                );
                return (200, page(200, "text/html; charset=utf-8", &html, head_only), None, html.len() as u64);
            }
        }
    }
    let size = file.stat().map(|s| s.st_size).unwrap_or(0);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {size}\r\nConnection: close\r\nServer: ferrite-httpd\r\n\r\n",
        content_type(&url)
    );
    (200, head.into_bytes(), if head_only { None } else { Some(file) }, size)
}

/// Move `conn` on as far as it goes without waiting; `true` when done.
fn advance(root: &str, conn: &mut Conn) -> bool {
    loop {
        match &mut conn.stage {
            Stage::Head(buf) => {
                let mut chunk = [0u8; 4096];
                match conn.file.read(&mut chunk) {
                    Ok(0) => return true,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(err) if err.errno == EAGAIN => return false,
                    Err(_) => return true,
                }
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut request = httparse::Request::new(&mut headers);
                let (code, out, body, len, method, target) = match request.parse(buf) {
                    Ok(httparse::Status::Complete(_)) => {
                        let method = String::from(request.method.unwrap_or(""));
                        let target = String::from(request.path.unwrap_or("/"));
                        let (code, out, body, len) = respond(root, &method, &target);
                        (code, out, body, len, method, target)
                    }
                    Ok(httparse::Status::Partial) if buf.len() < HEAD_MAX => continue,
                    _ => {
                        let (code, out, body, len) = error_page(400, false);
                        (code, out, body, len, String::from("?"), String::from("?"))
                    }
                };
                println!("httpd: {} {method} {target} {code} {len}", conn.peer);
                conn.stage = Stage::Send { out, at: 0, body };
            }
            Stage::Send { out, at, body } => {
                if *at == out.len() {
                    out.clear();
                    *at = 0;
                    let Some(file) = body else {
                        // All sent: end our side; closing finishes it.
                        let _ = conn.file.set_len(0);
                        return true;
                    };
                    out.resize(stream::CHUNK * 4, 0);
                    match file.read(out) {
                        Ok(0) | Err(_) => {
                            out.clear();
                            *body = None;
                        }
                        Ok(n) => out.truncate(n),
                    }
                    continue;
                }
                match conn.file.write(&out[*at..]) {
                    Ok(n) => *at += n,
                    Err(err) if err.errno == EAGAIN => return false,
                    Err(_) => return true,
                }
            }
        }
    }
}

pub fn main(args: &[&str]) -> u8 {
    let (root, port) = match args {
        [root] if !root.starts_with('-') => (*root, 80u16),
        [root, port] if !root.starts_with('-') => match port.parse::<u16>() {
            Ok(p) if p > 0 => (*root, p),
            _ => return report::usage("httpd", "bad port", USAGE),
        },
        _ => return report::usage("httpd", "bad arguments", USAGE),
    };
    let root = rt::fs::resolve(root);
    match File::open(&root) {
        Ok(dir) if stream::is_dir(&dir) => {}
        Ok(_) => {
            report::error("httpd", &root, rt::Error::new(sc::ENOTDIR));
            return FAILED;
        }
        Err(err) => {
            report::error("httpd", &root, err);
            return FAILED;
        }
    }
    let url = format!("tcp::{port}");
    let listener = match File::open_with(&url, sc::O_RDWR | sc::O_CREAT | sc::O_NONBLOCK | sc::O_CLOEXEC) {
        Ok(l) => l,
        Err(err) => {
            report::error("httpd", &url, err);
            return FAILED;
        }
    };
    let queue = match EventQueue::new() {
        Ok(q) => q,
        Err(err) => {
            report::error("httpd", "event:", err);
            return FAILED;
        }
    };
    if let Err(err) = queue.watch(listener.fd(), EventFlags::EVENT_READ, LISTENER) {
        report::error("httpd", "event:", err);
        return FAILED;
    }
    println!("httpd: serving {root} on port {port}");
    let mut conns: BTreeMap<usize, Conn> = BTreeMap::new();
    let mut next = 1usize;
    let mut events = [Event::default(); 32];
    loop {
        let n = match queue.wait(&mut events) {
            Ok(n) => n,
            Err(err) if err.errno == sc::EINTR => continue,
            Err(err) => {
                report::error("httpd", "event:", err);
                return FAILED;
            }
        };
        for event in &events[..n] {
            if event.data == LISTENER {
                loop {
                    let file = match listener.derive("listen") {
                        Ok(f) => f,
                        Err(err) if err.errno == EAGAIN => break,
                        Err(err) if err.errno == ENOENT => break,
                        Err(err) => {
                            report::error("httpd", &url, err);
                            break;
                        }
                    };
                    if file.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let path = file.path().unwrap_or_default();
                    let peer = String::from(path.trim_start_matches("tcp:").split('/').next().unwrap_or(""));
                    let id = next;
                    next += 1;
                    let flags = EventFlags::EVENT_READ | EventFlags::EVENT_WRITE;
                    if queue.watch(file.fd(), flags, id).is_err() {
                        continue;
                    }
                    let mut conn = Conn { file, peer, stage: Stage::Head(Vec::new()) };
                    if !advance(&root, &mut conn) {
                        conns.insert(id, conn);
                    }
                }
            } else if let Some(conn) = conns.get_mut(&event.data)
                && advance(&root, conn)
                && let Some(conn) = conns.remove(&event.data)
            {
                let _ = queue.unwatch(conn.file.fd());
            }
        }
    }
}
