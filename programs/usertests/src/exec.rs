//! exec: arguments and environment arrive, pid and parent stay, the old
//! address space and `O_CLOEXEC` descriptors go; failures (not an ELF
//! file, a directory, a truncated or W+X program) return an error and the
//! caller goes on; fork+exec+wait chains several levels deep.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rt::abi::syscall::{self as sc, MAP_FIXED_NOREPLACE, MAP_PRIVATE, O_CLOEXEC, O_RDONLY, PROT_READ, PROT_WRITE};

use crate::support::{Outcome, SELF, WAIT, ensure, errno_name, expect_exit, fork_child, ok, syscall, wait_for};

/// Execs the suite's own binary in child mode `mode` with `args`; returns
/// only on failure, as the exit status to use.
pub fn exec_self(mode: &str, args: &[&str], env: &[&str]) -> i32 {
    let mut argv = Vec::from(["--child", mode]);
    argv.extend_from_slice(args);
    let err = rt::process::exec(SELF, &argv, env);
    rt::eprintln!("usertests: exec {SELF} --child {mode}: {err}");
    127
}

/// Forks a child that execs `--child mode args...`; returns its pid.
fn spawn_self(mode: &str, args: &[&str]) -> Result<usize, String> {
    fork_child(|| exec_self(mode, args, &[]))
}

/// The arguments after the mode that the `args` child checks.
pub const ARGS: [&str; 3] = ["one", "two words", ""];
/// The environment the `args` child expects, exactly.
pub const ENV: [&str; 2] = ["FERRITE_TEST=yes", "EMPTY="];

pub fn exec_passes_args_and_env() -> Outcome {
    let pid = fork_child(|| {
        let pid = rt::process::getpid().to_string();
        let ppid = rt::process::getppid().to_string();
        let mut args = Vec::from([pid.as_str(), ppid.as_str()]);
        args.extend_from_slice(&ARGS);
        exec_self("args", &args, &ENV)
    })?;
    let status = wait_for(pid, WAIT)?;
    // The child's exit status says what it found (see `child::args`).
    match status.code() {
        Some(0) => Ok(format!("{} arguments, {} variables, same pid and parent", ARGS.len() + 5, ENV.len())),
        Some(code) => {
            Err(format!("the exec'd child found a mismatch (code {code}: {})", crate::child::args_error(code)))
        }
        None => Err(format!("the exec'd child ended with {status}")),
    }
}

/// `SYS_EXEC` of whatever is open on `fd`, with one argument.
fn raw_exec(fd: usize) -> isize {
    let arg = b"usertests";
    let argv = [rt::abi::UserStr { ptr: arg.as_ptr().expose_provenance(), len: arg.len() }];
    syscall(rt::abi::SYS_EXEC, &[fd, argv.as_ptr().expose_provenance(), 1, 0, 0])
}

pub fn exec_failures_return() -> Outcome {
    let mut cases = Vec::from([
        // Not a regular file: EACCES, as POSIX and Linux say.
        ("a directory", "initfs:bin", sc::EACCES),
        ("an empty pipe (a stream, not a regular file)", "pipe:", sc::EACCES),
        ("a text file", "initfs:test/not-elf", sc::ENOEXEC),
        ("a truncated ELF file", "initfs:test/truncated-elf", sc::ENOEXEC),
        ("an ELF file with a W+X segment", "initfs:test/wx-elf", sc::ENOEXEC),
    ]);
    let mut checked = 0;
    for (what, path, want) in cases.drain(..) {
        let fd = ok(&format!("open {path}"), rt::sys::open(path, O_RDONLY))?;
        let ret = raw_exec(fd);
        ensure!(
            crate::support::errno(ret) == Some(want),
            "exec of {what} ({path}): expected {}, got {}",
            errno_name(want),
            crate::support::show(ret)
        );
        ok("close", rt::sys::close(fd))?;
        checked += 1;
    }
    // A closed descriptor.
    let fd = ok("open", rt::sys::open(SELF, O_RDONLY))?;
    ok("close", rt::sys::close(fd))?;
    crate::support::expect_errno("exec of a closed fd", raw_exec(fd), sc::EBADF)?;
    // Through the runtime too, and we are still here to say so.
    let err = rt::process::exec("initfs:bin", &[], &[]);
    ensure!(err.errno == sc::EACCES, "rt::process::exec of a directory: {}", errno_name(err.errno));
    Ok(format!("{} refused, caller still running", checked + 2))
}

/// A free, page-aligned address the `fresh` child maps again after exec.
const FRESH_ADDR: usize = 0x0000_0500_0000_0000;

pub fn exec_replaces_the_address_space() -> Outcome {
    let pid = fork_child(|| {
        let flags = (PROT_READ | PROT_WRITE | MAP_PRIVATE | MAP_FIXED_NOREPLACE).bits();
        if syscall(rt::abi::SYS_MMAP, &[FRESH_ADDR, 4096, flags]) != FRESH_ADDR as isize {
            return 10;
        }
        rt::testing::poke(FRESH_ADDR, 0x5a);
        exec_self("fresh", &[&format!("{FRESH_ADDR}")], &[])
    })?;
    let status = wait_for(pid, WAIT)?;
    expect_exit("the exec'd child (mapping the old address again)", status, 0)?;
    Ok(String::from("old mappings gone"))
}

pub fn exec_closes_cloexec_descriptors() -> Outcome {
    let keep = ok("open", rt::sys::open(SELF, O_RDONLY))?;
    let close = ok("open O_CLOEXEC", rt::sys::open(SELF, O_RDONLY | O_CLOEXEC))?;
    let pid = spawn_self("fds", &[&format!("{close}"), &format!("{keep}")]);
    let _ = rt::sys::close(keep);
    let _ = rt::sys::close(close);
    let status = wait_for(pid?, WAIT)?;
    match status.code() {
        Some(0) => Ok(format!("fd {close} closed, fd {keep} kept")),
        Some(1) => Err(format!("fd {close} (O_CLOEXEC) survived exec")),
        Some(2) => Err(format!("fd {keep} (no O_CLOEXEC) was closed by exec")),
        _ => Err(format!("the exec'd child ended with {status}")),
    }
}

/// How deep the fork+exec+wait chain goes.
pub const CHAIN_DEPTH: u8 = 4;

pub fn exec_chain_four_deep() -> Outcome {
    let me = rt::process::getpid();
    let pid = fork_child(|| exec_self("chain", &[&format!("{CHAIN_DEPTH}"), &format!("{me}")], &[]))?;
    let status = wait_for(pid, WAIT * 3)?;
    // Each level exits with its depth once its child exited with depth - 1.
    expect_exit("the top of the chain", status, CHAIN_DEPTH)?;
    Ok(format!("{CHAIN_DEPTH} levels of fork+exec+wait"))
}

pub fn fork_exec_wait_repeatedly() -> Outcome {
    const N: u8 = 25;
    for i in 0..N {
        let pid = spawn_self("exit", &[&format!("{i}")])?;
        let status = wait_for(pid, WAIT)?;
        expect_exit(&format!("run {i}"), status, i)?;
    }
    Ok(format!("{N} runs"))
}
