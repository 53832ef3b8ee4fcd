//! The console's bitmap font: a reader for PSF version 1 console fonts and
//! one such font built in, for the framebuffer console (`drivers/fbcon`) and
//! the host's screenshot check (`mk`), which must draw the same glyphs.
//!
//! The built-in font is `data/Lat15-VGA16.psf`: 8x16 pixels, 256 glyphs
//! covering printable ASCII and Latin-1 and more, the classic VGA text-mode
//! look. Source: Debian 12 package `console-setup-linux` 1.221
//! (`/usr/share/consolefonts/Lat15-VGA16.psf.gz`, decompressed), generated
//! from `u_vga16.bdf`, © 2000, 2001 Dmitry Bolkhovityanov, under an
//! MIT-style permission notice; the notice and its source are in
//! `data/LICENSE-VGA16`, which must travel with the font.
//!
//! A PSF1 file is a 4-byte header (magic `36 04`, mode, bytes per glyph),
//! 256 or 512 glyphs of `height` bytes (one byte per row, most significant
//! bit leftmost), and, when the mode says so, a Unicode table: for each
//! glyph, UCS-2 little-endian code points, `FFFE` before combining
//! sequences (skipped here), `FFFF` ending the glyph's entry.
//!
//! `no_std`, no allocation; touches nothing but the bytes it is given.

#![no_std]
#![forbid(unsafe_code)]

/// The built-in font's file.
const BUILTIN: &[u8] = include_bytes!("../data/Lat15-VGA16.psf");

const PSF1_MAGIC: [u8; 2] = [0x36, 0x04];
/// Mode bits: 512 glyphs instead of 256; a Unicode table follows.
const PSF1_MODE512: u8 = 0x01;
const PSF1_MODEHASTAB: u8 = 0x02;
const PSF1_MODEHASSEQ: u8 = 0x04;
const PSF1_HEADER: usize = 4;
/// Glyphs are 8 pixels wide in PSF1.
pub const WIDTH: usize = 8;

const TABLE_SEQ_START: u16 = 0xfffe;
const TABLE_END: u16 = 0xffff;
/// ASCII entries of the index with no glyph yet.
const NO_GLYPH: u16 = u16::MAX;

/// Why a font file was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Not a PSF1 file (the magic is wrong or the header is cut).
    NotPsf1,
    /// Glyphs of 0 rows.
    EmptyGlyphs,
    /// The file ends before its last glyph.
    Truncated,
}

/// A parsed font: the file's glyphs and a direct index for ASCII.
#[derive(Clone, Copy, Debug)]
pub struct Font<'a> {
    height: usize,
    count: usize,
    glyphs: &'a [u8],
    /// The Unicode table (empty: glyph `n` is character `n`).
    table: &'a [u8],
    /// Glyph index of each ASCII character (`NO_GLYPH` if none).
    ascii: [u16; 128],
}

/// One character's picture: `height` rows, bit 7 of a row is its leftmost
/// pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Glyph<'a> {
    rows: &'a [u8],
}

impl<'a> Glyph<'a> {
    /// The rows, top first, one byte each (most significant bit leftmost).
    pub fn rows(&self) -> &'a [u8] {
        self.rows
    }

    /// Whether the pixel at column `x` (0..8) of row `y` is set.
    pub fn pixel(&self, x: usize, y: usize) -> bool {
        x < WIDTH && self.rows.get(y).is_some_and(|row| row & (0x80 >> x) != 0)
    }
}

/// The (glyph index, code point) pairs of a Unicode table for `count`
/// glyphs, skipping combining sequences; a cut-off last entry is read as far
/// as it goes.
fn table_entries(table: &[u8], count: usize) -> impl Iterator<Item = (usize, u16)> + '_ {
    let mut glyph = 0usize;
    let mut in_sequence = false;
    table.chunks_exact(2).filter_map(move |pair| {
        let code = u16::from_le_bytes([pair[0], pair[1]]);
        let this = glyph;
        match code {
            TABLE_END => {
                glyph += 1;
                in_sequence = false;
                None
            }
            TABLE_SEQ_START => {
                in_sequence = true;
                None
            }
            _ if in_sequence || this >= count => None,
            _ => Some((this, code)),
        }
    })
}

/// The built-in 8x16 font.
pub fn builtin() -> Font<'static> {
    match Font::parse(BUILTIN) {
        Ok(font) => font,
        // The file is part of this crate and its tests parse it.
        Err(_) => unreachable!("the built-in font is a valid PSF1 file"),
    }
}

impl<'a> Font<'a> {
    /// Read a PSF1 font from `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Font<'a>, Error> {
        if bytes.len() < PSF1_HEADER || bytes[..2] != PSF1_MAGIC {
            return Err(Error::NotPsf1);
        }
        let mode = bytes[2];
        let height = usize::from(bytes[3]);
        if height == 0 {
            return Err(Error::EmptyGlyphs);
        }
        let count = if mode & PSF1_MODE512 != 0 { 512 } else { 256 };
        let end = PSF1_HEADER + count * height;
        let glyphs = bytes.get(PSF1_HEADER..end).ok_or(Error::Truncated)?;
        let table = if mode & (PSF1_MODEHASTAB | PSF1_MODEHASSEQ) != 0 { &bytes[end..] } else { &[][..] };
        let mut font = Font { height, count, glyphs, table, ascii: [NO_GLYPH; 128] };
        if table.is_empty() {
            for (c, slot) in font.ascii.iter_mut().enumerate() {
                *slot = c as u16;
            }
        } else {
            for (glyph, code) in table_entries(table, count) {
                if let Some(slot) = font.ascii.get_mut(usize::from(code))
                    && *slot == NO_GLYPH
                {
                    *slot = glyph as u16;
                }
            }
        }
        Ok(font)
    }

    /// Rows per glyph.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Pixels per glyph row.
    pub fn width(&self) -> usize {
        WIDTH
    }

    fn glyph_at(&self, index: usize) -> Option<Glyph<'a>> {
        let start = index.checked_mul(self.height)?;
        self.glyphs.get(start..start + self.height).map(|rows| Glyph { rows })
    }

    /// The glyph of `c`, if the font has one.
    pub fn lookup(&self, c: char) -> Option<Glyph<'a>> {
        let code = u32::from(c);
        if let Some(&index) = self.ascii.get(code as usize) {
            return if index == NO_GLYPH { None } else { self.glyph_at(usize::from(index)) };
        }
        if self.table.is_empty() {
            return self.glyph_at(code as usize);
        }
        let code = u16::try_from(code).ok()?;
        table_entries(self.table, self.count)
            .find(|&(_, entry)| entry == code)
            .and_then(|(index, _)| self.glyph_at(index))
    }

    /// The glyph of `c`, or of `?` when the font has none (then of a blank
    /// cell, should it lack `?` too).
    pub fn glyph(&self, c: char) -> Glyph<'a> {
        const BLANK: [u8; 64] = [0; 64];
        self.lookup(c).or_else(|| self.lookup('?')).unwrap_or(Glyph { rows: &BLANK[..self.height.min(BLANK.len())] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A glyph as text, `#` for a set pixel, one line per row.
    fn picture(glyph: Glyph<'_>) -> [[u8; 8]; 16] {
        let mut lines = [[b'.'; 8]; 16];
        for (y, line) in lines.iter_mut().enumerate() {
            for (x, cell) in line.iter_mut().enumerate() {
                if glyph.pixel(x, y) {
                    *cell = b'#';
                }
            }
        }
        lines
    }

    #[test]
    fn builtin_is_8x16_and_covers_printable_ascii() {
        let font = builtin();
        assert_eq!((font.width(), font.height()), (8, 16));
        for c in ' '..='~' {
            let glyph = font.lookup(c).unwrap_or_else(|| panic!("no glyph for {c:?}"));
            assert_eq!(glyph.rows().len(), 16);
            assert_eq!(glyph.rows().iter().any(|&r| r != 0), c != ' ', "{c:?}");
        }
    }

    #[test]
    fn glyphs_are_distinct_and_look_right() {
        let font = builtin();
        let chars: [char; 95] = core::array::from_fn(|i| (b' ' + i as u8) as char);
        for (i, a) in chars.iter().enumerate() {
            for b in &chars[i + 1..] {
                assert_ne!(font.glyph(*a), font.glyph(*b), "{a:?} and {b:?} look the same");
            }
        }
        // 'l' (a vertical stroke) and '_' (a bottom line) in the VGA style.
        let l = picture(font.glyph('|'));
        let column: usize = (0..8).max_by_key(|&x| l.iter().filter(|row| row[x] == b'#').count()).unwrap();
        assert!(l.iter().filter(|row| row[column] == b'#').count() >= 10, "{l:?}");
        let under = picture(font.glyph('_'));
        let bottom = under.iter().rposition(|row| row.contains(&b'#')).unwrap();
        assert!(bottom >= 13 && under[bottom].iter().filter(|&&c| c == b'#').count() >= 7, "{under:?}");
    }

    #[test]
    fn latin1_through_the_unicode_table_and_fallback() {
        let font = builtin();
        assert!(font.lookup('é').is_some());
        assert_ne!(font.glyph('é'), font.glyph('e'));
        assert_eq!(font.lookup('\u{4e2d}'), None);
        assert_eq!(font.glyph('\u{4e2d}'), font.glyph('?'));
        assert_eq!(font.lookup('\u{1f600}'), None);
    }

    #[test]
    fn bad_files_are_refused() {
        assert_eq!(Font::parse(b"").err(), Some(Error::NotPsf1));
        assert_eq!(Font::parse(b"\x72\xb5\x4a\x86").err(), Some(Error::NotPsf1));
        assert_eq!(Font::parse(&[0x36, 0x04, 0, 0]).err(), Some(Error::EmptyGlyphs));
        assert_eq!(Font::parse(&[0x36, 0x04, 0, 16, 0, 0]).err(), Some(Error::Truncated));
        // Every prefix of the real file is either refused or readable.
        for len in 0..BUILTIN.len() {
            if let Ok(font) = Font::parse(&BUILTIN[..len]) {
                let _ = font.glyph('A');
                let _ = font.lookup('é');
            }
        }
    }

    #[test]
    fn a_font_without_table_is_indexed_by_code() {
        let mut file = [0u8; 4 + 256 * 2];
        file[..4].copy_from_slice(&[0x36, 0x04, 0, 2]);
        file[4 + 65 * 2] = 0xff; // 'A': top row full
        let font = Font::parse(&file).unwrap();
        assert_eq!(font.lookup('A').unwrap().rows(), &[0xff, 0]);
        assert_eq!(font.lookup('\u{100}'), None);
        assert_eq!(font.glyph('\u{100}').rows(), &[0, 0]);
    }
}
