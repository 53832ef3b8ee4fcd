//! `cargo mk bench`'s Linux columns (microbenchmarks, scaling, disks and
//! network): Debian's kernel in the same QEMU machine as Ferrite (q35,
//! `-cpu max`, TCG, the same CPUs and memory). Its TCG boot has the same
//! two virtio disks:
//! `/dev/vda`, an ext4 file system made on the host with `mkfs.ext4`, and
//! `/dev/vdb`, a raw scratch disk of zeros; and the same virtio-net card on
//! QEMU's user network with a host port forwarded to port 80. Its `/init`
//! is `bench/linux/bench.c`, built here with `gcc -static`, which runs the
//! peers of `programs/bench`'s microbenchmarks and scaling figure and the
//! workloads of `programs/bench/src/disk.rs` and `net.rs` (against the
//! same host peers, `crate::netbench`) and prints Ferrite's line format;
//! it skips the disks and the network when the machine has none (the
//! icount and scaling boots: the same [`Kit`] without its disks);
//! the initramfs also carries the page its HTTP server serves,
//! `/www/small.html`, the same bytes as Ferrite's.
//!
//! Debian builds `virtio_blk`, `virtio_net` (with `net_failover` and
//! `failover`), `virtio_pci` and `ext4` as modules, and its
//! package carries no `modules.dep` (the post-install script makes it), so
//! mk reads each module's `depends=` and `softdep=` strings itself
//! ([`modinfo`], [`load_order`]), and the initramfs carries the modules
//! numbered in load order for `/init` to `finit_module` (the modules are
//! not compressed: `CONFIG_MODULE_COMPRESS_NONE`). The initramfs is an
//! uncompressed `newc` cpio written here ([`cpio`]), `/dev/console`
//! included, so no root, `cpio` or `busybox` is needed.
//!
//! Downloads (the kernel package, about 70 MB, with `apt-get download`)
//! are kept under `target/linux-baseline/`; when anything is missing
//! (no network, no `gcc`, no `mkfs.ext4`) [`prepare`] says why and
//! `cargo mk bench` shows Ferrite's figures alone.
//!
//! May touch: `target/linux-baseline/` only.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process;
use crate::qemu;
use crate::workspace::Workspace;

/// The benchmark program, Linux's `/init`.
pub const BENCH_C: &str = include_str!("../../bench/linux/bench.c");
/// The Debian package that names the current kernel package.
pub const META_PACKAGE: &str = "linux-image-amd64";
/// The modules the benchmark needs, in the order they are wanted; their
/// dependencies come first ([`load_order`]). `crc32c_generic` provides the
/// `crc32c` that ext4 and jbd2 ask the crypto API for (a soft dependency:
/// without modprobe nothing would load it on demand).
pub const ROOT_MODULES: &[&str] = &["crc32c_generic", "virtio_pci", "virtio_blk", "ext4", "virtio_net"];
/// The parts of the package's module tree extracted to look for them.
const MODULE_PATTERNS: &[&str] = &[
    "drivers/virtio/*",
    "drivers/block/virtio_blk.ko",
    "drivers/net/virtio_net.ko",
    "drivers/net/net_failover.ko",
    "net/core/failover.ko",
    "fs/ext4/*",
    "fs/jbd2/*",
    "fs/mbcache.ko",
    "lib/*",
    "crypto/*",
    "arch/x86/crypto/*",
];
/// The ext4 disk: the size of Ferrite's RedoxFS disk in the same run.
pub const EXT4_SIZE: u64 = 256 << 20;
/// The raw scratch disk: the size of Ferrite's `disk:1`.
pub const SCRATCH_SIZE: u64 = 128 << 20;
/// The kernel command line.
pub const APPEND: &str = "console=ttyS0 quiet panic=-1";

/// Everything one Linux boot needs.
#[derive(Clone)]
pub struct Kit {
    pub version: String,
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    pub disks: Vec<PathBuf>,
    pub modules: Vec<String>,
}

/// `target/linux-baseline/`.
pub fn dir(ws: &Workspace) -> PathBuf {
    ws.target_dir().join("linux-baseline")
}

/// The kernel package `apt-cache depends linux-image-amd64` names.
pub fn kernel_package(apt_depends: &str) -> Option<&str> {
    apt_depends.lines().find_map(|line| {
        let name = line.trim().strip_prefix("Depends: ")?.trim();
        let version = name.strip_prefix("linux-image-")?;
        version.starts_with(|c: char| c.is_ascii_digit()).then_some(name)
    })
}

/// What a module says about itself in its `.modinfo` strings.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ModInfo {
    pub depends: Vec<String>,
    /// `softdep=pre: ...`: modules (or aliases) to load first if there.
    pub soft_pre: Vec<String>,
    pub aliases: Vec<String>,
}

/// Module names use `_` where file names may use `-`.
pub fn module_name(text: &str) -> String {
    text.trim_end_matches(".ko").replace('-', "_")
}

/// Reads `depends=`, `softdep=` and `alias=` from a module's bytes (the
/// `.modinfo` section holds NUL-separated `key=value` strings).
pub fn modinfo(bytes: &[u8]) -> ModInfo {
    let mut info = ModInfo::default();
    for chunk in bytes.split(|&b| b == 0) {
        let Ok(text) = std::str::from_utf8(chunk) else { continue };
        if let Some(list) = text.strip_prefix("depends=") {
            info.depends.extend(list.split(',').filter(|d| !d.is_empty()).map(module_name));
        } else if let Some(spec) = text.strip_prefix("softdep=") {
            let mut pre = false;
            for word in spec.split_whitespace() {
                match word {
                    "pre:" => pre = true,
                    "post:" => pre = false,
                    name if pre => info.soft_pre.push(name.to_string()),
                    _ => {}
                }
            }
        } else if let Some(alias) = text.strip_prefix("alias=") {
            info.aliases.push(alias.to_string());
        }
    }
    info
}

/// The order to load `roots` and what they depend on, dependencies first.
/// A hard dependency that is not in `modules` is an error; a soft one is
/// looked up by name, then by alias (preferring a module already chosen,
/// then the first by name), and skipped if nothing provides it.
pub fn load_order(modules: &BTreeMap<String, ModInfo>, roots: &[&str]) -> Result<Vec<String>, String> {
    fn visit(
        name: &str,
        modules: &BTreeMap<String, ModInfo>,
        order: &mut Vec<String>,
        visiting: &mut BTreeSet<String>,
    ) -> Result<(), String> {
        if order.iter().any(|n| n == name) {
            return Ok(());
        }
        let info = modules.get(name).ok_or_else(|| format!("module {name} is not in the kernel package"))?;
        if !visiting.insert(name.to_string()) {
            return Err(format!("module {name} depends on itself"));
        }
        for soft in &info.soft_pre {
            let wanted = module_name(soft);
            let provider = if modules.contains_key(&wanted) {
                Some(wanted)
            } else {
                let mut providers: Vec<&String> =
                    modules.iter().filter(|(_, m)| m.aliases.iter().any(|a| a == soft)).map(|(n, _)| n).collect();
                providers.sort_by_key(|n| (!order.contains(n), n.to_string()));
                providers.first().map(|n| n.to_string())
            };
            if let Some(provider) = provider
                && !visiting.contains(&provider)
            {
                visit(&provider, modules, order, visiting)?;
            }
        }
        for dep in &info.depends {
            visit(dep, modules, order, visiting).map_err(|e| format!("{e} (needed by {name})"))?;
        }
        visiting.remove(name);
        order.push(name.to_string());
        Ok(())
    }
    let mut order = Vec::new();
    let mut visiting = BTreeSet::new();
    for root in roots {
        visit(&module_name(root), modules, &mut order, &mut visiting)?;
    }
    Ok(order)
}

/// One member of an initramfs.
pub enum Entry {
    Dir(String),
    File { name: String, mode: u32, data: Vec<u8> },
    CharDevice { name: String, major: u32, minor: u32 },
}

/// An uncompressed `newc` cpio archive of `entries` (what the kernel
/// unpacks as its initramfs), owned by root.
pub fn cpio(entries: &[Entry]) -> Vec<u8> {
    fn member(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        let fields = [ino, mode, 0, 0, 1, 0, data.len() as u32, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
        out.extend_from_slice(b"070701");
        for field in fields {
            out.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    let mut out = Vec::new();
    for (n, entry) in entries.iter().enumerate() {
        let ino = n as u32 + 1;
        match entry {
            Entry::Dir(name) => member(&mut out, ino, name, 0o040_755, (0, 0), &[]),
            Entry::File { name, mode, data } => member(&mut out, ino, name, 0o100_000 | mode, (0, 0), data),
            Entry::CharDevice { name, major, minor } => member(&mut out, ino, name, 0o020_600, (*major, *minor), &[]),
        }
    }
    member(&mut out, 0, "TRAILER!!!", 0, (0, 0), &[]);
    out
}

/// QEMU's arguments for the Linux boot: Ferrite's machine
/// ([`qemu::args`]) with `-kernel`/`-initrd` instead of a boot disk.
pub fn qemu_args(kit: &Kit, smp: u32, mem: &str, icount: bool, nic: qemu::Nic) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "-machine",
        "q35",
        "-cpu",
        "max",
        "-smp",
        &smp.to_string(),
        "-m",
        mem,
        "-serial",
        "stdio",
        "-no-reboot",
        "-display",
        "none",
        "-kernel",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(kit.kernel.clone().into());
    args.push("-initrd".into());
    args.push(kit.initramfs.clone().into());
    args.extend(["-append", APPEND].map(OsString::from));
    args.extend(qemu::disk_args(&kit.disks).into_iter().map(OsString::from));
    args.extend(qemu::nic_args(nic).into_iter().map(OsString::from));
    if icount {
        args.extend(["-icount", "shift=0"].map(OsString::from));
    }
    args
}

fn need(tool: &str) -> Result<(), String> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
        || Path::new("/usr/sbin").join(tool).is_file();
    if found { Ok(()) } else { Err(format!("`{tool}` is not installed")) }
}

fn sbin(tool: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(tool);
    if sbin.is_file() { sbin } else { PathBuf::from(tool) }
}

fn io_err(what: &str, path: &Path) -> impl Fn(std::io::Error) -> String {
    let path = path.display().to_string();
    let what = what.to_string();
    move |e| format!("{what} {path}: {e}")
}

/// The kernel package a downloaded `.deb` holds, from its file name
/// (`linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb`).
pub fn deb_package(file_name: &str) -> Option<&str> {
    let (package, rest) = file_name.split_once('_')?;
    let version = package.strip_prefix("linux-image-")?;
    (version.starts_with(|c: char| c.is_ascii_digit()) && rest.ends_with(".deb")).then_some(package)
}

/// The kernel package `apt-cache` names.
fn current_package(ws: &Workspace) -> Result<String, String> {
    need("apt-cache")?;
    let mut cmd = process::clean(ws, "apt-cache");
    cmd.args(["depends", META_PACKAGE]);
    let depends = process::output(&mut cmd)?;
    kernel_package(&depends)
        .map(str::to_string)
        .ok_or_else(|| format!("`apt-cache depends {META_PACKAGE}` names no kernel package"))
}

/// The kernel package's `.deb` in `dl`, downloaded if it is not there;
/// without apt, whichever kernel was downloaded before.
fn kernel_deb(ws: &Workspace, dl: &Path) -> Result<(String, PathBuf), String> {
    let package = match current_package(ws) {
        Ok(package) => package,
        Err(err) => {
            let cached = fs::read_dir(dl).ok().into_iter().flatten().flatten().find_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                Some((deb_package(&name)?.to_string(), entry.path()))
            });
            return match cached {
                Some((package, deb)) => {
                    println!("mk: {err}; using the kernel downloaded before, {}", ws.show(&deb));
                    Ok((package, deb))
                }
                None => Err(err),
            };
        }
    };
    let find = || -> Option<PathBuf> {
        let prefix = format!("{package}_");
        fs::read_dir(dl).ok()?.flatten().map(|e| e.path()).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
    };
    if let Some(deb) = find() {
        return Ok((package, deb));
    }
    need("apt-get")?;
    fs::create_dir_all(dl).map_err(io_err("creating", dl))?;
    println!("mk: downloading {package} (Debian's kernel, about 70 MB) into {}", ws.show(dl));
    let mut cmd = process::clean(ws, "apt-get");
    cmd.args(["download", "-q", &package]).current_dir(dl);
    process::output(&mut cmd)?;
    let deb = find().ok_or_else(|| format!("apt-get download {package} left no .deb in {}", ws.show(dl)))?;
    Ok((package, deb))
}

/// Extracts the kernel and the module directories from `deb` into `dest`.
fn extract(deb: &Path, dest: &Path) -> Result<(), String> {
    need("dpkg-deb")?;
    need("tar")?;
    fs::create_dir_all(dest).map_err(io_err("creating", dest))?;
    let mut unpack = Command::new("dpkg-deb");
    unpack.arg("--fsys-tarfile").arg(deb).stdout(Stdio::piped()).stdin(Stdio::null());
    let mut unpack = unpack.spawn().map_err(|e| format!("could not run dpkg-deb: {e}"))?;
    let tar_in = unpack.stdout.take().expect("stdout is piped");
    let mut tar = Command::new("tar");
    tar.arg("-x").arg("-C").arg(dest).arg("--wildcards").arg("./boot/vmlinuz-*");
    for pattern in MODULE_PATTERNS {
        tar.arg(format!("./lib/modules/*/kernel/{pattern}"));
    }
    let status = tar.stdin(Stdio::from(tar_in)).status().map_err(|e| format!("could not run tar: {e}"))?;
    let unpacked = unpack.wait().map_err(|e| format!("dpkg-deb: {e}"))?;
    if !status.success() || !unpacked.success() {
        return Err(format!("unpacking {} failed (dpkg-deb {unpacked}, tar {status})", deb.display()));
    }
    Ok(())
}

/// Every `.ko` under `dir`, by module name.
fn find_modules(dir: &Path, found: &mut BTreeMap<String, PathBuf>) -> Result<(), String> {
    for entry in fs::read_dir(dir).map_err(io_err("reading", dir))? {
        let path = entry.map_err(io_err("reading", dir))?.path();
        if path.is_dir() {
            find_modules(&path, found)?;
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str()).filter(|n| n.ends_with(".ko")) {
            found.insert(module_name(name), path.clone());
        }
    }
    Ok(())
}

/// Downloads (once) and builds what a Linux boot needs, with fresh disks.
pub fn prepare(ws: &Workspace) -> Result<Kit, String> {
    let dir = dir(ws);
    let (package, deb) = kernel_deb(ws, &dir.join("dl"))?;
    let version = package.trim_start_matches("linux-image-").to_string();
    let tree = dir.join(&version);
    let kernel = tree.join("boot").join(format!("vmlinuz-{version}"));
    let module_dir = tree.join("lib/modules").join(&version).join("kernel");
    let mut paths = BTreeMap::new();
    if module_dir.is_dir() {
        find_modules(&module_dir, &mut paths)?;
    }
    // An unpacking from before a module was wanted lacks it: unpack again.
    if !kernel.is_file() || ROOT_MODULES.iter().any(|m| !paths.contains_key(&module_name(m))) {
        println!("mk: unpacking the kernel and its disk and network modules from {}", ws.show(&deb));
        extract(&deb, &tree)?;
        paths.clear();
        find_modules(&module_dir, &mut paths)?;
    }
    let mut infos = BTreeMap::new();
    for (name, path) in &paths {
        infos.insert(name.clone(), modinfo(&fs::read(path).map_err(io_err("reading", path))?));
    }
    let modules = load_order(&infos, ROOT_MODULES)?;

    let source = dir.join("bench.c");
    let init = dir.join("init");
    if fs::read_to_string(&source).ok().as_deref() != Some(BENCH_C) || !init.is_file() {
        need("gcc")?;
        fs::write(&source, BENCH_C).map_err(io_err("writing", &source))?;
        let mut gcc = process::clean(ws, "gcc");
        gcc.args(["-static", "-O2", "-Wall", "-o"]).arg(&init).arg(&source);
        println!("mk: {}", process::describe(&gcc));
        process::output(&mut gcc)?;
    }
    let mut entries = vec![
        Entry::Dir("dev".into()),
        Entry::CharDevice { name: "dev/console".into(), major: 5, minor: 1 },
        Entry::Dir("proc".into()),
        Entry::Dir("sys".into()),
        Entry::Dir("mnt".into()),
        Entry::Dir("modules".into()),
        Entry::File { name: "init".into(), mode: 0o755, data: fs::read(&init).map_err(io_err("reading", &init))? },
        Entry::Dir("www".into()),
        Entry::File {
            name: format!("www/{}", crate::netbench::SMALL_PAGE),
            mode: 0o644,
            data: crate::netbench::small_page(),
        },
    ];
    for (n, name) in modules.iter().enumerate() {
        let path = &paths[name];
        let data = fs::read(path).map_err(io_err("reading", path))?;
        entries.push(Entry::File { name: format!("modules/{n:02}-{name}.ko"), mode: 0o644, data });
    }
    let initramfs = dir.join("initramfs.cpio");
    fs::write(&initramfs, cpio(&entries)).map_err(io_err("writing", &initramfs))?;

    need("mkfs.ext4")?;
    let ext4 = dir.join("ext4.img");
    crate::disk::zeroed(&ext4, EXT4_SIZE)?;
    let mut mkfs = process::clean(ws, &sbin("mkfs.ext4").to_string_lossy());
    mkfs.args(["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard"]).arg(&ext4);
    process::output(&mut mkfs)?;
    let scratch = dir.join("scratch.img");
    crate::disk::zeroed(&scratch, SCRATCH_SIZE)?;
    Ok(Kit { version, kernel, initramfs, disks: vec![ext4, scratch], modules })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_kernel_package() {
        let text = "linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n";
        assert_eq!(kernel_package(text), Some("linux-image-6.1.0-57-amd64"));
        assert_eq!(kernel_package("linux-image-amd64\n  Depends: linux-image-amd64-signed\n"), None);
        assert_eq!(kernel_package(""), None);
    }

    #[test]
    fn names_a_downloaded_kernel() {
        assert_eq!(deb_package("linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb"), Some("linux-image-6.1.0-57-amd64"));
        assert_eq!(deb_package("busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb"), None);
        assert_eq!(deb_package("linux-image-amd64_6.1.192-3_amd64.deb"), None);
        assert_eq!(deb_package("linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb.partial"), None);
    }

    #[test]
    fn reads_modinfo_strings() {
        let bytes = b"\x7fELF junk\0alias=crc32c\0license=GPL\0softdep=pre: crypto-crc32c post: x\0\
                      depends=jbd2,mbcache,crc16\0name=ext4\0";
        assert_eq!(
            modinfo(bytes),
            ModInfo {
                depends: vec!["jbd2".into(), "mbcache".into(), "crc16".into()],
                soft_pre: vec!["crypto-crc32c".into()],
                aliases: vec!["crc32c".into()],
            }
        );
        assert_eq!(modinfo(b"depends=\0"), ModInfo::default());
        assert_eq!(module_name("crc32c-intel.ko"), "crc32c_intel");
    }

    fn module(depends: &[&str], soft_pre: &[&str], aliases: &[&str]) -> ModInfo {
        let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        ModInfo { depends: strings(depends), soft_pre: strings(soft_pre), aliases: strings(aliases) }
    }

    #[test]
    fn orders_modules_dependencies_first() {
        let modules: BTreeMap<String, ModInfo> = [
            ("virtio_ring", module(&[], &[], &[])),
            ("virtio", module(&["virtio_ring"], &[], &[])),
            ("virtio_pci", module(&["virtio_ring", "virtio", "virtio_pci_modern_dev"], &[], &[])),
            ("virtio_pci_modern_dev", module(&[], &[], &[])),
            ("virtio_blk", module(&["virtio", "virtio_ring"], &[], &[])),
            ("crc32c_intel", module(&[], &[], &["crc32c", "crypto-crc32c"])),
            ("crc32c_generic", module(&[], &[], &["crc32c", "crypto-crc32c"])),
            ("jbd2", module(&[], &["crypto-crc32c"], &[])),
            ("mbcache", module(&[], &[], &[])),
            ("crc16", module(&[], &[], &[])),
            ("ext4", module(&["jbd2", "mbcache", "crc16"], &["crypto-crc32c"], &[])),
        ]
        .into_iter()
        .map(|(n, m)| (n.to_string(), m))
        .collect();
        let order = load_order(&modules, &["virtio_pci", "virtio_blk", "ext4"]).unwrap();
        assert_eq!(
            order,
            [
                "virtio_ring",
                "virtio",
                "virtio_pci_modern_dev",
                "virtio_pci",
                "virtio_blk",
                "crc32c_generic",
                "jbd2",
                "mbcache",
                "crc16",
                "ext4"
            ]
        );
        // A provider already chosen is preferred over the first by name.
        let order = load_order(&modules, &["crc32c-intel", "ext4"]).unwrap();
        assert_eq!(order, ["crc32c_intel", "jbd2", "mbcache", "crc16", "ext4"]);
        let err = load_order(&modules, &["nope"]).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        let mut broken = modules;
        broken.insert("a".into(), module(&["b"], &[], &[]));
        broken.insert("b".into(), module(&["a"], &[], &[]));
        assert!(load_order(&broken, &["a"]).unwrap_err().contains("itself"));
    }

    #[test]
    fn writes_newc_cpio() {
        let archive = cpio(&[
            Entry::Dir("dev".into()),
            Entry::CharDevice { name: "dev/console".into(), major: 5, minor: 1 },
            Entry::File { name: "init".into(), mode: 0o755, data: b"hello".to_vec() },
        ]);
        assert_eq!(archive.len() % 4, 0);
        let text = String::from_utf8_lossy(&archive);
        // ino 1, a directory 040755, one link, no data, name "dev" + NUL.
        assert!(text.starts_with(
            "07070100000001000041ED0000000000000000000000010000000000000000000000000000000000000000000000000000000400000000dev\0"
        ));
        let console = text.find("dev/console").unwrap();
        let header = &text[console - 110..console];
        assert_eq!(&header[14..22], "00002180", "a character device, 0600");
        assert_eq!(&header[78..94], "0000000500000001", "rdev 5:1");
        let init = text.find("init\0").unwrap();
        let header = &text[init - 110..init];
        assert_eq!(&header[14..22], "000081ED");
        assert_eq!(&header[54..62], "00000005", "file size");
        // The name (110 + 5 bytes) pads to 116, then the data.
        assert_eq!(&text[init + 6..init + 11], "hello");
        assert!(text.contains("TRAILER!!!\0"));
    }

    #[test]
    fn the_linux_command_line() {
        let kit = Kit {
            version: "6.1.0-57-amd64".into(),
            kernel: "/t/vmlinuz".into(),
            initramfs: "/t/initramfs.cpio".into(),
            disks: vec!["/t/ext4.img".into(), "/t/scratch.img".into()],
            modules: Vec::new(),
        };
        let nic = qemu::Nic::Virtio(Some(qemu::Forward { host: 8123, guest: 80 }));
        let line: Vec<String> =
            qemu_args(&kit, 1, "256M", false, nic).iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(
            line.join(" "),
            "-machine q35 -cpu max -smp 1 -m 256M -serial stdio -no-reboot -display none \
             -kernel /t/vmlinuz -initrd /t/initramfs.cpio -append console=ttyS0 quiet panic=-1 \
             -drive if=none,id=disk0,format=raw,file=/t/ext4.img -device virtio-blk-pci,drive=disk0 \
             -drive if=none,id=disk1,format=raw,file=/t/scratch.img -device virtio-blk-pci,drive=disk1 \
             -netdev user,id=net0,hostfwd=tcp:127.0.0.1:8123-:80 -device virtio-net-pci,netdev=net0"
        );
        assert!(qemu_args(&kit, 1, "256M", true, nic).ends_with(&["-icount".into(), "shift=0".into()]));
    }
}
