//! Finding the program a command names: a name with `/` or a URL is taken
//! as a path (relative to the current directory); any other name is looked
//! for in each directory of `PATH`, separated by `;` (a URL holds `:`, so
//! `:` cannot separate them), e.g. `PATH=initfs:bin;tmp:bin`.

use alloc::format;
use alloc::string::String;

use rt::fs::File;

use crate::shell::Shell;

/// The separator of `PATH` entries.
pub const PATH_SEPARATOR: char = ';';

/// Why no program was found.
pub enum NotFound {
    /// No `PATH` directory has it (or it is no path and `PATH` is empty).
    Command,
    /// The path given does not open.
    Path(rt::Error),
}

/// The URL of the program `name` runs.
pub fn find(shell: &Shell, name: &str) -> Result<String, NotFound> {
    if name.contains('/') || rt::fs::is_url(name) {
        let url = shell.resolve(name);
        return File::open(&url).map(|_| url).map_err(NotFound::Path);
    }
    let path = shell.vars.get("PATH").map_or("", String::as_str);
    for dir in path.split(PATH_SEPARATOR).filter(|dir| !dir.is_empty()) {
        let dir = shell.resolve(dir);
        let url =
            if dir.ends_with(':') || dir.ends_with('/') { format!("{dir}{name}") } else { format!("{dir}/{name}") };
        if File::open(&url).is_ok() {
            return Ok(url);
        }
    }
    Err(NotFound::Command)
}
