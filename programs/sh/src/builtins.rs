//! The commands the shell runs itself, because they change the shell or
//! ask it about itself: `cd`, `pwd`, `export`, `unset`, `exit`, `help`,
//! `wait`, `jobs`, `shift`, `set`, `read`, `break`, `continue`, `return`,
//! and, because scripts run them in every loop, `true`, `false`, `:` and
//! `test`/`[` (in `test`). Each takes its argv (name first) and returns a
//! status; errors print as `sh: NAME: ...`.
//!
//! May touch: the shell's state, standard input (`read`), standard output.

use alloc::string::String;
use alloc::vec::Vec;

use rt::prelude::*;
use shell_syntax::is_name;

use crate::shell::{Flow, Shell, status_of};

/// A builtin's entry.
pub type Builtin = fn(&mut Shell, &[String]) -> i32;

/// The builtins, with the line `help` prints for each (the script
/// language's after the others).
const BUILTINS: &[(&str, Builtin, &str)] = &[
    ("cd", cd, "cd [DIR]          change the current directory (a URL or a relative path; $HOME alone)"),
    ("exit", exit, "exit [N]          leave the shell with status N (default: the last status)"),
    ("export", export, "export [NAME[=VALUE]...]  set variables (all are exported); alone, list them"),
    ("help", help, "help [NAME...]    this list, or a builtin's or utility's usage"),
    ("jobs", jobs, "jobs              the background jobs still running"),
    ("pwd", pwd, "pwd               print the current directory"),
    ("unset", unset, "unset NAME...     remove variables"),
    ("wait", wait, "wait [PID...]     wait for background jobs (all by default)"),
    // The script language's.
    (":", succeed, ":                 do nothing, successfully"),
    ("[", crate::test::bracket, "[ EXPR ]          test EXPR (see test)"),
    ("break", break_, "break [N]         leave the innermost N loops"),
    ("continue", continue_, "continue [N]      go on with the next turn of the Nth loop out"),
    ("false", fail, "false             do nothing, unsuccessfully (status 1)"),
    ("read", read, "read [-r] NAME... read a line into variables (split at $IFS, the last gets the rest)"),
    ("return", return_, "return [N]        leave the function with status N (default: the last status)"),
    ("set", set, "set [--] ARG...   make ARGs the positional parameters $1, $2, ..."),
    ("shift", shift, "shift [N]         drop the first N positional parameters (default 1)"),
    (
        "test",
        crate::test::test,
        "test EXPR         files (-e -f -d -s -r -w -x), strings (-z -n = !=), integers (-eq -lt ...)",
    ),
    ("true", succeed, "true              do nothing, successfully"),
];

/// The builtins' names (for completion).
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|&(name, _, _)| name)
}

pub fn find(name: &str) -> Option<Builtin> {
    BUILTINS.iter().find(|(n, _, _)| *n == name).map(|&(_, builtin, _)| builtin)
}

fn cd(shell: &mut Shell, argv: &[String]) -> i32 {
    let target = match argv {
        [_] => match shell.vars.get("HOME") {
            Some(home) => home.clone(),
            None => {
                eprintln!("sh: cd: HOME not set");
                return 1;
            }
        },
        [_, dir] => dir.clone(),
        _ => {
            eprintln!("sh: cd: too many arguments");
            return 2;
        }
    };
    let url = shell.resolve(&target);
    match crate::shell::is_dir(&url) {
        Ok(()) => {
            shell.set_cwd(url);
            0
        }
        Err(err) => {
            eprintln!("sh: cd: {target}: {err}");
            1
        }
    }
}

fn pwd(shell: &mut Shell, _argv: &[String]) -> i32 {
    println!("{}", shell.cwd);
    0
}

fn export(shell: &mut Shell, argv: &[String]) -> i32 {
    if argv.len() == 1 {
        for (key, value) in &shell.vars {
            println!("{key}={value}");
        }
        return 0;
    }
    let mut status = 0;
    for arg in &argv[1..] {
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (arg.as_str(), None),
        };
        if !is_name(name) {
            eprintln!("sh: export: {arg}: not a valid name");
            status = 1;
            continue;
        }
        match value {
            Some(value) if name == "PWD" => shell.set_cwd(String::from(value)),
            Some(value) => {
                shell.vars.insert(String::from(name), String::from(value));
            }
            // Every variable is exported already; an unset one becomes "".
            None => {
                shell.vars.entry(String::from(name)).or_default();
            }
        }
    }
    status
}

fn unset(shell: &mut Shell, argv: &[String]) -> i32 {
    let mut status = 0;
    for name in &argv[1..] {
        if !is_name(name) {
            eprintln!("sh: unset: {name}: not a valid name");
            status = 1;
        } else {
            shell.vars.remove(name);
        }
    }
    status
}

fn exit(shell: &mut Shell, argv: &[String]) -> i32 {
    let code = match argv {
        [_] => shell.status,
        [_, n] => match n.parse::<i32>() {
            Ok(n) => n & 0xff,
            Err(_) => {
                eprintln!("sh: exit: {n}: numeric argument required");
                2
            }
        },
        _ => {
            eprintln!("sh: exit: too many arguments");
            return 2;
        }
    };
    shell.exit_code = Some(code);
    code
}

/// The utilities' table (`programs/utils/src/names.rs`): names, one-line
/// summaries and usages, shared with `utils` itself and `mk`.
#[allow(dead_code)]
mod utilities {
    include!("../../utils/src/names.rs");
}

/// The programs on `PATH` that are neither builtins nor utilities.
fn other_programs(shell: &Shell) -> Vec<String> {
    let mut names = Vec::new();
    let path = shell.vars.get("PATH").map_or("", String::as_str);
    for dir in path.split(crate::search::PATH_SEPARATOR).filter(|dir| !dir.is_empty()) {
        let Ok(text) = rt::fs::read_to_string(&shell.resolve(dir)) else { continue };
        for name in text.lines() {
            if !name.is_empty() && utilities::utility_named(name).is_none() && find(name).is_none() {
                names.push(String::from(name));
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

fn help(shell: &mut Shell, argv: &[String]) -> i32 {
    if argv.len() < 2 {
        println!("builtins:");
        for (_, _, line) in BUILTINS {
            println!("  {line}");
        }
        println!("utilities (help NAME for one's usage, NAME --help too):");
        for utility in utilities::UTILITY_TABLE {
            println!("  {:<9} {}", utility.name, utility.summary);
        }
        println!("other programs on $PATH: {}", other_programs(shell).join(" "));
        println!("programs are found on $PATH (directories separated by ';'); NAME --help says more");
        return 0;
    }
    let mut status = 0;
    for name in &argv[1..] {
        if let Some((_, _, line)) = BUILTINS.iter().find(|(n, _, _)| n == name) {
            println!("{line}");
        } else if let Some(utility) = utilities::utility_named(name) {
            println!("{}: {}", utility.name, utility.summary);
            println!("usage: {}", utility.usage);
        } else if other_programs(shell).contains(name) {
            println!("{name}: a program on $PATH; `{name} --help` may say more");
        } else {
            eprintln!("help: {name}: no such builtin or utility");
            status = 1;
        }
    }
    status
}

fn jobs(shell: &mut Shell, _argv: &[String]) -> i32 {
    for (job, status) in shell.reap_jobs() {
        println!("[{}] Done ({status}) {}", job.id, job.text);
    }
    for job in &shell.jobs {
        println!("[{}] Running {} {}", job.id, job.pid, job.text);
    }
    0
}

fn wait(shell: &mut Shell, argv: &[String]) -> i32 {
    let mut wanted: alloc::vec::Vec<usize> = alloc::vec::Vec::new();
    for arg in &argv[1..] {
        match arg.parse::<usize>() {
            Ok(pid) if shell.jobs.iter().any(|job| job.pid == pid) => wanted.push(pid),
            _ => {
                eprintln!("sh: wait: {arg}: no such job");
                return 127;
            }
        }
    }
    if wanted.is_empty() {
        wanted = shell.jobs.iter().map(|job| job.pid).collect();
    }
    let mut status = 0;
    for pid in wanted {
        status = match rt::process::wait(pid) {
            Ok(ended) => status_of(ended),
            Err(_) => 127,
        };
        shell.jobs.retain(|job| job.pid != pid);
    }
    status
}

fn succeed(_shell: &mut Shell, _argv: &[String]) -> i32 {
    0
}

fn fail(_shell: &mut Shell, _argv: &[String]) -> i32 {
    1
}

/// The count argument of `break`, `continue` and `shift`: default 1,
/// else a number of at least `min`.
fn count(name: &str, argv: &[String], min: usize) -> Result<usize, i32> {
    match argv {
        [_] => Ok(1),
        [_, n] => match n.parse::<usize>() {
            Ok(n) if n >= min => Ok(n),
            _ => {
                eprintln!("sh: {name}: {n}: not a count");
                Err(1)
            }
        },
        _ => {
            eprintln!("sh: {name}: too many arguments");
            Err(2)
        }
    }
}

/// `break N` and `continue N`: the jump, at most as far as the loops go.
fn jump(shell: &mut Shell, argv: &[String], flow: fn(usize) -> Flow) -> i32 {
    let name = argv[0].as_str();
    let n = match count(name, argv, 1) {
        Ok(n) => n,
        Err(status) => return status,
    };
    if shell.loops == 0 {
        eprintln!("sh: {name}: only meaningful in a loop");
        return 1;
    }
    shell.flow = Some(flow(n.min(shell.loops)));
    0
}

fn break_(shell: &mut Shell, argv: &[String]) -> i32 {
    jump(shell, argv, Flow::Break)
}

fn continue_(shell: &mut Shell, argv: &[String]) -> i32 {
    jump(shell, argv, Flow::Continue)
}

fn return_(shell: &mut Shell, argv: &[String]) -> i32 {
    let status = match argv {
        [_] => shell.status,
        [_, n] => match n.parse::<i32>() {
            Ok(n) => n & 0xff,
            Err(_) => {
                eprintln!("sh: return: {n}: numeric argument required");
                2
            }
        },
        _ => {
            eprintln!("sh: return: too many arguments");
            return 2;
        }
    };
    if shell.calls == 0 {
        eprintln!("sh: return: only meaningful in a function");
        return 1;
    }
    shell.flow = Some(Flow::Return);
    status
}

fn shift(shell: &mut Shell, argv: &[String]) -> i32 {
    let n = match count("shift", argv, 0) {
        Ok(n) => n,
        Err(status) => return status,
    };
    if n > shell.positional.len() {
        eprintln!("sh: shift: {n}: there are only {} positional parameters", shell.positional.len());
        return 1;
    }
    shell.positional.drain(..n);
    0
}

fn set(shell: &mut Shell, argv: &[String]) -> i32 {
    let args = match argv.get(1).map(String::as_str) {
        Some("--") => &argv[2..],
        Some(option) if option.starts_with('-') || option.starts_with('+') => {
            eprintln!("sh: set: {option}: options are not supported (set [--] ARG... sets $1, $2, ...)");
            return 2;
        }
        _ => &argv[1..],
    };
    shell.positional = args.to_vec();
    0
}

/// One line of standard input, read a byte at a time so that what comes
/// after it stays for the next reader; `None` at end of input with nothing
/// read. The newline is not included; `ended` tells whether one came.
fn read_line() -> Result<Option<(Vec<u8>, bool)>, rt::Error> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match rt::io::read(rt::io::STDIN, &mut byte)? {
            0 if line.is_empty() => return Ok(None),
            0 => return Ok(Some((line, false))),
            _ if byte[0] == b'\n' => return Ok(Some((line, true))),
            _ => line.push(byte[0]),
        }
    }
}

/// Whether `line` ends in a backslash that escapes the newline after it.
fn continued(line: &[u8]) -> bool {
    line.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

fn read(shell: &mut Shell, argv: &[String]) -> i32 {
    let mut raw = false;
    let mut names: Vec<&str> = Vec::new();
    for arg in &argv[1..] {
        match arg.as_str() {
            "-r" if names.is_empty() => raw = true,
            name if is_name(name) => names.push(name),
            other => {
                eprintln!("sh: read: {other}: not a valid name");
                return 2;
            }
        }
    }
    let mut text: Vec<u8> = Vec::new();
    let mut status = 0;
    loop {
        match read_line() {
            Ok(Some((line, ended))) => {
                text.extend_from_slice(&line);
                if !ended {
                    status = 1;
                } else if !raw && continued(&text) {
                    text.pop();
                    continue;
                }
            }
            Ok(None) => status = 1,
            Err(err) => {
                eprintln!("sh: read: {err}");
                return 2;
            }
        }
        break;
    }
    let text = String::from_utf8_lossy(&text);
    if names.is_empty() {
        // No names: the whole line, unsplit, in `REPLY`.
        let line = shell_syntax::split_read(&text, raw, "", 1).concat();
        shell.vars.insert(String::from("REPLY"), line);
        return status;
    }
    let ifs = shell.vars.get("IFS").cloned().unwrap_or_else(|| String::from(" \t\n"));
    let values = shell_syntax::split_read(&text, raw, &ifs, names.len());
    for (name, value) in names.iter().zip(values) {
        shell.vars.insert(String::from(*name), value);
    }
    status
}
