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

use rt::abi::syscall::Event;
use rt::event::EventQueue;
use scheme::{Result, Server};

rt::main!(main);

/// Event data naming which socket is ready.
const CHAN: usize = 0;
const SHM: usize = 1;

fn main() -> Result<()> {
    rt::log::init();
    let mut chan = Server::new("chan", chan::Chan::new())?;
    let mut shm = Server::new("shm", shm::Shm::new())?;
    let queue = EventQueue::new()?;
    chan.watch_on(&queue, CHAN)?;
    shm.watch_on(&queue, SHM)?;
    chan.confine()?;
    chan.ready();
    let mut events = [Event::default(); 4];
    loop {
        let n = queue.wait(&mut events)?;
        for event in &events[..n] {
            let result = match event.data {
                CHAN => chan.handle_pending(),
                SHM => shm.handle_pending(),
                other => {
                    log::warn!("event for unknown socket {other}, ignored");
                    Ok(())
                }
            };
            if let Err(err) = result {
                log::error!("a scheme socket failed: {err}; exiting");
                return Err(err);
            }
        }
    }
}
