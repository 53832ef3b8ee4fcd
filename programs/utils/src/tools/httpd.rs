//! `httpd [-q] DIR [PORT]`: serve the files under DIR (any scheme's
//! directory: `file:/www`, `initfs:`) over HTTP/1.1 on PORT (80), to many
//! clients at once: one `event:` queue watches the listener (one accept
//! per readiness event: `netd` reports it again while connections wait), every
//! connection (all non-blocking, so a slow client never holds up another;
//! for writability only while a response waits for room) and a `time:`
//! timer for idle connections.
//!
//! `GET` and `HEAD`; a directory gives its `index.html` or a listing; a
//! path with `..` gives 403, a missing file 404, another method 405.
//! Connections persist (HTTP/1.1 keep-alive): after a response the next
//! request is read from the same connection, unless the client sent
//! `Connection: close`, spoke HTTP/1.0 without `Connection: keep-alive`,
//! or sent a malformed request; a connection that stays silent (or does
//! not take its response) for [`IDLE`] is closed. Each request is logged
//! on standard output, `httpd: 10.0.2.2:41234 GET /index.html 200 1234`,
//! unless `-q` is given (a log line per request costs a console write,
//! which a benchmark would measure); a connection that fails (a read or
//! write error, not the client's close) is reported on standard error
//! either way.
//!
//! May touch: the directory it serves (read only), its listener, its
//! connections, its timer.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use core::time::Duration;

use rt::abi::syscall::{self as sc, EACCES, EAGAIN, ENOENT, Event, EventFlags};
use rt::batch::{Batch, On};
use rt::event::EventQueue;
use rt::fs::{File, SeekFrom};
use rt::{eprintln, println};

use crate::report::{self, FAILED};
use crate::stream;

/// Bytes of a request head at most.
const HEAD_MAX: usize = 16 * 1024;
/// Event data of the listener and of the idle timer; connections are
/// numbered from 2.
const LISTENER: usize = 0;
const TIMER: usize = 1;
/// How long a connection may make no progress before it is closed.
pub const IDLE: Duration = Duration::from_secs(15);

enum Stage {
    /// Reading a request head (bytes a client sent ahead included).
    Head(Vec<u8>),
    /// Sending: `out` (head, then file chunks) from `at`, then the rest of
    /// `body`; then, if `keep`, reading the next request, starting with
    /// `ahead` (what the client sent after this request's head).
    Send { out: Vec<u8>, at: usize, body: Option<File>, keep: bool, ahead: Vec<u8> },
}

struct Conn {
    file: File,
    peer: String,
    stage: Stage,
    /// When it last made progress (the monotonic clock).
    last: Duration,
    /// Its `event:` watch: none until it first has to wait (a request
    /// that came with the connection is answered without one: watching
    /// asks `netd` what is ready, a round trip), then whether it includes
    /// writability (only while a write waits for room: a connection that
    /// can write is otherwise reported after every write, and each report
    /// is a wake-up for nothing).
    watching: Option<bool>,
}

impl Conn {
    /// The peer's address, or (under `-q`, which does not ask `netd` for
    /// it) "a connection".
    fn name(&self) -> &str {
        if self.peer.is_empty() { "a connection" } else { &self.peer }
    }
}

/// Why [`advance`] stopped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// The connection is done with: close it.
    Done,
    /// For the client to send more.
    Read,
    /// For room to send more.
    Write,
}

/// Whether a request keeps its connection open: the `Connection` header's
/// `close` or `keep-alive` token decides, else the version (HTTP/1.1 and
/// later persist, HTTP/1.0 does not).
pub fn keeps_alive(minor_version: u8, connection: Option<&[u8]>) -> bool {
    let has = |token: &str| {
        connection.is_some_and(|value| {
            value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    if has("close") {
        false
    } else if has("keep-alive") {
        true
    } else {
        minor_version >= 1
    }
}

fn connection_header(keep: bool) -> &'static str {
    if keep { "keep-alive" } else { "close" }
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
fn page(code: u16, kind: &str, text: &str, head_only: bool, keep: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: {}\r\nServer: ferrite-httpd\r\n\r\n",
        status_text(code),
        text.len(),
        connection_header(keep)
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(text.as_bytes());
    }
    out
}

fn error_page(code: u16, head_only: bool, keep: bool) -> (u16, Vec<u8>, Option<File>, u64) {
    let text = format!("{code} {}\n", status_text(code));
    (code, page(code, "text/plain; charset=utf-8", &text, head_only, keep), None, text.len() as u64)
}

/// The response to `method path`: status, what to send first, the file to
/// send after it, and the body's length.
fn respond(root: &str, method: &str, target: &str, keep: bool, first: &mut [u8]) -> (u16, Vec<u8>, Option<File>, u64) {
    let head_only = method == "HEAD";
    let error_page = |code, head_only| error_page(code, head_only, keep);
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
    let first = if head_only { &mut first[..0] } else { first };
    let mut peeked = match peek(&url, first) {
        Ok(p) => p,
        Err(err) => return error_page(if err.errno == EACCES { 403 } else { 404 }, head_only),
    };
    if peeked.stat.st_mode & sc::MODE_TYPE == sc::MODE_DIR {
        let index = join(&format!("{}{}index.html", rel, if rel.is_empty() || rel.ends_with('/') { "" } else { "/" }));
        match peek(&index, first) {
            Ok(p) if p.stat.st_mode & sc::MODE_TYPE != sc::MODE_DIR => {
                peeked = p;
                url = index;
            }
            _ => {
                let mut names = String::new();
                if let Ok(mut dir) = File::open(&url) {
                    let _ = dir.read_to_string(&mut names);
                }
                let base = if path.ends_with('/') { path.clone() } else { format!("{path}/") };
                let items: String =
                    names.lines().map(|n| format!("<li><a href=\"{base}{n}\">{n}</a></li>\n")).collect();
                let html = format!(
                    "<!DOCTYPE html>\n<html><head><title>{path}</title></head><body>\n<h1>{path} on Ferrite</h1>\n<ul>\n{items}</ul>\n</body></html>\n"
                );
                return (200, page(200, "text/html; charset=utf-8", &html, head_only, keep), None, html.len() as u64);
            }
        }
    }
    let size = peeked.stat.st_size;
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {size}\r\nConnection: {}\r\nServer: ferrite-httpd\r\n\r\n",
        content_type(&url),
        connection_header(keep)
    )
    .into_bytes();
    if head_only {
        return (200, out, None, size);
    }
    // The body's first part goes out with the head, in one write: a small
    // file is then one write, not two (the second of which TCP may hold
    // back, Nagle). A file longer than that is opened again for the rest.
    out.extend_from_slice(&first[..peeked.read]);
    let rest = if (peeked.read as u64) < size {
        let mut file = match File::open(&url) {
            Ok(file) => file,
            Err(_) => return error_page(500, false),
        };
        if file.seek(SeekFrom::Start(peeked.read as u64)).is_err() {
            return error_page(500, false);
        }
        Some(file)
    } else {
        None
    };
    (200, out, rest, size)
}

/// Bytes of a file read with its status: as much as fits one chain request
/// with the open, the `fstat` and the close (docs/architecture.md §3.11),
/// so a page up to that size is one request to the daemon.
const FIRST: usize = rt::batch::CHAIN_READ;

/// A file's status and first bytes.
struct Peeked {
    stat: sc::Stat,
    /// Bytes read into the buffer (0 for a directory a scheme will not read).
    read: usize,
}

/// Open `url`, take its status, read its first bytes into `first` and
/// close it, in one system call (`rt::batch`): on a scheme daemon, one
/// trip there instead of four, which is most of what a small page costs.
fn peek(url: &str, first: &mut [u8]) -> rt::Result<Peeked> {
    let mut stat = sc::Stat::default();
    let mut batch = Batch::new();
    batch.open(url, sc::O_RDONLY);
    batch.fstat(On::Opened, &mut stat);
    batch.read(On::Opened, first);
    batch.close(On::Opened);
    let results = batch.submit()?;
    let fd = results[0]?;
    if results[3].is_err() {
        // A failure ended the batch before its close.
        drop(File::from_fd(fd));
    }
    results[1]?;
    let read = match results[2] {
        Ok(n) => n,
        Err(_) if stat.st_mode & sc::MODE_TYPE == sc::MODE_DIR => 0,
        Err(err) => return Err(err),
    };
    Ok(Peeked { stat, read })
}

/// What to answer to the request head at the start of `buf`, if `buf`
/// holds a whole one: the status, what to send first, the file to send
/// after it, the body's length, whether the connection persists, the
/// request line (for the log) and the head's length. `None` while more
/// bytes are needed.
#[allow(clippy::type_complexity)]
fn answer(root: &str, buf: &[u8], first: &mut [u8]) -> Option<(u16, Vec<u8>, Option<File>, u64, bool, String, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let connection =
                request.headers.iter().find(|h| h.name.eq_ignore_ascii_case("connection")).map(|h| h.value);
            let keep = keeps_alive(request.version.unwrap_or(0), connection);
            let method = request.method.unwrap_or("");
            let target = request.path.unwrap_or("/");
            let (code, out, body, size) = respond(root, method, target, keep, first);
            Some((code, out, body, size, keep, format!("{method} {target}"), len))
        }
        Ok(httparse::Status::Partial) if buf.len() < HEAD_MAX => None,
        _ => {
            let (code, out, body, size) = error_page(400, false, false);
            Some((code, out, body, size, false, String::from("? ?"), buf.len()))
        }
    }
}

/// Buffers every connection uses in turn, made (and zeroed) once: a
/// request's read and a file's first bytes. Zeroing new ones for every
/// request was about a fifth of httpd's instructions for a small page
/// (`cargo mk bench --profile-net`).
struct Scratch {
    /// What a read of the request takes at most.
    chunk: Vec<u8>,
    /// What [`peek`] reads of a file.
    first: Vec<u8>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch { chunk: alloc::vec![0; 4096], first: alloc::vec![0; FIRST] }
    }
}

/// Move `conn` on as far as it goes without waiting.
fn advance(root: &str, conn: &mut Conn, quiet: bool, scratch: &mut Scratch) -> Wait {
    // A read of this call left room in its buffer: `netd` had nothing
    // more then and reports what comes after, so once the response is out
    // a read would find nothing. (Only within one call: an event that came
    // meanwhile, while a response waited for room, is used up by then.)
    let mut drained = false;
    loop {
        match &mut conn.stage {
            Stage::Head(buf) => {
                if let Some((code, out, body, size, keep, request, len)) = answer(root, buf, &mut scratch.first) {
                    if !quiet {
                        println!("httpd: {} {request} {code} {size}", conn.peer);
                    }
                    let ahead = buf.split_off(len.min(buf.len()));
                    conn.stage = Stage::Send { out, at: 0, body, keep, ahead };
                    continue;
                }
                if drained {
                    return Wait::Read;
                }
                let chunk = &mut scratch.chunk;
                match conn.file.read(chunk) {
                    Ok(0) => return Wait::Done,
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        drained = n < chunk.len();
                    }
                    Err(err) if err.errno == EAGAIN => return Wait::Read,
                    Err(err) => {
                        eprintln!("httpd: {}: reading a request: {err}", conn.name());
                        return Wait::Done;
                    }
                }
            }
            Stage::Send { out, at, body, keep, ahead } => {
                if *at == out.len() {
                    // Sent: the buffer takes the next chunk (its old bytes
                    // are read over; only the growth is zeroed).
                    *at = 0;
                    let Some(file) = body else {
                        if *keep {
                            conn.stage = Stage::Head(core::mem::take(ahead));
                            continue;
                        }
                        // All sent: closing the connection ends it after
                        // what was written (netd's close is graceful; an
                        // `ftruncate` first was a round trip for nothing).
                        return Wait::Done;
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
                    Err(err) if err.errno == EAGAIN => return Wait::Write,
                    Err(err) => {
                        eprintln!("httpd: {}: sending a response: {err}", conn.name());
                        return Wait::Done;
                    }
                }
            }
        }
    }
}

/// The connections and the timer that closes the idle ones.
struct Conns {
    queue: EventQueue,
    timer: File,
    /// When the timer fires, if it is armed.
    armed: Option<Duration>,
    conns: BTreeMap<usize, Conn>,
    scratch: Scratch,
}

impl Conns {
    /// Move connection `id` on; close it when done, else watch what it
    /// waits for.
    fn advance(&mut self, id: usize, root: &str, quiet: bool) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        let wait = advance(root, conn, quiet, &mut self.scratch);
        let writes = wait == Wait::Write;
        let mut watched = true;
        if wait != Wait::Done && conn.watching != Some(writes) {
            let mut flags = EventFlags::EVENT_READ;
            flags.set(EventFlags::EVENT_WRITE, writes);
            conn.watching = Some(writes);
            watched = self.queue.watch(conn.file.fd(), flags, id).is_ok();
        }
        if wait == Wait::Done || !watched {
            self.close(id);
        }
    }

    /// Takes the next connection waiting on `listener` as `id` and moves it
    /// on (its request has often come with it: then it is answered before
    /// it is ever watched); whether there was one.
    fn accept(&mut self, listener: &File, url: &str, id: usize, now: Duration, root: &str, quiet: bool) -> bool {
        let file = match listener.derive("listen") {
            Ok(f) => f,
            Err(err) if err.errno == EAGAIN || err.errno == ENOENT => return false,
            Err(err) => {
                report::error("httpd", url, err);
                return false;
            }
        };
        if file.set_nonblocking(true).is_err() {
            return false;
        }
        // Only a logged request names its peer (asking netd is a scheme
        // call).
        let peer = if quiet {
            String::new()
        } else {
            let path = file.path().unwrap_or_default();
            String::from(path.trim_start_matches("tcp:").split('/').next().unwrap_or(""))
        };
        let conn = Conn { file, peer, stage: Stage::Head(Vec::new()), last: now, watching: None };
        self.conns.insert(id, conn);
        self.advance(id, root, quiet);
        true
    }

    fn close(&mut self, id: usize) {
        if let Some(conn) = self.conns.remove(&id)
            && conn.watching.is_some()
        {
            let _ = self.queue.unwatch(conn.file.fd());
        }
    }

    /// Closes the connections idle for [`IDLE`] and arms the timer for the
    /// next one that may become so.
    fn sweep(&mut self, now: Duration) {
        let idle: Vec<usize> =
            self.conns.iter().filter(|(_, c)| now.saturating_sub(c.last) >= IDLE).map(|(id, _)| *id).collect();
        for id in idle {
            self.close(id);
        }
        let next = self.conns.values().map(|c| c.last + IDLE).min();
        if let Some(at) = next
            && self.armed.is_none_or(|armed| armed > at)
            && self.timer.write_all(&rt::time::timespec(at)).is_ok()
        {
            self.armed = Some(at);
        }
    }
}

pub fn main(args: &[&str]) -> u8 {
    let (quiet, args) = match args {
        ["-q", rest @ ..] => (true, rest),
        _ => (false, args),
    };
    let (root, port) = match args {
        [root] if !root.starts_with('-') => (*root, 80u16),
        [root, port] if !root.starts_with('-') => match port.parse::<u16>() {
            Ok(p) if p > 0 => (*root, p),
            _ => return report::usage("httpd", "bad port"),
        },
        _ => return report::usage("httpd", "bad arguments"),
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
    let timer = match File::open_with("time:4", sc::O_RDWR | sc::O_NONBLOCK | sc::O_CLOEXEC) {
        Ok(t) => t,
        Err(err) => {
            report::error("httpd", "time:4", err);
            return FAILED;
        }
    };
    for (fd, data) in [(listener.fd(), LISTENER), (timer.fd(), TIMER)] {
        if let Err(err) = queue.watch(fd, EventFlags::EVENT_READ, data) {
            report::error("httpd", "event:", err);
            return FAILED;
        }
    }
    println!("httpd: serving {root} on port {port}");
    let mut all = Conns { queue, timer, armed: None, conns: BTreeMap::new(), scratch: Scratch::new() };
    let mut next = TIMER + 1;
    let mut events = [Event::default(); 32];
    loop {
        let n = match all.queue.wait(&mut events) {
            Ok(n) => n,
            Err(err) if err.errno == sc::EINTR => continue,
            Err(err) => {
                report::error("httpd", "event:", err);
                return FAILED;
            }
        };
        let now = rt::time::now();
        for event in &events[..n] {
            if event.data == TIMER {
                // Disarms it once its time passed (EAGAIN before).
                if all.timer.read(&mut [0u8; 16]).is_ok() {
                    all.armed = None;
                }
            } else if event.data == LISTENER {
                // One connection per event: `netd` reports the listener
                // again after an accept that leaves more waiting, so an
                // accept until `EAGAIN` would end in a round trip for
                // nothing.
                let id = next;
                if all.accept(&listener, &url, id, now, &root, quiet) {
                    next += 1;
                }
            } else if let Some(conn) = all.conns.get_mut(&event.data) {
                conn.last = now;
                all.advance(event.data, &root, quiet);
            }
        }
        all.sweep(now);
    }
}
