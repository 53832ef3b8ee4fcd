//! `ping [-c COUNT] [-i SECONDS] [-W SECONDS] HOST`: ICMP echo through
//! `icmp:echo/HOST`. Sends COUNT requests (4) one INTERVAL apart (1 s),
//! each carrying 56 bytes that start with the time it was sent; prints
//! each reply with its round-trip time, a line for each request that got
//! none within the wait (`-W`, 2 s), then the totals. Exit status 0 when
//! a reply came, 1 when none did.
//!
//! Each request after the first is sent and its reply waited for in one
//! call (`write_read`): netd sends it and answers with the reply when it
//! comes, or with `ETIMEDOUT` once the session's read timeout (the wait)
//! has passed. The first is written on its own, since its write may wait
//! for the name to resolve and the PING line comes before its reply.

use core::time::Duration;

use rt::abi::syscall as sc;
use rt::fs::File;
use rt::println;

use crate::report::{self, FAILED, OK};

/// Bytes carried by each request (as Linux's ping).
const DATA: usize = 56;

/// `1`, `0.2`, `.5`: seconds, to the millisecond.
fn seconds(text: &str) -> Option<Duration> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) || text == "." {
        return None;
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let millis: u64 = if frac.is_empty() { 0 } else { alloc::format!("{frac:0<3}").parse().ok()? };
    Some(Duration::from_millis(whole.checked_mul(1000)?.checked_add(millis)?))
}

pub fn main(args: &[&str]) -> u8 {
    let (mut count, mut interval, mut wait) = (4u32, Duration::from_secs(1), Duration::from_secs(2));
    let mut host = None;
    let mut rest = args.iter();
    while let Some(&arg) = rest.next() {
        let ok = match arg {
            "-c" => rest.next().and_then(|v| v.parse().ok()).filter(|&n| n > 0).map(|n| count = n).is_some(),
            "-i" => rest.next().and_then(|v| seconds(v)).map(|d| interval = d).is_some(),
            "-W" => rest.next().and_then(|v| seconds(v)).filter(|d| !d.is_zero()).map(|d| wait = d).is_some(),
            _ if arg.starts_with('-') => false,
            _ if host.is_none() => {
                host = Some(arg);
                true
            }
            _ => false,
        };
        if !ok {
            return report::usage("ping", &alloc::format!("bad argument {arg}"));
        }
    }
    let Some(host) = host else { return report::usage("ping", "no host") };
    let url = alloc::format!("icmp:echo/{host}");
    let mut echo = match File::open_with(&url, sc::O_RDWR | sc::O_CLOEXEC) {
        Ok(file) => file,
        Err(err) => {
            report::error("ping", host, err);
            return FAILED;
        }
    };
    // A read waits for a reply at most `wait`, then fails with `ETIMEDOUT`.
    if let Err(err) = echo.set_read_timeout(Some(wait)) {
        report::error("ping", &url, err);
        return FAILED;
    }
    let (mut sent, mut received) = (0u32, 0u32);
    // Round-trip times in microseconds: least, sum, most.
    let (mut least, mut sum, mut most) = (u64::MAX, 0u64, 0u64);
    for seq in 0..count {
        let started = rt::time::now();
        let mut payload = [0u8; DATA];
        payload[..8].copy_from_slice(&(started.as_nanos() as u64).to_le_bytes());
        for (i, byte) in payload.iter_mut().enumerate().skip(8) {
            *byte = i as u8;
        }
        let mut reply = [0u8; 2 + DATA];
        let mut got = if seq == 0 {
            // The first request may wait for the name to be resolved; the
            // PING line, with the address, comes before its reply.
            if let Err(err) = echo.write_all(&payload) {
                report::error("ping", host, err);
                return FAILED;
            }
            let to = echo.path().ok().and_then(|p| p.strip_prefix("icmp:echo/").map(alloc::string::String::from));
            println!("PING {host} ({}): {DATA} data bytes", to.as_deref().unwrap_or(host));
            echo.read(&mut reply)
        } else {
            // The request and the wait for its reply in one call to netd.
            echo.write_read(&payload, &mut reply)
        };
        sent += 1;
        let deadline = started + wait;
        // Whether the read timeout is shortened for a reply that came late.
        let mut shortened = false;
        let answered = loop {
            match got {
                Ok(n) if n >= 10 => {
                    let number = u16::from_be_bytes([reply[0], reply[1]]);
                    let mut at = [0u8; 8];
                    at.copy_from_slice(&reply[2..10]);
                    let took = (rt::time::now().as_nanos() as u64).saturating_sub(u64::from_le_bytes(at));
                    println!(
                        "{} bytes from {host}: icmp_seq={number} time={}.{:03} ms",
                        n - 2 + 8,
                        took / 1_000_000,
                        took / 1000 % 1000
                    );
                    // The session numbers its requests modulo 2^16.
                    if number == seq as u16 {
                        received += 1;
                        let micros = took / 1000;
                        least = least.min(micros);
                        most = most.max(micros);
                        sum += micros;
                        break true;
                    }
                }
                // Too short to be one of ours: not counted.
                Ok(_) => {}
                Err(err) if err.errno == sc::ETIMEDOUT => break false,
                Err(err) => {
                    report::error("ping", host, err);
                    return FAILED;
                }
            }
            // An earlier request's reply, late: wait for this one's for
            // what is left of its wait.
            let now = rt::time::now();
            if now >= deadline || echo.set_read_timeout(Some(deadline - now)).is_err() {
                break false;
            }
            shortened = true;
            got = echo.read(&mut reply);
        };
        if shortened && let Err(err) = echo.set_read_timeout(Some(wait)) {
            report::error("ping", &url, err);
            return FAILED;
        }
        if !answered {
            println!("no reply for icmp_seq={seq}");
        }
        if seq + 1 < count {
            let next = started + interval;
            let now = rt::time::now();
            if next > now {
                rt::time::sleep(next - now);
            }
        }
    }
    let loss = (sent - received) * 100 / sent;
    println!("--- {host} ping statistics ---");
    println!("{sent} packets transmitted, {received} received, {loss}% packet loss");
    if received > 0 {
        let ms = |us: u64| alloc::format!("{}.{:03}", us / 1000, us % 1000);
        println!("rtt min/avg/max = {}/{}/{} ms", ms(least), ms(sum / u64::from(received)), ms(most));
    }
    if received > 0 { OK } else { FAILED }
}
