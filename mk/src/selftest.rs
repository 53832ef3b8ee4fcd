//! Reading the self-test kernel's serial output and deciding the verdict.
//!
//! Two suites report in the same small line protocol: the kernel's own
//! checks (`[selftest] ...`) and then the user-mode suite that the kernel
//! starts as its first process (`[usertest] ...`). Each suite prints
//! `plan N`, one `ok`/`FAIL` line per test and `done P passed, F failed`.
//! The kernel ends QEMU through `isa-debug-exit` when the user suite exits.
//! The host trusts neither side alone: a boot passes only if the exit
//! status, both plans, every result line and both done lines agree, no line
//! reports a kernel panic, and every test the host requires has reported.
//! Firmware noise (OVMF's escape sequences and `BdsDxe:` lines) is ignored:
//! only lines containing a marker count.

use std::time::Duration;

use crate::qemu;

const PANIC: &str = "KERNEL PANIC";

/// Which suite a protocol line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// The kernel's self-tests, `[selftest]`.
    Kernel,
    /// The user-mode tests, `[usertest]`.
    User,
}

impl Suite {
    pub const ALL: [Suite; 2] = [Suite::Kernel, Suite::User];

    pub fn marker(self) -> &'static str {
        match self {
            Suite::Kernel => "[selftest] ",
            Suite::User => "[usertest] ",
        }
    }

    /// How result names of this suite are shown (`bios: user: fork_basic`).
    pub fn prefix(self) -> &'static str {
        match self {
            Suite::Kernel => "",
            Suite::User => "user: ",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What one line of serial output is.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `Ferrite <version> booted...`
    Banner,
    Plan(Suite, usize),
    Ok {
        suite: Suite,
        name: &'a str,
        detail: Option<&'a str>,
    },
    Fail {
        suite: Suite,
        name: &'a str,
        reason: &'a str,
    },
    Done {
        suite: Suite,
        passed: usize,
        failed: usize,
    },
    /// A protocol line that fits none of the forms above.
    Malformed(Suite, &'a str),
    /// A line containing `KERNEL PANIC`.
    Panic,
    /// Anything else (firmware output, kernel log lines).
    Other,
}

pub fn classify(line: &str) -> Line<'_> {
    if line.contains(PANIC) {
        return Line::Panic;
    }
    for suite in Suite::ALL {
        if let Some(at) = line.find(suite.marker()) {
            let body = line[at + suite.marker().len()..].trim_end();
            return parse_body(suite, body).unwrap_or(Line::Malformed(suite, body));
        }
    }
    if line.contains("Ferrite ") && line.contains(" booted") {
        return Line::Banner;
    }
    Line::Other
}

fn parse_body(suite: Suite, body: &str) -> Option<Line<'_>> {
    let (word, rest) = body.split_once(' ')?;
    let rest = rest.trim();
    match word {
        "plan" => rest.parse().ok().map(|n| Line::Plan(suite, n)),
        "ok" => {
            let (name, detail) = match rest.strip_suffix(')').and_then(|r| r.split_once(" (")) {
                Some((name, detail)) => (name.trim(), Some(detail)),
                None => (rest, None),
            };
            (!name.is_empty()).then_some(Line::Ok { suite, name, detail })
        }
        "FAIL" => {
            let (name, reason) = rest.split_once(':').unwrap_or((rest, ""));
            let name = name.trim();
            (!name.is_empty()).then_some(Line::Fail { suite, name, reason: reason.trim() })
        }
        "done" => {
            let (passed, failed) = rest.split_once(" passed, ")?;
            Some(Line::Done {
                suite,
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
    pub suite: Suite,
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

/// Plan and done line of one suite.
#[derive(Debug, Default, Clone, Copy)]
struct SuiteState {
    plan: Option<usize>,
    done: Option<(usize, usize)>,
    done_at: Option<Duration>,
}

/// What a boot printed, fed one line at a time as it arrives.
#[derive(Debug, Default)]
pub struct Transcript {
    /// When the banner line arrived.
    pub banner_at: Option<Duration>,
    pub results: Vec<TestResult>,
    suites: [SuiteState; 2],
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
    /// Required tests that did not report (shown with their suite prefix).
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
            Line::Malformed(suite, body) => self.problems.push(format!("unrecognised line `{}{body}`", suite.marker())),
            Line::Plan(suite, n) => {
                let state = &mut self.suites[suite.index()];
                if state.plan.is_some() {
                    self.problems.push(format!("a second {}plan line", suite.marker()));
                } else if self.results.iter().any(|r| r.suite == suite) {
                    self.problems.push(format!("the {}plan line came after results", suite.marker()));
                }
                state.plan.get_or_insert(n);
            }
            Line::Ok { suite, name, detail } => self.result(suite, name, true, detail),
            Line::Fail { suite, name, reason } => {
                self.result(suite, name, false, (!reason.is_empty()).then_some(reason))
            }
            Line::Done { suite, passed, failed } => {
                let state = &mut self.suites[suite.index()];
                if state.done.is_some() {
                    self.problems.push(format!("a second {}done line", suite.marker()));
                } else {
                    state.done = Some((passed, failed));
                    state.done_at = Some(at);
                }
            }
        }
    }

    fn result(&mut self, suite: Suite, name: &str, passed: bool, note: Option<&str>) {
        let state = self.suites[suite.index()];
        if state.plan.is_none() {
            self.problems.push(format!("result `{name}` came before the {}plan line", suite.marker()));
        }
        if state.done.is_some() {
            self.problems.push(format!("result `{name}` came after the {}done line", suite.marker()));
        }
        if self.results.iter().any(|r| r.suite == suite && r.name == name) {
            self.problems.push(format!("`{}{name}` reported twice", suite.prefix()));
        }
        self.results.push(TestResult { suite, name: name.to_string(), passed, note: note.map(str::to_string) });
    }

    /// When a suite's done line arrived.
    pub fn done_at(&self, suite: Suite) -> Option<Duration> {
        self.suites[suite.index()].done_at
    }

    /// Whether the guest has said all it will, so QEMU should be about to
    /// exit: a panic, a kernel suite that failed (the user suite then does
    /// not run), or both suites done.
    pub fn finished(&self) -> bool {
        let kernel = self.suites[Suite::Kernel.index()].done;
        let user = self.suites[Suite::User.index()].done;
        self.panic.is_some() || kernel.is_some_and(|(_, failed)| failed > 0) || (kernel.is_some() && user.is_some())
    }

    /// `required` lists, per suite, the test names that must report.
    pub fn verdict(&self, ending: &Ending, required: &[(Suite, &[&str])]) -> Verdict {
        let mut reasons = Vec::new();
        match ending {
            Ending::Exited(Some(qemu::EXIT_PASSED)) => {}
            Ending::Exited(code) => reasons.push(format!("QEMU ended with {}", qemu::exit_meaning(*code))),
            Ending::Killed(why) => reasons.push(format!("QEMU was killed: {why}")),
        }
        if let Some(line) = &self.panic {
            reasons.push(line.clone());
        }
        for suite in Suite::ALL {
            self.check_suite(suite, &mut reasons);
        }
        reasons.extend(self.problems.iter().cloned());
        let mut missing = Vec::new();
        for &(suite, names) in required {
            for name in names {
                if !self.results.iter().any(|r| r.suite == suite && r.name == *name) {
                    missing.push(format!("{}{name}", suite.prefix()));
                }
            }
        }
        if !missing.is_empty() {
            reasons.push(format!("required tests did not report: {}", missing.join(", ")));
        }
        Verdict { reasons, missing }
    }

    fn check_suite(&self, suite: Suite, reasons: &mut Vec<String>) {
        let marker = suite.marker();
        let results: Vec<&TestResult> = self.results.iter().filter(|r| r.suite == suite).collect();
        let passed = results.iter().filter(|r| r.passed).count();
        let failed = results.len() - passed;
        let state = self.suites[suite.index()];
        match state.plan {
            None => reasons.push(format!("no `{marker}plan N` line")),
            Some(n) if n != results.len() => {
                reasons.push(format!("{marker}plan announced {n} tests but {} reported", results.len()))
            }
            Some(_) => {}
        }
        if failed > 0 {
            let names: Vec<String> =
                results.iter().filter(|r| !r.passed).map(|r| format!("{}{}", suite.prefix(), r.name)).collect();
            reasons.push(format!("{failed} failed: {}", names.join(", ")));
        }
        match state.done {
            None => reasons.push(format!("no `{marker}done` line")),
            Some((p, f)) if (p, f) != (passed, failed) => reasons.push(format!(
                "{marker}done line says {p} passed, {f} failed, but the result lines say {passed} passed, {failed} failed"
            )),
            Some(_) => {}
        }
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
    const NONE: &[(Suite, &[&str])] = &[];

    const GOOD: &[&str] = &[
        "\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01HBdsDxe: loading Boot0001",
        "BdsDxe: starting Boot0001 \"UEFI QEMU HARDDISK\"",
        "\x1b[0mFerrite 0.1.0 booted: 2 CPUs, 245 MiB usable",
        "[selftest] plan 2",
        "some kernel log line",
        "[selftest] ok heap (1024 allocations)",
        "[selftest] ok frames",
        "[selftest] done 2 passed, 0 failed",
        "[usertest] plan 1",
        "[usertest] ok fork_basic",
        "[usertest] done 1 passed, 0 failed",
    ];

    /// A transcript with `kernel` lines and an empty, passing user suite.
    fn with_user(kernel: &[&'static str]) -> Vec<&'static str> {
        let mut lines = kernel.to_vec();
        lines.extend(["[usertest] plan 0", "[usertest] done 0 passed, 0 failed"]);
        lines
    }

    #[test]
    fn classifies_lines() {
        use Suite::{Kernel, User};
        assert_eq!(classify("Ferrite 0.1.0 booted"), Line::Banner);
        assert_eq!(classify("\x1b[01;01HFerrite 0.1.0 booted: 2 CPUs"), Line::Banner);
        assert_eq!(classify("[selftest] plan 12"), Line::Plan(Kernel, 12));
        assert_eq!(classify("\x1b[0m[selftest] plan 3\r"), Line::Plan(Kernel, 3));
        assert_eq!(classify("[usertest] plan 4"), Line::Plan(User, 4));
        assert_eq!(classify("[selftest] ok heap"), Line::Ok { suite: Kernel, name: "heap", detail: None });
        assert_eq!(
            classify("[selftest] ok smp (2 CPUs (BSP + 1))"),
            Line::Ok { suite: Kernel, name: "smp", detail: Some("2 CPUs (BSP + 1)") }
        );
        assert_eq!(
            classify("[usertest] FAIL paging: expected 0x1000, got 0x2000"),
            Line::Fail { suite: User, name: "paging", reason: "expected 0x1000, got 0x2000" }
        );
        assert_eq!(classify("[selftest] FAIL paging"), Line::Fail { suite: Kernel, name: "paging", reason: "" });
        assert_eq!(classify("[selftest] done 3 passed, 1 failed"), Line::Done { suite: Kernel, passed: 3, failed: 1 });
        assert_eq!(classify("KERNEL PANIC: at src/x.rs:1"), Line::Panic);
        assert_eq!(classify("[selftest] plan two"), Line::Malformed(Kernel, "plan two"));
        assert_eq!(classify("[usertest] ok"), Line::Malformed(User, "ok"));
        assert_eq!(classify("[selftest] done 3 passed"), Line::Malformed(Kernel, "done 3 passed"));
        assert_eq!(classify("BdsDxe: loading Boot0001"), Line::Other);
        assert_eq!(classify("Ferrite booting"), Line::Other);
    }

    #[test]
    fn a_good_run_passes() {
        let t = run(GOOD);
        let v = t.verdict(&PASSED, &[(Suite::Kernel, &["heap"]), (Suite::User, &["fork_basic"])]);
        assert!(v.passed(), "{:?}", v.reasons);
        assert_eq!(t.banner_at, Some(Duration::from_millis(200)));
        assert_eq!(t.done_at(Suite::Kernel), Some(Duration::from_millis(700)));
        assert_eq!(t.done_at(Suite::User), Some(Duration::from_millis(1000)));
        assert!(t.finished());
        assert_eq!(
            t.results[0],
            TestResult {
                suite: Suite::Kernel,
                name: "heap".into(),
                passed: true,
                note: Some("1024 allocations".into())
            }
        );
    }

    #[test]
    fn the_kernel_suite_alone_is_not_finished_but_a_failed_one_is() {
        let t = run(&["[selftest] plan 1", "[selftest] ok a", "[selftest] done 1 passed, 0 failed"]);
        assert!(!t.finished());
        assert!(t.verdict(&PASSED, NONE).reasons.iter().any(|r| r.contains("no `[usertest] plan")));
        let t = run(&["[selftest] plan 1", "[selftest] FAIL a: no", "[selftest] done 0 passed, 1 failed"]);
        assert!(t.finished());
    }

    #[test]
    fn empty_plans_pass() {
        let t = run(&with_user(&["Ferrite 0.1.0 booted", "[selftest] plan 0", "[selftest] done 0 passed, 0 failed"]));
        assert!(t.verdict(&PASSED, NONE).passed());
    }

    #[test]
    fn exit_status_must_be_33() {
        let t = run(GOOD);
        let v = t.verdict(&Ending::Exited(Some(35)), NONE);
        assert!(!v.passed());
        assert!(v.reasons[0].contains("self-tests failed"), "{:?}", v.reasons);
        assert!(!t.verdict(&Ending::Exited(None), NONE).passed());
        let v = t.verdict(&Ending::Killed("no verdict within 180 s".into()), NONE);
        assert!(v.reasons[0].contains("180 s"));
    }

    #[test]
    fn failures_and_count_mismatches_fail() {
        let t = run(&with_user(&[
            "[selftest] plan 2",
            "[selftest] ok a",
            "[selftest] FAIL b: broke",
            "[selftest] done 1 passed, 1 failed",
        ]));
        assert_eq!(t.verdict(&PASSED, NONE).reasons, ["1 failed: b"]);

        let t = run(&with_user(&[
            "[selftest] plan 3",
            "[selftest] ok a",
            "[selftest] ok b",
            "[selftest] done 2 passed, 0 failed",
        ]));
        assert!(t.verdict(&PASSED, NONE).reasons[0].contains("announced 3"));

        let t = run(&with_user(&["[selftest] plan 1", "[selftest] ok a", "[selftest] done 2 passed, 0 failed"]));
        assert!(t.verdict(&PASSED, NONE).reasons[0].contains("done line says"));

        let t = run(&[
            "[selftest] plan 0",
            "[selftest] done 0 passed, 0 failed",
            "[usertest] plan 1",
            "[usertest] FAIL exec_chain: child 3 exited 1",
            "[usertest] done 0 passed, 1 failed",
        ]);
        assert_eq!(t.verdict(&PASSED, NONE).reasons, ["1 failed: user: exec_chain"]);
    }

    #[test]
    fn missing_lines_fail() {
        let t = run(&with_user(&["[selftest] ok a", "[selftest] done 1 passed, 0 failed"]));
        let v = t.verdict(&PASSED, NONE);
        assert!(v.reasons.iter().any(|r| r.contains("no `[selftest] plan")));
        assert!(v.reasons.iter().any(|r| r.contains("before the [selftest] plan")));

        let t = run(&with_user(&["[selftest] plan 1", "[selftest] ok a"]));
        assert!(!t.finished());
        assert_eq!(t.verdict(&PASSED, NONE).reasons, ["no `[selftest] done` line"]);
    }

    #[test]
    fn a_panic_fails_even_with_status_33() {
        let mut lines = GOOD.to_vec();
        lines.push("KERNEL PANIC: panicked at kernel/src/x.rs:1:1");
        let t = run(&lines);
        assert_eq!(t.verdict(&PASSED, NONE).reasons, ["KERNEL PANIC: panicked at kernel/src/x.rs:1:1"]);

        let t = run(&[
            "Ferrite 0.1.0 booted",
            "[selftest] plan 1",
            "\x1b[0mKERNEL PANIC: panicked at kernel/src/x.rs:1:1:",
            "boom",
            "[selftest] ok a",
        ]);
        assert!(t.finished());
        let v = t.verdict(&Ending::Exited(Some(37)), NONE);
        assert_eq!(v.reasons[0], "QEMU ended with kernel panic (37)");
        assert_eq!(v.reasons[1], "KERNEL PANIC: panicked at kernel/src/x.rs:1:1: boom");
    }

    #[test]
    fn protocol_problems_fail() {
        let t = run(&with_user(&[
            "[selftest] plan 2",
            "[selftest] plan 2",
            "[selftest] ok a",
            "[selftest] ok a",
            "[selftest] bogus",
            "[selftest] done 2 passed, 0 failed",
        ]));
        assert_eq!(
            t.verdict(&PASSED, NONE).reasons,
            ["a second [selftest] plan line", "`a` reported twice", "unrecognised line `[selftest] bogus`"]
        );
    }

    #[test]
    fn the_same_name_may_appear_in_both_suites() {
        let t = run(&[
            "[selftest] plan 1",
            "[selftest] ok heap",
            "[selftest] done 1 passed, 0 failed",
            "[usertest] plan 1",
            "[usertest] ok heap",
            "[usertest] done 1 passed, 0 failed",
        ]);
        assert!(t.verdict(&PASSED, NONE).passed());
    }

    #[test]
    fn required_tests_must_report() {
        let t = run(GOOD);
        let v = t.verdict(&PASSED, &[(Suite::Kernel, &["heap", "gdt", "frames", "idt"]), (Suite::User, &["exec"])]);
        assert_eq!(v.missing, ["gdt", "idt", "user: exec"]);
        assert!(!v.passed());
    }
}
