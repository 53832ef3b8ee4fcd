//! Command-line parsing for `cargo mk`, by hand: a handful of commands and
//! flags do not justify an argument-parsing dependency, and keeping it a pure
//! function lets the host tests pin down every accepted and rejected form.

use crate::qemu::{DEFAULT_FORWARD, Forward};
use crate::workspace::Profile;

pub const HELP: &str = "\
cargo mk - Ferrite's build tool

usage: cargo mk <command> [flags]

commands:
  build [--release]   build the kernel and the userspace programs, pack the
                      programs into the initfs (the images' ramdisk) and
                      write the disk images to target/ferrite/<debug|release>/
                      (ferrite-{bios,uefi}.img, ferrite-selftest-{bios,uefi}.img
                      and initfs.img)
  qemu [flags]        build, then boot an image in QEMU (TCG) with the serial
                      console on this terminal; Ctrl-A X quits QEMU
      --release       boot the release build
      --uefi          boot through UEFI firmware (OVMF) instead of BIOS
      --selftest      boot the self-test kernel (exit 33 = passed,
                      35 = failed, 37 = kernel panic)
      --smp N         number of CPUs (default 2)
      --mem SIZE      memory size, e.g. 256M or 1G (default 256M)
      --display       open a display window (default: serial console only)
      --gdb           start paused and wait for gdb on localhost:1234
      --icount        deterministic guest clock (-icount shift=0)
      --disk PATH     the data disk (default target/ferrite/data.img,
                      made on first use and kept across boots)
      --fresh-disk    start the data disk over, empty
      --forward HOSTPORT:GUESTPORT
                      forward 127.0.0.1:HOSTPORT on the host (loopback
                      only) to the guest's TCP port GUESTPORT on its
                      virtio network card (QEMU's user network: guest
                      10.0.2.15, host 10.0.2.2); default 8080:80
  bench [flags]       build the bench image (the normal kernel with the
                      benchmark program as init), boot it and Linux
                      (bench/linux/bench.c as /init) under TCG and again
                      with -icount shift=0, then each on 1, 2 and 4 CPUs
                      (multi-threaded TCG) for the scaling figure, and
                      print ns/op, instructions/op, calls/s and the ratios
                      side by side
      --release       the release build (the default for bench)
      --debug         the debug build
      --smp N         number of CPUs (default 1, as the Linux baseline:
                      with more, icount no longer counts one CPU's
                      instructions and the two yield processes land
                      on different CPUs)
      --micro         the microbenchmarks only, in instructions: the
                      -icount boots of Ferrite and Linux (a minute)
      --profile       like --micro, and where each benchmark's
                      instructions go, by kernel and program symbol
                      (a QEMU plugin, bench/profile/insn_profile.c)
      --profile-disks like --profile, with the disks attached to the
                      icount boot, so the disk benchmarks run and are
                      profiled too (their rows: instructions per request
                      in the window; the icount clock also counts the
                      time the device takes, so only the profile means
                      anything there)
      --profile-net   only the TCG boot, with the plugin: where each
                      network row's instructions go, per frame sent or
                      received (not instruction-exact: TCG's timing
                      moves the windows' edges)
  fuzz [flags]        boot the normal image and run the system-call fuzzer
                      (programs/fuzz) at its shell: random system calls
                      from unprivileged children, a hostile scheme daemon;
                      fails on a kernel panic, a hang or a leak
      --calls N       calls to make (default 40000, as `cargo mk test`'s runs)
      --minutes M     run for M minutes instead
      --seed S        the run's seed (default 1); each child's seed is
                      derived from it and printed if the child hangs
      --smp N         number of CPUs (default 2)
  disk ACTION         read and write files in the data disk's RedoxFS from
                      the host, without booting: `ls [PATH]`, `cat PATH`,
                      `put HOST_FILE PATH`, `get PATH HOST_FILE`
      --disk IMAGE    another image than target/ferrite/data.img
  test                host tests, rustfmt and clippy, then the self-test
                      kernel under QEMU from the BIOS and the UEFI image;
                      ends with `N passed, N failed`
      --smoke         only the image build, the boot smoke tests and the
                      shell sessions of ci/sessions (BIOS and UEFI)
      --crash N       only the power-cut checks: N cuts of a writer's
                      power on BIOS and N on UEFI (a normal run makes 5
                      each), and a recorded run on each
      --network       only the network checks (BIOS and UEFI)
      --readme        only the README's own checks: its tutorial followed
                      in a copy of the tree, built and booted, and its
                      shell examples and the sessions run there
  setup               install what the commands need (rust target and
                      components, the image nightly, QEMU and OVMF); the
                      other commands do this on their own
  help                show this text

Flags take their value as `--flag VALUE` or `--flag=VALUE`.
";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Setup,
    Build(BuildOpts),
    Qemu(QemuOpts),
    Bench(BenchOpts),
    Test(TestOpts),
    Fuzz(crate::fuzz::Run),
    Disk(DiskOpts),
}

/// `cargo mk disk`: what to do in the data disk's file system.
#[derive(Debug, PartialEq, Eq)]
pub enum DiskAction {
    /// List a directory (or show a file's size).
    Ls(String),
    /// Print a file.
    Cat(String),
    /// Copy a host file in: (host path, guest path).
    Put(String, String),
    /// Copy a guest file out: (guest path, host path).
    Get(String, String),
}

#[derive(Debug, PartialEq, Eq)]
pub struct DiskOpts {
    pub action: DiskAction,
    /// The image (None: the default data disk).
    pub disk: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct TestOpts {
    /// Only the image build, the boot smoke tests and the shell sessions.
    pub smoke_only: bool,
    /// Only the power-cut checks, with this many cuts per firmware.
    pub crash: Option<usize>,
    /// Only the network checks.
    pub network_only: bool,
    /// Only the README's checks (tutorial and shell examples).
    pub readme_only: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct BuildOpts {
    pub profile: Profile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchOpts {
    pub profile: Profile,
    pub smp: u32,
    /// Only the microbenchmarks' instruction counts (`--micro`).
    pub micro: bool,
    /// The instruction profile of each microbenchmark (`--profile`).
    pub insn_profile: bool,
    /// The icount boot gets the disks, and the profile covers the disk
    /// benchmarks (`--profile-disks`).
    pub profile_disks: bool,
    /// Only the TCG boot, profiled: where the network rows' instructions
    /// go, per frame (`--profile-net`).
    pub profile_net: bool,
}

impl Default for BenchOpts {
    fn default() -> Self {
        BenchOpts {
            profile: Profile::Release,
            smp: 1,
            micro: false,
            insn_profile: false,
            profile_disks: false,
            profile_net: false,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct QemuOpts {
    pub profile: Profile,
    pub uefi: bool,
    pub selftest: bool,
    pub smp: u32,
    pub mem: String,
    pub display: bool,
    pub gdb: bool,
    pub icount: bool,
    /// The data disk (None: the default one, `target/ferrite/data.img`).
    pub disk: Option<String>,
    /// Make the data disk anew before booting.
    pub fresh_disk: bool,
    /// The host loopback port forwarded to a guest TCP port.
    pub forward: Forward,
}

impl Default for QemuOpts {
    fn default() -> Self {
        QemuOpts {
            profile: Profile::Debug,
            uefi: false,
            selftest: false,
            smp: 2,
            mem: "256M".to_string(),
            display: false,
            gdb: false,
            icount: false,
            disk: None,
            fresh_disk: false,
            forward: DEFAULT_FORWARD,
        }
    }
}

/// One flag as typed: its name and the value given with `=`, if any.
struct Flag<'a> {
    name: &'a str,
    inline: Option<&'a str>,
}

/// Walks the flags after the command, handing out values for the flags
/// that take one.
struct Flags<'a> {
    rest: std::slice::Iter<'a, String>,
    command: &'a str,
}

impl<'a> Flags<'a> {
    fn next(&mut self) -> Result<Option<Flag<'a>>, String> {
        let Some(arg) = self.rest.next() else {
            return Ok(None);
        };
        if !arg.starts_with("--") {
            return Err(format!("`cargo mk {}` takes no argument `{arg}`", self.command));
        }
        Ok(Some(match arg.split_once('=') {
            Some((name, value)) => Flag { name, inline: Some(value) },
            None => Flag { name: arg, inline: None },
        }))
    }

    /// The value of a flag that needs one.
    fn value(&mut self, flag: &Flag<'a>) -> Result<&'a str, String> {
        match flag.inline {
            Some(value) => Ok(value),
            None => match self.rest.next() {
                Some(value) if !value.starts_with("--") => Ok(value),
                _ => Err(format!("{} needs a value", flag.name)),
            },
        }
    }

    /// Checks that a switch was not given a value.
    fn switch(&self, flag: &Flag<'a>) -> Result<bool, String> {
        match flag.inline {
            None => Ok(true),
            Some(_) => Err(format!("{} takes no value", flag.name)),
        }
    }

    fn unknown(&self, flag: &Flag<'a>) -> String {
        format!("unknown flag {} for `cargo mk {}`", flag.name, self.command)
    }
}

/// Parses the arguments after `cargo mk`.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    if rest.iter().any(|arg| arg == "-h" || arg == "--help") {
        return Ok(Command::Help);
    }
    let mut flags = Flags { rest: rest.iter(), command };
    match command.as_str() {
        "help" | "-h" | "--help" => Ok(Command::Help),
        "setup" => no_flags(flags).map(|()| Command::Setup),
        "test" => {
            let mut opts = TestOpts::default();
            while let Some(flag) = flags.next()? {
                match flag.name {
                    "--smoke" => opts.smoke_only = flags.switch(&flag)?,
                    "--network" => opts.network_only = flags.switch(&flag)?,
                    "--readme" => opts.readme_only = flags.switch(&flag)?,
                    "--crash" => {
                        let value = flags.value(&flag)?;
                        let cuts = value.parse::<usize>().ok().filter(|&n| n > 0);
                        opts.crash =
                            Some(cuts.ok_or_else(|| format!("--crash wants a number of cuts, not `{value}`"))?);
                    }
                    _ => return Err(flags.unknown(&flag)),
                }
            }
            Ok(Command::Test(opts))
        }
        "build" => {
            let mut opts = BuildOpts { profile: Profile::Debug };
            while let Some(flag) = flags.next()? {
                match flag.name {
                    "--release" => {
                        flags.switch(&flag)?;
                        opts.profile = Profile::Release;
                    }
                    _ => return Err(flags.unknown(&flag)),
                }
            }
            Ok(Command::Build(opts))
        }
        "qemu" => {
            let mut opts = QemuOpts::default();
            while let Some(flag) = flags.next()? {
                match flag.name {
                    "--release" => {
                        flags.switch(&flag)?;
                        opts.profile = Profile::Release;
                    }
                    "--uefi" => opts.uefi = flags.switch(&flag)?,
                    "--selftest" => opts.selftest = flags.switch(&flag)?,
                    "--display" => opts.display = flags.switch(&flag)?,
                    "--gdb" => opts.gdb = flags.switch(&flag)?,
                    "--icount" => opts.icount = flags.switch(&flag)?,
                    "--smp" => opts.smp = parse_smp(flags.value(&flag)?)?,
                    "--mem" => opts.mem = parse_mem(flags.value(&flag)?)?,
                    "--disk" => opts.disk = Some(flags.value(&flag)?.to_string()),
                    "--fresh-disk" => opts.fresh_disk = flags.switch(&flag)?,
                    "--forward" => opts.forward = parse_forward(flags.value(&flag)?)?,
                    _ => return Err(flags.unknown(&flag)),
                }
            }
            Ok(Command::Qemu(opts))
        }
        "bench" => {
            let mut opts = BenchOpts::default();
            while let Some(flag) = flags.next()? {
                match flag.name {
                    "--release" => {
                        flags.switch(&flag)?;
                        opts.profile = Profile::Release;
                    }
                    "--debug" => {
                        flags.switch(&flag)?;
                        opts.profile = Profile::Debug;
                    }
                    "--smp" => opts.smp = parse_smp(flags.value(&flag)?)?,
                    "--micro" => opts.micro = flags.switch(&flag)?,
                    "--profile" => {
                        opts.insn_profile = flags.switch(&flag)?;
                        opts.micro |= opts.insn_profile;
                    }
                    "--profile-disks" => {
                        opts.profile_disks = flags.switch(&flag)?;
                        opts.insn_profile |= opts.profile_disks;
                        opts.micro |= opts.profile_disks;
                    }
                    "--profile-net" => opts.profile_net = flags.switch(&flag)?,
                    _ => return Err(flags.unknown(&flag)),
                }
            }
            Ok(Command::Bench(opts))
        }
        "fuzz" => {
            let mut run = crate::fuzz::Run { smp: 2, calls: crate::fuzz::TEST_CALLS, minutes: 0, seed: 1 };
            while let Some(flag) = flags.next()? {
                let value = flags.value(&flag)?;
                let number =
                    || value.parse::<u64>().map_err(|_| format!("{} wants a number, not `{value}`", flag.name));
                match flag.name {
                    "--calls" => run.calls = number()?,
                    "--minutes" => run.minutes = number()?,
                    "--seed" => run.seed = number()?,
                    "--smp" => run.smp = parse_smp(value)?,
                    _ => return Err(flags.unknown(&flag)),
                }
            }
            Ok(Command::Fuzz(run))
        }
        "disk" => {
            let mut words = Vec::new();
            let mut disk = None;
            let mut rest = rest.iter();
            while let Some(arg) = rest.next() {
                match arg.as_str() {
                    "--disk" => disk = Some(rest.next().ok_or("--disk needs a value")?.clone()),
                    arg if arg.starts_with("--disk=") => disk = Some(arg["--disk=".len()..].to_string()),
                    arg if arg.starts_with("--") => return Err(format!("unknown flag {arg} for `cargo mk disk`")),
                    arg => words.push(arg.to_string()),
                }
            }
            let action = match words.as_slice() {
                [verb] if verb == "ls" => DiskAction::Ls("/".into()),
                [verb, path] if verb == "ls" => DiskAction::Ls(path.clone()),
                [verb, path] if verb == "cat" => DiskAction::Cat(path.clone()),
                [verb, host, path] if verb == "put" => DiskAction::Put(host.clone(), path.clone()),
                [verb, path, host] if verb == "get" => DiskAction::Get(path.clone(), host.clone()),
                _ => {
                    return Err(
                        "usage: cargo mk disk ls [PATH] | cat PATH | put HOST PATH | get PATH HOST [--disk IMAGE]"
                            .into(),
                    );
                }
            };
            Ok(Command::Disk(DiskOpts { action, disk }))
        }
        other => Err(format!("unknown command `{other}`")),
    }
}

fn no_flags(mut flags: Flags<'_>) -> Result<(), String> {
    match flags.next()? {
        None => Ok(()),
        Some(flag) => Err(flags.unknown(&flag)),
    }
}

/// A CPU count QEMU's q35 machine accepts.
fn parse_smp(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if (1..=255).contains(&n) => Ok(n),
        _ => Err(format!("--smp wants a CPU count from 1 to 255, not `{value}`")),
    }
}

/// `HOSTPORT:GUESTPORT`, both ports from 1 to 65535.
fn parse_forward(value: &str) -> Result<Forward, String> {
    let port = |text: &str| text.parse::<u16>().ok().filter(|&p| p > 0);
    match value.split_once(':').map(|(host, guest)| (port(host), port(guest))) {
        Some((Some(host), Some(guest))) => Ok(Forward { host, guest }),
        _ => Err(format!("--forward wants HOSTPORT:GUESTPORT (ports 1-65535), such as 8080:80, not `{value}`")),
    }
}

/// A memory size in QEMU's `-m` syntax: a number with an optional K, M, G or
/// T suffix (no suffix means MiB).
fn parse_mem(value: &str) -> Result<String, String> {
    let digits = value.trim_end_matches(['K', 'k', 'M', 'm', 'G', 'g', 'T', 't']);
    let suffix_len = value.len() - digits.len();
    let ok = suffix_len <= 1
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.bytes().any(|b| b != b'0');
    if ok { Ok(value.to_string()) } else { Err(format!("--mem wants a size such as 256M or 1G, not `{value}`")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, String> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    #[test]
    fn no_arguments_or_help_show_help() {
        assert_eq!(parse_str(""), Ok(Command::Help));
        assert_eq!(parse_str("help"), Ok(Command::Help));
        assert_eq!(parse_str("--help"), Ok(Command::Help));
        assert_eq!(parse_str("-h"), Ok(Command::Help));
        assert_eq!(parse_str("qemu --uefi --help"), Ok(Command::Help));
    }

    #[test]
    fn build_flags() {
        assert_eq!(parse_str("build"), Ok(Command::Build(BuildOpts { profile: Profile::Debug })));
        assert_eq!(parse_str("build --release"), Ok(Command::Build(BuildOpts { profile: Profile::Release })));
        let err = parse_str("build --relase").unwrap_err();
        assert!(err.contains("unknown flag --relase"), "{err}");
        assert!(parse_str("build --release=yes").is_err());
        assert!(parse_str("build kernel").is_err());
    }

    #[test]
    fn qemu_defaults() {
        assert_eq!(parse_str("qemu"), Ok(Command::Qemu(QemuOpts::default())));
    }

    #[test]
    fn disk_actions() {
        assert_eq!(
            parse_str("disk ls"),
            Ok(Command::Disk(DiskOpts { action: DiskAction::Ls("/".into()), disk: None }))
        );
        assert_eq!(
            parse_str("disk put a.txt /home/root/a.txt --disk x.img"),
            Ok(Command::Disk(DiskOpts {
                action: DiskAction::Put("a.txt".into(), "/home/root/a.txt".into()),
                disk: Some("x.img".into())
            }))
        );
        assert_eq!(
            parse_str("disk get /a b"),
            Ok(Command::Disk(DiskOpts { action: DiskAction::Get("/a".into(), "b".into()), disk: None }))
        );
        assert!(parse_str("disk cat").is_err());
        assert!(parse_str("disk rm /a").is_err());
        assert!(parse_str("disk ls --nope").is_err());
    }

    #[test]
    fn qemu_all_flags() {
        let parsed = parse_str("qemu --release --uefi --selftest --smp 4 --mem=1G --display --gdb --icount");
        assert_eq!(
            parsed,
            Ok(Command::Qemu(QemuOpts {
                profile: Profile::Release,
                uefi: true,
                selftest: true,
                smp: 4,
                mem: "1G".to_string(),
                display: true,
                gdb: true,
                icount: true,
                disk: None,
                fresh_disk: false,
                forward: DEFAULT_FORWARD,
            }))
        );
        let Ok(Command::Qemu(opts)) = parse_str("qemu --smp=3 --mem 512") else {
            panic!("qemu flags did not parse");
        };
        assert_eq!((opts.smp, opts.mem.as_str()), (3, "512"));
    }

    #[test]
    fn qemu_forward() {
        assert_eq!(QemuOpts::default().forward, Forward { host: 8080, guest: 80 });
        for line in ["qemu --forward 8081:8000", "qemu --forward=8081:8000"] {
            let Ok(Command::Qemu(opts)) = parse_str(line) else {
                panic!("{line} did not parse");
            };
            assert_eq!(opts.forward, Forward { host: 8081, guest: 8000 });
        }
        for bad in ["8080", "8080:", ":80", "0:80", "8080:0", "65536:80", "a:80", "8080:80:1", "-1:80", "8080-80"] {
            let err = parse_str(&format!("qemu --forward={bad}")).unwrap_err();
            assert!(err.contains("--forward wants HOSTPORT:GUESTPORT"), "{bad}: {err}");
        }
        assert!(parse_str("qemu --forward").unwrap_err().contains("needs a value"));
    }

    #[test]
    fn qemu_rejects_bad_values() {
        assert!(parse_str("qemu --smp").unwrap_err().contains("needs a value"));
        assert!(parse_str("qemu --smp --uefi").unwrap_err().contains("needs a value"));
        assert!(parse_str("qemu --smp 0").is_err());
        assert!(parse_str("qemu --smp two").is_err());
        assert!(parse_str("qemu --mem 256X").is_err());
        assert!(parse_str("qemu --mem 0M").is_err());
        assert!(parse_str("qemu --mem M").is_err());
        assert!(parse_str("qemu --mem 1MM").is_err());
        assert!(parse_str("qemu --uefi=1").is_err());
        assert!(parse_str("qemu --kvm").unwrap_err().contains("unknown flag --kvm"));
    }

    #[test]
    fn other_commands() {
        assert_eq!(parse_str("test"), Ok(Command::Test(TestOpts::default())));
        assert_eq!(parse_str("test --smoke"), Ok(Command::Test(TestOpts { smoke_only: true, ..TestOpts::default() })));
        assert_eq!(
            parse_str("test --crash 40"),
            Ok(Command::Test(TestOpts { crash: Some(40), ..TestOpts::default() }))
        );
        assert_eq!(
            parse_str("test --network"),
            Ok(Command::Test(TestOpts { network_only: true, ..TestOpts::default() }))
        );
        assert_eq!(
            parse_str("test --readme"),
            Ok(Command::Test(TestOpts { readme_only: true, ..TestOpts::default() }))
        );
        assert!(parse_str("test --crash 0").is_err());
        assert!(parse_str("test --smok").is_err());
        assert_eq!(parse_str("setup"), Ok(Command::Setup));
        assert!(parse_str("test --release").is_err());
        assert!(parse_str("bnech").unwrap_err().contains("unknown command"));
    }

    #[test]
    fn fuzz_flags() {
        let Ok(Command::Fuzz(run)) = parse_str("fuzz --minutes 30 --seed=9 --smp 4") else {
            panic!("fuzz flags did not parse");
        };
        assert_eq!((run.minutes, run.seed, run.smp, run.calls), (30, 9, 4, crate::fuzz::TEST_CALLS));
        assert!(parse_str("fuzz --calls lots").unwrap_err().contains("wants a number"));
        assert!(parse_str("fuzz --uefi").is_err());
    }

    #[test]
    fn bench_flags() {
        let plain = BenchOpts::default();
        assert_eq!(parse_str("bench"), Ok(Command::Bench(BenchOpts { profile: Profile::Release, smp: 1, ..plain })));
        assert_eq!(parse_str("bench --release"), Ok(Command::Bench(BenchOpts::default())));
        assert_eq!(parse_str("bench --debug"), Ok(Command::Bench(BenchOpts { profile: Profile::Debug, ..plain })));
        assert_eq!(
            parse_str("bench --debug --smp=2"),
            Ok(Command::Bench(BenchOpts { profile: Profile::Debug, smp: 2, ..plain }))
        );
        assert_eq!(parse_str("bench --micro"), Ok(Command::Bench(BenchOpts { micro: true, ..plain })));
        assert_eq!(
            parse_str("bench --profile"),
            Ok(Command::Bench(BenchOpts { micro: true, insn_profile: true, ..plain }))
        );
        assert_eq!(
            parse_str("bench --profile-disks"),
            Ok(Command::Bench(BenchOpts { micro: true, insn_profile: true, profile_disks: true, ..plain }))
        );
        assert_eq!(parse_str("bench --profile-net"), Ok(Command::Bench(BenchOpts { profile_net: true, ..plain })));
        assert!(parse_str("bench --smp 0").is_err());
        assert!(parse_str("bench --uefi").unwrap_err().contains("unknown flag --uefi"));
        assert!(parse_str("bench --release=1").is_err());
        assert!(parse_str("bench fast").is_err());
    }
}
