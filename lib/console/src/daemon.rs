//! The console daemon's loop: one `event:` queue over the scheme socket
//! (made non-blocking) and the device's input fds, so requests and typed
//! input are served by one thread in arrival order, and a read parked for
//! input is answered as soon as the input comes.

use alloc::vec::Vec;

use rt::abi::syscall::{Event, EventFlags};
use rt::event::EventQueue;
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

/// A registered console scheme and its event queue.
pub struct Daemon<T: Terminal> {
    server: Server<Console<T>>,
    events: EventQueue,
}

impl<T: Terminal> Daemon<T> {
    /// Register `name:` (root only) for `console` and open the event queue
    /// the loop waits on.
    pub fn register(name: &str, console: Console<T>) -> Result<Daemon<T>> {
        let server = Server::new(name, console)?;
        let events = EventQueue::new()?;
        server.watch_on(&events, SOCKET)?;
        Ok(Daemon { server, events })
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
        let mut ready = [Event::default(); 8];
        loop {
            let n = self.events.wait(&mut ready)?;
            for event in &ready[..n] {
                if event.data == SOCKET {
                    self.server.handle_pending()?;
                } else {
                    input.ready(event.data, self.server.scheme())?;
                    self.server.retry_parked()?;
                }
            }
        }
    }
}
