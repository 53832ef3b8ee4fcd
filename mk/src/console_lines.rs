//! The serial console's lines stay whole when several writers share COM1:
//! a background loop writes the numbers 1000 to 9999 to `debug:`, a
//! thousand lines per write (the kernel writes each out whole), while the
//! foreground writes numbered lines to standard output one by one
//! (`seriald` shows them); every line the console shows between the
//! command and the next prompt must be one of those lines, whole, and
//! each must show once. (Before `seriald` wrote through `debug:raw`, its
//! bytes and the kernel's landed inside one another's lines here:
//! `7454serial line 7`.)
//!
//! May touch: the guest it is handed (its serial console).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::guest::Guest;
use crate::session;

/// The numbers the background loop writes to `debug:`.
const KERNEL_LINES: core::ops::RangeInclusive<usize> = 1000..=9999;
/// Lines the foreground writes to standard output.
const SERIAL_LINES: usize = 200;
/// The loops may take this long under TCG.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the check on the guest's serial shell; a note on success.
pub fn run(guest: &mut Guest) -> Result<String, String> {
    let command = format!(
        "for k in 1 2 3 4 5 6 7 8 9; do seq ${{k}}000 ${{k}}999 > debug:; done & \
         for i in $(seq 1 {SERIAL_LINES}); do echo \"serial line $i\"; done; wait"
    );
    let output = session::run_command_within(guest, &command, false, TIMEOUT)?;
    if !output.prompt_back {
        return Err(format!("no prompt within {} s", TIMEOUT.as_secs()));
    }
    let mut seen = [BTreeSet::new(), BTreeSet::new()];
    for line in &output.lines {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || is_job_notice(line) {
            continue;
        }
        let (writer, number) = whole_line(line).ok_or_else(|| format!("a line cut or mixed: {line:?}"))?;
        if !seen[writer].insert(number) {
            return Err(format!("{line:?} shown twice"));
        }
    }
    let kernel_lines = KERNEL_LINES.count();
    for (writer, name, count) in [(0, "debug:", kernel_lines), (1, "serial:", SERIAL_LINES)] {
        if seen[writer].len() != count {
            return Err(format!("{} of the {count} {name} lines shown", seen[writer].len()));
        }
    }
    Ok(format!(
        "{kernel_lines} lines through debug: in 9 writes and {SERIAL_LINES} through serial: at once, each shown \
         whole once"
    ))
}

/// The shell's `[1] 22` for the background loop.
fn is_job_notice(line: &str) -> bool {
    let Some((job, pid)) = line.strip_prefix('[').and_then(|rest| rest.split_once("] ")) else { return false };
    job.parse::<u32>().is_ok() && pid.parse::<u32>().is_ok()
}

/// Which writer wrote `line` (0 for `debug:`, 1 for standard output) and
/// its number, if it is one of theirs, whole.
fn whole_line(line: &str) -> Option<(usize, usize)> {
    match line.strip_prefix("serial line ") {
        Some(number) => number.parse().ok().filter(|n| (1..=SERIAL_LINES).contains(n)).map(|n| (1, n)),
        None => line.parse().ok().filter(|n| KERNEL_LINES.contains(n)).map(|n| (0, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_lines_count() {
        assert_eq!(whole_line("7454"), Some((0, 7454)));
        assert_eq!(whole_line("serial line 200"), Some((1, 200)));
        assert_eq!(whole_line("serial line 201"), None);
        assert_eq!(whole_line("74"), None);
        assert_eq!(whole_line("7454serial line 7"), None);
        assert_eq!(whole_line("2701\rserial line 1"), None);
        assert_eq!(whole_line("serial l7454ine 7"), None);
        assert_eq!(whole_line("serial line "), None);
        assert!(is_job_notice("[1] 22"));
        assert!(!is_job_notice("[1] 22serial line 3"));
    }
}
