//! The interactive shell, driven through a scripted console: a scheme
//! daemon forked by the test (`fakecon:`) that answers like the consoles
//! (`dup(fd, "mode")`, `dup(fd, "pgrp")`), feeds `sh` typed input one
//! chunk per read, and records everything the shell writes: echo and
//! prompts, mode switches and foreground groups. The test then reads the
//! record from `fakecon:record` and checks the session.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rt::abi::syscall as sc;
use rt::fs::File;
use scheme::{Caller, Opened, Scheme};

use crate::support::{Outcome, WAIT, ensure, fork_child, kill_and_reap, ok, wait_for, wait_until};

/// What each handle of the console is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Terminal,
    Mode,
    Group,
    Record,
}

/// One thing the shell did to the console, in order.
struct FakeConsole {
    input: VecDeque<&'static [u8]>,
    handles: BTreeMap<usize, Kind>,
    next: usize,
    /// Lines: `out TEXT` for terminal output (escaped), `mode M`, `pgrp N`.
    record: String,
    /// How far the `record` handle has read.
    record_read: usize,
}

impl FakeConsole {
    fn kind(&self, handle: usize) -> scheme::Result<Kind> {
        self.handles.get(&handle).copied().ok_or(rt::Error::new(sc::EBADF))
    }

    fn insert(&mut self, kind: Kind) -> Opened {
        self.next += 1;
        self.handles.insert(self.next, kind);
        Opened::Handle(self.next)
    }
}

impl Scheme for FakeConsole {
    fn open(&mut self, path: &str, _flags: usize, _caller: &Caller) -> scheme::Result<Opened> {
        match path {
            "" => Ok(self.insert(Kind::Terminal)),
            "record" => Ok(self.insert(Kind::Record)),
            _ => Err(rt::Error::new(sc::ENOENT)),
        }
    }

    fn dup(&mut self, handle: usize, name: &[u8], _caller: &Caller) -> scheme::Result<Opened> {
        match (self.kind(handle)?, name) {
            (Kind::Terminal, b"mode") => Ok(self.insert(Kind::Mode)),
            (Kind::Terminal, b"pgrp") => Ok(self.insert(Kind::Group)),
            _ => Err(rt::Error::new(sc::EINVAL)),
        }
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> scheme::Result<usize> {
        match self.kind(handle)? {
            // One typed chunk per read; end of input when the script ends.
            Kind::Terminal => {
                let Some(chunk) = self.input.pop_front() else { return Ok(0) };
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                Ok(n)
            }
            Kind::Record => {
                let rest = &self.record.as_bytes()[self.record_read..];
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                self.record_read += n;
                Ok(n)
            }
            Kind::Mode | Kind::Group => Err(rt::Error::new(sc::EBADF)),
        }
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> scheme::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let line = match self.kind(handle)? {
            Kind::Terminal => format!("out {}\n", text.escape_debug()),
            Kind::Mode => format!("mode {text}\n"),
            Kind::Group => format!("pgrp {text}\n"),
            Kind::Record => return Err(rt::Error::new(sc::EBADF)),
        };
        self.record.push_str(&line);
        Ok(buf.len())
    }

    fn close(&mut self, handle: usize) {
        self.handles.remove(&handle);
    }
}

/// What is typed, one read each: a command; an edit (Left, Backspace,
/// insert); history Up; a line cancelled with Ctrl-C; two lines at once
/// (pasted); a cd; exit.
const TYPED: &[&[u8]] = &[
    b"echo hi\r",
    b"echo ab\x1b[D\x7fX\r",
    b"\x1b[A\r",
    b"junk\x03",
    b"echo one\recho two\r",
    b"cd initfs:bin\r",
    b"exit 5\r",
];

pub fn interactive_shell_on_a_console() -> Outcome {
    let daemon = fork_child(|| {
        let console = FakeConsole {
            input: TYPED.iter().copied().collect(),
            handles: BTreeMap::new(),
            next: 0,
            record: String::new(),
            record_read: 0,
        };
        match scheme::Server::new("fakecon", console).and_then(|mut server| server.run()) {
            Ok(()) => 0,
            Err(err) => {
                rt::eprintln!("fakecon: {err}");
                1
            }
        }
    })?;
    let result = session();
    kill_and_reap(daemon);
    result
}

fn session() -> Outcome {
    ensure!(wait_until(WAIT, || File::open("fakecon:record").is_ok()), "fakecon: never served");
    let terminal = ok("open fakecon:", File::open_with("fakecon:", sc::O_RDWR))?;
    let pid = fork_child(|| {
        for fd in 0..3 {
            if rt::sys::dup2(terminal.fd(), fd, &[]).is_err() {
                return 120;
            }
        }
        let err = rt::process::exec("initfs:bin/sh", &[], &["PATH=initfs:bin"]);
        rt::eprintln!("exec sh: {err}");
        121
    })?;
    drop(terminal);
    let status = wait_for(pid, WAIT)?;
    let record = ok("read fakecon:record", rt::fs::read_to_string("fakecon:record"))?;
    ensure!(status.code() == Some(5), "sh ended with {status}, not exit 5; record:\n{record}");
    let out: String = record.lines().filter_map(|line| line.strip_prefix("out ")).collect();
    for want in
        ["initfs: $ ", "echo hi\\n", "hi\\n", "Xb\\n", "^C\\n", "one\\ninitfs: $ echo two\\ntwo\\n", "initfs:bin $ "]
    {
        ensure!(out.contains(want), "the console never showed {want:?}: {out:?}");
    }
    ensure!(out.matches("Xb\\n").count() == 2, "history Up did not run `echo Xb` again: {out:?}");
    ensure!(!out.contains("junk\\n"), "the cancelled line ran: {out:?}");
    let modes: Vec<&str> = record.lines().filter_map(|line| line.strip_prefix("mode ")).collect();
    ensure!(modes.first() == Some(&"raw") && modes.last() == Some(&"cooked"), "modes {modes:?}");
    ensure!(modes.windows(2).any(|w| w == ["cooked", "raw"]), "never back to raw after a job: {modes:?}");
    // The shell's group first, each job's own group while it runs, then
    // the shell's again.
    let groups: Vec<usize> = record.lines().filter_map(|line| line.strip_prefix("pgrp ")?.parse().ok()).collect();
    let shell_group = *groups.first().ok_or_else(|| format!("no foreground group written: {record}"))?;
    ensure!(shell_group == pid, "the shell's group is {shell_group}, not its pid {pid}");
    let jobs: Vec<usize> = groups.iter().copied().filter(|&g| g != shell_group).collect();
    ensure!(jobs.len() == 5, "5 jobs (echo x5) should each have had the foreground: {groups:?}");
    ensure!(jobs.windows(2).all(|w| w[0] != w[1]), "two jobs shared a group: {groups:?}");
    ensure!(groups.last() == Some(&shell_group), "the shell did not take the foreground back: {groups:?}");
    Ok(format!("{} bytes of echo and prompts, modes {}, groups {groups:?}", out.len(), modes.len()))
}
