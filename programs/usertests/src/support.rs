//! What every test uses: outcomes, errno checks, raw system calls, child
//! processes with bounded waits, and polling with deadlines.
//!
//! No wait in the suite is unbounded: a kernel bug must show up as a `FAIL`
//! line, never as a hang. Children that outlive their deadline are killed
//! with `SIGKILL` and reaped.

use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use rt::abi::syscall as sc;
use rt::process::{ExitStatus, Fork};
use rt::testing::raw_syscall;

/// A test's result: `Ok(detail)` (may be empty) or `Err(reason)`.
pub type Outcome = Result<String, String>;

/// Fails the test with a formatted reason unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !($cond) {
            return Err(alloc::format!($($arg)+));
        }
    };
}
pub(crate) use ensure;

/// The suite's own binary: children exec it with `--child MODE ...`.
pub const SELF: &str = "initfs:libexec/usertests";

/// How long a test waits for a child that should end promptly.
pub const WAIT: Duration = Duration::from_secs(10);

/// The errno in a raw system-call result, if it is an error.
pub fn errno(ret: isize) -> Option<i32> {
    (-4095..0).contains(&ret).then(|| ret.unsigned_abs() as i32)
}

/// The symbolic name of an errno value.
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        sc::EPERM => "EPERM",
        sc::ENOENT => "ENOENT",
        sc::ESRCH => "ESRCH",
        sc::EINTR => "EINTR",
        sc::EIO => "EIO",
        sc::E2BIG => "E2BIG",
        sc::ENOEXEC => "ENOEXEC",
        sc::EBADF => "EBADF",
        sc::ECHILD => "ECHILD",
        sc::EAGAIN => "EAGAIN",
        sc::ENOMEM => "ENOMEM",
        sc::EACCES => "EACCES",
        sc::EFAULT => "EFAULT",
        sc::EEXIST => "EEXIST",
        sc::ENODEV => "ENODEV",
        sc::ENOTDIR => "ENOTDIR",
        sc::EISDIR => "EISDIR",
        sc::EINVAL => "EINVAL",
        sc::EMFILE => "EMFILE",
        sc::EFBIG => "EFBIG",
        sc::ESPIPE => "ESPIPE",
        sc::EROFS => "EROFS",
        sc::ENAMETOOLONG => "ENAMETOOLONG",
        sc::ENOSYS => "ENOSYS",
        sc::ETIMEDOUT => "ETIMEDOUT",
        sc::EPIPE => "EPIPE",
        sc::EOPNOTSUPP => "EOPNOTSUPP",
        sc::EXDEV => "EXDEV",
        sc::EBUSY => "EBUSY",
        _ => return format!("errno {errno}"),
    };
    String::from(name)
}

/// A raw result for messages: the errno's name or the value.
pub fn show(ret: isize) -> String {
    match errno(ret) {
        Some(errno) => errno_name(errno),
        None => format!("{ret:#x}"),
    }
}

/// An `rt` error for messages.
pub fn ename(err: rt::Error) -> String {
    errno_name(err.errno)
}

/// System call `number` with up to six arguments (missing ones are 0).
pub fn syscall(number: usize, args: &[usize]) -> isize {
    let mut all = [0usize; 6];
    all[..args.len()].copy_from_slice(args);
    raw_syscall(number, all)
}

/// Checks that a raw call failed with `want`.
pub fn expect_errno(what: &str, ret: isize, want: i32) -> Result<(), String> {
    if errno(ret) == Some(want) {
        Ok(())
    } else {
        Err(format!("{what}: expected {}, got {}", errno_name(want), show(ret)))
    }
}

/// Checks that a raw call succeeded; returns its value.
pub fn expect_ok(what: &str, ret: isize) -> Result<usize, String> {
    match errno(ret) {
        None => Ok(ret as usize),
        Some(errno) => Err(format!("{what}: {}", errno_name(errno))),
    }
}

/// Checks an `rt` result: the value, or the call named in the reason.
pub fn ok<T>(what: &str, result: rt::Result<T>) -> Result<T, String> {
    result.map_err(|err| format!("{what}: {}", ename(err)))
}

/// Checks that an `rt` call failed with `want`.
pub fn expect_err<T: core::fmt::Debug>(what: &str, result: rt::Result<T>, want: i32) -> Result<(), String> {
    match result {
        Err(err) if err.errno == want => Ok(()),
        Err(err) => Err(format!("{what}: expected {}, got {}", errno_name(want), ename(err))),
        Ok(value) => Err(format!("{what}: expected {}, got Ok({value:?})", errno_name(want))),
    }
}

pub fn now() -> Duration {
    rt::time::now()
}

pub fn sleep_ms(ms: u64) {
    rt::time::sleep(Duration::from_millis(ms));
}

/// Polls `done` (sleeping a tick between tries) until it holds or `limit`
/// passes; whether it held.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = now();
    let deadline = start + limit;
    loop {
        if done() {
            return true;
        }
        let time = now();
        if time >= deadline {
            return done();
        }
        // Yield for the first few milliseconds (what we wait for is often
        // almost there, and a sleep lasts at least a 10 ms timer tick),
        // then sleep so a long poll does not take a CPU from what it
        // waits for.
        if time - start < QUICK_POLL {
            rt::thread::yield_now();
        } else {
            sleep_ms(1);
        }
    }
}

/// How long [`wait_until`] polls without sleeping.
const QUICK_POLL: Duration = Duration::from_millis(5);

/// Forks a child that runs `body` and exits with what it returns.
pub fn fork_child(body: impl FnOnce() -> i32) -> Result<usize, String> {
    match rt::process::fork() {
        Ok(Fork::Child) => rt::process::exit(body()),
        Ok(Fork::Parent(pid)) => Ok(pid),
        Err(err) => Err(format!("fork: {}", ename(err))),
    }
}

/// Waits for child `pid` for at most `limit`; on timeout kills it with
/// `SIGKILL`, reaps it, and fails.
pub fn wait_for(pid: usize, limit: Duration) -> Result<ExitStatus, String> {
    let mut status = None;
    let mut error = None;
    let ended = wait_until(limit, || match rt::sys::waitpid(pid, rt::abi::WNOHANG) {
        Ok((0, _)) => false,
        Ok((reaped, raw)) if reaped == pid => {
            status = Some(ExitStatus::from_raw(raw));
            true
        }
        Ok((reaped, _)) => {
            error = Some(format!("waitpid({pid}) reaped pid {reaped}"));
            true
        }
        Err(err) if err.errno == sc::EINTR => false,
        Err(err) => {
            error = Some(format!("waitpid({pid}): {}", ename(err)));
            true
        }
    });
    if let Some(error) = error {
        return Err(error);
    }
    if let Some(status) = status {
        return Ok(status);
    }
    debug_assert!(!ended);
    kill_and_reap(pid);
    Err(format!("child {pid} still running after {} ms; killed", limit.as_millis()))
}

/// Kills `pid` with `SIGKILL` and reaps it, waiting a bounded time.
pub fn kill_and_reap(pid: usize) {
    let _ = rt::sys::kill(pid, rt::abi::SIGKILL);
    let _ = wait_until(WAIT, || !matches!(rt::sys::waitpid(pid, rt::abi::WNOHANG), Ok((0, _))));
}

/// Forks a child running `body` and waits (bounded) for it to end.
pub fn run_child(body: impl FnOnce() -> i32) -> Result<ExitStatus, String> {
    let pid = fork_child(body)?;
    wait_for(pid, WAIT)
}

/// Checks that a child exited with `code`.
pub fn expect_exit(what: &str, status: ExitStatus, code: u8) -> Result<(), String> {
    if status.code() == Some(code) { Ok(()) } else { Err(format!("{what}: expected exit status {code}, got {status}")) }
}

/// Checks that a child was killed by `signal`.
pub fn expect_signal(what: &str, status: ExitStatus, signal: usize) -> Result<(), String> {
    if status.signal() == Some(signal) {
        Ok(())
    } else {
        Err(format!("{what}: expected {}, got {status}", signal_name(signal)))
    }
}

pub fn signal_name(signal: usize) -> &'static str {
    match signal {
        rt::abi::SIGILL => "SIGILL",
        rt::abi::SIGFPE => "SIGFPE",
        rt::abi::SIGKILL => "SIGKILL",
        rt::abi::SIGSEGV => "SIGSEGV",
        rt::abi::SIGTERM => "SIGTERM",
        rt::abi::SIGINT => "SIGINT",
        _ => "a signal",
    }
}

/// Runs `body` in a child that the kernel must kill with `signal`.
pub fn dies_with(signal: usize, body: impl FnOnce()) -> Outcome {
    let status = run_child(|| {
        body();
        // Still alive: the kernel let the operation pass.
        0
    })?;
    expect_signal("child", status, signal)?;
    Ok(format!("killed by {}", signal_name(signal)))
}

/// Sleeps on a shared futex word until it is non-zero (at most `limit`);
/// whether it became non-zero.
pub fn await_flag(word: &AtomicU32, limit: Duration) -> bool {
    let deadline = now() + limit;
    while word.load(Ordering::Acquire) == 0 {
        let left = deadline.saturating_sub(now());
        if left.is_zero() {
            return false;
        }
        let _ = rt::sync::futex_wait(word, 0, Some(left.min(Duration::from_millis(100))));
    }
    true
}

/// Sets a shared futex word to 1 and wakes everyone sleeping on it.
pub fn raise_flag(word: &AtomicU32) {
    word.store(1, Ordering::Release);
    let _ = rt::sync::futex_wake(word, usize::MAX);
}

/// A shared page for handshakes between a test and its children.
pub fn shared_page() -> Result<rt::mem::SharedMapping, String> {
    ok("map_shared", rt::mem::map_shared(rt::mem::PAGE_SIZE))
}

/// An address in this program's text (read-only, executable).
pub fn text_address() -> usize {
    text_address as fn() -> usize as usize
}
