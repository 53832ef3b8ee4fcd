//! `SYS_SUBMIT` batches (`rt::batch`): an open, its calls and a close in
//! one system call on a daemon's scheme (the chained path, kernel/src/
//! syscall/batch.rs) and on a kernel scheme (one by one), with the same
//! results; a failure ends a batch; bad batches are refused with errors.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rt::abi::syscall::{self as sc, O_RDONLY, O_RDWR, SEEK_SET, Stat};
use rt::abi::{Cqe, SQE_CLOSE, SQE_FD_OPENED, SQE_OPEN, SQE_READ, SUBMIT_MAX, Sqe};
use rt::batch::{Batch, On};
use rt::fs::File;

use crate::support::{Outcome, WAIT, ensure, expect_errno, ok, syscall, wait_until};
use crate::userschemes::{Daemon, unique};

/// The errno of a result, for messages and checks.
fn errno_of(result: &rt::Result<usize>) -> Option<i32> {
    result.as_ref().err().map(|err| err.errno)
}

pub fn batch_open_read_close_on_a_daemon() -> Outcome {
    let name = unique("ut-batch");
    let daemon = Daemon::start(&name)?;
    let url = format!("{name}:notes");
    let (mut first, mut second) = ([0u8; 16], [0u8; 32]);
    let mut stat = Stat::default();
    let mut batch = Batch::new();
    batch.open(&url, O_RDWR);
    batch.fstat(On::Opened, &mut stat);
    batch.read(On::Opened, &mut first);
    batch.write(On::Opened, b" and more");
    batch.seek(On::Opened, 0, SEEK_SET);
    batch.read(On::Opened, &mut second);
    batch.close(On::Opened);
    let results = ok("submit", batch.submit())?;
    let values: Vec<usize> = results.iter().map(|r| r.unwrap_or(usize::MAX)).collect();
    ensure!(values == [0, 0, 5, 9, 0, 14, 0], "results {results:?}");
    ensure!(stat.st_size == 5 && stat.st_mode & sc::MODE_TYPE == sc::MODE_FILE, "fstat gave size {}", stat.st_size);
    ensure!(&first[..5] == b"notes", "first read {:?}", &first[..5]);
    ensure!(&second[..14] == b"notes and more", "second read {:?}", &second[..14]);
    ensure!(
        wait_until(WAIT, || daemon.closes() >= 1),
        "the daemon never saw the batch's close ({} closes)",
        daemon.closes()
    );

    // Without a close, the open's fd is the caller's to go on with.
    let mut start = [0u8; 2];
    let mut batch = Batch::new();
    batch.open(&url, O_RDWR);
    batch.read(On::Opened, &mut start);
    let results = ok("submit", batch.submit())?;
    let (Ok(fd), Ok(2)) = (results[0], results[1]) else { return Err(format!("results {results:?}")) };
    ensure!(fd > 2 && &start == b"no", "fd {fd}, read {start:?}");
    let mut file = File::from_fd(fd);
    let mut rest = String::new();
    ok("read_to_string", file.read_to_string(&mut rest))?;
    ensure!(rest == "tes", "the plain reads after the batch gave {rest:?}");

    // A failure ends the batch: the rest are cancelled, not run.
    let mut buf = [0u8; 4];
    let mut batch = Batch::new();
    batch.open("no-such-scheme:x", O_RDONLY);
    batch.read(On::Opened, &mut buf);
    batch.close(On::Opened);
    let results = ok("submit", batch.submit())?;
    let errnos: Vec<Option<i32>> = results.iter().map(errno_of).collect();
    ensure!(errnos == [Some(sc::ENODEV), Some(sc::ECANCELED), Some(sc::ECANCELED)], "results {results:?}");
    Ok(String::from(
        "open, fstat, read, write, seek, read, close as one chain; an open left to the caller; a failure ends it",
    ))
}

/// A batch's results as values and errnos, for comparing.
fn outcomes(results: &[rt::Result<usize>]) -> Vec<Result<usize, i32>> {
    results.iter().map(|r| r.as_ref().map(|v| *v).map_err(|e| e.errno)).collect()
}

/// Chains back to back on one daemon reuse the kernel's records (the
/// scheme's kept chain, kept calls for the links and closes; the steps on
/// the kernel stack up to four, on the heap past that): each batch gets
/// its own results and data whatever the shape of the one before (longer,
/// shorter, failed midway, left open), and every handle is closed once.
pub fn batch_chains_back_to_back() -> Outcome {
    let name = unique("ut-chains");
    let daemon = Daemon::start(&name)?;
    const ROUNDS: usize = 32;
    for round in 0..ROUNDS {
        // The daemon's file holds its own path: a different one per round.
        let path = format!("r{round:02}-{}", "x".repeat(round % 7));
        let url = format!("{name}:{path}");
        let len = path.len();
        let mut buf = [0u8; 64];
        match round % 4 {
            0 => {
                let mut batch = Batch::new();
                batch.open(&url, O_RDONLY);
                batch.read(On::Opened, &mut buf);
                batch.close(On::Opened);
                let got = outcomes(&ok("submit", batch.submit())?);
                ensure!(got == [Ok(0), Ok(len), Ok(0)], "round {round}: results {got:?}");
                ensure!(&buf[..len] == path.as_bytes(), "round {round}: read {:?}", &buf[..len]);
            }
            1 => {
                // Nine operations: past rt's and the kernel's room on the stack.
                let (mut stat, mut three, mut all) = (Stat::default(), [0u8; 3], [0u8; 64]);
                let mut batch = Batch::new();
                batch.open(&url, O_RDWR);
                batch.fstat(On::Opened, &mut stat);
                batch.seek(On::Opened, 1, SEEK_SET);
                batch.read(On::Opened, &mut three);
                batch.read(On::Opened, &mut buf);
                batch.write(On::Opened, b"!");
                batch.seek(On::Opened, 0, SEEK_SET);
                batch.read(On::Opened, &mut all);
                batch.close(On::Opened);
                let got = outcomes(&ok("submit", batch.submit())?);
                let want = [Ok(0), Ok(0), Ok(1), Ok(3), Ok(len - 4), Ok(1), Ok(0), Ok(len + 1), Ok(0)];
                ensure!(got == want, "round {round}: results {got:?}, not {want:?}");
                ensure!(stat.st_size == len as u64, "round {round}: fstat size {}", stat.st_size);
                ensure!(three[..] == path.as_bytes()[1..4], "round {round}: read {three:?}");
                ensure!(&all[..len + 1] == format!("{path}!").as_bytes(), "round {round}: read {:?}", &all[..len + 1]);
            }
            2 => {
                // A failure ends the chain: the open's fd is left to us.
                let mut more = [0u8; 4];
                let mut batch = Batch::new();
                batch.open(&url, O_RDONLY);
                batch.read(On::Opened, &mut buf[..2]);
                batch.seek(On::Opened, -1, SEEK_SET);
                batch.read(On::Opened, &mut more);
                batch.close(On::Opened);
                let got = outcomes(&ok("submit", batch.submit())?);
                let Some(&Ok(fd)) = got.first() else { return Err(format!("round {round}: results {got:?}")) };
                drop(File::from_fd(fd));
                let want = [Ok(fd), Ok(2), Err(sc::EINVAL), Err(sc::ECANCELED), Err(sc::ECANCELED)];
                ensure!(fd > 2 && got == want, "round {round}: results {got:?}, not {want:?}");
            }
            _ => {
                // No close: the fd goes on where the chain left it.
                let mut batch = Batch::new();
                batch.open(&url, O_RDONLY);
                batch.read(On::Opened, &mut buf[..1]);
                let got = outcomes(&ok("submit", batch.submit())?);
                let Some(&Ok(fd)) = got.first() else { return Err(format!("round {round}: results {got:?}")) };
                let mut file = File::from_fd(fd);
                let mut rest = String::new();
                ok("read_to_string", file.read_to_string(&mut rest))?;
                ensure!(got == [Ok(fd), Ok(1)] && rest == path[1..], "round {round}: results {got:?}, then {rest:?}");
            }
        }
    }
    ensure!(
        wait_until(WAIT, || daemon.closes() as usize >= ROUNDS),
        "the daemon saw {} closes of {ROUNDS} handles",
        daemon.closes()
    );
    Ok(format!("{ROUNDS} batches of four shapes in turn, each with its own results; {ROUNDS} handles closed"))
}

pub fn batch_on_a_kernel_scheme() -> Outcome {
    // `sys:` is the kernel's: no chain, the operations run one by one.
    let mut name = [0u8; 7];
    let mut batch = Batch::new();
    batch.open("sys:uname", O_RDONLY);
    batch.read(On::Opened, &mut name);
    batch.close(On::Opened);
    let results = ok("submit", batch.submit())?;
    ensure!(matches!(results[..], [Ok(0), Ok(7), Ok(0)]), "results {results:?}");
    ensure!(&name == b"Ferrite", "read {name:?}");
    // Operations on an fd of the caller's, and one with no open to name.
    let file = ok("open", File::open("initfs:sbin/init"))?;
    let mut again = [0u8; 4];
    let mut batch = Batch::new();
    batch.seek(On::Fd(file.fd()), 1, SEEK_SET);
    batch.read(On::Fd(file.fd()), &mut again);
    let results = ok("submit", batch.submit())?;
    ensure!(matches!(results[..], [Ok(1), Ok(4)]) && &again == b"ELF\x02", "results {results:?}, read {again:?}");
    let mut batch = Batch::new();
    batch.close(On::Opened);
    let results = ok("submit", batch.submit())?;
    ensure!(errno_of(&results[0]) == Some(sc::EBADF), "a close of no opened file: {results:?}");
    Ok(String::from("open, read, close on sys: one by one; fds of the caller's; nothing opened to name"))
}

/// An address nothing is mapped at (as in badptr.rs).
const UNMAPPED: usize = 0x0000_0600_0000_0000;

/// Submits `sqes` raw (addresses as given), completions into `cqes`.
fn submit_raw(sqes: usize, count: usize, cqes: usize) -> isize {
    syscall(rt::abi::SYS_SUBMIT, &[sqes, count, cqes])
}

pub fn batch_refuses_bad_batches() -> Outcome {
    // `sys:` is the kernel's own: its operations run one by one.
    let path = "sys:uname";
    let open = Sqe { op: SQE_OPEN, addr: path.as_ptr() as u64, len: path.len() as u64, ..Sqe::default() };
    let close = Sqe { op: SQE_CLOSE, fd: SQE_FD_OPENED, ..Sqe::default() };
    let mut cqes = [Cqe::default(); SUBMIT_MAX + 1];
    let cqe_addr = cqes.as_mut_ptr() as usize;
    let too_many = [close; SUBMIT_MAX + 1];
    expect_errno("65 operations", submit_raw(too_many.as_ptr() as usize, SUBMIT_MAX + 1, cqe_addr), sc::EINVAL)?;
    ensure!(submit_raw(0, 0, 0) == 0, "an empty batch did not return 0");
    for (what, bad) in [("null", 0usize), ("kernel half", 0xffff_8000_0000_0000), ("unmapped", UNMAPPED)] {
        let good = [open, close];
        expect_errno(&format!("{what} submissions"), submit_raw(bad, 2, cqe_addr), sc::EFAULT)?;
        expect_errno(&format!("{what} completions"), submit_raw(good.as_ptr() as usize, 2, bad), sc::EFAULT)?;
    }
    // Garbage entries fail one by one, and end the batch.
    let unmapped_read = Sqe { op: SQE_READ, fd: SQE_FD_OPENED, addr: UNMAPPED as u64, len: 16, ..Sqe::default() };
    let cases: [(&str, Sqe, i32); 4] = [
        ("an unknown op", Sqe { op: 99, ..Sqe::default() }, sc::EINVAL),
        ("reserved flags", Sqe { flags: 1, ..open }, sc::EINVAL),
        ("a read into unmapped memory", unmapped_read, sc::EFAULT),
        ("a path in unmapped memory", Sqe { addr: UNMAPPED as u64, ..open }, sc::EFAULT),
    ];
    for (what, bad, errno) in cases {
        let sqes = [open, bad, close];
        let mut out = [Cqe::default(); 3];
        let ret = submit_raw(sqes.as_ptr() as usize, 3, out.as_mut_ptr() as usize);
        if out[0].result > 2 {
            drop(File::from_fd(out[0].result as usize));
        }
        ensure!(ret == 1, "{what}: {ret} succeeded, not 1 ({out:?})");
        ensure!(out[1].result == -(errno as i64), "{what}: completion {:?}, not -{errno}", out[1]);
        ensure!(out[2].result == -(sc::ECANCELED as i64), "{what}: the close after it was not cancelled: {out:?}");
    }
    // On a daemon's scheme the same read is found bad only once the daemon
    // has answered the whole chain: the read fails, the close it did
    // reports itself done, and the file is closed.
    let name = unique("ut-batchbad");
    let daemon = Daemon::start(&name)?;
    let url = format!("{name}:notes");
    let open =
        Sqe { op: SQE_OPEN, addr: url.as_ptr() as u64, len: url.len() as u64, arg: O_RDWR as u64, ..Sqe::default() };
    let sqes = [open, unmapped_read, close];
    let mut out = [Cqe::default(); 3];
    let ret = submit_raw(sqes.as_ptr() as usize, 3, out.as_mut_ptr() as usize);
    let results: Vec<i64> = out.iter().map(|c| c.result).collect();
    ensure!(ret == 2 && results == [0, -(sc::EFAULT as i64), 0], "chained bad read: {ret} succeeded, {results:?}");
    ensure!(wait_until(WAIT, || daemon.closes() >= 1), "the chain's close never reached the daemon");
    Ok(String::from("too many, bad arrays, unknown ops, reserved flags, bad buffers: errors, no panic"))
}
