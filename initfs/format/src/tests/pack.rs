//! `pack_dir` on a scratch directory tree the test builds under the system
//! temp directory (and removes again). Test-only.

use std::fs;
use std::path::{Path, PathBuf};
use std::process;
use std::string::ToString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::vec;

use crate::*;

/// A fresh, empty scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(std::format!("initfs-test-{}-{n}", process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn populate(root: &Path) {
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("etc/deep/er")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("bin/init"), [0x7F, b'E', b'L', b'F', 1, 2, 3]).unwrap();
    fs::write(root.join("bin/sh"), vec![0x55; 10_000]).unwrap();
    fs::write(root.join("etc/init.rc"), "serial\nsh\n").unwrap();
    fs::write(root.join("etc/deep/er/x"), "").unwrap();
    #[cfg(unix)]
    {
        chmod(&root.join("bin/init"), 0o755);
        chmod(&root.join("bin/sh"), 0o700);
        chmod(&root.join("etc/init.rc"), 0o640);
    }
}

#[test]
fn packs_a_host_tree() {
    let scratch = Scratch::new();
    populate(scratch.path());
    let bytes = pack_dir(scratch.path()).unwrap();
    let image = Image::parse(&bytes).unwrap();

    let names: std::vec::Vec<&str> = image.read_dir(ROOT).unwrap().map(|e| e.name).collect();
    assert_eq!(names, ["bin", "empty", "etc"]);
    let init = image.lookup("bin/init").unwrap();
    assert_eq!(image.file_data(init).unwrap(), [0x7F, b'E', b'L', b'F', 1, 2, 3]);
    let sh = image.lookup("bin/sh").unwrap();
    assert_eq!(image.file_data(sh).unwrap().len(), 10_000);
    let rc = image.lookup("etc/init.rc").unwrap();
    assert_eq!(image.file_data(rc).unwrap(), b"serial\nsh\n");
    let x = image.lookup("etc/deep/er/x").unwrap();
    assert_eq!(image.inode(x).unwrap().size, 0);
    let empty = image.lookup("empty").unwrap();
    assert_eq!(image.read_dir(empty).unwrap().len(), 0);
    assert_eq!(image.inode(empty).unwrap().mode, 0o755);
    #[cfg(unix)]
    {
        assert_eq!(image.inode(init).unwrap().mode, 0o755);
        assert_eq!(image.inode(sh).unwrap().mode, 0o755);
        assert_eq!(image.inode(rc).unwrap().mode, 0o644);
        assert_eq!(image.inode(x).unwrap().mode, 0o644);
    }
    assert_eq!(super::util::walk(&image).len(), 10);

    // Reproducible: packing again gives the same bytes.
    assert_eq!(pack_dir(scratch.path()).unwrap(), bytes);
}

#[test]
fn packing_an_empty_dir() {
    let scratch = Scratch::new();
    let bytes = pack_dir(scratch.path()).unwrap();
    assert_eq!(bytes, Builder::new().build());
}

#[cfg(unix)]
#[test]
fn symlinks_are_refused() {
    let scratch = Scratch::new();
    populate(scratch.path());
    std::os::unix::fs::symlink("init", scratch.path().join("bin/link")).unwrap();
    let err = pack_dir(scratch.path()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("link"), "{err}");

    // A symlink to a directory (which could make a cycle) is refused too.
    let scratch = Scratch::new();
    populate(scratch.path());
    std::os::unix::fs::symlink("..", scratch.path().join("etc/up")).unwrap();
    assert!(pack_dir(scratch.path()).is_err());
}

#[cfg(unix)]
#[test]
fn fifos_are_refused() {
    let scratch = Scratch::new();
    let fifo = scratch.path().join("fifo");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !status.is_ok_and(|s| s.success()) {
        return; // no mkfifo on this host: nothing to test
    }
    assert!(pack_dir(scratch.path()).is_err());
}

#[test]
fn non_directories_are_refused() {
    let scratch = Scratch::new();
    populate(scratch.path());
    assert!(pack_dir(&scratch.path().join("bin/init")).is_err());
    assert!(pack_dir(&scratch.path().join("missing")).is_err());
}
