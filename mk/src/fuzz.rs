//! `cargo mk fuzz`: boot the normal image, type `fuzz ...` at its serial
//! shell (the in-guest fuzzer, `programs/fuzz`) and read the verdict.
//! `cargo mk test` makes the same run with [`TEST_CALLS`] calls on two and
//! on four CPUs.
//!
//! A run fails on the fuzzer's own `fuzz: FAIL` line (a hang, a leak), on
//! a kernel panic, or when no verdict comes within the run's time limit
//! (a hung kernel), and the tail of the serial log is shown. Each boot's log is
//! `target/ferrite/test-logs/fuzz-smpN.log`. The machine's network card is
//! on an isolated user network (`Nic::Isolated`): the children fuzz
//! `tcp:`, `udp:`, `icmp:` and `netcfg:` without reaching the host.

use std::path::Path;
use std::time::Duration;

use crate::check::strip_escapes;
use crate::guest::Guest;
use crate::session;
use crate::workspace::Workspace;

/// Calls in a run when `--calls` is not given, and in `cargo mk test`'s:
/// about two minutes of calls on each boot (100,000 took five, and the
/// two runs were a third of CI's time); long runs are `--minutes`.
pub const TEST_CALLS: u64 = 40_000;
/// The guest must finish this many calls per second at least (TCG, debug
/// build): the time limit is the calls over this, plus the boot.
const MIN_CALLS_PER_SECOND: u64 = 150;

/// One fuzzing run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub smp: u32,
    /// Calls to make, when `minutes` is 0.
    pub calls: u64,
    pub minutes: u64,
    pub seed: u64,
}

impl Run {
    /// The command typed at the guest's shell.
    pub fn command(&self) -> String {
        let budget =
            if self.minutes > 0 { format!("--minutes {}", self.minutes) } else { format!("--calls {}", self.calls) };
        // Two children per CPU: while one waits on a slow daemon (or to be
        // killed as stalled), the other keeps the CPU busy.
        format!("initfs:libexec/fuzz {budget} --seed {} --parallel {}", self.seed, (self.smp * 2).clamp(2, 8))
    }

    fn time_limit(&self) -> Duration {
        if self.minutes > 0 {
            Duration::from_secs(self.minutes * 60 + 180)
        } else {
            Duration::from_secs(120 + self.calls / MIN_CALLS_PER_SECOND)
        }
    }
}

/// The verdict in `console`: the fuzzer's last line, or a panic. The
/// verdict may follow other bytes on its line: a child's fuzzed write to
/// the console (random bytes, no newline) can come just before it.
fn verdict(console: &str) -> Option<Result<String, String>> {
    if let Some(line) = console.lines().find(|l| l.contains("KERNEL PANIC")) {
        return Some(Err(line.trim().to_string()));
    }
    let start = |l: &str| l.find("fuzz: PASS").or_else(|| l.find("fuzz: FAIL"));
    let line = console.lines().find_map(|l| start(l).map(|at| &l[at..]))?;
    let line = line.trim_end_matches('\r').to_string();
    Some(if line.starts_with("fuzz: PASS") { Ok(line) } else { Err(line) })
}

/// Boot `image` (BIOS) on `run.smp` CPUs and fuzz; the fuzzer's PASS line,
/// or why it failed with the console's last lines.
pub fn run(ws: &Workspace, image: &Path, run: &Run) -> Result<String, String> {
    let log = ws.log_dir().join(format!("fuzz-smp{}.log", run.smp));
    println!("mk: fuzzing on {} CPUs: `{}` (serial log in {})", run.smp, run.command(), ws.show(&log));
    // The card reaches nothing outside QEMU: the children's `tcp:` and
    // `udp:` calls must not touch the host.
    let cmd = crate::check::test_qemu_command_nic(ws, image, None, run.smp, true, crate::qemu::Nic::Isolated);
    let mut guest = Guest::spawn(cmd, &log)?;
    session::wait_for_prompt(&mut guest, Duration::from_secs(90))?;
    let mark = guest.output.len();
    guest.type_text(&format!("{}\r", run.command()))?;
    let deadline = guest.elapsed() + run.time_limit();
    let tail = |guest: &Guest| {
        let text = strip_escapes(&String::from_utf8_lossy(&guest.output[mark..]));
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    // Only the lines that came since the last look are searched: a long
    // run prints megabytes, and reading it all again each time would
    // make this loop slower than the guest.
    let mut scanned = mark;
    loop {
        if let Err(err) = guest.poll(Duration::from_millis(500)) {
            return Err(format!("{err}; console:\n{}", tail(&guest)));
        }
        if let Some(end) = guest.output[scanned..].iter().rposition(|&b| b == b'\n').map(|i| scanned + i + 1) {
            let fresh = strip_escapes(&String::from_utf8_lossy(&guest.output[scanned..end]));
            scanned = end;
            if let Some(verdict) = verdict(&fresh) {
                // Let the rest of the line (and the prompt) arrive.
                guest.wait_until(Duration::from_secs(5), Duration::from_millis(300), session::ends_in_prompt);
                return verdict.map_err(|line| format!("{line}\nconsole:\n{}", tail(&guest)));
            }
        }
        // The shell's prompt back without a verdict: the fuzzer died.
        if scanned > mark && session::ends_in_prompt(&guest.output[mark..]) {
            return Err(format!("the fuzzer ended without a verdict; console:\n{}", tail(&guest)));
        }
        if guest.elapsed() > deadline {
            return Err(format!("no verdict within {} s; console:\n{}", run.time_limit().as_secs(), tail(&guest)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_names_the_budget_seed_and_slots() {
        let run = Run { smp: 4, calls: 100_000, minutes: 0, seed: 7 };
        assert_eq!(run.command(), "initfs:libexec/fuzz --calls 100000 --seed 7 --parallel 8");
        let run = Run { smp: 1, calls: 0, minutes: 30, seed: 1 };
        assert_eq!(run.command(), "initfs:libexec/fuzz --minutes 30 --seed 1 --parallel 2");
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict("boot\nfuzz: PASS 10 calls\r\n$ "), Some(Ok("fuzz: PASS 10 calls".to_string())));
        assert!(matches!(verdict("fuzz: FAIL leak\n"), Some(Err(l)) if l.contains("leak")));
        assert!(matches!(verdict("x\nKERNEL PANIC on CPU 1: oops\n"), Some(Err(l)) if l.contains("oops")));
        assert_eq!(verdict("fuzz --calls 10\n"), None);
        // After a child's bytes on the same line (seen in a test run).
        assert_eq!(
            verdict("\u{fffd},k\u{fffd}sys:connELFfuzz: PASS 103037 calls\r\n$ "),
            Some(Ok("fuzz: PASS 103037 calls".to_string()))
        );
    }
}
