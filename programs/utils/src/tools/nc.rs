//! `nc [-u] [-w SECONDS] HOST PORT` and `nc [-u] [-w SECONDS] -l PORT`:
//! carry bytes between standard input and output and a TCP connection
//! (`tcp:`), or UDP datagrams with `-u` (`udp:`). `-l` waits for one
//! connection on PORT (UDP: takes datagrams from anyone and answers the
//! last sender). When standard input ends, the sending side is shut and
//! what the peer still sends is printed; `nc` ends when the peer does, or
//! with `-w` when nothing came for that many seconds (UDP has no end).

use rt::abi::syscall as sc;
use rt::fs::File;

use crate::net;
use crate::report::{self, FAILED, OK};

pub fn main(args: &[&str]) -> u8 {
    let mut args = args;
    let (mut udp, mut idle) = (false, None);
    loop {
        match args {
            ["-u", rest @ ..] => {
                udp = true;
                args = rest;
            }
            ["-w", seconds, rest @ ..] => {
                let Some(s) = seconds.parse::<u64>().ok().filter(|&s| s > 0) else {
                    return report::usage("nc", "bad -w");
                };
                idle = Some(core::time::Duration::from_secs(s));
                args = rest;
            }
            _ => break,
        }
    }
    let scheme = if udp { "udp" } else { "tcp" };
    let (what, conn) = match args {
        ["-l", port] => {
            let Ok(port) = net_port(port) else { return report::usage("nc", "bad port") };
            let what = alloc::format!(":{port}");
            let listener =
                File::open_with(&alloc::format!("{scheme}::{port}"), sc::O_RDWR | sc::O_CREAT | sc::O_CLOEXEC);
            let conn = if udp { listener } else { listener.and_then(|l| l.derive("listen")) };
            (what, conn)
        }
        [host, port] if !host.starts_with('-') => {
            let Ok(port) = net_port(port) else { return report::usage("nc", "bad port") };
            let what = alloc::format!("{host}:{port}");
            let conn = if udp {
                File::open_with(&alloc::format!("udp:{host}:{port}"), sc::O_RDWR | sc::O_CLOEXEC)
            } else {
                net::connect(host, port)
            };
            (what, conn)
        }
        _ => return report::usage("nc", "bad arguments"),
    };
    let mut conn = match conn {
        Ok(conn) => conn,
        Err(err) => {
            report::error("nc", &what, err);
            return FAILED;
        }
    };
    match net::relay(&mut conn, idle) {
        Ok(()) => OK,
        Err(err) => {
            report::error("nc", &what, err);
            FAILED
        }
    }
}

fn net_port(text: &str) -> Result<u16, ()> {
    text.parse::<u16>().ok().filter(|&p| p > 0).ok_or(())
}
