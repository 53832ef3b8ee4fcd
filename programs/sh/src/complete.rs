//! Tab completion at the prompt: what the word before the cursor can
//! become. In a command's place a name completes to the builtins, the
//! shell's functions and the programs of `PATH`; anywhere else, and for a
//! word that is a URL or a path, it completes to the entries of the
//! directory it names (any scheme's: `tmp:no` → `tmp:notes.txt`,
//! `initfs:b` → `initfs:bin/`), and a bare word also to the scheme names
//! (`fi` → `file:`; Tab on nothing lists the schemes with the current
//! directory's entries). A directory's entry gets a `/`, a scheme its `:`.
//! The editor (`lib/line-editor`) inserts what the candidates share.
//!
//! May touch: the directories it lists (reads only) and the shell's state.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use line_editor::Word;
use rt::abi::syscall::{MODE_DIR, MODE_TYPE};
use rt::fs::File;

use crate::search::PATH_SEPARATOR;
use crate::shell::Shell;

/// More candidates than this are not each looked at to see whether they
/// are directories (a listing of 10,000 files must not take seconds).
const STAT_LIMIT: usize = 64;

/// The whole words `word` can become, sorted.
pub fn candidates(shell: &Shell, word: &Word) -> Vec<String> {
    let text = word.text.as_str();
    let mut found = BTreeSet::new();
    if word.command && !text.contains('/') && !rt::fs::is_url(text) {
        found.extend(crate::builtins::names().filter(|name| name.starts_with(text)).map(String::from));
        found.extend(shell.functions.keys().filter(|name| name.starts_with(text)).cloned());
        let path = shell.vars.get("PATH").map_or("", String::as_str);
        for dir in path.split(PATH_SEPARATOR).filter(|dir| !dir.is_empty()) {
            found.extend(entries(&shell.resolve(dir)).into_iter().filter(|name| name.starts_with(text)));
        }
        return found.into_iter().collect();
    }
    // The directory part (up to the last `/`, or the scheme's `:`) and the
    // start of the entry's name.
    let split = text.rfind('/').or_else(|| text.find(':').filter(|_| rt::fs::is_url(text)));
    let (dir, start) = match split {
        Some(at) => text.split_at(at + 1),
        None => ("", text),
    };
    if dir.is_empty() {
        for scheme in entries(":") {
            let name = format!("{scheme}:");
            if name.starts_with(text) {
                found.insert(name);
            }
        }
    }
    let url = shell.resolve(dir);
    let names: Vec<String> = entries(&url).into_iter().filter(|name| name.starts_with(start)).collect();
    let look = names.len() <= STAT_LIMIT;
    for name in names {
        let child = child(&url, &name);
        let slash = if look && is_dir(&child) { "/" } else { "" };
        found.insert(format!("{dir}{name}{slash}"));
    }
    found.into_iter().collect()
}

/// `name` inside the directory `url`.
fn child(url: &str, name: &str) -> String {
    if url.ends_with(':') || url.ends_with('/') { format!("{url}{name}") } else { format!("{url}/{name}") }
}

/// The entries of the directory `url` (none if it is not one).
fn entries(url: &str) -> Vec<String> {
    let Ok(mut file) = File::open(url) else { return Vec::new() };
    if !file.stat().is_ok_and(|stat| stat.st_mode & MODE_TYPE == MODE_DIR) {
        return Vec::new();
    }
    let mut text = String::new();
    if file.read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    text.lines().filter(|name| !name.is_empty()).map(String::from).collect()
}

fn is_dir(url: &str) -> bool {
    File::open(url).and_then(|file| file.stat()).is_ok_and(|stat| stat.st_mode & MODE_TYPE == MODE_DIR)
}

/// How a candidate is listed: its last component (`initfs:bin/` as
/// `bin/`, `tmp:a/b.txt` as `b.txt`), a scheme or a command whole.
fn shown(candidate: &str) -> &str {
    let body = candidate.trim_end_matches(['/', ':']);
    body.rfind(['/', ':']).map_or(candidate, |at| &candidate[at + 1..])
}

/// The candidates laid out in columns for a `width`-column terminal, each
/// line ending in `\n`.
pub fn columns(candidates: &[String], width: usize) -> String {
    let candidates: Vec<&str> = candidates.iter().map(|c| shown(c)).collect();
    let widest = candidates.iter().map(|c| c.chars().count()).max().unwrap_or(0) + 2;
    let per_line = (width / widest).max(1);
    let mut text = String::new();
    for (i, candidate) in candidates.iter().enumerate() {
        text.push_str(candidate);
        if (i + 1) % per_line == 0 || i + 1 == candidates.len() {
            text.push('\n');
        } else {
            text.extend(core::iter::repeat_n(' ', widest - candidate.chars().count()));
        }
    }
    text
}
