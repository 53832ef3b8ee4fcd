//! Power cuts (README "Files that stay"): the guest's `crashwriter` does
//! the workload of `lib/crash-workload` on `file:`, acknowledging each op
//! on the console after its `fsync`, and the power goes at a moment the
//! writer does not choose. Two ways:
//!
//! - **Killing QEMU** ([`kill_run`]): boot, start the writer, wait a random
//!   time, kill QEMU; check the disk image on the host (RedoxFS mounts
//!   through the `redoxfs` crate, and the writer's directory is exactly a
//!   state of the workload at or after the last acknowledged op and not
//!   past the op under way); boot again on the same disk (the guest's
//!   `redoxfsd` must mount it) and cut again. Every write QEMU finished is
//!   on the image, which is kinder than a real power cut.
//! - **Recording the writes** ([`recorded_run`]): the data disk goes through
//!   QEMU's `blklogwrites` driver, which logs every write and flush the
//!   guest's disk completes (Linux's dm-log-writes format). The host then
//!   rebuilds the disk as it was at every flush and, at each, with a random
//!   subset of the writes that followed before the next flush (what a disk
//!   with a volatile cache may have kept), and checks each image as above:
//!   it must mount and hold a state of the workload no older than the one
//!   at the flush before, and the last flush must hold every acknowledged
//!   op. This is the method of CrashMonkey and dm-log-writes.
//!
//! May touch: its disk images and logs under `target/ferrite/`, the guests
//! it boots.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crash_workload::{Files, States};
use redoxfs::{Disk, DiskIo, FileSystem, TreePtr};
use xorshift::Rng;

use crate::guest::Guest;
use crate::qemu::{self, Firmware, Machine, Serial};
use crate::session;
use crate::workspace::Workspace;

/// Cut points in a normal `cargo mk test`, per firmware.
pub const TEST_CUTS: usize = 5;
/// The data disk of the runs.
const DISK_SIZE: u64 = 64 << 20;
/// Where the writer works, below `file:/crash/`.
const ROOT: &str = "crash";
/// Ops in the recorded run.
const RECORDED_OPS: usize = 40;
/// The most images a recorded run checks (flush points are sampled evenly
/// beyond this).
const MAX_CHECKS: usize = 300;

const PROMPT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the writer has to acknowledge its first op.
const FIRST_ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the recorded run's writer has for all its ops.
const RECORDED_TIMEOUT: Duration = Duration::from_secs(180);
/// The power goes this long after the first acknowledgement, at least...
const CUT_MIN: Duration = Duration::from_millis(100);
/// ...plus up to this much more, chosen at random.
const CUT_SPREAD_MS: usize = 3000;

/// The acknowledgements and starts the writer printed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The last op acknowledged (`crashwriter: ack K`).
    pub acked: Option<usize>,
    /// The last op begun (`crashwriter: begin K`).
    pub started: Option<usize>,
    /// An error line the writer printed.
    pub error: Option<String>,
}

/// What the console says of the writer's progress.
pub fn progress(console: &str) -> Progress {
    let mut out = Progress::default();
    for line in console.lines() {
        let Some((_, rest)) = line.split_once("crashwriter: ") else { continue };
        let number = |prefix: &str| rest.strip_prefix(prefix).and_then(|n| n.trim().parse::<usize>().ok());
        if let Some(k) = number("ack ") {
            out.acked = out.acked.max(Some(k));
        } else if let Some(k) = number("begin ") {
            out.started = out.started.max(Some(k));
        } else if rest.starts_with("op ") || rest.contains(": ") {
            out.error.get_or_insert_with(|| line.trim().to_string());
        }
    }
    out
}

/// The files of `/crash/NAME` in the RedoxFS on `disk` (none if the
/// directory is not there yet); `Err` if the file system does not mount
/// or cannot be read.
fn files_in<D: Disk>(disk: D, name: &str) -> Result<Files, String> {
    let mut fs = FileSystem::open(disk, None, None, true).map_err(|e| format!("RedoxFS does not mount: {e}"))?;
    fs.tx(|tx| {
        let root = tx.read_tree(TreePtr::root())?;
        let dir = match tx.find_node(root.ptr(), ROOT).and_then(|top| tx.find_node(top.ptr(), name)) {
            Ok(dir) => dir,
            Err(e) if e.errno == redox_syscall_06::ENOENT => return Ok(Files::new()),
            Err(e) => return Err(e),
        };
        let mut entries = Vec::new();
        tx.child_nodes(dir.ptr(), &mut entries)?;
        let mut files = Files::new();
        for entry in &entries {
            let Some(file) = entry.name() else { continue };
            let node = tx.read_tree(entry.node_ptr())?;
            files.insert(file.to_string(), crate::disk::contents(tx, &node, (0, 0))?);
        }
        Ok(files)
    })
    .map_err(|e| format!("reading /{ROOT}/{name}: {e}"))
}

fn image_files(image: &Path, name: &str) -> Result<Files, String> {
    let disk = redoxfs::DiskFile::open(image).map_err(|e| format!("opening {}: {e}", image.display()))?;
    files_in(disk, name)
}

fn machine_command(
    ws: &Workspace,
    image: &Path,
    firmware: Option<&Firmware>,
    disks: &[PathBuf],
) -> std::process::Command {
    let machine = Machine {
        image,
        firmware,
        smp: crate::check::SMP,
        mem: "256M",
        serial: Serial::Pipe,
        display: false,
        gdb: false,
        icount: false,
        disks,
        nic: qemu::Nic::QemuDefault,
    };
    let mut cmd = crate::process::clean(ws, qemu::QEMU);
    cmd.args(qemu::args(&machine));
    cmd
}

/// Boots, waits for the shell, and checks the guest's `redoxfsd` mounted
/// the disk.
fn boot(cmd: std::process::Command, log: &Path) -> Result<Guest, String> {
    let mut guest = Guest::spawn(cmd, log)?;
    session::wait_for_prompt(&mut guest, PROMPT_TIMEOUT)?;
    let console = String::from_utf8_lossy(&guest.output);
    if !console.contains("redoxfsd: RedoxFS on disk:0") {
        let why = console.lines().find(|l| l.contains("redoxfsd:")).unwrap_or("(redoxfsd said nothing)");
        return Err(format!("the guest did not mount the disk: {why}"));
    }
    if console.contains("panicked") || console.contains("PANIC") {
        return Err(String::from("a panic on the console"));
    }
    Ok(guest)
}

/// What a run boots: the workspace, the image, its firmware (UEFI) and
/// the boot's name (`bios`, `uefi`) for file names and messages.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub ws: &'a Workspace,
    pub image: &'a Path,
    pub firmware: Option<&'a Firmware>,
    pub name: &'a str,
}

/// A freshly formatted data disk for the `kind` of run on `boot_name`:
/// `target/ferrite/powercut-KIND-BOOT.img`.
fn fresh_disk(ws: &Workspace, kind: &str, boot_name: &str) -> Result<PathBuf, String> {
    let disk = ws.mk_dir().join(format!("powercut-{kind}-{boot_name}.img"));
    crate::disk::format(&disk, DISK_SIZE)?;
    Ok(disk)
}

/// The writer's seed for run `run` of a check seeded `seed`.
fn run_seed(seed: u64, run: usize) -> u64 {
    seed.wrapping_mul(1000).wrapping_add(run as u64 + 1)
}

/// Judges the directory of one run after a cut.
fn judge(files: &Files, seed: u64, progress: &Progress) -> Result<usize, String> {
    let started = progress.started.unwrap_or(0);
    let states = States::new(seed, started + 1);
    crash_workload::judge(&states, files, progress.acked, started).map(|point| point.step)
}

/// `cuts` power cuts by killing QEMU, on `firmware`'s boot of `image`.
pub fn kill_run(target: &Target<'_>, cuts: usize, seed: u64) -> Result<String, String> {
    let Target { ws, image, firmware, name: boot_name } = *target;
    let disk = fresh_disk(ws, "cut", boot_name)?;
    let disks = [disk.clone()];
    let mut rng = Rng::new(seed);
    // Each earlier run's directory as it was found; it must stay so.
    let mut kept: BTreeMap<String, Files> = BTreeMap::new();
    let mut acked_total = 0;
    let mut delays = Vec::new();
    for cut in 0..=cuts {
        let log = ws.log_dir().join(format!("{boot_name}-powercut-{cut}.log"));
        let mut guest = boot(machine_command(ws, image, firmware, &disks), &log)
            .map_err(|e| format!("boot {} after {cut} cuts: {e} (log {})", cut + 1, ws.show(&log)))?;
        if cut == cuts {
            crate::shutdown::run(&mut guest, "poweroff")?;
            break;
        }
        let name = format!("run{cut}");
        let seed_n = run_seed(seed, cut);
        let mark = guest.output.len();
        guest.type_text(&format!("initfs:libexec/crashwriter file:/{ROOT}/{name} {seed_n}\r"))?;
        let acked = |out: &[u8]| progress(&String::from_utf8_lossy(&out[mark.min(out.len())..])).acked.is_some();
        if !guest.wait_until(FIRST_ACK_TIMEOUT, Duration::ZERO, acked) {
            let said = progress(&String::from_utf8_lossy(&guest.output[mark..]));
            return Err(format!(
                "cut {cut}: the writer acknowledged nothing in time ({said:?}; log {})",
                ws.show(&log)
            ));
        }
        let delay = CUT_MIN + Duration::from_millis(rng.below(CUT_SPREAD_MS) as u64);
        delays.push(delay.as_millis());
        let until = Instant::now() + delay;
        while Instant::now() < until {
            guest.poll(until.saturating_duration_since(Instant::now()).min(Duration::from_millis(50)))?;
        }
        guest.kill();
        let said = progress(&String::from_utf8_lossy(&guest.output[mark..]));
        drop(guest);
        if let Some(error) = said.error {
            return Err(format!("cut {cut}: the writer failed: {error}"));
        }
        let files = image_files(&disk, &name).map_err(|e| format!("after cut {cut}: {e}"))?;
        judge(&files, seed_n, &said).map_err(|e| format!("after cut {cut} ({said:?}): {e}"))?;
        for (earlier, want) in &kept {
            let now = image_files(&disk, earlier)?;
            if &now != want {
                return Err(format!("after cut {cut}: /{ROOT}/{earlier}, untouched since, changed"));
            }
        }
        acked_total += said.acked.map_or(0, |k| k + 1);
        kept.insert(name, files);
    }
    Ok(format!(
        "{cuts} cuts at {delays:?} ms after the first acknowledgement; {acked_total} acknowledged ops all kept; every boot mounted"
    ))
}

/// The daemons [`daemon_kill_run`] kills under the writer.
pub const KILLED_DAEMONS: &[&str] = &["redoxfsd", "virtio-blkd"];
/// How long the file system has to come back after a kill.
const BACK_TIMEOUT: Duration = Duration::from_secs(30);
/// The ops of the writer a daemon is killed under (it goes on to the end
/// if it made no call at the moment of the kill). Enough that the kill,
/// at most [`KILL_AFTER`] + [`CUT_SPREAD_MS`] after its start, comes
/// while it still writes: 300 were done before it on a fast host.
const KILL_RUN_OPS: usize = 2000;
/// The kill comes this long after the writer starts, plus up to
/// [`CUT_SPREAD_MS`].
const KILL_AFTER: Duration = Duration::from_millis(700);

/// Kills each of [`KILLED_DAEMONS`] (the file system, then the disk
/// driver) with `SIGKILL` while the writer runs in the background, lets
/// init restart it, and checks that `file:` serves again in the same boot
/// and, on the host after a `poweroff`, that every op acknowledged before
/// the kill is on the disk and the writer's directory is a state of the
/// workload (the writer itself stops at its first failed call).
pub fn daemon_kill_run(target: &Target<'_>, seed: u64) -> Result<String, String> {
    let Target { ws, image, firmware, name: boot_name } = *target;
    let disk = fresh_disk(ws, "kill", boot_name)?;
    let log = ws.log_dir().join(format!("{boot_name}-powercut-daemons.log"));
    let mut guest = boot(machine_command(ws, image, firmware, std::slice::from_ref(&disk)), &log)
        .map_err(|e| format!("{e} (log {})", ws.show(&log)))?;
    let mut rng = Rng::new(seed);
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    for (n, daemon) in KILLED_DAEMONS.iter().enumerate() {
        let name = format!("kill{n}");
        let seed_n = run_seed(seed, 100 + n);
        // The writer's lines go to tmp:, so the console stays quiet for
        // the commands typed meanwhile.
        let pid = crate::supervision::pid_of(&mut guest, daemon)?;
        let out = format!("tmp:{name}.out");
        let command =
            format!("initfs:libexec/crashwriter file:/{ROOT}/{name} {seed_n} {KILL_RUN_OPS} >> {out} 2>> {out} &");
        session::run_command(&mut guest, &command, false)?;
        let delay = KILL_AFTER + Duration::from_millis(rng.below(CUT_SPREAD_MS) as u64);
        let until = Instant::now() + delay;
        while Instant::now() < until {
            guest.poll(until.saturating_duration_since(Instant::now()).min(Duration::from_millis(50)))?;
        }
        // The file system is back when a new redoxfsd is ready (after the
        // driver's restart too, when the driver was the one killed).
        let back = |text: &str| text.lines().any(|l| l.contains("init: redoxfsd (pid") && l.contains("ready after"));
        if !session::run_until(&mut guest, &format!("kill -KILL {pid}"), BACK_TIMEOUT, back)? {
            return Err(format!("{daemon} killed: file: did not come back (log {})", ws.show(&log)));
        }
        // The writer stops at its first failed call, or goes on on the
        // new instance to its last op; either way every ack must hold.
        let said = session::run_command(&mut guest, &format!("wait; cat {out}"), false)?;
        let said = progress(&said.lines.join("\n"));
        if said.acked.is_none() {
            return Err(format!("{daemon} killed: the writer acknowledged nothing ({said:?}; log {})", ws.show(&log)));
        }
        let listing = session::run_command(&mut guest, &format!("ls file:/{ROOT}/{name}"), false)?;
        if listing.lines.is_empty() {
            return Err(format!("{daemon} killed: `ls file:/{ROOT}/{name}` shows nothing"));
        }
        let how = if said.error.is_some() { "then failed" } else { "then went on to the end" };
        notes.push(format!(
            "{daemon} killed {} ms in; the writer had {} ops acknowledged {how}",
            delay.as_millis(),
            said.acked.map_or(0, |k| k + 1)
        ));
        runs.push((name, seed_n, said));
    }
    crate::shutdown::run(&mut guest, "poweroff")?;
    drop(guest);
    for (name, seed_n, said) in &runs {
        let files = image_files(&disk, name)?;
        judge(&files, *seed_n, said).map_err(|e| format!("/{ROOT}/{name} ({said:?}): {e}"))?;
    }
    Ok(format!("{}; file: came back each time and kept every acknowledged op", notes.join(", ")))
}

/// One entry of a `blklogwrites` log.
#[derive(Debug, PartialEq, Eq)]
pub enum Logged {
    Write {
        offset: u64,
        data: Vec<u8>,
    },
    Flush,
    /// A discard or write-zeroes region (our driver sends none).
    Other,
}

/// The log's sector size (QEMU's `log-sector-size`).
const LOG_SECTOR: usize = 512;

/// Reads a `blklogwrites` log (dm-log-writes format) of `sector`-byte
/// sectors: a super block (magic, version, entry count, sector size) in
/// sector 0, then each entry's header in a sector of its own followed by
/// its data sectors. QEMU writes the super block only at flushes, so the
/// entries are read to the end of the log, not up to its count (a log of a
/// disk that never flushed has no super block at all).
pub fn parse_log(log: &[u8], sector: usize) -> Result<Vec<Logged>, String> {
    const MAGIC: u64 = 0x006a_7366_7773_6872;
    const FLUSH: u64 = 1;
    const DISCARD: u64 = 4;
    const KNOWN: u64 = 0xf;
    let u64_at = |at: usize| -> Option<u64> { Some(u64::from_le_bytes(log.get(at..at + 8)?.try_into().ok()?)) };
    if log.len() < sector {
        return Err(String::from("the log is shorter than its super block"));
    }
    let written = u64_at(0) != Some(0);
    if written && (u64_at(0) != Some(MAGIC) || u64_at(8) != Some(1)) {
        return Err(String::from("not a blklogwrites log (bad magic or version)"));
    }
    let mut at = sector;
    let mut entries = Vec::new();
    for n in 0.. {
        if at >= log.len() {
            break;
        }
        let (Some(first), Some(sectors), Some(flags)) = (u64_at(at), u64_at(at + 8), u64_at(at + 16)) else {
            return Err(format!("entry {n} runs past the log's end"));
        };
        if flags & !KNOWN != 0 {
            return Err(format!("entry {n} has unknown flags {flags:#x}"));
        }
        at += sector;
        if flags & DISCARD != 0 {
            entries.push(Logged::Other);
            continue;
        }
        let len = usize::try_from(sectors).ok().and_then(|s| s.checked_mul(sector)).ok_or("huge entry")?;
        let data = log.get(at..at + len).ok_or_else(|| format!("entry {n}'s data runs past the log's end"))?;
        at += len;
        if flags & FLUSH != 0 {
            entries.push(Logged::Flush);
        } else if len == 0 {
            entries.push(Logged::Other);
        } else {
            entries.push(Logged::Write { offset: first * sector as u64, data: data.to_vec() });
        }
    }
    Ok(entries)
}

fn apply(image: &mut [u8], offset: u64, data: &[u8]) -> Result<(), String> {
    let start = usize::try_from(offset).map_err(|_| "offset")?;
    let slot = image.get_mut(start..start + data.len()).ok_or_else(|| format!("a write at {offset} past the disk"))?;
    slot.copy_from_slice(data);
    Ok(())
}

/// The workload step the image holds (a clone of it is mounted, since
/// mounting may write).
fn state_of(image: &[u8], seed: u64, states: &States, from: usize) -> Result<usize, String> {
    let files = files_in(DiskIo(Cursor::new(image.to_vec())), "rec")?;
    states
        .find(&files, from)
        .map(|point| point.step)
        .ok_or_else(|| format!("no state of the workload (seed {seed}) from step {from} on: {} files", files.len()))
}

/// Rebuilds the disk at every flush of `log` from `base` (sampled down to
/// [`MAX_CHECKS`]), with and without a random subset of the writes after
/// it, and checks each; the number of images checked.
pub fn check_log(base: &[u8], log: &[Logged], seed: u64, ops: usize, rng: &mut Rng) -> Result<usize, String> {
    let states = States::new(seed, ops);
    let flushes: Vec<usize> = log.iter().enumerate().filter(|(_, e)| **e == Logged::Flush).map(|(i, _)| i).collect();
    let stride = flushes.len().div_ceil(MAX_CHECKS / 2).max(1);
    let mut image = base.to_vec();
    let mut applied = 0;
    let mut floor = 0;
    let mut checked = 0;
    for (nth, &flush) in flushes.iter().enumerate() {
        let last = nth + 1 == flushes.len();
        for entry in &log[applied..flush] {
            if let Logged::Write { offset, data } = entry {
                apply(&mut image, *offset, data)?;
            }
        }
        applied = flush;
        if nth % stride != 0 && !last {
            continue;
        }
        let step = state_of(&image, seed, &states, floor).map_err(|e| format!("at flush {nth}: {e}"))?;
        floor = step;
        checked += 1;
        // The writes up to the next flush, some of them kept.
        let next = flushes.get(nth + 1).copied().unwrap_or(log.len());
        let mut torn = image.clone();
        let mut kept = 0;
        for entry in &log[flush..next] {
            if let Logged::Write { offset, data } = entry
                && rng.below(2) == 0
            {
                apply(&mut torn, *offset, data)?;
                kept += 1;
            }
        }
        if kept > 0 {
            state_of(&torn, seed, &states, floor)
                .map_err(|e| format!("at flush {nth} with {kept} of the writes after it: {e}"))?;
            checked += 1;
        }
    }
    let end = states.op_end(ops - 1).unwrap_or(0);
    if floor < end {
        return Err(format!("the last flush holds step {floor}, not the end of the last acknowledged op ({end})"));
    }
    Ok(checked)
}

/// The recorded run: the writer does [`RECORDED_OPS`] ops on a disk whose
/// writes QEMU logs, then every flushed prefix is checked.
pub fn recorded_run(target: &Target<'_>, seed: u64) -> Result<String, String> {
    let Target { ws, image, firmware, name: boot_name } = *target;
    let disk = fresh_disk(ws, "rec", boot_name)?;
    let log_file = ws.mk_dir().join(format!("powercut-rec-{boot_name}.writes"));
    let base = std::fs::read(&disk).map_err(|e| format!("reading {}: {e}", disk.display()))?;
    std::fs::write(&log_file, b"").map_err(|e| format!("creating {}: {e}", log_file.display()))?;
    let mut cmd = machine_command(ws, image, firmware, &[]);
    let value = |p: &Path| p.to_string_lossy().replace(',', ",,");
    cmd.args([
        "-blockdev".to_string(),
        format!("driver=file,node-name=recdisk,filename={}", value(&disk)),
        "-blockdev".to_string(),
        format!("driver=file,node-name=reclog,filename={}", value(&log_file)),
        "-blockdev".to_string(),
        format!("driver=blklogwrites,node-name=rec,file=recdisk,log=reclog,log-sector-size={LOG_SECTOR}"),
        "-device".to_string(),
        "virtio-blk-pci,drive=rec".to_string(),
    ]);
    let console_log = ws.log_dir().join(format!("{boot_name}-powercut-recorded.log"));
    let mut guest = boot(cmd, &console_log).map_err(|e| format!("{e} (log {})", ws.show(&console_log)))?;
    let mark = guest.output.len();
    guest.type_text(&format!("initfs:libexec/crashwriter file:/{ROOT}/rec {seed} {RECORDED_OPS}\r"))?;
    let done = |out: &[u8]| String::from_utf8_lossy(&out[mark.min(out.len())..]).contains("crashwriter: done");
    let finished = guest.wait_until(RECORDED_TIMEOUT, Duration::ZERO, done);
    let said = progress(&String::from_utf8_lossy(&guest.output[mark..]));
    if !finished || said.error.is_some() {
        return Err(format!("the writer did not finish: {said:?} (log {})", ws.show(&console_log)));
    }
    guest.kill();
    drop(guest);
    let bytes = std::fs::read(&log_file).map_err(|e| format!("reading {}: {e}", log_file.display()))?;
    let log = parse_log(&bytes, LOG_SECTOR)?;
    let writes = log.iter().filter(|e| matches!(e, Logged::Write { .. })).count();
    let flushes = log.iter().filter(|e| **e == Logged::Flush).count();
    let mut rng = Rng::new(seed);
    let checked = check_log(&base, &log, seed, RECORDED_OPS, &mut rng)?;
    Ok(format!(
        "{RECORDED_OPS} ops: {writes} writes and {flushes} flushes recorded; {checked} crash images (flushed prefixes, and with random subsets of the unflushed writes after them) mount and hold a state of the workload, the last every acknowledged op"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_writers_progress() {
        let console = "crashwriter: begin 0\r\n[ 1.0] INFO x\ncrashwriter: ack 0\ncrashwriter: begin 1\n";
        assert_eq!(progress(console), Progress { acked: Some(0), started: Some(1), error: None });
        let failed = "crashwriter: begin 0\ncrashwriter: op 0, create f1: No space left on device\n";
        assert!(progress(failed).error.unwrap().contains("No space"));
        assert_eq!(progress("nothing"), Progress::default());
    }

    fn log_of(sector: usize, entries: &[(u64, u64, u64, &[u8])]) -> Vec<u8> {
        let mut log = vec![0u8; sector];
        log[..8].copy_from_slice(&0x006a_7366_7773_6872_u64.to_le_bytes());
        log[8..16].copy_from_slice(&1u64.to_le_bytes());
        log[16..24].copy_from_slice(&(entries.len() as u64).to_le_bytes());
        log[24..28].copy_from_slice(&(sector as u32).to_le_bytes());
        for &(first, sectors, flags, data) in entries {
            let mut header = vec![0u8; sector];
            header[..8].copy_from_slice(&first.to_le_bytes());
            header[8..16].copy_from_slice(&sectors.to_le_bytes());
            header[16..24].copy_from_slice(&flags.to_le_bytes());
            log.extend_from_slice(&header);
            log.extend_from_slice(data);
        }
        log
    }

    #[test]
    fn parses_a_log() {
        let data = vec![7u8; 1024];
        let log = log_of(512, &[(8, 2, 0, &data), (0, 0, 1, &[]), (4, 1, 4, &[])]);
        let entries = parse_log(&log, 512).unwrap();
        assert_eq!(entries, vec![Logged::Write { offset: 4096, data: data.clone() }, Logged::Flush, Logged::Other]);
        // A log whose super block was never written (no flush yet).
        let mut unflushed = log_of(512, &[(8, 2, 0, &data)]);
        unflushed[..28].fill(0);
        assert_eq!(parse_log(&unflushed, 512).unwrap(), vec![Logged::Write { offset: 4096, data }]);
    }

    #[test]
    fn refuses_a_bad_log() {
        assert!(parse_log(b"short", 512).is_err());
        let mut log = log_of(512, &[(8, 2, 0, &[1u8; 1024])]);
        log.truncate(log.len() - 10);
        assert!(parse_log(&log, 512).unwrap_err().contains("past the log's end"));
        let huge = log_of(512, &[(8, u64::MAX, 0, &[])]);
        assert!(parse_log(&huge, 512).is_err());
        let odd = log_of(512, &[(8, 0, 0x100, &[])]);
        assert!(parse_log(&odd, 512).unwrap_err().contains("unknown flags"));
        let mut foreign = log_of(512, &[]);
        foreign[0] = 1;
        assert!(parse_log(&foreign, 512).is_err());
    }

    #[test]
    fn cut_delays_are_bounded() {
        let mut rng = Rng::new(3);
        for _ in 0..100 {
            let delay = CUT_MIN + Duration::from_millis(rng.below(CUT_SPREAD_MS) as u64);
            assert!(delay < Duration::from_secs(4));
        }
    }
}
