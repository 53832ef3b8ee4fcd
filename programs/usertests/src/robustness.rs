//! Regression tests for what the system-call fuzzer (`programs/fuzz`) and
//! the reliability work found (README "Robustness"): each is a call that
//! once panicked, hung or leaked in the kernel, or crashed a daemon, and a
//! limit that keeps one user from taking the machine. Each runs in a child
//! of its own; the unprivileged ones `setuid` to a user no other test uses.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use core::time::Duration;

use rt::abi::syscall::{self as sc, MAP_PRIVATE, MapFlags, O_CREAT, O_RDWR, PROT_READ, PROT_WRITE};
use rt::abi::{SIGKILL, SIGSEGV, SIGTERM};
use rt::testing::poke;

use crate::support::{
    Outcome, WAIT, ensure, expect_errno, expect_exit, expect_ok, expect_signal, fork_child, kill_and_reap, now,
    run_child, shared_page, syscall, wait_for,
};

const PAGE: usize = 4096;

fn mmap(len: usize, flags: MapFlags) -> isize {
    syscall(rt::abi::SYS_MMAP, &[0, len, flags.bits()])
}

/// A field of `sys:memory`.
pub fn memory_field(name: &str) -> Result<i64, String> {
    let text = rt::fs::read_to_string("sys:memory").map_err(|e| format!("sys:memory: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
        .ok_or_else(|| format!("sys:memory has no {name}"))
}

/// Unmapping or re-protecting a terabyte of address space visits only
/// the page tables that exist: it once walked 2^28 pages with interrupts
/// off and a lock held, hanging every CPU for minutes.
pub fn terabyte_unmap_and_protect_are_quick() -> Outcome {
    const TIB: usize = 1 << 40;
    let status = run_child(|| {
        let Ok(addr) = expect_ok("mmap 1 TiB", mmap(TIB, PROT_READ | PROT_WRITE | MAP_PRIVATE)) else {
            return 1;
        };
        poke(addr, 1);
        poke(addr + TIB - PAGE, 1);
        if expect_ok("mprotect 1 TiB", syscall(sc::SYS_MPROTECT, &[addr, TIB, PROT_READ.bits()])).is_err() {
            return 2;
        }
        if expect_ok("munmap 1 TiB", syscall(sc::SYS_FUNMAP, &[addr, TIB])).is_err() {
            return 3;
        }
        0
    })?;
    expect_exit("mmap, touch, mprotect and munmap of 1 TiB", status, 0)?;
    Ok(String::from("1 TiB mapped, protected and unmapped within the test's deadline"))
}

/// Futex queues are keyed by addresses the caller picks; they used to stay
/// in the kernel for good. 20,000 waits on distinct words must leave the
/// kernel heap where it was.
pub fn futex_queues_are_freed() -> Outcome {
    const WORDS: usize = 20_000;
    let before = memory_field("heap_used")?;
    let status = run_child(|| {
        let Ok(addr) = expect_ok("mmap", mmap(WORDS * 4, PROT_READ | PROT_WRITE | MAP_PRIVATE)) else {
            return 1;
        };
        for i in 0..WORDS {
            // The word holds 0; waiting for 1 fails at once with EAGAIN.
            let ret = syscall(sc::SYS_FUTEX, &[addr + 4 * i, sc::FUTEX_WAIT, 1, 0]);
            if crate::support::errno(ret) != Some(sc::EAGAIN) {
                return 2;
            }
        }
        0
    })?;
    expect_exit("20,000 futex waits on distinct words", status, 0)?;
    let after = memory_field("heap_used")?;
    ensure!(after - before < 64 * 1024, "the kernel heap grew from {before} to {after} bytes");
    Ok(format!("kernel heap {before} -> {after} bytes"))
}

/// exec takes only a regular file: a stream or a device would have the
/// kernel read (and hold) up to the size limit for the caller.
pub fn exec_of_a_stream_is_refused() -> Outcome {
    for url in ["memory:", "event:", "time:4"] {
        let fd = crate::support::ok(url, rt::sys::open(url, O_RDWR))?;
        let started = now();
        let arg = b"x";
        let argv = [rt::abi::UserStr { ptr: arg.as_ptr().expose_provenance(), len: arg.len() }];
        let ret = syscall(rt::abi::SYS_EXEC, &[fd, argv.as_ptr().expose_provenance(), 1, 0, 0]);
        let _ = rt::sys::close(fd);
        expect_errno(&format!("exec of {url}"), ret, sc::EACCES)?;
        ensure!(now() - started < Duration::from_secs(2), "exec of {url} took {:?}", now() - started);
    }
    Ok(String::from("memory:, event: and time:4 refused with EACCES"))
}

/// Nobody signals init (here, the test runner is pid 1), root included.
pub fn init_cannot_be_signalled() -> Outcome {
    let status = run_child(|| {
        for signal in [SIGTERM, SIGKILL] {
            if expect_errno("kill(1)", syscall(rt::abi::SYS_KILL, &[1, signal]), sc::EPERM).is_err() {
                return 1;
            }
        }
        0
    })?;
    expect_exit("a root process signalling pid 1", status, 0)?;
    Ok(String::from("SIGTERM and SIGKILL to pid 1: EPERM"))
}

/// Lines a process makes the kernel log are rate-limited: 60 refused
/// registrations log at most 10 lines.
pub fn caller_log_lines_are_rate_limited() -> Outcome {
    let pid = fork_child(|| {
        if rt::sys::setuid(5000, 5000).is_err() {
            return 1;
        }
        for _ in 0..60 {
            let _ = rt::sys::open(":rate-limit-test", O_CREAT | O_RDWR);
        }
        0
    })?;
    expect_exit("the child", wait_for(pid, WAIT)?, 0)?;
    let log = rt::fs::read_to_string("sys:log").map_err(|e| format!("sys:log: {e}"))?;
    let needle = format!("pid {pid} (uid 5000) may not register");
    let lines = log.lines().filter(|l| l.contains(&needle)).count();
    ensure!(lines <= 10, "{lines} lines logged for 60 refusals");
    Ok(format!("{lines} of 60 refusals logged"))
}

/// A fork bomb of an unprivileged user stops at its process limit with
/// `EAGAIN`, and the user can fork again once they are gone.
pub fn fork_bomb_stops_at_the_user_limit() -> Outcome {
    let status = run_child(|| {
        if rt::sys::setuid(5001, 5001).is_err() {
            return 100;
        }
        let mut children = Vec::new();
        let refused = loop {
            match rt::sys::fork() {
                Ok(0) => {
                    rt::time::sleep(Duration::from_secs(20));
                    rt::process::exit(0)
                }
                Ok(pid) => children.push(pid),
                Err(err) => break err.errno,
            }
            if children.len() > 200 {
                break 0;
            }
        };
        let count = children.len();
        for pid in children {
            kill_and_reap(pid);
        }
        if refused != sc::EAGAIN {
            return 101;
        }
        // Gone again: one more fork works.
        match rt::sys::fork() {
            Ok(0) => rt::process::exit(0),
            Ok(pid) if wait_for(pid, WAIT).is_ok() => count.min(99) as i32,
            _ => 102,
        }
    })?;
    let code = status.code().ok_or_else(|| format!("the bomb's parent ended with {status}"))?;
    ensure!(code < 100, "the bomb's parent failed (code {code})");
    ensure!(code == 63, "{code} children before EAGAIN; the user's limit is 64 processes");
    Ok(String::from("63 children, then EAGAIN; forking works again afterwards"))
}

/// An unprivileged process may hold an eighth of RAM: past that it is the
/// one that dies (SIGSEGV), at about its limit.
pub fn memory_hog_dies_at_its_limit() -> Outcome {
    let limit = memory_field("frames_total")? as usize / 8;
    let page = shared_page()?;
    let status = run_child(|| {
        if rt::sys::setuid(5002, 5002).is_err() {
            return 1;
        }
        let len = 1 << 32;
        let Ok(addr) = expect_ok("mmap 4 GiB", mmap(len, PROT_READ | PROT_WRITE | MAP_PRIVATE)) else {
            return 2;
        };
        for offset in (0..len).step_by(PAGE) {
            poke(addr + offset, 1);
            page.atomic_u64s()[0].fetch_add(1, Ordering::Relaxed);
        }
        3
    })?;
    expect_signal("the hog", status, SIGSEGV)?;
    let touched = page.atomic_u64s()[0].load(Ordering::Relaxed) as usize;
    ensure!(touched <= limit && touched + 64 >= limit, "the hog touched {touched} pages; its limit is {limit}");
    Ok(format!("killed after {touched} pages (limit {limit})"))
}

/// A huge offset or length on `tmp:` gets an error; `tmpd` once crashed on
/// the overflow, taking `tmp:` from everyone. (The seek to `isize::MAX`
/// also came back as `EPERM` once: the runtime decoded results by their
/// low 32 bits.)
pub fn tmpd_survives_huge_sizes() -> Outcome {
    let _tmp = crate::daemons::start("tmpd", "tmp")?;
    let fd = crate::support::ok("create tmp:huge", rt::sys::open("tmp:huge", O_CREAT | O_RDWR))?;
    expect_errno("ftruncate to usize::MAX", syscall(sc::SYS_FTRUNCATE, &[fd, usize::MAX]), sc::ENOSPC)?;
    let at = crate::support::ok("seek", rt::sys::lseek(fd, isize::MAX, sc::SEEK_SET))?;
    ensure!(at == isize::MAX as usize, "seek went to {at}");
    expect_errno(
        "write at isize::MAX",
        syscall(sc::SYS_WRITE, &[fd, b"x".as_ptr().expose_provenance(), 1]),
        sc::ENOSPC,
    )?;
    let _ = rt::sys::close(fd);
    ensure!(rt::fs::write("tmp:after", b"ok").is_ok(), "tmp: is gone after the huge calls");
    Ok(String::from("ENOSPC for both; tmp: still serves"))
}

/// Several processes at once, on every CPU: pipe I/O, yields, forks and
/// kills, for a few seconds each. The scheduler once deadlocked two CPUs
/// on such a load (four CPUs); now every worker must finish in time.
pub fn smp_stress() -> Outcome {
    const WORKERS: usize = 6;
    let run_for = Duration::from_secs(3);
    let mut pids = Vec::new();
    for _ in 0..WORKERS {
        pids.push(fork_child(move || {
            let Ok((mut read, mut write)) = rt::fs::pipe() else { return 1 };
            let started = now();
            let mut round = 0u64;
            while now() - started < run_for {
                round += 1;
                if write.write_all(&round.to_le_bytes()).is_err() {
                    return 2;
                }
                let mut got = [0u8; 8];
                if read.read_exact(&mut got).is_err() || u64::from_le_bytes(got) != round {
                    return 3;
                }
                let _ = rt::sys::sched_yield();
                if round.is_multiple_of(8) {
                    let Ok(child) = fork_child(|| 0) else { return 4 };
                    if wait_for(child, WAIT).is_err() {
                        return 5;
                    }
                }
                if round.is_multiple_of(32) {
                    let Ok(spinner) = fork_child(|| {
                        loop {
                            core::hint::spin_loop();
                        }
                    }) else {
                        return 6;
                    };
                    kill_and_reap(spinner);
                }
            }
            0
        })?);
    }
    let mut failures = Vec::new();
    for pid in pids {
        match wait_for(pid, WAIT + run_for) {
            Ok(status) if status.success() => {}
            Ok(status) => failures.push(format!("worker {pid}: {status}")),
            Err(err) => failures.push(err),
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("; "));
    Ok(format!("{WORKERS} workers: pipe I/O, yields, forks and kills for {} s", run_for.as_secs()))
}

/// A caller blocked on a daemon that never answers is interrupted by
/// `SIGINT` (what Ctrl-C sends the foreground job): it ends at once, its
/// call given up, and the daemon goes on.
pub fn sigint_interrupts_a_call_nobody_answers() -> Outcome {
    let name = format!("ut-silent-{}", rt::process::getpid());
    let (mut ready_read, mut ready_write) = crate::support::ok("pipe", rt::fs::pipe())?;
    let daemon = fork_child(move || {
        let Ok(mut socket) = rt::scheme::Socket::register(&name) else { return 1 };
        let _ = ready_write.write_all(b"R");
        // Take requests and never answer them.
        loop {
            let _ = socket.next_request();
        }
    })?;
    let mut byte = [0u8; 1];
    if !matches!(ready_read.read(&mut byte), Ok(1)) {
        kill_and_reap(daemon);
        return Err(String::from("the silent daemon did not register"));
    }
    let url = format!("ut-silent-{}:x", rt::process::getpid());
    let caller = fork_child(move || {
        let _ = rt::sys::open(&url, O_RDWR);
        0
    })?;
    // Let the open reach the daemon and block.
    crate::support::sleep_ms(200);
    let sent = now();
    let result = crate::support::ok("kill -INT", rt::sys::kill(caller, rt::abi::SIGINT))
        .and_then(|()| wait_for(caller, WAIT))
        .and_then(|status| expect_signal("the blocked caller", status, rt::abi::SIGINT));
    let took = now() - sent;
    kill_and_reap(daemon);
    result?;
    Ok(format!("ended by SIGINT after {} ms", took.as_millis()))
}

/// The `event:` watches of one process's queues are bounded (`ENOSPC`
/// past 1,024, counted over all its queues), and closing a queue gives its
/// watches back.
pub fn event_watches_are_limited_per_process() -> Outcome {
    const QUEUES: usize = 40;
    let status = crate::support::run_child(|| {
        if rt::sys::setuid(5005, 5005).is_err() {
            return 1;
        }
        let mut queues = Vec::new();
        for _ in 0..QUEUES {
            match rt::event::EventQueue::new() {
                Ok(queue) => queues.push(queue),
                Err(_) => return 2,
            }
        }
        let fds: Vec<usize> = queues.iter().map(|q| q.file().fd()).collect();
        // Every queue watches every queue's fd: 1,600 asked for.
        let mut set = 0;
        let mut refused = 0;
        for queue in &queues {
            for &fd in &fds {
                match queue.watch(fd, sc::EventFlags::EVENT_READ, fd) {
                    Ok(()) => set += 1,
                    Err(err) if err.errno == sc::ENOSPC => refused += 1,
                    Err(_) => return 3,
                }
            }
        }
        if set != 1024 || refused != QUEUES * QUEUES - 1024 {
            return 4;
        }
        // Changing a watch is not a new one.
        if queues[0].watch(fds[1], sc::EventFlags::EVENT_READ | sc::EventFlags::EVENT_WRITE, 7).is_err() {
            return 5;
        }
        // A closed queue gives its 40 back, and the 25 others' watches
        // of its fd go with the fd: the last queue can now watch all.
        drop(queues.remove(0));
        let last = &queues[QUEUES - 2];
        let again = fds[1..].iter().filter(|&&fd| last.watch(fd, sc::EventFlags::EVENT_READ, fd).is_ok()).count();
        if again != QUEUES - 1 {
            return 6;
        }
        0
    })?;
    crate::support::expect_exit("a process watching 1,600 fds", status, 0)?;
    Ok(String::from("1,024 watches set, the rest ENOSPC; a closed queue's watches given back"))
}

/// A daemon that stops reading has at most `PENDING_MAX` (256) calls
/// waiting on it: the next callers get `EAGAIN` at once instead of piling
/// up, and when the daemon dies the 256 that waited all get `EIO`.
pub fn pending_calls_per_daemon_are_bounded() -> Outcome {
    const PENDING_MAX: usize = 256;
    const CALLERS: usize = PENDING_MAX + 8;
    let name = format!("ut-stuck-{}", rt::process::getpid());
    // Registered, and never reads a request.
    let daemon = idle_daemon(&name)?;
    let url = format!("ut-stuck-{}:x", rt::process::getpid());
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let url = url.clone();
        match fork_child(move || match rt::sys::open(&url, O_RDWR) {
            Ok(_) => 0,
            Err(err) => err.errno,
        }) {
            Ok(pid) => callers.push(pid),
            Err(err) => {
                kill_and_reap(daemon);
                for pid in callers {
                    kill_and_reap(pid);
                }
                return Err(err);
            }
        }
    }
    // The refused end at once; let the rest reach the queue.
    crate::support::sleep_ms(500);
    kill_and_reap(daemon);
    let mut ends: Vec<i32> = Vec::new();
    for pid in callers {
        match wait_for(pid, WAIT) {
            Ok(status) => ends.push(status.code().map_or(-1, i32::from)),
            Err(err) => return Err(err),
        }
    }
    let refused = ends.iter().filter(|&&e| e == sc::EAGAIN).count();
    let failed = ends.iter().filter(|&&e| e == sc::EIO).count();
    ensure!(
        refused == CALLERS - PENDING_MAX && failed == PENDING_MAX,
        "{CALLERS} callers: {refused} got EAGAIN, {failed} EIO, others {:?}",
        ends.iter().filter(|&&e| e != sc::EAGAIN && e != sc::EIO).collect::<Vec<_>>()
    );
    Ok(format!("{PENDING_MAX} calls waited (EIO when the daemon died), {refused} more got EAGAIN"))
}

/// Start a daemon that registers `name:` and serves nothing; its pid once
/// registered.
fn idle_daemon(name: &str) -> Result<usize, String> {
    let (mut ready_read, mut ready_write) = crate::support::ok("pipe", rt::fs::pipe())?;
    let scheme = String::from(name);
    let pid = fork_child(move || {
        let Ok(_socket) = rt::scheme::Socket::register(&scheme) else { return 1 };
        let _ = ready_write.write_all(b"R");
        loop {
            rt::time::sleep(Duration::from_secs(60));
        }
    })?;
    let mut byte = [0u8; 1];
    if !matches!(ready_read.read(&mut byte), Ok(1)) {
        kill_and_reap(pid);
        return Err(format!("{name}: the daemon did not register"));
    }
    Ok(pid)
}

/// `sys:daemon`'s line for scheme `name`, split into its fields.
fn daemon_line(name: &str) -> Result<Vec<String>, String> {
    let text = crate::support::ok("read sys:daemon", rt::fs::read_to_string("sys:daemon"))?;
    ensure!(text.starts_with("SCHEME PID PROGRAM RESTARTS LAST-END\n"), "sys:daemon header: {text:?}");
    text.lines()
        .map(|line| line.split_whitespace().map(String::from).collect::<Vec<String>>())
        .find(|fields| fields.first().is_some_and(|f| f == name))
        .ok_or_else(|| format!("sys:daemon has no {name}: {text:?}"))
}

/// `sys:daemon` shows who serves a scheme, how often it was restarted and
/// how the instance before ended (here: killed by `SIGKILL`).
pub fn sys_daemon_shows_restarts_and_their_reasons() -> Outcome {
    let name = format!("ut-restart-{}", rt::process::getpid());
    let first = idle_daemon(&name)?;
    let line = daemon_line(&name)?;
    let want = [name.clone(), format!("{first}"), String::from("usertests"), String::from("0"), String::from("-")];
    ensure!(line == want, "first instance: {line:?}, wanted {want:?}");
    kill_and_reap(first);
    let line = daemon_line(&name)?;
    let gone = format!("{name} - - 0 pid {first} signal:{SIGKILL}");
    ensure!(line.join(" ") == gone, "after the kill: {line:?}, wanted {gone:?}");
    let second = idle_daemon(&name)?;
    let line = daemon_line(&name)?;
    kill_and_reap(second);
    let back = format!("{name} {second} usertests 1 pid {first} signal:{SIGKILL}");
    ensure!(line.join(" ") == back, "the second instance: {line:?}, wanted {back:?}");
    Ok(line.join(" "))
}
