//! `ping [-c COUNT] [-i SECONDS] [-W SECONDS] HOST`: ICMP echo through
//! `icmp:echo/HOST`. Sends COUNT requests (4) one INTERVAL apart (1 s),
//! each carrying 56 bytes that start with the time it was sent; prints
//! each reply with its round-trip time, a line for each request that got
//! none within the wait (`-W`, 2 s), then the totals. Exit status 0 when
//! a reply came, 1 when none did.

use core::time::Duration;

use rt::abi::syscall as sc;
use rt::event::Readable;
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
            "-W" => rest.next().and_then(|v| seconds(v)).map(|d| wait = d).is_some(),
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
    // Made once: every reply is waited for with it.
    let mut replies = match Readable::new(echo.fd()) {
        Ok(r) => r,
        Err(err) => {
            report::error("ping", "event:", err);
            return FAILED;
        }
    };
    let (mut sent, mut received) = (0u32, 0u32);
    // Round-trip times in microseconds: least, sum, most.
    let (mut least, mut sum, mut most) = (u64::MAX, 0u64, 0u64);
    let mut said_hello = false;
    for seq in 0..count {
        let started = rt::time::now();
        let mut payload = [0u8; DATA];
        payload[..8].copy_from_slice(&(started.as_nanos() as u64).to_le_bytes());
        for (i, byte) in payload.iter_mut().enumerate().skip(8) {
            *byte = i as u8;
        }
        // The request waits (a name being resolved, a full buffer); the
        // replies are read without waiting, after `replies` said so.
        if let Err(err) = echo.set_nonblocking(false).and_then(|()| echo.write_all(&payload)) {
            report::error("ping", host, err);
            return FAILED;
        }
        sent += 1;
        if !said_hello {
            let to = echo.path().ok().and_then(|p| p.strip_prefix("echo/").map(alloc::string::String::from));
            println!("PING {host} ({}): {DATA} data bytes", to.as_deref().unwrap_or(host));
            said_hello = true;
        }
        let _ = echo.set_nonblocking(true);
        let deadline = started + wait;
        let mut answered = false;
        while !answered {
            if !replies.wait_until(deadline).unwrap_or(false) {
                break;
            }
            let mut reply = [0u8; 2 + DATA];
            match echo.read(&mut reply) {
                Ok(n) if n >= 10 => {
                    let got = u16::from_be_bytes([reply[0], reply[1]]);
                    let mut at = [0u8; 8];
                    at.copy_from_slice(&reply[2..10]);
                    let took = (rt::time::now().as_nanos() as u64).saturating_sub(u64::from_le_bytes(at));
                    println!(
                        "{} bytes from {host}: icmp_seq={got} time={}.{:03} ms",
                        n - 2 + 8,
                        took / 1_000_000,
                        took / 1000 % 1000
                    );
                    if u32::from(got) == seq {
                        answered = true;
                        received += 1;
                        let micros = took / 1000;
                        least = least.min(micros);
                        most = most.max(micros);
                        sum += micros;
                    }
                }
                Ok(_) => {}
                // A report of what an earlier read took: wait again.
                Err(err) if err.errno == sc::EAGAIN => {}
                Err(err) => {
                    report::error("ping", host, err);
                    return FAILED;
                }
            }
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
