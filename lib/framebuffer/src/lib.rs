//! The framebuffer as a driver sees it: its layout, read from the text of
//! `sys:framebuffer` (kernel/src/scheme/sys.rs), and text cells drawn into
//! it. The framebuffer console (`drivers/fbcon`) supplies the pixels'
//! memory through [`Target`]; the host tests draw into a `Vec`.
//!
//! `no_std`, no allocation; touches only the target it is handed.

#![no_std]
#![forbid(unsafe_code)]

use font::Glyph;

/// How a pixel's colour is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Bytes red, green, blue (then padding).
    Rgb,
    /// Bytes blue, green, red (then padding).
    Bgr,
    /// One grey byte.
    Gray,
    /// Each colour a byte at this bit offset of a little-endian pixel.
    Bits { red: u8, green: u8, blue: u8 },
}

/// Where the framebuffer is and how its pixels are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Physical address of the first pixel.
    pub address: u64,
    /// Bytes from the first pixel to the end of the last line.
    pub size: usize,
    pub width: usize,
    pub height: usize,
    /// Pixels from one line's start to the next's.
    pub stride: usize,
    pub bytes_per_pixel: usize,
    pub format: Format,
}

/// Why `sys:framebuffer`'s text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A key is missing (its name).
    Missing(&'static str),
    /// A value does not parse (its key).
    Bad(&'static str),
    /// The numbers do not fit together (lines outside `size`, a pixel
    /// too small for its format, ...).
    Inconsistent,
}

/// An RGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Color {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Color {
        Color { r, g, b }
    }
}

/// Where pixels go: byte `offset` of the framebuffer gets `bytes`.
pub trait Target {
    fn store(&mut self, offset: usize, bytes: &[u8]);
}

fn value<'a>(text: &'a str, key: &'static str) -> Result<&'a str, ParseError> {
    text.lines()
        .find_map(|line| line.split_once(':').filter(|(k, _)| k.trim() == key).map(|(_, v)| v.trim()))
        .ok_or(ParseError::Missing(key))
}

fn number(text: &str, key: &'static str) -> Result<usize, ParseError> {
    value(text, key)?.parse().map_err(|_| ParseError::Bad(key))
}

impl Layout {
    /// Reads `sys:framebuffer`'s `key: value` lines and checks that they
    /// describe a usable framebuffer.
    pub fn parse(text: &str) -> Result<Layout, ParseError> {
        let address = value(text, "address")?;
        let address = address
            .strip_prefix("0x")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .ok_or(ParseError::Bad("address"))?;
        let format = value(text, "format")?;
        let mut words = format.split_whitespace();
        let format = match (words.next(), words.next(), words.next(), words.next()) {
            (Some("rgb"), None, ..) => Format::Rgb,
            (Some("bgr"), None, ..) => Format::Bgr,
            (Some("gray"), None, ..) => Format::Gray,
            (Some("bits"), Some(r), Some(g), Some(b)) => {
                let bit = |s: &str| s.parse::<u8>().ok().filter(|&b| b % 8 == 0 && b < 32);
                match (bit(r), bit(g), bit(b)) {
                    (Some(red), Some(green), Some(blue)) => Format::Bits { red, green, blue },
                    _ => return Err(ParseError::Bad("format")),
                }
            }
            _ => return Err(ParseError::Bad("format")),
        };
        let layout = Layout {
            address,
            size: number(text, "size")?,
            width: number(text, "width")?,
            height: number(text, "height")?,
            stride: number(text, "stride")?,
            bytes_per_pixel: number(text, "bytes_per_pixel")?,
            format,
        };
        layout.check().map(|()| layout)
    }

    fn check(&self) -> Result<(), ParseError> {
        let needed = match self.format {
            Format::Rgb | Format::Bgr => 3,
            Format::Gray => 1,
            Format::Bits { red, green, blue } => usize::from(red.max(green).max(blue) / 8 + 1),
        };
        let last_line_end = self
            .stride
            .checked_mul(self.height.saturating_sub(1))
            .and_then(|pixels| pixels.checked_add(self.width))
            .and_then(|pixels| pixels.checked_mul(self.bytes_per_pixel));
        let fits = last_line_end.is_some_and(|end| end <= self.size);
        if self.width == 0
            || self.height == 0
            || self.stride < self.width
            || self.bytes_per_pixel < needed
            || self.bytes_per_pixel > 4
            || !fits
        {
            return Err(ParseError::Inconsistent);
        }
        Ok(())
    }

    /// One pixel of `color` as this framebuffer stores it (the first
    /// `bytes_per_pixel` bytes).
    pub fn encode(&self, color: Color) -> [u8; 4] {
        let mut pixel = [0u8; 4];
        match self.format {
            Format::Rgb => pixel[..3].copy_from_slice(&[color.r, color.g, color.b]),
            Format::Bgr => pixel[..3].copy_from_slice(&[color.b, color.g, color.r]),
            Format::Gray => {
                pixel[0] = ((u16::from(color.r) * 77 + u16::from(color.g) * 150 + u16::from(color.b) * 29) >> 8) as u8;
            }
            Format::Bits { red, green, blue } => {
                pixel[usize::from(red / 8)] = color.r;
                pixel[usize::from(green / 8)] = color.g;
                pixel[usize::from(blue / 8)] = color.b;
            }
        }
        pixel
    }

    /// Text cells of `font` that fit: (columns, rows).
    pub fn cells(&self, font: &font::Font<'_>) -> (usize, usize) {
        (self.width / font.width(), self.height / font.height())
    }

    /// Byte offset of pixel (x, y).
    fn offset(&self, x: usize, y: usize) -> usize {
        (y * self.stride + x) * self.bytes_per_pixel
    }

    /// Draws `glyph` in the text cell at (`row`, `col`) with `fg` on `bg`
    /// (swapped when `inverse`, for the cursor). A cell outside the screen
    /// draws nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn draw_cell(
        &self,
        target: &mut impl Target,
        row: usize,
        col: usize,
        glyph: Glyph<'_>,
        fg: Color,
        bg: Color,
        inverse: bool,
    ) {
        let (cw, ch) = (font::WIDTH, glyph.rows().len());
        let (x0, y0) = (col * cw, row * ch);
        if x0 + cw > self.width || y0 + ch > self.height {
            return;
        }
        let (fg, bg) = if inverse { (bg, fg) } else { (fg, bg) };
        let (fg, bg) = (self.encode(fg), self.encode(bg));
        let bpp = self.bytes_per_pixel;
        let mut line = [0u8; font::WIDTH * 4];
        for (y, &bits) in glyph.rows().iter().enumerate() {
            for x in 0..cw {
                let pixel = if bits & (0x80 >> x) != 0 { &fg } else { &bg };
                line[x * bpp..(x + 1) * bpp].copy_from_slice(&pixel[..bpp]);
            }
            target.store(self.offset(x0, y0 + y), &line[..cw * bpp]);
        }
    }

    /// Fills the whole screen with `color`, one line at a time through
    /// `line` (scratch space of at least one line's bytes; a shorter one
    /// fills nothing).
    pub fn clear(&self, target: &mut impl Target, color: Color, line: &mut [u8]) {
        let bytes = self.width * self.bytes_per_pixel;
        let Some(line) = line.get_mut(..bytes) else { return };
        let pixel = self.encode(color);
        for chunk in line.chunks_exact_mut(self.bytes_per_pixel) {
            chunk.copy_from_slice(&pixel[..self.bytes_per_pixel]);
        }
        for y in 0..self.height {
            target.store(self.offset(0, y), line);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const BIOS: &str = "address: 0xfd000000\nsize: 2764800\nwidth: 1280\nheight: 720\nstride: 1280\n\
                        bytes_per_pixel: 3\nformat: bgr\n";

    struct Buffer(Vec<u8>);

    impl Target for Buffer {
        fn store(&mut self, offset: usize, bytes: &[u8]) {
            self.0[offset..offset + bytes.len()].copy_from_slice(bytes);
        }
    }

    #[test]
    fn parses_what_the_kernel_writes() {
        let layout = Layout::parse(BIOS).unwrap();
        assert_eq!(
            layout,
            Layout {
                address: 0xfd00_0000,
                size: 2_764_800,
                width: 1280,
                height: 720,
                stride: 1280,
                bytes_per_pixel: 3,
                format: Format::Bgr
            }
        );
        assert_eq!(layout.cells(&font::builtin()), (160, 45));
        let uefi = BIOS.replace("bytes_per_pixel: 3", "bytes_per_pixel: 4").replace("2764800", "3686400");
        assert_eq!(Layout::parse(&uefi).unwrap().bytes_per_pixel, 4);
        let bits = uefi.replace("bgr", "bits 16 8 0");
        assert_eq!(Layout::parse(&bits).unwrap().format, Format::Bits { red: 16, green: 8, blue: 0 });
    }

    #[test]
    fn refuses_missing_bad_and_inconsistent_descriptions() {
        assert_eq!(Layout::parse(""), Err(ParseError::Missing("address")));
        assert_eq!(Layout::parse(&BIOS.replace("0xfd000000", "fd000000")), Err(ParseError::Bad("address")));
        assert_eq!(Layout::parse(&BIOS.replace("width: 1280", "width: x")), Err(ParseError::Bad("width")));
        assert_eq!(Layout::parse(&BIOS.replace("bgr", "cmyk")), Err(ParseError::Bad("format")));
        assert_eq!(Layout::parse(&BIOS.replace("bgr", "bits 16 8 3")), Err(ParseError::Bad("format")));
        assert_eq!(Layout::parse(&BIOS.replace("2764800", "2764799")), Err(ParseError::Inconsistent));
        assert_eq!(Layout::parse(&BIOS.replace("stride: 1280", "stride: 100")), Err(ParseError::Inconsistent));
        assert_eq!(Layout::parse(&BIOS.replace("per_pixel: 3", "per_pixel: 2")), Err(ParseError::Inconsistent));
        let huge = BIOS.replace("height: 720", "height: 99999999999999999");
        assert_eq!(Layout::parse(&huge), Err(ParseError::Inconsistent));
    }

    #[test]
    fn encodes_each_format() {
        let mut layout = Layout::parse(BIOS).unwrap();
        let c = Color::rgb(1, 2, 3);
        assert_eq!(layout.encode(c), [3, 2, 1, 0]);
        layout.format = Format::Rgb;
        assert_eq!(layout.encode(c), [1, 2, 3, 0]);
        layout.format = Format::Bits { red: 0, green: 8, blue: 24 };
        assert_eq!(layout.encode(c), [1, 2, 0, 3]);
        layout.format = Format::Gray;
        assert_eq!(layout.encode(Color::rgb(255, 255, 255))[0], 255);
        assert_eq!(layout.encode(Color::rgb(0, 0, 170))[0], 19);
    }

    #[test]
    fn draws_a_glyph_into_its_cell_and_nothing_else() {
        let text = "address: 0x0\nsize: 4000\nwidth: 20\nheight: 40\nstride: 25\nbytes_per_pixel: 4\nformat: rgb\n";
        let layout = Layout::parse(text).unwrap();
        let font = font::builtin();
        let mut fb = Buffer(vec![0xee; 4000]);
        let (white, blue) = (Color::rgb(255, 255, 255), Color::rgb(0, 0, 170));
        layout.draw_cell(&mut fb, 1, 1, font.glyph('A'), white, blue, false);
        for y in 0..40 {
            for x in 0..25 {
                let px = &fb.0[(y * 25 + x) * 4..][..3];
                let inside = (8..16).contains(&x) && (16..32).contains(&y);
                if !inside {
                    assert_eq!(px, [0xee; 3], "({x}, {y}) outside the cell was touched");
                } else if font.glyph('A').pixel(x - 8, y - 16) {
                    assert_eq!(px, [255, 255, 255]);
                } else {
                    assert_eq!(px, [0, 0, 170]);
                }
            }
        }
        // Inverse swaps the colours; a cell off the screen draws nothing.
        layout.draw_cell(&mut fb, 0, 0, font.glyph(' '), white, blue, true);
        assert_eq!(&fb.0[..3], [255, 255, 255]);
        let before = fb.0.clone();
        layout.draw_cell(&mut fb, 2, 0, font.glyph('A'), white, blue, false);
        layout.draw_cell(&mut fb, 0, 2, font.glyph('A'), white, blue, false);
        assert_eq!(fb.0, before);
    }

    #[test]
    fn clear_fills_every_visible_pixel() {
        let text = "address: 0x0\nsize: 96\nwidth: 3\nheight: 4\nstride: 4\nbytes_per_pixel: 2\nformat: gray\n";
        let layout = Layout::parse(text).unwrap();
        let mut fb = Buffer(vec![7; 32]);
        layout.clear(&mut fb, Color::rgb(0, 0, 0), &mut [1u8; 6]);
        for y in 0..4 {
            assert_eq!(&fb.0[y * 8..y * 8 + 6], [0; 6]);
            assert_eq!(&fb.0[y * 8 + 6..y * 8 + 8], [7, 7], "padding untouched");
        }
        let mut short = Buffer(vec![7; 32]);
        layout.clear(&mut short, Color::rgb(0, 0, 0), &mut [1u8; 5]);
        assert_eq!(short.0, vec![7; 32]);
    }
}
