//! The address forms of network paths (README "Network"): the
//! `HOST:PORT` of `tcp:` and `udp:` paths, the `HOST` of `icmp:echo/HOST`,
//! and the `ADDR/PREFIX` that `netcfg:` takes.
//!
//! A path comes from any program, so everything here is checked before
//! `netd` acts on it: a host is a dotted IPv4 address or a DNS name (labels
//! of letters, digits and `-`, at most 63 bytes each and 253 in all); a
//! string of digits and dots that is not an address (`999.1.1.1`) is an
//! error, never a name to look up; a port is 1 to 65535 in decimal.
//!
//! May touch: nothing; pure logic, host-tested and fuzzed.

#![no_std]
#![forbid(unsafe_code)]

use core::fmt;
use core::net::Ipv4Addr;

/// The longest path accepted (a DNS name of 253 bytes and a port fit).
pub const PATH_MAX: usize = 300;

/// Who a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    /// Any local address (an empty host, or `0.0.0.0`): for listeners.
    Any,
    Addr(Ipv4Addr),
    /// A DNS name, checked for form (not yet looked up).
    Name(&'a str),
}

/// `HOST:PORT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint<'a> {
    pub host: Host<'a>,
    pub port: u16,
}

/// Why a path does not name anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrError {
    Empty,
    TooLong,
    /// No `:PORT` after the host.
    NoPort,
    /// Not a number from 1 to 65535.
    BadPort,
    /// Neither an IPv4 address nor a well-formed name.
    BadHost,
    /// Not `A.B.C.D/N` with N from 0 to 32.
    BadCidr,
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddrError::Empty => "empty address",
            AddrError::TooLong => "address too long",
            AddrError::NoPort => "no port (HOST:PORT)",
            AddrError::BadPort => "bad port (1 to 65535)",
            AddrError::BadHost => "bad host (an IPv4 address or a name)",
            AddrError::BadCidr => "bad address (A.B.C.D/PREFIX)",
        })
    }
}

/// `HOST:PORT`; an empty host (`:80`) or `0.0.0.0` is [`Host::Any`].
pub fn endpoint(text: &str) -> Result<Endpoint<'_>, AddrError> {
    if text.is_empty() {
        return Err(AddrError::Empty);
    }
    if text.len() > PATH_MAX {
        return Err(AddrError::TooLong);
    }
    let (host, port) = text.rsplit_once(':').ok_or(AddrError::NoPort)?;
    let host = if host.is_empty() { Host::Any } else { self::host(host)? };
    Ok(Endpoint { host, port: port_number(port)? })
}

/// A port: 1 to 65535, decimal digits only.
pub fn port_number(text: &str) -> Result<u16, AddrError> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddrError::BadPort);
    }
    match text.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(AddrError::BadPort),
    }
}

/// A host: an IPv4 address (`0.0.0.0` is [`Host::Any`]) or a DNS name.
pub fn host(text: &str) -> Result<Host<'_>, AddrError> {
    if text.is_empty() {
        return Err(AddrError::Empty);
    }
    if text.len() > PATH_MAX {
        return Err(AddrError::TooLong);
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return match text.parse::<Ipv4Addr>() {
            Ok(Ipv4Addr::UNSPECIFIED) => Ok(Host::Any),
            Ok(addr) => Ok(Host::Addr(addr)),
            Err(_) => Err(AddrError::BadHost),
        };
    }
    if is_name(text) { Ok(Host::Name(text)) } else { Err(AddrError::BadHost) }
}

/// Whether `text` is a well-formed DNS name (a trailing dot allowed).
pub fn is_name(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `A.B.C.D/N`: an address and its prefix length.
pub fn cidr(text: &str) -> Result<(Ipv4Addr, u8), AddrError> {
    let (addr, prefix) = text.trim().split_once('/').ok_or(AddrError::BadCidr)?;
    let addr = addr.parse::<Ipv4Addr>().map_err(|_| AddrError::BadCidr)?;
    if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddrError::BadCidr);
    }
    match prefix.parse::<u8>() {
        Ok(n @ 0..=32) => Ok((addr, n)),
        _ => Err(AddrError::BadCidr),
    }
}

#[cfg(test)]
mod tests;
