//! `redoxfsd`: the Redox file system (the `redoxfs` crate) on a disk,
//! served as `file:` (README "Files that stay"; the scheme is in
//! [`files`]).
//!
//! `redoxfsd [DISK]` (default `disk:0`): open the disk, mount the file
//! system on it, register `file:`, enter the null namespace and serve. A
//! disk that holds no RedoxFS, or a corrupt one, is refused with a line
//! on standard error (which `init` puts on the console and `log:`), and
//! the daemon exits with status 1; the rest of the system runs on. So it
//! does when the disk fails under it (its driver died: the old driver's
//! files keep failing), after which init starts it again.
//!
//! May touch: its disk file, its scheme socket.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod files;

use rt::fs::File;
use rt::prelude::*;
use scheme::sc::{EIO, O_RDWR};
use scheme::{Error, Result, Server};

rt::main!(main);

fn main() -> Result<()> {
    let disk_url = rt::env::args().nth(1).unwrap_or("disk:0");
    let file =
        File::open_with(disk_url, O_RDWR).inspect_err(|err| eprintln!("redoxfsd: cannot open {disk_url}: {err}"))?;
    let disk = redoxfs_glue::SchemeDisk::new(file)?;
    let fs = redoxfs::FileSystem::open(disk, None, None, true).map_err(|err| {
        eprintln!("redoxfsd: {disk_url} holds no usable RedoxFS ({err}); not serving file:");
        Error::new(EIO)
    })?;
    let (size, free) = files::space(&fs);
    let mut server = Server::new("file", files::Files::new(fs))?;
    server.confine().inspect_err(|err| eprintln!("redoxfsd: cannot enter the null namespace: {err}"))?;
    println!("redoxfsd: RedoxFS on {disk_url}: {} MiB, {} MiB free; serving file:", size >> 20, free >> 20);
    server.ready();
    loop {
        server.handle_next()?;
        if let Some(err) = server.scheme().disk_failed() {
            // What was committed is on the disk; init starts us again.
            eprintln!("redoxfsd: {disk_url} failed ({err}); stopping so that init starts the file system again");
            return Err(err);
        }
    }
}
