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
            None => assert!(raw == 0 || raw > Op::Chain as u16, "op {raw} missing"),
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
        Response::event_with_room(6, 2, 30_000),
        Response::read_ahead(7, 12),
        Response::buffered(7, 13),
        Response::stream(7, 14, 0),
        Response::stream(7, 15, 32 * 1024),
        Response::device(7, 16, 64 * 1024),
        Response::value(9, 100).with_room(4096),
        Response { id: 1, kind: Kind::Nop, flags: 0, value: 0, len: 0 },
        Response { id: 0, kind: Kind::Takes, flags: TAKES_CHAINS, value: 0, len: 0 },
    ] {
        assert_eq!(Response::decode(&response.encode()).unwrap(), (response, &[][..]));
    }
    let mut received = Response::received(8, 2).encode().to_vec();
    received.extend_from_slice(b"hi");
    assert_eq!(Response::decode(&received).unwrap(), (Response::received(8, 2), &b"hi"[..]));
    let mut with_data = Response::data(8, 3).encode().to_vec();
    with_data.extend_from_slice(b"abc");
    assert_eq!(Response::decode(&with_data).unwrap(), (Response::data(8, 3), &b"abc"[..]));
    // An open's answer that lets the kernel read ahead: a handle, with the flag.
    let (opened, _) = Response::decode(&Response::read_ahead(7, 12).encode()).unwrap();
    assert_eq!((opened.kind, opened.value, opened.flags & OPEN_READ_AHEAD), (Kind::Value, 12, OPEN_READ_AHEAD));
    assert_eq!(opened.flags & OPEN_POSTED_WRITES, 0);
    // One whose small writes the kernel may also post: both flags.
    let (opened, _) = Response::decode(&Response::buffered(7, 13).encode()).unwrap();
    assert_eq!((opened.value, opened.flags), (13, OPEN_READ_AHEAD | OPEN_POSTED_WRITES));
    // A stream's: posted within the room its writes' answers report,
    // never read ahead.
    let (opened, _) = Response::decode(&Response::stream(7, 14, 0).encode()).unwrap();
    assert_eq!((opened.value, opened.flags), (14, OPEN_POSTED_WITHIN_ROOM));
    // With its room at the open, above the flag bits; saturated.
    let (opened, _) = Response::decode(&Response::stream(7, 15, 32 * 1024).encode()).unwrap();
    assert_eq!((opened.flags & 0xff, open_room(opened.flags)), (OPEN_POSTED_WITHIN_ROOM, 32 * 1024));
    assert_eq!(open_room(Response::stream(7, 15, usize::MAX).flags), (1 << 24) - 1);
    // A disk's: read ahead, and posted within a room counted from its
    // offset.
    let (opened, _) = Response::decode(&Response::device(7, 16, 64 * 1024).encode()).unwrap();
    let flags = OPEN_READ_AHEAD | OPEN_POSTED_WITHIN_ROOM | OPEN_ROOM_FROM_OFFSET;
    assert_eq!((opened.value, opened.flags & 0xff, open_room(opened.flags)), (16, flags, 64 * 1024));
    assert_eq!(open_room(Response::device(7, 16, usize::MAX).flags), (1 << 24) - 1);
    let (written, _) = Response::decode(&Response::value(9, 100).with_room(70_000).encode()).unwrap();
    assert_eq!((written.value, written.flags), (100, 70_000));
    // A room past what the field holds is the most it holds.
    assert_eq!(Response::value(9, 1).with_room(usize::MAX).flags, u32::MAX);
    assert_eq!(Response::error(9, 32).with_room(10).flags, 10);
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

/// A link: `link` encoded, then `inline`.
fn link(out: &mut Vec<u8>, link: Link, inline: &[u8]) {
    out.extend_from_slice(&link.encode());
    out.extend_from_slice(inline);
}

/// An answer in a chain's answer: `response`'s head (with `data`'s length), then `data`.
fn answer(out: &mut Vec<u8>, response: Response, data: &[u8]) {
    out.extend_from_slice(&Response { len: data.len() as u64, ..response }.encode());
    out.extend_from_slice(data);
}

#[test]
fn chain_links_walk_in_order() {
    let open = Link::new(Op::Open, 0o100, 5, 0);
    let read = Link::new(Op::Read, 0, 16, 0);
    let write = Link::new(Op::Write, 0, 3, 0);
    let seek = Link::new(Op::Seek, 2, 0, (-4i64) as u64);
    let close = Link::new(Op::Close, 0, 0, 0);
    let mut payload = Vec::new();
    link(&mut payload, open, b"notes");
    link(&mut payload, read, b"");
    link(&mut payload, write, b"abc");
    link(&mut payload, seek, b"");
    link(&mut payload, close, b"");
    assert_eq!(payload.len(), 5 * LINK_SIZE + 8);
    let walked: Vec<_> = links(&payload).map(Result::unwrap).collect();
    assert_eq!(
        walked,
        [(open, &b"notes"[..]), (read, &[][..]), (write, &b"abc"[..]), (seek, &[][..]), (close, &[][..])]
    );
    assert_eq!(links(&[]).count(), 0);
}

#[test]
fn a_link_stands_for_its_request() {
    let chain = Request { pid: 9, uid: 1000, gid: 100, ..Request::new(77, Op::Chain) };
    let open = Link::new(Op::Open, 0o100, 5, 0).request(0, &chain, 0);
    assert_eq!(
        open,
        Request {
            payload: Payload::Inline,
            flags: 0o100,
            pid: 9,
            uid: 1000,
            gid: 100,
            len: 5,
            ..Request::new(0, Op::Open)
        }
    );
    let read = Link::new(Op::Read, 4, 16, 0).request(3, &chain, 7);
    assert_eq!(
        read,
        Request { flags: 4, pid: 9, uid: 1000, gid: 100, handle: 7, len: 16, ..Request::new(3, Op::Read) }
    );
    let write = Link::new(Op::Write, 0, 3, 0).request(0, &chain, 7);
    assert_eq!((write.payload, write.len), (Payload::Inline, 3));
    let seek = Link::new(Op::Seek, 1, 0, 42).request(0, &chain, 7);
    assert_eq!((seek.payload, seek.flags, seek.arg), (Payload::None, 1, 42));
}

#[test]
fn bad_chain_links_end_the_walk() {
    let mut payload = Vec::new();
    link(&mut payload, Link::new(Op::Read, 0, 1, 0), b"");
    // Cut short, a chain in a chain, reserved bytes set, inline data
    // cut short, too long a length, an unknown op: each ends it.
    let mut cut = payload.clone();
    cut.extend_from_slice(&Link::new(Op::Read, 0, 1, 0).encode()[..10]);
    let mut nested = payload.clone();
    link(&mut nested, Link::new(Op::Chain, 0, 0, 0), b"");
    let mut reserved = payload.clone();
    let mut odd = Link::new(Op::Close, 0, 0, 0).encode();
    odd[13] = 1;
    reserved.extend_from_slice(&odd);
    let mut short_input = payload.clone();
    link(&mut short_input, Link::new(Op::Write, 0, 8, 0), b"abc");
    let mut too_long = payload.clone();
    link(&mut too_long, Link::new(Op::Read, 0, INLINE_MAX as u32 + 1, 0), b"");
    let mut unknown = payload.clone();
    let mut bad_op = Link::new(Op::Close, 0, 0, 0).encode();
    bad_op[0] = 99;
    unknown.extend_from_slice(&bad_op);
    for (what, bytes, error) in [
        ("cut", &cut, DecodeError::Short),
        ("nested", &nested, DecodeError::Inconsistent),
        ("reserved", &reserved, DecodeError::Inconsistent),
        ("short input", &short_input, DecodeError::Inconsistent),
        ("too long", &too_long, DecodeError::Inconsistent),
        ("unknown", &unknown, DecodeError::Unknown),
    ] {
        let mut bytes = bytes.clone();
        if what != "cut" && what != "short input" {
            // A sound link after the bad one is never reached.
            link(&mut bytes, Link::new(Op::Close, 0, 0, 0), b"");
        }
        let walked: Vec<_> = links(&bytes).collect();
        assert_eq!(walked.len(), 2, "{what}");
        assert!(walked[0].is_ok(), "{what}");
        assert_eq!(walked[1], Err(error), "{what}");
    }
}

#[test]
fn chain_answers_walk_in_order() {
    let mut data = Vec::new();
    answer(&mut data, Response::read_ahead(0, 7), b"");
    answer(&mut data, Response::data(0, 4), b"abcd");
    answer(&mut data, Response::value(0, 0), b"");
    answer(&mut data, Response::error(0, 5), b"");
    let walked: Vec<_> = answers(&data).map(Result::unwrap).collect();
    assert_eq!(walked.len(), 4);
    assert_eq!((walked[0].0.value, walked[0].0.flags), (7, OPEN_READ_AHEAD));
    assert_eq!((walked[1].0.value, walked[1].1), (4, &b"abcd"[..]));
    assert_eq!(walked[3].0, Response::error(0, 5));
    let mut handed = Vec::new();
    answer(&mut handed, Response::fd(0, 9), b"");
    assert_eq!(answers(&handed).next(), Some(Ok((Response::fd(0, 9), &[][..]))));
}

#[test]
fn bad_chain_answers_end_the_walk() {
    let mut good = Vec::new();
    answer(&mut good, Response::value(0, 3), b"");
    let cases: [(&str, Vec<u8>); 4] = [
        ("cut head", Response::value(0, 1).encode()[..20].to_vec()),
        ("data longer than what follows", {
            let mut bytes = Response::data(0, 8).encode().to_vec();
            bytes.extend_from_slice(b"abc");
            bytes
        }),
        ("an event", Response::event(1, 1).encode().to_vec()),
        ("data on an error", {
            let mut bytes = Response { len: 1, ..Response::error(0, 5) }.encode().to_vec();
            bytes.push(0);
            bytes
        }),
    ];
    for (what, bad) in cases {
        let mut data = good.clone();
        data.extend_from_slice(&bad);
        let walked: Vec<_> = answers(&data).collect();
        assert_eq!(walked.len(), 2, "{what}");
        assert!(walked[0].is_ok() && walked[1].is_err(), "{what}: {walked:?}");
    }
    let mut huge = Response::value(0, 0).encode();
    huge[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    huge[8] = 0;
    assert_eq!(answers(&huge).next(), Some(Err(DecodeError::Inconsistent)));
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
        // The walks end (each step consumes bytes or stops) and never panic.
        accepted += links(&bytes).take(8).filter(Result::is_ok).count();
        accepted += answers(&bytes).take(8).filter(Result::is_ok).count();
    }
    assert!(accepted > 0, "the generator never produced a valid message");
}
