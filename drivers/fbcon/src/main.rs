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
use alloc::vec::Vec;

use console::{Console, Daemon, InputSource};
use framebuffer::Layout;
use rt::fs::File;
use rt::mem::PAGE_SIZE;
use scheme::sc::{self, EAGAIN, EIO, ENOENT};
use scheme::{Error, Result};
use screen::Screen;

rt::main!(main);

impl console::Terminal for Screen {
    fn output(&mut self, bytes: &[u8]) {
        self.write(bytes);
    }

    /// The text grid's size.
    fn size(&self) -> (usize, usize) {
        Screen::size(self)
    }
}

/// What is typed: the keyboard driver's `ps2:` file, read without waiting.
struct Keyboard {
    file: File,
    buf: Vec<u8>,
}

impl InputSource<Screen> for Keyboard {
    fn fds(&self) -> Vec<usize> {
        vec![self.file.fd()]
    }

    fn ready(&mut self, _fd: usize, console: &mut Console<Screen>) -> Result<()> {
        loop {
            match self.file.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => console.input(&self.buf[..n]),
                Err(err) if err.errno == EAGAIN => return Ok(()),
                Err(err) => {
                    log::error!("reading ps2: failed: {err}");
                    return Err(err);
                }
            }
        }
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
        log::error!("sys:framebuffer does not describe a usable framebuffer ({err:?}):\n{text}");
        Error::new(EIO)
    })?;
    let memory = File::open_with("memory:physical", sc::O_RDWR | sc::O_CLOEXEC)?;
    let page = layout.address & !(PAGE_SIZE as u64 - 1);
    let start = (layout.address - page) as usize;
    let mapping = rt::mem::map_file_shared(memory.fd(), page as usize, start + layout.size).inspect_err(|err| {
        log::error!("cannot map the framebuffer at {:#x} ({} bytes): {err}", layout.address, layout.size)
    })?;
    Ok(Some(Screen::new(layout, mapping, start)))
}

fn main() -> Result<()> {
    rt::log::init();
    let Some(screen) = open_screen()? else {
        log::info!("no framebuffer (sys:framebuffer absent); nothing to do");
        return Ok(());
    };
    let (cols, rows) = screen.size();
    let file = File::open_with("ps2:", sc::O_RDONLY | sc::O_NONBLOCK | sc::O_CLOEXEC)
        .inspect_err(|err| log::error!("cannot open ps2: ({err}); is ps2d running?"))?;
    let mut daemon = Daemon::register("fbcon", Console::new(screen))
        .inspect_err(|err| log::error!("cannot register fbcon: ({err})"))?;
    rt::sys::ns_restrict(&[]).inspect_err(|err| log::error!("cannot enter the null namespace: {err}"))?;
    log::info!("{cols}x{rows} text on the framebuffer, input from ps2:, serving fbcon:");
    daemon.ready();
    let result = daemon.run(Keyboard { file, buf: vec![0u8; 256] });
    if let Err(err) = &result {
        log::error!("stopped: {err}");
    }
    result
}
