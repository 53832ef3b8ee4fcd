//! QEMU: the machine Ferrite boots on, and `cargo mk qemu`.
//!
//! One function builds the QEMU command line for both the interactive
//! command and the self-test boots, so they run the same machine: q35, TCG
//! (KVM here is a software layer that breaks OVMF, docs/architecture.md §9.5), the serial
//! port on stdio and the `isa-debug-exit` device the kernel ends QEMU with.
//! Ferrite's boots get a virtio network card on QEMU's user-mode network
//! ([`Nic::Virtio`]); `cargo mk qemu` forwards a host loopback port to it.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::cli::QemuOpts;
use crate::disk;
use crate::images;
use crate::process;
use crate::workspace::Workspace;

pub const QEMU: &str = "qemu-system-x86_64";

/// The data disk `cargo mk qemu` attaches, under `target/ferrite/`.
pub const DATA_DISK: &str = "data.img";

/// Where Debian's `ovmf` package puts the firmware.
pub const OVMF_DIR: &str = "/usr/share/OVMF";

/// QEMU's status when the kernel wrote `v` to the debug-exit port is
/// `(v << 1) | 1`; these are the kernel's three verdicts (kernel/src/qemu.rs).
pub const EXIT_PASSED: i32 = 33;
pub const EXIT_FAILED: i32 = 35;
pub const EXIT_PANIC: i32 = 37;

/// The OVMF firmware code and the template of its variable store.
#[derive(Debug, PartialEq, Eq)]
pub struct Ovmf {
    pub code: PathBuf,
    pub vars: PathBuf,
}

/// The OVMF pair in `dir`, preferring the 4 MiB build.
pub fn find_ovmf(dir: &Path) -> Option<Ovmf> {
    [("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"), ("OVMF_CODE.fd", "OVMF_VARS.fd")]
        .iter()
        .map(|(code, vars)| Ovmf { code: dir.join(code), vars: dir.join(vars) })
        .find(|ovmf| ovmf.code.is_file() && ovmf.vars.is_file())
}

/// UEFI firmware for one boot: the read-only code and a writable copy of
/// the variable store.
pub struct Firmware {
    pub code: PathBuf,
    pub vars: PathBuf,
}

/// Makes a fresh writable copy of OVMF's variable store at `dest`, so every
/// boot starts from the same firmware state.
pub fn firmware(dest: &Path) -> Result<Firmware, String> {
    let ovmf = find_ovmf(Path::new(OVMF_DIR))
        .ok_or_else(|| format!("no OVMF firmware in {OVMF_DIR} (apt-get install ovmf)"))?;
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let _ = fs::remove_file(dest);
    fs::copy(&ovmf.vars, dest)
        .and_then(|_| fs::set_permissions(dest, fs::Permissions::from_mode(0o644)))
        .map_err(|e| format!("copying {} to {}: {e}", ovmf.vars.display(), dest.display()))?;
    Ok(Firmware { code: ovmf.code, vars: dest.to_path_buf() })
}

/// Where the serial console goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serial {
    /// Serial and the QEMU monitor multiplexed on the terminal: Ctrl-A X
    /// quits, Ctrl-A C switches to the monitor, Ctrl-C reaches the guest.
    Terminal,
    /// Plain serial on stdio, for a pipe (the self-test boots).
    Pipe,
}

/// A host port forwarded to a guest TCP port (`--forward HOST:GUEST`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    pub host: u16,
    pub guest: u16,
}

/// What `cargo mk qemu` forwards unless told otherwise.
pub const DEFAULT_FORWARD: Forward = Forward { host: 8080, guest: 80 };

/// The machine's network card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nic {
    /// QEMU's default for q35, an e1000e at 00:02.0 (Ferrite drives none).
    QemuDefault,
    /// A `virtio-net-pci` card (`virtio-netd`'s `network:0`) on QEMU's
    /// user-mode network: the guest is 10.0.2.15 (by DHCP), the host
    /// 10.0.2.2; with a forward, connections to 127.0.0.1:HOST on the host
    /// reach the guest's port GUEST (only loopback: nothing outside this
    /// machine can connect). QEMU then adds no default card.
    Virtio(Option<Forward>),
    /// [`Nic::Virtio`] with a TCP and a UDP forward (the network test),
    /// and maybe a second card on a [`Wire`].
    VirtioWithUdp { tcp: Forward, udp: Forward, wire: Option<Wire> },
    /// [`Nic::Virtio`] on a user network that reaches nothing outside
    /// QEMU (`restrict=on`: DHCP and the gateway's replies only): the
    /// fuzzer's connections must not touch the host.
    Isolated,
}

/// A second `virtio-net-pci` card (the guest's `network:1`, MAC
/// [`WIRE_MAC`]) whose frames QEMU sends as UDP datagrams from
/// 127.0.0.1:`qemu` to 127.0.0.1:`peer`, and takes from there: mk plays
/// the rest of that Ethernet (`-netdev dgram`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wire {
    pub qemu: u16,
    pub peer: u16,
}

/// The MAC address of the card on a [`Wire`].
pub const WIRE_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x57];

/// Everything that varies between boots.
pub struct Machine<'a> {
    pub image: &'a Path,
    pub firmware: Option<&'a Firmware>,
    pub smp: u32,
    pub mem: &'a str,
    pub serial: Serial,
    pub display: bool,
    pub gdb: bool,
    pub icount: bool,
    /// Raw disk images attached as virtio block devices, in order (the
    /// guest's `disk:0`, `disk:1`, ...).
    pub disks: &'a [PathBuf],
    pub nic: Nic,
}

/// QEMU option values separate fields with commas; a comma in a file name
/// is written twice.
fn file_value(path: &Path) -> String {
    path.to_string_lossy().replace(',', ",,")
}

/// QEMU's arguments for `machine`.
pub fn args(machine: &Machine<'_>) -> Vec<OsString> {
    let mut args: Vec<String> = vec![
        "-machine".into(),
        "q35".into(),
        "-cpu".into(),
        "max".into(),
        "-smp".into(),
        machine.smp.to_string(),
        "-m".into(),
        machine.mem.into(),
        "-serial".into(),
        match machine.serial {
            Serial::Terminal => "mon:stdio".into(),
            Serial::Pipe => "stdio".into(),
        },
        "-device".into(),
        "isa-debug-exit,iobase=0xf4,iosize=0x04".into(),
    ];
    // A test boot ends on a reset (a triple fault, or `reboot`); at the
    // terminal, `reboot` restarts the machine as a user expects.
    if machine.serial == Serial::Pipe {
        args.insert(10, "-no-reboot".into());
    }
    if machine.display {
        args.extend(["-vga".into(), "std".into()]);
    } else {
        args.extend(["-display".into(), "none".into()]);
    }
    if let Some(firmware) = machine.firmware {
        args.extend([
            "-drive".into(),
            format!("if=pflash,format=raw,readonly=on,file={}", file_value(&firmware.code)),
            "-drive".into(),
            format!("if=pflash,format=raw,file={}", file_value(&firmware.vars)),
        ]);
    }
    args.extend(["-drive".into(), format!("format=raw,file={}", file_value(machine.image))]);
    args.extend(disk_args(machine.disks));
    args.extend(nic_args(machine.nic));
    if machine.icount {
        args.extend(["-icount".into(), "shift=0".into()]);
    }
    if machine.gdb {
        args.extend(["-s".into(), "-S".into()]);
    }
    args.into_iter().map(OsString::from).collect()
}

/// The arguments that attach `disks` as virtio block devices, in order
/// (Ferrite's `disk:0`, `disk:1`, ...; Linux's `/dev/vda`, `/dev/vdb`, ...).
pub fn disk_args(disks: &[PathBuf]) -> Vec<String> {
    let mut args = Vec::new();
    for (n, disk) in disks.iter().enumerate() {
        args.extend([
            "-drive".into(),
            format!("if=none,id=disk{n},format=raw,file={}", file_value(disk)),
            "-device".into(),
            format!("virtio-blk-pci,drive=disk{n}"),
        ]);
    }
    args
}

/// The arguments that attach the network card `nic` (none for QEMU's
/// default card).
pub fn nic_args(nic: Nic) -> Vec<String> {
    let (tcp, udp, wire) = match nic {
        Nic::QemuDefault => return Vec::new(),
        Nic::Virtio(forward) => (forward, None, None),
        Nic::VirtioWithUdp { tcp, udp, wire } => (Some(tcp), Some(udp), wire),
        Nic::Isolated => {
            return vec![
                "-netdev".into(),
                "user,id=net0,restrict=on".into(),
                "-device".into(),
                "virtio-net-pci,netdev=net0".into(),
            ];
        }
    };
    let mut netdev = String::from("user,id=net0");
    if let Some(Forward { host, guest }) = tcp {
        netdev.push_str(&format!(",hostfwd=tcp:127.0.0.1:{host}-:{guest}"));
    }
    if let Some(Forward { host, guest }) = udp {
        netdev.push_str(&format!(",hostfwd=udp:127.0.0.1:{host}-:{guest}"));
    }
    let mut args = vec!["-netdev".into(), netdev, "-device".into(), "virtio-net-pci,netdev=net0".into()];
    if let Some(Wire { qemu, peer }) = wire {
        let m = WIRE_MAC;
        args.extend([
            "-netdev".into(),
            format!(
                "dgram,id=net1,local.type=inet,local.host=127.0.0.1,local.port={qemu},\
                 remote.type=inet,remote.host=127.0.0.1,remote.port={peer}"
            ),
            "-device".into(),
            format!(
                "virtio-net-pci,netdev=net1,mac={:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
        ]);
    }
    args
}

/// The line `cargo mk qemu` prints about a forward.
pub fn describe_forward(forward: Forward) -> String {
    format!("host 127.0.0.1:{} -> guest port {}", forward.host, forward.guest)
}

/// Whether `port` on the host's loopback is free to forward (QEMU would
/// refuse to start otherwise, with a less helpful message).
fn check_host_port(port: u16) -> Result<(), String> {
    std::net::TcpListener::bind(("127.0.0.1", port)).map(drop).map_err(|e| {
        format!("cannot forward host port 127.0.0.1:{port} ({e}); pick another with --forward HOSTPORT:GUESTPORT")
    })
}

/// What QEMU's exit status means for a Ferrite kernel.
pub fn exit_meaning(code: Option<i32>) -> String {
    match code {
        Some(0) => "QEMU quit (0)".to_string(),
        Some(EXIT_PASSED) => "self-tests passed (33)".to_string(),
        Some(EXIT_FAILED) => "self-tests failed (35)".to_string(),
        Some(EXIT_PANIC) => "kernel panic (37)".to_string(),
        Some(1) => "QEMU failed, or the guest wrote 0 to the debug-exit port (1)".to_string(),
        Some(code) if code & 1 == 1 && code < 256 => {
            format!("the guest wrote {:#x} to the debug-exit port ({code})", code >> 1)
        }
        Some(code) => format!("QEMU exited with status {code}"),
        None => "QEMU was killed by a signal".to_string(),
    }
}

/// `cargo mk qemu`: build, boot, and hand back QEMU's exit status.
pub fn run(ws: &Workspace, opts: &QemuOpts) -> Result<ExitCode, String> {
    let images = images::build(ws, opts.profile)?;
    let kernel = if opts.selftest { images::selftest(&images) } else { images::normal(&images) };
    let firmware = if opts.uefi { Some(firmware(&ws.mk_dir().join("OVMF_VARS.fd"))?) } else { None };
    let image = if opts.uefi { &kernel.uefi } else { &kernel.bios };
    let disk = match &opts.disk {
        Some(path) => PathBuf::from(path),
        None => ws.mk_dir().join(DATA_DISK),
    };
    disk::prepare_data_disk(&disk, opts.fresh_disk)?;
    check_host_port(opts.forward.host)?;
    let disks = [disk];
    let machine = Machine {
        image,
        firmware: firmware.as_ref(),
        smp: opts.smp,
        mem: &opts.mem,
        serial: Serial::Terminal,
        display: opts.display,
        gdb: opts.gdb,
        icount: opts.icount,
        disks: &disks,
        nic: Nic::Virtio(Some(opts.forward)),
    };
    let mut cmd = process::clean(ws, QEMU);
    cmd.args(args(&machine));
    println!(
        "mk: booting {} ({}, {} CPUs, {}) with the data disk {}; Ctrl-A X quits QEMU",
        ws.show(image),
        if opts.uefi { "UEFI" } else { "BIOS" },
        opts.smp,
        opts.mem,
        ws.show(&disks[0])
    );
    println!("mk: {}", process::describe(&cmd));
    println!("mk: {} (a virtio network card on QEMU's user network)", describe_forward(opts.forward));
    if opts.gdb {
        println!("mk: QEMU waits for gdb; attach with: gdb {} -ex 'target remote :1234'", ws.show(&kernel.kernel));
    }
    let status = cmd.status().map_err(|e| process::spawn_error(&cmd, e))?;
    println!("mk: {}", exit_meaning(status.code()));
    let code = match status.code() {
        Some(code) => code,
        None => {
            use std::os::unix::process::ExitStatusExt;
            128 + status.signal().unwrap_or(0)
        }
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// A running QEMU whose serial output (stdout) arrives line by line, each
/// line with the time since QEMU started.
pub struct Running {
    pub child: Child,
    pub started: Instant,
    pub lines: mpsc::Receiver<(Duration, Vec<u8>)>,
    pub reader: JoinHandle<()>,
}

/// Start `cmd` (whose stdout must be piped) and read its output on a thread.
pub fn spawn_reading_lines(cmd: &mut Command) -> Result<Running, String> {
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| process::spawn_error(cmd, e))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, lines) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match stdout.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send((started.elapsed(), line)).is_err() {
                        break;
                    }
                }
            }
        }
    });
    Ok(Running { child, started, lines, reader })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: &[OsString]) -> String {
        args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn bios_command_line() {
        let machine = Machine {
            image: Path::new("/t/ferrite-bios.img"),
            firmware: None,
            smp: 2,
            mem: "256M",
            serial: Serial::Pipe,
            display: false,
            gdb: false,
            icount: false,
            disks: &[],
            nic: Nic::QemuDefault,
        };
        assert_eq!(
            words(&args(&machine)),
            "-machine q35 -cpu max -smp 2 -m 256M -serial stdio -no-reboot \
             -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none \
             -drive format=raw,file=/t/ferrite-bios.img"
        );
    }

    #[test]
    fn uefi_and_options() {
        let firmware = Firmware { code: "/usr/share/OVMF/OVMF_CODE_4M.fd".into(), vars: "/t/OVMF_VARS.fd".into() };
        let machine = Machine {
            image: Path::new("/t/a,b.img"),
            firmware: Some(&firmware),
            smp: 4,
            mem: "1G",
            serial: Serial::Terminal,
            display: true,
            gdb: true,
            icount: true,
            disks: &[PathBuf::from("/t/data.img")],
            nic: Nic::Virtio(Some(Forward { host: 8081, guest: 8000 })),
        };
        let line = words(&args(&machine));
        assert!(line.contains("-smp 4 -m 1G -serial mon:stdio"), "{line}");
        assert!(line.contains("-vga std"), "{line}");
        assert!(!line.contains("-display"), "{line}");
        assert!(line.contains(
            "-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
             -drive if=pflash,format=raw,file=/t/OVMF_VARS.fd"
        ));
        assert!(line.contains("-drive format=raw,file=/t/a,,b.img"), "{line}");
        assert!(
            line.contains("-drive if=none,id=disk0,format=raw,file=/t/data.img -device virtio-blk-pci,drive=disk0")
        );
        assert!(
            line.contains(
                "-netdev user,id=net0,hostfwd=tcp:127.0.0.1:8081-:8000 -device virtio-net-pci,netdev=net0 -icount"
            ),
            "{line}"
        );
        assert!(!line.contains("-no-reboot"), "{line}");
        assert!(line.ends_with("-icount shift=0 -s -S"), "{line}");
        assert!(!line.contains("kvm"), "{line}");
    }

    #[test]
    fn network_cards() {
        assert!(nic_args(Nic::QemuDefault).is_empty());
        assert_eq!(nic_args(Nic::Virtio(None)).join(" "), "-netdev user,id=net0 -device virtio-net-pci,netdev=net0");
        let forwarded = nic_args(Nic::Virtio(Some(DEFAULT_FORWARD))).join(" ");
        assert!(forwarded.contains("hostfwd=tcp:127.0.0.1:8080-:80"), "{forwarded}");
        // Only loopback on the host side, never every address.
        assert!(!forwarded.contains("0.0.0.0") && !forwarded.contains("tcp::"), "{forwarded}");
        assert_eq!(describe_forward(DEFAULT_FORWARD), "host 127.0.0.1:8080 -> guest port 80");
        let wired = nic_args(Nic::VirtioWithUdp {
            tcp: DEFAULT_FORWARD,
            udp: Forward { host: 7001, guest: 7000 },
            wire: Some(Wire { qemu: 5001, peer: 5002 }),
        })
        .join(" ");
        assert!(wired.contains("hostfwd=udp:127.0.0.1:7001-:7000"), "{wired}");
        assert!(
            wired.contains(
                "-netdev dgram,id=net1,local.type=inet,local.host=127.0.0.1,local.port=5001,remote.type=inet,\
                 remote.host=127.0.0.1,remote.port=5002 -device virtio-net-pci,netdev=net1,mac=52:54:00:12:34:57"
            ),
            "{wired}"
        );
        assert!(nic_args(Nic::Isolated).join(" ").contains("restrict=on"));
    }

    #[test]
    fn a_taken_host_port_is_refused() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = check_host_port(port).unwrap_err();
        assert!(err.contains(&format!("127.0.0.1:{port}")) && err.contains("--forward"), "{err}");
        drop(taken);
    }

    #[test]
    fn exit_codes() {
        assert!(exit_meaning(Some(33)).contains("passed"));
        assert!(exit_meaning(Some(35)).contains("failed"));
        assert!(exit_meaning(Some(37)).contains("panic"));
        assert!(exit_meaning(Some(7)).contains("0x3"));
        assert!(exit_meaning(None).contains("signal"));
    }

    #[test]
    fn finds_ovmf() {
        let dir = std::env::temp_dir().join(format!("mk-ovmf-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(find_ovmf(&dir), None);
        fs::write(dir.join("OVMF_CODE.fd"), "").unwrap();
        fs::write(dir.join("OVMF_VARS.fd"), "").unwrap();
        assert_eq!(find_ovmf(&dir).unwrap().code, dir.join("OVMF_CODE.fd"));
        fs::write(dir.join("OVMF_CODE_4M.fd"), "").unwrap();
        assert_eq!(find_ovmf(&dir).unwrap().code, dir.join("OVMF_CODE.fd"));
        fs::write(dir.join("OVMF_VARS_4M.fd"), "").unwrap();
        assert_eq!(
            find_ovmf(&dir),
            Some(Ovmf { code: dir.join("OVMF_CODE_4M.fd"), vars: dir.join("OVMF_VARS_4M.fd") })
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
