//! The console daemon's loop: one `event:` queue over the scheme socket
//! (made non-blocking), the device's input fds and `log:console`, so
//! requests, typed input and log lines are served by one thread in arrival
//! order, and a read parked for input is answered as soon as the input
//! comes. Log lines go to [`Console::notice`], which shows them above the
//! line being typed.

use alloc::vec::Vec;

use rt::abi::syscall::{EAGAIN, Event, EventFlags, O_NONBLOCK, O_RDONLY};
use rt::event::EventQueue;
use rt::fs::File;
use scheme::{Result, Server};

use crate::terminal::{Console, Terminal};

/// Where a console's input comes from (a UART's interrupt, a keyboard
/// daemon's fd, ...).
pub trait InputSource<T: Terminal> {
    /// The fds whose readability means input may be waiting.
    fn fds(&self) -> Vec<usize>;
    /// `fd` (one of [`InputSource::fds`]) became readable, or the loop is
    /// starting: take what arrived and pass it to [`Console::input`].
    /// An error ends the daemon (log why before returning it).
    fn ready(&mut self, fd: usize, console: &mut Console<T>) -> Result<()>;
}

/// The `data` word of the socket's watch (input fds use their fd number,
/// which is never this).
const SOCKET: usize = usize::MAX;
/// The `data` word of the `log:console` watch.
const LOG: usize = usize::MAX - 1;

/// A registered console scheme, its event queue and the log it shows.
pub struct Daemon<T: Terminal> {
    server: Server<Console<T>>,
    events: EventQueue,
    /// `log:console`, when logd serves it.
    log: Option<File>,
}

impl<T: Terminal> Daemon<T> {
    /// Register `name:` (root only) for `console`, open the event queue
    /// the loop waits on and `log:console` (without logd the console
    /// shows no log lines, and logd writes them to the kernel's console).
    pub fn register(name: &str, console: Console<T>) -> Result<Daemon<T>> {
        let server = Server::new(name, console)?;
        let events = EventQueue::new()?;
        server.watch_on(&events, SOCKET)?;
        let log = match File::open_with("log:console", O_RDONLY | O_NONBLOCK) {
            Ok(log) => {
                events.watch(log.fd(), EventFlags::EVENT_READ, LOG)?;
                Some(log)
            }
            Err(err) => {
                log::warn!("log:console: {err}; log lines will not be shown here");
                None
            }
        };
        Ok(Daemon { server, events, log })
    }

    /// Shows what `log:console` has; forgets it when it fails (logd died:
    /// its fds fail for good, and a confined daemon cannot open a new one).
    fn show_log(&mut self) {
        let Some(log) = &mut self.log else { return };
        let mut buf = [0u8; 2048];
        loop {
            match log.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => self.server.scheme().notice(&buf[..n]),
                Err(err) if err.errno == EAGAIN => return,
                Err(err) => {
                    log::warn!("log:console: {err}; no more log lines shown here");
                    let _ = self.events.unwatch(log.fd());
                    self.log = None;
                    return;
                }
            }
        }
    }

    pub fn console(&mut self) -> &mut Console<T> {
        self.server.scheme()
    }

    /// Tell init the scheme is being served.
    pub fn ready(&mut self) {
        self.server.ready();
    }

    /// Serve requests and input until something fails (the error is
    /// returned; the socket's or the event queue's, or `input`'s own).
    pub fn run<I: InputSource<T>>(mut self, mut input: I) -> Result<()> {
        for fd in input.fds() {
            self.events.watch(fd, EventFlags::EVENT_READ, fd)?;
            input.ready(fd, self.server.scheme())?;
        }
        self.server.retry_parked()?;
        self.show_log();
        let mut ready = [Event::default(); 8];
        loop {
            let n = self.events.wait(&mut ready)?;
            for event in &ready[..n] {
                if event.data == SOCKET {
                    self.server.handle_pending()?;
                } else if event.data == LOG {
                    self.show_log();
                } else {
                    input.ready(event.data, self.server.scheme())?;
                    self.server.retry_parked()?;
                }
            }
        }
    }
}
