//! `logd` serves `log:`, where daemons leave their logs: each write is
//! split into lines, and each line is kept with the time it arrived and
//! the writer's pid, `[  12.345678] pid 7: text`. Opening `log:` for
//! reading gives a snapshot of every kept line (`cat log:`). Lines are
//! kept up to [`CAPACITY`] bytes; the oldest go first, and a note says how
//! many were dropped. A partial line waits (per handle) for its newline,
//! or is kept as it is when the handle closes. Serves from the null
//! namespace.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use alloc::collections::VecDeque;

use rt::prelude::*;
use scheme::sc::{EBADF, ENOENT, MODE_CHR, O_ACCMODE, O_RDONLY};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Server, Stat};

extern crate alloc;

rt::main!(main);

/// Bytes of lines kept.
const CAPACITY: usize = 256 * 1024;
/// The longest line kept (longer ones are cut, and say so).
const LINE_MAX: usize = 1024;
/// The most bytes one write takes (a longer one is short: the writer
/// writes the rest), so one call cannot keep the daemon busy for long.
const WRITE_MAX: usize = 16 * 1024;

enum Handle {
    /// A reader's snapshot and how far it has read.
    Reader { text: Vec<u8>, offset: usize },
    /// A writer's unfinished line.
    Writer { pid: usize, partial: Vec<u8> },
}

struct Log {
    lines: VecDeque<String>,
    bytes: usize,
    dropped: usize,
    handles: Handles<Handle>,
}

impl Log {
    fn keep(&mut self, pid: usize, text: &[u8]) {
        let now = rt::time::now();
        let cut = text.len() > LINE_MAX;
        let text = String::from_utf8_lossy(&text[..text.len().min(LINE_MAX)]);
        let line = format!(
            "[{:5}.{:06}] pid {pid}: {text}{}\n",
            now.as_secs(),
            now.subsec_micros(),
            if cut { " [cut]" } else { "" }
        );
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.bytes > CAPACITY {
            let Some(old) = self.lines.pop_front() else { break };
            self.bytes -= old.len();
            self.dropped += 1;
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut text = Vec::with_capacity(self.bytes + 64);
        if self.dropped > 0 {
            text.extend_from_slice(format!("({} older lines dropped)\n", self.dropped).as_bytes());
        }
        for line in &self.lines {
            text.extend_from_slice(line.as_bytes());
        }
        text
    }
}

impl Scheme for Log {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        if !path.is_empty() {
            return Err(Error::new(ENOENT));
        }
        let handle = if flags & O_ACCMODE == O_RDONLY {
            Handle::Reader { text: self.snapshot(), offset: 0 }
        } else {
            Handle::Writer { pid: caller.pid, partial: Vec::new() }
        };
        Ok(Opened::Handle(self.handles.insert(handle)))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        match self.handles.get_mut(handle) {
            Ok(Handle::Reader { text, offset }) => {
                let n = buf.len().min(text.len() - *offset);
                buf[..n].copy_from_slice(&text[*offset..*offset + n]);
                *offset += n;
                Ok(n)
            }
            _ => Err(Error::new(EBADF)),
        }
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let Ok(Handle::Writer { pid, partial }) = self.handles.get_mut(handle) else {
            return Err(Error::new(EBADF));
        };
        let pid = *pid;
        let buf = &buf[..buf.len().min(WRITE_MAX)];
        partial.extend_from_slice(buf);
        let mut complete = Vec::new();
        while let Some(end) = partial.iter().position(|&b| b == b'\n') {
            complete.push(partial.drain(..=end).take(end).collect::<Vec<u8>>());
        }
        if partial.len() > LINE_MAX {
            complete.push(core::mem::take(partial));
        }
        for line in complete {
            self.keep(pid, &line);
        }
        Ok(buf.len())
    }

    fn close(&mut self, handle: usize) {
        if let Some(Handle::Writer { pid, partial }) = self.handles.remove(handle)
            && !partial.is_empty()
        {
            self.keep(pid, &partial);
        }
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        let handle = self.handles.get(handle)?;
        stat.st_mode = MODE_CHR | 0o666;
        if let Handle::Reader { text, .. } = handle {
            stat.st_size = text.len() as u64;
        }
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        self.handles.get(handle).map(|_| String::new())
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        self.handles.get(handle).map(|_| interest)
    }
}

fn main() -> Result<()> {
    let log = Log { lines: VecDeque::new(), bytes: 0, dropped: 0, handles: Handles::new() };
    let mut server = Server::new("log", log)?;
    server.confine()?;
    server.ready();
    server.run()
}
