//! `ifconfig [CARD [ADDR/PREFIX|dhcp]]`: the network cards `netd` serves
//! (`netcfg:`): each card's MAC, address and how it got it, gateway, DNS
//! servers and counters. With an address, `CARD` takes it (root only; or
//! asks DHCP again with `dhcp`).

use alloc::string::String;
use alloc::vec::Vec;

use rt::fs::File;
use rt::println;

use crate::report::{self, FAILED, OK};

/// The value of `name` in `netcfg:CARD`'s `name value` lines.
fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')).unwrap_or("?")
}

fn show(card: &str) -> bool {
    let url = alloc::format!("netcfg:{card}");
    let Some(text) = report::read_text("ifconfig", &url) else { return false };
    println!("{card}: {} ({})", field(&text, "mac"), field(&text, "driver"));
    println!(
        "    inet {} ({})  gateway {}  dns {}",
        field(&text, "address"),
        field(&text, "how"),
        field(&text, "gateway"),
        field(&text, "dns")
    );
    println!(
        "    rx {} frames, {} bytes  tx {} frames, {} bytes  dropped {}  bad checksums {}  errors {}  tcp sockets {}",
        field(&text, "rx_frames"),
        field(&text, "rx_bytes"),
        field(&text, "tx_frames"),
        field(&text, "tx_bytes"),
        field(&text, "tx_dropped"),
        field(&text, "rx_bad_checksum"),
        field(&text, "errors"),
        field(&text, "tcp_sockets")
    );
    true
}

pub fn main(args: &[&str]) -> u8 {
    match args {
        [] => {
            let Some(listing) = report::read_text("ifconfig", "netcfg:") else { return FAILED };
            let cards: Vec<String> = listing.lines().filter(|l| l.starts_with("eth")).map(String::from).collect();
            if cards.iter().all(|card| show(card)) { OK } else { FAILED }
        }
        [card] if !card.starts_with('-') => {
            if show(card) {
                OK
            } else {
                FAILED
            }
        }
        [card, value] if !card.starts_with('-') => {
            let url = alloc::format!("netcfg:{card}/address");
            let result =
                File::open_with(&url, rt::abi::syscall::O_WRONLY).and_then(|mut f| f.write_all(value.as_bytes()));
            match result {
                Ok(()) => OK,
                Err(err) => {
                    report::error("ifconfig", &url, err);
                    FAILED
                }
            }
        }
        _ => report::usage("ifconfig", "bad arguments"),
    }
}
