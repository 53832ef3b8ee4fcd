//! `network:`: the network cards, as raw Ethernet frames (README
//! "Network card").
//!
//! - `network:` (any user) lists the cards, one name per line: `0`, `1`,
//!   ... in PCI order.
//! - `network:N` (root only, else `EACCES`): the card's Ethernet frames.
//!   `read` returns exactly one received frame (destination MAC first,
//!   no virtio header, no FCS); a buffer shorter than the frame gets its
//!   first bytes and the rest is dropped; with nothing waiting it blocks,
//!   or gives `EAGAIN` when the file is `O_NONBLOCK`. `write` sends
//!   exactly one frame of 14..=1514 bytes (else `EINVAL`; an empty write
//!   never gets here: the kernel answers it with 0); when the card's
//!   transmit slots are all in flight it blocks (or `EAGAIN`). A handle
//!   opened read-only sends nothing (`EBADF`), one opened write-only
//!   receives nothing.
//!   `fevent` reports `EVENT_READ` while frames wait and `EVENT_WRITE`
//!   while a frame can be sent; the `event:` watchers of a handle are
//!   told when frames arrive for it, and when transmit slots free up
//!   after a write found none.
//! - `network:N/batch` (root only): the same frames, several per call
//!   (`lib/frame-batch`: each frame's length as two little-endian bytes,
//!   then the frame). A read gives as many whole waiting frames as fit
//!   (`EINVAL` if the buffer cannot hold the next one: give it 1516 bytes
//!   or more); a write sends the frames of one batch in order, as many as
//!   the transmit slots take, and returns the bytes of those sent (`EAGAIN`
//!   when none could be); a batch with a bad length or a cut frame is
//!   refused whole (`EINVAL`): one scheme call for a burst of frames,
//!   not one each (`netd` sends this way, on its `ring` file).
//! - `network:N/ring` (root only): a batch handle whose received frames
//!   come first through memory shared with its opener (`lib/frame-ring`):
//!   `fmap` of its first [`frame_ring::BYTES`] bytes maps the ring (made
//!   then; at most [`MAX_RINGS`] at once, `EBUSY` after), each
//!   frame that arrives is copied into it (while the handle's queue is
//!   empty and the ring has room, else queued as for `batch`, and the ring
//!   says how many wait there) and `event:` is told; the reader copies
//!   frames out without a scheme call, and reads the queue only when the
//!   ring says frames wait in it. Writes and reads are `batch`'s. A
//!   second ring carries frames the other way: `fmap` at
//!   [`frame_ring::SECOND_AT`] maps it, and `dup(fd, "kick")` gives the
//!   write end of the driver's kick pipe; the opener pushes frames into
//!   the ring and writes a byte to the pipe, and the driver, woken by it,
//!   hands the ring's frames to the card in order (a batch write on the
//!   handle first sends what the ring holds, and is `EAGAIN` while the
//!   card cannot take all of it). `netd` uses both: a received burst
//!   costs it no call to the driver, and a sent one a pipe write, not a
//!   call.
//! - `network:N/mac` (any user): the MAC address as text,
//!   `52:54:00:12:34:56\n`.
//! - `network:N/stats` (any user): counters as text, one `name value`
//!   per line: `rx_frames`, `rx_bytes` (frames received and their
//!   bytes), `tx_frames`, `tx_bytes` (frames handed to the card),
//!   `rx_dropped` (a frame not queued for a reader: its queue was full,
//!   or no `network:N` was open), `rx_errors` (frames the card handed
//!   back with a bad length).
//!
//! Like a tap, every frame goes to every handle of its card opened for
//! reading: each has its own queue of up to [`QUEUE_FRAMES`] frames (when
//! full, new frames are dropped and counted); frames that arrive while
//! none is open are dropped. `mac` and `stats` are read as they were
//! when opened.
//!
//! May touch: the cards (through `virtio_glue::net`), its handle table.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use rt::fs::File;
use rt::mem::SharedMapping;
use rt::prelude::*;
use scheme::sc::{
    EACCES, EAGAIN, EBADF, EBUSY, EINVAL, EIO, ENODEV, ENOENT, MODE_CHR, MODE_DIR, MODE_FILE, MapFlags, O_ACCMODE,
    O_RDONLY, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET,
};
use scheme::{Caller, Error, EventFlags, Handles, Opened, Result, Scheme, Stat};
use virtio_glue::net::{MAX_FRAME, MIN_FRAME, NetDevice, NetError};

/// Frames one handle holds for its reader before new ones are dropped.
pub const QUEUE_FRAMES: usize = 256;

/// The counters of `network:N/stats`.
#[derive(Default)]
struct Stats {
    rx_frames: u64,
    rx_bytes: u64,
    tx_frames: u64,
    tx_bytes: u64,
    rx_dropped: u64,
}

/// One network card.
pub struct Card {
    /// Its PCI address.
    address: String,
    device: NetDevice,
    stats: Stats,
    /// A write found every transmit slot in flight: tell the watchers
    /// when one frees up.
    tx_waiting: bool,
}

impl Card {
    pub fn new(address: String, device: NetDevice) -> Card {
        Card { address, device, stats: Stats::default(), tx_waiting: false }
    }

    fn mac_text(&self) -> String {
        let mac = self.device.mac();
        format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\n", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
    }

    fn stats_text(&self) -> String {
        let s = &self.stats;
        format!(
            "rx_frames {}\nrx_bytes {}\ntx_frames {}\ntx_bytes {}\nrx_dropped {}\nrx_errors {}\n",
            s.rx_frames,
            s.rx_bytes,
            s.tx_frames,
            s.tx_bytes,
            s.rx_dropped,
            self.device.rx_errors()
        )
    }
}

enum Handle {
    /// The listing, `mac` or `stats`: text as it was at the open.
    Text { text: Vec<u8>, offset: usize, path: String, directory: bool },
    /// `network:N`, `network:N/batch` or `network:N/ring` ([`Form`]): the
    /// frames waiting for this reader.
    Frames { card: usize, readable: bool, writable: bool, form: Form, queue: VecDeque<Rc<[u8]>> },
}

/// How a frames handle moves frames.
enum Form {
    /// `network:N`: one frame per call.
    Single,
    /// `network:N/batch`: several frames per call (`lib/frame-batch`).
    Batch,
    /// `network:N/ring`: batches, received frames through the `rx` ring
    /// first, frames to send through the `tx` ring too; each ring's memory
    /// is made at the opener's first `fmap` of it (until then received
    /// frames go to the queue: nobody would take them from a ring, and a
    /// handle never mapped costs no memory).
    Ring { rx: Option<SharedMapping>, tx: Option<SharedMapping> },
}

impl Form {
    /// The ring of received frames, once its reader mapped it.
    fn ring(&self) -> Option<frame_ring::Ring<'_>> {
        match self {
            Form::Ring { rx: Some(memory), .. } => frame_ring::Ring::new(memory.atomic_u64s()),
            _ => None,
        }
    }

    /// The ring of frames to send, once its writer mapped it.
    fn send_ring(&self) -> Option<frame_ring::Ring<'_>> {
        match self {
            Form::Ring { tx: Some(memory), .. } => frame_ring::Ring::new(memory.atomic_u64s()),
            _ => None,
        }
    }

    /// How many rings it has mapped.
    fn rings(&self) -> usize {
        match self {
            Form::Ring { rx, tx } => usize::from(rx.is_some()) + usize::from(tx.is_some()),
            _ => 0,
        }
    }
}

/// Rings mapped at once, over all cards and both ways (each holds 33 pages
/// of the driver's memory): a later `fmap` is `EBUSY`.
pub const MAX_RINGS: usize = 8;

pub struct Cards {
    cards: Vec<Card>,
    handles: Handles<Handle>,
    /// Handles that became ready, for the `event:` watchers.
    ready: Vec<(usize, EventFlags)>,
    /// The write end of the kick pipe (its read end is in the driver's
    /// `event:` queue): `dup(ring, "kick")` gives a new write end of it.
    kick: File,
    /// One frame popped from a ring on its way to the card.
    frame: Vec<u8>,
    /// Bad frames seen in rings to send (logged when they grow).
    bad_pushes: u64,
}

impl Cards {
    pub fn new(cards: Vec<Card>, kick: File) -> Cards {
        Cards {
            cards,
            handles: Handles::new(),
            ready: Vec::new(),
            kick,
            frame: vec![0; frame_ring::MAX_FRAME],
            bad_pushes: 0,
        }
    }

    /// One line per card, for the log.
    pub fn describe(&self) -> Vec<String> {
        self.cards
            .iter()
            .enumerate()
            .map(|(n, card)| format!("network:{n} is {} at {}", card.mac_text().trim_end(), card.address))
            .collect()
    }

    /// Card `index` interrupted: collect what it completed, hand every
    /// frame to each reader of the card, note who to tell, and send what
    /// waits in rings while slots freed up. Whether anything changed
    /// (frames arrived or transmit slots freed up).
    pub fn interrupt(&mut self, index: usize) -> bool {
        let (changed, freed) = self.collect(index);
        if freed > 0 {
            self.send_rings();
        }
        changed
    }

    /// Hand the frames waiting in every ring to send to its card, in
    /// order, while the card takes them (the rest wait for the next
    /// interrupt that frees a slot). Whether any was sent.
    pub fn send_rings(&mut self) -> bool {
        let rings: Vec<usize> = self
            .handles
            .iter()
            .filter(|(_, h)| matches!(h, Handle::Frames { writable: true, form: Form::Ring { tx: Some(_), .. }, .. }))
            .map(|(handle, _)| handle)
            .collect();
        let mut sent = false;
        for handle in rings {
            sent |= self.drain_ring(handle).0;
        }
        sent
    }

    /// Send from `handle`'s ring: whether any frame went, and whether the
    /// ring is empty now.
    fn drain_ring(&mut self, handle: usize) -> (bool, bool) {
        let Ok(Handle::Frames { card: index, form, .. }) = self.handles.get(handle) else { return (false, true) };
        let Some(ring) = form.send_ring() else { return (false, true) };
        let card = &mut self.cards[*index];
        let mut sent = false;
        loop {
            if !card.device.can_send() {
                // (A ring whose counts make no sense shows as empty; the
                // next pop starts it over.)
                let empty = ring.waiting() == 0;
                card.tx_waiting |= !empty;
                return (sent, empty);
            }
            match ring.pop(&mut self.frame) {
                frame_ring::Popped::Empty => return (sent, true),
                frame_ring::Popped::Bad => {
                    self.bad_pushes += 1;
                    if self.bad_pushes.is_power_of_two() {
                        log::warn!(
                            "network:{index}/ring: {} bad frame(s) in the ring to send, skipped",
                            self.bad_pushes
                        );
                    }
                }
                frame_ring::Popped::Frame(len) => match card.device.send(&self.frame[..len]) {
                    Ok(()) => {
                        sent = true;
                        card.stats.tx_frames += 1;
                        card.stats.tx_bytes += len as u64;
                    }
                    Err(err) => {
                        // A length the card refuses (the ring checked only
                        // its bound), or a queue error: this frame is lost.
                        self.bad_pushes += 1;
                        if self.bad_pushes.is_power_of_two() {
                            log::warn!("network:{index}/ring: a {len}-byte frame to send refused ({err:?})");
                        }
                    }
                },
            }
        }
    }

    /// [`Cards::interrupt`]'s work; also how many transmit slots it freed.
    fn collect(&mut self, index: usize) -> (bool, usize) {
        let Cards { cards, handles, .. } = self;
        let Some(card) = cards.get_mut(index) else { return (false, 0) };
        let mut told = Vec::new();
        let stats = &mut card.stats;
        // Each frame goes from the card's buffer into every reader's ring;
        // only a reader whose ring is full (or who has none) gets a copy
        // of its own, made once and shared.
        let polled = card.device.poll(|frame| {
            stats.rx_frames += 1;
            stats.rx_bytes += frame.len() as u64;
            let mut kept: Option<Rc<[u8]>> = None;
            let mut readers = 0;
            for (handle, state) in handles.iter_mut() {
                let Handle::Frames { card: of, readable: true, queue, form, .. } = state else { continue };
                if *of != index {
                    continue;
                }
                readers += 1;
                let ring = form.ring();
                if let Some(ring) = ring
                    && queue.is_empty()
                    && ring.push(frame)
                {
                    if !told.contains(&handle) {
                        told.push(handle);
                    }
                    continue;
                }
                if queue.len() >= QUEUE_FRAMES {
                    stats.rx_dropped += 1;
                    continue;
                }
                queue.push_back(kept.get_or_insert_with(|| frame.into()).clone());
                if let Some(ring) = ring {
                    ring.set_queued(queue.len());
                }
                if !told.contains(&handle) {
                    told.push(handle);
                }
            }
            if readers == 0 {
                stats.rx_dropped += 1;
            }
        });
        if polled.bad > 0 {
            log::error!(
                "network:{index}: the card gave {} frame(s) of a bad length (not {MIN_FRAME}..={MAX_FRAME} bytes); dropped",
                polled.bad
            );
        }
        self.ready.extend(told.into_iter().map(|handle| (handle, EventFlags::EVENT_READ)));
        if polled.sent > 0 && card.tx_waiting {
            card.tx_waiting = false;
            for (handle, state) in self.handles.iter() {
                if matches!(state, Handle::Frames { card: of, writable: true, .. } if *of == index) {
                    self.ready.push((handle, EventFlags::EVENT_WRITE));
                }
            }
        }
        (!self.ready.is_empty() || polled.sent > 0, polled.sent)
    }
}

impl Cards {
    /// A `network:N/batch` write: the batch's frames in order, while the
    /// card takes them.
    fn write_batch(&mut self, index: usize, buf: &[u8]) -> Result<usize> {
        let frames = frame_batch::frames(buf).map_err(|bad| {
            log::error!("network:{index}: a {}-byte batch refused (EINVAL): {bad:?}", buf.len());
            Error::new(EINVAL)
        })?;
        let mut frames = frames;
        loop {
            let at = frames.offset();
            let Some(frame) = frames.next() else { return Ok(buf.len()) };
            let mut sent = self.cards[index].device.send(frame);
            // Every slot in flight: take what the card finished since its
            // last interrupt (a batch is sent in one call, with no
            // interrupt handled in between), and try again while that
            // freed something.
            while matches!(sent, Err(NetError::Busy)) && self.collect(index).1 > 0 {
                sent = self.cards[index].device.send(frame);
            }
            let card = &mut self.cards[index];
            match sent {
                Ok(()) => {
                    card.stats.tx_frames += 1;
                    card.stats.tx_bytes += frame.len() as u64;
                }
                Err(NetError::Busy) => {
                    card.tx_waiting = true;
                    return if at == 0 { Err(Error::new(EAGAIN)) } else { Ok(at) };
                }
                Err(NetError::Invalid) => return Err(Error::new(EINVAL)),
                Err(NetError::Queue) => {
                    log::error!("network:{index}: the card's transmit queue refused a frame (EIO)");
                    return Err(Error::new(EIO));
                }
            }
        }
    }
}

/// `network:` paths: the listing, a card's frames, or one of its files.
enum Path {
    Listing,
    Frames(usize),
    Batch(usize),
    Ring(usize),
    Mac(usize),
    Stats(usize),
}

impl Cards {
    fn parse(&self, path: &str) -> Result<Path> {
        let path = path.trim_matches('/');
        if path.is_empty() {
            return Ok(Path::Listing);
        }
        let (name, file) = match path.split_once('/') {
            Some((name, file)) => (name, Some(file)),
            None => (path, None),
        };
        let card = (0..self.cards.len()).find(|n| format!("{n}") == name).ok_or(Error::new(ENOENT))?;
        match file {
            None => Ok(Path::Frames(card)),
            Some("mac") => Ok(Path::Mac(card)),
            Some("batch") => Ok(Path::Batch(card)),
            Some("ring") => Ok(Path::Ring(card)),
            Some("stats") => Ok(Path::Stats(card)),
            Some(_) => Err(Error::new(ENOENT)),
        }
    }
}

impl Scheme for Cards {
    fn open(&mut self, path: &str, flags: usize, caller: &Caller) -> Result<Opened> {
        let text = |text: String, path: String, directory: bool| Handle::Text {
            text: text.into_bytes(),
            offset: 0,
            path,
            directory,
        };
        let handle = match self.parse(path)? {
            Path::Listing => {
                let names: String = (0..self.cards.len()).map(|n| format!("{n}\n")).collect();
                text(names, String::new(), true)
            }
            Path::Mac(n) => text(self.cards[n].mac_text(), format!("{n}/mac"), false),
            Path::Stats(n) => text(self.cards[n].stats_text(), format!("{n}/stats"), false),
            kind @ (Path::Frames(card) | Path::Batch(card) | Path::Ring(card)) => {
                if caller.uid != 0 {
                    return Err(Error::new(EACCES));
                }
                let mode = flags & O_ACCMODE;
                let form = match kind {
                    Path::Ring(_) => Form::Ring { rx: None, tx: None },
                    Path::Batch(_) => Form::Batch,
                    _ => Form::Single,
                };
                Handle::Frames {
                    card,
                    readable: mode != O_WRONLY,
                    writable: mode != O_RDONLY,
                    form,
                    queue: VecDeque::new(),
                }
            }
        };
        Ok(Opened::Handle(self.handles.insert(handle)))
    }

    fn read(&mut self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize> {
        match self.handles.get_mut(handle)? {
            Handle::Text { text, offset, .. } => {
                // The offset may be anywhere a seek put it, past the end too.
                let start = (*offset).min(text.len());
                let n = buf.len().min(text.len() - start);
                buf[..n].copy_from_slice(&text[start..start + n]);
                *offset += n;
                Ok(n)
            }
            Handle::Frames { readable: false, .. } => Err(Error::new(EBADF)),
            Handle::Frames { queue, form: Form::Single, .. } => {
                let frame = queue.pop_front().ok_or(Error::new(EAGAIN))?;
                let n = buf.len().min(frame.len());
                buf[..n].copy_from_slice(&frame[..n]);
                Ok(n)
            }
            Handle::Frames { queue, form, .. } => {
                let mut at = 0;
                while let Some(frame) = queue.front() {
                    match frame_batch::put(buf, at, frame) {
                        Some(end) => at = end,
                        None if at == 0 => return Err(Error::new(EINVAL)),
                        None => break,
                    }
                    queue.pop_front();
                }
                if let Some(ring) = form.ring() {
                    ring.set_queued(queue.len());
                }
                if at == 0 { Err(Error::new(EAGAIN)) } else { Ok(at) }
            }
        }
    }

    fn write(&mut self, handle: usize, buf: &[u8], _flags: usize) -> Result<usize> {
        let Handle::Frames { card: index, writable, form, .. } = self.handles.get(handle)? else {
            return Err(Error::new(EBADF));
        };
        let (index, batch) = (*index, !matches!(form, Form::Single));
        if !writable {
            return Err(Error::new(EBADF));
        }
        // What waits in the handle's ring to send goes first: the batch
        // only after all of it.
        if !self.drain_ring(handle).1 {
            return Err(Error::new(EAGAIN));
        }
        if batch {
            return self.write_batch(index, buf);
        }
        let card = &mut self.cards[index];
        match card.device.send(buf) {
            Ok(()) => {
                card.stats.tx_frames += 1;
                card.stats.tx_bytes += buf.len() as u64;
                Ok(buf.len())
            }
            Err(NetError::Busy) => {
                card.tx_waiting = true;
                Err(Error::new(EAGAIN))
            }
            Err(NetError::Invalid) => {
                log::error!(
                    "network:{index}: a {}-byte frame refused (EINVAL): frames are {MIN_FRAME}..={MAX_FRAME} bytes",
                    buf.len()
                );
                Err(Error::new(EINVAL))
            }
            Err(NetError::Queue) => {
                log::error!("network:{index}: the card's transmit queue refused a frame (EIO)");
                Err(Error::new(EIO))
            }
        }
    }

    fn seek(&mut self, handle: usize, to: isize, whence: usize) -> Result<usize> {
        let Handle::Text { text, offset, .. } = self.handles.get_mut(handle)? else {
            return Err(Error::new(scheme::sc::ESPIPE));
        };
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *offset as i64,
            SEEK_END => text.len() as i64,
            _ => return Err(Error::new(EINVAL)),
        };
        let at = base.checked_add(to as i64).filter(|&at| at >= 0).ok_or(Error::new(EINVAL))?;
        *offset = at as usize;
        Ok(*offset)
    }

    fn fstat(&mut self, handle: usize, stat: &mut Stat) -> Result<()> {
        match self.handles.get(handle)? {
            Handle::Text { text, directory, .. } => {
                stat.st_mode = if *directory { MODE_DIR | 0o555 } else { MODE_FILE | 0o444 };
                stat.st_size = text.len() as u64;
            }
            Handle::Frames { queue, .. } => {
                stat.st_mode = MODE_CHR | 0o600;
                stat.st_size = queue.iter().map(|frame| frame.len() as u64).sum();
            }
        }
        Ok(())
    }

    fn fpath(&mut self, handle: usize) -> Result<String> {
        Ok(match self.handles.get(handle)? {
            Handle::Text { path, .. } => path.clone(),
            Handle::Frames { card, form: Form::Single, .. } => format!("{card}"),
            Handle::Frames { card, form: Form::Batch, .. } => format!("{card}/batch"),
            Handle::Frames { card, form: Form::Ring { .. }, .. } => format!("{card}/ring"),
        })
    }

    fn fevent(&mut self, handle: usize, interest: EventFlags) -> Result<EventFlags> {
        let ready = match self.handles.get(handle)? {
            Handle::Text { .. } => EventFlags::EVENT_READ | EventFlags::EVENT_WRITE,
            Handle::Frames { card, queue, form, .. } => {
                let in_ring = form.ring().is_some_and(|r| r.waiting() > 0);
                let mut flags = EventFlags::empty();
                flags.set(EventFlags::EVENT_READ, !queue.is_empty() || in_ring);
                flags.set(EventFlags::EVENT_WRITE, self.cards[*card].device.can_send());
                flags
            }
        };
        Ok(ready & interest)
    }

    /// `network:N/ring`: the memory of its ring of received frames (offset
    /// 0) or of frames to send (offset [`frame_ring::SECOND_AT`]), up to
    /// [`frame_ring::BYTES`] rounded up to pages; `ENODEV` for any other
    /// handle.
    fn fmap(&mut self, handle: usize, offset: usize, len: usize, _flags: MapFlags) -> Result<usize> {
        let mapped: usize = self
            .handles
            .iter()
            .map(|(_, h)| match h {
                Handle::Frames { form, .. } => form.rings(),
                Handle::Text { .. } => 0,
            })
            .sum();
        let Handle::Frames { card, form: Form::Ring { rx, tx }, .. } = self.handles.get_mut(handle)? else {
            return Err(Error::new(ENODEV));
        };
        let memory = match offset {
            0 => rx,
            frame_ring::SECOND_AT => tx,
            _ => return Err(Error::new(EINVAL)),
        };
        if len == 0 || len > frame_ring::BYTES.next_multiple_of(rt::mem::PAGE_SIZE) {
            return Err(Error::new(EINVAL));
        }
        if let Some(memory) = memory {
            return Ok(memory.addr());
        }
        if mapped >= MAX_RINGS {
            log::warn!("network:{card}/ring: {MAX_RINGS} rings mapped already; fmap refused (EBUSY)");
            return Err(Error::new(EBUSY));
        }
        let made = rt::mem::map_shared(frame_ring::BYTES)
            .inspect_err(|err| log::warn!("network:{card}/ring: no memory for the ring: {err}"))?;
        Ok(memory.insert(made).addr())
    }

    /// `dup(fd, "kick")` on a `network:N/ring` handle: a write end of the
    /// kick pipe (a byte written to it wakes the driver to send what the
    /// ring holds).
    fn dup(&mut self, handle: usize, name: &[u8], _caller: &Caller) -> Result<Opened> {
        match (self.handles.get(handle)?, name) {
            (Handle::Frames { writable: true, form: Form::Ring { .. }, .. }, b"kick") => {
                Ok(Opened::Fd(self.kick.derive("write")?.into_fd()))
            }
            _ => Err(Error::new(EINVAL)),
        }
    }

    fn close(&mut self, handle: usize) {
        self.handles.remove(handle);
    }

    fn drain_events(&mut self, events: &mut Vec<(usize, EventFlags)>) {
        events.append(&mut self.ready);
    }
}
