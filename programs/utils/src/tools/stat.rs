//! `stat FILE...`: what `fstat` says of each file: size, kind, mode (octal
//! and as `ls -l` shows it), owner and group, links and inode when the
//! scheme gives them, and the times it keeps (as `date` prints them);
//! nothing is made up for what a scheme does not keep. Reads only.

use rt::abi::syscall::{MODE_CHR, MODE_DIR, MODE_FILE, MODE_TYPE, Stat};
use rt::fs::File;
use rt::println;

use crate::report::{self, FAILED, OK};
use crate::tools::ls;

fn kind(mode: u16) -> &'static str {
    match mode & MODE_TYPE {
        MODE_DIR => "directory",
        MODE_FILE => "regular file",
        MODE_CHR => "character device",
        _ => "other",
    }
}

fn time(label: &str, seconds: u64) {
    if seconds == 0 {
        return;
    }
    match i64::try_from(seconds).ok().and_then(wall_clock::Date::from_unix) {
        Some(date) => println!("{label}: {date}"),
        None => println!("{label}: {seconds} s after the epoch"),
    }
}

fn show(name: &str, stat: &Stat) {
    println!("  File: {name}");
    println!("  Size: {:<12} Kind: {}", stat.st_size, kind(stat.st_mode));
    println!(
        "  Mode: {:04o} ({})  Uid: {}  Gid: {}",
        stat.st_mode & 0o7777,
        ls::mode_string(stat.st_mode),
        stat.st_uid,
        stat.st_gid
    );
    if stat.st_nlink != 0 || stat.st_ino != 0 {
        println!(" Links: {:<12} Inode: {}", stat.st_nlink, stat.st_ino);
    }
    time("Access", stat.st_atime);
    time("Modify", stat.st_mtime);
    time("Change", stat.st_ctime);
}

pub fn main(args: &[&str]) -> u8 {
    if args.is_empty() {
        return report::usage("stat", "missing file operand");
    }
    if let Some(bad) = args.iter().find(|arg| arg.starts_with('-')) {
        return report::unknown_option("stat", bad);
    }
    let mut status = OK;
    for &name in args {
        match File::open(&rt::fs::resolve(name)).and_then(|file| file.stat()) {
            Ok(stat) => show(name, &stat),
            Err(err) => {
                report::error("stat", name, err);
                status = FAILED;
            }
        }
    }
    status
}
