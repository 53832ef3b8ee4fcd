//! Boot smoke tests: the normal image (not the self-test kernel) booted
//! as a user would, its serial console compared with `ci/boot.expect`:
//! each line of that file is a substring that must appear, in order,
//! before a deadline. Bootstrap, the initfs daemon, init and the daemons of
//! `init.rc` all have to work for it to pass. On failure the transcript is
//! shown.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use crate::qemu::{self, Firmware};
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

/// The outcome of one smoke boot: `Ok(seconds to the last expectation)`
/// or why it failed, with the transcript.
pub fn boot(
    ws: &Workspace,
    image: &Path,
    firmware: Option<&Firmware>,
    timeout: Duration,
    log_path: &Path,
) -> Result<Duration, String> {
    let text = fs::read_to_string(ws.root.join(EXPECT_FILE)).map_err(|e| format!("reading {EXPECT_FILE}: {e}"))?;
    let expected = expectations(&text);
    let (mut log, running) = crate::check::start_test_qemu(ws, image, firmware, log_path, Stdio::null())?;
    let qemu::Running { mut child, started, lines, reader } = running;
    let deadline = started + timeout;
    let mut progress = Progress::default();
    let mut transcript = String::new();
    while progress.met < expected.len() {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((at, line)) => {
                let _ = log.write_all(&line);
                let text = crate::check::strip_escapes(&String::from_utf8_lossy(&line));
                let text = text.trim_end_matches(['\r', '\n']);
                transcript.push_str(text);
                transcript.push('\n');
                progress.feed(&expected, text, at);
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    match (progress.met == expected.len(), progress.last_at) {
        (true, Some(at)) => Ok(at),
        _ => Err(format!(
            "waited {} s for {:?} (expectation {} of {}); console:\n{}",
            timeout.as_secs(),
            expected.get(progress.met).copied().unwrap_or(""),
            progress.met + 1,
            expected.len(),
            transcript.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
        )),
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
