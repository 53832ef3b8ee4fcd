//! The damaged-disk checks, after the persistence check of a smoke boot,
//! on BIOS and on UEFI: the data disk is damaged on the host (first cut to
//! half its size, then its header ring zeroed too), and each next boot
//! must refuse to mount it
//! with a clear line on the console and in `log:`, while everything else
//! comes up: the shell says its home is missing and starts in `tmp:`,
//! files work there, `file:` calls fail with an error instead of hanging,
//! and `poweroff` ends QEMU by itself.
//!
//! Nothing here waits on init's restart back-off: `redoxfsd` refuses
//! before it signals readiness, so init logs how long it ran and never
//! starts it again (a restart is only for a daemon that was serving), and
//! the shells start after that line.
//!
//! May touch: the smoke boot's data disk (which the next test boot makes
//! anew), a guest it boots.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use crate::guest::Guest;
use crate::qemu::Firmware;
use crate::session;
use crate::workspace::Workspace;

/// How the data disk is damaged.
#[derive(Clone, Copy)]
pub enum Damage {
    /// Every header of the RedoxFS ring zeroed: no file system found.
    ZeroedHeaders,
    /// The image cut to half: the file system says it is larger.
    Truncated,
}

impl Damage {
    /// What the check names it.
    pub fn describe(self) -> &'static str {
        match self {
            Damage::ZeroedHeaders => "its headers zeroed",
            Damage::Truncated => "cut to half its size",
        }
    }

    /// What `redoxfsd` must say about it.
    fn refusal(self) -> &'static str {
        match self {
            Damage::ZeroedHeaders => "redoxfsd: disk:0 holds no usable RedoxFS",
            Damage::Truncated => "but its RedoxFS says",
        }
    }
}

/// The shell must be up this soon.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(120);

fn damage(path: &Path, damage: Damage) -> Result<(), String> {
    let err = |e: std::io::Error| format!("damaging {}: {e}", path.display());
    let mut file = OpenOptions::new().write(true).open(path).map_err(err)?;
    match damage {
        Damage::ZeroedHeaders => {
            let ring = vec![0u8; (redoxfs::HEADER_RING * redoxfs::BLOCK_SIZE) as usize];
            file.seek(SeekFrom::Start(0)).and_then(|_| file.write_all(&ring)).map_err(err)?;
        }
        Damage::Truncated => {
            let len = fs::metadata(path).map_err(err)?.len();
            file.set_len(len / 2).map_err(err)?;
        }
    }
    file.sync_all().map_err(err)
}

/// How long `redoxfsd` ran before it refused, from init's line
/// `init: redoxfsd (pid N) exited before signalling readiness (after X ms): ...`.
fn refused_after(console: &str) -> Option<&str> {
    let line = console.lines().find(|l| l.contains("init: redoxfsd (pid ") && l.contains("exited before"))?;
    let rest = &line[line.find("(after ")? + "(after ".len()..];
    Some(&rest[..rest.find(')')?])
}

pub fn check(
    ws: &Workspace,
    image: &Path,
    firmware: Option<&Firmware>,
    log: &Path,
    kind: Damage,
) -> Result<String, String> {
    let (data, _) = crate::check::test_disks(ws, image, crate::check::SMP);
    damage(&data, kind)?;
    let mut guest = Guest::start_with(ws, image, firmware, log, crate::check::SMP, false)?;
    let at = session::wait_for_prompt(&mut guest, PROMPT_TIMEOUT)?;
    let console = String::from_utf8_lossy(&guest.output).into_owned();
    if !console.contains(kind.refusal()) {
        return Err(format!("no `{}` line on the console before the prompt", kind.refusal()));
    }
    if !console.contains("sh: HOME file:/home/root") {
        return Err("the shell did not say that its home is missing".into());
    }
    if console.contains("panicked") {
        return Err("a panic on the console".into());
    }
    let took = refused_after(&console).ok_or("init did not say that redoxfsd exited before it was ready")?;
    // Read from the console itself: the session's output leaves out
    // warning and error lines, as the console shows those by itself too.
    let mark = guest.output.len();
    session::run_command(&mut guest, "cat log:", false)?;
    let listing = String::from_utf8_lossy(&guest.output[mark..]).into_owned();
    if !listing.contains(kind.refusal()) {
        return Err(format!("log: lacks the refusal: {listing}"));
    }
    session::run_command(&mut guest, "echo ok > tmp:/x", false)?;
    let back = session::run_command(&mut guest, "cat tmp:/x", false)?;
    if back.lines != ["ok"] {
        return Err(format!("tmp: gave {:?} back", back.lines));
    }
    let file = session::run_command(&mut guest, "cat file:/home", false)?;
    if !file.prompt_back || !file.lines.first().is_some_and(|l| l.starts_with("cat: file:/home: ")) {
        return Err(format!("`cat file:/home` without a file system: {:?}", file.lines));
    }
    crate::shutdown::run(&mut guest, "poweroff")?;
    Ok(format!(
        "refused after {took} on the console and in log:, prompt after {:.1} s in tmp:, `cat file:/home` says {:?}, \
         powered off",
        at.as_secs_f64(),
        file.lines.first().map(String::as_str).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_says_how_long_redoxfsd_ran() {
        let console = "init: virtio-blkd (pid 12) ready after 165.0 ms\n\
                       init: redoxfsd (pid 13) exited before signalling readiness (after 1653.4 ms): exited with status 1\n";
        assert_eq!(refused_after(console), Some("1653.4 ms"));
        assert_eq!(refused_after("init: redoxfsd (pid 13) ready after 180.2 ms\n"), None);
    }
}
