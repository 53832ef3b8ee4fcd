//! Removing what the children made: their files and directories on
//! `tmp:` and their shared memory names on `shm:` (every name the
//! generator can form there, under each slot's digit, with and without a
//! scheme word glued to its front: a URL drawn without its `:` is a bare
//! path, which `frename` takes as a new name on the file's own scheme), so
//! the memory check after a run compares like with like.

use rt::prelude::*;

/// Remove `url` and, if it is a directory, everything in it (depth-bounded).
fn remove_tree(url: &str, depth: usize) {
    if rt::fs::remove_file(url).is_ok() || depth == 0 {
        return;
    }
    if let Ok(listing) = rt::fs::read_to_string(url) {
        for name in listing.lines().filter(|n| !n.is_empty() && *n != "." && *n != "..") {
            let name = name.trim_end_matches('/');
            remove_tree(&format!("{}/{name}", url.trim_end_matches('/')), depth - 1);
        }
    }
    let _ = rt::fs::remove_dir(url);
}

pub fn files() {
    let mut prefixes: Vec<&str> = [""].iter().chain(fuzz_spec::SCHEMES).copied().collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    for digit in 0..8 {
        for part in fuzz_spec::PATHS.iter().chain(["fuzz@", "d", "n"].iter()) {
            let part = part.replace('@', &format!("{digit}"));
            for prefix in &prefixes {
                let name = format!("{prefix}{part}");
                if name.is_empty() || (prefix.is_empty() && part == ":") {
                    continue;
                }
                // `shm:` names are flat strings, `..` and `../..` among
                // them (a child may have made a 16 MiB object called
                // `..`); on `tmp:` such a path is the root or above it.
                let _ = rt::fs::remove_file(&format!("shm:{name}"));
                if !name.starts_with('.') {
                    remove_tree(&format!("tmp:{name}"), 48);
                }
            }
        }
        let _ = rt::fs::remove_file(&format!("shm:fuzz{digit}"));
    }
}
