//! Host tests: key decoding, the buffer's edits and search, layout, the
//! editor and the pager, screen diffs, and random key sequences that must
//! never panic and keep the invariants (cursor inside the text and on
//! screen; the saved text is exactly what a simple model says was typed).

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use xorshift::Rng;

use crate::layout::{column, index_at, visible};
use crate::*;

fn keys(bytes: &[u8]) -> Vec<Key> {
    let mut out = Vec::new();
    Decoder::new().feed(bytes, &mut out);
    out
}

fn type_text(editor: &mut Editor, text: &str) {
    for key in keys(text.as_bytes()) {
        editor.handle(key);
    }
}

#[test]
fn decodes_keys_and_sequences() {
    use Key::*;
    assert_eq!(keys(b"a\x1b[A\x1b[B\x1b[C\x1b[D"), vec![Char('a'), Up, Down, Right, Left]);
    assert_eq!(
        keys(b"\x1b[H\x1b[F\x1b[1~\x1b[4~\x1b[7~\x1b[8~\x1bOH\x1bOF"),
        vec![Home, End, Home, End, Home, End, Home, End]
    );
    assert_eq!(keys(b"\x1b[5~\x1b[6~\x1b[3~\x1b[2~"), vec![PageUp, PageDown, Delete]);
    assert_eq!(keys(b"\x1b[1;5A\x1bOB"), vec![Up, Down]);
    assert_eq!(
        keys(b"\r\n\n\r\x7f\x08\t\x13\x11"),
        vec![Enter, Enter, Enter, Backspace, Backspace, Tab, Ctrl('s'), Ctrl('q')]
    );
    assert_eq!(keys("é€😀".as_bytes()), vec![Char('é'), Char('€'), Char('😀')]);
    assert_eq!(keys(b"\xff\xc3x"), vec![Char('\u{fffd}'), Char('\u{fffd}'), Char('x')]);
    assert_eq!(keys(b"\x1bx\x1b\x1b["), vec![Escape, Char('x'), Escape]);
    assert_eq!(keys(b"\x1b[99Zq"), vec![Char('q')]);
    // Split over reads, byte by byte.
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    for &b in b"\x1b[6~\x1b[Ab" {
        decoder.feed(&[b], &mut out);
    }
    assert_eq!(out, vec![PageDown, Up, Char('b')]);
}

#[test]
fn sizes() {
    assert_eq!(parse_size(b"80x24\n"), Some((80, 24)));
    assert_eq!(parse_size(b" 128x48 "), Some((128, 48)));
    for bad in [&b""[..], b"80", b"x24", b"80x", b"0x24", b"80x0", b"-1x2", b"80 x24", b"8a0x24", b"\xff"] {
        assert_eq!(parse_size(bad), None, "{bad:?}");
    }
}

#[test]
fn buffer_round_trips_and_edits() {
    for text in ["", "a", "a\n", "\n\n", "one\ntwo\n\nthree", "tab\there\r\n"] {
        assert_eq!(Buffer::from_text(text).to_text(), text);
    }
    let mut b = Buffer::from_text("ab\ncd");
    let at = b.split_line(Pos::new(0, 1));
    assert_eq!((b.to_text().as_str(), at), ("a\nb\ncd", Pos::new(1, 0)));
    let at = b.delete_before(at);
    assert_eq!((b.to_text().as_str(), at), ("ab\ncd", Pos::new(0, 1)));
    let at = b.delete_at(Pos::new(0, 2));
    assert_eq!((b.to_text().as_str(), at), ("abcd", Pos::new(0, 2)));
    assert_eq!(b.delete_before(Pos::new(0, 0)), Pos::new(0, 0));
    assert_eq!(b.delete_at(Pos::new(5, 9)), Pos::new(0, 4));
    assert_eq!(b.to_text(), "abcd");
    assert_eq!(b.insert(Pos::new(9, 9), 'e'), Pos::new(0, 5));
    assert_eq!(b.to_text(), "abcde");
}

#[test]
fn find_goes_forward_and_wraps() {
    let b = Buffer::from_text("foo bar\nbaz foo\nfoo");
    let p: Vec<char> = "foo".chars().collect();
    assert_eq!(b.find(Pos::new(0, 0), &p), Some(Pos::new(1, 4)));
    assert_eq!(b.find(Pos::new(1, 4), &p), Some(Pos::new(2, 0)));
    assert_eq!(b.find(Pos::new(2, 0), &p), Some(Pos::new(0, 0)));
    let q: Vec<char> = "zzz".chars().collect();
    assert_eq!(b.find(Pos::new(1, 2), &q), None);
    assert_eq!(b.find(Pos::new(0, 0), &[]), None);
    // The only match is under the cursor: found again after wrapping.
    let b = Buffer::from_text("x needle y");
    let n: Vec<char> = "needle".chars().collect();
    assert_eq!(b.find(Pos::new(0, 2), &n), Some(Pos::new(0, 2)));
}

#[test]
fn layout_of_tabs_and_controls() {
    let line: Vec<char> = "a\tb\x01c".chars().collect();
    assert_eq!(column(&line, 1), 1);
    assert_eq!(column(&line, 2), 8);
    assert_eq!(column(&line, 4), 11);
    assert_eq!(column(&line, 5), 12);
    assert_eq!(visible(&line, 0, 80), "a       b^Ac");
    assert_eq!(visible(&line, 3, 6), "     b");
    assert_eq!(visible(&line, 10, 1), "A");
    assert_eq!(index_at(&line, 5), 1);
    assert_eq!(index_at(&line, 8), 2);
    assert_eq!(index_at(&line, 99), 5);
    assert_eq!(visible(&['\x1b', '\x7f'], 0, 9), "^[^?");
}

#[test]
fn editor_types_moves_and_saves() {
    let mut e = Editor::new("tmp:x", "", 20, 5);
    type_text(&mut e, "hello\rworld");
    assert_eq!(e.text(), "hello\nworld");
    assert!(e.modified());
    // Up, End, then type: goes to the end of the first line.
    type_text(&mut e, "\x1b[A\x1b[F!\x1b[B\x1b[H>\x1b[3~");
    assert_eq!(e.text(), "hello!\n>orld");
    assert_eq!(e.handle(Key::Ctrl('s')), Action::Save);
    e.saved(12);
    assert!(!e.modified());
    let (rows, cursor) = e.frame();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0], "hello!");
    assert_eq!(rows[2], "~");
    assert_eq!(rows[4], "tmp:x - wrote 12 2:2");
    assert_eq!(cursor, (1, 1));
    assert_eq!(e.handle(Key::Ctrl('q')), Action::Quit);
}

#[test]
fn quitting_with_unsaved_changes_asks_again() {
    let mut e = Editor::new("f", "", 80, 24);
    type_text(&mut e, "x");
    assert_eq!(e.handle(Key::Ctrl('q')), Action::Continue);
    assert!(e.frame().0[23].contains("unsaved changes"));
    // Another key in between disarms it.
    assert_eq!(e.handle(Key::Right), Action::Continue);
    assert_eq!(e.handle(Key::Ctrl('q')), Action::Continue);
    assert_eq!(e.handle(Key::Ctrl('q')), Action::Quit);
    let mut e = Editor::new("f", "", 80, 24);
    e.handle(Key::Char('x'));
    e.save_failed("read-only file system");
    assert!(e.frame().0[23].starts_with("f [modified] - cannot save: read-only file system"));
}

#[test]
fn editor_scrolls_and_searches() {
    let text: String = (0..100).map(|i| alloc::format!("line {i}\n")).collect();
    let mut e = Editor::new("f", &text, 40, 11);
    e.handle(Key::PageDown);
    assert_eq!((e.cursor().line, e.view().0), (10, 10));
    e.handle(Key::PageDown);
    e.handle(Key::PageUp);
    assert_eq!((e.cursor().line, e.view().0), (10, 10));
    type_text(&mut e, "\x06line 77\r");
    assert_eq!(e.cursor(), Pos::new(77, 0));
    assert!(e.view().0 <= 77 && 77 < e.view().0 + 10);
    type_text(&mut e, "\x06nope\r");
    assert!(e.frame().0[10].contains("not found: nope"));
    // Empty pattern: the last one that was searched for (line 77 again,
    // after wrapping; `nope` was not found, so it is the last).
    type_text(&mut e, "\x06\r");
    assert!(e.frame().0[10].contains("not found: nope"));
    type_text(&mut e, "\x06line 5\r");
    assert_eq!(e.cursor(), Pos::new(5, 0));
    assert!(e.frame().0[10].contains("wrapped"));
    // Escape cancels the prompt, leaving the cursor.
    type_text(&mut e, "\x06abc\x1b\x1b");
    assert_eq!(e.cursor(), Pos::new(5, 0));
    assert!(!e.modified());
}

#[test]
fn long_lines_scroll_sideways() {
    let line: String = (0..100).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let mut e = Editor::new("f", &line, 10, 3);
    e.handle(Key::End);
    assert_eq!(e.view(), (0, 91));
    let (rows, cursor) = e.frame();
    assert_eq!(rows[0], &line[91..]);
    assert_eq!(cursor, (0, 9));
    e.handle(Key::Home);
    assert_eq!(e.view(), (0, 0));
    assert_eq!(e.frame().0[0], &line[..10]);
}

#[test]
fn screen_redraws_only_what_changed() {
    let mut s = Screen::new(10, 3);
    let rows = vec!["one".to_string(), "two".to_string(), "three".to_string()];
    let first = String::from_utf8(s.draw(&rows, (0, 0))).unwrap();
    assert_eq!(first, "\x1b[?25l\x1b[1;1H\x1b[Kone\x1b[2;1H\x1b[Ktwo\x1b[3;1H\x1b[Kthree\x1b[1;1H\x1b[?25h");
    let rows = vec!["one".to_string(), "2".to_string(), "three and more".to_string()];
    let second = String::from_utf8(s.draw(&rows, (9, 99))).unwrap();
    assert_eq!(second, "\x1b[?25l\x1b[2;1H\x1b[K2\x1b[3;1H\x1b[Kthree and \x1b[3;10H\x1b[?25h");
    assert_eq!(String::from_utf8(s.draw(&rows, (0, 0))).unwrap(), "\x1b[?25l\x1b[1;1H\x1b[?25h");
    s.invalidate();
    assert!(String::from_utf8(s.draw(&rows, (0, 0))).unwrap().contains("one"));
}

#[test]
fn pager_pages_searches_and_quits() {
    let text: String = (1..=50).map(|i| alloc::format!("row {i}\n")).collect();
    let mut p = Pager::new(&text, 80, 11);
    assert_eq!(p.line_count(), 50);
    assert_eq!(p.frame().0[10], ":");
    for (key, top) in [
        (" ", 10),
        ("\x1b[6~", 20),
        ("b", 10),
        ("j", 11),
        ("\x1b[B", 12),
        ("k", 11),
        ("G", 40),
        (" ", 40),
        ("g", 0),
        ("\x1b[5~", 0),
    ] {
        for k in keys(key.as_bytes()) {
            assert!(p.handle(k));
        }
        assert_eq!(p.top(), top, "after {key:?}");
    }
    p.handle(Key::Char('G'));
    assert_eq!(p.frame().0[10], "(END)");
    assert_eq!(p.frame().0[9], "row 50");
    p.handle(Key::Char('g'));
    for k in keys(b"/row 3\r") {
        assert!(p.handle(k));
    }
    assert_eq!(p.top(), 2);
    p.handle(Key::Char('n'));
    assert_eq!(p.top(), 29);
    // Near the end: the match stays where it is and `n` goes on from it.
    p.handle(Key::Char('n'));
    assert_eq!(p.top(), 30);
    for _ in 0..9 {
        p.handle(Key::Char('n'));
    }
    assert_eq!(p.top(), 38);
    assert_eq!(p.frame().0[10], "pattern not found: row 3");
    p.handle(Key::Char('N'));
    assert_eq!(p.top(), 37);
    for k in keys(b"/\x7f") {
        p.handle(k);
    }
    assert_eq!(p.frame().0[10], ":");
    assert!(!p.handle(Key::Char('q')));
    // Short texts and sideways scrolling.
    let mut p = Pager::new("x\tlong line\n", 4, 24);
    assert_eq!(p.line_count(), 1);
    assert_eq!(p.frame().0[0], "x   ");
    p.handle(Key::Right);
    assert_eq!(p.frame().0[0], "    ");
    p.handle(Key::Right);
    p.handle(Key::Right);
    assert_eq!(p.frame().0[0], "  lo");
    p.handle(Key::Right);
    assert_eq!(p.frame().0[0], "long");
    p.handle(Key::Left);
    assert_eq!(p.frame().0[0], "  lo");
    assert_eq!(Pager::new("", 80, 24).frame().0[0], "~");
}

/// The random key sequences' keys, with typed text weighted up.
fn random_key(rng: &mut Rng) -> Key {
    const KEYS: &[Key] = &[
        Key::Enter,
        Key::Tab,
        Key::Backspace,
        Key::Delete,
        Key::Up,
        Key::Down,
        Key::Left,
        Key::Right,
        Key::Home,
        Key::End,
        Key::PageUp,
        Key::PageDown,
        Key::Escape,
        Key::Ctrl('f'),
        Key::Ctrl('l'),
        Key::Ctrl('q'),
        Key::Ctrl('s'),
    ];
    match rng.below(3) {
        0 => *rng.pick(KEYS).unwrap(),
        _ => Key::Char(*rng.pick(&['a', 'b', ' ', 'é', '\u{1}', 'z']).unwrap()),
    }
}

/// The editor's invariants after any key.
fn check_editor(e: &Editor, cols: usize, rows: usize) {
    let b = e.buffer();
    let c = e.cursor();
    assert!(c.line < b.line_count());
    assert!(c.col <= b.line(c.line).len());
    let (top, left) = e.view();
    assert!(top <= c.line && c.line < top + rows - 1);
    let (frame, cursor) = e.frame();
    assert_eq!(frame.len(), rows);
    assert!(frame.iter().all(|row| row.chars().count() <= cols));
    assert!(cursor.0 < rows && cursor.1 <= cols);
    assert!(left <= column(b.line(c.line), c.col));
}

#[test]
fn random_keys_never_break_the_editor() {
    let mut rng = Rng::new(0xed17_0000_1234_5678);
    for round in 0..300 {
        let cols = 1 + rng.below(30);
        let rows = 2 + rng.below(10);
        let mut e = Editor::new("f", "start\n\tx", cols, rows);
        for _ in 0..rng.below(200) {
            let key = random_key(&mut rng);
            let action = e.handle(key);
            if action == Action::Quit {
                assert!(!e.modified() || key == Key::Ctrl('q'), "round {round}");
            }
            if action == Action::Save {
                e.saved(e.text().len());
            }
            check_editor(&e, cols, rows);
        }
    }
}

/// A model of the editor for the keys it can follow: the text as one
/// string and the cursor as a character index into it.
struct Model {
    text: Vec<char>,
    at: usize,
}

impl Model {
    fn line_start(&self) -> usize {
        self.text[..self.at].iter().rposition(|&c| c == '\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self) -> usize {
        self.text[self.at..].iter().position(|&c| c == '\n').map_or(self.text.len(), |i| self.at + i)
    }

    fn apply(&mut self, key: Key) {
        match key {
            Key::Char(c) => {
                self.text.insert(self.at, c);
                self.at += 1;
            }
            Key::Enter => {
                self.text.insert(self.at, '\n');
                self.at += 1;
            }
            Key::Backspace if self.at > 0 => {
                self.at -= 1;
                self.text.remove(self.at);
            }
            Key::Delete if self.at < self.text.len() => {
                self.text.remove(self.at);
            }
            Key::Left => self.at = self.at.saturating_sub(1),
            Key::Right => self.at = (self.at + 1).min(self.text.len()),
            Key::Home => self.at = self.line_start(),
            Key::End => self.at = self.line_end(),
            _ => {}
        }
    }
}

#[test]
fn what_is_saved_is_what_was_typed() {
    let mut rng = Rng::new(0x5a7e_d0c5_0000_0001);
    let follows = [Key::Enter, Key::Backspace, Key::Delete, Key::Left, Key::Right, Key::Home, Key::End, Key::Char('x')];
    for _ in 0..300 {
        let mut e = Editor::new("f", "", 1 + rng.below(20), 2 + rng.below(6));
        let mut model = Model { text: Vec::new(), at: 0 };
        for _ in 0..rng.below(300) {
            let key = match *rng.pick(&follows).unwrap() {
                Key::Char(_) => Key::Char(*rng.pick(&['a', 'q', '\t', 'ü', ' ']).unwrap()),
                key => key,
            };
            e.handle(key);
            model.apply(key);
            let text: String = model.text.iter().collect();
            assert_eq!(e.text(), text);
            let before = &model.text[..model.at];
            let line = before.iter().filter(|&&c| c == '\n').count();
            assert_eq!(e.cursor(), Pos::new(line, model.at - model.line_start()));
        }
        assert_eq!(e.handle(Key::Ctrl('s')), Action::Save);
        assert_eq!(e.text(), model.text.iter().collect::<String>());
    }
}

#[test]
fn random_input_never_breaks_the_pager_or_decoder() {
    let mut rng = Rng::new(0x9a9e_4000_0000_0007);
    for _ in 0..300 {
        let lines = rng.below(60);
        let text: String = (0..lines).map(|i| alloc::format!("{}\t{i}\n", "ab".repeat(rng.below(40)))).collect();
        let (cols, rows) = (1 + rng.below(40), 2 + rng.below(20));
        let mut p = Pager::new(&text, cols, rows);
        let bytes: Vec<u8> =
            (0..rng.below(100)).map(|_| *rng.pick(b"q /nNgGbjk\x1b[AB56~\r\x7f\xc3\xa9rab").unwrap()).collect();
        let mut decoder = Decoder::new();
        let mut keys = Vec::new();
        for chunk in bytes.chunks(1 + rng.below(4)) {
            decoder.feed(chunk, &mut keys);
        }
        for key in keys {
            p.handle(key);
            assert!(p.top() <= p.line_count().saturating_sub(rows - 1));
            let (frame, cursor) = p.frame();
            assert_eq!(frame.len(), rows);
            assert!(frame.iter().all(|row| row.chars().count() <= cols));
            assert!(cursor.0 == rows - 1 && cursor.1 < cols.max(1));
        }
    }
}
