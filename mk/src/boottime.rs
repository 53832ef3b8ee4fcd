//! Boot to the shell prompt, as `cargo mk bench` reports it: the normal
//! image of the bench profile, booted from BIOS and from UEFI the way the
//! tests boot it (TCG, 2 CPUs, 256 MiB), timed from QEMU's start to the
//! serial shell's first prompt (firmware, bootloader, kernel, bootstrap,
//! every `init.rc` daemon and driver, the shell). Then it asks that shell
//! for `free`: the memory in use once the system is up. Figures, not
//! checks.
//!
//! May touch: the images of that profile (it builds them), the QEMUs it
//! starts, its logs under `target/ferrite/bench-logs/`.

use std::time::Duration;

use crate::guest::Guest;
use crate::images;
use crate::session;
use crate::workspace::{Profile, Workspace};

/// How long a boot may take to reach the prompt.
const TIMEOUT: Duration = Duration::from_secs(120);

/// One boot's figures.
pub struct Boot {
    pub firmware: &'static str,
    /// From QEMU's start to the first prompt.
    pub to_prompt: Duration,
    /// `free`'s `Mem:` line at that prompt.
    pub memory: String,
}

/// The figures of each firmware, in order BIOS, UEFI.
pub fn measure(ws: &Workspace, profile: Profile) -> Result<Vec<Boot>, String> {
    let built = images::build(ws, profile)?;
    let normal = images::normal(&built);
    let mut times = Vec::new();
    for boot in ["bios", "uefi"] {
        let (image, firmware) = crate::check::boot_target(ws, normal, boot, "boottime")?;
        let log = ws.mk_dir().join("bench-logs").join(format!("boot-{boot}.log"));
        let mut guest = Guest::start(ws, image, firmware.as_ref(), &log, crate::check::SMP)?;
        let at = session::wait_for_prompt(&mut guest, TIMEOUT)
            .map_err(|e| format!("{boot}: {e} (serial log in {})", ws.show(&log)))?;
        let free = session::run_command(&mut guest, "free", false)?.lines;
        let memory = free
            .iter()
            .find(|line| line.starts_with("Mem:"))
            .cloned()
            .unwrap_or_else(|| format!("(free printed no Mem: line: {free:?})"));
        times.push(Boot { firmware: boot, to_prompt: at, memory });
    }
    Ok(times)
}

/// The report: `boot to the serial shell prompt (release image, TCG,
/// -smp 2): BIOS 3.1 s, UEFI 5.9 s`, then `free`'s `Mem:` line of each
/// boot.
pub fn describe(profile: Profile, boots: &[Boot]) -> String {
    let parts: Vec<String> = boots
        .iter()
        .map(|boot| format!("{} {:.1} s", boot.firmware.to_uppercase(), boot.to_prompt.as_secs_f64()))
        .collect();
    let mut text =
        format!("boot to the serial shell prompt ({} image, TCG, -smp 2): {}", profile.dir(), parts.join(", "));
    for boot in boots {
        let memory = boot.memory.split_whitespace().collect::<Vec<_>>().join(" ");
        let firmware = boot.firmware.to_uppercase();
        text += &format!("\nmemory at the prompt ({firmware}), `free` (total, used, free): {memory}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_both_boots() {
        let boot = |firmware, ms, memory: &str| Boot {
            firmware,
            to_prompt: Duration::from_millis(ms),
            memory: memory.to_string(),
        };
        let boots = [boot("bios", 3140, "Mem:   1   2 3"), boot("uefi", 5960, "Mem: 4 5 6")];
        let text = describe(Profile::Release, &boots);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "boot to the serial shell prompt (release image, TCG, -smp 2): BIOS 3.1 s, UEFI 6.0 s");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "memory at the prompt (BIOS), `free` (total, used, free): Mem: 1 2 3");
        assert_eq!(lines[2], "memory at the prompt (UEFI), `free` (total, used, free): Mem: 4 5 6");
    }
}
