//! The hostile daemon: registers `fuzzd:` and answers the fuzzer's
//! children with whatever its generator says: sensible values, errors
//! (in range and not), fds it has and has not, answers to requests
//! nobody made, the same answer twice, answers held back and sent late
//! (and, one time in 64, never), truncated and oversized messages, data on
//! answers that may carry none, random readiness notifications, and, to
//! the chains it says it takes, lists of link answers that are mostly
//! plausible and often not (an fd for a read, a notification among them,
//! a count that is not theirs, cut short). Garbage is
//! followed by a real answer, so callers mostly get on with their calls
//! instead of waiting to be killed. The kernel must give each
//! caller a clean error and this daemon `EINVAL`/`EBADF`, and never hang
//! a caller past its kill.
//!
//! It registers as root, then drops to the null namespace and user 65534.
//! It never hands its own socket away (an fd answer naming it), which
//! would end the test of `fuzzd:` the moment that caller exits.

use alloc::vec::Vec;

use rt::process::Fork;
use rt::scheme::Socket;
use scheme_proto::{Kind, Op, RESPONSE_SIZE, Request, Response, TAKES_CHAINS};
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
            // Chains too: the kernel's checks of a chain's answers get fuzzed.
            if socket.takes(TAKES_CHAINS).is_err() {
                rt::process::exit(2);
            }
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
        // Rarely, never an answer: the caller waits until it is killed.
        if rng.below(64) == 0 {
            continue;
        }
        if held.len() < HELD && rng.below(16) == 0 {
            held.push(request);
            continue;
        }
        answer(&socket, &request, &mut rng);
        // Now and then, a late answer to an older request.
        if !held.is_empty() && rng.below(2) == 0 {
            let late = held.swap_remove(rng.below(held.len()));
            answer(&socket, &late, &mut rng);
        }
    }
}

/// Answer `request`: first, one time in three, with garbage (a truncated,
/// oversized or inconsistent message, another request's id, or a second
/// answer to one already answered), then with an answer the kernel can
/// take, of a random kind and value (which may still be nonsense for the
/// request, such as data on a write or an fd it does not have).
fn answer(socket: &Socket, request: &Request, rng: &mut Rng) {
    let socket_fd = socket.file().fd() as u64;
    if rng.below(3) == 0 {
        let garbage = message(request, rng, true, socket_fd);
        let _ = socket.write_raw(&garbage);
    }
    let _ = socket.write_raw(&message(request, rng, false, socket_fd));
}

/// One message answering `request` (`garbage`: one the kernel must refuse
/// or that answers the wrong thing). `socket_fd` is never offered as an fd.
fn message(request: &Request, rng: &mut Rng, garbage: bool, socket_fd: u64) -> Vec<u8> {
    if request.op == Op::Chain && rng.below(4) != 0 {
        let (count, data) = chain_answers(rng, socket_fd);
        let head = Response { id: request.id, kind: Kind::Value, flags: 0, value: count, len: data.len() as u64 };
        let mut message = head.encode().to_vec();
        message.extend_from_slice(&data);
        return message;
    }
    let id = if garbage && rng.below(3) == 0 { rng.next_u64() } else { request.id };
    let value = match rng.below(6) {
        0 => 0,
        1 => rng.below(8) as u64,
        2 => request.len,
        3 => request.len.wrapping_add(1),
        4 => u64::MAX,
        _ => rng.next_u64(),
    };
    // Notifications and no-ops answer nothing: only garbage is one.
    let kinds: &[Kind] = if garbage {
        &[Kind::Value, Kind::Error, Kind::Fd, Kind::Event, Kind::Nop, Kind::Data]
    } else {
        &[Kind::Value, Kind::Value, Kind::Value, Kind::Error, Kind::Fd]
    };
    let kind = *rng.pick(kinds).unwrap_or(&Kind::Value);
    let errno = *rng.pick(&[2u64, 5, 11, 22, 0, 4096, u64::MAX]).unwrap_or(&5);
    let data_len = match rng.below(5) {
        0 => request.len.min(64) as usize,
        1 => rng.below(64),
        _ => 0,
    };
    // Any fd but its socket: handing that away would only unregister
    // `fuzzd:` when the caller that got it exits, ending the test of it.
    let value = if kind == Kind::Fd && value == socket_fd { value + 1 } else { value };
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
    if garbage {
        match rng.below(4) {
            // Truncated.
            0 => message.truncate(rng.below(message.len())),
            // Oversized, or with a `len` that does not match.
            1 => message.resize(RESPONSE_SIZE + 4096 + rng.below(8192), 0xa5),
            2 => message.truncate(RESPONSE_SIZE),
            // As it is: possibly another request's id, or a duplicate
            // once the real answer follows.
            _ => {}
        }
    } else if data_len > 0 && rng.below(2) == 0 {
        // Data only goes with a value: mostly keep it decodable.
        message.truncate(RESPONSE_SIZE);
        message[24..32].copy_from_slice(&0u64.to_le_bytes());
    }
    message
}

/// The answers to a chain's links: one to four, of any kind (values with a
/// few bytes, errors in range and not, fds, notifications), now and then
/// cut short; and the count the answer claims (now and then one more).
fn chain_answers(rng: &mut Rng, socket_fd: u64) -> (u64, Vec<u8>) {
    let count = 1 + rng.below(4);
    let mut data = Vec::new();
    for i in 0..count {
        let kind = *rng
            .pick(&[Kind::Value, Kind::Value, Kind::Value, Kind::Error, Kind::Fd, Kind::Event])
            .unwrap_or(&Kind::Value);
        let len = if kind == Kind::Value && i > 0 && rng.below(2) == 0 { rng.below(24) } else { 0 };
        let value = match kind {
            Kind::Error => *rng.pick(&[2u64, 5, 11, 0, 5000]).unwrap_or(&5),
            Kind::Value if len > 0 => len as u64,
            Kind::Fd => (rng.below(8) as u64).max(socket_fd + 1),
            _ => rng.below(8) as u64,
        };
        let response = Response { id: 0, kind, flags: rng.below(2) as u32, value, len: len as u64 };
        data.extend_from_slice(&response.encode());
        data.resize(data.len() + len, 0x3c);
    }
    if rng.below(8) == 0 {
        data.truncate(rng.below(data.len()));
    }
    let claimed = if rng.below(8) == 0 { count + 1 } else { count };
    (claimed as u64, data)
}
