//! The supervision test, in the smoke boot after the shell sessions: with
//! a `dd` load running in the background, each daemon `init.rc` starts
//! with `restart on-failure` is killed from the shell (`kill -KILL PID`,
//! its pid from `ps`). init must say it ended and start it again, the new
//! instance must be ready within [`BACK_WITHIN`] of its start
//! ([`DISK_BACK_WITHIN`] for the disk driver, [`NET_BACK_WITHIN`] for the
//! network card's; init's own
//! `ready after` figure, guest time), its scheme must work again from
//! the same shell session, and `sys:daemon` must show the new pid serving
//! it, one more restart, and the old pid's `signal:9` as the last end.
//!
//! The consoles' own drivers (`seriald`, which this test types through,
//! `ps2d` and `fbcond`) are supervised too but not killed here.
//!
//! May touch: the guest it is handed.

use std::time::Duration;

use crate::check::strip_escapes;
use crate::guest::Guest;
use crate::session;

/// The new instance must be ready this soon after init starts it...
pub const BACK_WITHIN: Duration = Duration::from_millis(100);
/// ...except the disk driver, which sets up each of the test machine's
/// three virtio disks and reads their partition tables (measured here:
/// 55-85 ms alone, 134 ms with a fuzzing guest beside it on the 2 cores).
pub const DISK_BACK_WITHIN: Duration = Duration::from_millis(300);
/// ...and the network card's driver, which takes 512 KiB of DMA memory
/// and lends the card its 64 receive buffers (measured here: 36-39 ms on
/// a restart, 70-80 ms at boot).
pub const NET_BACK_WITHIN: Duration = Duration::from_millis(300);

/// The daemons killed, each with a scheme it serves, a command that uses
/// it and a text that command's output must contain.
pub const DAEMONS: &[(&str, &str, &str, &str)] = &[
    ("tmpd", "tmp", "echo back > tmp:sup; cat tmp:sup", "back"),
    ("logd", "log", "echo note > log:; cat log:", "note"),
    ("ipcd", "shm", "echo shared > shm:sup; cat shm:sup", "shared"),
    ("zerod", "zero", "hexdump -C zero: | head -n 1", "00 00 00 00"),
    ("nulld", "null", "echo gone > null: && echo written", "written"),
    ("randd", "rand", "dd if=rand: of=null: bs=16 count=1", "1+0 records in"),
    ("greetd", "greet", "cat greet:shell", "Hello, shell!"),
    ("pcid", "pci", "ls pci:", "00:00.0"),
    ("virtio-blkd", "disk", "dd if=disk:0 of=null: bs=4096 count=4", "4+0 records in"),
    ("virtio-netd", "network", "cat network:0/mac", "52:54:00:12:34:56"),
    // Killing the card's driver ended netd too (its card fd died), so this
    // also checks that init brought netd back on the new driver.
    ("netd", "netcfg", "cat netcfg:eth0", "mac 52:54:00:12:34:56"),
];

/// The restarts `sys:daemon` (header `SCHEME PID PROGRAM RESTARTS
/// LAST-END`) shows for `scheme` if `name` serves it as `pid` and the last
/// end is `old_pid`'s kill.
fn restarts_shown(listing: &[String], scheme: &str, name: &str, pid: usize, old_pid: usize) -> Option<u32> {
    listing.iter().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let end = format!("pid {old_pid} signal:9");
        let ok = fields.len() == 7
            && fields[0] == scheme
            && fields[1] == pid.to_string()
            && fields[2] == name
            && fields[4..].join(" ") == end;
        if ok { fields[3].parse().ok() } else { None }
    })
}

/// The pid `ps` shows for the process named `name`.
pub fn pid_of(guest: &mut Guest, name: &str) -> Result<usize, String> {
    let output = session::run_command(guest, "ps", false)?;
    output
        .lines
        .iter()
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.last() == Some(&name)).then(|| fields.first()?.parse().ok()).flatten()
        })
        .ok_or_else(|| format!("`ps` shows no {name}:\n{}", output.lines.join("\n")))
}

/// The milliseconds in init's `init: NAME (pid N) ready after X ms` for
/// the instance that came back, from the console text after the kill (the
/// line may follow a shell prompt printed at the same moment).
fn ready_after(text: &str, name: &str, old_pid: usize) -> Option<f64> {
    let prefix = format!("init: {name} (pid ");
    text.lines().find_map(|line| {
        let line = line.trim_end_matches('\r');
        let rest = &line[line.find(&prefix)? + prefix.len()..];
        let (pid, rest) = rest.split_once(')')?;
        if pid.parse::<usize>().ok()? == old_pid {
            return None;
        }
        rest.strip_prefix(" ready after ")?.strip_suffix(" ms")?.parse().ok()
    })
}

/// The pid a `sys:daemon` listing (header `SCHEME PID PROGRAM RESTARTS
/// LAST-END`) shows serving `scheme` (two `ipcd`s run, one per scheme, so a
/// name alone does not say which to kill).
fn serving(listing: &[String], scheme: &str) -> Option<usize> {
    listing.iter().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.first() == Some(&scheme)).then(|| fields.get(1)?.parse().ok()).flatten()
    })
}

/// Kill one daemon and check it comes back; the note for the check.
fn kill_and_check(guest: &mut Guest, (name, scheme, probe, want): (&str, &str, &str, &str)) -> Result<String, String> {
    let before = session::run_command(guest, "cat sys:daemon", false)?;
    let pid = serving(&before.lines, scheme)
        .ok_or_else(|| format!("`sys:daemon` shows no {scheme}:\n{}", before.lines.join("\n")))?;
    let mark = guest.output.len();
    let restarted = format!("init: {name} restarted as pid");
    let back = session::run_until(guest, &format!("kill -KILL {pid}"), Duration::from_secs(10), |text| {
        text.contains(&restarted)
    })?;
    if back && name == "virtio-netd" {
        // netd ends too, a moment later (its card's fd died), and init
        // starts it again: let that happen before the probe, or its lines
        // land in the middle of the probe's output.
        let netd_back = |out: &[u8]| String::from_utf8_lossy(&out[mark..]).contains("init: netd restarted as pid");
        guest.wait_until(Duration::from_secs(10), Duration::from_millis(300), netd_back);
        session::run_command(guest, "", false)?;
    }
    let text = strip_escapes(&String::from_utf8_lossy(&guest.output[mark..]));
    if !back {
        return Err(format!("{name} (pid {pid}) was not restarted; console:\n{text}"));
    }
    let took = ready_after(&text, name, pid).ok_or_else(|| format!("no `ready after` for the new {name}:\n{text}"))?;
    let limit = match name {
        "virtio-blkd" => DISK_BACK_WITHIN,
        "virtio-netd" | "netd" => NET_BACK_WITHIN,
        _ => BACK_WITHIN,
    };
    if took > limit.as_secs_f64() * 1000.0 {
        return Err(format!("the new {name} took {took} ms to be ready (limit {} ms)", limit.as_millis()));
    }
    let output = session::run_command(guest, probe, false)?;
    let printed = output.lines.join("\n");
    if !output.prompt_back || !printed.contains(want) {
        return Err(format!("after the restart, `{probe}` printed:\n{printed}"));
    }
    let listing = session::run_command(guest, "cat sys:daemon", false)?;
    let new_pid = serving(&listing.lines, scheme).unwrap_or(0);
    let restarts = restarts_shown(&listing.lines, scheme, name, new_pid, pid).filter(|&n| n >= 1).ok_or_else(|| {
        format!(
            "sys:daemon does not show {scheme} served by {name} (pid {new_pid}) after pid {pid}'s kill:\n{}",
            listing.lines.join("\n")
        )
    })?;
    Ok(format!("{name} back, ready after {took} ms; sys:daemon: {restarts} restart(s), last end pid {pid} signal:9"))
}

/// Kill each of [`DAEMONS`] under load; one result per daemon.
pub fn run(guest: &mut Guest) -> Vec<(&'static str, Result<String, String>)> {
    // The load: copies through zero: and null: for the whole test (killed
    // with its daemons, it fails with EIO, as callers of a dead daemon do).
    let _ = session::run_command(guest, "dd if=zero: of=null: bs=1K count=10000000 &", false);
    let mut results = Vec::new();
    for &daemon in DAEMONS {
        results.push((daemon.0, kill_and_check(guest, daemon)));
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_after_skips_the_old_instance() {
        let text = "init: tmpd (pid 8) ended: killed by signal 9; restarting it\r\n\
                    init: tmpd (pid 8) ready after 9.0 ms\n\
                    init: tmpd (pid 31) ready after 12.5 ms\n\
                    init: tmpd restarted as pid 31 (restart 1)\n";
        assert_eq!(ready_after(text, "tmpd", 8), Some(12.5));
        let after_prompt = "initfs: $ init: zerod (pid 153) ready after 13.0 ms\n";
        assert_eq!(ready_after(after_prompt, "zerod", 5), Some(13.0));
        assert_eq!(ready_after(text, "logd", 8), None);
    }

    #[test]
    fn restarts_are_read_from_the_matching_line() {
        let listing: Vec<String> =
            ["SCHEME PID PROGRAM RESTARTS LAST-END", "tmp 31 tmpd 2 pid 8 signal:9", "log 3 logd 0 -"]
                .iter()
                .map(|l| l.to_string())
                .collect();
        assert_eq!(restarts_shown(&listing, "tmp", "tmpd", 31, 8), Some(2));
        assert_eq!(restarts_shown(&listing, "tmp", "tmpd", 31, 9), None);
        assert_eq!(restarts_shown(&listing, "tmp", "tmpd", 30, 8), None);
        assert_eq!(restarts_shown(&listing, "log", "logd", 3, 8), None);
    }

    #[test]
    fn the_daemon_to_kill_is_found_by_its_scheme() {
        let listing: Vec<String> =
            ["SCHEME PID PROGRAM RESTARTS LAST-END", "chan 4 ipcd 0 -", "shm 5 ipcd 0 -", "tmp 9 tmpd 0 -"]
                .iter()
                .map(|l| l.to_string())
                .collect();
        assert_eq!(serving(&listing, "shm"), Some(5));
        assert_eq!(serving(&listing, "chan"), Some(4));
        assert_eq!(serving(&listing, "SCHEME"), None);
        assert_eq!(serving(&listing, "disk"), None);
    }
}
