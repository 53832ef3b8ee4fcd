//! `sys:` — what the kernel knows about the system, as read-only text files.
//!
//! | file | contents |
//! |---|---|
//! | `sys:uname` | `Ferrite 0.1.0 x86_64` |
//! | `sys:context` | a header, then one line per process: pid, ppid, pgid (process group), uid, gid, state (`running`, `ready`, `blocked`, or `exit:N` / `signal:N` once ended and not yet reaped), threads, KiB of memory resident (pages of RAM it maps), name |
//! | `sys:memory` | `key: value` lines: physical frames and bytes (total/used/free), kernel heap (mapped/used/free bytes, allocations) |
//! | `sys:log` | the kernel log ring: the newest whole log lines (see `logger`) |
//! | `sys:scheme` | the scheme names the *opener's* namespace can open, one per line |
//! | `sys:framebuffer` | only when the bootloader set one up (else `ENOENT`, and not listed): `key: value` lines `address` (physical, hex), `size` (bytes), `width`, `height`, `stride` (pixels per line), `bytes_per_pixel`, `format` (`rgb`, `bgr`, `gray` or `bits R G B`); a root driver maps `size` bytes from `address` through `memory:physical` |
//! | `sys:namespace` | one line per process: pid, name, then the scheme names its namespace holds (`-` for the null namespace, which opens nothing) |
//! | `sys:daemon` | a header, then one line per scheme a daemon registered since boot (`scheme::registry`): scheme, pid serving it (`-`: none), its program, restarts (registrations less one), and how the instance before ended (`pid N exit:C`, `pid N signal:S`, `pid N closed`; `-`: none has) |
//! | `sys:cpu` | `key: value` lines: CPUs online, vendor, family, model, features, protections, TSC and timer frequency, TLB shootdowns and their IPIs since boot, then one line per CPU (timer ticks, thread switches and those that loaded another address space, since boot) |
//!
//! `open("sys:")` (or `sys:/`) lists the file names, one per line. Each
//! file's text is generated when it is opened, so reads and seeks on one
//! open file see one consistent snapshot; open again for fresh figures.
//! `fstat` says `MODE_FILE`/`MODE_DIR` and the snapshot's size; `fpath`
//! gives `sys:NAME`. Unknown names are `ENOENT`, `O_DIRECTORY` on a file is
//! `ENOTDIR`. Nothing here can be changed: opening for writing (or with
//! `O_CREAT`/`O_TRUNC`), `write`, `ftruncate`, `unlink` and `rmdir` of a
//! name that exists are all `EROFS`, as on `initfs:`.
//!
//! May touch: its own table of open handles; reads (never changes) the
//! process table, the frame allocator's and heap's counters, the log ring
//! and the caller's namespace, each under that module's own lock.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering;

use abi::syscall::error::{ENOENT, ENOTDIR, EROFS, Error};
use abi::syscall::{EventFlags, MODE_DIR, MODE_FILE, O_ACCMODE, O_CREAT, O_DIRECTORY, O_RDONLY, O_TRUNC, Stat};
use x86_64::instructions::interrupts::without_interrupts;

use super::handles::HandleTable;
use super::snapshot::Snapshot;
use super::{Caller, KernelScheme, Opened};
use crate::arch::x86_64::{self as arch, percpu, tsc};
use crate::context::process::{self, Process};
use crate::context::thread::State;

/// A file's generator: its text, for this opener.
type Generator = fn(&Caller) -> String;

/// One file: its name, whether it exists on this machine (else it is
/// `ENOENT` and not listed), and its text.
#[derive(Clone, Copy)]
struct File {
    name: &'static str,
    exists: fn() -> bool,
    generate: Generator,
}

/// A file every machine has.
const fn always(name: &'static str, generate: Generator) -> File {
    File { name, exists: || true, generate }
}

/// The files, sorted by name (the listing's order).
const FILES: [File; 10] = [
    always("context", context),
    always("cpu", cpu),
    always("daemon", daemons),
    File { name: "firmware", exists: || crate::boot::firmware().is_some(), generate: firmware },
    File { name: "framebuffer", exists: || crate::framebuffer::get().is_some(), generate: framebuffer },
    always("log", log),
    always("memory", memory),
    always("namespace", namespaces),
    always("scheme", schemes),
    always("uname", uname),
];

struct Handle {
    /// The file's name, or "" for the listing.
    name: &'static str,
    /// The text, as it was at open.
    text: Snapshot,
}

pub struct SysScheme {
    handles: HandleTable<Handle>,
}

impl Default for SysScheme {
    fn default() -> Self {
        Self::new()
    }
}

impl SysScheme {
    pub fn new() -> SysScheme {
        SysScheme { handles: HandleTable::new() }
    }

    /// Run `f` on the open handle `id` (`EBADF` if there is none).
    fn with<R>(&self, id: usize, f: impl FnOnce(&mut Handle) -> R) -> Result<R, Error> {
        self.handles.with(id, f)
    }
}

/// `path` without leading and trailing slashes: "" is the listing.
fn file_name(path: &str) -> &str {
    path.trim_matches('/')
}

/// The files this machine has.
fn existing() -> impl Iterator<Item = File> {
    FILES.into_iter().filter(|file| (file.exists)())
}

fn find(name: &str) -> Option<File> {
    existing().find(|file| file.name == name)
}

impl KernelScheme for SysScheme {
    fn open(&self, path: &str, flags: usize, caller: &Caller) -> Result<Opened, Error> {
        let access = flags & O_ACCMODE;
        if (access != O_RDONLY && access != 0) || flags & (O_CREAT | O_TRUNC) != 0 {
            return Err(Error::new(EROFS));
        }
        let name = file_name(path);
        let (name, data) = if name.is_empty() {
            let mut listing = String::new();
            for file in existing() {
                listing.push_str(file.name);
                listing.push('\n');
            }
            ("", listing)
        } else {
            let file = find(name).ok_or(Error::new(ENOENT))?;
            if flags & O_DIRECTORY != 0 {
                return Err(Error::new(ENOTDIR));
            }
            (file.name, (file.generate)(caller))
        };
        Ok(Opened::Handle(self.handles.insert(Handle { name, text: Snapshot::new(data.into_bytes()) })))
    }

    fn read(&self, handle: usize, buf: &mut [u8], _flags: usize) -> Result<usize, Error> {
        self.with(handle, |h| h.text.read(buf))
    }

    fn write(&self, handle: usize, _buf: &[u8], _flags: usize) -> Result<usize, Error> {
        self.with(handle, |_| ())?;
        Err(Error::new(EROFS))
    }

    fn seek(&self, handle: usize, offset: isize, whence: usize) -> Result<usize, Error> {
        self.with(handle, |h| h.text.seek(offset, whence))?
    }

    fn fstat(&self, handle: usize, stat: &mut Stat) -> Result<(), Error> {
        let (dir, size) = self.with(handle, |h| (h.name.is_empty(), h.text.len()))?;
        stat.st_mode = if dir { MODE_DIR | 0o555 } else { MODE_FILE | 0o444 };
        stat.st_size = size as u64;
        stat.st_nlink = 1;
        stat.st_blksize = 4096;
        Ok(())
    }

    fn fpath(&self, handle: usize) -> Result<String, Error> {
        self.with(handle, |h| String::from(h.name))
    }

    /// Always readable: the snapshot is there from the open on.
    fn fevent(&self, handle: usize, interest: EventFlags) -> Result<EventFlags, Error> {
        self.with(handle, |_| interest & EventFlags::EVENT_READ)
    }

    fn ftruncate(&self, handle: usize, _len: usize) -> Result<(), Error> {
        self.with(handle, |_| ())?;
        Err(Error::new(EROFS))
    }

    fn unlink(&self, path: &str, _caller: &Caller) -> Result<(), Error> {
        let name = file_name(path);
        if name.is_empty() || find(name).is_some() { Err(Error::new(EROFS)) } else { Err(Error::new(ENOENT)) }
    }

    fn rmdir(&self, path: &str, caller: &Caller) -> Result<(), Error> {
        self.unlink(path, caller)
    }

    fn close(&self, handle: usize) -> Result<(), Error> {
        self.handles.remove(handle).map(drop)
    }
}

/// Only listed when there is one (the bootloader's record never changes).
fn framebuffer(_caller: &Caller) -> String {
    crate::framebuffer::get().map(|fb| fb.describe()).unwrap_or_default()
}

/// Only listed when the memory map named it.
fn firmware(_caller: &Caller) -> String {
    crate::boot::firmware().map(|f| alloc::format!("{}\n", f.name())).unwrap_or_default()
}

fn uname(_caller: &Caller) -> String {
    alloc::format!("Ferrite {} x86_64\n", env!("CARGO_PKG_VERSION"))
}

/// What a process is doing, as one word.
fn state(process: &Process) -> String {
    if let Some(status) = process.exit_status() {
        return match (abi::status::exit_code(status), abi::status::signal(status)) {
            (Some(code), _) => alloc::format!("exit:{code}"),
            (None, Some(signal)) => alloc::format!("signal:{signal}"),
            (None, None) => alloc::format!("ended:{status:#x}"),
        };
    }
    let states: Vec<State> = without_interrupts(|| process.threads.lock().iter().map(|t| t.state()).collect());
    let word = if states.contains(&State::Running) {
        "running"
    } else if states.contains(&State::Runnable) {
        "ready"
    } else if states.contains(&State::Blocked) {
        "blocked"
    } else if states.is_empty() {
        "new"
    } else {
        "dead"
    };
    String::from(word)
}

fn context(_caller: &Caller) -> String {
    let mut text = String::from("PID   PPID  PGID  UID   GID   STATE     THREADS  VIRT_KIB  NAME\n");
    for process in process::list() {
        let threads = without_interrupts(|| process.threads.lock().len());
        let mapped = process.with_space(|space| space.resident() * crate::memory::PAGE_SIZE).unwrap_or(0);
        let name = without_interrupts(|| process.name.lock().clone());
        let _ = writeln!(
            text,
            "{:<5} {:<5} {:<5} {:<5} {:<5} {:<9} {:<8} {:<9} {}",
            process.pid,
            process.ppid(),
            process.pgid(),
            process.uid(),
            process.gid(),
            state(&process),
            threads,
            mapped / 1024,
            name
        );
    }
    text
}

fn memory(_caller: &Caller) -> String {
    const FRAME: u64 = crate::memory::PAGE_SIZE;
    let frames = crate::memory::frame::stats();
    let heap = crate::memory::heap::stats();
    let mut text = String::new();
    let _ = writeln!(text, "frames_total: {}", frames.managed);
    let _ = writeln!(text, "frames_used: {}", frames.used);
    let _ = writeln!(text, "frames_free: {}", frames.free);
    let _ = writeln!(text, "bytes_total: {}", frames.managed * FRAME);
    let _ = writeln!(text, "bytes_used: {}", frames.used * FRAME);
    let _ = writeln!(text, "bytes_free: {}", frames.free * FRAME);
    let _ = writeln!(text, "heap_mapped: {}", crate::memory::heap::mapped_bytes());
    let _ = writeln!(text, "heap_used: {}", heap.used);
    let _ = writeln!(text, "heap_free: {}", heap.free);
    let _ = writeln!(text, "heap_allocations: {}", heap.allocations);
    text
}

fn log(_caller: &Caller) -> String {
    // Log lines are built from `str`s, but a line cut at the ring's line
    // limit may end inside a character: keep whatever is not valid as U+FFFD.
    String::from_utf8(crate::logger::ring_snapshot())
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

fn schemes(caller: &Caller) -> String {
    let mut text = String::new();
    for name in caller.namespace.names() {
        text.push_str(&name);
        text.push('\n');
    }
    text
}

fn daemons(_caller: &Caller) -> String {
    super::registry::table()
}

fn namespaces(_caller: &Caller) -> String {
    let mut text = String::new();
    for process in process::list() {
        let names = process.namespace().names();
        let name = without_interrupts(|| process.name.lock().clone());
        let _ = write!(text, "{} {name}", process.pid);
        if names.is_empty() {
            text.push_str(" -");
        }
        for name in names {
            text.push(' ');
            text.push_str(&name);
        }
        text.push('\n');
    }
    text
}

fn cpu(_caller: &Caller) -> String {
    let features = arch::features();
    let mut text = String::new();
    let _ = writeln!(text, "cpus: {}", percpu::online_count());
    let _ = writeln!(text, "vendor: {}", features.vendor_str());
    let _ = writeln!(text, "family: {:#x}", features.family);
    let _ = writeln!(text, "model: {:#x}", features.model);
    let flags = [
        ("x2apic", features.x2apic),
        ("tsc-deadline", features.tsc_deadline),
        ("invariant-tsc", features.invariant_tsc),
        ("xsave", features.xsave),
        ("smep", features.smep),
        ("smap", features.smap),
        ("umip", features.umip),
        ("nx", features.nx),
        ("rdrand", features.rdrand),
        ("rdseed", features.rdseed),
        ("fsgsbase", features.fsgsbase),
        ("pcid", features.pcid),
        ("hypervisor", features.hypervisor),
    ];
    text.push_str("features:");
    for (name, present) in flags {
        if present {
            text.push(' ');
            text.push_str(name);
        }
    }
    text.push('\n');
    let _ = writeln!(text, "protections: {}", arch::protections());
    let _ = writeln!(text, "tsc_hz: {}", tsc::frequency_hz());
    let _ = writeln!(text, "timer_hz: {}", arch::apic::lapic::TIMER_HZ);
    let (shootdowns, ipis) = crate::memory::tlb::stats();
    let _ = writeln!(text, "tlb_shootdowns: {shootdowns}");
    let _ = writeln!(text, "tlb_shootdown_ipis: {ipis}");
    for cpu in percpu::all() {
        let _ = writeln!(
            text,
            "cpu{}: apic {}, {}, {} timer ticks, {} switches, {} address-space loads",
            cpu.index,
            cpu.apic_id.load(Ordering::Relaxed),
            if cpu.online.load(Ordering::Acquire) { "online" } else { "offline" },
            cpu.timer_ticks.load(Ordering::Relaxed),
            cpu.switches.load(Ordering::Relaxed),
            cpu.address_space_loads.load(Ordering::Relaxed)
        );
    }
    text
}
