//! Pictures of the guest's screen: reading the PPM file QEMU's
//! `screendump` writes, and writing it again as PNG so any viewer shows it.
//! The PNG encoder is the smallest correct one: 8-bit RGB, no filtering,
//! the image data in stored (uncompressed) deflate blocks, with the CRC-32
//! of every chunk and the zlib stream's Adler-32.

/// An RGB image, 3 bytes per pixel, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Image {
    /// The pixel at (x, y) as (r, g, b); black outside the image.
    pub fn pixel(&self, x: usize, y: usize) -> (u8, u8, u8) {
        if x >= self.width || y >= self.height {
            return (0, 0, 0);
        }
        let i = (y * self.width + x) * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }
}

/// Reads a binary PPM (`P6`, maxval 255), as QEMU writes it.
pub fn parse_ppm(bytes: &[u8]) -> Result<Image, String> {
    // Header: magic, width, height, maxval, separated by whitespace (and
    // `#` comments), then exactly one whitespace byte before the pixels.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'#') {
            if bytes[i] == b'#' {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if start == i {
            return Err("PPM header is cut short".into());
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    if fields[0] != "P6" {
        return Err(format!("not a binary PPM (magic {:?})", fields[0]));
    }
    let number = |s: &str| s.parse::<usize>().map_err(|_| format!("PPM header field {s:?} is not a number"));
    let (width, height, maxval) = (number(&fields[1])?, number(&fields[2])?, number(&fields[3])?);
    if maxval != 255 {
        return Err(format!("PPM maxval {maxval}, expected 255"));
    }
    let data = bytes.get(i + 1..).unwrap_or(&[]);
    let len = width.checked_mul(height).and_then(|n| n.checked_mul(3)).ok_or("PPM size overflows")?;
    if data.len() < len {
        return Err(format!("PPM has {} bytes of pixels, {width}x{height} needs {len}", data.len()));
    }
    Ok(Image { width, height, rgb: data[..len].to_vec() })
}

/// CRC-32 (IEEE, reflected, as PNG uses it).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Adler-32 (zlib's checksum).
pub fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// `data` as a zlib stream of stored deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 65535;
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// `image` as a PNG file.
pub fn encode_png(image: &Image) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&(image.width as u32).to_be_bytes());
    header.extend_from_slice(&(image.height as u32).to_be_bytes());
    // 8 bits per channel, truecolour, deflate, no filter method, no interlace.
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    let mut raw = Vec::with_capacity((image.width * 3 + 1) * image.height);
    for row in image.rgb.chunks(image.width * 3).take(image.height) {
        raw.push(0);
        raw.extend_from_slice(row);
    }
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(b""), 1);
        // Long input: the modulo must be taken in time.
        let big = vec![0xffu8; 100_000];
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &big {
            a = (a + u64::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(adler32(&big), ((b << 16) | a) as u32);
    }

    /// Reads a PNG made by `encode_png` back: chunk CRCs, stored blocks,
    /// Adler-32, filter bytes. Returns (width, height, rgb).
    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut i = 8;
        let (mut width, mut height, mut idat) = (0, 0, Vec::new());
        let mut kinds = Vec::new();
        while i < png.len() {
            let len = u32::from_be_bytes(png[i..i + 4].try_into().unwrap()) as usize;
            let kind = &png[i + 4..i + 8];
            let data = &png[i + 8..i + 8 + len];
            let crc = u32::from_be_bytes(png[i + 8 + len..i + 12 + len].try_into().unwrap());
            assert_eq!(crc, crc32(&png[i + 4..i + 8 + len]), "CRC of {:?}", String::from_utf8_lossy(kind));
            kinds.push(String::from_utf8_lossy(kind).into_owned());
            match kind {
                b"IHDR" => {
                    width = u32::from_be_bytes(data[..4].try_into().unwrap());
                    height = u32::from_be_bytes(data[4..8].try_into().unwrap());
                    assert_eq!(&data[8..], [8, 2, 0, 0, 0]);
                }
                b"IDAT" => idat.extend_from_slice(data),
                _ => {}
            }
            i += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
        assert_eq!(&idat[..2], [0x78, 0x01]);
        assert_eq!((u16::from(idat[0]) << 8 | u16::from(idat[1])) % 31, 0, "zlib header check bits");
        let mut raw = Vec::new();
        let mut j = 2;
        loop {
            let last = idat[j] & 1 == 1;
            assert_eq!(idat[j] >> 1, 0, "stored block");
            let len = u16::from_le_bytes([idat[j + 1], idat[j + 2]]);
            let nlen = u16::from_le_bytes([idat[j + 3], idat[j + 4]]);
            assert_eq!(len, !nlen);
            raw.extend_from_slice(&idat[j + 5..j + 5 + len as usize]);
            j += 5 + len as usize;
            if last {
                break;
            }
        }
        assert_eq!(u32::from_be_bytes(idat[j..j + 4].try_into().unwrap()), adler32(&raw));
        assert_eq!(j + 4, idat.len());
        let row = width as usize * 3 + 1;
        let mut rgb = Vec::new();
        for line in raw.chunks(row) {
            assert_eq!(line[0], 0, "filter type none");
            rgb.extend_from_slice(&line[1..]);
        }
        (width, height, rgb)
    }

    #[test]
    fn png_round_trips_small_and_multi_block_images() {
        let small = Image { width: 2, height: 1, rgb: vec![255, 0, 0, 0, 0, 255] };
        assert_eq!(decode(&encode_png(&small)), (2, 1, small.rgb.clone()));
        // Over 64 KiB of pixel data: several stored blocks.
        let (w, h) = (300, 100);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let big = Image { width: w, height: h, rgb };
        assert_eq!(decode(&encode_png(&big)), (w as u32, h as u32, big.rgb.clone()));
    }

    #[test]
    fn ppm_parses_and_refuses() {
        let mut file = b"P6\n# made by a test\n2 1\n255\n".to_vec();
        file.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        let image = parse_ppm(&file).unwrap();
        assert_eq!((image.width, image.height, image.pixel(1, 0)), (2, 1, (4, 5, 6)));
        assert_eq!(image.pixel(2, 0), (0, 0, 0));
        assert!(parse_ppm(b"P5\n2 1\n255\n").unwrap_err().contains("not a binary PPM"));
        assert!(parse_ppm(b"P6\n2 1\n65535\n").unwrap_err().contains("maxval"));
        assert!(parse_ppm(b"P6\n2 1\n255\n\x01\x02").unwrap_err().contains("needs 6"));
        assert!(parse_ppm(b"P6\n2").unwrap_err().contains("cut short"));
        assert!(parse_ppm(b"P6\n99999999999999999999 1\n255\n").is_err());
    }
}
