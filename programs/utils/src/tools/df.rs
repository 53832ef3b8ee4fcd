//! `df [PATH...]`: the size, used and free space of the file systems the
//! paths are on (`fstatvfs`), one line each, in human-readable units;
//! without paths, `file:` and `tmp:`, each when it is there.
//!
//! ```text
//! Filesystem        Size       Used      Avail Use%
//! file:         64.0 MiB    1.2 MiB   62.8 MiB   2%
//! ```

use alloc::vec::Vec;

use rt::abi::syscall::{ENODEV, ENOENT};
use rt::fs::File;
use rt::println;

use crate::report::{self, FAILED, OK};
use crate::tools::free::human;

/// What `df` shows when given no paths.
const DEFAULT: &[&str] = &["file:", "tmp:"];

fn line(arg: &str) -> rt::Result<()> {
    let url = rt::fs::resolve(arg);
    let vfs = File::open(&url)?.statvfs()?;
    let block = u64::from(vfs.f_bsize);
    let size = vfs.f_blocks.saturating_mul(block);
    let free = vfs.f_bfree.min(vfs.f_blocks).saturating_mul(block);
    let avail = vfs.f_bavail.min(vfs.f_blocks).saturating_mul(block);
    let used = size - free;
    // Rounded up, as df does: a disk with a byte in use is not 0% used.
    let percent = if size == 0 { 0 } else { (used * 100).div_ceil(size) };
    println!("{arg:<12}{:>11}{:>11}{:>11}{:>4}%", human(size), human(used), human(avail), percent);
    Ok(())
}

pub fn main(args: &[&str]) -> u8 {
    if args.iter().any(|arg| arg.starts_with('-')) {
        return report::usage("df", "unknown option");
    }
    let explicit = !args.is_empty();
    let paths: Vec<&str> = if explicit { args.to_vec() } else { DEFAULT.to_vec() };
    println!("{:<12}{:>11}{:>11}{:>11} Use%", "Filesystem", "Size", "Used", "Avail");
    let mut status = OK;
    for path in paths {
        match line(path) {
            Ok(()) => {}
            // A default file system that is not there (no disk) is left out.
            Err(err) if !explicit && matches!(err.errno, ENOENT | ENODEV) => {}
            Err(err) => {
                report::error("df", path, err);
                status = FAILED;
            }
        }
    }
    status
}
