//! The kernel's `sys:`, `time:` and `irq:` schemes: every `sys:` file and
//! its listing, snapshots, read-only errors and the caller's namespace;
//! `time:` reads that follow the clock, timeouts by blocking read, by
//! `O_NONBLOCK` and by `event:`; `irq:` listing, names, privilege,
//! exclusive opens and acknowledgement errors.
//!
//! Not covered: delivery of a real interrupt through `irq:` (no device can
//! be made to interrupt from here: the runtime offers port reads only, and
//! every interrupt source needs a port write to arm it).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use rt::abi::syscall::{
    self as sc, EventFlags, MODE_CHR, MODE_DIR, MODE_FILE, MODE_TYPE, O_CREAT, O_DIRECTORY, O_NONBLOCK, O_RDONLY,
    O_RDWR, O_TRUNC, O_WRONLY, SEEK_END, SEEK_SET,
};
use rt::event::EventQueue;
use rt::fs::File;

use crate::support::{
    Outcome, WAIT, ename, ensure, expect_err, expect_exit, expect_signal, fork_child, ok, run_child, sleep_ms,
    wait_for, wait_until,
};

/// The files `open("sys:")` lists, in its order.
const SYS_FILES: [&str; 9] = ["context", "cpu", "daemon", "firmware", "log", "memory", "namespace", "scheme", "uname"];

fn read_text(path: &str) -> Result<String, String> {
    ok(&format!("read {path}"), rt::fs::read_to_string(path))
}

fn path_of(file: &File) -> Result<String, String> {
    ok("fpath", file.path())
}

/// The value of the `key: value` line `key` in `text`.
fn field<'a>(text: &'a str, key: &str) -> Result<&'a str, String> {
    text.lines()
        .find_map(|line| line.strip_prefix(key).and_then(|rest| rest.strip_prefix(": ")))
        .ok_or_else(|| format!("no {key:?} line in {text:?}"))
}

pub fn number(text: &str, key: &str) -> Result<u64, String> {
    let value = field(text, key)?;
    value.parse().map_err(|_| format!("{key}: {value:?} is not a number"))
}

pub fn sys_listing_and_uname() -> Outcome {
    let dir = ok("open sys:", File::open("sys:"))?;
    let stat = ok("fstat sys:", dir.stat())?;
    ensure!(stat.st_mode & MODE_TYPE == MODE_DIR, "sys: mode {:#o}", stat.st_mode);
    ensure!(path_of(&dir)? == "sys:", "fpath of the listing is {:?}", path_of(&dir)?);
    drop(dir);
    let listing = read_text("sys:")?;
    let names: Vec<&str> = listing.lines().collect();
    // `framebuffer` is there exactly when the machine has one (display.rs).
    let always: Vec<&str> = names.iter().copied().filter(|&name| name != "framebuffer").collect();
    ensure!(always == SYS_FILES, "sys: lists {names:?}");
    let framebuffer = File::open("sys:framebuffer").is_ok();
    ensure!(names.contains(&"framebuffer") == framebuffer, "sys: lists {names:?}; framebuffer opens: {framebuffer}");
    ensure!(read_text("sys:/")? == listing, "sys:/ is not the listing");
    let uname = read_text("sys:uname")?;
    ensure!(uname.starts_with("Ferrite ") && uname.ends_with(" x86_64\n"), "uname is {uname:?}");
    // Which one is checked by `cargo mk test` against the boot it made.
    let firmware = read_text("sys:firmware")?;
    ensure!(firmware == "bios\n" || firmware == "uefi\n", "sys:firmware is {firmware:?}");
    Ok(format!("{}, booted by {}", uname.trim_end(), firmware.trim_end()))
}

pub fn sys_every_file_opens_with_its_size() -> Outcome {
    let mut sizes = Vec::new();
    for name in SYS_FILES {
        let url = format!("sys:{name}");
        let mut file = ok(&format!("open {url}"), File::open(&url))?;
        let stat = ok("fstat", file.stat())?;
        ensure!(stat.st_mode & MODE_TYPE == MODE_FILE, "{url}: mode {:#o}", stat.st_mode);
        ensure!(stat.st_mode & 0o222 == 0, "{url} looks writable: mode {:#o}", stat.st_mode);
        let mut data = Vec::new();
        ok(&format!("read {url}"), file.read_to_end(&mut data))?;
        ensure!(!data.is_empty(), "{url} is empty");
        ensure!(data.len() as u64 == stat.st_size, "{url}: st_size {} but {} bytes read", stat.st_size, data.len());
        ensure!(data.ends_with(b"\n"), "{url} does not end with a newline");
        ensure!(core::str::from_utf8(&data).is_ok(), "{url} is not UTF-8");
        ensure!(path_of(&file)? == url, "fpath of {url} is {:?}", path_of(&file)?);
        sizes.push(format!("{name} {}", data.len()));
    }
    Ok(sizes.join(", "))
}

pub fn sys_file_is_a_snapshot() -> Outcome {
    let fd = ok("open sys:context", rt::sys::open("sys:context", O_RDONLY))?;
    let mut first = [0u8; 16];
    let n = ok("read", rt::sys::read(fd, &mut first))?;
    // New processes come and go; this open file does not change.
    let status = run_child(|| 0)?;
    expect_exit("child", status, 0)?;
    let end = ok("lseek END", rt::sys::lseek(fd, 0, SEEK_END))?;
    ensure!(ok("lseek SET", rt::sys::lseek(fd, 0, SEEK_SET))? == 0, "SEEK_SET 0");
    let mut whole = alloc::vec![0u8; end + 10];
    let mut got = 0;
    loop {
        match ok("read", rt::sys::read(fd, &mut whole[got..]))? {
            0 => break,
            k => got += k,
        }
    }
    ensure!(got == end, "read {got} bytes of a {end}-byte snapshot");
    ensure!(whole[..n] == first[..n], "the start changed after a seek back");
    expect_err("lseek to -1", rt::sys::lseek(fd, -1, SEEK_SET), sc::EINVAL)?;
    ok("close", rt::sys::close(fd))?;
    Ok(format!("{end} bytes, stable across a fork and a seek"))
}

pub fn sys_context_lists_this_process() -> Outcome {
    let pid = ok("getpid", rt::sys::getpid())?;
    let ppid = ok("getppid", rt::sys::getppid())?;
    let pgid = ok("getpgid", rt::sys::getpgid(0))?;
    let text = read_text("sys:context")?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    ensure!(header.starts_with("PID") && header.contains("NAME"), "header {header:?}");
    let mine = lines
        .clone()
        .find(|line| line.split_whitespace().next() == Some(pid.to_string().as_str()))
        .ok_or_else(|| format!("pid {pid} not in {text:?}"))?;
    let fields: Vec<&str> = mine.split_whitespace().collect();
    ensure!(fields.len() >= 9, "line {mine:?}");
    ensure!(fields[1] == ppid.to_string(), "ppid {} in {mine:?}, expected {ppid}", fields[1]);
    ensure!(fields[2] == pgid.to_string(), "pgid {} in {mine:?}, expected {pgid}", fields[2]);
    ensure!(fields[3] == "0" && fields[4] == "0", "uid/gid in {mine:?}");
    ensure!(fields[5] == "running", "this process is {:?} while it reads", fields[5]);
    ensure!(fields[6] == "1", "threads {:?}", fields[6]);
    ensure!(fields[7].parse::<u64>().is_ok_and(|kib| kib > 0), "no memory mapped: {mine:?}");
    ensure!(mine.contains("usertests"), "name in {mine:?}");
    ensure!(lines.any(|line| line.split_whitespace().next() == Some("1")), "pid 1 not listed");
    Ok(String::from(mine))
}

pub fn sys_memory_figures_add_up() -> Outcome {
    let text = read_text("sys:memory")?;
    let (total, used, free) =
        (number(&text, "frames_total")?, number(&text, "frames_used")?, number(&text, "frames_free")?);
    ensure!(total > 0 && used > 0 && free > 0, "frames {total}/{used}/{free}");
    ensure!(used + free == total, "used {used} + free {free} != total {total}");
    ensure!(number(&text, "bytes_total")? == total * 4096, "bytes_total is not frames_total pages");
    ensure!(number(&text, "bytes_free")? == free * 4096, "bytes_free is not frames_free pages");
    let (mapped, heap_used) = (number(&text, "heap_mapped")?, number(&text, "heap_used")?);
    ensure!(heap_used > 0 && heap_used <= mapped, "heap: {heap_used} used of {mapped} mapped");
    ensure!(number(&text, "heap_allocations")? > 0, "no heap allocations");
    Ok(format!("{} MiB free of {} MiB; heap {} KiB used", (free * 4096) >> 20, (total * 4096) >> 20, heap_used >> 10))
}

pub fn sys_log_holds_boot_and_new_lines() -> Outcome {
    let before = read_text("sys:log")?;
    ensure!(before.starts_with('['), "the log does not start with a whole line: {:?}", &before[..before.len().min(40)]);
    ensure!(
        before.lines().all(|line| line.starts_with('[')),
        "a log line without a timestamp: {:?}",
        before.lines().find(|line| !line.starts_with('['))
    );
    ensure!(before.contains("kernel::boot: Ferrite ") && before.contains(" starting"), "no boot line in the log");
    ensure!(before.contains("scheme sys: registered"), "no line for sys: registering");
    // A child the kernel kills for a fault is reported in the log. Such
    // lines are rate-limited for all processes together (50 in 5 s,
    // kernel/src/log_limit.rs), and the tests before this one may have
    // used that up (they did, on 4 CPUs, once debug builds were
    // optimized): a child whose line was dropped is followed by one more
    // in the next window.
    let mut missing = Vec::new();
    for attempt in 0..2 {
        let pid = fork_child(|| {
            rt::testing::null_read();
            0
        })?;
        expect_signal("faulting child", wait_for(pid, WAIT)?, rt::abi::SIGSEGV)?;
        let after = read_text("sys:log")?;
        let needle = format!("pid {pid} (");
        match after.lines().find(|line| line.contains(&needle)) {
            Some(line) => {
                ensure!(line.contains("killed"), "the line for pid {pid} is {line:?}");
                return Ok(format!("{} bytes, {} lines", after.len(), after.lines().count()));
            }
            None => {
                missing.push(pid);
                if attempt == 0 {
                    rt::time::sleep(Duration::from_millis(5_500));
                }
            }
        }
    }
    Err(format!("no log line for pids {missing:?}, one window of the rate limit apart"))
}

pub fn sys_scheme_lists_the_callers_namespace() -> Outcome {
    let all = read_text("sys:scheme")?;
    let names: Vec<&str> = all.lines().collect();
    for want in ["debug", "event", "irq", "pipe", "sys", "time"] {
        ensure!(names.contains(&want), "sys:scheme lists {names:?}, not {want}");
    }
    // A process that narrowed its namespace sees only what it kept.
    let status = run_child(|| {
        if rt::sys::ns_restrict(&["sys", "debug"]).is_err() {
            return 10;
        }
        match rt::fs::read_to_string("sys:scheme") {
            Ok(text) if text == "debug\nsys\n" => 0,
            Ok(_) => 11,
            Err(_) => 12,
        }
    })?;
    expect_exit("child with a narrowed namespace", status, 0)?;
    Ok(format!("{} schemes; a narrowed child sees debug and sys", names.len()))
}

pub fn sys_cpu_describes_the_cpus() -> Outcome {
    let text = read_text("sys:cpu")?;
    let cpus = number(&text, "cpus")?;
    ensure!(cpus >= 1, "{cpus} CPUs");
    let vendor = field(&text, "vendor")?;
    ensure!(vendor.len() == 12, "vendor {vendor:?}");
    ensure!(number(&text, "tsc_hz")? > 1_000_000, "TSC frequency {:?}", field(&text, "tsc_hz"));
    ensure!(number(&text, "timer_hz")? > 0, "timer frequency");
    ensure!(field(&text, "features")?.contains("nx"), "features {:?}", field(&text, "features"));
    let per_cpu = text.lines().filter(|line| line.starts_with("cpu") && line.contains(": apic ")).count() as u64;
    ensure!(per_cpu >= cpus, "{per_cpu} per-CPU lines for {cpus} CPUs");
    Ok(format!("{cpus} x {vendor}, features:{}", field(&text, "features")?))
}

pub fn sys_is_read_only() -> Outcome {
    for (what, flags) in
        [("O_WRONLY", O_WRONLY), ("O_RDWR", O_RDWR), ("O_CREAT", O_RDONLY | O_CREAT), ("O_TRUNC", O_RDONLY | O_TRUNC)]
    {
        expect_err(&format!("open sys:uname {what}"), rt::sys::open("sys:uname", flags), sc::EROFS)?;
    }
    let fd = ok("open", rt::sys::open("sys:uname", O_RDONLY))?;
    expect_err("write", rt::sys::write(fd, b"x"), sc::EROFS)?;
    expect_err("ftruncate", rt::sys::ftruncate(fd, 0), sc::EROFS)?;
    ok("close", rt::sys::close(fd))?;
    expect_err("unlink sys:uname", rt::sys::unlink("sys:uname"), sc::EROFS)?;
    expect_err("unlink sys:nothing", rt::sys::unlink("sys:nothing"), sc::ENOENT)?;
    for path in ["sys:nothing", "sys:uname/x", "sys:UNAME", "sys:unam"] {
        expect_err(&format!("open {path}"), rt::sys::open(path, O_RDONLY), sc::ENOENT)?;
    }
    expect_err("O_DIRECTORY on a file", rt::sys::open("sys:uname", O_RDONLY | O_DIRECTORY), sc::ENOTDIR)?;
    Ok(String::from("EROFS, ENOENT, ENOTDIR"))
}

/// `time:` of the monotonic clock (its number is redox_syscall's).
fn monotonic_url() -> String {
    format!("time:{}", sc::CLOCK_MONOTONIC)
}

fn timespec_bytes(ns: u64) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&((ns / 1_000_000_000) as i64).to_ne_bytes());
    bytes[8..12].copy_from_slice(&((ns % 1_000_000_000) as i32).to_ne_bytes());
    bytes
}

fn timespec_ns(bytes: &[u8; 16]) -> Result<u64, String> {
    let mut seconds = [0u8; 8];
    seconds.copy_from_slice(&bytes[..8]);
    let mut nanos = [0u8; 4];
    nanos.copy_from_slice(&bytes[8..12]);
    let (seconds, nanos) = (i64::from_ne_bytes(seconds), i32::from_ne_bytes(nanos));
    ensure!(seconds >= 0 && (0..1_000_000_000).contains(&nanos), "not a time: {seconds} s {nanos} ns");
    Ok(seconds as u64 * 1_000_000_000 + nanos as u64)
}

/// One `TimeSpec` read from a `time:` file.
fn read_time(file: &mut File) -> Result<u64, String> {
    let mut bytes = [0u8; 16];
    let n = ok("read time:", file.read(&mut bytes))?;
    ensure!(n == 16, "read {n} bytes from time:");
    timespec_ns(&bytes)
}

fn arm(file: &mut File, deadline: u64) -> Result<(), String> {
    let n = ok("arm time:", file.write(&timespec_bytes(deadline)))?;
    ensure!(n == 16, "a timeout write took {n} bytes");
    Ok(())
}

fn now_ns() -> u64 {
    rt::time::now_ns()
}

pub fn time_read_follows_the_clock() -> Outcome {
    let url = monotonic_url();
    let mut file = ok(&format!("open {url}"), File::open_with(&url, O_RDWR))?;
    ensure!(path_of(&file)? == url, "fpath {:?}", path_of(&file)?);
    ensure!(ok("fstat", file.stat())?.st_mode & MODE_TYPE == MODE_CHR, "time: is not a character device");
    let before = now_ns();
    let first = read_time(&mut file)?;
    let after = now_ns();
    ensure!(before <= first && first <= after, "time: read {first} outside [{before}, {after}]");
    sleep_ms(20);
    let second = read_time(&mut file)?;
    ensure!(second >= first + 20_000_000, "20 ms later time: moved from {first} to {second}");
    let mut short = [0u8; 8];
    expect_err("read into 8 bytes", file.read(&mut short), sc::EINVAL)?;
    // CLOCK_REALTIME is the wall clock; other numbers are no clocks.
    let mut realtime = ok("open realtime", File::open_with(&format!("time:{}", sc::CLOCK_REALTIME), O_RDWR))?;
    let wall = read_time(&mut realtime)?;
    // The monotonic time just before the wall clock was read: a deadline
    // 30 ms after that reading is at least 30 ms after this (the two clocks
    // differ by a constant), however long arming it takes under load.
    let before_reading = now_ns();
    let wall_call = ok("CLOCK_REALTIME", rt::time::clock(sc::CLOCK_REALTIME))?.as_nanos() as u64;
    ensure!(wall_call >= wall && wall_call - wall < 1_000_000_000, "time:1 read {wall}, clock_gettime {wall_call}");
    // A timeout on the wall clock: 30 ms from now, on that clock's scale.
    arm(&mut realtime, wall_call + 30_000_000)?;
    ensure!(read_time(&mut realtime)? == wall_call + 30_000_000, "the wall-clock timeout fired at another time");
    ensure!(now_ns() - before_reading >= 30_000_000, "a 30 ms wall-clock timeout fired early");
    for path in ["time:", "time:0", "time:2", "time:04", "time:x", "time:4/"] {
        expect_err(&format!("open {path}"), rt::sys::open(path, O_RDONLY), sc::ENOENT)?;
    }
    Ok(format!("{} ms apart", (second - first) / 1_000_000))
}

pub fn time_timeout_blocking_read() -> Outcome {
    let mut file = ok("open", File::open_with(&monotonic_url(), O_RDWR))?;
    let start = read_time(&mut file)?;
    let deadline = start + 50_000_000;
    arm(&mut file, deadline)?;
    let fired = read_time(&mut file)?;
    let woke = now_ns();
    ensure!(fired == deadline, "the read returned {fired}, the timeout was {deadline}");
    ensure!(woke >= deadline, "woke {} us before the timeout", (deadline - woke) / 1000);
    // Disarmed by that read: the next read is the time now.
    let next = read_time(&mut file)?;
    ensure!(next >= woke, "after the timeout time: reads {next} (< {woke})");
    // A timeout already past fires at once; re-arming replaces it.
    arm(&mut file, 1)?;
    ensure!(read_time(&mut file)? == 1, "a past timeout did not return itself");
    arm(&mut file, now_ns() + 3_600_000_000_000)?;
    let soon = now_ns() + 20_000_000;
    arm(&mut file, soon)?;
    ensure!(read_time(&mut file)? == soon, "re-arming did not replace the hour-long timeout");
    Ok(format!("woke {} us after the 50 ms timeout", (woke - deadline) / 1000))
}

pub fn time_timeout_nonblocking_and_event() -> Outcome {
    let mut file = ok("open", File::open_with(&monotonic_url(), O_RDWR | O_NONBLOCK))?;
    let queue = ok("event:", EventQueue::new())?;
    ok("nonblocking queue", queue.file().set_nonblocking(true))?;
    // Unarmed, it is readable (a read returns at once).
    ok("watch", queue.watch(file.fd(), EventFlags::EVENT_READ, 7))?;
    let mut events = [sc::Event::default(); 4];
    ensure!(ok("wait", queue.wait(&mut events))? == 1 && events[0].data == 7, "no READ event while unarmed");
    let deadline = now_ns() + 50_000_000;
    arm(&mut file, deadline)?;
    let mut bytes = [0u8; 16];
    expect_err("read before the timeout", file.read(&mut bytes), sc::EAGAIN)?;
    ok("unwatch", queue.unwatch(file.fd()))?;
    ok("watch again", queue.watch(file.fd(), EventFlags::EVENT_READ, 8))?;
    expect_err("no event before the timeout", queue.wait(&mut events), sc::EAGAIN)?;
    let mut got = None;
    let mut error = None;
    let arrived = wait_until(Duration::from_secs(2), || match queue.wait(&mut events) {
        Ok(n) => {
            got = Some((n, events[0], now_ns()));
            true
        }
        Err(err) if err.errno == sc::EAGAIN => false,
        Err(err) => {
            error = Some(ename(err));
            true
        }
    });
    if let Some(error) = error {
        return Err(format!("event wait: {error}"));
    }
    ensure!(arrived, "no event within 2 s of a 50 ms timeout");
    let (n, event, at) = got.ok_or("no event")?;
    ensure!(n == 1 && event.data == 8 && event.flags.contains(EventFlags::EVENT_READ), "event {event:?}");
    ensure!(at >= deadline, "the event came {} us early", (deadline - at) / 1000);
    ensure!(read_time(&mut file)? == deadline, "the read after the event is not the timeout");
    // Bad timeouts.
    expect_err("8-byte write", file.write(&[0u8; 8]), sc::EINVAL)?;
    let mut negative = timespec_bytes(0);
    negative[..8].copy_from_slice(&(-1i64).to_ne_bytes());
    expect_err("negative seconds", file.write(&negative), sc::EINVAL)?;
    let mut nanos = timespec_bytes(0);
    nanos[8..12].copy_from_slice(&1_000_000_000i32.to_ne_bytes());
    expect_err("a whole second of nanoseconds", file.write(&nanos), sc::EINVAL)?;
    Ok(format!("EAGAIN, then READ {} us after the timeout", (at - deadline) / 1000))
}

/// The GSIs `irq:` lists, with their lines.
fn irq_listing() -> Result<Vec<(u32, String)>, String> {
    let text = read_text("irq:")?;
    let mut lines = Vec::new();
    for line in text.lines() {
        let gsi = line.split_whitespace().next().and_then(|n| n.parse().ok());
        let gsi = gsi.ok_or_else(|| format!("irq: line {line:?}"))?;
        ensure!(line.contains(" edge ") || line.contains(" level "), "irq: line {line:?}");
        lines.push((gsi, String::from(line)));
    }
    ensure!(!lines.is_empty(), "irq: lists no GSI");
    Ok(lines)
}

/// A line to open: the highest GSI listed (on a PC, a PCI input with
/// nothing behind it in these machines, so it stays quiet).
fn quiet_gsi() -> Result<u32, String> {
    irq_listing()?.iter().map(|&(gsi, _)| gsi).max().ok_or_else(|| String::from("no GSI"))
}

pub fn irq_listing_and_bad_names() -> Outcome {
    let listing = irq_listing()?;
    let dir = ok("open irq:", File::open("irq:"))?;
    ensure!(ok("fstat", dir.stat())?.st_mode & MODE_TYPE == MODE_DIR, "irq: is not a directory");
    ensure!(listing.iter().all(|&(gsi, _)| gsi < 32), "GSIs out of range: {listing:?}");
    for path in ["irq:x", "irq:32", "irq:99", "irq:-1", "irq:01", "irq:+1", "irq:1x", "irq:99999999999999999999999"] {
        expect_err(&format!("open {path}"), rt::sys::open(path, O_RDWR), sc::ENOENT)?;
    }
    // COM1 (ISA IRQ 4) belongs to the kernel's console input once a
    // `debug:` handle is read (no serial driver runs in the self-test boot).
    let console = ok("open debug:", File::open_with("debug:", O_RDWR | sc::O_NONBLOCK))?;
    expect_err("read of debug: with nothing typed", rt::sys::read(console.fd(), &mut [0u8; 4]), sc::EAGAIN)?;
    let listing = irq_listing()?;
    if let Some((gsi, line)) = listing.iter().find(|(_, line)| line.contains(" isa=4 ")) {
        return Err(format!("the console's line is offered while debug: reads it: {line:?} (GSI {gsi})"));
    }
    let names: Vec<String> = listing.iter().map(|(gsi, _)| gsi.to_string()).collect();
    Ok(format!("GSIs {}", names.join(" ")))
}

pub fn irq_open_is_exclusive_and_checks_acks() -> Outcome {
    let gsi = quiet_gsi()?;
    let url = format!("irq:{gsi}");
    let mut line = ok(&format!("open {url}"), File::open_with(&url, O_RDWR))?;
    ensure!(path_of(&line)? == url, "fpath {:?}", path_of(&line)?);
    ensure!(ok("fstat", line.stat())?.st_mode & MODE_TYPE == MODE_CHR, "{url} is not a character device");
    expect_err("a second open", rt::sys::open(&url, O_RDWR), sc::EBUSY)?;
    ok("nonblocking", line.set_nonblocking(true))?;
    let mut count = [0u8; 8];
    let pending = match line.read(&mut count) {
        Err(err) if err.errno == sc::EAGAIN => 0,
        Ok(8) => u64::from_ne_bytes(count),
        Ok(n) => return Err(format!("read {n} bytes of a count")),
        Err(err) => return Err(format!("read: {}", ename(err))),
    };
    let mut short = [0u8; 4];
    expect_err("read into 4 bytes", line.read(&mut short), sc::EINVAL)?;
    expect_err("4-byte ack", line.write(&[0u8; 4]), sc::EINVAL)?;
    expect_err("ack of more than arrived", line.write(&(pending + 1).to_ne_bytes()), sc::EINVAL)?;
    ensure!(ok("ack", line.write(&pending.to_ne_bytes()))? == 8, "an ack took other than 8 bytes");
    // Closing frees the line, also when its owner just exits.
    drop(line);
    let status = run_child(|| match File::open_with(&url, O_RDWR) {
        Ok(file) => {
            core::mem::forget(file);
            0
        }
        Err(_) => 1,
    })?;
    expect_exit("a child that opens the line and exits", status, 0)?;
    let again = ok("open after the owner exited", File::open_with(&url, O_RDWR))?;
    drop(again);
    Ok(format!("{url}: EBUSY, EINVAL; {pending} interrupts seen"))
}

pub fn irq_needs_root() -> Outcome {
    let url = format!("irq:{}", quiet_gsi()?);
    let status = run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 10;
        }
        if !matches!(rt::sys::open(&url, O_RDWR), Err(err) if err.errno == sc::EACCES) {
            return 11;
        }
        // The listing is for everyone.
        if !rt::fs::read_to_string("irq:").is_ok_and(|text| !text.is_empty()) {
            return 12;
        }
        0
    })?;
    expect_exit("an unprivileged child opening the line", status, 0)?;
    // And the refused open left it free.
    drop(ok("open as root", File::open_with(&url, O_RDWR))?);
    Ok(format!("uid 1000: {url} EACCES"))
}

/// `power:`: root only; a request from a process other than init is kept
/// for init, which reads it back once (here the suite is init, pid 1, on
/// the self-test boot; it never writes a request itself, which would
/// really power off). Bad requests are `EINVAL`.
pub fn power_requests_wait_for_init() -> Outcome {
    // Anywhere else the request would go to the real init, which would
    // reboot the machine.
    if rt::process::getpid() != 1 {
        return Ok(String::from("not run: only the self-test boot's pid 1 can take the request back"));
    }
    let mut power = ok("open power:", File::open_with("power:", O_RDWR))?;
    let mut buf = [0u8; 16];
    let n = ok("read with nothing pending", power.read(&mut buf))?;
    ensure!(n == 0, "power: held {:?} before any request", &buf[..n]);
    expect_err("a bad request", power.write(b"halt"), sc::EINVAL)?;
    expect_err("a short read", power.read(&mut [0u8; 4]), sc::EINVAL)?;
    let (mut done_read, mut done_write) = ok("pipe", rt::fs::pipe())?;
    let child = fork_child(move || {
        let asked = File::open_with("power:", O_RDWR).and_then(|mut p| p.write_all(b"reboot\n"));
        let _ = done_write.write_all(if asked.is_ok() { b"y" } else { b"n" });
        0
    })?;
    let mut byte = [0u8; 1];
    let told = done_read.read(&mut byte);
    // Take the request before waiting: while one is pending, init's waits
    // end with EINTR.
    let n = ok("read the request", power.read(&mut buf))?;
    let again = ok("read again", power.read(&mut buf[8..]))?;
    let status = wait_for(child, WAIT)?;
    ensure!(matches!(told, Ok(1)) && byte[0] == b'y', "the child could not write its request");
    ensure!(&buf[..n] == b"reboot\n" && again == 0, "init read {:?}, then {again} bytes", &buf[..n]);
    expect_exit("the requesting child", status, 0)?;
    let refused = run_child(|| {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        match rt::sys::open("power:", O_RDWR) {
            Err(err) if err.errno == sc::EACCES => 0,
            _ => 1,
        }
    })?;
    expect_exit("power: as user 1000", refused, 0)?;
    Ok(String::from("a child's reboot request read back once by init; EINVAL for bad requests; users EACCES"))
}
