//! Host tests: the decoder, each key, the history, and a screen model that
//! replays the editor's output to check it always shows the line with the
//! cursor in the right place (also under random input).

extern crate std;

use alloc::string::String;
use alloc::vec::Vec;

use super::*;

/// A one-line terminal that understands exactly the output the editor may
/// produce; anything else fails the test.
#[derive(Default)]
struct Screen {
    cells: Vec<char>,
    column: usize,
    /// Lines ended with `\n`.
    done: Vec<String>,
}

impl Screen {
    fn apply(&mut self, bytes: &[u8]) {
        let text = core::str::from_utf8(bytes).expect("output is UTF-8");
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => self.column = 0,
                '\n' => {
                    self.done.push(self.cells.iter().collect());
                    self.cells.clear();
                    self.column = 0;
                }
                '\x08' => self.column = self.column.checked_sub(1).expect("\\b at column 0"),
                '\x1b' => {
                    assert_eq!(chars.next(), Some('['), "only CSI sequences");
                    let mut n = String::new();
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        n.push(d);
                    }
                    let n: usize = if n.is_empty() { 1 } else { n.parse().unwrap() };
                    match chars.next() {
                        Some('K') => self.cells.truncate(self.column),
                        Some('C') => self.column += n,
                        Some('D') => self.column = self.column.checked_sub(n).expect("moved left of column 0"),
                        other => panic!("unexpected sequence ending {other:?}"),
                    }
                    assert!(self.column <= self.cells.len(), "cursor past the text");
                }
                c if c.is_control() => panic!("unexpected control {c:?}"),
                c => {
                    if self.column < self.cells.len() {
                        self.cells[self.column] = c;
                    } else {
                        self.cells.push(c);
                    }
                    self.column += 1;
                }
            }
        }
    }

    fn line(&self) -> String {
        self.cells.iter().collect()
    }
}

/// Feeds `input` and returns the events other than `Editing`.
fn run(editor: &mut Editor, screen: &mut Screen, input: &[u8]) -> Vec<Event> {
    let mut events = Vec::new();
    for &byte in input {
        let mut out = Vec::new();
        let event = editor.feed(byte, &mut out);
        screen.apply(&out);
        if event != Event::Editing {
            events.push(event);
        } else {
            assert_eq!(screen.line(), editor.line(), "after {byte:#x}");
            assert_eq!(screen.column, editor.cursor(), "after {byte:#x}");
        }
    }
    events
}

fn line_of(input: &[u8]) -> String {
    let (mut editor, mut screen) = (Editor::new(), Screen::default());
    let events = run(&mut editor, &mut screen, input);
    match events.as_slice() {
        [Event::Line(line)] => {
            assert_eq!(screen.done.last(), Some(line), "the screen shows the line that was entered");
            line.clone()
        }
        other => panic!("{input:?} gave {other:?}"),
    }
}

#[test]
fn typing_and_enter() {
    assert_eq!(line_of(b"echo hi\r"), "echo hi");
    assert_eq!(line_of(b"ls\n"), "ls");
    assert_eq!(line_of("caf\u{e9} \u{2603}\r".as_bytes()), "caf\u{e9} \u{2603}");
}

#[test]
fn typing_at_the_end_is_plain_echo() {
    let mut editor = Editor::new();
    let mut out = Vec::new();
    for &byte in b"ls -l\r" {
        editor.feed(byte, &mut out);
    }
    assert_eq!(out, b"ls -l\n");
}

#[test]
fn backspace_and_delete() {
    assert_eq!(line_of(b"abx\x7fc\r"), "abc");
    assert_eq!(line_of(b"abx\x08c\r"), "abc");
    assert_eq!(line_of(b"\x7f\x7fab\r"), "ab");
    // Left twice, Delete: removes the `b`.
    assert_eq!(line_of(b"abc\x1b[D\x1b[D\x1b[3~\r"), "ac");
    // Delete at the end does nothing.
    assert_eq!(line_of(b"ab\x1b[3~\r"), "ab");
}

#[test]
fn cursor_movement() {
    assert_eq!(line_of(b"bc\x1b[Ha\x1b[Fd\r"), "abcd");
    assert_eq!(line_of(b"bc\x01a\x05d\r"), "abcd");
    assert_eq!(line_of(b"ac\x1b[Db\x1b[C\x1b[Cd\r"), "abcd");
    assert_eq!(line_of(b"bc\x1b[1~a\x1b[4~d\r"), "abcd");
    assert_eq!(line_of(b"bc\x1bOHa\x1bOFd\r"), "abcd");
    assert_eq!(line_of(b"ac\x02b\x06d\r"), "abcd");
    // Left at the start, Right at the end: nothing.
    assert_eq!(line_of(b"\x1b[Da\x1b[C\x1b[Cb\r"), "ab");
}

#[test]
fn kill_keys() {
    assert_eq!(line_of(b"hello world\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x15x\r"), "xworld");
    assert_eq!(line_of(b"hello world\x01\x1b[C\x1b[C\x0b!\r"), "he!");
}

#[test]
fn control_c_and_d() {
    let (mut editor, mut screen) = (Editor::new(), Screen::default());
    assert_eq!(run(&mut editor, &mut screen, b"junk\x03"), [Event::Cancel]);
    assert_eq!(screen.done.last().map(String::as_str), Some("junk^C"));
    assert_eq!(editor.line(), "");
    assert!(editor.history().is_empty(), "a cancelled line is not history");
    // Ctrl-D deletes under the cursor on a non-empty line.
    assert_eq!(run(&mut editor, &mut screen, b"ab\x01\x04\r"), [Event::Line(String::from("b"))]);
    assert_eq!(run(&mut editor, &mut screen, b"\x04"), [Event::Eof]);
}

#[test]
fn crlf_is_one_enter() {
    let (mut editor, mut screen) = (Editor::new(), Screen::default());
    let events = run(&mut editor, &mut screen, b"a\r\nb\r\n\r");
    assert_eq!(events, [Event::Line("a".into()), Event::Line("b".into()), Event::Line(String::new())]);
}

#[test]
fn unknown_input_is_ignored() {
    assert_eq!(line_of(b"a\x1b[5~\x1b[1;5C\x1b[99999999999999999999Zb\x00\x07\x1bxc\r"), "abxc");
    // A broken UTF-8 sequence is dropped; the byte after it still counts.
    assert_eq!(line_of(b"a\xc3b\xffc\r"), "abc");
}

#[test]
fn history_up_and_down() {
    let (mut editor, mut screen) = (Editor::new(), Screen::default());
    run(&mut editor, &mut screen, b"one\rtwo\rtwo\r \r");
    assert_eq!(editor.history(), ["one", "two"], "no repeats, no blank lines");
    // Up, Up, Up (stays at the oldest), Down: "two"; then edit it.
    assert_eq!(run(&mut editor, &mut screen, b"dr\x1b[A\x1b[A\x1b[A\x1b[B!\r"), [Event::Line("two!".into())]);
    // Up then Down back to the draft.
    assert_eq!(run(&mut editor, &mut screen, b"draft\x1b[A\x1b[B\r"), [Event::Line("draft".into())]);
    // Down with no browsing does nothing; Up with Ctrl-P too.
    assert_eq!(run(&mut editor, &mut screen, b"\x1b[B\x10\r"), [Event::Line("draft".into())]);
    for i in 0..HISTORY_LIMIT + 10 {
        editor.remember(&std::format!("line {i}"));
    }
    assert_eq!(editor.history().len(), HISTORY_LIMIT);
    assert_eq!(editor.history().last().map(String::as_str), Some("line 109"));
}

#[test]
fn fuzz_screen_always_matches() {
    const PIECES: &[&[u8]] = &[
        b"a",
        b"b",
        b"\xc3\xa9",
        b"\x7f",
        b"\x08",
        b"\x1b[A",
        b"\x1b[B",
        b"\x1b[C",
        b"\x1b[D",
        b"\x1b[H",
        b"\x1b[F",
        b"\x1b[3~",
        b"\x01",
        b"\x05",
        b"\x15",
        b"\x0b",
        b"\r",
        b"\x03",
        b"\x04",
        b"\x1b",
        b"[",
        b"\xe2",
        b"\t",
    ];
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut editor, mut screen) = (Editor::new(), Screen::default());
    for _ in 0..50_000 {
        let piece = PIECES[(next() % PIECES.len() as u64) as usize];
        for event in run(&mut editor, &mut screen, piece) {
            match event {
                Event::Line(line) => assert_eq!(screen.done.last(), Some(&line)),
                Event::Cancel | Event::Eof => {}
                Event::Complete(word) => {
                    // Two candidates sharing one more character; the
                    // listing case as a caller does it: a new line, then
                    // the line again.
                    let candidates = [alloc::format!("{}qa", word.text), alloc::format!("{}qb/", word.text)];
                    let mut out = Vec::new();
                    if editor.complete(&candidates, &mut out) == Completed::List {
                        out.extend_from_slice(b"\n");
                        editor.redraw_line(&mut out);
                    }
                    out.retain(|&b| b != 0x07);
                    screen.apply(&out);
                }
                Event::Editing => unreachable!(),
            }
        }
        assert!(editor.cursor() <= editor.line().chars().count());
    }
}

#[test]
fn tab_asks_for_the_word_before_the_cursor() {
    let mut editor = Editor::new();
    let mut out = Vec::new();
    for &b in b"ca" {
        editor.feed(b, &mut out);
    }
    assert_eq!(editor.feed(b'\t', &mut out), Event::Complete(Word { text: "ca".into(), command: true }));
    for &b in b"t tmp:a" {
        editor.feed(b, &mut out);
    }
    assert_eq!(editor.feed(b'\t', &mut out), Event::Complete(Word { text: "tmp:a".into(), command: false }));
    for &b in b" | wc" {
        editor.feed(b, &mut out);
    }
    assert_eq!(editor.word(), Word { text: "wc".into(), command: true });
    for &b in b" >" {
        editor.feed(b, &mut out);
    }
    assert_eq!(editor.word(), Word { text: String::new(), command: false });
}

#[test]
fn completion_inserts_what_the_candidates_share() {
    let names = |list: &[&str]| list.iter().map(|s| String::from(*s)).collect::<Vec<String>>();
    let mut screen = Screen::default();
    let mut editor = Editor::new();
    let mut out = Vec::new();
    for &b in b"cat t" {
        editor.feed(b, &mut out);
    }
    // One candidate: the rest and a blank; a directory or scheme, no blank.
    assert_eq!(editor.complete(&names(&["tmp:", "file:"]), &mut out), Completed::Done);
    assert_eq!(editor.line(), "cat tmp:");
    assert_eq!(editor.complete(&names(&["tmp:notes.txt", "tmp:notes.md"]), &mut out), Completed::Done);
    assert_eq!(editor.line(), "cat tmp:notes.");
    // Nothing more to add: a bell, then on a second Tab the list.
    assert_eq!(editor.complete(&names(&["tmp:notes.txt", "tmp:notes.md"]), &mut out), Completed::Done);
    assert!(out.ends_with(b"\x07"));
    assert_eq!(editor.complete(&names(&["tmp:notes.txt", "tmp:notes.md"]), &mut out), Completed::List);
    assert_eq!(editor.complete(&names(&["tmp:notes.txt"]), &mut out), Completed::Done);
    assert_eq!(editor.line(), "cat tmp:notes.txt ");
    // No candidate: a bell and nothing else.
    editor.feed(b'x', &mut out);
    assert_eq!(editor.complete(&names(&["other"]), &mut out), Completed::Done);
    assert_eq!(editor.line(), "cat tmp:notes.txt x");
    out.retain(|&b| b != 0x07);
    screen.apply(&out);
    assert_eq!(screen.cells.iter().collect::<String>(), "cat tmp:notes.txt x");
    // Redrawing after a listing shows the line with the cursor in place.
    editor.feed(0x01, &mut Vec::new());
    let mut fresh = Screen::default();
    let mut redraw = Vec::new();
    editor.redraw_line(&mut redraw);
    fresh.apply(&redraw);
    assert_eq!(fresh.cells.iter().collect::<String>(), "cat tmp:notes.txt x");
    assert_eq!(fresh.column, 0);
}

#[test]
fn common_prefixes() {
    let names = |list: &[&str]| list.iter().map(|s| String::from(*s)).collect::<Vec<String>>();
    assert_eq!(common_prefix(&names(&["abc", "abd", "ab"])), "ab");
    assert_eq!(common_prefix(&names(&["é1", "é2"])), "é");
    assert_eq!(common_prefix(&names(&["x"])), "x");
    assert_eq!(common_prefix(&[]), "");
    assert_eq!(common_prefix(&names(&["a", "b"])), "");
}
