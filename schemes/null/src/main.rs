//! `nulld` serves `null:`: every read is end-of-file, every write is
//! accepted and dropped (the `dd`-style sink). It needs nothing after
//! registering, so it serves from the null namespace.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use scheme::{Caller, EventFlags, Opened, Result, Scheme, Server, Stat};

rt::main!(main);

struct Null;

impl Scheme for Null {
    fn open(&mut self, path: &str, _flags: usize, _caller: &Caller) -> Result<Opened> {
        if !path.is_empty() {
            return Err(scheme::Error::new(scheme::sc::ENOENT));
        }
        Ok(Opened::Handle(0))
    }

    fn read(&mut self, _handle: usize, _buf: &mut [u8], _flags: usize) -> Result<usize> {
        Ok(0)
    }

    fn write(&mut self, _handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        Ok(buf.len())
    }

    fn fstat(&mut self, _handle: usize, stat: &mut Stat) -> Result<()> {
        stat.st_mode = scheme::sc::MODE_CHR | 0o666;
        Ok(())
    }

    fn fpath(&mut self, _handle: usize) -> Result<rt::prelude::String> {
        Ok(rt::prelude::String::new())
    }

    fn fevent(&mut self, _handle: usize, interest: EventFlags) -> Result<EventFlags> {
        Ok(interest)
    }
}

fn main() -> Result<()> {
    let mut server = Server::new("null", Null)?;
    server.confine()?;
    server.ready();
    server.run()
}
