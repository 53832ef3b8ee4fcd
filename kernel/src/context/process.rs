//! Processes: an address space, a file table, a parent and children, and
//! an exit status for the parent to collect. One user thread each for now.
//! The process table maps pids to processes until they are reaped.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use abi::syscall::error::{ECHILD, Error};
use spin::Mutex;
use x86_64::PhysAddr;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;

use super::file::FileTable;
use super::scheduler;
use super::thread::Thread;
use super::wait_queue::WaitQueue;
use crate::memory::address_space::AddressSpace;
use crate::memory::paging;
use crate::scheme::{Caller, Namespace};

pub type Pid = usize;

/// The process orphans are given to.
pub const INIT_PID: Pid = 1;

/// Processes one unprivileged user may have at once (a fork past it is
/// `EAGAIN`), so a fork bomb stops there.
pub const MAX_PROCESSES_PER_USER: usize = 64;

/// The resident pages an unprivileged user's process may map: an eighth
/// of RAM. A process that faults past it is the one that dies; root's
/// processes (the daemons) have no limit of their own.
pub fn memory_limit(uid: u32) -> u64 {
    if uid == 0 { u64::MAX } else { (crate::memory::frame::stats().managed / 8).max(256) }
}

/// Whether user `uid` may have one more process.
pub fn may_fork(uid: u32) -> bool {
    uid == 0
        || without_interrupts(|| TABLE.lock().values().filter(|p| p.uid() == uid && p.status.lock().is_none()).count())
            < MAX_PROCESSES_PER_USER
}

pub struct Process {
    pub pid: Pid,
    ppid: AtomicUsize,
    /// Its process group (`SYS_SETPGID`): inherited by fork, and the pid
    /// of the first process for that one.
    pgid: AtomicUsize,
    pub name: Mutex<String>,
    uid: AtomicU32,
    gid: AtomicU32,
    /// The schemes it can open.
    namespace: Mutex<Arc<Namespace>>,
    /// None once the process has exited.
    space: Mutex<Option<AddressSpace>>,
    /// Its PML4, readable without the lock (0 once gone).
    pml4: AtomicUsize,
    pub files: Mutex<FileTable>,
    /// Some(status) once it has exited (a zombie until reaped).
    status: Mutex<Option<usize>>,
    /// Some(status) from the moment it starts to end (while its files
    /// close, before `status` is set): how the things it held went.
    ending: Mutex<Option<usize>>,
    /// Where this process waits for its children.
    pub child_exited: WaitQueue,
    /// Signal that will end the process at its next return to user mode.
    signal: AtomicUsize,
    pub threads: Mutex<Vec<Arc<Thread>>>,
    /// I/O ports this process may use (see `SYS_PORT_GRANT`).
    io_ports: Mutex<Vec<core::ops::Range<u32>>>,
    /// Bumped by every grant; 0 while the process has none.
    io_generation: AtomicU64,
    /// How many log lines it may still cause (`log_limit`).
    pub log_budget: Mutex<crate::log_limit::Budget>,
    /// How many `event:` watches the queues it opened hold (each watch
    /// gives its count back when it goes; `scheme::event`).
    pub event_watches: Arc<AtomicUsize>,
}

static TABLE: Mutex<BTreeMap<Pid, Arc<Process>>> = Mutex::new(BTreeMap::new());
static NEXT_PID: AtomicUsize = AtomicUsize::new(INIT_PID);

/// The last I/O grant generation handed out (see [`Process::grant_ports`]).
static LAST_GRANT: AtomicU64 = AtomicU64::new(0);

impl Process {
    /// A new process in group `pgid`, or in a group of its own (its pid)
    /// when `pgid` is `None`.
    pub fn new(
        ppid: Pid,
        pgid: Option<Pid>,
        name: String,
        space: AddressSpace,
        files: FileTable,
        (uid, gid): (u32, u32),
        namespace: Arc<Namespace>,
    ) -> Arc<Process> {
        let pml4 = space.pml4().start_address().as_u64() as usize;
        let pid = NEXT_PID.fetch_add(1, Ordering::Relaxed);
        let process = Arc::new(Process {
            pid,
            ppid: AtomicUsize::new(ppid),
            pgid: AtomicUsize::new(pgid.unwrap_or(pid)),
            name: Mutex::new(name),
            uid: AtomicU32::new(uid),
            gid: AtomicU32::new(gid),
            namespace: Mutex::new(namespace),
            space: Mutex::new(Some(space)),
            pml4: AtomicUsize::new(pml4),
            files: Mutex::new(files),
            status: Mutex::new(None),
            ending: Mutex::new(None),
            child_exited: WaitQueue::new(),
            signal: AtomicUsize::new(0),
            threads: Mutex::new(Vec::new()),
            io_ports: Mutex::new(Vec::new()),
            io_generation: AtomicU64::new(0),
            log_budget: Mutex::new(crate::log_limit::Budget::new()),
            event_watches: Arc::new(AtomicUsize::new(0)),
        });
        without_interrupts(|| TABLE.lock().insert(process.pid, process.clone()));
        process
    }

    pub fn uid(&self) -> u32 {
        self.uid.load(Ordering::Relaxed)
    }

    pub fn gid(&self) -> u32 {
        self.gid.load(Ordering::Relaxed)
    }

    /// Change the user and group (the caller checks the privilege); the
    /// address space takes the new user's memory limit.
    pub fn set_ids(&self, uid: u32, gid: u32) {
        self.uid.store(uid, Ordering::Relaxed);
        self.gid.store(gid, Ordering::Relaxed);
        self.with_space(|space| space.set_limit(memory_limit(uid)));
    }

    pub fn namespace(&self) -> Arc<Namespace> {
        without_interrupts(|| self.namespace.lock().clone())
    }

    pub fn set_namespace(&self, namespace: Arc<Namespace>) {
        without_interrupts(|| *self.namespace.lock() = namespace);
    }

    /// Who this process is, for scheme calls.
    pub fn caller(&self) -> Caller {
        Caller { pid: self.pid, uid: self.uid(), gid: self.gid(), namespace: self.namespace() }
    }

    pub fn ppid(&self) -> Pid {
        self.ppid.load(Ordering::Relaxed)
    }

    pub fn pgid(&self) -> Pid {
        self.pgid.load(Ordering::Relaxed)
    }

    /// Move the process to group `pgid` (the caller checks the rules).
    pub fn set_pgid(&self, pgid: Pid) {
        self.pgid.store(pgid, Ordering::Relaxed);
    }

    pub fn pml4(&self) -> Option<PhysFrame> {
        match self.pml4.load(Ordering::Acquire) {
            0 => None,
            addr => Some(PhysFrame::containing_address(PhysAddr::new(addr as u64))),
        }
    }

    pub fn pending_signal(&self) -> usize {
        self.signal.load(Ordering::Acquire)
    }

    pub fn exit_status(&self) -> Option<usize> {
        without_interrupts(|| *self.status.lock())
    }

    /// The status it is ending (or has ended) with, once it has begun to.
    pub fn ending(&self) -> Option<usize> {
        without_interrupts(|| *self.ending.lock())
    }

    /// Run `f` on the address space (None after exit).
    pub fn with_space<R>(&self, f: impl FnOnce(&mut AddressSpace) -> R) -> Option<R> {
        without_interrupts(|| self.space.lock().as_mut().map(f))
    }

    /// Put a new address space in place (exec), load it if this process is
    /// running here, and return the old one.
    pub fn replace_space(&self, space: AddressSpace) -> Option<AddressSpace> {
        without_interrupts(|| {
            let pml4 = space.pml4();
            let old = self.space.lock().replace(space);
            self.pml4.store(pml4.start_address().as_u64() as usize, Ordering::Release);
            crate::memory::tlb::note_loaded(pml4);
            // SAFETY: the new table's kernel half is the kernel's own.
            unsafe { Cr3::write(pml4, Cr3Flags::empty()) };
            old
        })
    }

    /// Ask the process to end with `signal`; wake its threads if blocked.
    pub fn kill(&self, signal: usize) {
        let _ = self.signal.compare_exchange(0, signal, Ordering::AcqRel, Ordering::Acquire);
        // Pairs with the fence in the wait queues' blocking: a thread about
        // to block either sees the signal or is seen blocked and woken.
        core::sync::atomic::fence(Ordering::SeqCst);
        let threads: Vec<Arc<Thread>> = without_interrupts(|| self.threads.lock().clone());
        for thread in threads {
            scheduler::wake(&thread);
        }
    }
}

impl Process {
    /// Let this process use `ports`. A CPU running it picks the grant up on
    /// its next return to user mode (the caller nudges that CPU).
    ///
    /// Each grant gets a generation no other grant of any process has had,
    /// so a CPU knows its I/O bitmap is current from one comparison, and a
    /// process allocated where a dead one lived can never pass for it (a
    /// (process address, per-process count) pair could).
    pub fn grant_ports(&self, ports: core::ops::Range<u32>) {
        without_interrupts(|| {
            let mut granted = self.io_ports.lock();
            granted.push(ports);
            self.io_generation.store(LAST_GRANT.fetch_add(1, Ordering::Relaxed) + 1, Ordering::Release);
        });
    }

    /// Which version of the grants is current (0 = none).
    pub fn io_generation(&self) -> u64 {
        self.io_generation.load(Ordering::Acquire)
    }

    /// The ports granted.
    pub fn io_ports(&self) -> Vec<core::ops::Range<u32>> {
        without_interrupts(|| self.io_ports.lock().clone())
    }
}

/// Remove a process that never ran (a fork that failed half way).
pub fn discard(process: &Arc<Process>) {
    without_interrupts(|| TABLE.lock().remove(&process.pid));
}

pub fn get(pid: Pid) -> Option<Arc<Process>> {
    without_interrupts(|| TABLE.lock().get(&pid).cloned())
}

/// End the current process with `status` (an `abi::status` encoding):
/// release its memory and files, hand its children to init, leave the
/// status for the parent and wake it. Never returns.
pub fn exit_current(status: usize) -> ! {
    let thread = scheduler::current();
    let process = thread.process.clone().expect("idle thread cannot exit");
    drop(thread);
    without_interrupts(|| *process.ending.lock() = Some(status));
    // Files first: closing may talk to other processes.
    let files = without_interrupts(|| core::mem::take(&mut *process.files.lock()));
    drop(files);
    let space = without_interrupts(|| {
        process.pml4.store(0, Ordering::Release);
        crate::memory::tlb::note_loaded(paging::kernel_pml4());
        // SAFETY: the kernel's PML4 maps everything the kernel is using.
        unsafe { Cr3::write(paging::kernel_pml4(), Cr3Flags::empty()) };
        process.space.lock().take()
    });
    drop(space);

    let parent = without_interrupts(|| {
        let table = TABLE.lock();
        for child in table.values().filter(|p| p.ppid() == process.pid) {
            child.ppid.store(INIT_PID, Ordering::Relaxed);
        }
        *process.status.lock() = Some(status);
        table.get(&process.ppid()).cloned()
    });
    without_interrupts(|| process.threads.lock().clear());
    match parent {
        Some(parent) => {
            parent.child_exited.wake_all();
        }
        None => {
            reap(process.pid);
        }
    }
    if let Some(init) = get(INIT_PID) {
        init.child_exited.wake_all();
    }
    if process.pid == INIT_PID {
        super::first_process_exited(status);
    }
    drop(process);
    scheduler::exit_thread()
}

fn reap(pid: Pid) -> Option<usize> {
    without_interrupts(|| TABLE.lock().remove(&pid)).and_then(|p| p.exit_status())
}

/// `waitpid`: collect a child that has ended. `pid` is a child's pid or
/// `abi::WAIT_ANY`. With `nohang`, returns `Ok(None)` instead of waiting.
pub fn wait_child(parent: &Arc<Process>, pid: Pid, nohang: bool) -> Result<Option<(Pid, usize)>, Error> {
    let mut found = None;
    let find = |found: &mut Option<(Pid, usize)>| -> Result<bool, Error> {
        let table = TABLE.lock();
        let mut has_child = false;
        for child in table.values().filter(|p| p.ppid() == parent.pid && p.pid != parent.pid) {
            if pid != abi::WAIT_ANY && child.pid != pid {
                continue;
            }
            has_child = true;
            if let Some(status) = *child.status.lock() {
                *found = Some((child.pid, status));
                return Ok(true);
            }
        }
        if has_child { Ok(false) } else { Err(Error::new(ECHILD)) }
    };
    if nohang {
        if !without_interrupts(|| find(&mut found))? {
            return Ok(None);
        }
    } else {
        let mut error = None;
        parent.child_exited.wait_until(
            || {
                // A power request for init ends its wait (`scheme::power`).
                if parent.pid == INIT_PID && crate::scheme::power::pending() {
                    error = Some(Error::new(abi::syscall::error::EINTR));
                    return true;
                }
                match find(&mut found) {
                    Ok(ready) => ready,
                    Err(err) => {
                        error = Some(err);
                        true
                    }
                }
            },
            0,
        )?;
        if let Some(err) = error {
            return Err(err);
        }
    }
    let (child, status) = found.expect("a child was found");
    reap(child);
    Ok(Some((child, status)))
}

/// The live (not ended) processes of group `pgid`.
pub fn group_members(pgid: Pid) -> Vec<Arc<Process>> {
    without_interrupts(|| {
        TABLE.lock().values().filter(|p| p.pgid() == pgid && p.status.lock().is_none()).cloned().collect()
    })
}

/// Every process in the table (running, or ended and not yet reaped), by
/// pid: a snapshot for `sys:context`.
pub fn list() -> Vec<Arc<Process>> {
    without_interrupts(|| TABLE.lock().values().cloned().collect())
}
