//! Host tests: tags, the line format, splitting writes, the store's budget,
//! cursors across drops and filters, and a randomized loop checking that a
//! reader reading in random sizes sees exactly the lines it should.

extern crate std;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use xorshift::Rng;

use super::*;

fn read_all(store: &Store, cursor: &mut Cursor, lines: Lines, chunk: usize) -> String {
    let mut text = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = store.read(cursor, lines, &mut buf);
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(text).unwrap()
}

/// Pushes a line; the consoles get warnings and errors.
fn line(store: &mut Store, level: Level, text: &str) {
    store.push(format_line(Duration::from_millis(1500), 7, level, text.as_bytes()), level <= Level::Warn);
}

#[test]
fn tags_give_the_level_and_the_rest() {
    assert_eq!(split_level(b"<warn>netd: no answer"), (Level::Warn, &b"netd: no answer"[..]));
    assert_eq!(split_level(b"<ERROR>x"), (Level::Error, &b"x"[..]));
    assert_eq!(split_level(b"<warning>x"), (Level::Warn, &b"x"[..]));
    assert_eq!(split_level(b"<trace>"), (Level::Trace, &b""[..]));
    assert_eq!(split_level(b"plain"), (Level::Info, &b"plain"[..]));
    assert_eq!(split_level(b"<loud>x"), (Level::Info, &b"<loud>x"[..]));
    assert_eq!(split_level(b"<warn"), (Level::Info, &b"<warn"[..]));
    for level in Level::ALL {
        assert_eq!(split_level(tag(level).as_bytes()).0, level);
        assert_eq!(Level::parse(level.name().as_bytes()), Some(level));
    }
    assert_eq!(Level::parse(b" warn\n"), Some(Level::Warn));
    assert_eq!(Level::parse(b"loud"), None);
    assert!(Level::Error < Level::Warn && Level::Info < Level::Debug);
}

#[test]
fn a_line_shows_time_level_pid_and_text() {
    let shown = format_line(Duration::from_micros(5_123_456), 9, Level::Warn, b"netd: eth0: no answer");
    assert_eq!(shown, "[    5.123456] WARN  pid 9 netd: eth0: no answer\n");
    assert_eq!(format_line(Duration::ZERO, 1, Level::Info, b"x\r"), "[    0.000000] INFO  pid 1 x\n");
}

#[test]
fn control_characters_cannot_reach_a_console() {
    let shown = format_line(Duration::ZERO, 1, Level::Error, b"a\x1b[2Jb\x07\tc");
    assert_eq!(shown, "[    0.000000] ERROR pid 1 a?[2Jb?\tc\n");
}

#[test]
fn long_lines_are_cut_and_say_so() {
    let long = vec![b'a'; LINE_MAX + 10];
    let shown = format_line(Duration::ZERO, 1, Level::Info, &long);
    assert!(shown.ends_with(" [cut]\n"));
    assert_eq!(shown.matches('a').count(), LINE_MAX);
}

#[test]
fn writes_split_into_lines_and_the_rest_waits() {
    let mut pending = Pending::default();
    assert_eq!(pending.feed(b"one\ntw"), vec![b"one".to_vec()]);
    assert_eq!(pending.feed(b"o\n\nthree"), vec![b"two".to_vec(), Vec::new()]);
    assert_eq!(pending.finish(), Some(b"three".to_vec()));
    let mut pending = Pending::default();
    assert!(pending.feed(&vec![b'x'; LINE_MAX]).is_empty());
    assert_eq!(pending.feed(b"y").len(), 1, "a partial line over LINE_MAX is complete");
    assert_eq!(pending.finish(), None);
}

#[test]
fn a_reader_at_the_end_sees_later_lines() {
    let mut store = Store::new(4096);
    line(&mut store, Level::Info, "first");
    let mut all = store.start();
    let mut late = store.end();
    assert_eq!(read_all(&store, &mut all, Lines::All, 64), "[    1.500000] INFO  pid 7 first\n");
    assert_eq!(read_all(&store, &mut late, Lines::All, 64), "");
    line(&mut store, Level::Debug, "second");
    assert_eq!(read_all(&store, &mut all, Lines::All, 5), "[    1.500000] DEBUG pid 7 second\n");
    assert_eq!(read_all(&store, &mut late, Lines::All, 64), "[    1.500000] DEBUG pid 7 second\n");
}

#[test]
fn the_console_gets_its_lines_only() {
    let mut store = Store::new(4096);
    let mut console = store.end();
    line(&mut store, Level::Info, "chatter");
    assert!(!store.has_news(&console, Lines::Console));
    line(&mut store, Level::Error, "broken");
    assert!(store.has_news(&console, Lines::Console));
    assert_eq!(read_all(&store, &mut console, Lines::Console, 64), "[    1.500000] ERROR pid 7 broken\n");
    assert!(!store.has_news(&console, Lines::Console));
    assert_eq!(console, store.end());
}

#[test]
fn dropped_lines_become_a_note() {
    let mut store = Store::new(100);
    let mut reader = store.start();
    for i in 0..10 {
        line(&mut store, Level::Info, &std::format!("line {i}"));
    }
    assert!(store.bytes() <= 100);
    assert_eq!(store.dropped(), 8);
    let text = read_all(&store, &mut reader, Lines::All, 512);
    assert!(text.starts_with("(log: 8 lines dropped before this one)\n"), "{text}");
    assert!(text.ends_with("pid 7 line 9\n"));
    // A small buffer reads the note in pieces.
    let mut reader = Cursor::default();
    let text = read_all(&store, &mut reader, Lines::All, 3);
    assert!(text.starts_with("(log: 8 lines dropped before this one)\n[    1.500000] INFO  pid 7 line 8\n"), "{text}");
}

#[test]
fn the_newest_line_stays_even_over_the_budget() {
    let mut store = Store::new(10);
    line(&mut store, Level::Info, "a line longer than the budget");
    assert_eq!(read_all(&store, &mut store.start(), Lines::All, 7).lines().count(), 1);
}

/// Random lines, levels, budgets and read sizes: a reader that follows
/// along sees exactly the lines kept at its threshold, in order, with a
/// note where it fell behind; nothing panics.
#[test]
fn random_readers_see_exactly_their_lines() {
    let mut rng = Rng::new(0x106);
    for _ in 0..300 {
        let mut store = Store::new(64 + rng.below(2048));
        let threshold = *rng.pick(&Level::ALL).unwrap();
        let lines = if rng.below(2) == 0 { Lines::All } else { Lines::Console };
        let mut cursor = if rng.below(2) == 0 { store.start() } else { store.end() };
        let mut expected: Vec<String> = Vec::new();
        let mut seen = String::new();
        let mut last = 0;
        for n in 0..rng.below(80) {
            let level = *rng.pick(&Level::ALL).unwrap();
            let body: String = (0..rng.below(120)).map(|_| (b'a' + rng.below(26) as u8) as char).collect();
            let shown = format_line(Duration::from_millis(n as u64), n, level, body.as_bytes());
            last = shown.len();
            store.push(shown.clone(), level <= threshold);
            if lines == Lines::All || level <= threshold {
                expected.push(shown);
            }
            if rng.below(3) == 0 {
                seen.push_str(&read_all(&store, &mut cursor, lines, 1 + rng.below(200)));
            }
        }
        seen.push_str(&read_all(&store, &mut cursor, lines, 1 + rng.below(200)));
        assert!(!store.has_news(&cursor, lines));
        // Whatever was not dropped arrives in order; notes stand for the rest.
        // A line cut off by a drop is a prefix of its line, then the note.
        let lines: Vec<&str> = seen.split_inclusive('\n').collect();
        let mut want = expected.iter().map(String::as_str);
        for (i, got) in lines.iter().enumerate() {
            if got.starts_with("(log: ") {
                continue;
            }
            let cut_off = lines.get(i + 1).is_some_and(|next| next.starts_with("(log: "));
            let whole = |w: &str| w == *got || (cut_off && w.starts_with(got.trim_end_matches('\n')));
            assert!(want.any(whole), "{got:?} not expected in order");
        }
        assert!(store.bytes() <= store.capacity.max(last));
    }
}
