//! `ferrite-image`: writes the BIOS and UEFI disk images for one kernel (and
//! optional ramdisk) with the `bootloader` crate. Run by `cargo mk build`;
//! it lives in its own workspace because `bootloader`'s build script needs
//! a nightly toolchain.
//!
//! Usage: ferrite-image --kernel ELF [--ramdisk FILE] --bios OUT --uefi OUT

use std::path::PathBuf;
use std::process::ExitCode;

use bootloader::{BootConfig, DiskImageBuilder};

struct Args {
    kernel: PathBuf,
    ramdisk: Option<PathBuf>,
    bios: PathBuf,
    uefi: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let (mut kernel, mut ramdisk, mut bios, mut uefi) = (None, None, None, None);
    let mut args = std::env::args_os().skip(1);
    while let Some(flag) = args.next() {
        let slot = match flag.to_str() {
            Some("--kernel") => &mut kernel,
            Some("--ramdisk") => &mut ramdisk,
            Some("--bios") => &mut bios,
            Some("--uefi") => &mut uefi,
            _ => return Err(format!("unknown argument {}", flag.to_string_lossy())),
        };
        let value = args.next().ok_or_else(|| format!("{} needs a value", flag.to_string_lossy()))?;
        *slot = Some(PathBuf::from(value));
    }
    Ok(Args {
        kernel: kernel.ok_or("--kernel is required")?,
        ramdisk,
        bios: bios.ok_or("--bios is required")?,
        uefi: uefi.ok_or("--uefi is required")?,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("ferrite-image: {err}");
            eprintln!("usage: ferrite-image --kernel ELF [--ramdisk FILE] --bios OUT --uefi OUT");
            return ExitCode::from(2);
        }
    };

    let mut builder = DiskImageBuilder::new(args.kernel);
    if let Some(ramdisk) = args.ramdisk {
        builder.set_ramdisk(ramdisk);
    }
    // Keep the bootloader quiet: the serial port carries only the kernel's
    // output, so tests can read it line by line.
    let mut config = BootConfig::default();
    config.serial_logging = false;
    config.frame_buffer_logging = false;
    builder.set_boot_config(&config);

    if let Err(err) = builder.create_bios_image(&args.bios) {
        eprintln!("ferrite-image: writing {}: {err:#}", args.bios.display());
        return ExitCode::FAILURE;
    }
    if let Err(err) = builder.create_uefi_image(&args.uefi) {
        eprintln!("ferrite-image: writing {}: {err:#}", args.uefi.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
