//! Terminal input bytes to keys: UTF-8 text, control characters, and the
//! escape sequences of cursor and editing keys as the serial terminal and
//! the PS/2 keymap (`lib/keymap`) send them: `ESC [ A`..`D` (also `ESC O
//! A`..`D`), Home `ESC [ H` / `ESC [ 1 ~` / `ESC [ 7 ~` / `ESC O H`, End
//! `ESC [ F` / `ESC [ 4 ~` / `ESC [ 8 ~` / `ESC O F`, Delete `ESC [ 3 ~`,
//! PageUp `ESC [ 5 ~`, PageDown `ESC [ 6 ~`. Modifier parameters
//! (`ESC [ 1 ; 5 A`) are ignored; unknown sequences are dropped whole.
//!
//! A sequence may arrive split over several reads: the decoder keeps its
//! state between calls. A lone ESC is reported as [`Key::Escape`] when the
//! next byte does not continue a sequence.

use alloc::vec::Vec;

/// One key press.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Char(char),
    /// `\r` or `\n` (`\r\n` counts once).
    Enter,
    Tab,
    /// 0x7f or 0x08.
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    Escape,
    /// Ctrl plus a letter, as the lowercase letter (`Ctrl('s')` is 0x13);
    /// Ctrl-H, Ctrl-I, Ctrl-J and Ctrl-M are Backspace, Tab and Enter.
    Ctrl(char),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ground,
    /// After ESC.
    Escape,
    /// After `ESC [`: the first numeric parameter so far, and whether a
    /// `;` ended it.
    Csi {
        param: u16,
        more: bool,
    },
    /// After `ESC O`.
    Ss3,
    /// Inside a UTF-8 sequence: the bytes so far and how many it needs.
    Utf8 {
        bytes: [u8; 4],
        have: u8,
        need: u8,
    },
}

/// The decoder's state between reads.
#[derive(Clone, Debug)]
pub struct Decoder {
    state: State,
    /// The last byte was `\r` (a following `\n` is the same Enter).
    after_cr: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    pub const fn new() -> Decoder {
        Decoder { state: State::Ground, after_cr: false }
    }

    /// The keys in `bytes` (appended to `keys`).
    pub fn feed(&mut self, bytes: &[u8], keys: &mut Vec<Key>) {
        for &byte in bytes {
            self.byte(byte, keys);
        }
    }

    fn byte(&mut self, byte: u8, keys: &mut Vec<Key>) {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match self.state {
            State::Ground => self.ground(byte, after_cr, keys),
            State::Escape => match byte {
                b'[' => self.state = State::Csi { param: 0, more: false },
                b'O' => self.state = State::Ss3,
                0x1b => keys.push(Key::Escape),
                _ => {
                    keys.push(Key::Escape);
                    self.state = State::Ground;
                    self.ground(byte, after_cr, keys);
                }
            },
            State::Csi { param, more } => match byte {
                b'0'..=b'9' if !more => {
                    let param = param.saturating_mul(10).saturating_add(u16::from(byte - b'0'));
                    self.state = State::Csi { param, more };
                }
                // Further parameters (modifiers) and intermediates: ignored.
                0x20..=0x3f => self.state = State::Csi { param, more: more || byte == b';' },
                0x40..=0x7e => {
                    self.state = State::Ground;
                    let key = match byte {
                        b'~' => match param {
                            1 | 7 => Some(Key::Home),
                            3 => Some(Key::Delete),
                            4 | 8 => Some(Key::End),
                            5 => Some(Key::PageUp),
                            6 => Some(Key::PageDown),
                            _ => None,
                        },
                        _ => final_key(byte),
                    };
                    keys.extend(key);
                }
                // Not part of a sequence: abandon it, and the byte starts anew.
                _ => {
                    self.state = State::Ground;
                    self.ground(byte, after_cr, keys);
                }
            },
            State::Ss3 => {
                self.state = State::Ground;
                if (0x40..=0x7e).contains(&byte) {
                    keys.extend(final_key(byte));
                } else {
                    self.ground(byte, after_cr, keys);
                }
            }
            State::Utf8 { mut bytes, have, need } => {
                if byte & 0xc0 != 0x80 {
                    keys.push(Key::Char(char::REPLACEMENT_CHARACTER));
                    self.state = State::Ground;
                    self.ground(byte, after_cr, keys);
                    return;
                }
                bytes[usize::from(have)] = byte;
                let have = have + 1;
                if have < need {
                    self.state = State::Utf8 { bytes, have, need };
                    return;
                }
                self.state = State::Ground;
                let c = core::str::from_utf8(&bytes[..usize::from(need)])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                keys.push(Key::Char(c));
            }
        }
    }

    fn ground(&mut self, byte: u8, after_cr: bool, keys: &mut Vec<Key>) {
        let key = match byte {
            0x1b => {
                self.state = State::Escape;
                return;
            }
            b'\n' if after_cr => return,
            b'\r' | b'\n' => Key::Enter,
            b'\t' => Key::Tab,
            0x7f | 0x08 => Key::Backspace,
            0x01..=0x1a => Key::Ctrl(char::from(b'a' + byte - 1)),
            0x20..=0x7e => Key::Char(char::from(byte)),
            0xc2..=0xf4 => {
                let need = if byte < 0xe0 {
                    2
                } else if byte < 0xf0 {
                    3
                } else {
                    4
                };
                self.state = State::Utf8 { bytes: [byte, 0, 0, 0], have: 1, need };
                return;
            }
            0x80..=0xff => Key::Char(char::REPLACEMENT_CHARACTER),
            // NUL and the rest of C0: nothing.
            _ => return,
        };
        keys.push(key);
    }
}

/// The key a final byte names (after `ESC [` or `ESC O`).
fn final_key(byte: u8) -> Option<Key> {
    Some(match byte {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        _ => return None,
    })
}
