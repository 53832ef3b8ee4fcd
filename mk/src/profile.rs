//! `cargo mk bench --profile`: where each microbenchmark's instructions go.
//!
//! The icount boot runs with a QEMU plugin (`bench/profile/insn_profile.c`,
//! built here with `gcc`) that counts the instructions each translated
//! block executes and writes the counters every [`PERIOD_MS`] ms, stamped
//! with the host's clock. mk stamps the benchmark program's lines with the
//! same clock, so the difference between the snapshot after one `bench`
//! line and the one before the next is what the guest executed while that
//! benchmark ran (its calibration included). Blocks are named by the
//! symbol their address falls in: the kernel's, or a program's (every
//! program is linked at the same address, so a block's first bytes are
//! compared with each binary's bytes there to tell which it belongs to).
//! Each symbol's share of the window times the benchmark's instructions per
//! operation is its instructions per operation.
//!
//! May touch: `target/ferrite/insn_profile.so` and the profile file it is
//! given.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process;
use crate::workspace::Workspace;

/// The plugin's source.
const SOURCE: &str = "bench/profile/insn_profile.c";
/// How often the plugin writes its counters, in host milliseconds.
pub const PERIOD_MS: u64 = 100;
/// Symbols shown per benchmark.
const TOP: usize = 80;
/// The longest symbol name shown.
const NAME_MAX: usize = 110;

/// Builds the plugin if its source is newer than the library; returns the
/// library's path.
pub fn build_plugin(ws: &Workspace) -> Result<PathBuf, String> {
    let source = ws.root.join(SOURCE);
    let library = ws.mk_dir().join("insn_profile.so");
    let modified = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).ok();
    if modified(&library).is_some_and(|built| modified(&source).is_some_and(|src| src <= built)) {
        return Ok(library);
    }
    fs::create_dir_all(ws.mk_dir()).map_err(|e| format!("creating {}: {e}", ws.show(&ws.mk_dir())))?;
    let mut cmd = Command::new("gcc");
    cmd.args(["-shared", "-fPIC", "-O2", "-Wall", "-o"]).arg(&library).arg(&source).arg("-lpthread");
    println!("mk: building the profiling plugin ({})", process::describe(&cmd));
    if process::run(&mut cmd)? { Ok(library) } else { Err(format!("{SOURCE} did not build")) }
}

/// QEMU's arguments that load the plugin, writing to `out`.
pub fn qemu_args(library: &Path, out: &Path) -> Vec<String> {
    vec!["-plugin".to_string(), format!("{},out={},period_ms={PERIOD_MS}", library.display(), out.display())]
}

/// One translated block.
struct Block {
    vaddr: u64,
    code: Vec<u8>,
}

/// The plugin's output, read back.
pub struct Profile {
    blocks: Vec<Block>,
    /// Each block's instructions per execution.
    insns: Vec<u64>,
    /// Snapshots: time since the plugin started, and every block's
    /// instruction count then (blocks defined later count zero).
    snapshots: Vec<(Duration, Vec<u64>)>,
}

impl Profile {
    /// Reads the plugin's file.
    pub fn read(path: &Path) -> Result<Profile, String> {
        let text = fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        Profile::parse(&text)
    }

    fn parse(text: &str) -> Result<Profile, String> {
        let mut blocks = Vec::new();
        let mut insns = Vec::new();
        let mut snapshots: Vec<(Duration, Vec<u64>)> = Vec::new();
        let mut counts: Vec<u64> = Vec::new();
        let mut start: Option<u64> = None;
        let mut current: Option<Duration> = None;
        let bad = |line: &str| format!("profile: cannot read `{line}`");
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["start", ns] => start = Some(ns.parse().map_err(|_| bad(line))?),
                ["def", index, vaddr, count, code] => {
                    let index: usize = index.parse().map_err(|_| bad(line))?;
                    if index != blocks.len() {
                        return Err(bad(line));
                    }
                    let vaddr = u64::from_str_radix(vaddr, 16).map_err(|_| bad(line))?;
                    let code = (0..code.len() / 2)
                        .map(|i| u8::from_str_radix(&code[2 * i..2 * i + 2], 16))
                        .collect::<Result<Vec<u8>, _>>()
                        .map_err(|_| bad(line))?;
                    blocks.push(Block { vaddr, code });
                    insns.push(count.parse().map_err(|_| bad(line))?);
                }
                ["snap", ns] => {
                    if let Some(at) = current.take() {
                        snapshots.push((at, counts.clone()));
                    }
                    let ns: u64 = ns.parse().map_err(|_| bad(line))?;
                    let start = start.ok_or("profile: no start line")?;
                    current = Some(Duration::from_nanos(ns.saturating_sub(start)));
                }
                ["c", index, count] => {
                    let index: usize = index.parse().map_err(|_| bad(line))?;
                    if index >= blocks.len() {
                        return Err(bad(line));
                    }
                    if counts.len() < blocks.len() {
                        counts.resize(blocks.len(), 0);
                    }
                    counts[index] = count.parse().map_err(|_| bad(line))?;
                }
                [""] => {}
                _ => return Err(bad(line)),
            }
        }
        if let Some(at) = current {
            snapshots.push((at, counts));
        }
        Ok(Profile { blocks, insns, snapshots })
    }

    /// Instructions per block between the first snapshot at or after
    /// `from` and the last at or before `to` (None if no two snapshots
    /// lie in the window).
    fn window(&self, from: Duration, to: Duration) -> Option<Vec<(usize, u64)>> {
        let first = self.snapshots.iter().position(|(at, _)| *at >= from)?;
        let last = self.snapshots.iter().rposition(|(at, _)| *at <= to)?;
        if last <= first {
            return None;
        }
        let (a, b) = (&self.snapshots[first].1, &self.snapshots[last].1);
        Some(
            b.iter()
                .enumerate()
                .map(|(i, after)| (i, after - a.get(i).copied().unwrap_or(0)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        )
    }

    /// [`Self::window`] with its total, if it ran anything.
    fn counted(&self, from: Duration, to: Duration) -> Option<(Vec<(usize, u64)>, u64)> {
        let window = self.window(from, to)?;
        let total: u64 = window.iter().map(|(_, n)| n).sum();
        (total > 0).then_some((window, total))
    }
}

/// A binary's symbols and loadable bytes.
pub struct Binary {
    label: String,
    /// Function symbols, by address.
    symbols: Vec<(u64, String)>,
    /// Loadable segments: (virtual address, bytes in the file).
    segments: Vec<(u64, Vec<u8>)>,
}

impl Binary {
    /// Reads `path`'s symbols with `nm` and its segments from its program
    /// headers.
    pub fn load(label: &str, path: &Path) -> Result<Binary, String> {
        let output = Command::new("nm")
            .args(["-n", "-C", "--defined-only"])
            .arg(path)
            .output()
            .map_err(|e| format!("nm {}: {e}", path.display()))?;
        let mut symbols = Vec::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let mut words = line.splitn(3, ' ');
            let (Some(addr), Some(kind), Some(name)) = (words.next(), words.next(), words.next()) else { continue };
            if !matches!(kind, "T" | "t" | "W" | "w") {
                continue;
            }
            if let Ok(addr) = u64::from_str_radix(addr, 16) {
                symbols.push((addr, name.to_string()));
            }
        }
        let elf = fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let segments = load_segments(&elf).ok_or_else(|| format!("{}: not an ELF64 file", path.display()))?;
        Ok(Binary { label: label.to_string(), symbols, segments })
    }

    fn has_code(&self, vaddr: u64, code: &[u8]) -> bool {
        self.segments.iter().any(|(start, bytes)| {
            vaddr >= *start
                && (vaddr - start) as usize + code.len() <= bytes.len()
                && &bytes[(vaddr - start) as usize..(vaddr - start) as usize + code.len()] == code
        })
    }

    fn symbol(&self, vaddr: u64) -> Option<&str> {
        let at = self.symbols.partition_point(|(addr, _)| *addr <= vaddr);
        at.checked_sub(1).map(|i| self.symbols[i].1.as_str())
    }
}

/// The PT_LOAD segments of a little-endian ELF64 file.
fn load_segments(elf: &[u8]) -> Option<Vec<(u64, Vec<u8>)>> {
    let u16_at = |at: usize| elf.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| elf.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    let u64_at = |at: usize| elf.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    if elf.get(..5)? != b"\x7fELF\x02" {
        return None;
    }
    let (phoff, phentsize, phnum) = (u64_at(0x20)? as usize, u16_at(0x36)? as usize, u16_at(0x38)? as usize);
    let mut segments = Vec::new();
    for i in 0..phnum {
        let header = phoff + i * phentsize;
        if u32_at(header)? != 1 {
            continue;
        }
        let (offset, vaddr, filesz) =
            (u64_at(header + 8)? as usize, u64_at(header + 16)?, u64_at(header + 32)? as usize);
        segments.push((vaddr, elf.get(offset..offset + filesz)?.to_vec()));
    }
    Some(segments)
}

/// Names a block: `kernel foo::bar`, `ipcd main`, or its address.
fn name_of(block: &Block, kernel: &Binary, programs: &[Binary]) -> String {
    if block.vaddr >= 0xffff_8000_0000_0000 {
        return match kernel.symbol(block.vaddr) {
            Some(name) => format!("{} {}", kernel.label, short(name)),
            None => format!("kernel {:#x}", block.vaddr),
        };
    }
    let owner = programs.iter().find(|p| p.has_code(block.vaddr, &block.code));
    match owner.and_then(|p| p.symbol(block.vaddr).map(|name| (p, name))) {
        Some((program, name)) => format!("{} {}", program.label, short(name)),
        None => format!("user {:#x}", block.vaddr),
    }
}

/// A symbol without its hash suffix, at most [`NAME_MAX`] characters.
fn short(name: &str) -> String {
    let name = match name.rfind("::h") {
        Some(at) if name.len() - at == 19 && name[at + 3..].chars().all(|c| c.is_ascii_hexdigit()) => &name[..at],
        _ => name,
    };
    if name.chars().count() <= NAME_MAX {
        return name.to_string();
    }
    let mut out: String = name.chars().take(NAME_MAX - 1).collect();
    out.push('…');
    out
}

/// One benchmark's profile, two ways.
pub struct Listings {
    /// The top symbols with their instructions per operation (their share
    /// of the window times the instructions per operation), then the
    /// kernel's and userspace's totals.
    pub by_symbol: String,
    /// The hottest translated blocks, [`BLOCKS_TOP`] of them, one per
    /// line: instructions per operation, the block's address, its
    /// instructions per execution, its name. For `objdump -d
    /// --start-address` when a symbol's total does not say which of its
    /// paths costs.
    pub hot_blocks: String,
}

/// The listings of the window `from`..`to`, whose instructions per
/// operation `per_op` gives from the window's total.
pub fn listings(
    profile: &Profile,
    from: Duration,
    to: Duration,
    per_op: impl FnOnce(u64) -> f64,
    kernel: &Binary,
    programs: &[Binary],
) -> Option<Listings> {
    let (mut window, total) = profile.counted(from, to)?;
    let per_op = per_op(total);
    let scale = per_op / total as f64;
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    let (mut in_kernel, mut in_user) = (0u64, 0u64);
    for (index, n) in &window {
        let block = &profile.blocks[*index];
        if block.vaddr >= 0xffff_8000_0000_0000 {
            in_kernel += n;
        } else {
            in_user += n;
        }
        *by_name.entry(name_of(block, kernel, programs)).or_default() += n;
    }
    let mut ranked: Vec<(String, u64)> = by_name.into_iter().collect();
    ranked.sort_by_key(|(_, n)| core::cmp::Reverse(*n));
    let mut by_symbol = String::new();
    for (name, n) in ranked.iter().take(TOP) {
        by_symbol.push_str(&format!(
            "  {:>9.1}  {:>5.1}%  {name}\n",
            *n as f64 * scale,
            100.0 * *n as f64 / total as f64
        ));
    }
    by_symbol.push_str(&format!(
        "  {:>9.1}  kernel, {:.1} userspace, of {:.1} per operation ({} instructions in the window)\n",
        in_kernel as f64 * scale,
        in_user as f64 * scale,
        per_op,
        crate::bench::thousands(total)
    ));
    window.sort_by_key(|(_, n)| core::cmp::Reverse(*n));
    let mut hot_blocks = String::new();
    for (index, n) in window.iter().take(BLOCKS_TOP) {
        let block = &profile.blocks[*index];
        hot_blocks.push_str(&format!(
            "{:>9.1}  {:#018x}  {:>3}  {}\n",
            *n as f64 * scale,
            block.vaddr,
            profile.insns[*index],
            name_of(block, kernel, programs)
        ));
    }
    Some(Listings { by_symbol, hot_blocks })
}

/// Blocks listed per benchmark in [`Listings::hot_blocks`].
const BLOCKS_TOP: usize = 300;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_snapshots_and_takes_windows() {
        let text = "start 1000000000\ndef 0 401000 3 0102\nsnap 1100000000\nc 0 30\ndef 1 ffffffff80001000 2 \
                    0304\nsnap 1200000000\nc 0 60\nc 1 20\nsnap 1300000000\nc 1 50\n";
        let profile = Profile::parse(text).unwrap();
        assert_eq!(profile.blocks.len(), 2);
        assert_eq!(profile.snapshots.len(), 3);
        assert_eq!(profile.snapshots[0].0, Duration::from_millis(100));
        let window = profile.window(Duration::from_millis(150), Duration::from_millis(300)).unwrap();
        assert_eq!(window, vec![(1, 30)]);
        let window = profile.window(Duration::from_millis(50), Duration::from_millis(300)).unwrap();
        assert_eq!(window, vec![(0, 30), (1, 50)]);
        assert!(profile.window(Duration::from_millis(250), Duration::from_millis(300)).is_none());
        assert!(Profile::parse("start 1\nc 0 5\n").is_err());
    }

    #[test]
    fn short_names() {
        assert_eq!(
            short("kernel::scheme::user::UserScheme::call::h0123456789abcdef"),
            "kernel::scheme::user::UserScheme::call"
        );
        assert_eq!(short("core::ptr::drop_in_place<kernel::Call>"), "core::ptr::drop_in_place<kernel::Call>");
        assert_eq!(short(&"x".repeat(200)).chars().count(), NAME_MAX);
    }
}
