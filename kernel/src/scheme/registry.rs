//! Who serves each daemon's scheme, how often it was registered and how
//! the instance before ended: what `sys:daemon` shows, so a restart and
//! its reason can be seen without reading logs (README "Supervision").
//!
//! The root scheme reports each registration and each socket close here.
//! How an instance ended is what its process was doing when the socket
//! closed: ending with a status (an exit, or a signal's), or still alive
//! (it closed the socket itself). At most [`RECORDS_MAX`] names are kept;
//! past that, the record of a name nobody serves now makes room.
//!
//! May touch: its own table (one lock, never held while calling out) and
//! the process table (to read a process's name and ending).

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt::Write;

use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

use crate::context::process::{self, Pid};

/// The most scheme names remembered.
pub const RECORDS_MAX: usize = 256;

#[derive(Default)]
struct Record {
    /// Registrations since boot.
    starts: u32,
    /// The pid serving it now.
    pid: Option<Pid>,
    /// How the previous instance ended: `pid N exit:C`, `pid N signal:S`
    /// or `pid N closed` (it closed its socket and went on).
    last_end: Option<String>,
}

static RECORDS: Mutex<BTreeMap<String, Record>> = Mutex::new(BTreeMap::new());

/// `name:` was registered by `pid`.
pub fn registered(name: &str, pid: Pid) {
    without_interrupts(|| {
        let mut records = RECORDS.lock();
        if !records.contains_key(name) && records.len() >= RECORDS_MAX {
            let idle = records.iter().find(|(_, r)| r.pid.is_none()).map(|(n, _)| n.clone());
            match idle {
                Some(idle) => drop(records.remove(&idle)),
                None => return,
            }
        }
        let record = records.entry(String::from(name)).or_default();
        record.starts = record.starts.saturating_add(1);
        record.pid = Some(pid);
    });
}

/// The socket of `name:` that `pid` registered closed.
pub fn unregistered(name: &str, pid: Pid) {
    let how = match process::get(pid).and_then(|p| p.ending()) {
        Some(status) => match (abi::status::exit_code(status), abi::status::signal(status)) {
            (Some(code), _) => alloc::format!("pid {pid} exit:{code}"),
            (None, Some(signal)) => alloc::format!("pid {pid} signal:{signal}"),
            (None, None) => alloc::format!("pid {pid} ended:{status:#x}"),
        },
        None => alloc::format!("pid {pid} closed"),
    };
    without_interrupts(|| {
        if let Some(record) = RECORDS.lock().get_mut(name)
            && record.pid == Some(pid)
        {
            record.pid = None;
            record.last_end = Some(how);
        }
    });
}

/// `sys:daemon`: a header, then one line per scheme name: the scheme, the
/// pid serving it (`-`: nobody), that process's name, its restarts
/// (registrations less one), and how the instance before ended (`-`:
/// none has).
pub fn table() -> String {
    let rows: alloc::vec::Vec<(String, u32, Option<Pid>, String)> = without_interrupts(|| {
        RECORDS
            .lock()
            .iter()
            .map(|(name, r)| (name.clone(), r.starts, r.pid, r.last_end.clone().unwrap_or_else(|| String::from("-"))))
            .collect()
    });
    let mut text = String::from("SCHEME PID PROGRAM RESTARTS LAST-END\n");
    for (name, starts, pid, last_end) in rows {
        let program = pid
            .and_then(process::get)
            .map(|p| without_interrupts(|| p.name.lock().replace(char::is_whitespace, "_")))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| String::from("-"));
        let pid = pid.map_or_else(|| String::from("-"), |p| alloc::format!("{p}"));
        let _ = writeln!(text, "{name} {pid} {program} {} {last_end}", starts.saturating_sub(1));
    }
    text
}
