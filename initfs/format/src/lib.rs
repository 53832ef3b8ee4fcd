//! The initfs image format: the read-only file system image the bootloader
//! hands the kernel as its ramdisk, carrying the first programs (`bin/…`) and
//! their configuration (`etc/…`).
//!
//! What it may touch: the reader ([`Image`]) touches only the byte slice it is
//! handed — no allocation, no `unsafe`, no I/O — so the kernel and the
//! userspace `initfs:` daemon can both use it. The writer ([`Builder`],
//! [`pack_dir`]) exists only with the `std` feature (and in tests) and is the
//! one part that allocates or reads host files.
//!
//! The image is untrusted input. [`Image::parse`] validates *everything* up
//! front, in one pass over the image with no allocation: every offset and
//! length, every directory entry and name, and that the directories form a
//! tree. A corrupt image is an [`Error`], never a panic, an out-of-bounds
//! access or an endless loop. After a successful parse the accessors can fail
//! only for the caller's mistakes (`NotFound`, `NotADirectory`, ...). Outside
//! tests the crate denies indexing, slicing, unchecked arithmetic and `unwrap`
//! to keep it that way.
//!
//! # Format, version 1
//!
//! All integers are little endian. Offsets are from the start of the image.
//!
//! **Header** (32 bytes at offset 0):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0  | 8 | magic `b"FERRITFS"` |
//! | 8  | 4 | version, `1` |
//! | 12 | 4 | inode count, `>= 1` |
//! | 16 | 8 | inode table offset, `>= 32` |
//! | 24 | 8 | image length in bytes, `32 ..= slice length` |
//!
//! The slice handed to [`Image::parse`] may be longer than the image (a
//! ramdisk rounded up to whole pages); bytes past the image length are
//! ignored.
//!
//! **Inode table**: `inode count` entries of 24 bytes, entirely inside the
//! image. Inode `n` is entry `n`; inode 0 is the root and is a directory.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0  | 1 | kind: `1` = file, `2` = directory |
//! | 1  | 1 | reserved, `0` |
//! | 2  | 2 | mode: permission bits, `<= 0o7777` (e.g. `0o755` for programs) |
//! | 4  | 4 | entry count (directories); `0` for files |
//! | 8  | 8 | data length in bytes |
//! | 16 | 8 | data offset |
//!
//! Every inode's data `offset .. offset + length` lies inside the image. A
//! file's data offset is a multiple of [`PAGE_SIZE`] (also when it is empty),
//! so the `initfs:` daemon can map file pages straight out of the ramdisk,
//! and a non-empty file's data starts after the inode table (never in the
//! header or the table). Files may share data: two file inodes may name the
//! same (or an overlapping) range, which is how identical contents are
//! stored once; the image is read-only, so sharing is never visible.
//!
//! **Directory data**: `entry count` entries back to back, exactly filling the
//! directory's data length:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | inode number |
//! | 4 | 1 | name length `n`, `1 ..= 255` |
//! | 5 | n | name: UTF-8, no `/`, no NUL, not `.` or `..` |
//!
//! Within a directory the names are in strictly ascending byte order (so they
//! are unique).
//!
//! **Tree shape**: inode numbers are assigned breadth-first. Reading the
//! directories in inode-number order and each directory's entries in order,
//! the entries name the inodes `1, 2, 3, …, inode count - 1` in exactly that
//! sequence, and every entry's inode number is greater than its directory's.
//! So every inode except the root has exactly one parent, the root has none,
//! and following parents always reaches the root: the directories form a
//! tree, with no cycles and no unreachable inodes. The check needs one
//! counter, no allocation.
//!
//! **Writer layout** (what [`Builder`] produces; the reader does not require
//! it): header, inode table, all directory data, zero padding to a page
//! boundary, then each non-empty file's data in inode order, each starting on
//! a page and zero-padded to the next one; a file whose bytes equal an
//! earlier file's names that file's range instead of storing them again. The image length is a multiple of
//! [`PAGE_SIZE`]; an empty file's data offset is the page-aligned position
//! where its data would have gone. The output depends only on the tree, so it
//! is reproducible.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

#[cfg(any(test, feature = "std"))]
extern crate std;

mod error;
mod format;
mod reader;
#[cfg(any(test, feature = "std"))]
mod writer;

#[cfg(test)]
mod tests;

pub use error::Error;
pub use format::{
    DIR_ENTRY_HEADER_LEN, FORMAT_VERSION, HEADER_LEN, INODE_LEN, MAGIC, MAX_MODE, MAX_NAME_LEN, PAGE_SIZE, ROOT,
    is_valid_name,
};
pub use reader::{DirEntry, DirIter, Image, Inode, InodeNum, Kind};
#[cfg(any(test, feature = "std"))]
pub use writer::{BuildError, Builder, pack_dir};
