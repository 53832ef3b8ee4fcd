//! The last part of a URL or path (`basename`) and what leads to it
//! (`dirname`), where a scheme's root `tmp:` is a directory as `/` is:
//! `tmp:a/b` is `b` in `tmp:a`, `tmp:a` is `a` in `tmp:`.

/// `name` without a trailing `/` run (a lone `/` stays).
fn trim_slashes(name: &str) -> &str {
    let trimmed = name.trim_end_matches('/');
    if trimmed.is_empty() && !name.is_empty() { "/" } else { trimmed }
}

/// Where the path part of `name` starts: after `scheme:` when it is a URL.
fn path_start(name: &str) -> usize {
    match name.find(':') {
        Some(colon) if !name[..colon].contains('/') => colon + 1,
        _ => 0,
    }
}

/// The last component of `name`; `suffix` is cut from its end unless it
/// is all of it. A scheme's root (`tmp:`) is its own basename, as `/` is.
pub fn basename<'a>(name: &'a str, suffix: &str) -> &'a str {
    let name = trim_slashes(name);
    let start = path_start(name);
    let path = &name[start..];
    if path.is_empty() || path == "/" {
        return name;
    }
    let path = trim_slashes(path);
    let base = match path.rfind('/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    };
    match base.strip_suffix(suffix) {
        Some(cut) if !suffix.is_empty() && !cut.is_empty() => cut,
        _ => base,
    }
}

/// What leads to the last component of `name`: `tmp:a/b` → `tmp:a`,
/// `tmp:a` → `tmp:`, `/a` → `/`, `a` → `.`.
pub fn dirname(name: &str) -> &str {
    let name = trim_slashes(name);
    let start = path_start(name);
    let path = &name[start..];
    if path.is_empty() || path == "/" {
        return name;
    }
    match path.rfind('/') {
        Some(slash) => {
            let parent = path[..slash].trim_end_matches('/');
            if parent.is_empty() { &name[..start + 1] } else { &name[..start + parent.len()] }
        }
        None if start > 0 => &name[..start],
        None => ".",
    }
}
