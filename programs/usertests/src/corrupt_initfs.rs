//! The initfs daemon and reader on corrupt images: a small valid image
//! (packed by build.rs with the host writer) is truncated, has bytes
//! flipped and fields overwritten; every version must be refused or served
//! without a panic, and a daemon started on a refused one ends cleanly.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use initfsd::InitFs;
use rt::abi::syscall as sc;
use scheme::{Caller, Opened, Scheme};

use crate::support::{Outcome, ensure, expect_exit, run_child};

static IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/test-initfs.img"));

const CALLER: Caller = Caller { pid: 1, uid: 0, gid: 0 };

/// Open and read everything reachable from the root; bytes read.
fn walk(fs: &mut InitFs, path: &str, depth: usize) -> usize {
    let Ok(Opened::Handle(handle)) = fs.open(path, sc::O_RDONLY, &CALLER) else { return 0 };
    let mut total = 0;
    let mut contents = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = fs.read(handle, &mut buf, 0) {
        if n == 0 {
            break;
        }
        total += n;
        contents.extend_from_slice(&buf[..n]);
    }
    let mut stat = sc::Stat::default();
    let is_dir = fs.fstat(handle, &mut stat).is_ok() && stat.st_mode & sc::MODE_TYPE == sc::MODE_DIR;
    let _ = fs.fmap(handle, 0, 4096, sc::MapFlags::PROT_READ | sc::MapFlags::MAP_PRIVATE);
    fs.close(handle);
    if is_dir && depth < 8 {
        for name in String::from_utf8_lossy(&contents).lines() {
            let child = if path.is_empty() { String::from(name) } else { format!("{path}/{name}") };
            total += walk(fs, &child, depth + 1);
        }
    }
    total
}

fn leak(bytes: Vec<u8>) -> &'static [u8] {
    alloc::boxed::Box::leak(bytes.into_boxed_slice())
}

pub fn corrupt_initfs_images_are_refused() -> Outcome {
    let mut good = InitFs::new(IMAGE).map_err(|e| format!("the valid test image was refused: {e}"))?;
    let read = walk(&mut good, "", 0);
    ensure!(read > 0, "nothing readable in the valid image");
    let mut refused = 0;
    let mut served = 0;
    let mut variants: Vec<Vec<u8>> = Vec::new();
    for len in (0..IMAGE.len()).step_by(7) {
        variants.push(IMAGE[..len].to_vec());
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..600 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut bytes = IMAGE.to_vec();
        let at = (state % bytes.len() as u64) as usize;
        match state >> 60 {
            0..=9 => bytes[at] ^= 1 << ((state >> 8) % 8),
            10..=13 => bytes[at] = 0xff,
            _ => {
                let end = (at + 8).min(bytes.len());
                bytes[at..end].fill((state >> 16) as u8);
            }
        }
        variants.push(bytes);
    }
    for bytes in variants {
        match InitFs::new(leak(bytes)) {
            Ok(mut fs) => {
                walk(&mut fs, "", 0);
                served += 1;
            }
            Err(_) => refused += 1,
        }
    }
    ensure!(refused > 0, "no corrupt image was refused");
    // A daemon handed a corrupt image ends with an error, not a crash.
    let status = run_child(|| match initfsd::serve(leak(IMAGE[..40].to_vec()), || {}) {
        Err(_) => 0,
        Ok(()) => 1,
    })?;
    expect_exit("daemon on a truncated image", status, 0)?;
    Ok(format!("{refused} refused, {served} parsed and walked without a panic"))
}
