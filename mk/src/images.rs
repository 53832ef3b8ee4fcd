//! `cargo mk build`: the kernel, the userspace initfs, the image tool, and
//! the disk images.
//!
//! The kernel builds on the workspace's stable toolchain, and so do the
//! userspace programs, which [`userspace`] packs into the initfs image every
//! disk image carries as its ramdisk; the images come
//! from `mk/image` (`ferrite-image`), which must build on its own nightly
//! (docs/architecture.md §9.1), so it is a separate cargo call under `rustup run`. Each
//! kernel binary gets a BIOS and a UEFI image; an image is rewritten only
//! when one of its inputs (kernel, initfs, image tool) is newer than it.
//! `cargo mk bench` adds a third pair, the normal kernel with the bench
//! initfs ([`build_bench`]).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::process;
use crate::userspace;
use crate::workspace::{KERNEL_TARGET, Profile, Workspace, is_fresh};

/// One bootable kernel and the two images made from it.
#[derive(Clone)]
pub struct KernelImage {
    pub kernel: PathBuf,
    pub ramdisk: Option<PathBuf>,
    pub bios: PathBuf,
    pub uefi: PathBuf,
}

/// The kernel binaries that get images (both named after their binary).
const KERNEL_BINS: &[&str] = &["ferrite", "ferrite-selftest"];

/// The images of one profile. This is the one place that says what goes
/// into an image: a kernel and the initfs as its ramdisk.
pub fn specs(ws: &Workspace, profile: Profile) -> Vec<KernelImage> {
    let dir = ws.image_dir(profile);
    KERNEL_BINS
        .iter()
        .map(|bin| KernelImage {
            kernel: ws.kernel_elf(profile, bin),
            ramdisk: Some(ws.initfs_image(profile)),
            bios: dir.join(format!("{bin}-bios.img")),
            uefi: dir.join(format!("{bin}-uefi.img")),
        })
        .collect()
}

/// The self-test kernel's images.
pub fn selftest(images: &[KernelImage]) -> &KernelImage {
    images
        .iter()
        .find(|image| image.kernel.ends_with("ferrite-selftest"))
        .expect("the self-test kernel is one of KERNEL_BINS")
}

/// The normal kernel's images.
pub fn normal(images: &[KernelImage]) -> &KernelImage {
    images.iter().find(|image| image.kernel.ends_with("ferrite")).expect("the normal kernel is one of KERNEL_BINS")
}

/// Builds the kernel and the initfs and writes every image that is out of
/// date.
pub fn build(ws: &Workspace, profile: Profile) -> Result<Vec<KernelImage>, String> {
    build_kernel(ws, profile)?;
    fs::create_dir_all(ws.image_dir(profile))
        .map_err(|e| format!("creating {}: {e}", ws.image_dir(profile).display()))?;
    userspace::build(ws, profile)?;
    let tool = build_image_tool(ws)?;
    let images = specs(ws, profile);
    for image in &images {
        write_images(ws, &tool, image)?;
    }
    Ok(images)
}

/// The bench image: the normal kernel with the bench initfs as its ramdisk
/// (`sbin/init` is the benchmark program), written to
/// `ferrite-bench-{bios,uefi}.img` beside the others.
pub fn bench_spec(ws: &Workspace, profile: Profile) -> KernelImage {
    let dir = ws.image_dir(profile);
    KernelImage {
        kernel: ws.kernel_elf(profile, "ferrite"),
        ramdisk: Some(userspace::bench_initfs_image(ws, profile)),
        bios: dir.join("ferrite-bench-bios.img"),
        uefi: dir.join("ferrite-bench-uefi.img"),
    }
}

/// Builds the kernel and the bench initfs and writes the bench images if
/// they are out of date (`cargo mk bench`).
pub fn build_bench(ws: &Workspace, profile: Profile) -> Result<KernelImage, String> {
    build_kernel(ws, profile)?;
    fs::create_dir_all(ws.image_dir(profile))
        .map_err(|e| format!("creating {}: {e}", ws.image_dir(profile).display()))?;
    userspace::build_bench(ws, profile)?;
    let tool = build_image_tool(ws)?;
    let image = bench_spec(ws, profile);
    write_images(ws, &tool, &image)?;
    Ok(image)
}

fn build_kernel(ws: &Workspace, profile: Profile) -> Result<(), String> {
    let mut cmd = process::clean(ws, "cargo");
    cmd.args(["build", "-p", "kernel", "--target", KERNEL_TARGET]);
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    println!("mk: building the kernel ({})", process::describe(&cmd));
    if process::run(&mut cmd)? { Ok(()) } else { Err("the kernel did not build".to_string()) }
}

/// Builds `ferrite-image` on the image nightly (cargo decides whether
/// anything changed) and returns its path.
///
/// Its build (the bootloader's, mostly) takes minutes, so a tree without
/// one starts from the last build any tree of this user made
/// ([`image_tool_cache`]), and a build that makes a new binary refreshes
/// that copy: a fresh
/// clone on the same machine (CI's) then rebuilds only what differs.
/// Cargo decides what is stale, so an old copy costs nothing but the
/// copying.
fn build_image_tool(ws: &Workspace) -> Result<PathBuf, String> {
    let channel = ws.image_channel()?;
    let binary = ws.image_tool_binary();
    let target = ws.image_tool_dir().join("target");
    let cache = image_tool_cache();
    if let Some(cache) = &cache
        && !target.exists()
        && cache.is_dir()
    {
        println!("mk: seeding {} from the image tool's last build ({})", ws.show(&target), cache.display());
        if let Err(err) = copy_tree(cache, &target) {
            println!("mk: {err}; building the image tool from scratch");
            let _ = fs::remove_dir_all(&target);
        }
    }
    let built_before = fs::metadata(&binary).and_then(|m| m.modified()).ok();
    let mut cmd = process::clean(ws, "rustup");
    cmd.args(["run", &channel, "cargo", "build", "--release", "--manifest-path"]);
    cmd.arg(ws.image_tool_manifest());
    if !binary.exists() {
        println!(
            "mk: building the image tool on {channel}; the first build takes a few minutes (3 to 6 on 2 cores) ({})",
            process::describe(&cmd)
        );
    }
    if !process::run(&mut cmd)? {
        return Err(format!("the image tool (mk/image) did not build on {channel}"));
    }
    if !binary.is_file() {
        return Err(format!("{} was not built", ws.show(&binary)));
    }
    // Kept again when this build made a new binary, or nothing is kept.
    let built_now = fs::metadata(&binary).and_then(|m| m.modified()).ok();
    if let Some(cache) = &cache
        && (built_now != built_before || !cache.is_dir())
    {
        refresh_cache(&target, cache);
    }
    Ok(binary)
}

/// Where the image tool's last build is kept for the next tree:
/// `$XDG_CACHE_HOME/ferrite/image-tool-target`, else under `~/.cache`.
fn image_tool_cache() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("ferrite").join("image-tool-target"))
}

/// `cp -a from to` (`to` must not exist): the times stay, or cargo would
/// take every copied artifact for stale.
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let status =
        std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().map_err(|e| format!("cp: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("copying {} to {} failed", from.display(), to.display())) }
}

/// Replace the kept build with `target` (copied aside first, then
/// renamed into place, so a reader never sees half a copy). A failure
/// only costs the next fresh tree its head start.
fn refresh_cache(target: &Path, cache: &Path) {
    let fresh = cache.with_extension(format!("new-{}", std::process::id()));
    let _ = fs::remove_dir_all(&fresh);
    if copy_tree(target, &fresh).is_err() {
        let _ = fs::remove_dir_all(&fresh);
        return;
    }
    let old = cache.with_extension(format!("old-{}", std::process::id()));
    let _ = fs::rename(cache, &old);
    if fs::rename(&fresh, cache).is_err() {
        let _ = fs::remove_dir_all(&fresh);
    }
    let _ = fs::remove_dir_all(&old);
}

/// The arguments `ferrite-image` needs to write `image` to `bios`/`uefi`.
pub fn image_tool_args(image: &KernelImage, bios: &Path, uefi: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--kernel".into(), image.kernel.clone().into()];
    if let Some(ramdisk) = &image.ramdisk {
        args.extend(["--ramdisk".into(), ramdisk.clone().into()]);
    }
    args.extend(["--bios".into(), bios.into(), "--uefi".into(), uefi.into()]);
    args
}

/// Writes both images of one kernel unless they are newer than its inputs.
/// They are written under temporary names and renamed, so a failed write
/// never leaves an image that looks up to date.
fn write_images(ws: &Workspace, tool: &Path, image: &KernelImage) -> Result<(), String> {
    if !image.kernel.is_file() {
        return Err(format!("{} is missing after the build", ws.show(&image.kernel)));
    }
    let mut inputs: Vec<&Path> = vec![&image.kernel, tool];
    if let Some(ramdisk) = &image.ramdisk {
        inputs.push(ramdisk);
    }
    if is_fresh(&image.bios, &inputs) && is_fresh(&image.uefi, &inputs) {
        return Ok(());
    }
    // The image gets the kernel without its debug information: the BIOS
    // loader reads every byte of the file through the firmware, which
    // under TCG costs seconds per ten megabytes. GDB uses the unstripped
    // ELF.
    let elf = fs::read(&image.kernel).map_err(|e| format!("reading {}: {e}", ws.show(&image.kernel)))?;
    let stripped = userspace::strip_debug(&elf).map_err(|e| format!("{}: {e}", ws.show(&image.kernel)))?;
    let loaded = tmp_name(&image.bios).with_extension("kernel");
    fs::write(&loaded, stripped).map_err(|e| format!("writing {}: {e}", ws.show(&loaded)))?;
    let loaded_image = KernelImage { kernel: loaded.clone(), ..image.clone() };
    let bios_tmp = tmp_name(&image.bios);
    let uefi_tmp = tmp_name(&image.uefi);
    let mut cmd = process::clean(ws, &tool.to_string_lossy());
    cmd.args(image_tool_args(&loaded_image, &bios_tmp, &uefi_tmp));
    println!("mk: writing {} and {}", ws.show(&image.bios), ws.show(&image.uefi));
    let ok = process::run(&mut cmd)?;
    let renamed = ok && fs::rename(&bios_tmp, &image.bios).is_ok() && fs::rename(&uefi_tmp, &image.uefi).is_ok();
    let _ = fs::remove_file(&bios_tmp);
    let _ = fs::remove_file(&uefi_tmp);
    let _ = fs::remove_file(&loaded);
    if renamed {
        Ok(())
    } else {
        Err(format!("could not write the images of {} (`{}`)", ws.show(&image.kernel), process::describe(&cmd)))
    }
}

fn tmp_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_images_per_profile() {
        let ws = Workspace { root: PathBuf::from("/w") };
        let images = specs(&ws, Profile::Debug);
        let names: Vec<String> = images.iter().flat_map(|i| [ws.show(&i.bios), ws.show(&i.uefi)]).collect();
        assert_eq!(
            names,
            [
                "target/ferrite/debug/ferrite-bios.img",
                "target/ferrite/debug/ferrite-uefi.img",
                "target/ferrite/debug/ferrite-selftest-bios.img",
                "target/ferrite/debug/ferrite-selftest-uefi.img",
            ]
        );
        for image in &images {
            assert_eq!(
                image.ramdisk.as_deref().map(|r| ws.show(r)).as_deref(),
                Some("target/ferrite/debug/initfs.img")
            );
        }
        assert_eq!(ws.show(&selftest(&images).kernel), "target/x86_64-unknown-none/debug/ferrite-selftest");
        assert_eq!(ws.show(&normal(&images).kernel), "target/x86_64-unknown-none/debug/ferrite");
        let release = specs(&ws, Profile::Release);
        assert_eq!(ws.show(&release[0].uefi), "target/ferrite/release/ferrite-uefi.img");
    }

    #[test]
    fn bench_image() {
        let ws = Workspace { root: PathBuf::from("/w") };
        let image = bench_spec(&ws, Profile::Release);
        assert_eq!(ws.show(&image.kernel), "target/x86_64-unknown-none/release/ferrite");
        assert_eq!(ws.show(&image.bios), "target/ferrite/release/ferrite-bench-bios.img");
        assert_eq!(ws.show(&image.uefi), "target/ferrite/release/ferrite-bench-uefi.img");
        assert_eq!(
            image.ramdisk.as_deref().map(|r| ws.show(r)).as_deref(),
            Some("target/ferrite/release/bench-initfs.img")
        );
        // Not one of the images `build` writes or `test` boots.
        assert!(specs(&ws, Profile::Release).iter().all(|i| i.bios != image.bios));
    }

    #[test]
    fn image_tool_arguments() {
        let mut image = KernelImage { kernel: "/k".into(), ramdisk: None, bios: "/b".into(), uefi: "/u".into() };
        let args = image_tool_args(&image, Path::new("/b.tmp"), Path::new("/u.tmp"));
        assert_eq!(args, ["--kernel", "/k", "--bios", "/b.tmp", "--uefi", "/u.tmp"]);
        image.ramdisk = Some("/r".into());
        let args = image_tool_args(&image, Path::new("/b"), Path::new("/u"));
        assert_eq!(args, ["--kernel", "/k", "--ramdisk", "/r", "--bios", "/b", "--uefi", "/u"]);
    }
}
