//! Userspace: build the programs, stage the initfs tree, pack it.
//!
//! Every userspace program is a package for `x86_64-unknown-none` (on the
//! runtime `lib/rt`), listed once in [`PROGRAMS`]. They build in one cargo
//! call; each binary is checked to be linked the way the kernel's loader
//! expects (non-PIE at 0x400000, W^X, no interpreter) and copied without its
//! debug information to `target/ferrite/<profile>/initfs/`: user commands
//! in `bin/` (the shell's `PATH`), daemons, drivers, init and bootstrap in
//! `sbin/`, tests and benchmarks in `libexec/` ([`staged_dir`]). That tree,
//! plus the repository's `initfs/etc/` when it exists, is packed with
//! `initfs::pack_dir` into `target/ferrite/<profile>/initfs.img`, the
//! ramdisk of every image. The full binaries stay in
//! `target/x86_64-unknown-none/<profile>/` for GDB and addr2line.
//!
//! Next to them, `test/` holds the malformed programs the in-guest suite
//! (`programs/usertests`) execs to see them refused: a text file, a
//! truncated ELF file and one with a writable and executable segment, all
//! made from the staged `hello` binary.
//!
//! `cargo mk bench` packs a second initfs, `bench-initfs.img`, whose
//! `sbin/init` is the benchmark program ([`build_bench`]).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::process;
use crate::workspace::{KERNEL_TARGET, Profile, Workspace};

/// The userspace programs: every binary of these packages goes into the
/// initfs, in the directory [`staged_dir`] says (`sbin/` unless it is a
/// user command or a test). Adding a program means adding its package here
/// (and to the workspace `members`); packages live in `programs/`,
/// `schemes/`, `drivers/` or at the top level (`bootstrap`).
pub const PROGRAMS: &[&str] = &[
    "bootstrap",
    "hello",
    "init",
    "usertests",
    "bench",
    "fuzz",
    "crashwriter",
    "greet",
    "zero",
    "null",
    "rand",
    "tmp",
    "logd",
    "serial",
    "pci",
    "sh",
    "utils",
    "edit",
    "ps2",
    "fbcon",
    "virtio-blk",
    "virtio-net",
    "file",
    "ipcd",
    "net",
];

/// The binaries that are user commands, staged in the initfs `bin/` (the
/// shell's `PATH`), with the utilities' names ([`UTILITIES`]).
pub const COMMANDS: &[&str] = &["sh", "utils", "hello", "edit", "less"];

/// The test and benchmark programs mk and the self-test boot run, staged in
/// `libexec/`, out of the user's way.
pub const LIBEXEC: &[&str] = &["usertests", "bench", "fuzz", "crashwriter"];

/// The initfs directory a binary is staged in: `bin/` for user commands,
/// `libexec/` for tests and benchmarks, `sbin/` for the rest (init,
/// bootstrap, the daemons and drivers, which init starts from there).
pub fn staged_dir(binary: &str) -> &'static str {
    if COMMANDS.contains(&binary) || UTILITIES.contains(&binary) {
        "bin"
    } else if LIBEXEC.contains(&binary) {
        "libexec"
    } else {
        "sbin"
    }
}

/// The programs built on `rt`'s `testing` feature (raw system calls with
/// any argument, deliberate faults): the in-guest test suite and the
/// fuzzer. They build in a cargo call of their own, so cargo's feature
/// unification never hands `rt::testing` to any other program.
pub const TESTING_PROGRAMS: &[&str] = &["usertests", "fuzz"];

/// The multi-call binary of the utilities, staged once more as
/// `bin/NAME` for each name in [`UTILITIES`] (the initfs stores the
/// identical contents once).
pub const MULTICALL: &str = "utils";

// `UTILITIES`: the names the multi-call binary answers to, defined once in
// the utils crate (which checks its dispatch table against it).
include!("../../programs/utils/src/names.rs");

/// Where program packages live: utilities and tests, scheme daemons,
/// drivers, and the top level (bootstrap). Checked by the tests.
#[cfg(test)]
const PROGRAM_DIRS: &[&str] = &["programs", "schemes", "drivers", "."];

/// The first program of every image (the kernel starts it).
pub const BOOTSTRAP: &str = "bootstrap";

/// The program the bench initfs starts as `sbin/init` (and keeps as
/// `libexec/bench`, the path it execs itself by).
pub const BENCH_PROGRAM: &str = "bench";

/// The IPC daemon, which the bench initfs carries too.
pub const IPCD: &str = "ipcd";

/// The daemons the bench program starts for its disk benchmarks: the PCI
/// bus, the virtio block driver and the file system on `disk:0`.
pub const BENCH_DISK_DAEMONS: &[&str] = &["pcid", "virtio-blkd", "redoxfsd"];

/// The daemons the bench program starts for its network benchmarks (with
/// `pcid`): the virtio network driver and the TCP/IP daemon.
pub const BENCH_NET_DAEMONS: &[&str] = &["virtio-netd", "netd"];

/// The utility the network benchmarks serve HTTP with (the multi-call
/// binary staged under that name), and the page it serves, `www/`.
pub const BENCH_HTTPD: &str = "httpd";

/// Userspace libraries, linted with the programs (they build only for the
/// target, so the host checks never see them).
pub const LIBRARIES: &[&str] = &["rt", "scheme", "initfsd", "console", "virtio-glue", "redoxfs-glue"];

/// The address every program is linked at (docs/architecture.md §9.3; `abi::USER_IMAGE_BASE`).
pub const USER_IMAGE_BASE: u64 = 0x40_0000;

/// Builds the programs and packs the initfs; returns the image's path. The
/// image file is rewritten only when its contents change, so the disk
/// images that carry it are rewritten only then.
pub fn build(ws: &Workspace, profile: Profile) -> Result<PathBuf, String> {
    let binaries = build_programs(ws, profile)?;
    let staging = ws.initfs_staging(profile);
    stage(ws, &staging, &binaries)?;
    let image = ws.initfs_image(profile);
    pack(ws, &staging, &image)?;
    Ok(image)
}

/// The bench initfs: `sbin/bootstrap` (which starts `initfs:` and execs
/// `sbin/init`), the benchmark program as both `sbin/init` and
/// `libexec/bench`, the disk and network daemons in `sbin/`, `bin/httpd`
/// and the page it serves in the network benchmarks (`www/`), and
/// `sbin/ipcd` (which the benchmark starts for its `chan:` and `shm:`
/// figures), nothing else. Built and packed like [`build`]'s, into
/// `target/ferrite/<profile>/bench-initfs.img`; returns its path.
pub fn build_bench(ws: &Workspace, profile: Profile) -> Result<PathBuf, String> {
    let binaries = build_programs(ws, profile)?;
    let find = |wanted: &str| {
        binaries
            .iter()
            .find(|binary| binary.file_name().is_some_and(|name| name == wanted))
            .ok_or_else(|| format!("the userspace build made no `{wanted}` binary"))
    };
    let staging = bench_staging(ws, profile);
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| format!("clearing {}: {e}", ws.show(&staging)))?;
    }
    let mut programs =
        vec![(BOOTSTRAP, &[BOOTSTRAP][..]), (BENCH_PROGRAM, &["init", BENCH_PROGRAM][..]), (IPCD, &[IPCD][..])];
    programs.extend(
        BENCH_DISK_DAEMONS.iter().chain(BENCH_NET_DAEMONS).map(|daemon| (*daemon, std::slice::from_ref(daemon))),
    );
    programs.push((MULTICALL, std::slice::from_ref(&BENCH_HTTPD)));
    for (program, names) in programs {
        let path = find(program)?;
        let elf = fs::read(path).map_err(|e| format!("reading {}: {e}", ws.show(path)))?;
        check_program(&elf).map_err(|e| format!("{}: {e}", ws.show(path)))?;
        let stripped = load_only(&elf).map_err(|e| format!("{}: {e}", ws.show(path)))?;
        for name in names {
            let dir = staging.join(if *name == "init" { "sbin" } else { staged_dir(name) });
            fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", ws.show(&dir)))?;
            let dest = dir.join(name);
            write_executable(&dest, &stripped).map_err(|e| format!("writing {}: {e}", ws.show(&dest)))?;
        }
    }
    let www = staging.join("www");
    fs::create_dir_all(&www).map_err(|e| format!("creating {}: {e}", ws.show(&www)))?;
    let page = www.join(crate::netbench::SMALL_PAGE);
    fs::write(&page, crate::netbench::small_page()).map_err(|e| format!("writing {}: {e}", ws.show(&page)))?;
    let image = bench_initfs_image(ws, profile);
    pack(ws, &staging, &image)?;
    Ok(image)
}

/// Where the bench initfs is staged: `target/ferrite/<profile>/bench-initfs/`.
pub fn bench_staging(ws: &Workspace, profile: Profile) -> PathBuf {
    ws.image_dir(profile).join("bench-initfs")
}

/// The packed bench initfs.
pub fn bench_initfs_image(ws: &Workspace, profile: Profile) -> PathBuf {
    ws.image_dir(profile).join("bench-initfs.img")
}

/// Packs `staging` into `image`, rewriting the file only when its contents
/// change.
fn pack(ws: &Workspace, staging: &Path, image: &Path) -> Result<(), String> {
    let bytes = initfs::pack_dir(staging).map_err(|e| format!("packing {} into an initfs: {e}", ws.show(staging)))?;
    if fs::read(image).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let tmp = image.with_extension("img.tmp");
    fs::write(&tmp, &bytes)
        .and_then(|()| fs::rename(&tmp, image))
        .map_err(|e| format!("writing {}: {e}", ws.show(image)))?;
    let listing = |dir: &str| {
        let mut names: Vec<String> = fs::read_dir(staging.join(dir))
            .map(|entries| {
                entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
            })
            .unwrap_or_default();
        names.sort();
        format!("{dir}/: {}", names.join(" "))
    };
    let dirs: Vec<String> = ["bin", "sbin", "libexec"].into_iter().map(listing).collect();
    println!("mk: packed {} ({} KiB; {})", ws.show(image), bytes.len().div_ceil(1024), dirs.join("; "));
    Ok(())
}

/// `-p NAME` for every userspace package, libraries included: what clippy
/// lints with `--target x86_64-unknown-none`.
pub fn package_args() -> Vec<&'static str> {
    LIBRARIES.iter().chain(PROGRAMS).flat_map(|name| ["-p", name]).collect()
}

/// Builds every program: the ordinary ones in one cargo call, the
/// [`TESTING_PROGRAMS`] in another; returns the binaries produced.
fn build_programs(ws: &Workspace, profile: Profile) -> Result<Vec<PathBuf>, String> {
    let (testing, ordinary): (Vec<&str>, Vec<&str>) =
        PROGRAMS.iter().copied().partition(|name| TESTING_PROGRAMS.contains(name));
    let mut binaries = cargo_build(ws, profile, &ordinary)?;
    binaries.extend(cargo_build(ws, profile, &testing)?);
    Ok(binaries)
}

/// One `cargo build` of `packages`; returns the binaries it produced.
fn cargo_build(ws: &Workspace, profile: Profile, packages: &[&str]) -> Result<Vec<PathBuf>, String> {
    let mut cmd = process::clean(ws, "cargo");
    cmd.args(["build", "--target", KERNEL_TARGET]);
    cmd.arg("--message-format=json-render-diagnostics");
    for name in packages {
        cmd.args(["-p", name]);
    }
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    println!("mk: building userspace ({})", process::describe(&cmd));
    // Diagnostics go to the terminal; stdout carries cargo's JSON messages.
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| process::spawn_error(&cmd, e))?;
    let mut messages = String::new();
    let read = child.stdout.take().expect("stdout is piped").read_to_string(&mut messages);
    let status = child.wait().map_err(|e| format!("waiting for cargo: {e}"))?;
    read.map_err(|e| format!("reading cargo's messages: {e}"))?;
    if !status.success() {
        return Err("the userspace programs did not build".to_string());
    }
    let binaries: Vec<PathBuf> = messages.lines().filter_map(executable).collect();
    if binaries.is_empty() {
        return Err(format!("`{}` reported no binaries", process::describe(&cmd)));
    }
    Ok(binaries)
}

/// The `executable` of a cargo `compiler-artifact` JSON message, if it has
/// one (binaries do; libraries and build scripts say `null`).
pub fn executable(message: &str) -> Option<PathBuf> {
    if !message.contains(r#""reason":"compiler-artifact""#) {
        return None;
    }
    let rest = &message[message.find(r#""executable":""#)? + r#""executable":""#.len()..];
    json_string(rest).map(PathBuf::from)
}

/// The JSON string starting at `text` (just after its opening quote), with
/// its escapes decoded; `None` if it is not terminated.
fn json_string(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
}

/// Rebuilds the staging tree from scratch: the programs, then
/// the repository's `initfs/etc/`.
fn stage(ws: &Workspace, staging: &Path, binaries: &[PathBuf]) -> Result<(), String> {
    if staging.exists() {
        fs::remove_dir_all(staging).map_err(|e| format!("clearing {}: {e}", ws.show(staging)))?;
    }
    let bin = staging.join("bin");
    for binary in binaries {
        let name = binary.file_name().ok_or_else(|| format!("{}: no file name", binary.display()))?;
        let dir = staging.join(staged_dir(&name.to_string_lossy()));
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", ws.show(&dir)))?;
        let dest = dir.join(name);
        if dest.exists() {
            return Err(format!("two userspace packages build a binary called {}", name.to_string_lossy()));
        }
        let elf = fs::read(binary).map_err(|e| format!("reading {}: {e}", ws.show(binary)))?;
        check_program(&elf).map_err(|e| format!("{}: {e}", ws.show(binary)))?;
        let stripped = load_only(&elf).map_err(|e| format!("{}: {e}", ws.show(binary)))?;
        write_executable(&dest, &stripped).map_err(|e| format!("writing {}: {e}", ws.show(&dest)))?;
        if name == MULTICALL {
            for utility in UTILITIES {
                let alias = bin.join(utility);
                if ["bin", "sbin", "libexec"].iter().any(|dir| staging.join(dir).join(utility).exists()) {
                    return Err(format!("utility {utility} has the name of a program"));
                }
                write_executable(&alias, &stripped).map_err(|e| format!("writing {}: {e}", ws.show(&alias)))?;
            }
        }
        if name == TEST_SOURCE {
            let test = staging.join("test");
            stage_test_files(&test, &stripped).map_err(|e| format!("staging {}: {e}", ws.show(&test)))?;
        }
    }
    stage_etc(&ws.initfs_etc(), &staging.join("etc")).map_err(|e| format!("staging {}: {e}", ws.show(&ws.initfs_etc())))
}

/// The program the malformed test files are made from.
const TEST_SOURCE: &str = "hello";

/// The malformed programs of the initfs `test/` directory, made from a
/// well-formed (staged) program `elf`: (name, contents). All are marked
/// executable, so only their contents are wrong.
pub fn test_files(elf: &[u8]) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let mut files = vec![("not-elf", b"This is a text file, not a program.\n".to_vec())];
    // The header and the program headers, but none of the segments.
    let (_, phdrs) = program_headers(elf)?;
    let phoff = usize::try_from(u64_at(elf, 0x20).unwrap_or(0)).map_err(|_| "bad e_phoff".to_string())?;
    let headers_end = phoff + phdrs.len() * PHDR_LEN;
    let truncated_len = headers_end.max(512).min(elf.len());
    if phdrs.iter().all(|p| p.kind != PT_LOAD || p.offset + p.filesz <= truncated_len as u64) {
        return Err("every segment fits in the first bytes: cannot make a truncated program".to_string());
    }
    files.push(("truncated-elf", elf[..truncated_len].to_vec()));
    // The code segment made writable too.
    let code = phdrs
        .iter()
        .position(|p| p.kind == PT_LOAD && p.flags & PF_X != 0)
        .ok_or_else(|| "no executable segment".to_string())?;
    let mut wx = elf.to_vec();
    let flags_at = phoff + code * PHDR_LEN + 4;
    wx[flags_at..flags_at + 4].copy_from_slice(&(phdrs[code].flags | PF_W).to_le_bytes());
    files.push(("wx-elf", wx));
    Ok(files)
}

fn stage_test_files(dir: &Path, elf: &[u8]) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for (name, bytes) in test_files(elf)? {
        write_executable(&dir.join(name), &bytes).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

fn write_executable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, bytes)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

/// The `etc/` hook: copies the repository's `initfs/etc/` tree (files and
/// directories; `pack_dir` refuses anything else) to the staging `etc/`.
/// Nothing to do while the tree has none.
fn stage_etc(source: &Path, dest: &Path) -> std::io::Result<()> {
    if !source.is_dir() {
        return Ok(());
    }
    copy_tree(source, dest)
}

fn copy_tree(source: &Path, dest: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dest)?;
    for entry in fs::read_dir(source)? {
        let entry = entry?;
        let to = dest.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else {
            fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

// ELF64 header fields and program header types this module reads.
const ET_EXEC: u16 = 2;
const EM_X86_64: u16 = 62;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PHDR_LEN: usize = 56;

/// One program header: (type, flags, offset, vaddr, filesz, memsz).
struct Phdr {
    kind: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

fn u16_at(elf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(elf.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(elf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(elf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(elf.get(at..at + 8)?.try_into().ok()?))
}

/// The ELF type and program headers of a 64-bit little-endian x86_64 ELF.
fn program_headers(elf: &[u8]) -> Result<(u16, Vec<Phdr>), String> {
    if elf.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err("not a 64-bit little-endian ELF file".to_string());
    }
    let bad = || "truncated ELF header".to_string();
    if u16_at(elf, 0x12).ok_or_else(bad)? != EM_X86_64 {
        return Err("not an x86_64 ELF file".to_string());
    }
    let kind = u16_at(elf, 0x10).ok_or_else(bad)?;
    let phoff = usize::try_from(u64_at(elf, 0x20).ok_or_else(bad)?).map_err(|_| bad())?;
    let phentsize = usize::from(u16_at(elf, 0x36).ok_or_else(bad)?);
    let phnum = usize::from(u16_at(elf, 0x38).ok_or_else(bad)?);
    if phentsize != PHDR_LEN {
        return Err(format!("program header size {phentsize}, not {PHDR_LEN}"));
    }
    (0..phnum)
        .map(|i| {
            let at = phoff + i * PHDR_LEN;
            let field = |off: usize| u64_at(elf, at + off);
            Some(Phdr {
                kind: u32_at(elf, at)?,
                flags: u32_at(elf, at + 4)?,
                offset: field(8)?,
                vaddr: field(16)?,
                filesz: field(32)?,
                memsz: field(40)?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .map(|phdrs| (kind, phdrs))
        .ok_or_else(|| "program headers run past the end of the file".to_string())
}

/// Checks that a program is linked the way the kernel loads it: ET_EXEC
/// (non-PIE) with every loadable segment at or above [`USER_IMAGE_BASE`],
/// no interpreter or dynamic section, no segment both writable and
/// executable, a non-executable stack.
pub fn check_program(elf: &[u8]) -> Result<(), String> {
    let (kind, phdrs) = program_headers(elf)?;
    if kind != ET_EXEC {
        return Err(format!(
            "ELF type {kind}, not ET_EXEC: link it non-PIE at {USER_IMAGE_BASE:#x} \
             (a build.rs with `cargo:rustc-link-arg-bins=--no-pie` and \
             `--image-base={USER_IMAGE_BASE:#x}`, docs/architecture.md §9.3)"
        ));
    }
    let mut loads = 0;
    for phdr in &phdrs {
        match phdr.kind {
            PT_INTERP => return Err("has an interpreter (PT_INTERP)".to_string()),
            PT_DYNAMIC => return Err("is dynamically linked (PT_DYNAMIC)".to_string()),
            PT_GNU_STACK if phdr.flags & PF_X != 0 => {
                return Err("asks for an executable stack".to_string());
            }
            PT_LOAD => {
                loads += 1;
                if phdr.vaddr < USER_IMAGE_BASE {
                    return Err(format!("segment at {:#x}, below the image base {USER_IMAGE_BASE:#x}", phdr.vaddr));
                }
                if phdr.flags & (PF_W | PF_X) == PF_W | PF_X {
                    return Err(format!("segment at {:#x} is writable and executable", phdr.vaddr));
                }
                if phdr.filesz > phdr.memsz {
                    return Err(format!("segment at {:#x} has more file bytes than memory", phdr.vaddr));
                }
            }
            _ => {}
        }
    }
    if loads == 0 {
        return Err("has no loadable segment".to_string());
    }
    Ok(())
}

/// The ELF file with only what loading it needs: everything up to the end
/// of the last byte any program header covers, without section headers
/// (the debug information and symbol tables sit after the segments and are
/// dropped). The staged programs are a tenth the size or less.
pub fn load_only(elf: &[u8]) -> Result<Vec<u8>, String> {
    let (_, phdrs) = program_headers(elf)?;
    let phoff = u64_at(elf, 0x20).unwrap_or(0);
    let mut end = phoff + (phdrs.len() * PHDR_LEN) as u64;
    for phdr in &phdrs {
        end = end.max(phdr.offset.saturating_add(phdr.filesz));
    }
    let end = usize::try_from(end)
        .ok()
        .filter(|&end| end <= elf.len())
        .ok_or_else(|| "a segment runs past the end of the file".to_string())?;
    let mut out = elf[..end].to_vec();
    // e_shoff = 0, e_shnum = 0, e_shstrndx = SHN_UNDEF: no section headers.
    out[0x28..0x30].fill(0);
    out[0x3c..0x40].fill(0);
    Ok(out)
}

/// The ELF file without what only a debugger reads: the segments' bytes
/// as they are, then the section-name table and the section headers, in
/// which every section whose bytes lay past the segments (debug
/// information, symbol tables) becomes an empty `SHT_NULL` entry. For the
/// kernel in the disk images: the bootloader wants section headers, and a
/// BIOS boot reads every byte of the file through the firmware.
pub fn strip_debug(elf: &[u8]) -> Result<Vec<u8>, String> {
    const SHDR: usize = 64;
    let mut out = load_only(elf)?;
    let kept = out.len() as u64;
    let bad = || "malformed section headers".to_string();
    let shoff = usize::try_from(u64_at(elf, 0x28).ok_or_else(bad)?).map_err(|_| bad())?;
    let shnum = usize::from(u16_at(elf, 0x3c).ok_or_else(bad)?);
    let shstrndx = usize::from(u16_at(elf, 0x3e).ok_or_else(bad)?);
    if shnum == 0 || shstrndx >= shnum || usize::from(u16_at(elf, 0x3a).ok_or_else(bad)?) != SHDR {
        return Err(bad());
    }
    let table = elf.get(shoff..shoff + shnum * SHDR).ok_or_else(bad)?;
    let mut headers = table.to_vec();
    for (index, header) in headers.chunks_exact_mut(SHDR).enumerate() {
        let kind = u32_at(header, 4).ok_or_else(bad)?;
        let offset = u64_at(header, 24).ok_or_else(bad)?;
        let size = u64_at(header, 32).ok_or_else(bad)?;
        const SHT_NOBITS: u32 = 8;
        if index == shstrndx {
            // The names: copied after the segments.
            let start = usize::try_from(offset).map_err(|_| bad())?;
            let end = start.checked_add(usize::try_from(size).map_err(|_| bad())?).ok_or_else(bad)?;
            let names = elf.get(start..end).ok_or_else(bad)?;
            let at = out.len() as u64;
            out.extend_from_slice(names);
            header[24..32].copy_from_slice(&at.to_le_bytes());
        } else if kind != SHT_NOBITS && offset.saturating_add(size) > kept {
            header[4..8].fill(0); // SHT_NULL
            header[24..40].fill(0); // no offset, no size
        }
    }
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    let at = out.len() as u64;
    out.extend_from_slice(&headers);
    out[0x28..0x30].copy_from_slice(&at.to_le_bytes());
    out[0x3c..0x3e].copy_from_slice(&(shnum as u16).to_le_bytes());
    out[0x3e..0x40].copy_from_slice(&(shstrndx as u16).to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executables_in_cargo_messages() {
        let bin = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/programs/hello#0.1.0","target":{"kind":["bin"],"name":"hello"},"filenames":["/w/target/x86_64-unknown-none/debug/hello"],"executable":"/w/target/x86_64-unknown-none/debug/hello","fresh":true}"#;
        assert_eq!(executable(bin), Some(PathBuf::from("/w/target/x86_64-unknown-none/debug/hello")));
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"]},"executable":null,"fresh":true}"#;
        assert_eq!(executable(lib), None);
        let finished = r#"{"reason":"build-finished","success":true}"#;
        assert_eq!(executable(finished), None);
        let escaped = r#"{"reason":"compiler-artifact","executable":"/a \"b\"\\c\u00e9","fresh":true}"#;
        assert_eq!(executable(escaped), Some(PathBuf::from("/a \"b\"\\cé")));
        let unterminated = r#"{"reason":"compiler-artifact","executable":"/a"#;
        assert_eq!(executable(unterminated), None);
    }

    #[test]
    fn bench_paths() {
        let ws = Workspace { root: PathBuf::from("/w") };
        assert_eq!(ws.show(&bench_initfs_image(&ws, Profile::Release)), "target/ferrite/release/bench-initfs.img");
        assert_eq!(ws.show(&bench_staging(&ws, Profile::Debug)), "target/ferrite/debug/bench-initfs");
        assert!(PROGRAMS.contains(&BENCH_PROGRAM));
        assert!(PROGRAMS.contains(&TEST_SOURCE));
    }

    #[test]
    fn utility_names_are_unique_and_free() {
        assert!(PROGRAMS.contains(&MULTICALL));
        let mut seen = std::collections::BTreeSet::new();
        for name in UTILITIES {
            assert!(seen.insert(name), "{name} is listed twice");
            assert!(initfs::is_valid_name(name), "{name} is not a valid initfs name");
            assert!(!PROGRAMS.contains(name), "{name} is both a program and a utility");
        }
        // The dispatcher's module for each name exists (the binary itself
        // checks its table against the list when it compiles).
        let ws = Workspace::locate().expect("workspace");
        let main = fs::read_to_string(ws.root.join("programs/utils/src/main.rs")).unwrap();
        for name in UTILITIES {
            assert!(main.contains(&format!("(\"{name}\", tools::")), "{name} is not in the dispatch table");
        }
    }

    #[test]
    fn every_program_is_a_workspace_member() {
        let ws = Workspace::locate().expect("workspace");
        let manifest = fs::read_to_string(ws.root.join("Cargo.toml")).unwrap();
        for name in PROGRAMS {
            let dir = PROGRAM_DIRS
                .iter()
                .find(|dir| {
                    let member = if **dir == "." { format!("\"{name}\"") } else { format!("\"{dir}/{name}\"") };
                    manifest.contains(&member)
                })
                .unwrap_or_else(|| panic!("{name} is not a member under {PROGRAM_DIRS:?}"));
            assert!(
                ws.root.join(dir).join(name).join("build.rs").is_file(),
                "{name} has no build.rs to link it at the image base"
            );
        }
    }

    #[test]
    fn only_the_testing_programs_enable_rt_testing() {
        let ws = Workspace::locate().expect("workspace");
        for name in PROGRAMS {
            let manifest = PROGRAM_DIRS
                .iter()
                .map(|dir| ws.root.join(dir).join(name).join("Cargo.toml"))
                .find(|path| path.is_file())
                .unwrap_or_else(|| panic!("no Cargo.toml for {name}"));
            let text = fs::read_to_string(&manifest).unwrap();
            let enables = text.lines().any(|l| l.starts_with("rt") && l.contains("\"testing\""));
            assert_eq!(enables, TESTING_PROGRAMS.contains(name), "{name}: rt's testing feature");
        }
    }

    #[test]
    fn package_arguments() {
        let args = package_args();
        assert_eq!(args[..2], ["-p", "rt"]);
        assert!(args.windows(2).any(|w| w == ["-p", "hello"]));
    }

    /// A minimal ELF: header, `phdrs` at 64, then `tail` bytes of
    /// "sections" past the segments, and section headers claimed at the end.
    fn elf(kind: u16, phdrs: &[(u32, u32, u64, u64, u64, u64)], tail: usize) -> Vec<u8> {
        let mut out = vec![0u8; 64];
        out[..6].copy_from_slice(b"\x7fELF\x02\x01");
        out[0x10..0x12].copy_from_slice(&kind.to_le_bytes());
        out[0x12..0x14].copy_from_slice(&EM_X86_64.to_le_bytes());
        out[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        out[0x36..0x38].copy_from_slice(&(PHDR_LEN as u16).to_le_bytes());
        out[0x38..0x3a].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for &(kind, flags, offset, vaddr, filesz, memsz) in phdrs {
            let mut ph = vec![0u8; PHDR_LEN];
            ph[0..4].copy_from_slice(&kind.to_le_bytes());
            ph[4..8].copy_from_slice(&flags.to_le_bytes());
            ph[8..16].copy_from_slice(&offset.to_le_bytes());
            ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
            ph[32..40].copy_from_slice(&filesz.to_le_bytes());
            ph[40..48].copy_from_slice(&memsz.to_le_bytes());
            out.extend(ph);
        }
        let segments_end = phdrs.iter().map(|p| (p.2 + p.4) as usize).max().unwrap_or(0);
        out.resize(out.len().max(segments_end), 0xcc);
        let shoff = out.len() as u64;
        out.resize(out.len() + tail, 0xdd);
        out[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        out[0x3c..0x3e].copy_from_slice(&5u16.to_le_bytes());
        out[0x3e..0x40].copy_from_slice(&4u16.to_le_bytes());
        out
    }

    const R: u32 = 4;
    const RX: u32 = 5;
    const RW: u32 = 6;

    fn good() -> Vec<(u32, u32, u64, u64, u64, u64)> {
        vec![
            (PT_LOAD, R, 0, 0x40_0000, 0x200, 0x200),
            (PT_LOAD, RX, 0x1000, 0x40_1000, 0x300, 0x300),
            (PT_LOAD, RW, 0x2000, 0x40_2000, 0x80, 0x1000),
            (PT_GNU_STACK, RW, 0, 0, 0, 0),
        ]
    }

    #[test]
    fn accepts_a_well_linked_program() {
        assert_eq!(check_program(&elf(ET_EXEC, &good(), 100)), Ok(()));
    }

    #[test]
    fn refuses_badly_linked_programs() {
        let refused = |kind, phdrs: &[_]| check_program(&elf(kind, phdrs, 0)).unwrap_err();
        assert!(refused(3, &good()).contains("not ET_EXEC"));
        let mut wx = good();
        wx[1].1 = R | PF_W | PF_X;
        assert!(refused(ET_EXEC, &wx).contains("writable and executable"));
        let mut low = good();
        low[0].3 = 0x1000;
        assert!(refused(ET_EXEC, &low).contains("below the image base"));
        let mut stack = good();
        stack[3].1 = RW | PF_X;
        assert!(refused(ET_EXEC, &stack).contains("executable stack"));
        let mut interp = good();
        interp.push((PT_INTERP, R, 0x100, 0x40_0100, 0x10, 0x10));
        assert!(refused(ET_EXEC, &interp).contains("PT_INTERP"));
        let mut dynamic = good();
        dynamic.push((PT_DYNAMIC, RW, 0x2000, 0x40_2000, 0x10, 0x10));
        assert!(refused(ET_EXEC, &dynamic).contains("PT_DYNAMIC"));
        assert!(refused(ET_EXEC, &[]).contains("no loadable segment"));
        assert!(check_program(b"#!/bin/sh\n").is_err());
        assert!(check_program(&elf(ET_EXEC, &good(), 0)[..100]).is_err());
    }

    #[test]
    fn strip_debug_keeps_segments_and_section_names() {
        // Segments end at 0x2080; then 16 bytes of names, 32 of "debug
        // info", and a table of three sections: null, names, debug.
        let mut full = elf(ET_EXEC, &good(), 0);
        full.resize(0x2080, 0xcc);
        let names_at = full.len() as u64;
        full.extend_from_slice(b"\0.shstrtab\0.dbg\0\0");
        let debug_at = full.len() as u64;
        full.extend_from_slice(&[0xdd; 32]);
        let table_at = full.len() as u64;
        let section = |name: u32, kind: u32, offset: u64, size: u64| {
            let mut h = vec![0u8; 64];
            h[0..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[24..32].copy_from_slice(&offset.to_le_bytes());
            h[32..40].copy_from_slice(&size.to_le_bytes());
            h
        };
        full.extend(section(0, 0, 0, 0));
        full.extend(section(1, 3, names_at, 16));
        full.extend(section(11, 1, debug_at, 32));
        full[0x28..0x30].copy_from_slice(&table_at.to_le_bytes());
        full[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        full[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        full[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());

        let out = strip_debug(&full).unwrap();
        assert!(out[0x40..0x2080] == full[0x40..0x2080], "segments unchanged");
        assert!(!out.windows(32).any(|w| w == [0xdd; 32]), "debug bytes dropped");
        let shoff = u64_at(&out, 0x28).unwrap() as usize;
        assert_eq!(u16_at(&out, 0x3c), Some(3));
        let names = shoff + 64;
        let names_offset = u64_at(&out, names + 24).unwrap() as usize;
        assert_eq!(&out[names_offset..names_offset + 16], &b"\0.shstrtab\0.dbg\0\0"[..16]);
        let debug = shoff + 128;
        assert_eq!((u32_at(&out, debug + 4), u64_at(&out, debug + 32)), (Some(0), Some(0)), "debug section emptied");
        assert!(strip_debug(&elf(ET_EXEC, &good(), 0)).is_err(), "no section headers");
    }

    #[test]
    fn load_only_drops_what_follows_the_segments() {
        let full = elf(ET_EXEC, &good(), 5000);
        let stripped = load_only(&full).unwrap();
        assert_eq!(stripped.len(), 0x2080);
        assert_eq!(stripped[64..0x2080], full[64..0x2080]);
        assert_eq!(u64_at(&stripped, 0x28), Some(0));
        assert_eq!(u16_at(&stripped, 0x3c), Some(0));
        assert_eq!(u16_at(&stripped, 0x3e), Some(0));
        assert_eq!(check_program(&stripped), Ok(()));
        // A segment past the end of the file is refused, not truncated.
        let mut short = good();
        short[2].4 = 0x10_0000;
        let full = elf(ET_EXEC, &short, 0);
        assert!(load_only(&full[..0x2100]).is_err());
    }

    #[test]
    fn malformed_test_programs() {
        // Segments far past the first 512 bytes, as in a real program.
        let mut phdrs = good();
        for (i, phdr) in phdrs.iter_mut().take(3).enumerate() {
            phdr.2 = 0x1000 * (i as u64 + 1);
        }
        let full = elf(ET_EXEC, &phdrs, 0);
        let files = test_files(&full).unwrap();
        let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["not-elf", "truncated-elf", "wx-elf"]);
        assert!(check_program(&files[0].1).is_err());
        assert_eq!(files[1].1.len(), 512);
        assert_eq!(files[1].1[..], full[..512]);
        assert!(load_only(&files[1].1).is_err(), "the truncated program still has its segments");
        let wx = check_program(&files[2].1).unwrap_err();
        assert!(wx.contains("writable and executable"), "{wx}");
        assert_eq!(files[2].1.len(), full.len());
        // A program too small to truncate is an error, not a bad test file.
        let tiny = elf(ET_EXEC, &[(PT_LOAD, RX, 0, 0x40_0000, 0x100, 0x100)], 0);
        assert!(test_files(&tiny).is_err());
    }

    #[test]
    fn etc_is_copied_when_present() {
        let dir = std::env::temp_dir().join(format!("mk-etc-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let source = dir.join("etc");
        fs::create_dir_all(source.join("sub")).unwrap();
        fs::write(source.join("init.rc"), "hello\n").unwrap();
        fs::write(source.join("sub/x"), "x").unwrap();
        stage_etc(&source, &dir.join("out/etc")).unwrap();
        assert_eq!(fs::read_to_string(dir.join("out/etc/init.rc")).unwrap(), "hello\n");
        assert_eq!(fs::read_to_string(dir.join("out/etc/sub/x")).unwrap(), "x");
        stage_etc(&dir.join("missing"), &dir.join("none")).unwrap();
        assert!(!dir.join("none").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
