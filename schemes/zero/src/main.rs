//! `zerod` serves `zero:`: every read fills the caller's buffer with
//! zeroes (large buffers arrive lent, so they are filled in place), every
//! write is accepted and dropped. It needs nothing after registering, so
//! it serves from the null namespace.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use scheme::{Device, DeviceScheme, Result, Server};

rt::main!(main);

struct Zero;

impl Device for Zero {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        buf.fill(0);
        Ok(buf.len())
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        Ok(buf.len())
    }
}

fn main() -> Result<()> {
    let mut server = Server::new("zero", DeviceScheme(Zero))?;
    server.confine()?;
    server.ready();
    server.run()
}
