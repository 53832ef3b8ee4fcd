//! The shutdown tests, last in a boot: `poweroff` or `reboot` typed at the
//! serial shell must stop every program and daemon (init says so, the
//! daemons newest first) and turn the machine off or reset it, so that
//! QEMU exits by itself within [`LIMIT`]: on ACPI S5 it exits, and on a
//! reset too, since test boots run with `-no-reboot`. Exit status 0 and no
//! kernel panic, in both cases.
//!
//! May touch: the guest it is handed.

use std::time::Duration;

use crate::check::strip_escapes;
use crate::guest::Guest;

/// QEMU must be gone this soon after the command is typed.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Type `command` (`poweroff` or `reboot`) and check the machine goes;
/// the note for the check.
pub fn run(guest: &mut Guest, command: &str) -> Result<String, String> {
    let mark = guest.output.len();
    guest.type_text(&format!("{command}\r"))?;
    let status = guest.wait_for_exit(LIMIT);
    let text = strip_escapes(&String::from_utf8_lossy(&guest.output[mark..]));
    let status = status.map_err(|err| format!("`{command}`: {err}; console:\n{text}"))?;
    verdict(command, &text, status.code())
}

/// Whether the console text after `command` and QEMU's exit code show a
/// clean stop; the note, or what is wrong.
fn verdict(command: &str, text: &str, code: Option<i32>) -> Result<String, String> {
    let said = if command == "poweroff" { "init: powering off" } else { "init: rebooting" };
    let stopping = format!("init: {command}: stopping");
    let problem = if text.contains("panic") {
        Some("the kernel panicked")
    } else if !text.contains(&stopping) {
        Some("init did not say it was stopping the system")
    } else if !text.contains(said) {
        Some("init did not get to the end of the stop")
    } else if code != Some(0) {
        Some("QEMU did not exit with status 0")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(format!("`{command}`: {problem} (QEMU exit code {code:?}); console:\n{text}"));
    }
    let stopped = text.lines().filter(|l| l.contains("init: stopped ")).count();
    Ok(format!("{stopped} daemons stopped, then QEMU exited by itself"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_poweroff_passes_and_a_panic_fails() {
        let clean = "poweroff\ninit: poweroff: stopping 2 processes, then 2 daemons\ninit: stopped greetd (pid 9)\n\
                     init: stopped tmpd (pid 8)\ninit: powering off\n";
        assert_eq!(
            verdict("poweroff", clean, Some(0)),
            Ok(String::from("2 daemons stopped, then QEMU exited by itself"))
        );
        assert!(verdict("poweroff", clean, Some(1)).is_err());
        assert!(verdict("reboot", clean, Some(0)).is_err());
        assert!(verdict("poweroff", &format!("{clean}kernel panic"), Some(0)).is_err());
        assert!(verdict("poweroff", "poweroff\n", Some(0)).is_err());
    }
}
