//! The console scheme (`lib/console`) end to end, without hardware: a
//! forked daemon serves a [`console::Console`] whose "device" is two pipes
//! — the test types into one (the keyboard) and reads what the console
//! sends to the other (the screen). This runs the real daemon loop
//! (`console::Daemon`: event queue, non-blocking socket, parked reads),
//! the protocol of the crate header, echo, and Ctrl-C to the foreground
//! process group. (`seriald` is the same code over COM1; it cannot run in
//! the self-test boot, where `debug:` owns COM1's line.)

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use core::time::Duration;

use console::{Console, Daemon, InputSource, Terminal};
use rt::abi::syscall::{self as sc, EventFlags, MODE_CHR, MODE_TYPE, O_NONBLOCK, O_RDWR};
use rt::fs::File;

use crate::support::{
    Outcome, WAIT, ensure, expect_err, expect_exit, expect_signal, fork_child, kill_and_reap, ok, shared_page,
    sleep_ms, wait_for, wait_until,
};

/// The console's output side: the screen pipe.
struct Screen(File);

impl Terminal for Screen {
    fn output(&mut self, bytes: &[u8]) {
        let _ = self.0.write_all(bytes);
    }

    /// An odd size, so the test sees it is the driver's.
    fn size(&self) -> (usize, usize) {
        (101, 37)
    }
}

/// The console's input side: the keyboard pipe (non-blocking).
struct Keyboard(File);

impl InputSource<Screen> for Keyboard {
    fn fds(&self) -> Vec<usize> {
        alloc::vec![self.0.fd()]
    }

    fn ready(&mut self, _fd: usize, console: &mut Console<Screen>) -> rt::Result<()> {
        let mut buf = [0u8; 256];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => console.input(&buf[..n]),
                Err(err) if err.errno == sc::EAGAIN => return Ok(()),
                Err(err) => return Err(err),
            }
        }
    }
}

/// A console daemon and the test's ends of its pipes.
struct Rig {
    name: String,
    pid: usize,
    keyboard: File,
    screen: File,
}

impl Rig {
    fn start(base: &str) -> Result<Rig, String> {
        let name = format!("{base}{}", rt::process::getpid());
        let (keyboard_in, keyboard) = ok("pipe", rt::fs::pipe())?;
        let (screen, screen_out) = ok("pipe", rt::fs::pipe())?;
        ok("screen O_NONBLOCK", screen.set_nonblocking(true))?;
        ok("keyboard O_NONBLOCK", keyboard_in.set_nonblocking(true))?;
        let page = shared_page()?;
        let registered = &page.atomic_u32s()[0];
        let daemon_name = name.clone();
        let pid = fork_child(move || {
            let Ok(mut daemon) = Daemon::register(&daemon_name, Console::new(Screen(screen_out))) else { return 3 };
            registered.store(1, Ordering::Release);
            daemon.ready();
            match daemon.run(Keyboard(keyboard_in)) {
                Ok(()) => 0,
                Err(_) => 4,
            }
        })?;
        if !wait_until(WAIT, || registered.load(Ordering::Acquire) == 1) {
            kill_and_reap(pid);
            return Err(format!("console daemon {name} did not register"));
        }
        Ok(Rig { name, pid, keyboard, screen })
    }

    fn url(&self) -> String {
        format!("{}:", self.name)
    }

    fn open(&self, flags: usize) -> Result<File, String> {
        ok(&format!("open {}", self.url()), File::open_with(&self.url(), flags))
    }

    fn type_bytes(&mut self, bytes: &[u8]) -> Result<(), String> {
        ok("type", self.keyboard.write_all(bytes))
    }

    /// What the console sends to the screen, until it is `expected` (or a
    /// deadline passes); then checks nothing more came.
    fn expect_screen(&mut self, expected: &[u8]) -> Result<(), String> {
        let mut got = Vec::new();
        wait_until(WAIT, || {
            let mut buf = [0u8; 256];
            if let Ok(n) = self.screen.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
            got.len() >= expected.len()
        });
        ensure!(
            got == expected,
            "screen showed {:?}, expected {:?}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
        Ok(())
    }

    /// Checks that the screen stays blank for a moment.
    fn expect_no_screen(&mut self) -> Result<(), String> {
        sleep_ms(50);
        let mut buf = [0u8; 64];
        match self.screen.read(&mut buf) {
            Err(err) if err.errno == sc::EAGAIN => Ok(()),
            Ok(n) => Err(format!("screen showed {:?}", String::from_utf8_lossy(&buf[..n]))),
            Err(err) => Err(format!("screen read: {err}")),
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        kill_and_reap(self.pid);
    }
}

/// Reads `file` (non-blocking) until a read succeeds or `WAIT` passes.
fn read_when_ready(file: &File) -> Result<Vec<u8>, String> {
    let mut buf = [0u8; 128];
    let mut result = Err(sc::EAGAIN);
    wait_until(WAIT, || {
        result = rt::sys::read(file.fd(), &mut buf).map_err(|e| e.errno);
        result != Err(sc::EAGAIN)
    });
    match result {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(errno) => Err(format!("read: {}", crate::support::errno_name(errno))),
    }
}

/// The text of a control handle (`mode` / `pgrp`): a read, then end of file.
fn control_text(file: &mut File) -> Result<String, String> {
    let mut text = String::new();
    ok("read control handle", file.read_to_string(&mut text))?;
    Ok(text)
}

pub fn console_cooked_lines_echo_and_eof() -> Outcome {
    let mut rig = Rig::start("ut-con")?;
    let mut term = rig.open(O_RDWR)?;
    let quick = rig.open(O_RDWR | O_NONBLOCK)?;
    ensure!(ok("fpath", term.path())? == rig.url(), "fpath {:?}", term.path());
    ensure!(ok("fstat", term.stat())?.st_mode & MODE_TYPE == MODE_CHR, "not a character device");
    // Output: \n becomes \r\n.
    ok("write", term.write_all(b"hi\nthere\n"))?;
    rig.expect_screen(b"hi\r\nthere\r\n")?;
    // Nothing typed: a non-blocking read is EAGAIN, and no event.
    expect_err("read with nothing typed", rt::sys::read(quick.fd(), &mut [0u8; 8]), sc::EAGAIN)?;
    let queue = ok("event:", rt::event::EventQueue::new())?;
    ok("queue O_NONBLOCK", queue.file().set_nonblocking(true))?;
    ok("watch", queue.watch(quick.fd(), EventFlags::EVENT_READ, 5))?;
    let mut events = [sc::Event::default(); 2];
    expect_err("event before input", queue.wait(&mut events), sc::EAGAIN)?;
    // Typing: echo, backspace, Enter as \r (what QEMU's serial sends).
    rig.type_bytes(b"ab\x7fc")?;
    rig.expect_screen(b"ab\x08 \x08c")?;
    expect_err("read of a half line", rt::sys::read(quick.fd(), &mut [0u8; 8]), sc::EAGAIN)?;
    rig.type_bytes(b"\r")?;
    rig.expect_screen(b"\r\n")?;
    let mut n = 0;
    ensure!(
        wait_until(WAIT, || {
            n = queue.wait(&mut events).unwrap_or(0);
            n > 0
        }),
        "no event for a typed line"
    );
    ensure!(events[0].data == 5 && events[0].flags.contains(EventFlags::EVENT_READ), "event {:?}", events[0]);
    ensure!(read_when_ready(&quick)? == b"ac\n", "the line read is not \"ac\\n\"");
    // A blocking reader waits (parked in the daemon) until a line comes.
    let url = rig.url();
    let reader = fork_child(move || {
        let Ok(mut term) = File::open_with(&url, O_RDWR) else { return 2 };
        let mut buf = [0u8; 32];
        match term.read(&mut buf) {
            Ok(n) if &buf[..n] == b"later\n" => 0,
            _ => 1,
        }
    })?;
    sleep_ms(30);
    rig.type_bytes(b"later\r\n")?;
    expect_exit("blocked reader", wait_for(reader, WAIT)?, 0)?;
    rig.expect_screen(b"later\r\n")?;
    // Ctrl-D on an empty line: end of file; on a partial line: the line.
    rig.type_bytes(b"\x04")?;
    ensure!(ok("read at ^D", term.read(&mut [0u8; 8]))? == 0, "^D on an empty line did not read as 0");
    rig.type_bytes(b"par\x04")?;
    rig.expect_screen(b"par")?;
    ensure!(read_when_ready(&quick)? == b"par", "^D on a partial line");
    Ok(String::from("echo, backspace, CR as Enter, events, a parked reader, ^D"))
}

pub fn console_modes_pgrp_and_ctrl_c() -> Outcome {
    let mut rig = Rig::start("ut-tty")?;
    let term = rig.open(O_RDWR | O_NONBLOCK)?;
    let mut mode = ok("dup mode", term.derive("mode"))?;
    ensure!(control_text(&mut mode)? == "cooked\n", "the first mode is not cooked");
    expect_err("dup of an unknown name", term.derive("colour"), sc::EINVAL)?;
    // The size the driver gives, read-only.
    let mut size = ok("dup size", term.derive("size"))?;
    ensure!(control_text(&mut size)? == "101x37\n", "size did not read as the driver's 101x37");
    expect_err("write to size", size.write(b"80x24"), sc::EINVAL)?;
    expect_err("mode bogus", mode.write(b"bogus"), sc::EINVAL)?;
    // Raw: bytes as typed, no echo, no signals.
    ok("mode raw", mode.write_all(b"raw\n"))?;
    ensure!(control_text(&mut mode)? == "raw\n", "mode did not read back as raw");
    rig.type_bytes(b"\x1b[A\x03")?;
    ensure!(read_when_ready(&term)? == b"\x1b[A\x03", "raw bytes changed");
    rig.expect_no_screen()?;
    ok("mode cooked", mode.write_all(b"cooked"))?;
    // The foreground group gets SIGINT on Ctrl-C.
    let mut pgrp = ok("dup pgrp", term.derive("pgrp"))?;
    ensure!(control_text(&mut pgrp)? == "0\n", "a foreground group is set from the start");
    let victim = fork_child(|| {
        rt::time::sleep(Duration::from_secs(60));
        3
    })?;
    let result = (|| {
        ok("setpgid", rt::process::setpgid(victim, 0))?;
        expect_err("pgrp abc", pgrp.write(b"abc"), sc::EINVAL)?;
        ok("set pgrp", pgrp.write_all(format!("{victim}\n").as_bytes()))?;
        ensure!(control_text(&mut pgrp)? == format!("{victim}\n"), "pgrp did not read back");
        rig.type_bytes(b"sleep\x03")?;
        rig.expect_screen(b"sleep^C\r\n")?;
        expect_signal("foreground process", wait_for(victim, WAIT)?, rt::abi::SIGINT)?;
        expect_err("read after ^C", rt::sys::read(term.fd(), &mut [0u8; 8]), sc::EAGAIN)?;
        // No group: ^C only discards the line.
        ok("clear pgrp", pgrp.write_all(b"0"))?;
        rig.type_bytes(b"x\x03y\r")?;
        rig.expect_screen(b"x^C\r\ny\r\n")?;
        ensure!(read_when_ready(&term)? == b"y\n", "the line after ^C");
        Ok(())
    })();
    if result.is_err() {
        kill_and_reap(victim);
    }
    result?;
    Ok(format!("raw pass-through, mode, size and pgrp handles, SIGINT to group {victim}"))
}
