//! Spawning cargo, rustup and other tools with a clean environment.
//!
//! `mk` itself runs under `cargo run`, which leaves its own toolchain and
//! package in the environment (`RUSTUP_TOOLCHAIN`, `CARGO`, `CARGO_PKG_*`,
//! toolchain directories in `LD_LIBRARY_PATH`, ...). A nested cargo that
//! inherited them would use the wrong toolchain or mistake itself for a build
//! script, so every tool mk starts gets those removed and lets the
//! `rust-toolchain.toml` files (or an explicit `rustup run`) decide.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::workspace::Workspace;

/// Variables removed by name.
const STRIPPED: &[&str] = &[
    "RUSTUP_TOOLCHAIN",
    "RUSTUP_TOOLCHAIN_SOURCE",
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTDOC",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_MAKEFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_RUSTC_CURRENT_DIR",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

/// Variables removed by prefix.
const STRIPPED_PREFIXES: &[&str] = &["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_EXE_"];

/// Whether a variable set by the outer `cargo run` must not reach a nested
/// tool.
pub fn is_stripped(name: &str) -> bool {
    STRIPPED.contains(&name) || STRIPPED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// `LD_LIBRARY_PATH` without the directories `cargo run` added (toolchain
/// libraries and the workspace's target directory); `None` if nothing is
/// left.
pub fn clean_library_path(value: &OsStr, drop_under: &[PathBuf]) -> Option<OsString> {
    let kept: Vec<PathBuf> = std::env::split_paths(value)
        .filter(|dir| !dir.as_os_str().is_empty())
        .filter(|dir| !drop_under.iter().any(|prefix| dir.starts_with(prefix)))
        .collect();
    if kept.is_empty() { None } else { std::env::join_paths(kept).ok() }
}

fn rustup_home() -> Option<PathBuf> {
    std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".rustup")))
}

/// A command for `program` run in the workspace root with the outer cargo's
/// variables removed.
pub fn clean(ws: &Workspace, program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(&ws.root);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_stripped) {
            cmd.env_remove(&name);
        }
    }
    if let Some(value) = std::env::var_os("LD_LIBRARY_PATH") {
        let mut drop_under = vec![ws.target_dir()];
        if let Some(home) = rustup_home() {
            drop_under.push(home.join("toolchains"));
        }
        match clean_library_path(&value, &drop_under) {
            Some(kept) => cmd.env("LD_LIBRARY_PATH", kept),
            None => cmd.env_remove("LD_LIBRARY_PATH"),
        };
    }
    cmd
}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|arg| {
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains([' ', '\'', '"']) {
            format!("'{}'", arg.replace('\'', "'\\''"))
        } else {
            arg.into_owned()
        }
    }));
    words.join(" ")
}

/// Runs `cmd` with the terminal's stdout and stderr; `Ok(true)` if it
/// succeeded, `Ok(false)` if it ran and failed.
pub fn run(cmd: &mut Command) -> Result<bool, String> {
    cmd.status().map(|status| status.success()).map_err(|e| spawn_error(cmd, e))
}

/// Runs `cmd` and returns its stdout; an error if it cannot start or fails.
pub fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.stdin(Stdio::null()).stderr(Stdio::piped()).output().map_err(|e| spawn_error(cmd, e))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed ({}): {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn spawn_error(cmd: &Command, err: std::io::Error) -> String {
    format!("could not run `{}`: {err}", cmd.get_program().to_string_lossy())
}

/// Creates (or empties) the log file at `path`, making its directory.
pub fn create_log(path: &std::path::Path) -> Result<std::fs::File, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    std::fs::File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_outer_cargos_variables() {
        for name in [
            "RUSTUP_TOOLCHAIN",
            "CARGO",
            "RUSTC",
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_MAKEFLAGS",
        ] {
            assert!(is_stripped(name), "{name} should be stripped");
        }
        for name in ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_AUTO_INSTALL", "CI"] {
            assert!(!is_stripped(name), "{name} should be kept");
        }
    }

    #[test]
    fn library_path_loses_toolchain_and_target_dirs() {
        let value = OsStr::new("/w/target/debug:/w/target/debug/deps:/r/toolchains/stable/lib/rustlib/x/lib:/opt/lib");
        let drop = [PathBuf::from("/w/target"), PathBuf::from("/r/toolchains")];
        assert_eq!(clean_library_path(value, &drop), Some(OsString::from("/opt/lib")));
        let value = OsStr::new("/w/target/debug:/r/toolchains/x/lib");
        assert_eq!(clean_library_path(value, &drop), None);
    }

    #[test]
    fn describes_commands() {
        let mut cmd = Command::new("rustup");
        cmd.args(["target", "add", "x86_64-unknown-none", "a b"]);
        assert_eq!(describe(&cmd), "rustup target add x86_64-unknown-none 'a b'");
    }

    #[test]
    fn clean_commands_drop_the_variables() {
        let ws = Workspace::locate().expect("workspace");
        let cmd = clean(&ws, "cargo");
        assert_eq!(cmd.get_current_dir(), Some(ws.root.as_path()));
        // Under `cargo test` these are set, so the command must remove them.
        for name in ["CARGO", "CARGO_PKG_NAME", "CARGO_MANIFEST_DIR"] {
            if std::env::var_os(name).is_some() {
                assert!(cmd.get_envs().any(|(key, value)| key == name && value.is_none()), "{name} not removed");
            }
        }
    }
}
