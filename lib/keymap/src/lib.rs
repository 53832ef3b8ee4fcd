//! What a PS/2 keyboard's scancodes mean to a terminal: the decoder the
//! keyboard driver (`drivers/ps2`) feeds every byte the i8042 controller
//! delivers. Scancode set 1 (the controller translates the keyboard's set
//! 2 into it, as PCs and QEMU do by default), US layout.
//!
//! The bytes it produces are what a terminal sends:
//!
//! - letters, digits, punctuation, with Shift and Caps Lock (Caps Lock only
//!   changes letters), space, Tab `\t`, Escape `ESC`;
//! - Enter (both) is `\r`, as a terminal's Return key sends; the console
//!   (`lib/console`) turns it into `\n` in cooked mode. Backspace is `0x7f`
//!   (DEL), as on most terminals;
//! - Ctrl with a letter or one of `@[\]^_` gives the control byte
//!   (Ctrl-C = `0x03`), Ctrl-Space `0x00`, Ctrl-? `0x7f`;
//! - Alt (either) with a key sends `ESC` then the key (the "meta sends
//!   escape" convention);
//! - Up/Down/Right/Left `ESC [ A/B/C/D`, Home `ESC [ H`, End `ESC [ F`,
//!   Insert `ESC [ 2 ~`, Delete `ESC [ 3 ~`, Page Up/Down `ESC [ 5 ~`/`6 ~`;
//!   the keypad gives digits with Num Lock on and these keys with it off;
//! - function keys, Scroll Lock, Print Screen, Pause and the Windows keys
//!   produce nothing; key releases only update the modifiers; controller
//!   answers (`FA` ACK, `FE` resend, `00`/`FF` errors, `EE` echo) are
//!   skipped.
//!
//! `no_std`, no allocation; touches only its own state.

#![no_std]
#![forbid(unsafe_code)]

/// Set 1 prefix of the extended keys.
const EXTENDED: u8 = 0xe0;
/// Set 1 prefix of Pause (`E1 1D 45 E1 9D C5`).
const PAUSE: u8 = 0xe1;
/// The release bit.
const BREAK: u8 = 0x80;

/// The bytes one key press produces (at most 4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bytes {
    buf: [u8; 5],
    len: usize,
}

impl Bytes {
    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// What a key is, once the prefix and the modifiers are taken into account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// A character key: unshifted and shifted.
    Char(u8, u8),
    /// A key that sends a fixed sequence (Enter, Backspace, arrows...).
    Sequence(&'static [u8]),
    /// A keypad key: its digit (Num Lock on) or its navigation sequence.
    Keypad(u8, &'static [u8]),
    LeftShift,
    RightShift,
    LeftCtrl,
    RightCtrl,
    LeftAlt,
    RightAlt,
    CapsLock,
    NumLock,
    /// Keys that produce nothing here.
    None,
}

const UP: &[u8] = b"\x1b[A";
const DOWN: &[u8] = b"\x1b[B";
const RIGHT: &[u8] = b"\x1b[C";
const LEFT: &[u8] = b"\x1b[D";
const HOME: &[u8] = b"\x1b[H";
const END: &[u8] = b"\x1b[F";
const INSERT: &[u8] = b"\x1b[2~";
const DELETE: &[u8] = b"\x1b[3~";
const PAGE_UP: &[u8] = b"\x1b[5~";
const PAGE_DOWN: &[u8] = b"\x1b[6~";

/// Set 1 make codes without a prefix.
fn plain_key(code: u8) -> Key {
    // The character rows, from 0x02 (`1`) and 0x10 (`q`) and so on.
    const ROW_DIGITS: (&[u8], &[u8]) = (b"1234567890-=", b"!@#$%^&*()_+");
    const ROW_Q: (&[u8], &[u8]) = (b"qwertyuiop[]", b"QWERTYUIOP{}");
    const ROW_A: (&[u8], &[u8]) = (b"asdfghjkl;'`", b"ASDFGHJKL:\"~");
    const ROW_Z: (&[u8], &[u8]) = (b"\\zxcvbnm,./", b"|ZXCVBNM<>?");
    let row = |(plain, shifted): (&[u8], &[u8]), first: u8| {
        let i = usize::from(code - first);
        Key::Char(plain[i], shifted[i])
    };
    match code {
        0x01 => Key::Sequence(b"\x1b"),
        0x02..=0x0d => row(ROW_DIGITS, 0x02),
        0x0e => Key::Sequence(b"\x7f"),
        0x0f => Key::Sequence(b"\t"),
        0x10..=0x1b => row(ROW_Q, 0x10),
        0x1c => Key::Sequence(b"\r"),
        0x1d => Key::LeftCtrl,
        0x1e..=0x29 => row(ROW_A, 0x1e),
        0x2a => Key::LeftShift,
        0x2b..=0x35 => row(ROW_Z, 0x2b),
        0x36 => Key::RightShift,
        0x37 => Key::Char(b'*', b'*'),
        0x38 => Key::LeftAlt,
        0x39 => Key::Char(b' ', b' '),
        0x3a => Key::CapsLock,
        0x45 => Key::NumLock,
        0x47 => Key::Keypad(b'7', HOME),
        0x48 => Key::Keypad(b'8', UP),
        0x49 => Key::Keypad(b'9', PAGE_UP),
        0x4a => Key::Char(b'-', b'-'),
        0x4b => Key::Keypad(b'4', LEFT),
        0x4c => Key::Keypad(b'5', b""),
        0x4d => Key::Keypad(b'6', RIGHT),
        0x4e => Key::Char(b'+', b'+'),
        0x4f => Key::Keypad(b'1', END),
        0x50 => Key::Keypad(b'2', DOWN),
        0x51 => Key::Keypad(b'3', PAGE_DOWN),
        0x52 => Key::Keypad(b'0', INSERT),
        0x53 => Key::Keypad(b'.', DELETE),
        _ => Key::None,
    }
}

/// Set 1 make codes after `E0`.
fn extended_key(code: u8) -> Key {
    match code {
        0x1c => Key::Sequence(b"\r"),
        0x1d => Key::RightCtrl,
        0x35 => Key::Char(b'/', b'/'),
        0x38 => Key::RightAlt,
        0x47 => Key::Sequence(HOME),
        0x48 => Key::Sequence(UP),
        0x49 => Key::Sequence(PAGE_UP),
        0x4b => Key::Sequence(LEFT),
        0x4d => Key::Sequence(RIGHT),
        0x4f => Key::Sequence(END),
        0x50 => Key::Sequence(DOWN),
        0x51 => Key::Sequence(PAGE_DOWN),
        0x52 => Key::Sequence(INSERT),
        0x53 => Key::Sequence(DELETE),
        // Fake shifts around Print Screen and the keypad keys, Windows
        // and menu keys, media keys: nothing.
        _ => Key::None,
    }
}

/// The keyboard's state between scancodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Keyboard {
    extended: bool,
    /// Bytes of a Pause sequence still to skip.
    skip: u8,
    left_shift: bool,
    right_shift: bool,
    left_ctrl: bool,
    right_ctrl: bool,
    left_alt: bool,
    right_alt: bool,
    caps_lock: bool,
    num_lock: bool,
}

impl Keyboard {
    pub fn new() -> Keyboard {
        Keyboard::default()
    }

    pub fn caps_lock(&self) -> bool {
        self.caps_lock
    }

    pub fn num_lock(&self) -> bool {
        self.num_lock
    }

    /// One byte from the controller; the bytes a terminal gets for it
    /// (empty for prefixes, releases, modifiers and keys that send nothing).
    pub fn feed(&mut self, scancode: u8) -> Bytes {
        if self.skip > 0 {
            self.skip -= 1;
            return Bytes::default();
        }
        match scancode {
            EXTENDED => {
                self.extended = true;
                return Bytes::default();
            }
            PAUSE => {
                self.skip = 2;
                return Bytes::default();
            }
            0x00 | 0xee | 0xfa | 0xfe | 0xff => {
                self.extended = false;
                return Bytes::default();
            }
            _ => {}
        }
        let released = scancode & BREAK != 0;
        let code = scancode & !BREAK;
        let key = if core::mem::take(&mut self.extended) { extended_key(code) } else { plain_key(code) };
        match key {
            Key::LeftShift => self.left_shift = !released,
            Key::RightShift => self.right_shift = !released,
            Key::LeftCtrl => self.left_ctrl = !released,
            Key::RightCtrl => self.right_ctrl = !released,
            Key::LeftAlt => self.left_alt = !released,
            Key::RightAlt => self.right_alt = !released,
            Key::CapsLock if !released => self.caps_lock = !self.caps_lock,
            Key::NumLock if !released => self.num_lock = !self.num_lock,
            Key::Char(plain, shifted) if !released => return self.character(plain, shifted),
            Key::Sequence(bytes) if !released => return self.sequence(bytes),
            Key::Keypad(digit, navigation) if !released => {
                return if self.num_lock { self.character(digit, digit) } else { self.sequence(navigation) };
            }
            _ => {}
        }
        Bytes::default()
    }

    fn shift(&self) -> bool {
        self.left_shift || self.right_shift
    }

    fn ctrl(&self) -> bool {
        self.left_ctrl || self.right_ctrl
    }

    fn alt(&self) -> bool {
        self.left_alt || self.right_alt
    }

    fn character(&self, plain: u8, shifted: u8) -> Bytes {
        let mut c = if self.shift() { shifted } else { plain };
        if self.caps_lock && plain.is_ascii_lowercase() {
            c = if self.shift() { plain } else { shifted };
        }
        if self.ctrl() {
            c = match c {
                b' ' | b'@' | b'2' => 0x00,
                b'?' | b'/' => 0x7f,
                b'a'..=b'z' | b'A'..=b'Z' | b'[' | b'\\' | b']' | b'^' | b'_' | b'{' | b'|' | b'}' | b'~' => c & 0x1f,
                b'6' => 0x1e,
                b'-' => 0x1f,
                _ => c,
            };
        }
        self.sequence(&[c])
    }

    fn sequence(&self, bytes: &[u8]) -> Bytes {
        let mut out = Bytes::default();
        if self.alt() && !bytes.is_empty() {
            out.push(0x1b);
        }
        for &b in bytes {
            out.push(b);
        }
        if bytes.is_empty() { Bytes::default() } else { out }
    }
}

impl Bytes {
    /// Whether the key produced nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The set 1 make code of a printable ASCII character on a US keyboard and
/// whether it needs Shift (for tests and for typing text into a guest).
pub fn scancode_of(c: u8) -> Option<(u8, bool)> {
    (0x01u8..0x3a).find_map(|code| match plain_key(code) {
        Key::Char(plain, _) if plain == c => Some((code, false)),
        Key::Char(_, shifted) if shifted == c => Some((code, true)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn feed(kb: &mut Keyboard, codes: &[u8]) -> Vec<u8> {
        codes.iter().flat_map(|&c| kb.feed(c).as_slice().to_vec()).collect()
    }

    /// Press and release each character's key (with Shift as needed).
    fn type_text(kb: &mut Keyboard, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &c in text {
            let (code, shift) = scancode_of(c).unwrap_or_else(|| panic!("no key for {c:?}"));
            if shift {
                out.extend(feed(kb, &[0x2a]));
            }
            out.extend(feed(kb, &[code, code | BREAK]));
            if shift {
                out.extend(feed(kb, &[0xaa]));
            }
        }
        out
    }

    #[test]
    fn every_printable_character_round_trips() {
        let printable: Vec<u8> = (b' '..=b'~').collect();
        let mut kb = Keyboard::new();
        assert_eq!(type_text(&mut kb, &printable), printable);
    }

    #[test]
    fn shift_and_caps_lock() {
        let mut kb = Keyboard::new();
        assert_eq!(feed(&mut kb, &[0x1e, 0x9e, 0x2a, 0x1e, 0x02, 0xaa, 0x1e]), b"aA!a");
        assert_eq!(feed(&mut kb, &[0x3a, 0xba, 0x1e, 0x02, 0x36, 0x1e, 0x02, 0xb6]), b"A1a!");
        assert!(kb.caps_lock());
        assert_eq!(feed(&mut kb, &[0x3a, 0xba, 0x1e]), b"a");
    }

    #[test]
    fn ctrl_gives_control_bytes() {
        let mut kb = Keyboard::new();
        assert_eq!(feed(&mut kb, &[0x1d, 0x2e, 0xae]), [0x03], "Ctrl-C");
        assert_eq!(feed(&mut kb, &[0x20, 0x1a, 0x39, 0x9d]), [0x04, 0x1b, 0x00], "Ctrl-D, Ctrl-[, Ctrl-Space");
        // Right Ctrl (E0 1D), with Shift: still the control byte.
        assert_eq!(feed(&mut kb, &[0xe0, 0x1d, 0x2a, 0x26, 0xaa, 0xe0, 0x9d, 0x26]), [0x0c, b'l']);
    }

    #[test]
    fn enter_backspace_tab_escape() {
        let mut kb = Keyboard::new();
        assert_eq!(feed(&mut kb, &[0x1c, 0x9c, 0xe0, 0x1c, 0xe0, 0x9c]), b"\r\r");
        assert_eq!(feed(&mut kb, &[0x0e, 0x0f, 0x01]), b"\x7f\t\x1b");
    }

    #[test]
    fn cursor_keys_send_ansi_sequences() {
        let mut kb = Keyboard::new();
        let keys = [0x48, 0x50, 0x4d, 0x4b, 0x47, 0x4f, 0x53, 0x52, 0x49, 0x51];
        let mut out = Vec::new();
        for key in keys {
            out.extend(feed(&mut kb, &[0xe0, key, 0xe0, key | BREAK]));
        }
        assert_eq!(out, b"\x1b[A\x1b[B\x1b[C\x1b[D\x1b[H\x1b[F\x1b[3~\x1b[2~\x1b[5~\x1b[6~");
        // The keypad: navigation without Num Lock, digits with it.
        assert_eq!(feed(&mut kb, &[0x48, 0xc8, 0x4c]), b"\x1b[A");
        assert_eq!(feed(&mut kb, &[0x45, 0xc5, 0x48, 0xc8, 0x53, 0xe0, 0x35]), b"8./");
    }

    #[test]
    fn alt_prefixes_escape() {
        let mut kb = Keyboard::new();
        assert_eq!(feed(&mut kb, &[0x38, 0x30, 0xb8, 0x30]), b"\x1bbb");
        assert_eq!(feed(&mut kb, &[0xe0, 0x38, 0xe0, 0x4b, 0xe0, 0xb8]), b"\x1b\x1b[D");
    }

    #[test]
    fn prefixes_answers_and_unknown_codes_produce_nothing() {
        let mut kb = Keyboard::new();
        // Pause, Print Screen with its fake shifts, F1, controller answers.
        let noise = [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5, 0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa, 0x3b, 0xbb];
        assert_eq!(feed(&mut kb, &noise), b"");
        assert_eq!(feed(&mut kb, &[0xfa, 0xfe, 0xee, 0x00, 0xff, 0x7f, 0x5f, 0x1e]), b"a");
        // A fake shift must not leave Shift pressed.
        assert_eq!(feed(&mut kb, &[0xe0, 0x2a, 0x1e, 0xe0, 0xaa]), b"a");
    }

    #[test]
    fn every_byte_sequence_is_safe() {
        let mut kb = Keyboard::new();
        for a in 0..=255u8 {
            for b in [0xe0, 0xe1, 0x2a, 0x1d, 0x38, 0x1e, a] {
                let out = kb.feed(b);
                assert!(out.as_slice().len() <= 5);
                let _ = kb.feed(a);
            }
        }
    }
}
