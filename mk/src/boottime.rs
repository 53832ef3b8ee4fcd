//! Boot to the shell prompt, as `cargo mk bench` reports it: the normal
//! image of the bench profile, booted from BIOS and from UEFI the way the
//! tests boot it (TCG, 2 CPUs, 256 MiB), timed from QEMU's start to the
//! serial shell's first prompt (firmware, bootloader, kernel, bootstrap,
//! every `init.rc` daemon and driver, the shell). A figure, not a check.
//!
//! May touch: the images of that profile (it builds them), the QEMUs it
//! starts, its logs under `target/ferrite/bench-logs/`.

use std::time::Duration;

use crate::guest::Guest;
use crate::images;
use crate::qemu;
use crate::session;
use crate::workspace::{Profile, Workspace};

/// How long a boot may take to reach the prompt.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The boot-to-prompt time of each firmware, in order BIOS, UEFI.
pub fn measure(ws: &Workspace, profile: Profile) -> Result<Vec<(&'static str, Duration)>, String> {
    let built = images::build(ws, profile)?;
    let normal = images::normal(&built);
    let mut times = Vec::new();
    for boot in ["bios", "uefi"] {
        let (image, firmware) = match boot {
            "uefi" => (&normal.uefi, Some(qemu::firmware(&ws.mk_dir().join("boottime-OVMF_VARS.fd"))?)),
            _ => (&normal.bios, None),
        };
        let log = ws.mk_dir().join("bench-logs").join(format!("boot-{boot}.log"));
        let mut guest = Guest::start(ws, image, firmware.as_ref(), &log)?;
        let at = session::wait_for_prompt(&mut guest, TIMEOUT)
            .map_err(|e| format!("{boot}: {e} (serial log in {})", ws.show(&log)))?;
        times.push((boot, at));
    }
    Ok(times)
}

/// The report line: `boot to the shell prompt (release, TCG): BIOS 3.1 s, UEFI 5.9 s`.
pub fn describe(profile: Profile, times: &[(&str, Duration)]) -> String {
    let parts: Vec<String> =
        times.iter().map(|(boot, at)| format!("{} {:.1} s", boot.to_uppercase(), at.as_secs_f64())).collect();
    format!("boot to the serial shell prompt ({} image, TCG, -smp 2): {}", profile.dir(), parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_both_boots() {
        let times = [("bios", Duration::from_millis(3140)), ("uefi", Duration::from_millis(5960))];
        assert_eq!(
            describe(Profile::Release, &times),
            "boot to the serial shell prompt (release image, TCG, -smp 2): BIOS 3.1 s, UEFI 6.0 s"
        );
    }
}
