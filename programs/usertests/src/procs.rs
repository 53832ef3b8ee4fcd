//! Processes: exit statuses through `waitpid`, `WNOHANG`, `ECHILD`, pids
//! across fork, orphans, copy-on-write and shared memory, many processes
//! at once, and a crash among healthy siblings.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use rt::abi::syscall as sc;
use rt::abi::{SIGSEGV, WAIT_ANY, WNOHANG};
use rt::process::ExitStatus;

use crate::support::{
    Outcome, WAIT, await_flag, ename, ensure, expect_errno, expect_exit, expect_signal, fork_child, ok, raise_flag,
    run_child, shared_page, syscall, wait_for, wait_until,
};

/// Reaps every child that has ended (any child, WNOHANG) until `count`
/// have or `limit` passes; returns pid → status.
fn reap_all(count: usize, limit: Duration) -> Result<BTreeMap<usize, ExitStatus>, String> {
    let mut reaped = BTreeMap::new();
    let mut error = None;
    wait_until(limit, || {
        loop {
            match rt::sys::waitpid(WAIT_ANY, WNOHANG) {
                Ok((0, _)) => return false,
                Ok((pid, status)) => {
                    if reaped.insert(pid, ExitStatus::from_raw(status)).is_some() {
                        error = Some(format!("pid {pid} reaped twice"));
                        return true;
                    }
                    if reaped.len() == count {
                        return true;
                    }
                }
                Err(err) if err.errno == sc::EINTR => {}
                Err(err) => {
                    error = Some(format!("waitpid(WAIT_ANY) after {} of {count}: {}", reaped.len(), ename(err)));
                    return true;
                }
            }
        }
    });
    if let Some(error) = error {
        return Err(error);
    }
    ensure!(reaped.len() == count, "only {} of {count} children ended in time", reaped.len());
    Ok(reaped)
}

pub fn exit_status_codes() -> Outcome {
    for code in [0u8, 1, 42, 127, 255] {
        let status = run_child(|| i32::from(code))?;
        expect_exit(&format!("exit({code})"), status, code)?;
    }
    // Only the low 8 bits of the status count.
    let status = run_child(|| {
        syscall(rt::abi::SYS_EXIT, &[0x12a]);
        99
    })?;
    expect_exit("SYS_EXIT(0x12a)", status, 0x2a)?;
    Ok(String::from("0 1 42 127 255, 0x12a -> 42"))
}

pub fn waitpid_wnohang() -> Outcome {
    let page = shared_page()?;
    let release = &page.atomic_u32s()[0];
    let pid = fork_child(|| if await_flag(release, WAIT) { 0 } else { 1 })?;
    let result = (|| {
        let (reaped, _) = ok("waitpid WNOHANG", rt::sys::waitpid(pid, WNOHANG))?;
        ensure!(reaped == 0, "WNOHANG on a running child returned pid {reaped}");
        let (reaped, _) = ok("waitpid(WAIT_ANY, WNOHANG)", rt::sys::waitpid(WAIT_ANY, WNOHANG))?;
        ensure!(reaped == 0, "WNOHANG for any child returned pid {reaped}");
        expect_errno("waitpid with unknown flags", syscall(rt::abi::SYS_WAITPID, &[pid, 0, 2]), sc::EINVAL)?;
        Ok(())
    })();
    raise_flag(release);
    let status = wait_for(pid, WAIT)?;
    result?;
    expect_exit("child", status, 0)?;
    Ok(String::from("0 while running"))
}

pub fn waitpid_echild_without_children() -> Outcome {
    expect_errno("waitpid(WAIT_ANY)", syscall(rt::abi::SYS_WAITPID, &[WAIT_ANY, 0, 0]), sc::ECHILD)?;
    expect_errno("waitpid(WAIT_ANY, WNOHANG)", syscall(rt::abi::SYS_WAITPID, &[WAIT_ANY, 0, WNOHANG]), sc::ECHILD)?;
    expect_errno("waitpid(123456)", syscall(rt::abi::SYS_WAITPID, &[123_456, 0, 0]), sc::ECHILD)?;
    Ok(String::from("ECHILD"))
}

pub fn waitpid_on_a_non_child() -> Outcome {
    let me = rt::process::getpid();
    let parent = rt::process::getppid();
    expect_errno("waitpid(own pid)", syscall(rt::abi::SYS_WAITPID, &[me, 0, 0]), sc::ECHILD)?;
    expect_errno("waitpid(parent)", syscall(rt::abi::SYS_WAITPID, &[parent, 0, 0]), sc::ECHILD)?;
    // A grandchild is not a child.
    let page = shared_page()?;
    let words = page.atomic_u64s();
    let release = &page.atomic_u32s()[0];
    let pid = fork_child(|| {
        let Ok(grandchild) = fork_child(|| if await_flag(release, WAIT) { 0 } else { 1 }) else {
            return 2;
        };
        words[1].store(grandchild as u64, Ordering::Release);
        match wait_for(grandchild, WAIT * 2) {
            Ok(status) if status.success() => 0,
            _ => 3,
        }
    })?;
    let published = wait_until(WAIT, || words[1].load(Ordering::Acquire) != 0);
    let grandchild = words[1].load(Ordering::Acquire) as usize;
    let result = if published {
        expect_errno("waitpid(grandchild)", syscall(rt::abi::SYS_WAITPID, &[grandchild, 0, WNOHANG]), sc::ECHILD)
    } else {
        Err(String::from("the child never reported its child's pid"))
    };
    raise_flag(release);
    let status = wait_for(pid, WAIT * 2)?;
    result?;
    expect_exit("child", status, 0)?;
    Ok(String::from("self, parent and grandchild: ECHILD"))
}

pub fn waitpid_any_collects_all() -> Outcome {
    let mut expected = BTreeMap::new();
    for code in 10..15u8 {
        let pid = fork_child(move || i32::from(code))?;
        expected.insert(pid, code);
    }
    let reaped = reap_all(expected.len(), WAIT)?;
    for (pid, status) in &reaped {
        let code = expected.get(pid).ok_or_else(|| format!("reaped pid {pid}, not one of ours"))?;
        expect_exit(&format!("pid {pid}"), *status, *code)?;
    }
    expect_errno("waitpid after all were reaped", syscall(rt::abi::SYS_WAITPID, &[WAIT_ANY, 0, WNOHANG]), sc::ECHILD)?;
    Ok(format!("{} children", reaped.len()))
}

pub fn fork_pids_and_parent() -> Outcome {
    let me = rt::process::getpid();
    ensure!(rt::process::getpid() == me, "getpid changed between calls");
    ensure!(rt::process::getppid() != me, "getppid == getpid");
    let page = shared_page()?;
    let words = page.atomic_u64s();
    // The raw call, to see the child's return value itself.
    let ret = syscall(rt::abi::SYS_FORK, &[]);
    if ret == 0 {
        words[0].store(rt::process::getpid() as u64, Ordering::Release);
        words[1].store(rt::process::getppid() as u64, Ordering::Release);
        words[2].store(1, Ordering::Release);
        rt::process::exit(0);
    }
    let pid = crate::support::expect_ok("fork", ret)?;
    let status = wait_for(pid, WAIT)?;
    expect_exit("child", status, 0)?;
    ensure!(words[2].load(Ordering::Acquire) == 1, "the child did not see fork return 0");
    let (child_pid, child_ppid) = (words[0].load(Ordering::Acquire), words[1].load(Ordering::Acquire));
    ensure!(child_pid == pid as u64, "fork returned {pid} but the child's getpid is {child_pid}");
    ensure!(child_ppid == me as u64, "the child's getppid is {child_ppid}, not {me}");
    ensure!(pid != me, "the child has the parent's pid");
    Ok(format!("parent {me}, child {pid}"))
}

pub fn orphans_go_to_init() -> Outcome {
    let page = shared_page()?;
    let words = page.atomic_u64s();
    let release = &page.atomic_u32s()[0];
    let pid = fork_child(|| {
        let grandchild = fork_child(|| {
            // Wait for our parent to exit, then report who our parent is.
            if !await_flag(release, WAIT) {
                return 1;
            }
            let reparented = wait_until(WAIT, || rt::process::getppid() == 1);
            words[1].store(rt::process::getppid() as u64, Ordering::Release);
            words[2].store(1, Ordering::Release);
            if reparented { 0 } else { 2 }
        });
        match grandchild {
            Ok(grandchild) => {
                words[0].store(grandchild as u64, Ordering::Release);
                0
            }
            Err(_) => 3,
        }
    })?;
    let status = wait_for(pid, WAIT)?;
    expect_exit("child", status, 0)?;
    // The orphan is not ours to wait for, and now belongs to init.
    let grandchild = words[0].load(Ordering::Acquire) as usize;
    expect_errno("waitpid(orphan)", syscall(rt::abi::SYS_WAITPID, &[grandchild, 0, WNOHANG]), sc::ECHILD)?;
    raise_flag(release);
    ensure!(wait_until(WAIT, || words[2].load(Ordering::Acquire) == 1), "the orphan never reported");
    let ppid = words[1].load(Ordering::Acquire);
    ensure!(ppid == 1, "the orphan's parent is {ppid}, not 1");
    Ok(format!("orphan {grandchild} reparented to 1"))
}

/// Private memory of every kind: static data, heap, an anonymous mapping.
static STATIC_WORD: AtomicU64 = AtomicU64::new(0);

pub fn copy_on_write_private_memory() -> Outcome {
    let page = shared_page()?;
    let release = &page.atomic_u32s()[0];
    let seen = &page.atomic_u64s()[1..4];
    let mut heap = vec![1u64; 1024];
    let mut mapping = ok("map_anonymous", rt::mem::map_anonymous(8192))?;
    STATIC_WORD.store(1, Ordering::Relaxed);
    mapping[5000] = 1;
    let pid = fork_child(|| {
        // What the parent had at the fork...
        let before = [STATIC_WORD.load(Ordering::Relaxed), heap[1000], u64::from(mapping[5000])];
        if before != [1, 1, 1] {
            return 1;
        }
        // ...and not what it writes afterwards.
        if !await_flag(release, WAIT) {
            return 2;
        }
        seen[0].store(STATIC_WORD.load(Ordering::Relaxed), Ordering::Relaxed);
        seen[1].store(heap[1000], Ordering::Relaxed);
        seen[2].store(u64::from(mapping[5000]), Ordering::Relaxed);
        // Our own writes stay ours.
        STATIC_WORD.store(3, Ordering::Relaxed);
        heap[1000] = 3;
        mapping[5000] = 3;
        if [STATIC_WORD.load(Ordering::Relaxed), heap[1000], u64::from(mapping[5000])] != [3, 3, 3] {
            return 3;
        }
        0
    })?;
    STATIC_WORD.store(2, Ordering::Relaxed);
    heap[1000] = 2;
    mapping[5000] = 2;
    raise_flag(release);
    let status = wait_for(pid, WAIT)?;
    expect_exit("child", status, 0)?;
    let child_saw: Vec<u64> = seen.iter().map(|w| w.load(Ordering::Relaxed)).collect();
    ensure!(child_saw == [1, 1, 1], "the child saw the parent's later writes: {child_saw:?} (static, heap, mapping)");
    let mine = [STATIC_WORD.load(Ordering::Relaxed), heap[1000], u64::from(mapping[5000])];
    ensure!(mine == [2, 2, 2], "the parent saw the child's writes: {mine:?}");
    Ok(String::from("static, heap and mapping stay private"))
}

pub fn map_shared_seen_by_both() -> Outcome {
    let shared = ok("map_shared", rt::mem::map_shared(3 * 4096))?;
    let words = shared.atomic_u64s();
    let last = words.len() - 1;
    let pid = fork_child(|| {
        words[0].store(0xc0ffee, Ordering::Release);
        words[last].store(0xbeef, Ordering::Release);
        if wait_until(WAIT, || words[1].load(Ordering::Acquire) == 0xfeed) { 0 } else { 1 }
    })?;
    let seen = wait_until(WAIT, || {
        words[0].load(Ordering::Acquire) == 0xc0ffee && words[last].load(Ordering::Acquire) == 0xbeef
    });
    words[1].store(0xfeed, Ordering::Release);
    let status = wait_for(pid, WAIT)?;
    ensure!(seen, "the parent never saw the child's writes");
    expect_exit("child (never saw the parent's write)", status, 0)?;
    Ok(String::from("3 pages, both directions"))
}

pub fn shared_memory_survives_the_other_side_unmapping() -> Outcome {
    let shared = ok("map_shared", rt::mem::map_shared(4096))?;
    let page = shared_page()?;
    let release = &page.atomic_u32s()[0];
    shared.atomic_u64s()[0].store(0x1234, Ordering::Release);
    let pid = fork_child(|| {
        if !await_flag(release, WAIT) {
            return 1;
        }
        // Still our memory, unchanged, and writable.
        let word = &shared.atomic_u64s()[0];
        if word.load(Ordering::Acquire) != 0x1234 {
            return 2;
        }
        word.store(0x5678, Ordering::Release);
        if word.load(Ordering::Acquire) == 0x5678 { 0 } else { 3 }
    })?;
    // Drop our view, then fill fresh memory: if the shared frame had been
    // freed with our view, it would be handed out again here.
    let unmapped = shared.unmap();
    let mut fresh = ok("map_anonymous", rt::mem::map_anonymous(8 << 20))?;
    fresh.fill(0xff);
    raise_flag(release);
    let status = wait_for(pid, WAIT)?;
    ok("munmap", unmapped)?;
    ensure!(status.code() != Some(2), "the child's shared page changed when the parent unmapped its view");
    expect_exit("the child using the shared page after the parent unmapped it", status, 0)?;
    Ok(String::from("the child's view is intact"))
}

/// How many processes the concurrency test holds alive at once.
const CONCURRENT: usize = 200;

pub fn two_hundred_processes() -> Outcome {
    let page = shared_page()?;
    let alive = &page.atomic_u64s()[1];
    let release = &page.atomic_u32s()[0];
    let mut expected = BTreeMap::new();
    let mut failure = None;
    for i in 0..CONCURRENT {
        let code = (i % 250) as u8;
        match fork_child(|| {
            alive.fetch_add(1, Ordering::AcqRel);
            if await_flag(release, WAIT * 6) { i32::from(code) } else { 255 }
        }) {
            Ok(pid) => {
                expected.insert(pid, code);
            }
            Err(err) => {
                failure = Some(format!("fork {i}: {err}"));
                break;
            }
        }
    }
    let all_alive = wait_until(WAIT * 3, || alive.load(Ordering::Acquire) == expected.len() as u64);
    let peak = alive.load(Ordering::Acquire);
    raise_flag(release);
    let reaped = reap_all(expected.len(), WAIT * 6);
    if let Some(failure) = failure {
        return Err(failure);
    }
    ensure!(all_alive, "only {peak} of {CONCURRENT} children started");
    let reaped = reaped?;
    for (pid, status) in &reaped {
        let code = expected.get(pid).ok_or_else(|| format!("reaped pid {pid}, not one of ours"))?;
        expect_exit(&format!("pid {pid}"), *status, *code)?;
    }
    Ok(format!("{CONCURRENT} alive at once, all reaped with their statuses"))
}

pub fn crash_beside_healthy_siblings() -> Outcome {
    let page = shared_page()?;
    let release = &page.atomic_u32s()[0];
    let mut healthy = Vec::new();
    for code in 1..=4u8 {
        healthy.push((fork_child(move || if await_flag(release, WAIT) { i32::from(code) } else { 100 })?, code));
    }
    let crasher = fork_child(|| {
        rt::testing::null_read();
        0
    })?;
    let crashed = wait_for(crasher, WAIT);
    // The siblings are still running after the crash, then finish normally.
    let mut still_running = 0;
    for &(pid, _) in &healthy {
        if matches!(rt::sys::waitpid(pid, WNOHANG), Ok((0, _))) {
            still_running += 1;
        }
    }
    raise_flag(release);
    let mut statuses = Vec::new();
    for &(pid, code) in &healthy {
        statuses.push((wait_for(pid, WAIT), code));
    }
    expect_signal("the crashing child", crashed?, SIGSEGV)?;
    for (status, code) in statuses {
        expect_exit("a healthy sibling", status?, code)?;
    }
    ensure!(still_running == healthy.len(), "only {still_running} siblings survived the crash");
    Ok(String::from("SIGSEGV for one, 4 siblings exited normally"))
}

/// Forks children one after another (fork, exit, wait), checking each
/// status: catches leaks and races that only show after many processes.
pub fn many_sequential_forks() -> Outcome {
    const N: usize = 300;
    for i in 0..N {
        let code = (i % 200) as u8;
        let status = run_child(move || i32::from(code))?;
        expect_exit(&format!("child {i}"), status, code)?;
    }
    Ok(format!("{N} fork+exit+wait"))
}
