//! `ipcd` serves the IPC schemes: `chan:`, named byte-stream channels
//! ([`chan`]), and `shm:`, named shared memory ([`shm`]).
//!
//! One scheme per process, named by the only argument (`ipcd chan`,
//! `ipcd shm`; `init.rc` starts both): the two share no state, and a
//! process that serves one socket sleeps in it, answering each request and
//! reading the next in one system call (`scheme::Server::run`). Serving
//! both from one process took an `event:` queue and a read of the socket
//! for every message besides (about 1,200 instructions more per `chan:`
//! message: `cargo mk bench --micro`, 2026-12-05). After registering, the
//! daemon drops into the null namespace, so from then on it can open
//! nothing, and tells init it is ready.
//!
//! May touch: its scheme socket, stderr (problems).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod chan;
mod shm;

use scheme::sc::EINVAL;
use scheme::{Error, Result, Scheme, Server};

rt::main!(main);

const USAGE: &str = "usage: ipcd chan|shm";

fn main() -> Result<()> {
    rt::log::init();
    let args: alloc::vec::Vec<&[u8]> = rt::env::args_bytes().skip(1).collect();
    match args.as_slice() {
        [b"chan"] => serve("chan", chan::Chan::new()),
        [b"shm"] => serve("shm", shm::Shm::new()),
        _ => {
            rt::eprintln!("{USAGE}");
            Err(Error::new(EINVAL))
        }
    }
}

/// Register `name:`, confine, tell init, serve until the socket fails.
fn serve(name: &str, scheme: impl Scheme) -> Result<()> {
    let mut server = Server::new(name, scheme)?;
    server.confine()?;
    server.ready();
    let result = server.run();
    if let Err(err) = &result {
        log::error!("the {name}: socket failed: {err}; exiting");
    }
    result
}
