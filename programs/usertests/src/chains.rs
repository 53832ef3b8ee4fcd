//! Chains as one request (`Op::Chain`, docs/architecture.md §3.11): a
//! `SYS_SUBMIT` open and the calls after it reach a daemon that takes
//! chains (every `lib/scheme` server) in one request, answered in one
//! response. What does not fit one request, and a call that has to wait,
//! go on as requests of their own, with the same results; a daemon's
//! answers to a chain are checked link by link, and nonsense gives the
//! caller `EIO` and the daemon `EINVAL`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use core::time::Duration;

use rt::abi::syscall::{self as sc, O_NONBLOCK, O_RDWR, SEEK_SET};
use rt::batch::{Batch, On};
use rt::fs::File;
use rt::scheme::{Op, Request, Response, Socket, TAKES_CHAINS};

use crate::support::{
    Outcome, WAIT, ensure, expect_exit, fork_child, kill_and_reap, ok, shared_page, wait_for, wait_until,
};
use crate::userschemes::{Daemon, unique};

/// A batch's results as values and errnos, for comparing.
fn outcomes(results: &[rt::Result<usize>]) -> Vec<Result<usize, i32>> {
    results.iter().map(|r| r.as_ref().map(|v| *v).map_err(|e| e.errno)).collect()
}

/// A read with nothing to read yet stops the chain request before it: the
/// read waits as a request of its own (parked by the daemon) and the close
/// follows it once a writer comes. With `O_NONBLOCK` the read's `EAGAIN`
/// is its result instead.
pub fn chain_waits_midway_and_goes_on() -> Outcome {
    let name = unique("ut-chwait");
    let daemon = Daemon::start(&name)?;
    let url = format!("{name}:park");
    let writer_url = url.clone();
    let daemon_ref = &daemon;
    let writer = fork_child(move || {
        // Only once the batch's read is parked in the daemon.
        if !wait_until(WAIT, || daemon_ref.parked() >= 1) {
            return 2;
        }
        let Ok(mut file) = File::open_with(&writer_url, O_RDWR) else { return 3 };
        if file.write_all(b"ping").is_err() {
            return 4;
        }
        0
    })?;
    let mut buf = [0u8; 4];
    let mut batch = Batch::new();
    batch.open(&url, O_RDWR);
    batch.read(On::Opened, &mut buf);
    batch.close(On::Opened);
    let got = outcomes(&ok("submit", batch.submit())?);
    expect_exit("the writer", wait_for(writer, WAIT)?, 0)?;
    ensure!(got == [Ok(0), Ok(4), Ok(0)] && &buf == b"ping", "results {got:?}, read {buf:?}");
    let mut batch = Batch::new();
    batch.open(&url, O_RDWR | O_NONBLOCK);
    batch.read(On::Opened, &mut buf);
    batch.close(On::Opened);
    let got = outcomes(&ok("submit", batch.submit())?);
    let Some(&Ok(fd)) = got.first() else { return Err(format!("non-blocking: results {got:?}")) };
    drop(File::from_fd(fd));
    ensure!(got == [Ok(fd), Err(sc::EAGAIN), Err(sc::ECANCELED)], "non-blocking: results {got:?}");
    ensure!(wait_until(WAIT, || daemon.closes() >= 3), "the daemon saw {} closes, not 3", daemon.closes());
    Ok(String::from("a read that waits goes on alone, then the close; with O_NONBLOCK it fails with EAGAIN"))
}

/// Steps whose answers do not all fit one response, and a path too long
/// to travel with its links: the rest go one by one, same results.
pub fn chain_too_long_for_one_request() -> Outcome {
    let name = unique("ut-chlong");
    let _daemon = Daemon::start(&name)?;
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 13 + i / 7) as u8).collect();
    let (mut a, mut b, mut c) = ([0u8; 1500], [0u8; 1500], [0u8; 1500]);
    let url = format!("{name}:long");
    let mut batch = Batch::new();
    batch.open(&url, O_RDWR);
    batch.write(On::Opened, &data);
    batch.seek(On::Opened, 0, SEEK_SET);
    batch.read(On::Opened, &mut a);
    batch.read(On::Opened, &mut b);
    // Its answer would not fit the chain's response with the two before.
    batch.read(On::Opened, &mut c);
    batch.close(On::Opened);
    let got = outcomes(&ok("submit", batch.submit())?);
    ensure!(got == [Ok(0), Ok(3000), Ok(0), Ok(1500), Ok(1500), Ok(0), Ok(0)], "results {got:?}");
    ensure!(a[..] == data[..1500] && b[..] == data[1500..], "the reads gave other bytes than were written");
    // A path of 4,040 bytes: with its link head it passes INLINE_MAX.
    let path = "p".repeat(4040);
    let url = format!("{name}:{path}");
    let mut first = [0u8; 16];
    let mut batch = Batch::new();
    batch.open(&url, O_RDWR);
    batch.read(On::Opened, &mut first);
    batch.close(On::Opened);
    let got = outcomes(&ok("submit", batch.submit())?);
    ensure!(got == [Ok(0), Ok(16), Ok(0)] && first == [b'p'; 16], "long path: results {got:?}, read {first:?}");
    Ok(String::from("seven operations split after the fifth; a 4,040-byte path one by one"))
}

/// What the scripted daemon answers to the chain of scenario `n` (an open
/// of `x`, a 16-byte read, a close): the answer, and the errno its write
/// should get (0: taken).
fn scripted(n: usize, id: u64) -> Option<(Vec<u8>, i32)> {
    let open = (Response::value(0, 7), &b""[..]);
    let read = (Response::data(0, 3), &b"abc"[..]);
    let close = (Response::value(0, 0), &b""[..]);
    let (count, links, errno): (u64, Vec<(Response, &[u8])>, i32) = match n {
        // Sound: all three; only the open (the read and close go alone).
        0 => (3, [open, read, close].into(), 0),
        1 => (1, [open].into(), 0),
        // The chain fails whole: its open's errno.
        2 => return Some((Response::error(id, sc::ENOENT).encode().to_vec(), 0)),
        // Nonsense: a count that is not the answers', more answers than
        // links, a read longer than asked, data on the open, an answer
        // after an error, a notification among them, an fd for a read.
        3 => (2, [open, read, close].into(), sc::EINVAL),
        4 => (4, [open, read, close, close].into(), sc::EINVAL),
        5 => (3, [open, (Response::data(0, 17), &[b'x'; 17][..]), close].into(), sc::EINVAL),
        6 => (3, [(Response::data(0, 1), &b"!"[..]), read, close].into(), sc::EINVAL),
        7 => (3, [open, (Response::error(0, sc::EIO), &b""[..]), close].into(), sc::EINVAL),
        8 => (3, [open, (Response::event(7, 1), &b""[..]), close].into(), sc::EINVAL),
        9 => (3, [open, (Response::fd(0, 0), &b""[..]), close].into(), sc::EINVAL),
        // An open answered with an fd the daemon does not have.
        10 => (1, [(Response::fd(0, 999), &b""[..])].into(), sc::EBADF),
        _ => return None,
    };
    let mut data = Vec::new();
    for (response, bytes) in links {
        data.extend_from_slice(&Response { len: bytes.len() as u64, ..response }.encode());
        data.extend_from_slice(bytes);
    }
    let mut message = Response { len: data.len() as u64, ..Response::value(id, count) }.encode().to_vec();
    message.extend_from_slice(&data);
    Some((message, errno))
}

/// Whether a chain request is the open of `x`, a 16-byte read and a close.
fn expected_links(request: &Request, payload: &[u8]) -> bool {
    let links: Vec<_> = rt::scheme::links(payload).collect();
    let shape: Vec<(Op, u32)> = links.iter().flatten().map(|(link, _)| (link.op, link.len)).collect();
    request.op == Op::Chain
        && links.iter().all(Result::is_ok)
        && shape == [(Op::Open, 1), (Op::Read, 16), (Op::Close, 0)]
        && links[0].as_ref().is_ok_and(|(_, path)| *path == b"x")
}

/// A daemon that takes chains and answers them from a script: the sound
/// answers give the batch its results; each kind of nonsense gives the
/// caller `EIO` (the rest of its batch `ECANCELED`) and the daemon's
/// write `EINVAL` (`EBADF` for an fd it does not have), and the daemon
/// serves on.
pub fn chain_answers_are_checked() -> Outcome {
    let name = unique("ut-chscript");
    let page = shared_page()?;
    // Word 0: registered; 1: closes seen; 2: a chain's links were not as
    // sent; 3 + n: scenario n's write (1000 = taken, else its errno).
    let words = page.atomic_u32s();
    let daemon_name = name.clone();
    let daemon = fork_child(|| {
        let Ok(mut socket) = Socket::register(&daemon_name) else { return 3 };
        if socket.takes(TAKES_CHAINS).is_err() {
            return 4;
        }
        words[0].store(1, Ordering::Release);
        let mut scenario = 0;
        loop {
            let Ok(incoming) = socket.next_request() else { return 5 };
            let request = incoming.request;
            let message = match request.op {
                Op::Chain => {
                    if !expected_links(&request, incoming.input()) {
                        words[2].store(1, Ordering::Release);
                    }
                    let Some((message, _)) = scripted(scenario, request.id) else { return 6 };
                    message
                }
                Op::Read if request.handle == 7 => {
                    let mut message = Response::data(request.id, 3).encode().to_vec();
                    message.extend_from_slice(b"xyz");
                    message
                }
                Op::Close => {
                    words[1].fetch_add(1, Ordering::AcqRel);
                    continue;
                }
                _ => Response::error(request.id, sc::EINVAL).encode().to_vec(),
            };
            let written = socket.write_raw(&message);
            if request.op == Op::Chain {
                let code = match written {
                    Ok(_) => 1000,
                    Err(err) => err.errno as u32,
                };
                words[3 + scenario].store(code, Ordering::Release);
                scenario += 1;
            }
        }
    })?;
    let result = (|| {
        ensure!(wait_until(WAIT, || words[0].load(Ordering::Acquire) == 1), "the daemon did not register");
        let url = format!("{name}:x");
        let mut n = 0;
        while let Some((_, errno)) = scripted(n, 0) {
            let mut buf = [0u8; 16];
            let mut batch = Batch::new();
            batch.open(&url, O_RDWR);
            batch.read(On::Opened, &mut buf);
            batch.close(On::Opened);
            let got = outcomes(&ok("submit", batch.submit())?);
            let want: Vec<Result<usize, i32>> = match n {
                0 | 1 => [Ok(0), Ok(3), Ok(0)].into(),
                2 => [Err(sc::ENOENT), Err(sc::ECANCELED), Err(sc::ECANCELED)].into(),
                _ => [Err(sc::EIO), Err(sc::ECANCELED), Err(sc::ECANCELED)].into(),
            };
            ensure!(got == want, "scenario {n}: results {got:?}, not {want:?}");
            let text: &[u8] = match n {
                0 => b"abc",
                1 => b"xyz",
                _ => b"",
            };
            ensure!(buf[..text.len()] == *text, "scenario {n}: read {:?}", &buf[..text.len()]);
            let code = if errno == 0 { 1000 } else { errno as u32 };
            let seen = || words[3 + n].load(Ordering::Acquire);
            ensure!(
                wait_until(WAIT, || seen() != 0) && seen() == code,
                "scenario {n}: the daemon's write got {}, not {code}",
                seen()
            );
            n += 1;
        }
        ensure!(
            words[2].load(Ordering::Acquire) == 0,
            "a chain request did not carry the batch's open, read and close"
        );
        // Scenario 1's close came on its own, after its read.
        ensure!(
            wait_until(Duration::from_secs(2), || words[1].load(Ordering::Acquire) >= 1),
            "the close after a chain that stopped early never came"
        );
        Ok(format!("{n} scripted answers: 2 sound, 1 failed open, {} kinds of nonsense refused", n - 3))
    })();
    kill_and_reap(daemon);
    result
}
