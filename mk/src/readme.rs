//! The README tests itself. Two parts:
//!
//! - **Its shell examples.** Every plain code block of `README.md` with a
//!   shell prompt in it (`file:/home/root $ ls :`) is a session
//!   ([`examples`]): the lines from the first prompt on are commands and
//!   the output each must print. Numbers may differ (times, pids, sizes,
//!   rates: a run of digits, with the blanks before it, matches anything),
//!   a line `...` stands for any lines, and the log lines a console shows by
//!   itself are left out on both sides; everything else must be as the
//!   README says. A block whose command powers the machine off is compared
//!   with the console as the machine stops ([`run_shutdown_example`]).
//! - **Its tutorial**, "Write a scheme daemon" ([`follow_tutorial`]):
//!   in a copy of the tree under `target/ferrite/tutorial/tree`, mk does
//!   what the tutorial says, step by step, read from the README itself (its
//!   `mkdir`/`cp` lines, the files its code blocks give, its one-line
//!   edits), builds the copy with its own `cargo mk build`, lints the new
//!   package as `cargo mk test` would, and boots it. In that boot the
//!   tutorial's daemon must start, then every shell example of the README
//!   (the tutorial's own among them) and the `ci/sessions` scripts that
//!   list what runs (`system`, `drivers`: the ones one daemon more could
//!   break) must pass, and the machine must power off as the README shows.
//!
//! The copy keeps its `target/` between runs, so after the first (a build
//! of everything, seeded with this tree's compiled dependencies) a run
//! rebuilds what changed.
//!
//! May touch: `target/ferrite/tutorial/` (the copy and its build), QEMU
//! guests it starts, the README it reads.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::guest::Guest;
use crate::process;
use crate::session::{self, Pattern, Script};
use crate::workspace::{KERNEL_TARGET, Workspace};

/// The README, relative to the workspace root.
pub const README: &str = "README.md";

/// The tutorial's heading in the README.
const TUTORIAL: &str = "### Write a scheme daemon";

/// A shell prompt at the start of a line: a URL, a blank, `$`, a blank.
fn prompt_command(line: &str) -> Option<&str> {
    let (before, command) = line.split_once(" $ ")?;
    let url = !before.is_empty() && before.contains(':') && !before.contains(char::is_whitespace);
    url.then_some(command)
}

/// `line` as a pattern: each run of digits, with the blanks before it,
/// matches any text (the README shows one run's times, pids and sizes).
fn loosen(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut blanks = String::new();
    while let Some(c) = chars.next() {
        if c == ' ' {
            blanks.push(c);
            continue;
        }
        if c.is_ascii_digit() {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            blanks.clear();
            if !out.ends_with('*') {
                out.push('*');
            }
            continue;
        }
        out.push_str(&blanks);
        blanks.clear();
        out.push(c);
    }
    out.push_str(&blanks);
    out
}

/// The README's shell examples, one script per code block, in order,
/// each named `README.md:LINE` after its first command's line. A block
/// becomes a session script (`session::parse`, so `> ` lines continue a
/// command as they do there): its prompt lines are the commands, and its
/// other lines, loosened, what they print.
pub fn examples(readme: &str) -> Vec<Script> {
    let mut scripts = Vec::new();
    // The block being read: its language, its script so far, and the
    // README line of each of the script's lines.
    let mut block: Option<(&str, String, Vec<usize>)> = None;
    for (index, line) in readme.lines().enumerate() {
        if let Some(fence) = line.strip_prefix("```") {
            match block.take() {
                None => block = Some((fence.trim(), String::new(), Vec::new())),
                Some((_, text, origin)) if !text.is_empty() => scripts.extend(block_script(&text, &origin)),
                Some(_) => {}
            }
            continue;
        }
        let Some((language, text, origin)) = block.as_mut() else { continue };
        if !language.is_empty() && *language != "text" {
            continue;
        }
        let script_line = match prompt_command(line) {
            Some(command) => format!("$ {command}"),
            // Before the block's first command: what the machine printed
            // before it (a boot), not checked.
            None if text.is_empty() => continue,
            None if line == "..." || line.starts_with("> ") => String::from(line),
            None if session::is_console_log(line) => continue,
            None => {
                let pattern = loosen(line);
                let literal = pattern.starts_with('#') || pattern.starts_with("$ ") || pattern.starts_with("...");
                if literal { format!("\\{pattern}") } else { pattern }
            }
        };
        text.push_str(&script_line);
        text.push('\n');
        origin.push(index + 1);
    }
    scripts
}

/// One block's script, its steps numbered by their README lines.
fn block_script(text: &str, origin: &[usize]) -> Option<Script> {
    let mut script = session::parse(README, text).ok()?;
    for step in &mut script.steps {
        step.line = origin.get(step.line - 1).copied().unwrap_or(step.line);
    }
    script.name = format!("{README}:{}", script.steps.first()?.line);
    Some(script)
}

/// Whether a script stops the machine (the README's `poweroff` example).
pub fn powers_off(script: &Script) -> bool {
    script.steps.iter().any(|step| matches!(step.command.trim(), "poweroff" | "reboot"))
}

/// Runs a README block that ends in `poweroff` or `reboot`: the steps
/// before it as a session, then the command, whose console text must show
/// the block's lines (loosened, log lines included) in order.
pub fn run_shutdown_example(guest: &mut Guest, script: &Script) -> Result<String, String> {
    let last = script.steps.len() - 1;
    let before = Script { name: script.name.clone(), steps: script.steps[..last].to_vec() };
    if !before.steps.is_empty() {
        session::run(guest, &before)?;
    }
    let step = &script.steps[last];
    let mark = guest.output.len();
    let note = crate::shutdown::run(guest, step.command.trim())?;
    let text = crate::check::strip_escapes(&String::from_utf8_lossy(&guest.output[mark..]));
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    for pattern in &step.expected {
        let Pattern::Line(want) = pattern else { continue };
        if !lines.any(|line| session::glob(want, line)) {
            return Err(format!(
                "line {}: `{}`: the console did not show `{want}` in order:\n{text}",
                step.line, step.command
            ));
        }
    }
    Ok(note)
}

/// The README's text, from the tree at `root`.
pub fn read(root: &Path) -> Result<String, String> {
    fs::read_to_string(root.join(README)).map_err(|e| format!("reading {README}: {e}"))
}

/// One thing the tutorial says to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// A command to run at the repository root (`mkdir -p ...`, `cp ...`).
    Command(String),
    /// A file to write, with what the code block gives.
    Write { path: String, text: String },
    /// A one-line edit: `text` goes on a line of its own after the line of
    /// `path` that opens the list named `list` (`members = [`).
    AddToList { path: String, text: String, list: String },
    /// A one-line edit: `text` goes before the first line of `path` that
    /// starts with the word `word`.
    AddBefore { path: String, text: String, word: String },
    /// The commands to try in the booted system (checked with the README's
    /// other examples) and the line the boot must show.
    Boot { shows: String },
}

/// The backticked words of `text`, in order.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The tutorial's steps, from its heading to the next section.
pub fn tutorial(readme: &str) -> Result<Vec<Action>, String> {
    let start = readme.find(TUTORIAL).ok_or_else(|| format!("{README} has no `{TUTORIAL}`"))?;
    let rest = &readme[start + TUTORIAL.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut actions = Vec::new();
    let mut prose = String::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(language) = line.strip_prefix("```") {
            let mut body = String::new();
            for inner in lines.by_ref() {
                if inner.starts_with("```") {
                    break;
                }
                body.push_str(inner);
                body.push('\n');
            }
            match language.trim() {
                "sh" => {
                    for command in body.lines().map(str::trim).filter(|c| !c.is_empty()) {
                        if command.starts_with("mkdir ") || command.starts_with("cp ") {
                            actions.push(Action::Command(command.to_string()));
                        } else if !command.starts_with("cargo mk ") {
                            return Err(format!("the tutorial's `{command}` is no step mk knows how to take"));
                        }
                    }
                }
                "" | "text" => {}
                _ => {
                    let path = backticked(&prose)
                        .into_iter()
                        .rev()
                        .find(|word| word.contains('/') && word.contains('.') && !word.contains(' '))
                        .ok_or_else(|| format!("no file named before the tutorial's code block:\n{body}"))?;
                    actions.push(Action::Write { path: path.to_string(), text: body });
                }
            }
            prose.clear();
            continue;
        }
        // A bullet `- `FILE`: add `TEXT` to `LIST`;` or `... before the
        // `WORD` lines`, which may wrap onto the next lines.
        if line.starts_with("- `") {
            let mut bullet = line.to_string();
            while let Some(next) = lines.clone().next().filter(|l| l.starts_with("  ") && !l.trim().is_empty()) {
                bullet.push(' ');
                bullet.push_str(next.trim());
                lines.next();
            }
            actions.push(edit(&bullet)?);
            continue;
        }
        if let Some(shows) = line.split("shows `").nth(1).and_then(|s| s.split('`').next()) {
            actions.push(Action::Boot { shows: shows.to_string() });
        }
        prose.push_str(line);
        prose.push('\n');
    }
    Ok(actions)
}

/// One edit bullet of the tutorial.
fn edit(bullet: &str) -> Result<Action, String> {
    let words = backticked(bullet);
    let bad = || {
        format!(
            "the tutorial's edit `{bullet}` is not `- `FILE`: add `TEXT` to `LIST`` or `... before the `WORD` lines`"
        )
    };
    let (path, text, target) = match words.as_slice() {
        [path, text, target, ..] => (path.to_string(), text.to_string(), target.to_string()),
        _ => return Err(bad()),
    };
    if bullet.contains(&format!("`{text}` before the `{target}`")) {
        Ok(Action::AddBefore { path, text, word: target })
    } else if bullet.contains(&format!("`{text}` to `{target}`")) {
        Ok(Action::AddToList { path, text, list: target })
    } else {
        Err(bad())
    }
}

/// Applies one edit to `text` (a file's contents).
fn apply_edit(action: &Action, text: &str) -> Result<String, String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match action {
        Action::AddToList { path, text, list } => {
            let at = lines
                .iter()
                .position(|l| l.contains(list.as_str()) && l.trim_end().ends_with('['))
                .ok_or_else(|| format!("{path} has no line opening `{list}`"))?;
            lines.insert(at + 1, format!("    {text}"));
        }
        Action::AddBefore { path, text, word } => {
            let at = lines
                .iter()
                .position(|l| l.split_whitespace().next() == Some(word.as_str()))
                .ok_or_else(|| format!("{path} has no line starting with `{word}`"))?;
            lines.insert(at, text.clone());
        }
        _ => return Err(String::from("not an edit")),
    }
    Ok(lines.join("\n") + "\n")
}

/// The copy of the tree the tutorial is followed in.
pub fn tree(ws: &Workspace) -> PathBuf {
    ws.mk_dir().join("tutorial").join("tree")
}

/// The files of the tree as git sees them (tracked, and new ones not
/// ignored), relative to the root.
fn source_files(ws: &Workspace) -> Result<BTreeSet<PathBuf>, String> {
    let out = process::clean(ws, "git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .output()
        .map_err(|e| format!("git ls-files: {e}"))?;
    if !out.status.success() {
        return Err(format!("git ls-files: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .filter(|p| ws.root.join(p).is_file())
        .collect())
}

/// The tree's cargo configuration, which its copy does not get.
const CARGO_CONFIG: &str = ".cargo/config.toml";

/// Makes `copy` hold exactly the tree's source files but [`CARGO_CONFIG`],
/// each with its time (its `target/` and `mk/image/target/` stay: the
/// copy's builds).
fn sync_tree(ws: &Workspace, copy: &Path) -> Result<(), String> {
    let mut files = source_files(ws)?;
    // The copy lies inside the tree, so cargo reads the tree's own
    // `.cargo/config.toml` for it already. A second copy of it would
    // double the kernel target's `rustflags` (cargo joins the arrays of
    // every config file it finds), and with other flags every crate of
    // the seeded build (`seed_builds`) would compile again.
    files.remove(Path::new(CARGO_CONFIG));
    let err = |what: &str, path: &Path, e: std::io::Error| format!("{what} {}: {e}", path.display());
    for file in &files {
        let (from, to) = (ws.root.join(file), copy.join(file));
        let bytes = fs::read(&from).map_err(|e| err("reading", &from, e))?;
        if fs::read(&to).ok().as_deref() != Some(&bytes[..]) {
            if let Some(dir) = to.parent() {
                fs::create_dir_all(dir).map_err(|e| err("creating", dir, e))?;
            }
            fs::write(&to, &bytes).map_err(|e| err("writing", &to, e))?;
            // With the original's time: cargo takes a source newer than
            // the seeded build (`seed_builds`) for a change and compiles
            // the crate again, which was every crate of the workspace.
            let modified = fs::metadata(&from).and_then(|m| m.modified()).map_err(|e| err("reading", &from, e))?;
            fs::File::options()
                .write(true)
                .open(&to)
                .and_then(|f| f.set_modified(modified))
                .map_err(|e| err("dating", &to, e))?;
        }
    }
    remove_others(copy, Path::new(""), &files).map_err(|e| format!("cleaning {}: {e}", copy.display()))
}

/// Removes what is under `copy/dir` and not in `files` (the build
/// directories aside).
fn remove_others(copy: &Path, dir: &Path, files: &BTreeSet<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(copy.join(dir))? {
        let entry = entry?;
        let rel = dir.join(entry.file_name());
        if rel == Path::new("target") || rel == Path::new("mk/image/target") || rel == Path::new(".git") {
            continue;
        }
        if entry.file_type()?.is_dir() {
            remove_others(copy, &rel, files)?;
            if fs::read_dir(copy.join(&rel))?.next().is_none() {
                fs::remove_dir(copy.join(&rel))?;
            }
        } else if !files.contains(&rel) {
            fs::remove_file(copy.join(&rel))?;
        }
    }
    Ok(())
}

/// Before the copy's first build: this tree's compiled dependencies and
/// image tool, so the copy compiles only the workspace's own crates.
fn seed_builds(ws: &Workspace, copy: &Path) -> Result<(), String> {
    let seeds = [
        (ws.target_dir().join("debug"), copy.join("target/debug")),
        (ws.target_dir().join(KERNEL_TARGET).join("debug"), copy.join("target").join(KERNEL_TARGET).join("debug")),
        (ws.image_tool_dir().join("target"), copy.join("mk/image/target")),
    ];
    for (from, to) in seeds {
        if to.exists() || !from.exists() {
            continue;
        }
        println!("mk: tutorial: seeding {} from {}", ws.show(&to), ws.show(&from));
        crate::images::copy_tree(&from, &to)?;
    }
    Ok(())
}

/// Runs `program args` in the copy as a clean command; an error with its
/// output when it fails.
fn run_in(copy: &Workspace, program: &str, args: &[&str]) -> Result<(), String> {
    let mut cmd = process::clean(copy, program);
    cmd.args(args);
    println!("mk: tutorial: {program} {}", args.join(" "));
    let out = cmd.output().map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let tail: Vec<&str> = text.lines().rev().take(40).collect();
    Err(format!(
        "`{program} {}` failed in the tutorial's tree:\n{}",
        args.join(" "),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

/// Follows the tutorial in a copy of the tree and builds it: the copy's
/// workspace and the line its boot must show.
pub fn follow_tutorial(ws: &Workspace) -> Result<(Workspace, String), String> {
    let copy = Workspace { root: tree(ws) };
    fs::create_dir_all(&copy.root).map_err(|e| format!("creating {}: {e}", copy.root.display()))?;
    sync_tree(ws, &copy.root)?;
    seed_builds(ws, &copy.root)?;
    let actions = tutorial(&read(&copy.root)?)?;
    let mut shows = None;
    let mut package = None;
    for action in &actions {
        match action {
            Action::Command(command) => run_in(&copy, "sh", &["-c", command])?,
            Action::Write { path, text } => {
                let to = copy.root.join(path);
                fs::create_dir_all(to.parent().unwrap_or(&copy.root)).map_err(|e| format!("{path}: {e}"))?;
                fs::write(&to, text).map_err(|e| format!("writing {path}: {e}"))?;
                if path.ends_with("Cargo.toml") {
                    package =
                        text.lines().find_map(|l| l.strip_prefix("name = \"")?.strip_suffix('"')).map(String::from);
                }
            }
            Action::AddToList { path, .. } | Action::AddBefore { path, .. } => {
                let file = copy.root.join(path);
                let text = fs::read_to_string(&file).map_err(|e| format!("reading {path}: {e}"))?;
                fs::write(&file, apply_edit(action, &text)?).map_err(|e| format!("writing {path}: {e}"))?;
            }
            Action::Boot { shows: line } => shows = Some(line.clone()),
        }
    }
    let shows = shows.ok_or("the tutorial does not say what the boot shows")?;
    let package = package.ok_or("the tutorial writes no Cargo.toml")?;
    run_in(&copy, "cargo", &["mk", "build"])?;
    // What `cargo mk test` would say of the new package.
    run_in(&copy, "cargo", &["fmt", "-p", &package, "--", "--check"])?;
    run_in(&copy, "cargo", &["clippy", "-p", &package, "--target", KERNEL_TARGET, "--", "-D", "warnings"])?;
    Ok((copy, shows))
}

/// The README's line `init: notesd (pid N) ready after ...` as a pattern.
pub fn boot_pattern(shows: &str) -> String {
    let shows = shows.replace(" N)", " *)").replace("...", "*");
    format!("*{shows}*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_a_url_then_a_dollar() {
        assert_eq!(prompt_command("file:/home/root $ ls :"), Some("ls :"));
        assert_eq!(prompt_command("tmp: $ echo a $ b"), Some("echo a $ b"));
        assert_eq!(prompt_command("$ ls"), None);
        assert_eq!(prompt_command("costs 5 $ more"), None);
    }

    #[test]
    fn numbers_and_the_blanks_before_them_match_anything() {
        assert_eq!(loosen("    8     1     1 blocked   tmpd"), "* blocked   tmpd");
        assert_eq!(loosen("1048576 bytes (1.0 MiB) copied, 0.084 s"), "* bytes (*.* MiB) copied,*.* s");
        assert!(session::glob(&loosen("   12    1   12 running   sh"), "  130    1  130 running   sh"));
        assert!(!session::glob(&loosen("hello"), "hello!"));
        assert_eq!(loosen("x86_64 "), "x*_* ");
    }

    #[test]
    fn examples_come_from_blocks_with_prompts() {
        let readme = "text\n```\nboot line\nfile:/home/root $ echo hi\nhi\n...\nfile:/home/root $ true\n```\n\
                      ```sh\nfile:/x $ not a guest\n```\n```\njust output\n```\n\
                      ```\ntmp: $ ps\n  PID NAME\n[    1.000000] WARN  pid 1 init: noise\n```\n";
        let scripts = examples(readme);
        assert_eq!(scripts.len(), 2);
        assert_eq!(scripts[0].name, "README.md:4");
        assert_eq!(scripts[0].steps[0].command, "echo hi");
        assert_eq!(scripts[0].steps[0].expected, vec![Pattern::Line("hi".into()), Pattern::AnyLines]);
        assert!(scripts[0].steps[1].expected.is_empty());
        assert_eq!(scripts[1].steps[0].expected, vec![Pattern::Line("  PID NAME".into())]);
        let scripts = examples("```\nfile: $ for i in 1 2; do\n> echo $i\n> done\n1\n2\n```\n");
        assert_eq!(scripts[0].steps[0].command, "for i in 1 2; do\recho $i\rdone");
        assert_eq!(scripts[0].steps[0].expected[0], Pattern::Line("> echo $i".into()));
        assert_eq!(scripts[0].steps[0].expected[2], Pattern::Line("*".into()));
    }

    #[test]
    fn the_real_readme_has_examples_and_a_tutorial() {
        let ws = Workspace::locate().unwrap();
        let readme = read(&ws.root).unwrap();
        let scripts = examples(&readme);
        assert!(scripts.len() >= 5, "{} examples", scripts.len());
        assert_eq!(scripts.iter().filter(|s| powers_off(s)).count(), 1);
        let actions = tutorial(&readme).unwrap();
        assert!(actions.iter().any(|a| matches!(a, Action::Write { path, .. } if path.ends_with("main.rs"))));
        assert!(actions.iter().any(|a| matches!(a, Action::AddToList { .. })));
        assert!(actions.iter().any(|a| matches!(a, Action::AddBefore { .. })));
        assert!(actions.iter().any(|a| matches!(a, Action::Boot { .. })));
    }

    #[test]
    fn tutorial_steps_are_read_from_the_text() {
        let readme = "### Write a scheme daemon\n\n```sh\nmkdir -p a/b\n```\n\nand write `a/b/Cargo.toml`:\n\n\
                      ```toml\nname = \"b\"\n```\n\n- `Cargo.toml` (top level): add `\"a/b\",` to `members`;\n\
                      - `init.rc`: add `run b` before the `console`\n  lines, so init starts it.\n\n\
                      ```sh\ncargo mk qemu\n```\n\nand shows `init: b (pid N) ready after ...` and then\n\n## Next\n";
        let actions = tutorial(readme).unwrap();
        assert_eq!(
            actions,
            vec![
                Action::Command("mkdir -p a/b".into()),
                Action::Write { path: "a/b/Cargo.toml".into(), text: "name = \"b\"\n".into() },
                Action::AddToList { path: "Cargo.toml".into(), text: "\"a/b\",".into(), list: "members".into() },
                Action::AddBefore { path: "init.rc".into(), text: "run b".into(), word: "console".into() },
                Action::Boot { shows: "init: b (pid N) ready after ...".into() },
            ]
        );
        assert!(tutorial("### Write a scheme daemon\n```sh\nrm -rf /\n```\n").is_err());
        let edited = apply_edit(&actions[2], "[workspace]\nmembers = [\n    \"x\",\n]\n").unwrap();
        assert_eq!(edited, "[workspace]\nmembers = [\n    \"a/b\",\n    \"x\",\n]\n");
        let edited = apply_edit(&actions[3], "run x\nconsole serial: sh\n").unwrap();
        assert_eq!(edited, "run x\nrun b\nconsole serial: sh\n");
        assert!(session::glob(
            &boot_pattern("init: b (pid N) ready after ..."),
            "[ 1.0] INFO  pid 1 init: b (pid 20) ready after 3 ms"
        ));
    }
}
