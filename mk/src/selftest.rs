//! Reading the self-test kernel's serial output and deciding the verdict.
//!
//! The kernel reports in a small line protocol (`[selftest] plan N`, one
//! `ok`/`FAIL` line per test, `[selftest] done P passed, F failed`) and
//! ends QEMU through `isa-debug-exit`. The host trusts neither alone: a boot
//! passes only if the exit status, the plan, every result line and the done
//! line all agree, no line reports a kernel panic, and every self-test the
//! host requires has reported. Firmware noise (OVMF's escape sequences and
//! `BdsDxe:` lines) is ignored: only lines containing a marker count.

use std::time::Duration;

use crate::qemu;

const MARKER: &str = "[selftest] ";
const PANIC: &str = "KERNEL PANIC";

/// What one line of serial output is.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `Ferrite <version> booted...`
    Banner,
    Plan(usize),
    Ok {
        name: &'a str,
        detail: Option<&'a str>,
    },
    Fail {
        name: &'a str,
        reason: &'a str,
    },
    Done {
        passed: usize,
        failed: usize,
    },
    /// A `[selftest]` line that fits none of the forms above.
    Malformed(&'a str),
    /// A line containing `KERNEL PANIC`.
    Panic,
    /// Anything else (firmware output, kernel log lines).
    Other,
}

pub fn classify(line: &str) -> Line<'_> {
    if line.contains(PANIC) {
        return Line::Panic;
    }
    if let Some(at) = line.find(MARKER) {
        let body = line[at + MARKER.len()..].trim_end();
        return parse_body(body).unwrap_or(Line::Malformed(body));
    }
    if line.contains("Ferrite ") && line.contains(" booted") {
        return Line::Banner;
    }
    Line::Other
}

fn parse_body(body: &str) -> Option<Line<'_>> {
    let (word, rest) = body.split_once(' ')?;
    let rest = rest.trim();
    match word {
        "plan" => rest.parse().ok().map(Line::Plan),
        "ok" => {
            let (name, detail) = match rest.strip_suffix(')').and_then(|r| r.split_once(" (")) {
                Some((name, detail)) => (name.trim(), Some(detail)),
                None => (rest, None),
            };
            (!name.is_empty()).then_some(Line::Ok { name, detail })
        }
        "FAIL" => {
            let (name, reason) = rest.split_once(':').unwrap_or((rest, ""));
            let name = name.trim();
            (!name.is_empty()).then_some(Line::Fail { name, reason: reason.trim() })
        }
        "done" => {
            let (passed, failed) = rest.split_once(" passed, ")?;
            Some(Line::Done {
                passed: passed.trim().parse().ok()?,
                failed: failed.strip_suffix(" failed")?.trim().parse().ok()?,
            })
        }
        _ => None,
    }
}

/// One `ok` or `FAIL` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    pub name: String,
    pub passed: bool,
    /// The detail of an `ok` line or the reason of a `FAIL` line.
    pub note: Option<String>,
}

/// How the QEMU run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// QEMU exited on its own: its status, or `None` if a signal ended it.
    Exited(Option<i32>),
    /// mk killed QEMU; why (e.g. "no verdict within 180 s").
    Killed(String),
}

/// What a boot printed, fed one line at a time as it arrives.
#[derive(Debug, Default)]
pub struct Transcript {
    /// When the banner line arrived.
    pub banner_at: Option<Duration>,
    /// When the done line arrived.
    pub done_at: Option<Duration>,
    pub results: Vec<TestResult>,
    plan: Option<usize>,
    done: Option<(usize, usize)>,
    panic: Option<String>,
    /// The panic line ended with `:`; its message is on the next line.
    panic_continues: bool,
    problems: Vec<String>,
}

/// The verdict on one boot.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Why the boot failed; empty if it passed.
    pub reasons: Vec<String>,
    /// Required self-tests that did not report.
    pub missing: Vec<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.reasons.is_empty()
    }
}

impl Transcript {
    /// Takes one line (without its line ending) that arrived `at` after
    /// QEMU started.
    pub fn feed(&mut self, line: &str, at: Duration) {
        match classify(line) {
            // Rust's panic message starts on the line after the location.
            _ if self.panic_continues => {
                self.panic_continues = false;
                if let Some(panic) = &mut self.panic {
                    panic.push(' ');
                    panic.push_str(line.trim());
                }
            }
            Line::Other => {}
            Line::Banner => {
                self.banner_at.get_or_insert(at);
            }
            Line::Panic => {
                if self.panic.is_none() {
                    let from = line.find(PANIC).unwrap_or(0);
                    let panic = line[from..].trim();
                    self.panic_continues = panic.ends_with(':');
                    self.panic = Some(panic.to_string());
                }
            }
            Line::Malformed(body) => self.problems.push(format!("unrecognised line `[selftest] {body}`")),
            Line::Plan(n) => {
                if self.plan.is_some() {
                    self.problems.push("a second plan line".to_string());
                } else if !self.results.is_empty() {
                    self.problems.push("the plan line came after results".to_string());
                }
                self.plan.get_or_insert(n);
            }
            Line::Ok { name, detail } => self.result(name, true, detail),
            Line::Fail { name, reason } => self.result(name, false, (!reason.is_empty()).then_some(reason)),
            Line::Done { passed, failed } => {
                if self.done.is_some() {
                    self.problems.push("a second done line".to_string());
                } else {
                    self.done = Some((passed, failed));
                    self.done_at = Some(at);
                }
            }
        }
    }

    fn result(&mut self, name: &str, passed: bool, note: Option<&str>) {
        if self.plan.is_none() {
            self.problems.push(format!("result `{name}` came before the plan line"));
        }
        if self.done.is_some() {
            self.problems.push(format!("result `{name}` came after the done line"));
        }
        if self.results.iter().any(|r| r.name == name) {
            self.problems.push(format!("`{name}` reported twice"));
        }
        self.results.push(TestResult { name: name.to_string(), passed, note: note.map(str::to_string) });
    }

    /// Whether the kernel has said all it will (done line or panic), so
    /// QEMU should be about to exit.
    pub fn finished(&self) -> bool {
        self.done.is_some() || self.panic.is_some()
    }

    pub fn verdict(&self, ending: &Ending, required: &[&str]) -> Verdict {
        let mut reasons = Vec::new();
        match ending {
            Ending::Exited(Some(qemu::EXIT_PASSED)) => {}
            Ending::Exited(code) => reasons.push(format!("QEMU ended with {}", qemu::exit_meaning(*code))),
            Ending::Killed(why) => reasons.push(format!("QEMU was killed: {why}")),
        }
        if let Some(line) = &self.panic {
            reasons.push(line.clone());
        }
        let passed = self.results.iter().filter(|r| r.passed).count();
        let failed = self.results.len() - passed;
        match self.plan {
            None => reasons.push("no `[selftest] plan N` line".to_string()),
            Some(n) if n != self.results.len() => {
                reasons.push(format!("the plan announced {n} self-tests but {} reported", self.results.len()))
            }
            Some(_) => {}
        }
        if failed > 0 {
            let names: Vec<&str> = self.results.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect();
            reasons.push(format!("{failed} failed: {}", names.join(", ")));
        }
        match self.done {
            None => reasons.push("no `[selftest] done` line".to_string()),
            Some((p, f)) if (p, f) != (passed, failed) => reasons.push(format!(
                "the done line says {p} passed, {f} failed, but the result lines say {passed} passed, {failed} failed"
            )),
            Some(_) => {}
        }
        reasons.extend(self.problems.iter().cloned());
        let missing: Vec<String> = required
            .iter()
            .filter(|name| !self.results.iter().any(|r| r.name == **name))
            .map(|name| name.to_string())
            .collect();
        if !missing.is_empty() {
            reasons.push(format!("required self-tests did not report: {}", missing.join(", ")));
        }
        Verdict { reasons, missing }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> Transcript {
        let mut t = Transcript::default();
        for (i, line) in lines.iter().enumerate() {
            t.feed(line, Duration::from_millis(100 * i as u64));
        }
        t
    }

    const PASSED: Ending = Ending::Exited(Some(33));

    const GOOD: &[&str] = &[
        "\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01HBdsDxe: loading Boot0001",
        "BdsDxe: starting Boot0001 \"UEFI QEMU HARDDISK\"",
        "\x1b[0mFerrite 0.1.0 booted: 2 CPUs, 245 MiB usable",
        "[selftest] plan 2",
        "some kernel log line",
        "[selftest] ok heap (1024 allocations)",
        "[selftest] ok frames",
        "[selftest] done 2 passed, 0 failed",
    ];

    #[test]
    fn classifies_lines() {
        assert_eq!(classify("Ferrite 0.1.0 booted"), Line::Banner);
        assert_eq!(classify("\x1b[01;01HFerrite 0.1.0 booted: 2 CPUs"), Line::Banner);
        assert_eq!(classify("[selftest] plan 12"), Line::Plan(12));
        assert_eq!(classify("\x1b[0m[selftest] plan 3\r"), Line::Plan(3));
        assert_eq!(classify("[selftest] ok heap"), Line::Ok { name: "heap", detail: None });
        assert_eq!(
            classify("[selftest] ok smp (2 CPUs (BSP + 1))"),
            Line::Ok { name: "smp", detail: Some("2 CPUs (BSP + 1)") }
        );
        assert_eq!(
            classify("[selftest] FAIL paging: expected 0x1000, got 0x2000"),
            Line::Fail { name: "paging", reason: "expected 0x1000, got 0x2000" }
        );
        assert_eq!(classify("[selftest] FAIL paging"), Line::Fail { name: "paging", reason: "" });
        assert_eq!(classify("[selftest] done 3 passed, 1 failed"), Line::Done { passed: 3, failed: 1 });
        assert_eq!(classify("KERNEL PANIC: at src/x.rs:1"), Line::Panic);
        assert_eq!(classify("[selftest] plan two"), Line::Malformed("plan two"));
        assert_eq!(classify("[selftest] ok"), Line::Malformed("ok"));
        assert_eq!(classify("[selftest] done 3 passed"), Line::Malformed("done 3 passed"));
        assert_eq!(classify("BdsDxe: loading Boot0001"), Line::Other);
        assert_eq!(classify("Ferrite booting"), Line::Other);
    }

    #[test]
    fn a_good_run_passes() {
        let t = run(GOOD);
        let v = t.verdict(&PASSED, &["heap"]);
        assert!(v.passed(), "{:?}", v.reasons);
        assert_eq!(t.banner_at, Some(Duration::from_millis(200)));
        assert_eq!(t.done_at, Some(Duration::from_millis(700)));
        assert!(t.finished());
        assert_eq!(
            t.results[0],
            TestResult { name: "heap".into(), passed: true, note: Some("1024 allocations".into()) }
        );
    }

    #[test]
    fn the_empty_plan_passes() {
        let t = run(&["Ferrite 0.1.0 booted", "[selftest] plan 0", "[selftest] done 0 passed, 0 failed"]);
        assert!(t.verdict(&PASSED, &[]).passed());
    }

    #[test]
    fn exit_status_must_be_33() {
        let t = run(GOOD);
        let v = t.verdict(&Ending::Exited(Some(35)), &[]);
        assert!(!v.passed());
        assert!(v.reasons[0].contains("self-tests failed"), "{:?}", v.reasons);
        assert!(!t.verdict(&Ending::Exited(None), &[]).passed());
        let v = t.verdict(&Ending::Killed("no verdict within 180 s".into()), &[]);
        assert!(v.reasons[0].contains("180 s"));
    }

    #[test]
    fn failures_and_count_mismatches_fail() {
        let t = run(&[
            "[selftest] plan 2",
            "[selftest] ok a",
            "[selftest] FAIL b: broke",
            "[selftest] done 1 passed, 1 failed",
        ]);
        let v = t.verdict(&PASSED, &[]);
        assert_eq!(v.reasons, ["1 failed: b"]);

        let t = run(&["[selftest] plan 3", "[selftest] ok a", "[selftest] ok b", "[selftest] done 2 passed, 0 failed"]);
        assert!(t.verdict(&PASSED, &[]).reasons[0].contains("announced 3"));

        let t = run(&["[selftest] plan 1", "[selftest] ok a", "[selftest] done 2 passed, 0 failed"]);
        assert!(t.verdict(&PASSED, &[]).reasons[0].contains("done line says"));
    }

    #[test]
    fn missing_lines_fail() {
        let t = run(&["[selftest] ok a", "[selftest] done 1 passed, 0 failed"]);
        let v = t.verdict(&PASSED, &[]);
        assert!(v.reasons.iter().any(|r| r.contains("no `[selftest] plan")));
        assert!(v.reasons.iter().any(|r| r.contains("before the plan")));

        let t = run(&["[selftest] plan 1", "[selftest] ok a"]);
        assert!(!t.finished());
        let v = t.verdict(&PASSED, &[]);
        assert_eq!(v.reasons, ["no `[selftest] done` line"]);
    }

    #[test]
    fn a_panic_fails_even_with_status_33() {
        let mut lines = GOOD.to_vec();
        lines.push("KERNEL PANIC: panicked at kernel/src/x.rs:1:1");
        let t = run(&lines);
        let v = t.verdict(&PASSED, &[]);
        assert_eq!(v.reasons, ["KERNEL PANIC: panicked at kernel/src/x.rs:1:1"]);

        let t = run(&[
            "Ferrite 0.1.0 booted",
            "[selftest] plan 1",
            "\x1b[0mKERNEL PANIC: panicked at kernel/src/x.rs:1:1:",
            "boom",
            "[selftest] ok a",
        ]);
        let v = t.verdict(&Ending::Exited(Some(37)), &[]);
        assert_eq!(v.reasons[0], "QEMU ended with kernel panic (37)");
        assert_eq!(v.reasons[1], "KERNEL PANIC: panicked at kernel/src/x.rs:1:1: boom");
    }

    #[test]
    fn protocol_problems_fail() {
        let t = run(&[
            "[selftest] plan 2",
            "[selftest] plan 2",
            "[selftest] ok a",
            "[selftest] ok a",
            "[selftest] bogus",
            "[selftest] done 2 passed, 0 failed",
        ]);
        let v = t.verdict(&PASSED, &[]);
        assert_eq!(v.reasons, ["a second plan line", "`a` reported twice", "unrecognised line `[selftest] bogus`"]);
    }

    #[test]
    fn required_selftests_must_report() {
        let t = run(GOOD);
        let v = t.verdict(&PASSED, &["heap", "gdt", "frames", "idt"]);
        assert_eq!(v.missing, ["gdt", "idt"]);
        assert!(!v.passed());
    }
}
