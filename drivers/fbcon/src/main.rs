//! `fbcond`: the framebuffer console. It draws a terminal (`lib/vt`, with
//! the built-in font of `lib/font`) on the framebuffer the bootloader set
//! up, takes what is typed from the keyboard driver (`ps2:`), and serves
//! the console as `fbcon:` through `lib/console` (cooked and raw modes,
//! echo, the foreground process group).
//!
//! Without a framebuffer (`sys:framebuffer` absent) it says so and exits
//! with status 0: a machine without a display still boots.
//!
//! Privileges: reads `sys:framebuffer`, maps the framebuffer through
//! `memory:physical` (root only; the kernel refuses RAM there), opens
//! `ps2:` (root only), registers `fbcon:`. After set-up it drops into the
//! null namespace.
//!
//! Touches: the framebuffer mapping (`screen`), its `ps2:` file, its
//! scheme socket and `event:` queue.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod screen;

use alloc::vec;

use console::Console;
use framebuffer::Layout;
use rt::event::EventQueue;
use rt::fs::File;
use rt::mem::PAGE_SIZE;
use rt::prelude::*;
use scheme::sc::{self, EAGAIN, EIO, ENOENT, Event};
use scheme::{Error, EventFlags, Result, Server};
use screen::Screen;

rt::main!(main);

/// Event data words.
const SOCKET: usize = 0;
const KEYBOARD: usize = 1;

impl console::Terminal for Screen {
    fn output(&mut self, bytes: &[u8]) {
        self.write(bytes);
    }
}

/// The framebuffer, mapped, as a blank screen; `None` when there is none.
fn open_screen() -> Result<Option<Screen>> {
    let text = match rt::fs::read_to_string("sys:framebuffer") {
        Ok(text) => text,
        Err(err) if err.errno == ENOENT => return Ok(None),
        Err(err) => return Err(err),
    };
    let layout = Layout::parse(&text).map_err(|err| {
        eprintln!("fbcond: sys:framebuffer does not describe a usable framebuffer ({err:?}):\n{text}");
        Error::new(EIO)
    })?;
    let memory = File::open_with("memory:physical", sc::O_RDWR | sc::O_CLOEXEC)?;
    let page = layout.address & !(PAGE_SIZE as u64 - 1);
    let start = (layout.address - page) as usize;
    let mapping = rt::mem::map_file_shared(memory.fd(), page as usize, start + layout.size).inspect_err(|err| {
        eprintln!("fbcond: cannot map the framebuffer at {:#x} ({} bytes): {err}", layout.address, layout.size)
    })?;
    Ok(Some(Screen::new(layout, mapping, start)))
}

fn main() -> Result<()> {
    let Some(screen) = open_screen()? else {
        println!("fbcond: no framebuffer (sys:framebuffer absent); nothing to do");
        return Ok(());
    };
    let (cols, rows) = screen.size();
    let mut keyboard = File::open_with("ps2:", sc::O_RDONLY | sc::O_NONBLOCK | sc::O_CLOEXEC)
        .inspect_err(|err| eprintln!("fbcond: cannot open ps2: ({err}); is ps2d running?"))?;
    let mut server = Server::new("fbcon", Console::new(screen))?;
    let queue = EventQueue::new()?;
    server.socket().file().set_nonblocking(true)?;
    queue.watch(server.socket().file().fd(), EventFlags::EVENT_READ, SOCKET)?;
    queue.watch(keyboard.fd(), EventFlags::EVENT_READ, KEYBOARD)?;
    server.confine()?;
    println!("fbcond: {cols}x{rows} text on the framebuffer, input from ps2:, serving fbcon:");
    server.ready();

    let mut events = [Event::default(); 4];
    let mut typed = vec![0u8; 256];
    loop {
        let n = queue.wait(&mut events)?;
        for event in &events[..n] {
            match event.data {
                KEYBOARD => {
                    loop {
                        match keyboard.read(&mut typed) {
                            Ok(0) => break,
                            Ok(n) => server.scheme().input(&typed[..n]),
                            Err(err) if err.errno == EAGAIN => break,
                            Err(err) => {
                                eprintln!("fbcond: reading ps2: failed: {err}");
                                return Err(err);
                            }
                        }
                    }
                    server.retry_parked()?;
                }
                SOCKET => loop {
                    match server.handle_next() {
                        Ok(()) => {}
                        Err(err) if err.errno == EAGAIN => break,
                        Err(err) => return Err(err),
                    }
                },
                _ => {}
            }
        }
    }
}
