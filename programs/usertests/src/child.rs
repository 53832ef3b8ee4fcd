//! The suite's own binary in child mode: `usertests --child MODE ...`,
//! what the exec tests start. A child prints nothing on standard output
//! (the protocol's channel); its exit status is its answer.

use alloc::vec::Vec;

use rt::abi::syscall::{self as sc, MAP_FIXED_NOREPLACE, MAP_PRIVATE, PROT_READ};
use rt::process::ExitCode;

use crate::exec::{ARGS, CHAIN_DEPTH, ENV, exec_self};
use crate::support::{WAIT, syscall, wait_for};

/// Runs child mode `args[0]` with the rest of `args`.
pub fn run(args: &[&str]) -> ExitCode {
    let code = match args {
        ["exit", code] => code.parse().unwrap_or(255),
        ["args", rest @ ..] => args_mode(rest),
        ["chain", depth, parent] => chain(depth.parse().unwrap_or(0), parent.parse().unwrap_or(0)),
        ["fds", closed, open] => fds(closed.parse().unwrap_or(usize::MAX), open.parse().unwrap_or(usize::MAX)),
        ["fresh", addr] => fresh(addr.parse().unwrap_or(0)),
        // The FPU as a new program finds it (0: initial).
        ["fpu-initial"] => u8::from(!rt::testing::fpu_is_initial()),
        _ => {
            rt::eprintln!("usertests: unknown child mode {args:?}");
            2
        }
    };
    ExitCode::from(code)
}

/// What an `args` child's exit status means.
pub fn args_error(code: u8) -> &'static str {
    match code {
        3 => "argv[0] or the mode",
        4 => "pid changed",
        5 => "parent changed",
        6 => "the arguments",
        7 => "the environment",
        _ => "unknown",
    }
}

/// `args PID PPID ARGS...`: the arguments, environment, pid and parent
/// must be exactly what the parent passed.
fn args_mode(rest: &[&str]) -> u8 {
    let argv: Vec<&str> = rt::env::args().collect();
    if argv.first() != Some(&crate::support::SELF) || argv.get(1) != Some(&"--child") || argv.get(2) != Some(&"args") {
        return 3;
    }
    let [pid, ppid, tail @ ..] = rest else {
        return 6;
    };
    if pid.parse() != Ok(rt::process::getpid()) {
        return 4;
    }
    if ppid.parse() != Ok(rt::process::getppid()) {
        return 5;
    }
    if tail != ARGS {
        return 6;
    }
    let env: Vec<&[u8]> = rt::env::vars_bytes().collect();
    let want: Vec<&[u8]> = ENV.iter().map(|v| v.as_bytes()).collect();
    if env != want || rt::env::var("FERRITE_TEST") != Some("yes") || rt::env::var("EMPTY") != Some("") {
        return 7;
    }
    0
}

/// `chain N PARENT`: check the parent, then (for N > 0) fork and exec
/// `chain N-1 ME`, wait, and exit with N if that child exited with N - 1.
fn chain(depth: u8, parent: usize) -> u8 {
    if depth > CHAIN_DEPTH || rt::process::getppid() != parent {
        return 200;
    }
    if depth == 0 {
        return 0;
    }
    let me = alloc::format!("{}", rt::process::getpid());
    let next = alloc::format!("{}", depth - 1);
    let Ok(pid) = crate::support::fork_child(|| exec_self("chain", &[&next, &me], &[])) else {
        return 201;
    };
    match wait_for(pid, WAIT * 2) {
        Ok(status) if status.code() == Some(depth - 1) => depth,
        _ => 202,
    }
}

/// `fds CLOSED OPEN`: CLOSED must be gone after exec, OPEN still there.
fn fds(closed: usize, open: usize) -> u8 {
    match (rt::sys::fstat(closed), rt::sys::fstat(open)) {
        (Err(err), Ok(_)) if err.errno == sc::EBADF => 0,
        (Ok(_), _) => 1,
        _ => 2,
    }
}

/// `fresh ADDR`: the page the parent mapped at ADDR before exec is gone, so
/// it can be mapped again without replacing anything.
fn fresh(addr: usize) -> u8 {
    let flags = (PROT_READ | MAP_PRIVATE | MAP_FIXED_NOREPLACE).bits();
    let ret = syscall(rt::abi::SYS_MMAP, &[addr, 4096, flags]);
    if ret != addr as isize {
        return 1;
    }
    // And it is fresh memory: zero, not the byte written before exec.
    if rt::testing::peek(addr) != 0 { 2 } else { 0 }
}
