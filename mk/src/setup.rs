//! Installing what the build needs before it is needed.
//!
//! This machine sets `RUSTUP_AUTO_INSTALL=0`, so a missing target, component
//! or toolchain is not fetched on demand: the build just fails later with an
//! unhelpful error (docs/architecture.md §9.1). Setup checks each piece, installs what is
//! missing (saying what it runs), and stops with a clear message when it
//! cannot: the stable toolchain's `x86_64-unknown-none` target (and rustfmt
//! and clippy for `test`), the image tool's nightly with `rust-src` and
//! `llvm-tools-preview`, and QEMU with the OVMF firmware.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process;
use crate::qemu::{self, QEMU};
use crate::workspace::{KERNEL_TARGET, Workspace};

/// Which pieces a command needs.
#[derive(Clone, Copy)]
pub struct Needs {
    pub lint_components: bool,
    pub qemu: bool,
}

impl Needs {
    /// `cargo mk build`: the kernel target and the image nightly.
    pub const BUILD: Needs = Needs { lint_components: false, qemu: false };
    /// `cargo mk qemu`: also QEMU and OVMF.
    pub const QEMU: Needs = Needs { lint_components: false, qemu: true };
    /// `cargo mk test` and `cargo mk setup`: everything.
    pub const ALL: Needs = Needs { lint_components: true, qemu: true };
}

const LINT_COMPONENTS: &[&str] = &["rustfmt", "clippy"];
const IMAGE_COMPONENTS: &[&str] = &["rust-src", "llvm-tools-preview"];

pub fn run(ws: &Workspace, needs: Needs) -> Result<(), String> {
    stable_toolchain(ws, needs)?;
    image_toolchain(ws)?;
    if needs.qemu {
        system_packages(ws)?;
    }
    Ok(())
}

/// Step 1: the pinned stable toolchain, its kernel target and (for `test`)
/// rustfmt and clippy.
fn stable_toolchain(ws: &Workspace, needs: Needs) -> Result<(), String> {
    let channel = ws.stable_channel()?;
    if !toolchain_listed(&rustup_out(ws, &["toolchain", "list"])?, &channel) {
        let mut cmd = process::clean(ws, "rustup");
        cmd.args(["toolchain", "install", &channel, "--profile", "minimal"]);
        cmd.args(["-c", "rustfmt", "-c", "clippy", "-t", KERNEL_TARGET]);
        act(&format!("installing the Rust toolchain {channel}"), &mut cmd)?;
    }

    let targets = rustup_out(ws, &["target", "list", "--installed", "--toolchain", &channel])?;
    if !targets.lines().any(|line| line.trim() == KERNEL_TARGET) {
        let mut cmd = process::clean(ws, "rustup");
        cmd.args(["target", "add", KERNEL_TARGET, "--toolchain", &channel]);
        act(&format!("installing rust target {KERNEL_TARGET}"), &mut cmd)?;
    }

    if needs.lint_components {
        add_missing_components(ws, &channel, LINT_COMPONENTS)?;
    }
    Ok(())
}

/// Step 2: the nightly that builds the image tool, with its components.
fn image_toolchain(ws: &Workspace) -> Result<(), String> {
    let channel = ws.image_channel()?;
    if toolchain_listed(&rustup_out(ws, &["toolchain", "list"])?, &channel) {
        return add_missing_components(ws, &channel, IMAGE_COMPONENTS);
    }
    let mut cmd = process::clean(ws, "rustup");
    cmd.args(["toolchain", "install", &channel, "--profile", "minimal"]);
    for component in IMAGE_COMPONENTS {
        cmd.args(["-c", component]);
    }
    act(&format!("installing the image toolchain {channel} (only mk/image uses it)"), &mut cmd)
}

fn add_missing_components(ws: &Workspace, channel: &str, wanted: &[&str]) -> Result<(), String> {
    let installed = rustup_out(ws, &["component", "list", "--installed", "--toolchain", channel])?;
    let missing: Vec<&str> = wanted.iter().copied().filter(|c| !component_listed(&installed, c)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut cmd = process::clean(ws, "rustup");
    cmd.args(["component", "add"]);
    cmd.args(&missing);
    cmd.args(["--toolchain", channel]);
    act(&format!("installing {} for {channel}", missing.join(" and ")), &mut cmd)
}

/// Step 3: QEMU and the OVMF firmware, through apt-get when we are root.
fn system_packages(ws: &Workspace) -> Result<(), String> {
    let missing = missing_packages();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = process::output(process::clean(ws, "id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    let path = std::env::var_os("PATH");
    let has_apt = find_program("apt-get", path.as_deref()).is_some();
    match apt_plan(&missing, is_root, has_apt) {
        AptPlan::Install(packages) => {
            let mut update = process::clean(ws, "apt-get");
            update.env("DEBIAN_FRONTEND", "noninteractive").arg("update");
            act("updating the apt package lists", &mut update)?;
            let mut install = process::clean(ws, "apt-get");
            install.env("DEBIAN_FRONTEND", "noninteractive");
            install.args(["install", "-y"]).args(&packages);
            act(&format!("installing {}", packages.join(" ")), &mut install)?;
            let still = missing_packages();
            if !still.is_empty() {
                return Err(format!("apt-get finished but {} still missing", still.join(" and ")));
            }
            Ok(())
        }
        AptPlan::Manual(command) => Err(format!(
            "{} missing; install {} with:\n    {command}",
            missing.join(" and "),
            if missing.len() == 1 { "it" } else { "them" }
        )),
    }
}

/// The Debian packages that provide what is missing on this machine.
fn missing_packages() -> Vec<&'static str> {
    missing_packages_in(QEMU, std::env::var_os("PATH").as_deref(), Path::new(qemu::OVMF_DIR))
}

/// The Debian packages needed when `qemu` is not on `path` or OVMF is not
/// in `ovmf_dir`.
fn missing_packages_in(qemu: &str, path: Option<&OsStr>, ovmf_dir: &Path) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if find_program(qemu, path).is_none() {
        missing.push("qemu-system-x86");
    }
    if qemu::find_ovmf(ovmf_dir).is_none() {
        missing.push("ovmf");
    }
    missing
}

/// What to do about missing Debian packages.
#[derive(Debug, PartialEq, Eq)]
pub enum AptPlan {
    /// Run apt-get update, then apt-get install -y these.
    Install(Vec<String>),
    /// We cannot: the user should run this command.
    Manual(String),
}

pub fn apt_plan(packages: &[&str], is_root: bool, has_apt: bool) -> AptPlan {
    let list = packages.join(" ");
    if is_root && has_apt {
        AptPlan::Install(packages.iter().map(|p| p.to_string()).collect())
    } else if has_apt {
        AptPlan::Manual(format!("sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y {list}"))
    } else {
        AptPlan::Manual(format!("your package manager (on Debian or Ubuntu: apt-get install -y {list})"))
    }
}

/// Runs one setup action, saying what it does first.
fn act(what: &str, cmd: &mut Command) -> Result<(), String> {
    println!("mk: {what} ({})", process::describe(cmd));
    if process::run(cmd)? { Ok(()) } else { Err(format!("{what} failed (`{}`)", process::describe(cmd))) }
}

fn rustup_out(ws: &Workspace, args: &[&str]) -> Result<String, String> {
    process::output(process::clean(ws, "rustup").args(args))
}

/// Whether `rustup toolchain list` shows `channel` (as itself or with the
/// host triple appended, e.g. `1.95.0-x86_64-unknown-linux-gnu`).
pub fn toolchain_listed(list: &str, channel: &str) -> bool {
    list.lines()
        .filter_map(|line| line.split_whitespace().next())
        .any(|name| name == channel || is_with_host_triple(name, channel))
}

/// Whether `rustup component list --installed` shows `component`. Rustup
/// lists host components with the triple appended and lists
/// `llvm-tools-preview` as `llvm-tools`.
pub fn component_listed(list: &str, component: &str) -> bool {
    let base = component.strip_suffix("-preview").unwrap_or(component);
    list.lines()
        .map(str::trim)
        .any(|name| [component, base].iter().any(|want| name == *want || is_with_host_triple(name, want)))
}

/// `name` is `base-<triple>` where the triple starts with this host's
/// architecture (so `nightly` does not match `nightly-2026-10-30-...`).
fn is_with_host_triple(name: &str, base: &str) -> bool {
    name.strip_prefix(base)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|triple| triple.split('-').next() == Some(std::env::consts::ARCH))
}

/// The first executable file called `name` in the directories of `path`.
pub fn find_program(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|file| file.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = std::env::consts::ARCH;

    #[test]
    fn finds_toolchains() {
        let list = format!(
            "stable-{HOST}-unknown-linux-gnu (default)\n\
             nightly-2026-10-30-{HOST}-unknown-linux-gnu\n\
             1.95.0-{HOST}-unknown-linux-gnu (active)\n"
        );
        assert!(toolchain_listed(&list, "1.95.0"));
        assert!(toolchain_listed(&list, "stable"));
        assert!(toolchain_listed(&list, "nightly-2026-10-30"));
        assert!(!toolchain_listed(&list, "nightly"));
        assert!(!toolchain_listed(&list, "nightly-2026-10-31"));
        assert!(!toolchain_listed(&list, "1.95"));
        assert!(toolchain_listed("my-custom\n", "my-custom"));
        assert!(!toolchain_listed("no installed toolchains\n", "1.95.0"));
    }

    #[test]
    fn finds_components() {
        let list = format!(
            "cargo-{HOST}-unknown-linux-gnu\nllvm-tools-{HOST}-unknown-linux-gnu\n\
             rust-src\nrust-std-{HOST}-unknown-linux-gnu\n"
        );
        assert!(component_listed(&list, "rust-src"));
        assert!(component_listed(&list, "llvm-tools-preview"));
        assert!(component_listed(&list, "cargo"));
        assert!(!component_listed(&list, "clippy"));
        assert!(!component_listed(&list, "rust"));
        let list = format!("clippy-{HOST}-unknown-linux-gnu\nrustfmt-{HOST}-unknown-linux-gnu\n");
        assert!(component_listed(&list, "clippy"));
        assert!(component_listed(&list, "rustfmt"));
        assert!(!component_listed(&list, "rust-src"));
    }

    #[test]
    fn finds_programs_on_path() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::var_os("PATH");
        assert!(find_program("sh", path.as_deref()).is_some());
        assert!(find_program("qemu-system-does-not-exist", path.as_deref()).is_none());
        assert!(find_program("sh", None).is_none());
        // A directory or a non-executable file is not a program.
        let dir = std::env::temp_dir().join(format!("mk-path-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("subdir")).unwrap();
        let file = dir.join("plain");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let dirs = std::env::join_paths([&dir]).unwrap();
        assert!(find_program("subdir", Some(&dirs)).is_none());
        assert!(find_program("plain", Some(&dirs)).is_none());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_program("plain", Some(&dirs)), Some(file));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_qemu_or_ovmf_asks_for_packages() {
        let path = std::env::var_os("PATH");
        let nowhere = Path::new("/nonexistent-ovmf-dir");
        assert_eq!(
            missing_packages_in("qemu-system-does-not-exist", path.as_deref(), nowhere),
            ["qemu-system-x86", "ovmf"]
        );
        assert_eq!(missing_packages_in("sh", path.as_deref(), nowhere), ["ovmf"]);
        assert_eq!(missing_packages_in("qemu-system-does-not-exist", None, nowhere), ["qemu-system-x86", "ovmf"]);
    }

    #[test]
    fn apt_only_as_root() {
        assert_eq!(
            apt_plan(&["qemu-system-x86", "ovmf"], true, true),
            AptPlan::Install(vec!["qemu-system-x86".into(), "ovmf".into()])
        );
        let AptPlan::Manual(cmd) = apt_plan(&["ovmf"], false, true) else {
            panic!("not root must not install");
        };
        assert!(cmd.contains("sudo apt-get update"), "{cmd}");
        assert!(cmd.contains("apt-get install -y ovmf"), "{cmd}");
        assert!(matches!(apt_plan(&["ovmf"], true, false), AptPlan::Manual(_)));
    }
}
