//! `cargo mk`: Ferrite's host build tool (docs/architecture.md §7, §9).
//!
//! It exists because building Ferrite takes more than one `cargo` call: the
//! kernel and the userspace programs build on the pinned stable toolchain for
//! `x86_64-unknown-none`, the programs are packed into the initfs image the
//! kernel gets as its ramdisk, the disk images come from a small tool that
//! needs its own nightly, and QEMU
//! needs firmware and a particular command line. `mk` installs what is
//! missing, runs those steps in order and reads the self-test verdict back.
//!
//! Run it as `cargo mk <command>` (an alias in `.cargo/config.toml`).

mod bench;
mod boottime;
mod check;
mod cli;
mod console_lines;
mod damaged;
mod disk;
mod forged;
mod fullscreen;
mod fuzz;
mod guest;
mod hostile;
mod images;
mod linux;
mod netbench;
mod network;
mod persistence;
mod picture;
mod powercut;
mod process;
mod profile;
mod qemu;
mod readme;
mod screenshot;
mod selftest;
mod session;
mod setup;
mod shutdown;
mod smoke;
mod supervision;
mod userspace;
mod wire;
mod workspace;

use std::process::ExitCode;

use cli::Command;
use workspace::Workspace;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("mk: {err}");
            eprintln!("mk: run `cargo mk help` for the commands and flags");
            return ExitCode::from(2);
        }
    };
    match run(command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mk: error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Help => {
            print!("{}", cli::HELP);
            Ok(ExitCode::SUCCESS)
        }
        Command::Setup => {
            let ws = Workspace::locate()?;
            setup::run(&ws, setup::Needs::ALL)?;
            println!("mk: setup complete");
            Ok(ExitCode::SUCCESS)
        }
        Command::Build(opts) => {
            let ws = Workspace::locate()?;
            setup::run(&ws, setup::Needs::BUILD)?;
            let images = images::build(&ws, opts.profile)?;
            for image in &images {
                println!("mk: {}", ws.show(&image.bios));
                println!("mk: {}", ws.show(&image.uefi));
            }
            println!("mk: {}", ws.show(&ws.initfs_image(opts.profile)));
            Ok(ExitCode::SUCCESS)
        }
        Command::Qemu(opts) => {
            let ws = Workspace::locate()?;
            setup::run(&ws, setup::Needs::QEMU)?;
            qemu::run(&ws, &opts)
        }
        Command::Bench(opts) => {
            let ws = Workspace::locate()?;
            setup::run(&ws, setup::Needs::QEMU)?;
            bench::run(&ws, &opts)
        }
        Command::Fuzz(run) => {
            let ws = Workspace::locate()?;
            setup::run(&ws, setup::Needs::QEMU)?;
            let images = images::build(&ws, crate::workspace::Profile::Debug)?;
            match fuzz::run(&ws, &images::normal(&images).bios, &run) {
                Ok(line) => {
                    println!("mk: {line}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    println!("mk: fuzzing failed: {err}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Test(opts) => {
            let ws = Workspace::locate()?;
            setup::run(&ws, setup::Needs::ALL)?;
            check::run(&ws, &opts)
        }
        Command::Disk(opts) => {
            let ws = Workspace::locate()?;
            let image = match &opts.disk {
                Some(path) => std::path::PathBuf::from(path),
                None => ws.mk_dir().join(qemu::DATA_DISK),
            };
            disk::prepare_data_disk(&image, false)?;
            match opts.action {
                cli::DiskAction::Ls(path) => {
                    for line in disk::ls(&image, &path)? {
                        println!("{line}");
                    }
                }
                cli::DiskAction::Cat(path) => {
                    use std::io::Write;
                    let data = disk::read(&image, &path)?;
                    std::io::stdout().write_all(&data).map_err(|e| format!("writing: {e}"))?;
                }
                cli::DiskAction::Put(host, path) => {
                    let data = std::fs::read(&host).map_err(|e| format!("reading {host}: {e}"))?;
                    disk::write(&image, &path, &data)?;
                    println!("mk: {host} -> {path} ({} bytes)", data.len());
                }
                cli::DiskAction::Get(path, host) => {
                    let data = disk::read(&image, &path)?;
                    std::fs::write(&host, &data).map_err(|e| format!("writing {host}: {e}"))?;
                    println!("mk: {path} -> {host} ({} bytes)", data.len());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
