//! Host tests of the line discipline.

extern crate std;

use alloc::vec;
use alloc::vec::Vec;

use super::*;

/// Everything one read returns (`None`: it would wait).
fn read_all(ld: &mut LineDiscipline) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 8192];
    ld.read(&mut buf).map(|n| buf[..n].to_vec())
}

#[test]
fn echo_and_one_line_per_read() {
    let mut ld = LineDiscipline::new();
    let out = ld.input(b"ls -l");
    assert_eq!(out.echo, b"ls -l");
    assert!(!out.interrupt);
    assert!(!ld.readable(), "a line is not readable before Enter");
    assert_eq!(read_all(&mut ld), None);
    let out = ld.input(b"\ncat x\n");
    assert_eq!(out.echo, b"\r\ncat x\r\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"ls -l\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"cat x\n");
    assert_eq!(read_all(&mut ld), None);
}

#[test]
fn carriage_return_is_enter_and_crlf_counts_once() {
    let mut ld = LineDiscipline::new();
    let out = ld.input(b"a\rb\r\nc\n\n");
    assert_eq!(out.echo, b"a\r\nb\r\nc\r\n\r\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"a\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"b\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"c\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"\n", "a second \\n is an empty line");
    assert_eq!(read_all(&mut ld), None);
    // \r\n split across two inputs is still one Enter.
    ld.input(b"d\r");
    ld.input(b"\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"d\n");
    assert_eq!(read_all(&mut ld), None);
}

#[test]
fn backspace_erases_one_character() {
    let mut ld = LineDiscipline::new();
    let out = ld.input(b"abc\x7f\x08d");
    assert_eq!(out.echo, b"abc\x08 \x08\x08 \x08d");
    assert_eq!(ld.line(), b"ad");
    ld.input(b"\r");
    assert_eq!(read_all(&mut ld).unwrap(), b"ad\n");
}

#[test]
fn backspace_at_line_start_does_nothing() {
    let mut ld = LineDiscipline::new();
    let out = ld.input(b"\x7f\x7f\x08");
    assert!(out.echo.is_empty(), "echo {:?}", out.echo);
    ld.input(b"x\x7f\x7fy\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"y\n");
}

#[test]
fn backspace_erases_a_whole_utf8_character() {
    let mut ld = LineDiscipline::new();
    ld.input("aé€".as_bytes());
    let out = ld.input(b"\x7f");
    assert_eq!(out.echo, ERASE, "one column erased for one character");
    assert_eq!(ld.line(), "aé".as_bytes());
    ld.input(b"\x7f");
    assert_eq!(ld.line(), b"a");
}

#[test]
fn ctrl_u_erases_the_line() {
    let mut ld = LineDiscipline::new();
    ld.input(b"hello");
    let out = ld.input(b"\x15");
    assert_eq!(out.echo, ERASE.repeat(5));
    assert!(ld.line().is_empty());
    let out = ld.input(b"\x15");
    assert!(out.echo.is_empty(), "^U on an empty line echoes nothing");
    ld.input(b"bye\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"bye\n");
}

#[test]
fn ctrl_c_discards_the_line_and_asks_for_an_interrupt() {
    let mut ld = LineDiscipline::new();
    let out = ld.input(b"sleep 100\x03");
    assert!(out.interrupt);
    assert_eq!(out.echo, b"sleep 100^C\r\n");
    assert!(ld.line().is_empty());
    assert!(!ld.readable(), "the discarded line is not readable");
    let out = ld.input(b"ok\n");
    assert!(!out.interrupt);
    assert_eq!(read_all(&mut ld).unwrap(), b"ok\n");
    // A completed line survives a later ^C.
    ld.input(b"kept\n\x03");
    assert_eq!(read_all(&mut ld).unwrap(), b"kept\n");
}

#[test]
fn ctrl_d_on_an_empty_line_is_end_of_file() {
    let mut ld = LineDiscipline::new();
    let out = ld.input(b"\x04");
    assert!(out.echo.is_empty());
    assert!(ld.readable());
    assert_eq!(read_all(&mut ld).unwrap(), b"", "end of file reads as 0");
    assert_eq!(read_all(&mut ld), None, "the mark is read once");
    // A line before the mark, then the mark.
    ld.input(b"x\n\x04");
    assert_eq!(read_all(&mut ld).unwrap(), b"x\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"");
    assert_eq!(read_all(&mut ld), None);
}

#[test]
fn ctrl_d_on_a_partial_line_delivers_it_without_newline() {
    let mut ld = LineDiscipline::new();
    ld.input(b"abc\x04");
    assert_eq!(read_all(&mut ld).unwrap(), b"abc");
    assert_eq!(read_all(&mut ld), None, "no end of file: the line was not empty");
    ld.input(b"\x04");
    assert_eq!(read_all(&mut ld).unwrap(), b"");
}

#[test]
fn short_buffers_get_the_line_in_parts() {
    let mut ld = LineDiscipline::new();
    ld.input(b"abcdef\nxy\n");
    let mut buf = [0u8; 4];
    assert_eq!(ld.read(&mut buf), Some(4));
    assert_eq!(&buf, b"abcd");
    assert_eq!(ld.read(&mut buf), Some(3));
    assert_eq!(&buf[..3], b"ef\n");
    assert_eq!(ld.read(&mut buf), Some(3));
    assert_eq!(&buf[..3], b"xy\n");
    assert_eq!(ld.read(&mut buf), None);
}

#[test]
fn escape_sequences_are_dropped_in_cooked_mode() {
    let mut ld = LineDiscipline::new();
    let out = ld.input(b"a\x1b[Ab\x1b[1;5Cc\x1bOPd\n");
    assert_eq!(out.echo, b"abcd\r\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"abcd\n");
}

#[test]
fn other_control_bytes_are_dropped_and_tab_kept() {
    let mut ld = LineDiscipline::new();
    let out = ld.input(b"a\x01\x02\tb\x00\n");
    assert_eq!(out.echo, b"a\tb\r\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"a\tb\n");
}

#[test]
fn raw_mode_passes_bytes_through() {
    let mut ld = LineDiscipline::new();
    ld.set_mode(Mode::Raw);
    assert_eq!(ld.mode(), Mode::Raw);
    let out = ld.input(b"q\x03\x04\x7f\x1b[A\r");
    assert!(out.echo.is_empty(), "no echo in raw mode");
    assert!(!out.interrupt, "no signals in raw mode");
    let out = ld.input(b"\x1b[B");
    assert!(out.echo.is_empty());
    assert_eq!(read_all(&mut ld).unwrap(), b"q\x03\x04\x7f\x1b[A\r\x1b[B", "one read returns all that waits");
    assert_eq!(read_all(&mut ld), None);
    ld.input(b"xyz");
    let mut one = [0u8; 1];
    assert_eq!(ld.read(&mut one), Some(1));
    assert_eq!(&one, b"x");
    assert_eq!(read_all(&mut ld).unwrap(), b"yz");
}

#[test]
fn switching_modes_keeps_typed_input() {
    let mut ld = LineDiscipline::new();
    ld.input(b"done\n\x04half");
    ld.set_mode(Mode::Raw);
    // The finished line, then the half line; the end-of-file mark is gone.
    assert_eq!(read_all(&mut ld).unwrap(), b"done\nhalf");
    assert!(ld.line().is_empty());
    ld.input(b"ab");
    ld.set_mode(Mode::Cooked);
    assert_eq!(read_all(&mut ld).unwrap(), b"ab", "unread raw bytes stay readable");
    ld.input(b"c\n");
    assert_eq!(read_all(&mut ld).unwrap(), b"c\n");
}

#[test]
fn mode_names_round_trip() {
    for mode in [Mode::Cooked, Mode::Raw] {
        assert_eq!(Mode::parse(mode.name().as_bytes()), Some(mode));
    }
    assert_eq!(Mode::parse(b"raw\n"), Some(Mode::Raw));
    assert_eq!(Mode::parse(b" cooked "), Some(Mode::Cooked));
    assert_eq!(Mode::parse(b"Raw"), None);
    assert_eq!(Mode::parse(b""), None);
}

#[test]
fn long_lines_stop_at_the_limit() {
    let mut ld = LineDiscipline::new();
    let out = ld.input(&vec![b'x'; MAX_LINE + 3]);
    assert_eq!(ld.line().len(), MAX_LINE);
    assert_eq!(out.echo.iter().filter(|&&b| b == BEL).count(), 3);
    assert_eq!(ld.take_dropped(), 3);
    assert_eq!(ld.take_dropped(), 0);
    ld.input(b"\n");
    assert_eq!(read_all(&mut ld).unwrap().len(), MAX_LINE + 1);
}

#[test]
fn pending_input_is_bounded() {
    let mut ld = LineDiscipline::new();
    ld.set_mode(Mode::Raw);
    ld.input(&vec![b'a'; MAX_PENDING - 10]);
    ld.input(&[b'b'; 30]);
    assert_eq!(ld.take_dropped(), 20);
    let mut total = 0;
    while let Some(n) = ld.read(&mut [0u8; 1000]) {
        assert!(n > 0);
        total += n;
    }
    assert_eq!(total, MAX_PENDING);
    // End-of-file marks count too: cooked ^D cannot grow the queue forever.
    ld.set_mode(Mode::Cooked);
    ld.input(&vec![CTRL_D; MAX_PENDING + 5]);
    assert_eq!(ld.take_dropped(), 5);
}

#[test]
fn empty_read_buffer_returns_zero_and_keeps_data() {
    let mut ld = LineDiscipline::new();
    ld.input(b"a\n");
    assert_eq!(ld.read(&mut []), Some(0));
    assert_eq!(read_all(&mut ld).unwrap(), b"a\n");
}
