//! Removing what the children made: their files and directories on
//! `tmp:` and their shared memory names on `shm:`, so the memory check
//! after a run compares like with like.
//!
//! On `tmp:` every top-level entry that was not there before the run goes,
//! with everything under it (a child may have renamed a file to any name
//! the generator forms, or moved a directory into another one, many levels
//! down). `shm:` cannot be listed, so there every name the generator can
//! form goes (under each slot's digit, with and without a scheme word glued
//! to its front: a URL drawn without its `:` is a bare path, which
//! `frename` takes as a new name on the file's own scheme).

use rt::prelude::*;

/// Most removals and listings one sweep makes (`tmp:` holds at most
/// 64 MiB, and a child makes at most 2,000 calls).
const SWEEP_STEPS: usize = 200_000;

/// The entries of the `tmp:` directory `url` (without `.`, `..` and a
/// directory's trailing `/`); none if it cannot be read.
fn entries(url: &str) -> Vec<String> {
    rt::fs::read_to_string(url)
        .map(|listing| {
            listing
                .lines()
                .map(|n| n.trim_end_matches('/'))
                .filter(|n| !n.is_empty() && *n != "." && *n != "..")
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Remove `url` and, if it is a directory, everything in it, however
/// deep: a directory is listed, its entries go first, then itself.
fn remove_tree(url: &str) {
    let mut todo = vec![(String::from(url), false)];
    let mut steps = 0;
    while let Some((url, listed)) = todo.pop() {
        steps += 1;
        if steps > SWEEP_STEPS {
            return;
        }
        if listed {
            let _ = rt::fs::remove_dir(&url);
            continue;
        }
        if rt::fs::remove_file(&url).is_ok() {
            continue;
        }
        let inside = entries(&url);
        let base = String::from(url.trim_end_matches('/'));
        todo.push((url, true));
        todo.extend(inside.into_iter().map(|name| (format!("{base}/{name}"), false)));
    }
}

/// What `tmp:` holds at the top before a run (left alone by [`files`]).
pub fn tmp_before() -> Vec<String> {
    entries("tmp:")
}

pub fn files(tmp_before: &[String]) {
    for name in entries("tmp:") {
        if !tmp_before.contains(&name) {
            remove_tree(&format!("tmp:{name}"));
        }
    }
    let mut prefixes: Vec<&str> = [""].iter().chain(fuzz_spec::SCHEMES).copied().collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    for digit in 0..8 {
        for part in fuzz_spec::PATHS.iter().chain(["fuzz@", "d", "n"].iter()) {
            let part = part.replace('@', &format!("{digit}"));
            for prefix in &prefixes {
                let name = format!("{prefix}{part}");
                if !name.is_empty() && (!prefix.is_empty() || part != ":") {
                    // Flat strings, `..` and `../..` among them (a child
                    // may have made a 16 MiB object called `..`).
                    let _ = rt::fs::remove_file(&format!("shm:{name}"));
                }
            }
        }
        let _ = rt::fs::remove_file(&format!("shm:fuzz{digit}"));
    }
}

/// What `tmp:` still holds, for the report of a failed memory check:
/// the files and directories under each top-level entry and their bytes.
pub fn tmp_report() -> String {
    let mut parts = Vec::new();
    for name in entries("tmp:") {
        let (mut files, mut dirs, mut bytes) = (0u64, 0u64, 0u64);
        let mut todo = vec![format!("tmp:{name}")];
        let mut steps = 0;
        while let Some(url) = todo.pop() {
            steps += 1;
            if steps > SWEEP_STEPS {
                break;
            }
            let Ok(stat) = rt::fs::File::open(&url).and_then(|f| f.stat()) else { continue };
            if stat.st_mode & rt::abi::syscall::MODE_TYPE == rt::abi::syscall::MODE_DIR {
                dirs += 1;
                let base = String::from(url.trim_end_matches('/'));
                todo.extend(entries(&url).into_iter().map(|n| format!("{base}/{n}")));
            } else {
                files += 1;
                bytes += stat.st_size;
            }
        }
        parts.push(format!("{name}: {files} files, {dirs} directories, {bytes} bytes"));
    }
    if parts.is_empty() { String::from("nothing") } else { parts.join(", ") }
}
