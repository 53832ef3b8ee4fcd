//! The private console: `fuzzcon:`, the terminal scheme of `lib/console`
//! (the code behind `serial:` and `fbcon:`) on a device of its own, so the
//! children can fuzz the consoles' scheme code without touching the real
//! ones (whose output the harness reads and into which it types).
//!
//! Its "screen" throws output away; its "keyboard" is a pipe whose write
//! end this process keeps and the children inherit: the fuzzer types
//! random keys into it (Enter, Backspace, Ctrl-C/D/U, escape sequences,
//! bytes of any value) and children's random writes may land there too.
//! It registers as root, then becomes user 65533 (no other process has
//! it, so a Ctrl-C sent to whatever group a child set with `pgrp` signals
//! nothing but, at worst, itself), puts its output on `null:` and enters
//! the null namespace. If it ends, the fuzzer starts another.
//!
//! May touch: its scheme socket, the pipe, `null:` (before it drops it).

use console::{Console, Daemon, InputSource, Terminal};
use rt::abi::syscall::{EAGAIN, O_RDWR};
use rt::fs::File;
use rt::process::Fork;
use xorshift::Rng;

/// The user the console runs as: nobody else's.
const USER: u32 = 65533;

/// The console's screen: output is dropped.
struct Screen;

impl Terminal for Screen {
    fn output(&mut self, _bytes: &[u8]) {}

    fn size(&self) -> (usize, usize) {
        (80, 24)
    }
}

/// The console's keyboard: the read end of the pipe.
struct Keyboard {
    pipe: File,
}

impl InputSource<Screen> for Keyboard {
    fn fds(&self) -> alloc::vec::Vec<usize> {
        alloc::vec![self.pipe.fd()]
    }

    fn ready(&mut self, _fd: usize, console: &mut Console<Screen>) -> rt::Result<()> {
        let mut typed = [0u8; 256];
        loop {
            match self.pipe.read(&mut typed) {
                Ok(0) => return Err(rt::Error::new(rt::abi::syscall::EPIPE)),
                Ok(n) => console.input(&typed[..n]),
                Err(err) if err.errno == EAGAIN => return Ok(()),
                Err(err) => return Err(err),
            }
        }
    }
}

/// The running console and the keyboard's write end.
pub struct PrivateConsole {
    pid: usize,
    keys: File,
    /// How many times it was started.
    pub starts: u32,
}

impl PrivateConsole {
    /// Start `fuzzcon:` and wait until it is registered.
    pub fn start() -> rt::Result<PrivateConsole> {
        let (pid, keys) = spawn()?;
        Ok(PrivateConsole { pid, keys, starts: 1 })
    }

    /// The fd children may write keys into (they inherit it).
    pub fn keys_fd(&self) -> usize {
        self.keys.fd()
    }

    /// Whether `pid` was the console; if so, start another.
    pub fn reaped(&mut self, pid: usize) -> bool {
        if pid != self.pid {
            return false;
        }
        if let Ok((pid, keys)) = spawn() {
            self.pid = pid;
            self.keys = keys;
            self.starts += 1;
        }
        true
    }

    /// Type a few random keys (never blocks: a full pipe drops them).
    pub fn type_keys(&mut self, rng: &mut Rng) {
        const KEYS: &[&[u8]] = &[
            b"a",
            b"ls",
            b"hello world",
            b"\r",
            b"\n",
            b"\r\n",
            b"\x7f",
            b"\x08",
            b"\x03",
            b"\x04",
            b"\x15",
            b"\x1b[A",
            b"\x1b[D",
            b"\x1b",
            b"\x00",
            b"\xff\xfe",
            b"\xc3\xa9",
        ];
        let mut typed = [0u8; 64];
        let mut len = 0;
        for _ in 0..rng.below(6) + 1 {
            let key = rng.pick(KEYS).copied().unwrap_or(b"a");
            let repeat = if rng.below(16) == 0 { 8 } else { 1 };
            for _ in 0..repeat {
                if len + key.len() > typed.len() {
                    break;
                }
                typed[len..len + key.len()].copy_from_slice(key);
                len += key.len();
            }
        }
        let _ = self.keys.write(&typed[..len]);
    }

    pub fn stop(self) {
        let _ = rt::process::kill(self.pid, rt::abi::SIGKILL);
        let _ = rt::process::wait(self.pid);
    }
}

/// Fork the console; returns its pid and the keyboard's write end once
/// `fuzzcon:` is registered.
fn spawn() -> rt::Result<(usize, File)> {
    let (keys_read, keys_write) = rt::fs::pipe()?;
    keys_read.set_nonblocking(true)?;
    keys_write.set_nonblocking(true)?;
    let (mut ready_read, mut ready_write) = rt::fs::pipe()?;
    match rt::process::fork()? {
        Fork::Child => {
            drop(ready_read);
            drop(keys_write);
            let Ok(mut daemon) = Daemon::register("fuzzcon", Console::new(Screen)) else { rt::process::exit(2) };
            if let Ok(null) = rt::sys::open("null:", O_RDWR) {
                for fd in 0..3 {
                    let _ = rt::sys::dup2(null, fd, &[]);
                }
                let _ = rt::sys::close(null);
            }
            let _ = rt::process::setpgid(0, 0);
            if rt::sys::ns_restrict(&[]).is_err() || rt::sys::setuid(USER, USER).is_err() {
                rt::process::exit(3);
            }
            let _ = ready_write.write_all(b"R");
            drop(ready_write);
            daemon.ready();
            let code = i32::from(daemon.run(Keyboard { pipe: keys_read }).is_err());
            rt::process::exit(code)
        }
        Fork::Parent(pid) => {
            drop(ready_write);
            drop(keys_read);
            let mut byte = [0u8; 1];
            match ready_read.read(&mut byte) {
                Ok(1) => Ok((pid, keys_write)),
                _ => {
                    let _ = rt::process::wait(pid);
                    Err(rt::Error::new(rt::abi::syscall::error::EIO))
                }
            }
        }
    }
}
