//! Host tests: every accepted and refused form, and a fuzz loop.

extern crate std;

use std::string::String;
use std::vec::Vec;

use super::*;

#[test]
fn endpoints() {
    let addr = |a, b, c, d| Host::Addr(Ipv4Addr::new(a, b, c, d));
    assert_eq!(endpoint("10.0.2.2:8000"), Ok(Endpoint { host: addr(10, 0, 2, 2), port: 8000 }));
    assert_eq!(endpoint(":80"), Ok(Endpoint { host: Host::Any, port: 80 }));
    assert_eq!(endpoint("0.0.0.0:80"), Ok(Endpoint { host: Host::Any, port: 80 }));
    assert_eq!(endpoint("example.com:443"), Ok(Endpoint { host: Host::Name("example.com"), port: 443 }));
    assert_eq!(endpoint("ferrite.test.:1"), Ok(Endpoint { host: Host::Name("ferrite.test."), port: 1 }));
    assert_eq!(endpoint("a:65535").map(|e| e.port), Ok(65535));
}

#[test]
fn bad_endpoints() {
    assert_eq!(endpoint(""), Err(AddrError::Empty));
    assert_eq!(endpoint("999.1.1.1:80"), Err(AddrError::BadHost));
    assert_eq!(endpoint("1.2.3:80"), Err(AddrError::BadHost));
    assert_eq!(endpoint("host:notaport"), Err(AddrError::BadPort));
    assert_eq!(endpoint("host:0"), Err(AddrError::BadPort));
    assert_eq!(endpoint("host:65536"), Err(AddrError::BadPort));
    assert_eq!(endpoint("host:+80"), Err(AddrError::BadPort));
    assert_eq!(endpoint("host:"), Err(AddrError::BadPort));
    assert_eq!(endpoint("host"), Err(AddrError::NoPort));
    assert_eq!(endpoint("bad_name:80"), Err(AddrError::BadHost));
    assert_eq!(endpoint("-a.b:80"), Err(AddrError::BadHost));
    assert_eq!(endpoint("a..b:80"), Err(AddrError::BadHost));
    assert_eq!(endpoint("a/b:80"), Err(AddrError::BadHost));
    assert_eq!(endpoint("a\0b:80"), Err(AddrError::BadHost));
    let long: String = core::iter::repeat_n('a', 4096).collect();
    assert_eq!(endpoint(&std::format!("{long}:80")), Err(AddrError::TooLong));
    let label: String = core::iter::repeat_n('a', 64).collect();
    assert_eq!(endpoint(&std::format!("{label}.b:80")), Err(AddrError::BadHost));
}

#[test]
fn cidrs() {
    assert_eq!(cidr("10.0.2.15/24"), Ok((Ipv4Addr::new(10, 0, 2, 15), 24)));
    assert_eq!(cidr(" 10.0.2.15/32\n"), Ok((Ipv4Addr::new(10, 0, 2, 15), 32)));
    for bad in ["10.0.2.15", "10.0.2.15/33", "10.0.2.15/", "/24", "10.0.2/24", "10.0.2.15/-1", "10.0.2.15/024"] {
        assert_eq!(cidr(bad), Err(AddrError::BadCidr), "{bad}");
    }
}

/// Random strings made of the characters that matter never panic, and
/// whatever is accepted is well-formed.
#[test]
fn fuzz_never_panics() {
    let mut rng = xorshift::Rng::new(0x5eed_0a11);
    let alphabet: Vec<char> = "0123456789.:/-abcXYZ_\0 é".chars().collect();
    for _ in 0..100_000 {
        let len = rng.below(24);
        let text: String = (0..len).map(|_| *rng.pick(&alphabet).unwrap_or(&'a')).collect();
        if let Ok(e) = endpoint(&text) {
            assert!(e.port >= 1);
            if let Host::Name(name) = e.host {
                assert!(is_name(name), "{text:?}");
            }
        }
        let _ = cidr(&text);
        let _ = host(&text);
    }
}
