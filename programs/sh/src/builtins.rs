//! The commands the shell runs itself, because they change the shell or
//! ask it about itself: `cd`, `pwd`, `export`, `unset`, `exit`, `help`,
//! `wait`, `jobs`. Each takes its argv (name first) and returns a status;
//! errors print as `sh: NAME: ...`.

use alloc::string::String;

use rt::prelude::*;
use shell_syntax::is_name;

use crate::shell::{Shell, status_of};

/// A builtin's entry.
pub type Builtin = fn(&mut Shell, &[String]) -> i32;

/// The builtins, with the line `help` prints for each.
const BUILTINS: &[(&str, Builtin, &str)] = &[
    ("cd", cd, "cd [DIR]          change the current directory (a URL or a relative path; $HOME alone)"),
    ("exit", exit, "exit [N]          leave the shell with status N (default: the last status)"),
    ("export", export, "export [NAME[=VALUE]...]  set variables (all are exported); alone, list them"),
    ("help", help, "help              this list"),
    ("jobs", jobs, "jobs              the background jobs still running"),
    ("pwd", pwd, "pwd               print the current directory"),
    ("unset", unset, "unset NAME...     remove variables"),
    ("wait", wait, "wait [PID...]     wait for background jobs (all by default)"),
];

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

fn help(_shell: &mut Shell, _argv: &[String]) -> i32 {
    println!("builtins:");
    for (_, _, line) in BUILTINS {
        println!("  {line}");
    }
    println!("other commands are programs found on $PATH (directories separated by ';')");
    0
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
