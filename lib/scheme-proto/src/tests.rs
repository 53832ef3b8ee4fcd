extern crate std;

use std::vec::Vec;

use super::*;

fn sample() -> Request {
    Request {
        id: 0x1122_3344_5566_7788,
        op: Op::Write,
        payload: Payload::Inline,
        flags: 0x0004_0000,
        pid: 7,
        uid: 1000,
        gid: 100,
        handle: 42,
        addr: 0,
        len: 5,
        arg: u64::MAX,
    }
}

#[test]
fn request_round_trips_with_inline_payload() {
    let mut bytes = sample().encode().to_vec();
    bytes.extend_from_slice(b"hello and more");
    let (decoded, payload) = Request::decode(&bytes).unwrap();
    assert_eq!(decoded, sample());
    assert_eq!(payload, b"hello");
}

#[test]
fn every_op_round_trips() {
    for raw in 0..64u16 {
        match Op::from_u16(raw) {
            Some(op) => {
                assert_eq!(op as u16, raw);
                let request = Request::new(raw.into(), op);
                assert_eq!(Request::decode(&request.encode()).unwrap().0, request);
            }
            None => assert!(raw == 0 || raw > Op::WriteRead as u16, "op {raw} missing"),
        }
    }
    assert!(!Op::Close.expects_answer() && !Op::Cancel.expects_answer() && Op::Read.expects_answer());
}

#[test]
fn short_and_unknown_requests_are_refused() {
    let bytes = sample().encode();
    for len in 0..REQUEST_SIZE {
        assert_eq!(Request::decode(&bytes[..len]), Err(DecodeError::Short));
    }
    let mut bad_op = bytes;
    bad_op[8] = 99;
    assert_eq!(Request::decode(&bad_op), Err(DecodeError::Unknown));
    let mut bad_payload = Request::new(1, Op::Read).encode();
    bad_payload[10] = 3;
    assert_eq!(Request::decode(&bad_payload), Err(DecodeError::Unknown));
}

#[test]
fn inline_payload_must_be_present_and_small() {
    // Claims 5 bytes, none follow.
    assert_eq!(Request::decode(&sample().encode()), Err(DecodeError::Inconsistent));
    let huge = Request { len: INLINE_MAX as u64 + 1, ..sample() };
    let mut bytes = huge.encode().to_vec();
    bytes.resize(REQUEST_SIZE + INLINE_MAX + 1, 0);
    assert_eq!(Request::decode(&bytes), Err(DecodeError::Inconsistent));
    let lent = Request { payload: Payload::Lent, addr: 0x1000, len: 1 << 20, ..sample() };
    assert_eq!(Request::decode(&lent.encode()).unwrap(), (lent, &[][..]));
}

#[test]
fn responses_round_trip() {
    for response in [
        Response::value(3, 17),
        Response::error(4, 2),
        Response::fd(5, 9),
        Response::event(6, 1),
        Response::read_ahead(7, 12),
        Response { id: 1, kind: Kind::Nop, flags: 0, value: 0, len: 0 },
    ] {
        assert_eq!(Response::decode(&response.encode()).unwrap(), (response, &[][..]));
    }
    let mut with_data = Response::data(8, 3).encode().to_vec();
    with_data.extend_from_slice(b"abc");
    assert_eq!(Response::decode(&with_data).unwrap(), (Response::data(8, 3), &b"abc"[..]));
    // An open's answer that lets the kernel read ahead: a handle, with the flag.
    let (opened, _) = Response::decode(&Response::read_ahead(7, 12).encode()).unwrap();
    assert_eq!((opened.kind, opened.value, opened.flags & OPEN_READ_AHEAD), (Kind::Value, 12, OPEN_READ_AHEAD));
}

#[test]
fn responses_with_wrong_lengths_are_refused() {
    let header = Response::data(8, 3).encode();
    assert_eq!(Response::decode(&header[..RESPONSE_SIZE - 1]), Err(DecodeError::Short));
    // Says 3 bytes, has 0 or 4.
    assert_eq!(Response::decode(&header), Err(DecodeError::Inconsistent));
    let mut extra = header.to_vec();
    extra.extend_from_slice(b"abcd");
    assert_eq!(Response::decode(&extra), Err(DecodeError::Inconsistent));
    // Data on an error.
    let mut on_error = Response { len: 1, ..Response::error(1, 5) }.encode().to_vec();
    on_error.push(0);
    assert_eq!(Response::decode(&on_error), Err(DecodeError::Inconsistent));
    let mut bad_kind = Response::value(1, 1).encode();
    bad_kind[8] = 9;
    assert_eq!(Response::decode(&bad_kind), Err(DecodeError::Unknown));
}

/// Random bytes never panic the decoders (deterministic xorshift).
#[test]
fn random_bytes_never_panic() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for _ in 0..20_000 {
        let len = (next() % 160) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Make valid-looking headers common enough to reach the checks.
        if len >= REQUEST_SIZE && next() % 2 == 0 {
            bytes[8] = (next() % 20) as u8;
            bytes[9] = 0;
            bytes[10] = (next() % 3) as u8;
            bytes[48..56].copy_from_slice(&(next() % 100).to_le_bytes());
        }
        if Request::decode(&bytes).is_ok() {
            accepted += 1;
        }
        if Response::decode(&bytes).is_ok() {
            accepted += 1;
        }
    }
    assert!(accepted > 0, "the generator never produced a valid message");
}
