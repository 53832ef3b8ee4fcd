//! `greetd`, the example scheme daemon (README: "Write a scheme daemon"):
//! `cat greet:world` prints `Hello, world!`; `echo Howdy > greet:` changes
//! the greeting. Each open gets a handle with its own text and offset.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use rt::prelude::*;
use scheme::sc::EINVAL;
use scheme::{Caller, Error, Handles, Opened, Result, Scheme};

rt::main!(main);

struct Greet {
    greeting: String,
    /// Per handle: the text it reads and how far it has read.
    handles: Handles<(String, usize)>,
}

impl Scheme for Greet {
    fn open(&mut self, path: &str, _flags: usize, _caller: &Caller) -> Result<Opened> {
        let text = format!("{}, {}!\n", self.greeting, if path.is_empty() { "world" } else { path });
        Ok(Opened::Handle(self.handles.insert((text, 0))))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let (text, offset) = self.handles.get_mut(handle)?;
        let n = buf.len().min(text.len() - *offset);
        buf[..n].copy_from_slice(&text.as_bytes()[*offset..*offset + n]);
        *offset += n;
        Ok(n)
    }

    fn write(&mut self, _handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let word = core::str::from_utf8(buf).map_err(|_| Error::new(EINVAL))?;
        self.greeting = String::from(word.trim());
        Ok(buf.len())
    }

    fn close(&mut self, handle: usize) {
        self.handles.remove(handle);
    }
}

fn main() -> Result<()> {
    let greet = Greet { greeting: String::from("Hello"), handles: Handles::new() };
    scheme::serve("greet", greet)
}
