//! `cargo mk test`: every check the project has, in one run.
//!
//! Host unit tests, rustfmt, clippy (host crates, kernel, userspace), the image
//! build, then the self-test kernel booted from its BIOS and its UEFI image,
//! then the normal image from both, checked against `ci/boot.expect`, with
//! the shell sessions of `ci/sessions/` typed into its serial shell.
//! Each check prints one PASS/FAIL line and the run goes on after a failure,
//! so one run shows everything that is wrong; the last line is the summary
//! `N passed, N failed` after the failed checks named again, and the exit
//! status is 0 only if nothing failed.
//! Every self-test result line of every boot is a check of its own.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::TestOpts;
use crate::guest::Guest;
use crate::images::{self, KernelImage};
use crate::process;
use crate::qemu::{self, Firmware, Machine, Serial};
use crate::readme;
use crate::selftest::{Ending, Suite, Transcript};
use crate::session;
use crate::userspace;
use crate::workspace::{KERNEL_TARGET, Profile, Workspace};

/// Self-tests the host insists on: a boot fails if any of these did not
/// report, so a test cannot silently drop out of the kernel's list
/// (`kernel/src/selftest/mod.rs`, `CHECKS`).
const REQUIRED_SELFTESTS: &[&str] = &[
    "frame_alloc_exhaustion",
    "heap_alloc_free",
    "heap_growth",
    "paging_map_unmap_remap",
    "tlb_shootdown_kernel",
    "kstack_reuse_shootdown",
    "kernel_image_wx",
    "nx_outside_image",
    "lower_half_empty",
    "boot_stack_guarded",
    "cpus_online",
    "cpu_protections",
    "monotonic_clock",
    "breakpoint_resumes",
    "exception_recovery",
    "guard_page_overflow",
    "timer_every_cpu",
    "ioapic_pit_irq",
    "smep_blocks_user_code",
    "smap_blocks_user_data",
    "user_copy_checks",
];

/// User-mode tests the host insists on (`programs/usertests`): the ones
/// that stand for what the userspace and schemes issues promised.
const REQUIRED_USERTESTS: &[&str] = &[
    "log_collects_lines",
    "debug_level_sets_what_the_console_prints",
    "shell_words_quotes_and_variables",
    "shell_lists_and_status",
    "shell_pipes_and_redirections",
    "shell_cd_and_relative_paths",
    "shell_scripts_and_stdin",
    "utilities_on_files",
    "utilities_about_the_system",
    "utilities_dd",
    "interactive_shell_on_a_console",
    "framebuffer_maps_as_device_memory",
    "user_scheme_round_trip",
    "two_daemons_at_once",
    "daemon_killed_under_fifty_callers",
    "garbage_answers_give_eio",
    "null_namespace_opens_nothing",
    "registration_rules",
    "fd_passing",
    "events_on_nonblocking_fds",
    "lent_pages_leave_the_daemon",
    "lent_buffer_shows_nothing_else",
    "killed_caller_cancels_its_call",
    "fmap_of_a_daemons_pages",
    "corrupt_initfs_images_are_refused",
    "pipe_carries_a_megabyte_in_order",
    "efault_read",
    "exit_status_codes",
    "waitpid_wnohang",
    "copy_on_write_private_memory",
    "map_shared_seen_by_both",
    "two_hundred_processes",
    "crash_beside_healthy_siblings",
    "exec_passes_args_and_env",
    "exec_failures_return",
    "exec_chain_four_deep",
    "write_to_text_sigsegv",
    "execute_stack_sigsegv",
    "sgdt_blocked_by_umip",
    "futex_mutex_across_processes",
    "fpu_state_survives_preemption",
    "kill_spinning_child",
    "port_grant_allows_the_port",
    "port_grant_refused_in_the_null_namespace",
    "port_io_without_grant_sigsegv",
    "setpgid_rules",
    "kill_group_signals_every_member",
    "console_cooked_lines_echo_and_eof",
    "console_modes_pgrp_and_ctrl_c",
    "chan_listen_connect_accept",
    "chan_eof_and_epipe",
    "chan_nonblocking_eagain",
    "chan_blocked_writer_released",
    "chan_random_transfer_between_processes",
    "chan_events_readable_writable_hangup",
    "shm_shared_between_processes",
    "terabyte_unmap_and_protect_are_quick",
    "futex_queues_are_freed",
    "exec_of_a_stream_is_refused",
    "init_cannot_be_signalled",
    "caller_log_lines_are_rate_limited",
    "fork_bomb_stops_at_the_user_limit",
    "memory_hog_dies_at_its_limit",
    "tmpd_survives_huge_sizes",
    "event_watches_are_limited_per_process",
    "pending_calls_per_daemon_are_bounded",
    "sys_daemon_shows_restarts_and_their_reasons",
    "power_requests_wait_for_init",
    "dma_buffers_give_their_physical_address",
    "physical_windows_map_only_inside",
    "pci_config_pages_map_one_function",
    "msi_vectors_are_allocated_with_their_message",
    "disk_reads_back_what_was_written",
    "disk_ends_and_bad_requests_get_errors",
    "disk_writes_of_any_offset_and_length_keep_what_is_around",
    "disk_read_ahead_never_hides_a_write",
    "disk_serves_many_callers_at_once",
    "disk_partitions_are_entries_of_their_own",
    "disk_device_error_fails_that_request_only",
    "network_lists_the_card_and_its_mac",
    "network_frames_are_root_only",
    "network_refuses_bad_frames",
    "network_arp_reply_from_the_host",
    "network_ping_the_host",
    "network_sends_bursts",
    "network_reader_queues_are_bounded",
    "network_batches_carry_many_frames_per_call",
    "netd_leases_an_address_and_pings_the_host",
    "netd_reports_a_refused_connection",
    "netd_sends_and_takes_raw_ip_packets",
    "netd_refuses_malformed_addresses_and_settings",
    "file_scheme_keeps_files_and_directories",
    "file_scheme_checks_permissions_and_names",
    "file_scheme_survives_its_restart_and_open_unlinks",
    "file_scheme_holds_ten_thousand_files_in_a_directory",
    "file_scheme_takes_writers_from_several_processes",
    "file_scheme_offsets_far_past_the_end",
    "file_scheme_reads_ahead_as_if_it_did_not",
    "file_scheme_batches_leave_nothing_in_the_kernel",
    "file_scheme_fills_up_with_enospc_and_stays_consistent",
    "smp_stress",
    "chan_and_shm_quotas_per_user",
    "sigint_interrupts_a_call_nobody_answers",
    "shm_unlink_keeps_existing_mappings",
    "shm_memory_freed_after_last_unmap",
    "ipcd_runs_in_the_null_namespace",
    "chan_program_listen_and_send",
];

/// How long a boot may take before QEMU is killed (the user suite took
/// seven minutes on a slow host before debug builds were optimized, five
/// of them 10,000 files made and removed on `file:`, which may take up to
/// 400 s: usertests' `SLOW_TESTS`; two minutes there since).
const BIOS_TIMEOUT: Duration = Duration::from_secs(600);
const UEFI_TIMEOUT: Duration = Duration::from_secs(660);

/// How long a smoke boot may take to print everything expected.
const SMOKE_BIOS_TIMEOUT: Duration = Duration::from_secs(90);
const SMOKE_UEFI_TIMEOUT: Duration = Duration::from_secs(120);

/// How long after the last `ci/boot.expect` line the serial shell's first
/// prompt may take.
const SESSION_PROMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long QEMU may linger after the done line (or a panic) before it is
/// killed: the kernel exits QEMU right after printing it.
const EXIT_GRACE: Duration = Duration::from_secs(15);

/// Lines of the log shown when a boot fails, and when it timed out.
const LOG_TAIL_FAILED: usize = 200;
const LOG_TAIL_TIMEOUT: usize = 40;

/// Counts checks and prints one line per check.
struct Tally {
    passed: usize,
    failed: usize,
    /// The FAIL lines again, for the summary: a run's log is long and CI
    /// may keep only its tail, which must still say what failed.
    failures: Vec<String>,
    /// For the summary's time: CI allows the whole run 40 minutes.
    started: Instant,
}

impl Default for Tally {
    fn default() -> Self {
        Tally { passed: 0, failed: 0, failures: Vec::new(), started: Instant::now() }
    }
}

impl Tally {
    fn record(&mut self, name: &str, passed: bool, note: Option<&str>) {
        let note = match note {
            None => String::new(),
            Some(detail) if passed => format!(" ({detail})"),
            Some(reason) => format!(": {reason}"),
        };
        if passed {
            self.passed += 1;
            println!("mk: PASS {name}{note}");
        } else {
            self.failed += 1;
            println!("mk: FAIL {name}{note}");
            self.failures.push(format!("{name}{note}"));
        }
    }

    /// Prints the summary, the run's last lines: every failed check again
    /// (its first line of reason), then `N passed, N failed`; returns the
    /// exit status.
    fn finish(self) -> ExitCode {
        for failure in &self.failures {
            let first = failure.lines().next().unwrap_or_default();
            let short: String = first.chars().take(300).collect();
            println!("mk: failed: {short}");
        }
        let took = self.started.elapsed().as_secs();
        println!("mk: the checks took {} min {} s", took / 60, took % 60);
        println!("{} passed, {} failed", self.passed, self.failed);
        if self.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
    }

    /// Runs a command as one check.
    fn command(&mut self, name: &str, mut cmd: std::process::Command) {
        println!("mk: running {name} ({})", process::describe(&cmd));
        match process::run(&mut cmd) {
            Ok(ok) => self.record(name, ok, None),
            Err(err) => self.record(name, false, Some(&err)),
        }
    }
}

pub fn run(ws: &Workspace, opts: &TestOpts) -> Result<ExitCode, String> {
    let mut tally = Tally::default();
    if let Some(cuts) = opts.crash {
        match images::build(ws, Profile::Debug) {
            Ok(images) => power_cuts(ws, &mut tally, images::normal(&images), cuts),
            Err(err) => tally.record("build images", false, Some(&err)),
        }
        return Ok(tally.finish());
    }
    if opts.network_only {
        match images::build(ws, Profile::Debug) {
            Ok(images) => {
                for boot in ["bios", "uefi"] {
                    network_check(ws, &mut tally, boot, images::normal(&images));
                }
            }
            Err(err) => tally.record("build images", false, Some(&err)),
        }
        return Ok(tally.finish());
    }
    if opts.readme_only {
        match images::build(ws, Profile::Debug) {
            Ok(_) => tutorial_check(ws, &mut tally),
            Err(err) => tally.record("build images", false, Some(&err)),
        }
        return Ok(tally.finish());
    }
    if !opts.smoke_only {
        static_checks(ws, &mut tally)?;
    }
    boots(ws, opts, &mut tally);
    Ok(tally.finish())
}

/// Host tests, rustfmt and clippy.
fn static_checks(ws: &Workspace, tally: &mut Tally) -> Result<(), String> {
    let stable = ws.stable_channel()?;

    let mut cmd = process::clean(ws, "cargo");
    cmd.arg("test");
    tally.command("host tests", cmd);

    let mut cmd = process::clean(ws, "cargo");
    cmd.args(["fmt", "--all", "--", "--check"]);
    tally.command("rustfmt", cmd);

    let mut cmd = process::clean(ws, "rustup");
    cmd.args(["run", &stable, "cargo", "fmt", "--manifest-path"]);
    cmd.arg(ws.image_tool_manifest());
    cmd.args(["--", "--check"]);
    tally.command("rustfmt mk/image", cmd);

    let mut cmd = process::clean(ws, "cargo");
    cmd.args(["clippy", "--all-targets", "--", "-D", "warnings"]);
    tally.command("clippy host crates", cmd);

    let mut cmd = process::clean(ws, "cargo");
    cmd.args(["clippy", "-p", "kernel", "--target", KERNEL_TARGET]);
    cmd.args(["--", "-D", "warnings"]);
    tally.command("clippy kernel", cmd);

    let mut cmd = process::clean(ws, "cargo");
    cmd.args(["clippy", "--target", KERNEL_TARGET]);
    cmd.args(userspace::package_args());
    cmd.args(["--", "-D", "warnings"]);
    tally.command("clippy userspace", cmd);
    Ok(())
}

/// The image build, then the boots (the self-test kernel unless only the
/// smoke tests are wanted).
fn boots(ws: &Workspace, opts: &TestOpts, tally: &mut Tally) {
    println!("mk: running build images");
    let images = match images::build(ws, Profile::Debug) {
        Ok(images) => {
            tally.record("build images", true, None);
            Some(images)
        }
        Err(err) => {
            tally.record("build images", false, Some(&err));
            None
        }
    };

    let selftest_boots = [("bios", SMP), ("uefi", SMP), ("bios", SMP_WIDE)];
    for (boot, smp) in selftest_boots.into_iter().filter(|_| !opts.smoke_only) {
        match &images {
            Some(images) => boot_check(ws, tally, boot, images::selftest(images), smp),
            None => tally.record(&format!("{boot} boot"), false, Some("no image to boot")),
        }
    }

    // The fuzzer: a fixed run on two and on four CPUs (README "Robustness").
    for smp in [SMP, SMP_WIDE].into_iter().filter(|_| !opts.smoke_only) {
        let name = format!("bios fuzz smp{smp} ({} calls)", crate::fuzz::TEST_CALLS);
        match &images {
            Some(images) => {
                let run = crate::fuzz::Run { smp, calls: crate::fuzz::TEST_CALLS, minutes: 0, seed: u64::from(smp) };
                match crate::fuzz::run(ws, &images::normal(images).bios, &run) {
                    Ok(line) => tally.record(&name, true, Some(&line)),
                    Err(err) => tally.record(&name, false, Some(&err)),
                }
            }
            None => tally.record(&name, false, Some("no image to boot")),
        }
    }

    for boot in ["bios", "uefi"] {
        match &images {
            Some(images) => smoke_check(ws, tally, boot, images::normal(images)),
            None => tally.record(&format!("{boot} smoke boot"), false, Some("no image to boot")),
        }
    }

    if !opts.smoke_only
        && let Some(images) = &images
    {
        power_cuts(ws, tally, images::normal(images), crate::powercut::TEST_CUTS);
    }

    if images.is_some() {
        tutorial_check(ws, tally);
    }

    for boot in ["bios", "uefi"] {
        match &images {
            Some(images) => screenshot_check(ws, tally, boot, images::normal(images)),
            None => tally.record(&format!("{boot} screenshot"), false, Some("no image to boot")),
        }
    }
}

/// The power-cut checks (`powercut`): `cuts` kills of QEMU under the
/// writer, the file system's daemons killed under it, and a recorded run,
/// on BIOS and on UEFI.
fn power_cuts(ws: &Workspace, tally: &mut Tally, kernel: &KernelImage, cuts: usize) {
    for (n, boot) in ["bios", "uefi"].into_iter().enumerate() {
        let (image, firmware) = match boot_target(ws, kernel, boot, "powercut") {
            Ok(target) => target,
            Err(err) => return tally.record(&format!("{boot} power cuts"), false, Some(&err)),
        };
        let seed = 1 + n as u64;
        let target = crate::powercut::Target { ws, image, firmware: firmware.as_ref(), name: boot };
        let name = format!("{boot} power cuts: {cuts} kills of QEMU under a writer lose no acknowledged fsync");
        match crate::powercut::kill_run(&target, cuts, seed) {
            Ok(note) => tally.record(&name, true, Some(&note)),
            Err(err) => tally.record(&name, false, Some(&err)),
        }
        let name = format!("{boot} file: daemons killed under a writer lose no acknowledged fsync");
        match crate::powercut::daemon_kill_run(&target, seed) {
            Ok(note) => tally.record(&name, true, Some(&note)),
            Err(err) => tally.record(&name, false, Some(&err)),
        }
        let name =
            format!("{boot} power cuts: every flushed prefix of a recorded run, with unflushed writes, is consistent");
        match crate::powercut::recorded_run(&target, seed) {
            Ok(note) => tally.record(&name, true, Some(&note)),
            Err(err) => tally.record(&name, false, Some(&err)),
        }
    }
}

/// The disk image of `kernel` that `boot` (`bios` or `uefi`) starts from,
/// and for UEFI the firmware, with a variable store of this kind of boot's
/// own (`target/ferrite/KIND-OVMF_VARS.fd`), so boots never share one.
pub fn boot_target<'a>(
    ws: &Workspace,
    kernel: &'a KernelImage,
    boot: &str,
    kind: &str,
) -> Result<(&'a Path, Option<Firmware>), String> {
    match boot {
        "uefi" => Ok((&kernel.uefi, Some(qemu::firmware(&ws.mk_dir().join(format!("{kind}-OVMF_VARS.fd")))?))),
        _ => Ok((&kernel.bios, None)),
    }
}

/// Boots the self-test kernel from one image on `smp` CPUs and records
/// its checks (named `BOOT: ...`, or `BOOT smpN: ...` off the default
/// CPU count).
fn boot_check(ws: &Workspace, tally: &mut Tally, boot: &str, kernel: &KernelImage, smp: u32) {
    let boot = &if smp == SMP { boot.to_string() } else { format!("{boot} smp{smp}") };
    let verdict_name = format!("{boot} boot");
    let timeout = if boot.starts_with("uefi") { UEFI_TIMEOUT } else { BIOS_TIMEOUT };
    let (image, firmware) = match boot_target(ws, kernel, boot.split(' ').next().unwrap_or(boot), "test") {
        Ok(target) => target,
        Err(err) => return tally.record(&verdict_name, false, Some(&err)),
    };
    let log = ws.log_dir().join(format!("{}.log", boot.replace(' ', "-")));
    println!(
        "mk: booting {} under QEMU (timeout {} s, serial log in {})",
        ws.show(image),
        timeout.as_secs(),
        ws.show(&log)
    );
    let boot_run = match boot_qemu(ws, image, firmware.as_ref(), timeout, &log, smp) {
        Ok(boot_run) => boot_run,
        Err(err) => return tally.record(&verdict_name, false, Some(&err)),
    };
    let t = &boot_run.transcript;

    let at = |time: Option<Duration>, what: &str| match time {
        Some(time) => format!("{what} after {:.1} s", time.as_secs_f64()),
        None => format!("no {what}"),
    };
    println!(
        "mk: {boot}: {}, {}, {}",
        at(t.banner_at, "banner"),
        at(t.done_at(Suite::Kernel), "kernel self-tests done"),
        at(t.done_at(Suite::User), "user tests done")
    );

    for result in &t.results {
        let name = format!("{boot}: {}{}", result.suite.prefix(), result.name);
        tally.record(&name, result.passed, result.note.as_deref());
    }
    firmware_check(tally, boot, &log);
    let verdict =
        t.verdict(&boot_run.ending, &[(Suite::Kernel, REQUIRED_SELFTESTS), (Suite::User, REQUIRED_USERTESTS)]);
    for name in &verdict.missing {
        tally.record(&format!("{boot}: {name}"), false, Some("required self-test did not report"));
    }
    let note = verdict.reasons.join("; ");
    tally.record(&verdict_name, verdict.passed(), (!note.is_empty()).then_some(&note));
    if !verdict.passed() {
        let tail = match boot_run.ending {
            Ending::Killed(_) => LOG_TAIL_TIMEOUT,
            Ending::Exited(_) => LOG_TAIL_FAILED,
        };
        show_log_tail(ws, &log, tail);
    }
}

/// The kernel reads its firmware off the memory map (`sys:firmware`, and
/// tests that only one boot runs go by it): its boot line must name the
/// firmware this boot used.
fn firmware_check(tally: &mut Tally, boot: &str, log: &Path) {
    let want = boot.split(' ').next().unwrap_or(boot);
    let name = format!("{boot}: the kernel names its firmware ({want})");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let said = text.lines().find_map(|line| line.split("; firmware: ").nth(1)).map(str::trim);
    match said {
        Some(got) if got == want => tally.record(&name, true, None),
        Some(got) => tally.record(&name, false, Some(&format!("the kernel says {got}"))),
        None => tally.record(&name, false, Some("no `firmware:` in the kernel's memory map line")),
    }
}

/// Boots the normal image and checks its console against `ci/boot.expect`.
fn smoke_check(ws: &Workspace, tally: &mut Tally, boot: &str, kernel: &KernelImage) {
    let name = format!("{boot} smoke boot ({})", crate::smoke::EXPECT_FILE);
    let timeout = if boot == "uefi" { SMOKE_UEFI_TIMEOUT } else { SMOKE_BIOS_TIMEOUT };
    let (image, firmware) = match boot_target(ws, kernel, boot, "smoke") {
        Ok(target) => target,
        Err(err) => return tally.record(&name, false, Some(&err)),
    };
    let log = ws.log_dir().join(format!("{boot}-smoke.log"));
    println!("mk: booting {} (serial log in {})", ws.show(image), ws.show(&log));
    let mut guest = match crate::smoke::boot(ws, image, firmware.as_ref(), timeout, &log) {
        Ok((at, guest)) => {
            println!("mk: {boot}: the boot reached the last expected line after {:.1} s", at.as_secs_f64());
            tally.record(&name, true, None);
            guest
        }
        Err(err) => return tally.record(&name, false, Some(&err)),
    };
    // The shell sessions, typed into the same guest's serial shell.
    let scripts = match session::load_all(ws) {
        Ok(scripts) => scripts,
        Err(err) => return tally.record(&format!("{boot} shell sessions"), false, Some(&err)),
    };
    let prompt_name = format!("{boot} shell prompt on serial:");
    match session::wait_for_prompt(&mut guest, SESSION_PROMPT_TIMEOUT) {
        Ok(at) => {
            println!("mk: {boot}: shell prompt after {:.1} s", at.as_secs_f64());
            tally.record(&prompt_name, true, None);
        }
        Err(err) => return tally.record(&prompt_name, false, Some(&err)),
    }
    for script in &scripts {
        let result = session::run(&mut guest, script);
        tally.record(&format!("{boot} session {}", script.name), result.is_ok(), result.err().as_deref());
        if !session::recover(&mut guest) {
            return tally.record(&format!("{boot} shell takes commands again after Ctrl-C"), false, Some("no prompt"));
        }
    }
    // The full-screen programs on the same serial shell (BIOS is enough:
    // they see only the console).
    if boot == "bios" {
        let name = format!("{boot} edit and less on serial:");
        match crate::fullscreen::run(&mut guest) {
            Ok(note) => tally.record(&name, true, Some(&note)),
            Err(err) => tally.record(&name, false, Some(&err)),
        }
    }
    // Lines from the kernel and from seriald share COM1 and stay whole.
    let name = format!("{boot} serial console: debug: and serial: lines at once stay whole");
    match crate::console_lines::run(&mut guest) {
        Ok(note) => tally.record(&name, true, Some(&note)),
        Err(err) => tally.record(&name, false, Some(&err)),
    }
    if !session::recover(&mut guest) {
        return tally.record(&format!("{boot} shell takes commands again after Ctrl-C"), false, Some("no prompt"));
    }
    for (daemon, result) in crate::supervision::run(&mut guest) {
        let name = format!("{boot} supervision: {daemon} killed under load comes back");
        match result {
            Ok(note) => tally.record(&name, true, Some(&note)),
            Err(err) => tally.record(&name, false, Some(&err)),
        }
    }
    // Last: the machine stops when asked (BIOS: poweroff, UEFI: reboot,
    // which exits QEMU too under -no-reboot).
    let command = if boot == "uefi" { "reboot" } else { "poweroff" };
    let name = format!("{boot} `{command}` stops everything and QEMU exits by itself");
    match crate::shutdown::run(&mut guest, command) {
        Ok(note) => tally.record(&name, true, Some(&note)),
        Err(err) => tally.record(&name, false, Some(&err)),
    }
    // What the sessions left on the data disk is there on the host and in
    // the next boot.
    let name = format!("{boot} file: keeps what was written across a reboot, and the host reads it");
    let log = ws.log_dir().join(format!("{boot}-persistence.log"));
    match crate::persistence::check(ws, image, firmware.as_ref(), &log) {
        Ok(note) => tally.record(&name, true, Some(&note)),
        Err(err) => tally.record(&name, false, Some(&err)),
    }
    // Then the same data disk, damaged: refused, and the rest boots. Cut
    // in half first (its headers still say 64 MiB), then its headers zeroed.
    for (n, kind) in [crate::damaged::Damage::Truncated, crate::damaged::Damage::ZeroedHeaders].into_iter().enumerate()
    {
        let name = format!("{boot} a data disk {} is refused and the rest boots", kind.describe());
        let log = ws.log_dir().join(format!("{boot}-damaged-{}.log", n + 1));
        match crate::damaged::check(ws, image, firmware.as_ref(), &log, kind) {
            Ok(note) => tally.record(&name, true, Some(&note)),
            Err(err) => tally.record(&name, false, Some(&err)),
        }
    }
    network_check(ws, tally, boot, kernel);
}

/// The sessions that list what runs (schemes, processes, namespaces),
/// run again in the tutorial's system, which has one daemon more.
const LISTING_SESSIONS: &[&str] = &["system.session", "drivers.session"];

/// The README tests itself (`readme.rs`): its tutorial followed in a copy
/// of the tree, built and booted (BIOS); there the tutorial's daemon
/// starts, every shell example of the README and the sessions that list
/// what runs ([`LISTING_SESSIONS`]) pass, and the machine powers off as
/// the README shows.
fn tutorial_check(ws: &Workspace, tally: &mut Tally) {
    let name = "README tutorial followed in a copy of the tree: it builds and lints";
    println!("mk: running {name}");
    let (copy, shows) = match readme::follow_tutorial(ws) {
        Ok(done) => {
            tally.record(name, true, Some(&ws.show(&done.0.root)));
            done
        }
        Err(err) => return tally.record(name, false, Some(&err)),
    };
    let image = copy.image_dir(Profile::Debug).join("ferrite-bios.img");
    let log = ws.log_dir().join("readme-tutorial.log");
    let name = "README tutorial: its daemon starts at boot";
    println!("mk: booting {} (serial log in {})", copy.show(&image), ws.show(&log));
    let mut guest = match Guest::start_with(&copy, &image, None, &log, SMP, true) {
        Ok(guest) => guest,
        Err(err) => return tally.record(name, false, Some(&err)),
    };
    let at = match session::wait_for_prompt(&mut guest, SESSION_PROMPT_TIMEOUT) {
        Ok(at) => at,
        Err(err) => return tally.record(name, false, Some(&err)),
    };
    let console = strip_escapes(&String::from_utf8_lossy(&guest.output));
    let pattern = readme::boot_pattern(&shows);
    match console.lines().find(|line| session::glob(&pattern, line.trim_end_matches('\r'))) {
        Some(line) => {
            tally.record(name, true, Some(&format!("{} (prompt after {:.1} s)", line.trim(), at.as_secs_f64())))
        }
        None => tally.record(name, false, Some(&format!("no `{shows}` on the console:\n{console}"))),
    }
    let examples = match readme::read(&copy.root) {
        Ok(text) => readme::examples(&text),
        Err(err) => return tally.record("README shell examples", false, Some(&err)),
    };
    let (shutdown, examples): (Vec<_>, Vec<_>) = examples.into_iter().partition(readme::powers_off);
    // The sessions that list the system's schemes, processes and
    // daemons: the ones a daemon added the tutorial's way could break
    // (the others run in the smoke boots).
    let sessions = match session::load_all(&copy) {
        Ok(scripts) => {
            scripts.into_iter().filter(|s| LISTING_SESSIONS.iter().any(|n| s.name.ends_with(n))).collect::<Vec<_>>()
        }
        Err(err) => return tally.record("sessions in the tutorial's system", false, Some(&err)),
    };
    let runs = examples.iter().map(|script| ("README example", script)).chain(sessions.iter().map(|s| ("session", s)));
    for (kind, script) in runs {
        let result = session::run(&mut guest, script);
        tally.record(
            &format!("{kind} {} in the tutorial's system", script.name),
            result.is_ok(),
            result.err().as_deref(),
        );
        // A script that left the shell stuck must not cost every later one
        // its timeout.
        if !session::recover(&mut guest) {
            return tally.record("the tutorial's shell takes commands again after Ctrl-C", false, Some("no prompt"));
        }
    }
    for script in &shutdown {
        let name = format!("README example {} (the machine stops as shown)", script.name);
        match readme::run_shutdown_example(&mut guest, script) {
            Ok(note) => tally.record(&name, true, Some(&note)),
            Err(err) => tally.record(&name, false, Some(&err)),
        }
    }
}

/// A boot of its own with a host port forwarded: TCP, HTTP and ping both
/// ways between the guest and peers on the host's loopback; on BIOS also a
/// second card on a wire mk plays (DNS, hostile frames) and the daemons
/// killed during transfers.
fn network_check(ws: &Workspace, tally: &mut Tally, boot: &str, kernel: &KernelImage) {
    let (image, firmware) = match boot_target(ws, kernel, boot, "network") {
        Ok(target) => target,
        Err(err) => return tally.record(&format!("{boot} network"), false, Some(&err)),
    };
    let deep = boot == "bios";
    let big = if deep { crate::network::BIG } else { crate::network::SMALLER };
    let mut name = format!("{boot} network: ping, UDP, {} MiB each way, httpd for 200 clients at once", big >> 20);
    if deep {
        name.push_str("; DNS, 1,780 hostile frames and daemon kills on a second card");
    }
    let log = ws.log_dir().join(format!("{boot}-network.log"));
    match crate::network::check(ws, image, firmware.as_ref(), &log, big, deep) {
        Ok(note) => tally.record(&name, true, Some(&note)),
        Err(err) => tally.record(&name, false, Some(&err)),
    }
}

/// Boots the normal image, types on its keyboard and checks the text shows
/// on its framebuffer console (`screenshot`).
fn screenshot_check(ws: &Workspace, tally: &mut Tally, boot: &str, kernel: &KernelImage) {
    let name = format!("{boot} screenshot (typed text on the framebuffer console)");
    let timeout = if boot == "uefi" { SMOKE_UEFI_TIMEOUT } else { SMOKE_BIOS_TIMEOUT };
    let (image, firmware) = match boot_target(ws, kernel, boot, "screenshot") {
        Ok(target) => target,
        Err(err) => return tally.record(&name, false, Some(&err)),
    };
    let log = ws.log_dir().join(format!("{boot}-screenshot.log"));
    println!("mk: booting {} with a display to type into (serial log in {})", ws.show(image), ws.show(&log));
    match crate::screenshot::check(ws, boot, image, firmware.as_ref(), timeout, &log) {
        Ok(note) => tally.record(&name, true, Some(&note)),
        Err(err) => tally.record(&name, false, Some(&err)),
    }
}

struct BootRun {
    transcript: Transcript,
    ending: Ending,
}

/// The data disk of a test boot.
const TEST_DATA_DISK: u64 = 64 << 20;

/// CPUs of a test boot, unless it says otherwise (the self-test suite and
/// the fuzzer also run on [`SMP_WIDE`]).
pub const SMP: u32 = 2;
/// The second CPU count the self-test suite and the fuzzer run on.
pub const SMP_WIDE: u32 = 4;

/// The QEMU command every test boot runs on `image`: `smp` CPUs, 256 MiB, the
/// serial console on stdio, no display. The caller sets up the pipes.
///
/// Every test boot has two disks, made anew for each boot: `disk:0`, a
/// 64 MiB data disk with a fresh RedoxFS (what `file:` serves), and
/// `disk:1`, 16 MiB of zeros to scratch on
/// ([`test_disks`]); and a virtio network card on QEMU's user-mode network
/// (`network:0`; no host port forwarded).
pub fn test_qemu_command(ws: &Workspace, image: &Path, firmware: Option<&Firmware>, smp: u32) -> std::process::Command {
    test_qemu_command_with(ws, image, firmware, smp, true)
}

/// The data and scratch disks of a test boot of `image` on `smp` CPUs:
/// `target/ferrite/{data,scratch}-IMAGE-SMP.img`.
pub fn test_disks(ws: &Workspace, image: &Path, smp: u32) -> (PathBuf, PathBuf) {
    let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    (ws.mk_dir().join(format!("data-{stem}-{smp}.img")), ws.mk_dir().join(format!("scratch-{stem}-{smp}.img")))
}

/// [`test_qemu_command`]; with `fresh` false, the data disk is kept as the
/// last boot of the same image left it (the persistence check).
pub fn test_qemu_command_with(
    ws: &Workspace,
    image: &Path,
    firmware: Option<&Firmware>,
    smp: u32,
    fresh: bool,
) -> std::process::Command {
    test_qemu_command_nic(ws, image, firmware, smp, fresh, qemu::Nic::Virtio(None))
}

/// [`test_qemu_command_with`] with the network card `nic` (the network
/// test forwards a host port to the guest).
pub fn test_qemu_command_nic(
    ws: &Workspace,
    image: &Path,
    firmware: Option<&Firmware>,
    smp: u32,
    fresh: bool,
    nic: qemu::Nic,
) -> std::process::Command {
    let (data, scratch) = test_disks(ws, image, smp);
    let parted =
        scratch.with_file_name(format!("parted-{}", scratch.file_name().unwrap_or_default().to_string_lossy()));
    let made = if fresh || !data.exists() { crate::disk::format(&data, TEST_DATA_DISK) } else { Ok(()) };
    let made =
        made.and_then(|()| crate::disk::scratch_disk(&scratch)).and_then(|()| crate::disk::partitioned_disk(&parted));
    let disks = match made {
        Ok(()) => vec![data, scratch],
        Err(err) => {
            println!("mk: no disks for this boot: {err}");
            Vec::new()
        }
    };
    let machine = Machine {
        image,
        firmware,
        smp,
        mem: "256M",
        serial: Serial::Pipe,
        display: false,
        gdb: false,
        icount: false,
        disks: &disks,
        nic,
    };
    let mut cmd = process::clean(ws, qemu::QEMU);
    cmd.args(qemu::args(&machine));
    if !disks.is_empty() {
        cmd.args(faulty_disk_args(&parted));
    }
    cmd
}

/// QEMU's arguments for the partitioned disk of a test boot (`disk:2`),
/// attached through `blkdebug` (under the `raw` format, whose read and
/// write events arm its rules) so that the device fails requests on two
/// sectors (`disk::PARTED_BAD_READ`, `disk::PARTED_BAD_WRITE`): a device
/// error, which the driver must turn into `EIO` for that request only.
fn faulty_disk_args(image: &Path) -> Vec<String> {
    let file = image.to_string_lossy().replace('\\', "\\\\").replace('"', "\\\"");
    let spec = format!(
        r#"{{"driver":"raw","node-name":"faulty","file":{{"driver":"blkdebug","image":{{"driver":"file","filename":"{file}"}},"inject-error":[{{"event":"read_aio","iotype":"read","errno":5,"sector":{},"once":false}},{{"event":"write_aio","iotype":"write","errno":5,"sector":{},"once":false}}]}}}}"#,
        crate::disk::PARTED_BAD_READ,
        crate::disk::PARTED_BAD_WRITE
    );
    vec!["-blockdev".into(), spec, "-device".into(), "virtio-blk-pci,drive=faulty".into()]
}

/// QEMU on `image` the way every test boot runs it ([`test_qemu_command`]),
/// its serial output read line by line, with the log file created.
pub fn start_test_qemu(
    ws: &Workspace,
    image: &Path,
    firmware: Option<&Firmware>,
    log_path: &Path,
    stderr: Stdio,
    smp: u32,
) -> Result<(File, qemu::Running), String> {
    let log = crate::process::create_log(log_path)?;
    let mut cmd = test_qemu_command(ws, image, firmware, smp);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(stderr);
    println!("mk: {}", process::describe(&cmd));
    Ok((log, qemu::spawn_reading_lines(&mut cmd)?))
}

/// Runs QEMU on `image`, feeding its serial output to a transcript and a
/// log file, and kills it on timeout (or if it lingers after the verdict).
fn boot_qemu(
    ws: &Workspace,
    image: &Path,
    firmware: Option<&Firmware>,
    timeout: Duration,
    log_path: &Path,
    smp: u32,
) -> Result<BootRun, String> {
    let (mut log, running) = start_test_qemu(ws, image, firmware, log_path, Stdio::piped(), smp)?;
    let qemu::Running { mut child, started: start, lines, reader } = running;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr_reader = thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });

    let mut transcript = Transcript::default();
    let mut take = |at: Duration, line: &[u8], transcript: &mut Transcript| {
        let _ = log.write_all(line);
        let text = String::from_utf8_lossy(line);
        transcript.feed(text.trim_end_matches(['\r', '\n']), at);
    };

    let mut deadline = start + timeout;
    let mut killed = None;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(wait) {
            Ok((at, line)) => {
                let was_finished = transcript.finished();
                take(at, &line, &mut transcript);
                if !was_finished && transcript.finished() {
                    deadline = deadline.min(Instant::now() + EXIT_GRACE);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                killed = Some(if transcript.finished() {
                    format!("still running {} s after the kernel's last word", EXIT_GRACE.as_secs())
                } else {
                    format!("no verdict within {} s", timeout.as_secs())
                });
                let _ = child.kill();
                break;
            }
        }
    }
    let status = child.wait().map_err(|e| format!("waiting for QEMU: {e}"))?;
    let _ = reader.join();
    for (at, line) in lines.try_iter() {
        take(at, &line, &mut transcript);
    }
    let stderr_text = stderr_reader.join().unwrap_or_default();
    if !stderr_text.is_empty() {
        let _ = writeln!(log, "\n--- QEMU stderr ---");
        let _ = log.write_all(&stderr_text);
    }
    let ending = match killed {
        Some(why) => Ending::Killed(why),
        None => Ending::Exited(status.code()),
    };
    Ok(BootRun { transcript, ending })
}

fn show_log_tail(ws: &Workspace, log: &Path, lines: usize) {
    let Ok(bytes) = fs::read(log) else {
        return;
    };
    let text = strip_escapes(&String::from_utf8_lossy(&bytes));
    let all: Vec<&str> = text.lines().collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    println!("mk: ---- last {} lines of {} ----", tail.len(), ws.show(log));
    for line in tail {
        println!("{line}");
    }
    println!("mk: ---- end of {} ----", ws.show(log));
}

/// `text` without terminal escape sequences and control characters (OVMF
/// clears the screen and moves the cursor), for showing a log. A line
/// erased with `\r` + `ESC [ K` (a console putting a log line above the
/// line being typed, then the line again) is dropped, as on a screen.
pub fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    let mut after_cr = false;
    while let Some(c) = chars.next() {
        match c {
            // CSI (ESC [) runs to a final byte; any other escape is ESC
            // plus one character.
            '\x1b' => {
                if chars.next() == Some('[') {
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            if c == 'K' && after_cr {
                                out.truncate(out.rfind('\n').map_or(0, |end| end + 1));
                            }
                            break;
                        }
                    }
                }
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
        after_cr = c == '\r';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escapes() {
        assert_eq!(
            strip_escapes("\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01HBdsDxe: loading\r\nok\n"),
            "BdsDxe: loading\nok\n"
        );
        assert_eq!(strip_escapes("a\x1bcb\tc"), "ab\tc");
        assert_eq!(strip_escapes("plain"), "plain");
        assert_eq!(strip_escapes("one\r\ntwo $ ec\r\x1b[K[ 1.0] WARN x\r\ntwo $ ec"), "one\n[ 1.0] WARN x\ntwo $ ec");
    }

    #[test]
    fn tally_counts() {
        let mut tally = Tally::default();
        tally.record("a", true, None);
        tally.record("b", false, Some("why"));
        tally.record("c", true, Some("detail"));
        assert_eq!((tally.passed, tally.failed), (2, 1));
    }
}
