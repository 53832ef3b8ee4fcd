//! `ipcd` serves the IPC schemes: `chan:`, named byte-stream channels
//! ([`chan`]), and `shm:`, named shared memory ([`shm`]).
//!
//! One process, two registered schemes: both sockets are non-blocking and
//! watched by one `event:` queue; when a socket has requests, its
//! [`Server`] handles them until it has none left (each server retries its
//! own waiting calls after every request, as `scheme::Server` always
//! does). After registering both, the daemon drops into the null
//! namespace, so from then on it can open nothing, and tells init it is
//! ready.
//!
//! May touch: its two scheme sockets, its event queue, stderr (problems).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod chan;
mod shm;

use rt::abi::syscall::{EAGAIN, Event, EventFlags};
use rt::event::EventQueue;
use rt::prelude::*;
use scheme::{Result, Scheme, Server};

rt::main!(main);

/// Event data naming which socket is ready.
const CHAN: usize = 0;
const SHM: usize = 1;

fn main() -> Result<()> {
    let mut chan = Server::new("chan", chan::Chan::new())?;
    let mut shm = Server::new("shm", shm::Shm::new())?;
    let queue = EventQueue::new()?;
    for (server_socket, data) in [(chan.socket().file(), CHAN), (shm.socket().file(), SHM)] {
        server_socket.set_nonblocking(true)?;
        queue.watch(server_socket.fd(), EventFlags::EVENT_READ, data)?;
    }
    chan.confine()?;
    chan.ready();
    let mut events = [Event::default(); 4];
    loop {
        let n = queue.wait(&mut events)?;
        for event in &events[..n] {
            let result = match event.data {
                CHAN => drain(&mut chan),
                SHM => drain(&mut shm),
                other => {
                    eprintln!("ipcd: event for unknown socket {other}, ignored");
                    Ok(())
                }
            };
            if let Err(err) = result {
                eprintln!("ipcd: a scheme socket failed: {err}; exiting");
                return Err(err);
            }
        }
    }
}

/// Handle every request waiting on `server`'s socket.
fn drain<S: Scheme>(server: &mut Server<S>) -> Result<()> {
    loop {
        match server.handle_next() {
            Ok(()) => {}
            Err(err) if err.errno == EAGAIN => return Ok(()),
            Err(err) => return Err(err),
        }
    }
}
