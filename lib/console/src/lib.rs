//! `console`: the terminal scheme over any character device, shared by
//! the serial console (`drivers/serial`, `serial:`) and the framebuffer
//! console. A driver supplies the device's output side ([`Terminal`]) and
//! its input side ([`InputSource`]); this crate runs the line discipline
//! (`lib/line-discipline`), the foreground process group and the daemon
//! loop.
//!
//! May touch: its own handle table and line discipline, the device only
//! through the driver's [`Terminal`] and [`InputSource`], and processes
//! only by sending `SIGINT` to the foreground group (`kill_group`).
//!
//! # Protocol (what programs see on `NAME:`)
//!
//! - `open("NAME:")` (any path, any access mode) gives a terminal handle.
//!   All handles share one terminal and one input queue. `fpath` is
//!   `NAME:`; `fstat` says `MODE_CHR | 0o666`.
//! - `write` on a terminal handle sends the bytes to the device, each `\n`
//!   as `\r\n` (in either mode); it returns the full length.
//! - `read`, cooked mode (the default): one completed line including its
//!   `\n`, or 0 (end of file) for Ctrl-D on an empty line; blocks until
//!   there is one (`EAGAIN` with `O_NONBLOCK`). Typed characters are
//!   echoed; `\r` (what QEMU's serial sends for Enter) and `\n` end a line
//!   (`\r\n` counts once); Backspace (0x7f or 0x08) erases one character
//!   on screen and in the line; Ctrl-U erases the line; Ctrl-C discards the
//!   line, echoes `^C` and a newline and sends `SIGINT` to the foreground
//!   process group if one is set; Ctrl-D on a non-empty line makes it
//!   readable without a `\n`. Escape sequences (arrow keys) and other
//!   control bytes are dropped. A buffer shorter than the line gets its
//!   start; the next read continues it.
//! - `read`, raw mode: the bytes as typed, at least 1 and as many as are
//!   waiting (blocking / `EAGAIN` as above); no echo, no signals; arrow keys
//!   arrive as the device sends them (`ESC [ A/B/C/D`).
//! - `dup(fd, "mode")` gives a control handle: `write` of `raw` or
//!   `cooked` (surrounding whitespace and a newline allowed; anything else
//!   is `EINVAL`) switches the terminal's mode; `read` returns the current
//!   mode name plus `\n`, then 0 (end of file) until the next write.
//! - `dup(fd, "pgrp")` gives a control handle: `write` of an ASCII decimal
//!   pgid sets the foreground process group (0 = none; non-digits are
//!   `EINVAL`); `read` returns it plus `\n`, then 0 until the next write.
//!   Setting a group does not check that it exists: when Ctrl-C finds it
//!   gone, the signal fails and that is logged.
//! - `dup(fd, "size")` gives a control handle whose `read` returns the
//!   terminal's size in character cells as `COLSxROWS\n` (`80x24`), then 0
//!   (end of file); the driver says it ([`Terminal::size`]: the grid's for
//!   the framebuffer, 80x24 for a serial line, whose far end cannot be
//!   asked). `write` is `EINVAL`. Full-screen programs (`edit`, `less`)
//!   read it once at start.
//! - any other `dup` name is `EINVAL`; `seek` is `ESPIPE`.
//! - `fevent`: a terminal handle is readable when a read would not block
//!   (a line or an end-of-file mark waits in cooked mode, any byte in raw
//!   mode), and always writable; control handles are always both.
//!
//! # Writing a console driver
//!
//! ```ignore
//! struct Uart;                       // the device's output side
//! impl console::Terminal for Uart {
//!     fn output(&mut self, bytes: &[u8]) { /* send them */ }
//!     fn size(&self) -> (usize, usize) { (80, 24) }
//! }
//! struct UartInput { irq: rt::fs::File }  // the device's input side
//! impl console::InputSource<Uart> for UartInput {
//!     fn fds(&self) -> Vec<usize> { vec![self.irq.fd()] }
//!     fn ready(&mut self, _fd: usize, console: &mut console::Console<Uart>) -> rt::Result<()> {
//!         // read what arrived, acknowledge the interrupt, then:
//!         console.input(b"typed bytes");
//!         Ok(())
//!     }
//! }
//! let mut daemon = console::Daemon::register("serial", console::Console::new(Uart))?;
//! // ... claim ports and the IRQ, open what `UartInput` needs, ns_restrict ...
//! daemon.ready();                    // tell init
//! daemon.run(UartInput { irq })      // serve forever
//! ```
//!
//! [`Daemon::run`] waits on one `event:` queue for the scheme socket and
//! every fd of the [`InputSource`]; it calls [`InputSource::ready`] once at
//! the start too (for input that arrived before the watch). The daemon must
//! open `event:` before narrowing its namespace: [`Daemon::register`] does.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod daemon;
mod terminal;

pub use daemon::{Daemon, InputSource};
pub use line_discipline::Mode;
pub use terminal::{Console, Terminal};
