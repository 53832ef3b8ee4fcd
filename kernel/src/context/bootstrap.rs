//! The first process. The kernel finds `sbin/bootstrap` in the initfs image
//! the bootloader brought as its ramdisk, loads it *without* a stack (its
//! assembly stub makes one), maps the whole image read-only into it and
//! starts it with the image's address and length in RDI and RSI, and in
//! RDX whether this is a self-test boot. Bootstrap serves the image as
//! `initfs:` from userspace and execs init (docs/architecture.md §1.3).
//!
//! The kernel keeps a view of the image for one purpose: exec of a file
//! whose pages the initfs daemon maps from it ([`resident_file`]) reads it
//! in place instead of copying it through the daemon.

use alloc::sync::Arc;

use abi::syscall::error::{EINVAL, ENOENT, ENOEXEC, Error};
use abi::syscall::{MapFlags, Stat};
use spin::Once;
use x86_64::VirtAddr;

use super::exec::{self, Executable, MAX_EXECUTABLE};
use super::file::{FileDescription, FileTable};
use super::process::Process;
use super::scheduler;
use super::thread::Thread;
use crate::memory::address_space::{FrameKind, Placement, Prot};
use crate::memory::usercopy;
use crate::memory::{PAGE_SIZE, paging};
use crate::scheme::Mapping;

/// The path of the first program inside the image.
pub const BOOTSTRAP: &str = "sbin/bootstrap";

/// The boot ramdisk, as the bootloader mapped it (page-aligned start).
static RAMDISK: Once<&'static [u8]> = Once::new();

/// Start bootstrap from `image` (the ramdisk). Returns its pid.
pub fn spawn(image: &'static [u8], selftest: bool) -> Result<usize, Error> {
    if !(image.as_ptr() as u64).is_multiple_of(PAGE_SIZE) {
        return Err(Error::new(EINVAL));
    }
    RAMDISK.call_once(|| image);
    let parsed = initfs::Image::parse(image).map_err(|err| {
        log::error!("initfs: the ramdisk is not a valid image: {err}");
        Error::new(EINVAL)
    })?;
    log::info!("initfs: {} inodes, {} KiB", parsed.inode_count(), image.len() / 1024);
    let inode = parsed.lookup(BOOTSTRAP).map_err(|_| Error::new(ENOENT))?;
    let bytes = parsed.file_data(inode).map_err(|_| Error::new(ENOEXEC))?;
    let mut program = exec::load_bare(&Executable::Resident(bytes))?;

    // The image, read-only, at an address the kernel picks.
    let len = image.len().next_multiple_of(PAGE_SIZE as usize) as u64;
    let base = program.space.map(0, len, Prot::R, false, Placement::Hint)?;
    for offset in (0..image.len()).step_by(PAGE_SIZE as usize) {
        let (phys, _) =
            paging::translate(VirtAddr::from_ptr(image.as_ptr()) + offset as u64).ok_or(Error::new(EINVAL))?;
        let frame = x86_64::structures::paging::PhysFrame::containing_address(phys);
        program.space.map_borrowed(base + offset as u64, frame)?;
    }

    let mut frame = program.initial_frame();
    frame.rdi = base;
    frame.rsi = image.len() as u64;
    frame.rdx = u64::from(selftest);
    let process = Process::new(
        0,
        None,
        alloc::string::String::from("bootstrap"),
        program.space,
        FileTable::with_console()?,
        (0, 0),
        crate::scheme::namespace::root(),
    );
    let thread = Thread::new_user(Arc::clone(&process), &frame, None)?;
    process.threads.lock().push(thread.clone());
    scheduler::spawn(thread);
    log::info!("started {BOOTSTRAP} as pid {} (image at {base:#x}, {} bytes)", process.pid, image.len());
    Ok(process.pid)
}

/// If `file`'s pages are pages of the boot ramdisk (an initfs file the
/// daemon maps from the image), its contents, read in place.
pub fn resident_file(file: &FileDescription) -> Option<&'static [u8]> {
    let ramdisk = *RAMDISK.get()?;
    let scheme = file.scheme.scheme();
    let mut stat = usercopy::zeroed::<Stat>();
    scheme.fstat(file.handle, &mut stat).ok()?;
    let len = usize::try_from(stat.st_size).ok().filter(|&l| l > 0 && l <= MAX_EXECUTABLE)?;
    let pages = len.next_multiple_of(PAGE_SIZE as usize);
    let Mapping::Frames(frames) =
        scheme.fmap(file.handle, 0, pages, MapFlags::PROT_READ | MapFlags::MAP_PRIVATE).ok()?
    else {
        return None;
    };
    let frames = frames.as_slice();
    let page_of = |offset: usize| paging::translate(VirtAddr::from_ptr(ramdisk.as_ptr()) + offset as u64);
    let (base, _) = page_of(0)?;
    let (first, kind) = *frames.first()?;
    if kind != FrameKind::Borrowed {
        return None;
    }
    let start = usize::try_from(first.start_address().as_u64().checked_sub(base.as_u64())?).ok()?;
    if start.checked_add(len)? > ramdisk.len() {
        return None;
    }
    for (i, &(frame, kind)) in frames.iter().enumerate() {
        let (phys, _) = page_of(start + i * PAGE_SIZE as usize)?;
        if kind != FrameKind::Borrowed || phys != frame.start_address() {
            return None;
        }
    }
    Some(&ramdisk[start..start + len])
}
