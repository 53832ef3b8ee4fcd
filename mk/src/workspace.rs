//! Where things are: the workspace root, the toolchain channels pinned in the
//! `rust-toolchain.toml` files, and the paths of kernels, images and logs.
//! Keeping every path in one place means the build, QEMU and test code agree
//! on them, and the channels are read from the files rather than written
//! twice.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The rustc target the kernel and userspace build for.
pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// A cargo build profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    /// The directory cargo puts this profile's output in.
    pub fn dir(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    /// Finds the workspace root: the nearest directory above the current
    /// one whose `Cargo.toml` has a `[workspace]` table and an `mk/` crate
    /// (the workspace `cargo mk` was run in), or else the directory above
    /// `mk/` at compile time. The current directory comes first: a copy
    /// of the tree whose build was seeded from this one (the README
    /// tutorial's, `readme.rs`) runs an `mk` compiled here, which must
    /// build the copy.
    pub fn locate() -> Result<Workspace, String> {
        let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
        if let Some(dir) = cwd.ancestors().find(|dir| is_root(dir)) {
            return Ok(Workspace { root: dir.to_path_buf() });
        }
        let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        if is_root(&compiled) {
            let root = compiled.canonicalize().unwrap_or(compiled);
            return Ok(Workspace { root });
        }
        Err("cannot find the Ferrite workspace (a Cargo.toml with [workspace] and an mk/ crate)".to_string())
    }

    /// The stable channel the workspace builds with.
    pub fn stable_channel(&self) -> Result<String, String> {
        read_channel(&self.root.join("rust-toolchain.toml"))
    }

    /// The nightly channel the image tool builds with.
    pub fn image_channel(&self) -> Result<String, String> {
        read_channel(&self.image_tool_dir().join("rust-toolchain.toml"))
    }

    pub fn target_dir(&self) -> PathBuf {
        self.root.join("target")
    }

    /// A kernel binary built by `cargo build -p kernel --target ...`.
    pub fn kernel_elf(&self, profile: Profile, bin: &str) -> PathBuf {
        self.target_dir().join(KERNEL_TARGET).join(profile.dir()).join(bin)
    }

    /// Where mk writes its own output (images, firmware variables, logs).
    pub fn mk_dir(&self) -> PathBuf {
        self.target_dir().join("ferrite")
    }

    pub fn image_dir(&self, profile: Profile) -> PathBuf {
        self.mk_dir().join(profile.dir())
    }

    /// Where the initfs tree is assembled before it is packed:
    /// `target/ferrite/<profile>/initfs/` (`bin/`, `sbin/` and `libexec/` hold
    /// the programs).
    pub fn initfs_staging(&self, profile: Profile) -> PathBuf {
        self.image_dir(profile).join("initfs")
    }

    /// The packed initfs, every image's ramdisk.
    pub fn initfs_image(&self, profile: Profile) -> PathBuf {
        self.image_dir(profile).join("initfs.img")
    }

    /// The repository's configuration files for the initfs (`etc/` in the
    /// image), if the tree has any.
    pub fn initfs_etc(&self) -> PathBuf {
        self.root.join("initfs").join("etc")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.mk_dir().join("test-logs")
    }

    pub fn image_tool_dir(&self) -> PathBuf {
        self.root.join("mk").join("image")
    }

    pub fn image_tool_manifest(&self) -> PathBuf {
        self.image_tool_dir().join("Cargo.toml")
    }

    pub fn image_tool_binary(&self) -> PathBuf {
        self.image_tool_dir().join("target").join("release").join("ferrite-image")
    }

    /// A path for messages: relative to the workspace root when inside it.
    pub fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }
}

fn is_root(dir: &Path) -> bool {
    let Ok(manifest) = fs::read_to_string(dir.join("Cargo.toml")) else {
        return false;
    };
    manifest.lines().any(|line| line.trim() == "[workspace]") && dir.join("mk/Cargo.toml").is_file()
}

fn read_channel(file: &Path) -> Result<String, String> {
    let text = fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    toolchain_channel(&text).ok_or_else(|| format!("{} has no `channel = \"...\"` under [toolchain]", file.display()))
}

/// The `channel` of a `rust-toolchain.toml`'s `[toolchain]` table.
pub fn toolchain_channel(text: &str) -> Option<String> {
    let mut in_toolchain = false;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            in_toolchain = line == "[toolchain]";
            continue;
        }
        if !in_toolchain {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "channel" {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))?;
            return (!unquoted.is_empty()).then(|| unquoted.to_string());
        }
    }
    None
}

/// Whether `output` exists and is at least as new as every input that
/// exists (a missing input makes it stale).
pub fn is_fresh(output: &Path, inputs: &[&Path]) -> bool {
    let Some(built) = modified(output) else {
        return false;
    };
    inputs.iter().all(|input| modified(input).is_some_and(|changed| changed <= built))
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_channel() {
        let text = "# comment\n[toolchain]\nchannel = \"1.95.0\"\ncomponents = [\"rustfmt\"]\n";
        assert_eq!(toolchain_channel(text).as_deref(), Some("1.95.0"));
        let text = "[toolchain]\n  channel='nightly-2026-10-30'  # pinned\n";
        assert_eq!(toolchain_channel(text).as_deref(), Some("nightly-2026-10-30"));
    }

    #[test]
    fn ignores_channels_outside_the_toolchain_table() {
        assert_eq!(toolchain_channel("[other]\nchannel = \"x\"\n"), None);
        assert_eq!(toolchain_channel("channel = \"x\"\n"), None);
        assert_eq!(toolchain_channel("[toolchain]\nchannel = \"\"\n"), None);
        assert_eq!(toolchain_channel("[toolchain]\nchannel = stable\n"), None);
    }

    #[test]
    fn the_real_toolchain_files_parse() {
        let ws = Workspace::locate().expect("workspace");
        assert!(ws.stable_channel().is_ok());
        assert!(ws.image_channel().expect("image channel").starts_with("nightly"));
    }

    #[test]
    fn freshness() {
        let dir = std::env::temp_dir().join(format!("mk-fresh-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let old = dir.join("old");
        let new = dir.join("new");
        fs::write(&old, "a").unwrap();
        fs::write(&new, "b").unwrap();
        let earlier = SystemTime::now() - std::time::Duration::from_secs(60);
        fs::File::options().write(true).open(&old).unwrap().set_modified(earlier).unwrap();
        assert!(is_fresh(&new, &[&old]));
        assert!(!is_fresh(&old, &[&new]));
        assert!(!is_fresh(&dir.join("missing"), &[&old]));
        assert!(!is_fresh(&new, &[&dir.join("missing")]));
        assert!(is_fresh(&new, &[]));
        fs::remove_dir_all(&dir).unwrap();
    }
}
