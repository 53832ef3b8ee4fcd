//! The persistence check, after a smoke boot: the file its shell session
//! wrote on `file:` (ci/sessions/disk.session) must read back identically
//! on the host, through `redoxfs` on the image, and in a second boot of
//! the same data disk, which then powers off cleanly.
//!
//! May touch: the smoke boot's data disk, a guest it boots.

use std::path::Path;
use std::time::Duration;

use crate::guest::Guest;
use crate::qemu::Firmware;
use crate::session;
use crate::workspace::Workspace;

/// What ci/sessions/disk.session leaves, and where.
pub const FILE: &str = "/home/root/persist.txt";
pub const TEXT: &str = "kept across boots\n";

/// The shell must be up this soon in the second boot.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(120);

pub fn check(ws: &Workspace, image: &Path, firmware: Option<&Firmware>, log: &Path) -> Result<String, String> {
    let (data, _) = crate::check::test_disks(ws, image, crate::check::SMP);
    let on_host = crate::disk::read(&data, FILE)?;
    if on_host != TEXT.as_bytes() {
        return Err(format!("the host reads {FILE} as {:?}, not {TEXT:?}", String::from_utf8_lossy(&on_host)));
    }
    let mut guest = Guest::start_with(ws, image, firmware, log, crate::check::SMP, false)?;
    session::wait_for_prompt(&mut guest, PROMPT_TIMEOUT)?;
    let output = session::run_command(&mut guest, &format!("cat file:{FILE}"), false)?;
    let text: String = output.lines.iter().map(|l| format!("{l}\n")).collect();
    if text != TEXT {
        return Err(format!("the second boot reads {FILE} as {text:?}, not {TEXT:?}"));
    }
    crate::shutdown::run(&mut guest, "poweroff")?;
    Ok(format!("{FILE} read back on the host and in a second boot, which powered off"))
}
