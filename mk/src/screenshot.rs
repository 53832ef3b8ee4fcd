//! The screenshot test: boot the normal image with its display device (and
//! no window), wait until the shell on the framebuffer console shows its
//! prompt, type a command on the PS/2 keyboard through the QEMU monitor's
//! `sendkey`, take `screendump`s and look for the command line and, on the
//! row below, its output, drawn with the same font the guest uses
//! (`lib/font`), on the console's character grid.
//!
//! The result must be found twice, half a second apart (so the kept picture
//! shows the settled screen). The picture is kept as
//! `target/ferrite/screenshot-{bios,uefi}.png`, whether the check passes
//! or not; a failure says where it looked.
//!
//! Touches: one QEMU it starts (and kills), its monitor socket and the
//! picture files under `target/ferrite/`.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::RecvTimeoutError;
use std::thread;
use std::time::{Duration, Instant};

use crate::picture::{self, Image};
use crate::process;
use crate::qemu::{self, Firmware};
use crate::workspace::Workspace;

/// The shell's prompt on the framebuffer console.
pub const PROMPT: &str = "file:/home/root $";
/// The command typed (then Enter); it must show after the prompt.
pub const TYPED: &str = "echo hi from fbcon";
/// What the command prints, at the start of the row below.
pub const OUTPUT: &str = "hi from fbcon";

/// The serial line that says the console's shell was started.
const CONSOLE_READY: &str = "init: started sh on fbcon:";
/// What fbcond says when the machine has no framebuffer.
const NO_FRAMEBUFFER: &str = "fbcond: no framebuffer";

/// How long the guest has to show the text once it is typed.
const SHOW_TIMEOUT: Duration = Duration::from_secs(20);
/// Between screendumps while waiting for the text.
const POLL: Duration = Duration::from_millis(500);
/// Between keys (QEMU queues them anyway; this keeps the i8042 paced).
const KEY_GAP: Duration = Duration::from_millis(20);
/// How long a monitor command may take to answer.
const MONITOR_TIMEOUT: Duration = Duration::from_secs(10);

/// A pixel counts as lit (text) when its brightest channel is above this.
const LIT: u8 = 0x60;

/// Where the picture of a boot is kept.
pub fn png_path(ws: &Workspace, boot: &str) -> PathBuf {
    ws.mk_dir().join(format!("screenshot-{boot}.png"))
}

/// Where a text was found, or how close it came.
#[derive(Debug, PartialEq, Eq)]
pub enum Search {
    Found { row: usize, col: usize },
    Missing { cols: usize, rows: usize, best_row: usize, best_col: usize, wrong: usize, pixels: usize },
}

/// Pixels of cell (row, col) of `image` that differ from `glyph` drawn there.
fn wrong_pixels(image: &Image, font: &font::Font<'_>, row: usize, col: usize, c: char) -> usize {
    let glyph = font.glyph(c);
    let (x0, y0) = (col * font.width(), row * font.height());
    let mut wrong = 0;
    for y in 0..font.height() {
        for x in 0..font.width() {
            let (r, g, b) = image.pixel(x0 + x, y0 + y);
            if (r.max(g).max(b) > LIT) != glyph.pixel(x, y) {
                wrong += 1;
            }
        }
    }
    wrong
}

/// Looks for `text` on every cell of the character grid (the top left
/// cell first, row by row); exact match of every pixel's lit/unlit state.
pub fn find_text(image: &Image, font: &font::Font<'_>, text: &str) -> Search {
    let (cols, rows) = (image.width / font.width(), image.height / font.height());
    let chars: Vec<char> = text.chars().collect();
    let pixels = chars.len() * font.width() * font.height();
    let mut best = (usize::MAX, 0, 0);
    for row in 0..rows {
        for col in 0..(cols + 1).saturating_sub(chars.len()) {
            let mut wrong = 0;
            for (i, &c) in chars.iter().enumerate() {
                wrong += wrong_pixels(image, font, row, col + i, c);
                if wrong >= best.0 {
                    break;
                }
            }
            if wrong == 0 {
                return Search::Found { row, col };
            }
            if wrong < best.0 {
                best = (wrong, row, col);
            }
        }
    }
    let wrong = if best.0 == usize::MAX { pixels } else { best.0 };
    Search::Missing { cols, rows, best_row: best.1, best_col: best.2, wrong, pixels }
}

/// Whether `text` is drawn at cell (row, col) exactly.
pub fn text_at(image: &Image, font: &font::Font<'_>, text: &str, row: usize, col: usize) -> bool {
    let (cols, rows) = (image.width / font.width(), image.height / font.height());
    row < rows
        && col + text.chars().count() <= cols
        && text.chars().enumerate().all(|(i, c)| wrong_pixels(image, font, row, col + i, c) == 0)
}

/// QEMU `sendkey` names for the characters of `text`.
pub fn key_names(text: &str) -> Result<Vec<String>, String> {
    text.chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' => Ok(c.to_string()),
            'A'..='Z' => Ok(format!("shift-{}", c.to_ascii_lowercase())),
            ' ' => Ok("spc".to_string()),
            '-' => Ok("minus".to_string()),
            '.' => Ok("dot".to_string()),
            '/' => Ok("slash".to_string()),
            '\n' => Ok("ret".to_string()),
            _ => Err(format!("no sendkey name for {c:?}")),
        })
        .collect()
}

/// The QEMU monitor over its Unix socket.
struct Monitor {
    stream: UnixStream,
}

impl Monitor {
    fn connect(path: &Path) -> Result<Monitor, String> {
        let deadline = Instant::now() + MONITOR_TIMEOUT;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
                Err(e) => return Err(format!("connecting to the QEMU monitor at {}: {e}", path.display())),
            }
        };
        stream.set_read_timeout(Some(MONITOR_TIMEOUT)).map_err(|e| format!("monitor socket: {e}"))?;
        let mut monitor = Monitor { stream };
        monitor.prompt()?;
        Ok(monitor)
    }

    /// Reads up to the next `(qemu) ` prompt.
    fn prompt(&mut self) -> Result<String, String> {
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        while !seen.ends_with(b"(qemu) ") {
            let n = self.stream.read(&mut buf).map_err(|e| format!("reading the QEMU monitor: {e}"))?;
            if n == 0 {
                return Err("the QEMU monitor closed".into());
            }
            seen.extend_from_slice(&buf[..n]);
        }
        Ok(String::from_utf8_lossy(&seen).into_owned())
    }

    fn command(&mut self, line: &str) -> Result<String, String> {
        self.stream
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| format!("writing to the QEMU monitor: {e}"))?;
        self.prompt()
    }
}

/// Takes a screendump into `ppm`, keeps it as `png` and returns it.
fn screendump(monitor: &mut Monitor, ppm: &Path, png: &Path) -> Result<Image, String> {
    let _ = fs::remove_file(ppm);
    let answer = monitor.command(&format!("screendump {}", ppm.display()))?;
    let bytes = fs::read(ppm).map_err(|e| format!("screendump wrote no {} ({e}): {answer}", ppm.display()))?;
    let screen = picture::parse_ppm(&bytes).map_err(|e| format!("{}: {e}", ppm.display()))?;
    fs::write(png, picture::encode_png(&screen)).map_err(|e| format!("writing {}: {e}", png.display()))?;
    Ok(screen)
}

/// Boots `image`, types [`TYPED`] and checks the screen. `Ok` says where
/// the text was found; the picture is kept at [`png_path`] either way.
pub fn check(
    ws: &Workspace,
    boot: &str,
    image: &Path,
    firmware: Option<&Firmware>,
    timeout: Duration,
    log_path: &Path,
) -> Result<String, String> {
    let dir = ws.mk_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let socket = dir.join(format!("{boot}-monitor.sock"));
    let ppm = dir.join(format!("screenshot-{boot}.ppm"));
    let png = png_path(ws, boot);
    let _ = fs::remove_file(&socket);
    let _ = fs::remove_file(&png);
    let mut log = crate::process::create_log(log_path)?;
    let mut cmd = crate::check::test_qemu_command(ws, image, firmware, crate::check::SMP);
    cmd.arg("-monitor")
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    println!("mk: {}", process::describe(&cmd));
    let qemu::Running { mut child, started, lines, reader } = qemu::spawn_reading_lines(&mut cmd)?;
    let result = (|| {
        let deadline = started + timeout;
        loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok((_, line)) => {
                    let _ = log.write_all(&line);
                    let text = String::from_utf8_lossy(&line);
                    if text.contains(NO_FRAMEBUFFER) {
                        return Err(format!("the guest found no framebuffer: {}", text.trim_end()));
                    }
                    if text.contains(CONSOLE_READY) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "{CONSOLE_READY:?} did not appear within {} s (serial log in {})",
                        timeout.as_secs(),
                        ws.show(log_path)
                    ));
                }
            }
        }
        let mut monitor = Monitor::connect(&socket)?;
        let font = font::builtin();
        // The prompt first: keys typed before the shell reads are echoed
        // by the console itself, and the picture would not show the shell.
        let give_up = Instant::now() + SHOW_TIMEOUT;
        loop {
            let screen = screendump(&mut monitor, &ppm, &png)?;
            match find_text(&screen, &font, PROMPT) {
                Search::Found { .. } => break,
                Search::Missing { .. } if Instant::now() >= give_up => {
                    return Err(format!(
                        "the shell's prompt {PROMPT:?} did not show on the framebuffer within {} s; picture kept in {}",
                        SHOW_TIMEOUT.as_secs(),
                        ws.show(&png)
                    ));
                }
                Search::Missing { .. } => thread::sleep(POLL),
            }
        }
        for key in key_names(&format!("{TYPED}\n"))? {
            monitor.command(&format!("sendkey {key}"))?;
            thread::sleep(KEY_GAP);
        }
        let line = format!("{PROMPT} {TYPED}");
        let give_up = Instant::now() + SHOW_TIMEOUT;
        let mut settled = false;
        loop {
            let screen = screendump(&mut monitor, &ppm, &png)?;
            let found = match find_text(&screen, &font, &line) {
                Search::Found { row, col } => match text_at(&screen, &font, OUTPUT, row + 1, 0) {
                    true => Ok((row, col)),
                    false => Err(format!("the command line shows at row {row} but not its output {OUTPUT:?} below it")),
                },
                Search::Missing { cols, rows, best_row, best_col, wrong, pixels } => Err(format!(
                    "{line:?} is not on the screen: looked at every cell of the {cols}x{rows} character grid; \
                     closest at row {best_row} column {best_col} with {wrong} of {pixels} pixels wrong"
                )),
            };
            match found {
                Ok(_) if !settled => {
                    // Keep a picture of the settled screen (the output may
                    // have been caught half drawn): look once more.
                    settled = true;
                    thread::sleep(POLL);
                }
                Ok((row, col)) => {
                    return Ok(format!(
                        "{TYPED:?} typed, shown at row {row} column {col} with its output below, on the {}x{} \
                         screen; picture in {}",
                        screen.width,
                        screen.height,
                        ws.show(&png)
                    ));
                }
                Err(why) if Instant::now() >= give_up => {
                    return Err(format!("typed {TYPED:?} and Enter: {why}; picture kept in {}", ws.show(&png)));
                }
                Err(_) => thread::sleep(POLL),
            }
        }
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let _ = fs::remove_file(&socket);
    let _ = fs::remove_file(&ppm);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A black image with `text` drawn the way fbcond draws it.
    fn screen_with(text: &str, row: usize, col: usize, x_shift: usize) -> Image {
        let font = font::builtin();
        let (width, height) = (320, 160);
        let mut image = Image { width, height, rgb: vec![0; width * height * 3] };
        for (i, c) in text.chars().enumerate() {
            let glyph = font.glyph(c);
            for y in 0..16 {
                for x in 0..8 {
                    if glyph.pixel(x, y) {
                        let (px, py) = ((col + i) * 8 + x + x_shift, row * 16 + y);
                        let at = (py * width + px) * 3;
                        image.rgb[at..at + 3].copy_from_slice(&[0xcc, 0xcc, 0xcc]);
                    }
                }
            }
        }
        image
    }

    #[test]
    fn finds_text_on_the_grid() {
        let font = font::builtin();
        let image = screen_with("$ echo hi", 3, 5, 0);
        assert_eq!(find_text(&image, &font, "echo hi"), Search::Found { row: 3, col: 7 });
        assert_eq!(find_text(&image, &font, "$ echo hi"), Search::Found { row: 3, col: 5 });
    }

    #[test]
    fn text_at_checks_one_place() {
        let font = font::builtin();
        let image = screen_with("hi there", 4, 0, 0);
        assert!(text_at(&image, &font, "hi there", 4, 0));
        assert!(text_at(&image, &font, "there", 4, 3));
        assert!(!text_at(&image, &font, "hi there", 5, 0));
        assert!(!text_at(&image, &font, "hi there", 4, 1));
        assert!(!text_at(&image, &font, "x", 10, 0), "off the grid");
        assert!(!text_at(&image, &font, &"x".repeat(41), 0, 0), "longer than a row");
    }

    #[test]
    fn reports_where_it_came_closest() {
        let font = font::builtin();
        let image = screen_with("echo hx", 2, 1, 0);
        match find_text(&image, &font, "echo hi") {
            Search::Missing { cols: 40, rows: 10, best_row: 2, best_col: 1, wrong, pixels: 896 } => {
                assert!(wrong > 0 && wrong < 60, "{wrong}");
            }
            other => panic!("{other:?}"),
        }
        // Off the grid (shifted by 3 pixels) does not count, nor a blank screen.
        assert!(matches!(find_text(&screen_with("echo hi", 2, 1, 3), &font, "echo hi"), Search::Missing { .. }));
        assert!(matches!(find_text(&screen_with("", 0, 0, 0), &font, "hi"), Search::Missing { .. }));
        // Longer than a row: never found, no panic.
        let long = "x".repeat(41);
        assert!(matches!(find_text(&screen_with("", 0, 0, 0), &font, &long), Search::Missing { .. }));
    }

    #[test]
    fn key_names_for_qemu() {
        assert_eq!(key_names("echo hi").unwrap(), ["e", "c", "h", "o", "spc", "h", "i"]);
        assert_eq!(key_names("A-1./\n").unwrap(), ["shift-a", "minus", "1", "dot", "slash", "ret"]);
        assert!(key_names("é").is_err());
    }
}
