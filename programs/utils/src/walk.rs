//! Walking a directory tree of any scheme (`tmp:`, `file:/home`,
//! `initfs:etc`) for `find` and `grep -r`: each entry's URL and whether it
//! is a directory, parents before their children, names in natural order.
//! A directory is read as its list of names, one a line. Touches only the
//! directories and files it is given (opened read-only).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rt::fs::File;

use crate::stream;

/// How deep the walk goes at most (a guard against cycles).
const MAX_DEPTH: usize = 64;

/// The URL of entry `name` in the directory at `dir`.
pub fn child(dir: &str, name: &str) -> String {
    if dir == ":" {
        // The root scheme lists scheme names.
        format!("{name}:")
    } else if dir.ends_with(':') || dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The names in the directory open on `file`, in natural order.
pub fn names(file: &mut File) -> rt::Result<Vec<String>> {
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let mut names: Vec<String> = text.lines().filter(|name| !name.is_empty()).map(String::from).collect();
    names.sort_unstable_by(|a, b| text_tools::natural::compare(a, b));
    Ok(names)
}

/// Calls `visit(url, is_dir)` for `url` and everything under it; an entry
/// that cannot be opened or read goes to `trouble(url, err)` and the walk
/// goes on.
pub fn walk(url: &str, visit: &mut dyn FnMut(&str, bool), trouble: &mut dyn FnMut(&str, rt::Error)) {
    walk_at(url, 0, visit, trouble);
}

fn walk_at(url: &str, depth: usize, visit: &mut dyn FnMut(&str, bool), trouble: &mut dyn FnMut(&str, rt::Error)) {
    let mut file = match File::open(url) {
        Ok(file) => file,
        Err(err) => return trouble(url, err),
    };
    let is_dir = stream::is_dir(&file);
    visit(url, is_dir);
    if !is_dir || depth >= MAX_DEPTH {
        return;
    }
    let names = match names(&mut file) {
        Ok(names) => names,
        Err(err) => return trouble(url, err),
    };
    drop(file);
    for name in names {
        walk_at(&child(url, &name), depth + 1, visit, trouble);
    }
}
