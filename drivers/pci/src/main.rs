//! `pcid` serves `pci:`: what PCI configuration space held when it
//! started (it logs one line per function then). It grants itself exactly ports 0xCF8..0xCFF, walks every bus
//! once, then serves the result read-only from the null namespace as an
//! unprivileged user (uid/gid [`PCID_UID`]). Devices added later are not
//! seen; BARs are decoded but not sized (see `lib/pci-config`).
//!
//! - `open("pci:")` (or `pci:/`): the listing, one line per function,
//!   `BB:DD.F VVVV:DDDD CC.SS.PP class-name` (lowercase hex), in address
//!   order; `fstat` says `MODE_DIR`.
//! - `open("pci:BB:DD.F")`: that function's header fields as `key: value`
//!   lines (the format is in `lib/pci-config`); `MODE_FILE`. A name that is
//!   not an address is `ENOENT`, as is an address with no function.
//! - read, seek and `fstat` (size) on both; `fpath` gives the name back.
//!   Opening for writing is `EROFS`, as is every change.
//!
//! May touch: ports 0xCF8..0xCFF (in `config_space`, only before serving),
//! its snapshot and handle table, its scheme socket.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod config_space;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use pci_config::{Address, Header};
use scheme::sc::{ENOENT, ENOTDIR, EROFS, MODE_DIR, MODE_FILE, O_ACCMODE, O_CREAT, O_DIRECTORY, O_RDONLY, O_TRUNC};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Server, Stat};

rt::main!(main);

/// The unprivileged user `pcid` serves as.
const PCID_UID: u32 = 60;

struct Handle {
    /// The path as opened ("" for the listing).
    name: String,
    text: Vec<u8>,
    offset: usize,
}

struct Pci {
    functions: BTreeMap<Address, Header>,
    handles: Handles<Handle>,
}

impl Pci {
    fn listing(&self) -> Vec<u8> {
        let mut text = String::new();
        for (&address, header) in &self.functions {
            text.push_str(&pci_config::listing_line(address, header));
            text.push('\n');
        }
        text.into_bytes()
    }

    fn handle(&mut self, id: usize) -> Result<&mut Handle> {
        self.handles.get_mut(id)
    }
}

impl Scheme for Pci {
    fn open(&mut self, path: &str, flags: usize, _caller: &Caller) -> Result<Opened> {
        if flags & O_ACCMODE != O_RDONLY || flags & (O_CREAT | O_TRUNC) != 0 {
            return Err(Error::new(EROFS));
        }
        let name = path.trim_matches('/');
        let text = if name.is_empty() {
            self.listing()
        } else {
            let address = Address::parse(name).ok_or(Error::new(ENOENT))?;
            let header = self.functions.get(&address).ok_or(Error::new(ENOENT))?;
            if flags & O_DIRECTORY != 0 {
                return Err(Error::new(ENOTDIR));
            }
            pci_config::describe(address, header).into_bytes()
        };
        Ok(Opened::Handle(self.handles.insert(Handle { name: String::from(name), text, offset: 0 })))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let h = self.handle(handle)?;
        let rest = h.text.get(h.offset..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        h.offset += n;
        Ok(n)
    }

    fn write(&mut self, handle: usize, _buf: &[u8], _flags: usize) -> Result<usize> {
        self.handle(handle)?;
        Err(Error::new(EROFS))
    }

    fn seek(&mut self, handle: usize, offset: isize, whence: usize) -> Result<usize> {
        let h = self.handle(handle)?;
        let target =
            rt::abi::seek_target(h.offset, h.text.len(), offset, whence).ok_or(Error::new(scheme::sc::EINVAL))?;
        h.offset = target;
        Ok(target)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        let h = self.handle(handle)?;
        stat.st_mode = if h.name.is_empty() { MODE_DIR | 0o555 } else { MODE_FILE | 0o444 };
        stat.st_size = h.text.len() as u64;
        stat.st_nlink = 1;
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        Ok(self.handle(handle)?.name.clone())
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        self.handle(handle)?;
        Ok(interest & EventFlags::EVENT_READ)
    }

    fn ftruncate(&mut self, handle: usize, _len: usize) -> Result<()> {
        self.handle(handle)?;
        Err(Error::new(EROFS))
    }

    fn unlink(&mut self, _path: &str, _caller: &Caller) -> Result<()> {
        Err(Error::new(EROFS))
    }

    fn rmdir(&mut self, _path: &str, _caller: &Caller) -> Result<()> {
        Err(Error::new(EROFS))
    }

    fn close(&mut self, handle: usize) {
        self.handles.remove(handle);
    }
}

fn main() -> Result<()> {
    rt::log::init();
    let pci = Pci { functions: BTreeMap::new(), handles: Handles::new() };
    let mut server = Server::new("pci", pci).inspect_err(|err| log::error!("cannot register pci: ({err})"))?;
    rt::sys::port_grant(rt::process::getpid(), usize::from(config_space::FIRST_PORT), usize::from(config_space::PORTS))
        .inspect_err(|err| log::error!("cannot get ports 0xcf8..0xcff: {err}"))?;
    let functions: BTreeMap<Address, Header> = config_space::enumerate().into_iter().collect();
    let count = functions.len();
    for (&address, header) in &functions {
        log::info!("{}", pci_config::listing_line(address, header));
    }
    server.scheme().functions = functions;
    server.confine().inspect_err(|err| log::error!("cannot enter the null namespace: {err}"))?;
    rt::sys::setuid(PCID_UID, PCID_UID).inspect_err(|err| log::error!("cannot become uid {PCID_UID}: {err}"))?;
    log::info!("{count} PCI functions; serving pci: as uid {PCID_UID}");
    server.ready();
    let result = server.run();
    if let Err(err) = &result {
        log::error!("stopped: {err}");
    }
    result
}
