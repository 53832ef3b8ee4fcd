//! `nulld` serves `null:`: every read is end-of-file, every write is
//! accepted and dropped (the `dd`-style sink). It needs nothing after
//! registering, so it serves from the null namespace.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use scheme::{Device, DeviceScheme, Result, Server};

rt::main!(main);

struct Null;

impl Device for Null {
    fn read(&mut self, _buf: &mut [u8]) -> Result<usize> {
        Ok(0)
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        Ok(buf.len())
    }
}

fn main() -> Result<()> {
    let mut server = Server::new("null", DeviceScheme(Null))?;
    server.confine()?;
    server.ready();
    server.run()
}
