//! `chan:` — named byte-stream channels between processes.
//!
//! - `open("chan:NAME", O_CREAT)` makes a *listener* and gives `NAME` to
//!   it (`O_EXCL`: `EEXIST` if the name is taken; without `O_EXCL` an open
//!   of a taken name connects to it, as `O_CREAT` opens an existing file);
//! - `open("chan:NAME")` connects to the listener of `NAME` (`ENOENT` if
//!   nobody listens); the connection waits in the listener's queue;
//! - `dup(listener, "listen")` accepts the oldest waiting connection (waits
//!   for one, or `EAGAIN` when the listener's fd is non-blocking);
//! - `dup(listener, "connect")` connects without a name (the listener's fd
//!   is enough);
//! - the two ends of a connection read what the other wrote, through a
//!   [`CAPACITY`]-byte ring each way ([`chan_buffer`]): a full ring makes a
//!   writer wait (or `EAGAIN`), a partial write returns the count taken;
//!   after the peer closes, reads drain what is left and then return 0,
//!   writes fail with `EPIPE`;
//! - closing the listener frees the name; connections it never accepted
//!   see their peer gone (end-of-file, `EPIPE`);
//! - events: an end is readable when it has data or its peer is gone,
//!   writable when its ring has room or its peer is gone (a hang-up
//!   reports both, since `event:` has no separate flag for it); a
//!   listener is readable when a connection waits.
//!
//! An unprivileged user may have [`USER_CONNECTIONS`] connections (charged
//! to the user who connected, until both ends are closed) and
//! [`USER_LISTENERS`] listeners at once; past that, `ENOSPC`. So no user
//! can make this daemon hold more than 16 MiB of rings for it.
//!
//! Reading or writing a listener is `ENOTCONN`. `fstat` says `MODE_FIFO`
//! and, for an end, the bytes waiting to be read (for a listener, the
//! connections waiting); `fpath` gives the channel's name.
//!
//! May touch: only this scheme's tables (called by the daemon loop in
//! `main`).

use alloc::collections::{BTreeSet, VecDeque};

use chan_buffer::{Channel, Read, Side, Write};
use rt::prelude::*;
use scheme::sc::{
    EAGAIN, EBADF, EEXIST, EINVAL, ENAMETOOLONG, ENOENT, ENOSPC, ENOTCONN, EPERM, EPIPE, MODE_FIFO, O_CREAT, O_EXCL,
};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat};

/// Connections one unprivileged user may have at once.
pub const USER_CONNECTIONS: usize = 128;
/// Listeners one unprivileged user may have at once.
pub const USER_LISTENERS: usize = 64;

/// Bytes each direction of a connection holds.
pub const CAPACITY: usize = 64 * 1024;
/// The longest channel name.
const NAME_MAX: usize = 255;

enum Handle {
    /// Owns a name; connections wait in `pending` until accepted.
    Listener { name: String, pending: VecDeque<u64>, owner: u32 },
    /// One end of connection `conn`.
    End { conn: u64, side: Side },
}

struct Connection {
    channel: Channel,
    /// Who connected (and is charged for it).
    owner: u32,
    /// The listener's name it came through (for fpath).
    name: String,
    /// The handle of each end: the client's, and the server's once accepted.
    client: Option<usize>,
    server: Option<usize>,
}

impl Connection {
    fn handle_of(&self, side: Side) -> Option<usize> {
        match side {
            Side::Client => self.client,
            Side::Server => self.server,
        }
    }
}

/// The `chan:` scheme's state.
pub struct Chan {
    handles: Handles<Handle>,
    connections: BTreeMap<u64, Connection>,
    /// Name to listener handle.
    names: BTreeMap<String, usize>,
    next_connection: u64,
    /// Unprivileged users' (connections, listeners).
    usage: BTreeMap<u32, (usize, usize)>,
    /// Handles that became ready, for the daemon loop to report.
    ready: Vec<(usize, EventFlags)>,
    /// Handles someone asked the readiness of (`fevent`: an event queue
    /// watches them). Only these are reported: a notification for a handle
    /// nobody watches is a system call for nothing (measured: most of a
    /// ping-pong's).
    watched: BTreeSet<usize>,
}

fn err(errno: i32) -> Error {
    Error::new(errno)
}

impl Chan {
    pub fn new() -> Chan {
        Chan {
            handles: Handles::new(),
            connections: BTreeMap::new(),
            names: BTreeMap::new(),
            next_connection: 1,
            usage: BTreeMap::new(),
            ready: Vec::new(),
            watched: BTreeSet::new(),
        }
    }

    /// Report `handle` ready for `flags`, if anyone watches it.
    fn report(&mut self, handle: usize, flags: EventFlags) {
        if self.watched.contains(&handle) {
            self.ready.push((handle, flags));
        }
    }

    /// Tell whoever holds the `side` end of `conn` that it is ready for `flags`.
    fn wake(&mut self, conn: u64, side: Side, flags: EventFlags) {
        if let Some(handle) = self.connections.get(&conn).and_then(|c| c.handle_of(side)) {
            self.report(handle, flags);
        }
    }

    /// A new connection to the listener `listener`, waiting to be accepted;
    /// returns the client's handle.
    fn connect(&mut self, listener: usize, owner: u32) -> Result<usize> {
        let name = match self.handles.get(listener).ok() {
            Some(Handle::Listener { name, .. }) => name.clone(),
            Some(Handle::End { .. }) => return Err(err(EINVAL)),
            None => return Err(err(EBADF)),
        };
        self.charge(owner, 1, 0)?;
        let conn = self.next_connection;
        self.next_connection += 1;
        let client = self.handles.insert(Handle::End { conn, side: Side::Client });
        self.connections.insert(
            conn,
            Connection { channel: Channel::new(CAPACITY), owner, name, client: Some(client), server: None },
        );
        if let Ok(Handle::Listener { pending, .. }) = self.handles.get_mut(listener) {
            pending.push_back(conn);
        }
        self.report(listener, EventFlags::EVENT_READ);
        Ok(client)
    }

    /// Accept the oldest connection waiting on `listener`.
    fn accept(&mut self, listener: usize) -> Result<usize> {
        let conn = match self.handles.get_mut(listener).ok() {
            Some(Handle::Listener { pending, .. }) => pending.pop_front().ok_or(err(EAGAIN))?,
            Some(Handle::End { .. }) => return Err(err(EINVAL)),
            None => return Err(err(EBADF)),
        };
        let server = self.handles.insert(Handle::End { conn, side: Side::Server });
        if let Some(connection) = self.connections.get_mut(&conn) {
            connection.server = Some(server);
        }
        Ok(server)
    }

    fn end(&self, handle: usize) -> Result<(u64, Side)> {
        match self.handles.get(handle).ok() {
            Some(Handle::End { conn, side }) => Ok((*conn, *side)),
            Some(Handle::Listener { .. }) => Err(err(ENOTCONN)),
            None => Err(err(EBADF)),
        }
    }

    fn channel(&mut self, conn: u64) -> Result<&mut Channel> {
        self.connections.get_mut(&conn).map(|c| &mut c.channel).ok_or(err(EBADF))
    }

    /// `side` of `conn` hangs up; its peer is told, and the connection goes
    /// once both have.
    /// Count `connections` and `listeners` more for unprivileged `owner`,
    /// unless that passes its limits (`ENOSPC`).
    fn charge(&mut self, owner: u32, connections: usize, listeners: usize) -> Result<()> {
        if owner == 0 {
            return Ok(());
        }
        let usage = self.usage.entry(owner).or_insert((0, 0));
        if usage.0 + connections > USER_CONNECTIONS || usage.1 + listeners > USER_LISTENERS {
            return Err(err(ENOSPC));
        }
        usage.0 += connections;
        usage.1 += listeners;
        Ok(())
    }

    fn uncharge(&mut self, owner: u32, connections: usize, listeners: usize) {
        if let Some(usage) = self.usage.get_mut(&owner) {
            usage.0 -= connections;
            usage.1 -= listeners;
            if *usage == (0, 0) {
                self.usage.remove(&owner);
            }
        }
    }

    fn hang_up(&mut self, conn: u64, side: Side) {
        let Some(connection) = self.connections.get_mut(&conn) else { return };
        connection.channel.close(side);
        match side {
            Side::Client => connection.client = None,
            Side::Server => connection.server = None,
        }
        if connection.channel.is_dead() {
            let owner = connection.owner;
            self.connections.remove(&conn);
            self.uncharge(owner, 1, 0);
        } else {
            self.wake(conn, side.peer(), EventFlags::EVENT_READ | EventFlags::EVENT_WRITE);
        }
    }
}

impl Scheme for Chan {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        let name = path.trim_start_matches('/');
        if name.len() > NAME_MAX {
            return Err(err(ENAMETOOLONG));
        }
        if let Some(&listener) = self.names.get(name) {
            if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
                return Err(err(EEXIST));
            }
            return self.connect(listener, caller.uid).map(Opened::Handle);
        }
        if flags & O_CREAT == 0 {
            return Err(err(ENOENT));
        }
        if name.is_empty() {
            return Err(err(EINVAL));
        }
        self.charge(caller.uid, 0, 1)?;
        let listener = self.handles.insert(Handle::Listener {
            name: String::from(name),
            pending: VecDeque::new(),
            owner: caller.uid,
        });
        self.names.insert(String::from(name), listener);
        Ok(Opened::Handle(listener))
    }

    fn dup(&mut self, handle: usize, name: &[u8], caller: &Caller) -> Result<Opened> {
        match name {
            b"listen" => self.accept(handle).map(Opened::Handle),
            b"connect" => self.connect(handle, caller.uid).map(Opened::Handle),
            _ => Err(err(EINVAL)),
        }
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        let (conn, side) = self.end(handle)?;
        match self.channel(conn)?.read(side, buf) {
            Read::Data(n) => {
                if n > 0 {
                    self.wake(conn, side.peer(), EventFlags::EVENT_WRITE);
                }
                Ok(n)
            }
            Read::Empty => Err(err(EAGAIN)),
            Read::Eof => Ok(0),
        }
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let (conn, side) = self.end(handle)?;
        match self.channel(conn)?.write(side, buf) {
            Write::Accepted(n) => {
                if n > 0 {
                    self.wake(conn, side.peer(), EventFlags::EVENT_READ);
                }
                Ok(n)
            }
            Write::Full => Err(err(EAGAIN)),
            Write::Broken => Err(err(EPIPE)),
        }
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        let ready = match self.handles.get(handle)? {
            Handle::Listener { pending, .. } if !pending.is_empty() => EventFlags::EVENT_READ,
            Handle::Listener { .. } => EventFlags::empty(),
            &Handle::End { conn, side } => {
                let now = self.channel(conn)?.readiness(side);
                let mut flags = EventFlags::empty();
                flags.set(EventFlags::EVENT_READ, now.read);
                flags.set(EventFlags::EVENT_WRITE, now.write);
                flags
            }
        };
        if !interest.is_empty() {
            self.watched.insert(handle);
        }
        Ok(ready & interest)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        stat.st_size = match self.handles.get(handle)? {
            Handle::Listener { pending, .. } => pending.len() as u64,
            &Handle::End { conn, side } => self.channel(conn)?.pending(side) as u64,
        };
        stat.st_mode = MODE_FIFO | 0o600;
        stat.st_ino = handle as u64;
        stat.st_nlink = 1;
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        match self.handles.get(handle)? {
            Handle::Listener { name, .. } => Ok(name.clone()),
            Handle::End { conn, .. } => self.connections.get(conn).map(|c| c.name.clone()).ok_or(err(EBADF)),
        }
    }

    /// Names go with their listener's close; unlink cannot take them.
    fn unlink(&mut self, path: &str, _caller: &Caller) -> Result<()> {
        if self.names.contains_key(path.trim_start_matches('/')) { Err(err(EPERM)) } else { Err(err(ENOENT)) }
    }

    fn close(&mut self, handle: usize) {
        self.watched.remove(&handle);
        match self.handles.remove(handle) {
            Some(Handle::Listener { name, pending, owner }) => {
                if self.names.get(&name) == Some(&handle) {
                    self.names.remove(&name);
                }
                self.uncharge(owner, 0, 1);
                for conn in pending {
                    self.hang_up(conn, Side::Server);
                }
            }
            Some(Handle::End { conn, side }) => self.hang_up(conn, side),
            None => {}
        }
    }

    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        events.append(&mut self.ready);
    }
}
