//! Boot smoke tests: the normal image (not the self-test kernel) booted
//! as a user would, its serial console compared with `ci/boot.expect`:
//! each line of that file is a substring that must appear, in order,
//! before a deadline. Bootstrap, the initfs daemon, init and the daemons of
//! `init.rc` all have to work for it to pass. On failure the transcript is
//! shown. The guest then stays up for the shell sessions (`session.rs`).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::check::strip_escapes;
use crate::guest::Guest;
use crate::qemu::Firmware;
use crate::workspace::Workspace;

/// The expectations, relative to the workspace root.
pub const EXPECT_FILE: &str = "ci/boot.expect";

/// The substrings to wait for, in order: the file's lines without blank
/// ones and `#` comments.
pub fn expectations(text: &str) -> Vec<&str> {
    text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty() && !l.starts_with('#')).collect()
}

/// Feeds lines to the expectations; how many have been met.
#[derive(Debug, Default)]
pub struct Progress {
    pub met: usize,
    pub last_at: Option<Duration>,
}

impl Progress {
    /// One line of console output, seen `at` after QEMU started. A line
    /// can meet several expectations in a row.
    pub fn feed(&mut self, expected: &[&str], line: &str, at: Duration) {
        let mut rest = line;
        while let Some(want) = expected.get(self.met) {
            match rest.find(want) {
                Some(pos) => {
                    rest = &rest[pos + want.len()..];
                    self.met += 1;
                    self.last_at = Some(at);
                }
                None => break,
            }
        }
    }
}

/// One smoke boot: `Ok` with the time of the last expectation and the
/// guest, still running (the shell sessions go on in it), or why it
/// failed, with the transcript.
pub fn boot(
    ws: &Workspace,
    image: &Path,
    firmware: Option<&Firmware>,
    timeout: Duration,
    log_path: &Path,
) -> Result<(Duration, Guest), String> {
    let text = fs::read_to_string(ws.root.join(EXPECT_FILE)).map_err(|e| format!("reading {EXPECT_FILE}: {e}"))?;
    let expected = expectations(&text);
    let mut guest = Guest::start(ws, image, firmware, log_path, crate::check::SMP)?;
    let deadline = Instant::now() + timeout;
    let mut progress = Progress::default();
    // Bytes of `guest.output` already fed, up to the last line end.
    let mut fed = 0;
    while progress.met < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || guest.poll(left.min(Duration::from_millis(100))).is_err() {
            break;
        }
        let at = guest.elapsed();
        while let Some(end) = guest.output[fed..].iter().position(|&b| b == b'\n') {
            let line = strip_escapes(&String::from_utf8_lossy(&guest.output[fed..fed + end]));
            progress.feed(&expected, line.trim_end_matches('\r'), at);
            fed += end + 1;
        }
    }
    match (progress.met == expected.len(), progress.last_at) {
        (true, Some(at)) => Ok((at, guest)),
        _ => {
            let transcript = strip_escapes(&String::from_utf8_lossy(&guest.output));
            let tail: Vec<&str> = transcript.lines().rev().take(40).collect();
            Err(format!(
                "waited {} s for {:?} (expectation {} of {}); console:\n{}",
                timeout.as_secs(),
                expected.get(progress.met).copied().unwrap_or(""),
                progress.met + 1,
                expected.len(),
                tail.into_iter().rev().map(|l| l.trim_end_matches('\r')).collect::<Vec<_>>().join("\n")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_skip_comments_and_blanks() {
        assert_eq!(expectations("# c\n\na\n  b  \n#d\n"), vec!["a", "  b"]);
    }

    #[test]
    fn progress_in_order_and_several_per_line() {
        let expected = ["one", "two", "three"];
        let mut p = Progress::default();
        p.feed(&expected, "two", Duration::from_secs(1));
        assert_eq!(p.met, 0, "out of order does not count");
        p.feed(&expected, "one two", Duration::from_secs(2));
        assert_eq!(p.met, 2);
        p.feed(&expected, "three", Duration::from_secs(3));
        assert_eq!((p.met, p.last_at), (3, Some(Duration::from_secs(3))));
    }

    #[test]
    fn the_real_file_has_expectations() {
        let ws = Workspace::locate().expect("workspace");
        let text = fs::read_to_string(ws.root.join(EXPECT_FILE)).expect("ci/boot.expect");
        assert!(expectations(&text).len() >= 3);
    }
}
