//! The hostile daemon: registers `fuzzd:` and answers the fuzzer's
//! children with whatever its generator says: sensible values, errors
//! (in range and not), fds it has and has not, answers to requests
//! nobody made, the same answer twice, answers held back and sent late
//! (or never), truncated and oversized messages, data on answers that may
//! carry none, random readiness notifications. The kernel must give each
//! caller a clean error and this daemon `EINVAL`/`EBADF`, and never hang
//! a caller past its kill.
//!
//! It registers as root, then drops to the null namespace and user 65534.

use alloc::vec::Vec;

use rt::process::Fork;
use rt::scheme::Socket;
use scheme_proto::{Kind, RESPONSE_SIZE, Request, Response};
use xorshift::Rng;

/// Requests held back to answer later.
const HELD: usize = 32;

pub struct Daemon {
    pid: usize,
}

/// Start it and wait until `fuzzd:` is registered.
pub fn start(seed: u64) -> rt::Result<Daemon> {
    let (mut ready_read, mut ready_write) = rt::fs::pipe()?;
    match rt::process::fork()? {
        Fork::Child => {
            drop(ready_read);
            let socket = match Socket::register("fuzzd") {
                Ok(socket) => socket,
                Err(_) => rt::process::exit(2),
            };
            let _ = ready_write.write_all(b"R");
            drop(ready_write);
            let _ = rt::sys::ns_restrict(&[]);
            let _ = rt::sys::setuid(65534, 65534);
            serve(socket, Rng::new(seed ^ 0xd43_3d0d));
        }
        Fork::Parent(pid) => {
            drop(ready_write);
            let mut byte = [0u8; 1];
            match ready_read.read(&mut byte) {
                Ok(1) => Ok(Daemon { pid }),
                _ => {
                    let _ = rt::process::wait(pid);
                    Err(rt::Error::new(rt::abi::syscall::error::EIO))
                }
            }
        }
    }
}

pub fn stop(daemon: Daemon) {
    let _ = rt::process::kill(daemon.pid, rt::abi::SIGKILL);
    let _ = rt::process::wait(daemon.pid);
}

fn serve(mut socket: Socket, mut rng: Rng) -> ! {
    let mut held: Vec<Request> = Vec::new();
    let _ = socket.file().set_nonblocking(true);
    loop {
        let incoming = match socket.next_request() {
            Ok(incoming) => incoming,
            Err(_) => {
                // Idle: a held request gets its late answer (so a caller
                // waits tens of milliseconds, not until the next one).
                if !held.is_empty() {
                    let late = held.swap_remove(rng.below(held.len()));
                    answer(&socket, &late, &mut rng);
                }
                rt::time::sleep(core::time::Duration::from_millis(20));
                continue;
            }
        };
        let request = incoming.request;
        drop(incoming);
        if held.len() < HELD && rng.below(8) == 0 {
            held.push(request);
            continue;
        }
        answer(&socket, &request, &mut rng);
        // Now and then, a late answer to an older request (or the same
        // one again).
        if !held.is_empty() && rng.below(3) == 0 {
            let late = held.swap_remove(rng.below(held.len()));
            answer(&socket, &late, &mut rng);
        }
        if rng.below(8) == 0 {
            answer(&socket, &request, &mut rng);
        }
    }
}

fn answer(socket: &Socket, request: &Request, rng: &mut Rng) {
    let id = if rng.below(20) == 0 { rng.next_u64() } else { request.id };
    let value = match rng.below(6) {
        0 => 0,
        1 => rng.below(8) as u64,
        2 => request.len,
        3 => request.len.wrapping_add(1),
        4 => u64::MAX,
        _ => rng.next_u64(),
    };
    let kind = *rng
        .pick(&[Kind::Value, Kind::Value, Kind::Value, Kind::Error, Kind::Fd, Kind::Event, Kind::Nop])
        .unwrap_or(&Kind::Value);
    let errno = *rng.pick(&[2u64, 5, 11, 22, 0, 4096, u64::MAX]).unwrap_or(&5);
    let data_len = match rng.below(5) {
        0 => request.len.min(64) as usize,
        1 => rng.below(64),
        _ => 0,
    };
    let response = Response {
        id,
        kind,
        flags: rng.next_u64() as u32,
        value: if kind == Kind::Error { errno } else { value },
        len: data_len as u64,
    };
    let mut message = Vec::with_capacity(RESPONSE_SIZE + data_len);
    message.extend_from_slice(&response.encode());
    message.resize(RESPONSE_SIZE + data_len, 0x5a);
    match rng.below(16) {
        // Truncated.
        0 => message.truncate(rng.below(message.len())),
        // Oversized, or with a `len` that does not match.
        1 => message.resize(RESPONSE_SIZE + 4096 + rng.below(8192), 0xa5),
        2 => message.truncate(RESPONSE_SIZE),
        _ => {}
    }
    let _ = socket.write_raw(&message);
}
