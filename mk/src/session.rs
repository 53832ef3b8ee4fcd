//! Shell sessions: scripts in `ci/sessions/*.session` typed into the real
//! shell on the serial console of a booted normal image, each command's
//! output compared with what the script expects.
//!
//! # The script format
//!
//! ```text
//! # What this session checks. `#` lines are comments.
//! $ echo hello > tmp:a.txt; cat tmp:a.txt
//! hello
//! $ ls :
//! ...
//! tmp
//! ...
//! $ cat sys:uname
//! Ferrite * x86_64
//! ```
//!
//! A line starting with `$ ` is a command, typed as is, then Enter. The
//! lines after it, up to the next command, are the output it must print,
//! line for line: `*` in a line matches any run of characters, a line that
//! is exactly `...` matches any number of lines (none too), and a leading
//! `\` is dropped (to expect a line that starts with `#`, `$ ` or `...`).
//! Blank lines are expected output too, except at the end of a step.
//!
//! Lines starting with `> ` right after a command continue it, as a person
//! types a command of several lines (`for`, `if`, a here-document) at the
//! shell's `> ` prompt: each is typed after an Enter, and its echo
//! (`> LINE`) is the first output expected, before what the command
//! prints:
//!
//! ```text
//! $ for i in 1 2; do
//! > echo $i
//! > done
//! 1
//! 2
//! ```
//!
//! A command whose expected output starts with the line `^C` is
//! interrupted: once it has run for [`INTERRUPT_AFTER`], the runner presses
//! Ctrl-C (the console echoes `^C` and signals the foreground job), then
//! waits for the prompt as usual.
//!
//! # How a command's output is taken
//!
//! The runner waits for the prompt (a last line ending in `$ ` followed by
//! a moment of quiet), types the command and waits for the next prompt.
//! What came in between, with terminal escapes and `\r` removed, minus the
//! first line (the shell's echo of what was typed) and the last (the new
//! prompt), is the output. Log lines the console shows by itself (the
//! kernel's, `[    1.234567] INFO  cpu0 ...`, and warnings and errors
//! from `log:`, `[    1.234567] WARN  pid 9 ...`) are left out.
//!
//! May touch: the guest it is handed, the scripts it reads.

use std::fs;
use std::time::Duration;

use crate::check::strip_escapes;
use crate::guest::Guest;
use crate::workspace::Workspace;

/// Where the scripts live, relative to the workspace root.
pub const SESSION_DIR: &str = "ci/sessions";

/// How long one command may run before the session fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the console must stay quiet after a prompt before the runner
/// types (the prompt is complete and nothing else is coming).
const QUIET: Duration = Duration::from_millis(250);

/// How long an interrupted command runs before Ctrl-C.
pub const INTERRUPT_AFTER: Duration = Duration::from_millis(1500);

/// One expected output line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// `...`: any number of lines.
    AnyLines,
    /// A line, `*` matching any run of characters.
    Line(String),
}

/// A command and the output it must print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line of the command in the script.
    pub line: usize,
    pub command: String,
    pub expected: Vec<Pattern>,
}

/// A parsed script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub name: String,
    pub steps: Vec<Step>,
}

/// Parses a script; an error names the line.
pub fn parse(name: &str, text: &str) -> Result<Script, String> {
    let mut steps: Vec<Step> = Vec::new();
    // Whether the lines so far after the last command all continued it.
    let mut continuing = false;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if let Some(command) = line.strip_prefix("$ ") {
            if command.trim().is_empty() {
                return Err(format!("{name}:{}: empty command", index + 1));
            }
            steps.push(Step { line: index + 1, command: command.to_string(), expected: Vec::new() });
            continuing = true;
            continue;
        }
        if let Some(more) = line.strip_prefix("> ")
            && continuing
            && let Some(step) = steps.last_mut()
        {
            step.command.push('\r');
            step.command.push_str(more);
            step.expected.push(Pattern::Line(line.to_string()));
            continue;
        }
        continuing = false;
        if line.starts_with('#') {
            continue;
        }
        let Some(step) = steps.last_mut() else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(format!("{name}:{}: output before the first `$ ` command", index + 1));
        };
        step.expected.push(match line {
            "..." => Pattern::AnyLines,
            _ => Pattern::Line(line.strip_prefix('\\').unwrap_or(line).to_string()),
        });
    }
    for step in &mut steps {
        while step.expected.last() == Some(&Pattern::Line(String::new())) {
            step.expected.pop();
        }
    }
    if steps.is_empty() {
        return Err(format!("{name}: no commands"));
    }
    Ok(Script { name: name.to_string(), steps })
}

/// Whether `text` matches `pattern`, where `*` matches any characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Greedy with backtracking to the last `*`: linear for typical lines.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `lines` match `expected` as a whole.
pub fn matches(expected: &[Pattern], lines: &[String]) -> bool {
    match expected.split_first() {
        None => lines.is_empty(),
        Some((Pattern::AnyLines, rest)) => (0..=lines.len()).any(|skip| matches(rest, &lines[skip..])),
        Some((Pattern::Line(pattern), rest)) => {
            lines.first().is_some_and(|line| glob(pattern, line)) && matches(rest, &lines[1..])
        }
    }
}

/// Whether the console's last line is a shell prompt.
pub fn ends_in_prompt(output: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&output[output.len().saturating_sub(512)..]).into_owned();
    let text = strip_escapes(&text);
    // A prompt is printable ASCII (`initfs: $ `); a program dumping binary
    // to the console can end a chunk in `$ ` too, which is no prompt.
    text.rsplit('\n')
        .next()
        .is_some_and(|last| last.ends_with("$ ") && last.chars().all(|c| c.is_ascii_graphic() || c == ' '))
}

/// A log line the console shows by itself, not a command's output: the
/// kernel's (`[    1.234567] INFO  cpu0 ...`), or a warning or error from
/// `log:` (`[    1.234567] WARN  pid 9 ...`).
pub fn is_console_log(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('[') else { return false };
    let Some((stamp, rest)) = rest.split_once("] ") else { return false };
    let stamp = stamp.trim_start();
    if stamp.is_empty() || !stamp.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return false;
    }
    let Some((level, rest)) = rest.split_once(' ') else { return false };
    let rest = rest.trim_start();
    let kernel = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level) && rest.starts_with("cpu");
    let shown = ["WARN", "ERROR"].contains(&level) && rest.starts_with("pid ");
    kernel || shown
}

/// The output of one command from the console bytes printed between
/// typing it and the next prompt (see the module header).
pub fn command_output(printed: &[u8]) -> Vec<String> {
    let text = strip_escapes(&String::from_utf8_lossy(printed));
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    lines.pop(); // the new prompt
    if !lines.is_empty() {
        lines.remove(0); // the echo of the command
    }
    lines.retain(|line| !is_console_log(line));
    lines
}

/// A session's failure, with what was expected and what came.
fn describe_failure(step: &Step, got: &[String], why: &str) -> String {
    let mut text = format!("line {}: `{}`: {why}\n  expected:\n", step.line, step.command);
    for pattern in &step.expected {
        match pattern {
            Pattern::AnyLines => text.push_str("    ...\n"),
            Pattern::Line(line) => text.push_str(&format!("    {line}\n")),
        }
    }
    text.push_str("  got:\n");
    for line in got {
        text.push_str(&format!("    {line}\n"));
    }
    text
}

/// Every script in [`SESSION_DIR`], sorted by file name.
pub fn load_all(ws: &Workspace) -> Result<Vec<Script>, String> {
    let dir = ws.root.join(SESSION_DIR);
    let mut paths: Vec<_> = fs::read_dir(&dir)
        .map_err(|e| format!("reading {SESSION_DIR}: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "session"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let name = format!("{SESSION_DIR}/{}", path.file_name().unwrap_or_default().to_string_lossy());
            let text = fs::read_to_string(path).map_err(|e| format!("reading {name}: {e}"))?;
            parse(&name, &text)
        })
        .collect()
}

/// Waits for the first prompt; returns when it came (time since QEMU
/// started).
pub fn wait_for_prompt(guest: &mut Guest, timeout: Duration) -> Result<Duration, String> {
    if guest.wait_until(timeout, QUIET, ends_in_prompt) {
        Ok(guest.elapsed().saturating_sub(QUIET))
    } else {
        Err(format!("no shell prompt within {} s", timeout.as_secs()))
    }
}

/// After a command whose prompt never came back: presses Ctrl-C and says
/// whether a prompt follows within 10 s, so the next script can run.
pub fn recover(guest: &mut Guest) -> bool {
    if ends_in_prompt(&guest.output) {
        return true;
    }
    let mark = guest.output.len();
    guest.type_text("\x03").is_ok()
        && guest.wait_until(Duration::from_secs(10), QUIET, |out| out.len() > mark && ends_in_prompt(&out[mark..]))
}

/// A command's output, and whether the prompt came back after it.
pub struct Output {
    pub lines: Vec<String>,
    pub prompt_back: bool,
}

/// Types `command` at the prompt (and, if `interrupt`, Ctrl-C once it has
/// run for [`INTERRUPT_AFTER`]) and takes its output up to the next
/// prompt, or what came before [`COMMAND_TIMEOUT`].
pub fn run_command(guest: &mut Guest, command: &str, interrupt: bool) -> Result<Output, String> {
    run_command_within(guest, command, interrupt, COMMAND_TIMEOUT)
}

/// [`run_command`] for a command that may take up to `timeout`.
pub fn run_command_within(
    guest: &mut Guest,
    command: &str,
    interrupt: bool,
    timeout: Duration,
) -> Result<Output, String> {
    let mark = guest.output.len();
    guest.type_text(&format!("{command}\r"))?;
    if interrupt {
        // Let the command start (its echo ends with a line end), run a
        // while, then interrupt it.
        guest.wait_until(COMMAND_TIMEOUT, INTERRUPT_AFTER, |out| out.len() > mark && out[mark..].contains(&b'\n'));
        guest.type_text("\x03")?;
    }
    let prompt_back = guest.wait_until(timeout, QUIET, |out| {
        out.len() > mark && out[mark..].contains(&b'\n') && ends_in_prompt(&out[mark..])
    });
    Ok(Output { lines: command_output(&guest.output[mark..]), prompt_back })
}

/// Types `command` (one whose effect prints after the shell's prompt is
/// back, such as killing a daemon init restarts) and waits up to `within`
/// for the console after it to satisfy `done`; then an empty command
/// brings a fresh prompt (waiting for the prompt itself would wait out
/// [`COMMAND_TIMEOUT`], as the lines after it hide it). Whether `done`
/// came true.
pub fn run_until(
    guest: &mut Guest,
    command: &str,
    within: Duration,
    done: impl Fn(&str) -> bool,
) -> Result<bool, String> {
    let mark = guest.output.len();
    guest.type_text(&format!("{command}\r"))?;
    let seen = guest.wait_until(within, Duration::from_millis(300), |out| {
        done(&String::from_utf8_lossy(&out[mark.min(out.len())..]))
    });
    run_command(guest, "", false)?;
    Ok(seen)
}

/// Types every command of `script` into the shell at the prompt and
/// compares the outputs. Returns the transcript on failure.
pub fn run(guest: &mut Guest, script: &Script) -> Result<(), String> {
    let mut failures = Vec::new();
    for step in &script.steps {
        let interrupt = step.expected.first() == Some(&Pattern::Line(String::from("^C")));
        let output = run_command(guest, &step.command, interrupt)?;
        if !output.prompt_back {
            failures.push(describe_failure(step, &output.lines, "no prompt came back in time"));
            // The shell is stuck: the rest of the script cannot run.
            break;
        }
        if !matches(&step.expected, &output.lines) {
            failures.push(describe_failure(step, &output.lines, "output differs"));
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_commands_output_comments_and_escapes() {
        let script = parse("t", "# about\n\n$ echo hi\nhi\n\\# not a comment\n...\n\n$ true\n").unwrap();
        assert_eq!(script.steps.len(), 2);
        assert_eq!(script.steps[0].line, 3);
        assert_eq!(script.steps[0].command, "echo hi");
        assert_eq!(
            script.steps[0].expected,
            vec![Pattern::Line("hi".into()), Pattern::Line("# not a comment".into()), Pattern::AnyLines]
        );
        assert!(script.steps[1].expected.is_empty());
    }

    #[test]
    fn continuation_lines_are_typed_after_the_command_and_echoed() {
        let script = parse("t", "$ for i in 1 2; do\n> echo $i\n> done\n1\n> not typed\n$ true\n").unwrap();
        assert_eq!(script.steps[0].command, "for i in 1 2; do\recho $i\rdone");
        assert_eq!(
            script.steps[0].expected,
            vec![
                Pattern::Line("> echo $i".into()),
                Pattern::Line("> done".into()),
                Pattern::Line("1".into()),
                Pattern::Line("> not typed".into()),
            ]
        );
        assert_eq!(script.steps[1].command, "true");
    }

    #[test]
    fn a_binary_dump_ending_in_a_dollar_is_no_prompt() {
        assert!(ends_in_prompt(b"hello\ninitfs: $ "));
        assert!(ends_in_prompt(b"x\nfile:/home/root $ "));
        assert!(!ends_in_prompt(b"x\nH\xff\x89$ "));
        assert!(!ends_in_prompt(b"initfs: $ ls\n"));
    }

    #[test]
    fn parse_errors_name_the_line() {
        assert!(parse("t", "hello\n$ x\n").unwrap_err().contains("t:1"));
        assert!(parse("t", "$ \n").unwrap_err().contains("empty command"));
        assert!(parse("t", "# only comments\n").unwrap_err().contains("no commands"));
    }

    #[test]
    fn globs() {
        assert!(glob("Ferrite * x86_64", "Ferrite 0.1.0 x86_64"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b", "aXc"));
        assert!(!glob("abc", "abcd"));
        assert!(glob("", ""));
        assert!(!glob("", "x"));
    }

    #[test]
    fn any_lines_matches_zero_or_more() {
        let expected = vec![Pattern::AnyLines, Pattern::Line("tmp".into()), Pattern::AnyLines];
        assert!(matches(&expected, &lines(&["tmp"])));
        assert!(matches(&expected, &lines(&["a", "tmp", "z"])));
        assert!(!matches(&expected, &lines(&["a", "z"])));
        assert!(matches(&[], &[]));
        assert!(!matches(&[], &lines(&["extra"])));
        assert!(!matches(&[Pattern::Line("x".into())], &[]));
    }

    #[test]
    fn output_drops_echo_prompt_escapes_and_kernel_log() {
        let printed = b"echo hi\x1b[K\r\nhi\r\n[    3.141592] INFO  cpu0 kernel::x: noise\r\nthere\r\ninitfs: $ ";
        assert_eq!(command_output(printed), lines(&["hi", "there"]));
        assert_eq!(command_output(b"true\r\ninitfs: $ "), Vec::<String>::new());
    }

    #[test]
    fn prompt_detection() {
        assert!(ends_in_prompt(b"booted\r\ninitfs: $ "));
        assert!(ends_in_prompt(b"x\ntmp:dir $ \x1b[K"));
        assert!(!ends_in_prompt(b"initfs: $ \r\n"));
        assert!(!ends_in_prompt(b"loading"));
    }

    #[test]
    fn kernel_log_lines() {
        assert!(is_console_log("[    0.151146] INFO  cpu0 kernel::boot: boot took 151 ms"));
        assert!(is_console_log("[   12.5] WARN  cpu1 x"));
        assert!(is_console_log("[   12.5] WARN  pid 1 init: tmpd (pid 8) ended"));
        assert!(is_console_log("[   12.5] ERROR pid 9 redoxfsd: refused"));
        // What `cat log:` prints is output, unless the consoles show it too.
        assert!(!is_console_log("[   12.5] INFO  pid 1 init: tmpd (pid 8) ready after 3.0 ms"));
        assert!(!is_console_log("[x] INFO y"));
        assert!(!is_console_log("[ 1.0] hello"));
        assert!(!is_console_log("hello"));
    }

    #[test]
    fn the_shipped_sessions_parse() {
        let ws = Workspace::locate().expect("workspace");
        if ws.root.join(SESSION_DIR).exists() {
            let scripts = load_all(&ws).expect("sessions parse");
            assert!(scripts.iter().all(|s| !s.steps.is_empty()));
        }
    }
}
