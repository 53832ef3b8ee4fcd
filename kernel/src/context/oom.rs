//! Out of memory: what happens when a page fault finds no frame for user
//! memory left (only the kernel's reserve, `frame::allocate_user`).
//!
//! The process that faulted is not necessarily the one to blame: a daemon
//! growing its heap by a page, or the shell, would die for a hog's doing.
//! So the kernel picks the unprivileged process holding the most resident
//! memory; only when no unprivileged process holds enough to be worth
//! killing does it take the largest of root's (a daemon too: it is
//! restarted by its supervisor, as after a crash). The hog is usually an
//! unprivileged program, and the daemons' own memory is bounded by their
//! quotas (`tmp:` 64 MiB, `shm:` 64 MiB). It kills the victim with
//! `SIGKILL`, says so in the log, and lets the faulting process wait for
//! the memory to come back and try again (killing up to [`VICTIMS`]
//! processes, one after another, if memory does not come back). If the
//! faulting process is itself the one chosen, it is the one that dies.
//! init is never chosen.
//!
//! May touch: the process table (read), each candidate's address space
//! (its resident count, under its own lock), and the frame counters.

use alloc::sync::Arc;

use super::process::{self, INIT_PID, Process};
use super::scheduler;
use crate::memory::frame;

/// How many times the faulting process yields, waiting for a victim to
/// end, before it picks another.
const WAIT_ROUNDS: usize = 5000;
/// The most processes killed for one fault.
const VICTIMS: usize = 4;

/// A process holding less than this is not worth killing: its memory
/// would not help.
const WORTH_KILLING: u64 = 64;

/// The process to kill: the largest resident set worth killing among
/// unprivileged processes, else among all (never init, nor one already
/// dying).
fn victim() -> Option<(Arc<Process>, u64)> {
    let candidates: alloc::vec::Vec<(Arc<Process>, u64)> = process::list()
        .into_iter()
        .filter(|p| p.pid != INIT_PID && p.exit_status().is_none() && p.pending_signal() == 0)
        .filter_map(|p| {
            let resident = p.with_space(|space| space.resident())?;
            Some((p, resident))
        })
        .filter(|(_, resident)| *resident >= WORTH_KILLING)
        .collect();
    let largest = |unprivileged_only: bool| {
        candidates
            .iter()
            .filter(|(p, _)| !unprivileged_only || p.uid() != 0)
            .max_by_key(|(_, resident)| *resident)
            .cloned()
    };
    largest(true).or_else(|| largest(false))
}

/// User memory ran out under the current process's fault. Kill the
/// largest process unless that is the current one, and wait until
/// frames are free again. True if the fault is worth retrying; false if
/// the current process should die instead.
pub fn make_room(current: &Arc<Process>) -> bool {
    for _ in 0..VICTIMS {
        // (A process already being killed is not chosen again.)
        let Some((victim, resident)) = victim() else { return false };
        if Arc::ptr_eq(&victim, current) {
            return false;
        }
        let name = victim.name.lock().clone();
        log::warn!(
            "out of memory: killing pid {} ({name}, uid {}) holding {} KiB, for pid {}'s fault",
            victim.pid,
            victim.uid(),
            resident * 4,
            current.pid
        );
        victim.kill(abi::SIGKILL);
        // Wait for its memory: until frames are free, or until it has
        // ended and given its memory back (then the next victim, if that
        // was not enough). A victim stuck in the kernel is given up on
        // after WAIT_ROUNDS.
        for _ in 0..WAIT_ROUNDS {
            if frame::user_frames_available() {
                return true;
            }
            if victim.exit_status().is_some() {
                break;
            }
            scheduler::yield_now();
        }
        drop(victim);
        if frame::user_frames_available() {
            return true;
        }
    }
    false
}
