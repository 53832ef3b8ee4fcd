//! The kernel's capabilities for drivers that do DMA (README "Drivers"):
//! `memory:dma/LEN` buffers with their physical address,
//! `memory:physical/START/LEN` windows (a device's BARs) and `irq:msi`
//! vectors with the message to program, each for root only and each
//! refusing bad arguments with an errno. Delivery of an MSI needs a device
//! that sends one; the disk driver's tests cover that.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use rt::abi::syscall::{self as sc, O_RDWR};
use rt::fs::File;

use crate::support::{Outcome, ensure, expect_err, expect_errno, expect_exit, expect_ok, ok, run_child, syscall};

/// `SYS_FMAP` with a `Map` built here, without MAP_FIXED (harmless).
fn fmap_raw(fd: usize, offset: usize, size: usize, flags: sc::MapFlags) -> isize {
    let map = sc::Map { offset, size, flags, address: 0 };
    syscall(sc::SYS_FMAP, &[fd, (&raw const map).expose_provenance(), size_of::<sc::Map>()])
}

fn frames_used() -> Result<i64, String> {
    let text = ok("read sys:memory", rt::fs::read_to_string("sys:memory"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("frames_used:").and_then(|v| v.trim().parse().ok()))
        .ok_or_else(|| format!("no frames_used in {text:?}"))
}

/// Whether an unprivileged process opening `url` gets `EACCES`.
fn refused_to_users(url: &'static str) -> Result<(), String> {
    let status = run_child(move || {
        if rt::sys::setuid(1000, 1000).is_err() {
            return 2;
        }
        match rt::sys::open(url, O_RDWR) {
            Err(err) if err.errno == sc::EACCES => 0,
            _ => 1,
        }
    })?;
    expect_exit(&format!("{url} as user 1000"), status, 0)
}

pub fn dma_buffers_give_their_physical_address() -> Outcome {
    let mut dma = ok("open memory:dma/0x3000", File::open_with("memory:dma/0x3000", O_RDWR))?;
    let mut address = [0u8; 8];
    ensure!(ok("read the address", dma.read(&mut address))? == 8, "short address");
    let physical = u64::from_ne_bytes(address);
    ensure!(physical != 0 && physical.is_multiple_of(4096), "physical address {physical:#x}");
    let stat = ok("fstat", dma.stat())?;
    ensure!(stat.st_size == 0x3000, "size {}", stat.st_size);
    ensure!(ok("fpath", dma.path())? == "memory:dma/0x3000", "fpath {:?}", dma.path());
    {
        let view = ok("fmap", rt::mem::map_file_shared(dma.fd(), 0, 0x3000))?;
        ensure!(view.atomic_u64s().iter().all(|w| w.load(Ordering::Relaxed) == 0), "not zeroed");
        // Word 1100 is on the third page, word 76 of it.
        view.atomic_u64s()[1100].store(0x5a5a, Ordering::Relaxed);
        // A second view of the last page sees the same RAM.
        let last = ok("fmap of the last page", rt::mem::map_file_shared(dma.fd(), 0x2000, 0x1000))?;
        ensure!(last.atomic_u64s()[76].load(Ordering::Relaxed) == 0x5a5a, "the views differ");
    }
    expect_errno("a private map", fmap_raw(dma.fd(), 0, 4096, sc::PROT_READ | sc::MAP_PRIVATE), sc::EINVAL)?;
    expect_errno("past the end", fmap_raw(dma.fd(), 0x2000, 0x2000, sc::PROT_READ | sc::MAP_SHARED), sc::EINVAL)?;
    expect_err("a short read", rt::sys::read(dma.fd(), &mut [0u8; 4]), sc::EINVAL)?;
    // RAM is not a device: the buffer cannot be reached as physical memory.
    let phys = ok("open memory:physical", File::open_with("memory:physical", O_RDWR))?;
    expect_errno(
        "the buffer through memory:physical",
        fmap_raw(phys.fd(), physical as usize, 4096, sc::PROT_READ | sc::MAP_SHARED),
        sc::EPERM,
    )?;
    // Measured around the closes alone: the page tables the views needed
    // stay with this process, and the kernel heap may grow meanwhile (a
    // frame or two, at any time), so counting from before the open said
    // little. One frame of slack for whatever else runs.
    let open = frames_used()?;
    drop(phys);
    drop(dma);
    let after = frames_used()?;
    ensure!(after + 3 <= open + 1, "frames in use {open} with the buffer open, {after} after: it was not freed");
    for bad in [
        "memory:dma/0",
        "memory:dma/0x400001",
        "memory:dma/",
        "memory:dma/12k",
        "memory:dma/0x",
        "memory:dma/99999999999999999999",
    ] {
        expect_err(bad, rt::sys::open(bad, O_RDWR), sc::EINVAL)?;
    }
    refused_to_users("memory:dma/4096")?;
    Ok(format!("3 pages at {physical:#x}, zeroed, shared views, freed on close; bad sizes EINVAL; users EACCES"))
}

pub fn physical_windows_map_only_inside() -> Outcome {
    // The legacy VGA window: device memory, never touched here.
    let window = ok("open a window", File::open_with("memory:physical/0xa0000/0x2000", O_RDWR))?;
    ensure!(ok("fpath", window.path())? == "memory:physical/0xa0000/0x2000", "fpath {:?}", window.path());
    let flags = sc::PROT_READ | sc::MAP_SHARED;
    expect_ok("inside", fmap_raw(window.fd(), 0xa0000, 0x2000, flags))?;
    expect_ok("the second page", fmap_raw(window.fd(), 0xa1000, 0x1000, flags))?;
    expect_errno("running past its end", fmap_raw(window.fd(), 0xa1000, 0x2000, flags), sc::EPERM)?;
    expect_errno("before it", fmap_raw(window.fd(), 0x9f000, 0x1000, flags), sc::EPERM)?;
    let bad = [
        "memory:physical/0xa0800/0x1000",
        "memory:physical/0xa0000/0x800",
        "memory:physical/0xa0000/0",
        "memory:physical/0xa0000",
        "memory:physical/0xfffffffffffff000/0x2000",
        "memory:physical/0x0/0x80000000",
        "memory:physical/a0000/0x1000",
    ];
    for url in bad {
        expect_err(url, rt::sys::open(url, O_RDWR), sc::EINVAL)?;
    }
    refused_to_users("memory:physical/0xa0000/0x1000")?;
    Ok(String::from("maps inside its window only (EPERM outside); malformed windows EINVAL; users EACCES"))
}

pub fn msi_vectors_are_allocated_with_their_message() -> Outcome {
    let msi = ok("open irq:msi", File::open_with("irq:msi", O_RDWR | sc::O_NONBLOCK))?;
    let path = ok("fpath", msi.path())?;
    ensure!(path.starts_with("irq:msi/"), "fpath {path:?}");
    let mut message = ok("dup message", msi.derive("message"))?;
    let mut bytes = [0u8; 12];
    ensure!(ok("read the message", message.read(&mut bytes))? == 12, "short message");
    let address = u64::from_ne_bytes(bytes[..8].try_into().unwrap_or_default());
    let data = u32::from_ne_bytes(bytes[8..].try_into().unwrap_or_default());
    ensure!(address & !0xf_f000 == 0xfee0_0000, "address {address:#x}");
    ensure!((0x50..0x70).contains(&data), "data (vector) {data:#x}");
    expect_err("a short message buffer", rt::sys::read(message.fd(), &mut [0u8; 8]), sc::EINVAL)?;
    expect_err("dup of another name", rt::sys::dup(msi.fd(), b"nonsense"), sc::EINVAL)?;
    // No device sends it: nothing to read, nothing to acknowledge.
    expect_err("read", rt::sys::read(msi.fd(), &mut [0u8; 8]), sc::EAGAIN)?;
    expect_err("ack of one", rt::sys::write(msi.fd(), &1u64.to_ne_bytes()), sc::EINVAL)?;
    // Take every other vector: each has its own message, then EBUSY.
    let mut taken: Vec<File> = Vec::new();
    let mut datas = alloc::collections::BTreeSet::from([data]);
    let refused = loop {
        match File::open_with("irq:msi", O_RDWR) {
            Ok(file) => {
                let mut bytes = [0u8; 12];
                ok("read", ok("dup", file.derive("message"))?.read(&mut bytes))?;
                datas.insert(u32::from_ne_bytes(bytes[8..].try_into().unwrap_or_default()));
                taken.push(file);
            }
            Err(err) => break err.errno,
        }
        ensure!(taken.len() <= 40, "more than 32 vectors given");
    };
    ensure!(refused == sc::EBUSY, "after {} vectors: errno {refused}", taken.len() + 1);
    ensure!(datas.len() == taken.len() + 1, "{} handles, {} distinct vectors", taken.len() + 1, datas.len());
    let total = taken.len() + 1;
    // Closing gives a vector back.
    drop(taken.pop());
    let again = ok("open after a close", File::open_with("irq:msi", O_RDWR));
    drop(taken);
    again?;
    refused_to_users("irq:msi")?;
    Ok(format!("vector {data:#x} at {address:#x}; {total} vectors then EBUSY; a closed one comes back; users EACCES"))
}

pub fn pci_config_pages_map_one_function() -> Outcome {
    // 00:00.0 is the q35 host bridge (8086:29c0): its page through ECAM
    // must show the same ids `pci:` lists.
    let mut page = ok("open memory:pci/00:00.0", File::open_with("memory:pci/00:00.0", O_RDWR))?;
    ensure!(ok("fpath", page.path())? == "memory:pci/00:00.0", "fpath {:?}", page.path());
    let mut address = [0u8; 8];
    ensure!(ok("read the address", page.read(&mut address))? == 8, "short address");
    let physical = u64::from_ne_bytes(address);
    ensure!(physical != 0 && physical.is_multiple_of(4096), "physical address {physical:#x}");
    let stat = ok("fstat", page.stat())?;
    ensure!(stat.st_size == 4096, "size {}", stat.st_size);
    let ids = {
        let view = ok("fmap", rt::mem::map_file_shared(page.fd(), physical as usize, 4096))?;
        view.atomic_u32s()[0].load(Ordering::Relaxed)
    };
    let listing = {
        let _pci = crate::daemons::start("pcid", "pci")?;
        ok("read pci:", rt::fs::read_to_string("pci:"))?
    };
    let listed = listing
        .lines()
        .find(|l| l.starts_with("00:00.0 "))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default();
    let seen = format!("{:04x}:{:04x}", ids & 0xffff, ids >> 16);
    ensure!(seen == listed, "the page says {seen}, pci: says {listed}");
    let flags = sc::PROT_READ | sc::MAP_SHARED;
    expect_errno("the next function's page", fmap_raw(page.fd(), physical as usize + 4096, 4096, flags), sc::EPERM)?;
    expect_errno("two pages", fmap_raw(page.fd(), physical as usize, 8192, flags), sc::EPERM)?;
    expect_err("a second owner", rt::sys::open("memory:pci/00:00.0", O_RDWR), sc::EBUSY)?;
    drop(page);
    let again = ok("open after the owner closed", File::open_with("memory:pci/00:00.0", O_RDWR));
    drop(again?);
    for bad in ["memory:pci/00:20.0", "memory:pci/00:00.8", "memory:pci/0:0.0", "memory:pci/", "memory:pci/zz:00.0"] {
        expect_err(bad, rt::sys::open(bad, O_RDWR), sc::ENOENT)?;
    }
    refused_to_users("memory:pci/00:00.0")?;
    Ok(format!(
        "00:00.0 at {physical:#x} reads {seen} as pci: lists; one page only; one owner (EBUSY); bad names ENOENT; users EACCES"
    ))
}
