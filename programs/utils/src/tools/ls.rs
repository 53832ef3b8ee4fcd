//! `ls [-l] [PATH...]`: lists directories of any scheme (the current
//! directory by default; `ls :` lists the schemes), names sorted, one per
//! line, in natural order (`2` before `10`). A file argument is listed as itself. With `-l` each line is
//! `KIND+PERMISSIONS SIZE MODIFIED NAME` from `fstat` (`d` directory, `-`
//! file, `c` device or socket; SIZE is bytes for files, entries for
//! directories; MODIFIED is `YYYY-MM-DD HH:MM` in UTC, blank for a file
//! whose scheme keeps no times).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rt::abi::syscall::{MODE_CHR, MODE_DIR, MODE_FILE, MODE_TYPE, Stat};
use rt::fs::File;
use rt::println;

use crate::report::{self, FAILED, OK};
use crate::stream;
use crate::walk;

/// The permission bits as `rwxr-xr-x`.
fn permissions(mode: u16) -> String {
    let mut perms = String::new();
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        perms.push(if bits & 4 != 0 { 'r' } else { '-' });
        perms.push(if bits & 2 != 0 { 'w' } else { '-' });
        perms.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    perms
}

/// The kind letter and permissions, as `ls -l` shows them: `-rw-r--r--`.
pub fn mode_string(mode: u16) -> String {
    format!("{}{}", kind_letter(mode), permissions(mode))
}

fn kind_letter(mode: u16) -> char {
    match mode & MODE_TYPE {
        MODE_DIR => 'd',
        MODE_FILE => '-',
        MODE_CHR => 'c',
        _ => '?',
    }
}

fn long_line(stat: &Stat, name: &str) -> String {
    let kind = kind_letter(stat.st_mode);
    let perms = permissions(stat.st_mode);
    let modified = match stat.st_mtime {
        0 => None,
        seconds => i64::try_from(seconds).ok().and_then(wall_clock::Date::from_unix),
    };
    let modified = modified.map_or_else(|| format!("{:16}", ""), |date| format!("{}", date.short()));
    format!("{kind}{perms} {:>8} {modified} {name}", stat.st_size)
}

fn show(url: &str, name: &str, long: bool) {
    if !long {
        println!("{name}");
        return;
    }
    match File::open(url).and_then(|file| file.stat()) {
        Ok(stat) => println!("{}", long_line(&stat, name)),
        Err(_) => println!("?????????? {:>8} {:16} {name}", "?", ""),
    }
}

fn list(arg: &str, long: bool) -> rt::Result<()> {
    let url = rt::fs::resolve(arg);
    let mut file = File::open(&url)?;
    if !stream::is_dir(&file) {
        show(&url, arg, long);
        return Ok(());
    }
    let names = walk::names(&mut file)?;
    drop(file);
    for name in &names {
        show(&walk::child(&url, name), name, long);
    }
    Ok(())
}

pub fn main(args: &[&str]) -> u8 {
    let long = args.contains(&"-l");
    let paths: Vec<&str> = args.iter().copied().filter(|&arg| arg != "-l").collect();
    if let Some(bad) = paths.iter().find(|p| p.starts_with('-')) {
        return report::unknown_option("ls", bad);
    }
    let paths: &[&str] = if paths.is_empty() { &[""] } else { &paths };
    let mut status = OK;
    for (i, &path) in paths.iter().enumerate() {
        if paths.len() > 1 {
            println!("{}{path}:", if i > 0 { "\n" } else { "" });
        }
        if let Err(err) = list(path, long) {
            report::error("ls", if path.is_empty() { "." } else { path }, err);
            status = FAILED;
        }
    }
    status
}
