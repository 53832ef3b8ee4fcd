//! Shared test helpers: a sample tree, a full tree walk, and byte patching
//! of images. Test-only; touches only the buffers it is given.

use std::collections::BTreeMap;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use crate::*;

/// What a walk finds at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Dir { mode: u16, entries: u64 },
    File { mode: u16, data: Vec<u8> },
}

/// The sample tree: `(path, data, mode)` files plus extra empty dirs.
pub fn sample_files() -> Vec<(&'static str, Vec<u8>, u16)> {
    vec![
        ("bin/init", (0..5000u32).map(|i| i as u8).collect(), 0o755),
        ("bin/sh", b"#!shell\n".to_vec(), 0o755),
        ("etc/init.rc", b"serial\nps2\nsh\n".to_vec(), 0o644),
        ("etc/empty", Vec::new(), 0o600),
        ("a/b/c/d/deep.txt", vec![0xAA; 4096], 0o444),
        ("a/b/x", vec![1; 4097], 0o644),
        ("zeta", b"last".to_vec(), 0o644),
    ]
}

pub const SAMPLE_DIRS: &[&str] = &["empty-dir", "a/b/c/other"];

pub fn sample_builder() -> Builder {
    let mut b = Builder::new();
    for (path, data, mode) in sample_files() {
        b.add_file(path, data, mode).unwrap();
    }
    for dir in SAMPLE_DIRS {
        b.add_dir(dir).unwrap();
    }
    b
}

pub fn sample_image() -> Vec<u8> {
    sample_builder().build()
}

/// A small image: root with dirs `dir_a/dir_b/dir_c`, files `f1` (one page)
/// and `dir_a/f2` (empty), and `dir_a/dir_b/dir_c/f3`.
/// Inodes (breadth first): 0 root, 1 dir_a, 2 f1, 3 dir_b, 4 f2, 5 dir_c, 6 f3.
pub fn small_image() -> Vec<u8> {
    let mut b = Builder::new();
    b.add_file("f1", b"hello".to_vec(), 0o644).unwrap();
    b.add_file("dir_a/f2", Vec::new(), 0o644).unwrap();
    b.add_file("dir_a/dir_b/dir_c/f3", b"x".to_vec(), 0o755).unwrap();
    b.build()
}

/// Walks the whole tree from the root, checking every accessor agrees, and
/// returns what it found by path. Panics (test failure) if the walk visits
/// more nodes than there are inodes, which a tree cannot make it do.
pub fn walk(image: &Image<'_>) -> BTreeMap<String, Found> {
    let mut found = BTreeMap::new();
    let mut stack = vec![(String::new(), image.root())];
    let mut visited = 0u64;
    while let Some((path, n)) = stack.pop() {
        visited += 1;
        assert!(visited <= u64::from(image.inode_count()), "walk does not end");
        let inode = image.inode(n).unwrap();
        match inode.kind {
            Kind::Dir => {
                let iter = image.read_dir(n).unwrap();
                assert_eq!(iter.len() as u64, inode.size);
                let mut count = 0;
                let mut previous: Option<&str> = None;
                for entry in iter {
                    count += 1;
                    assert!(is_valid_name(entry.name));
                    assert!(previous.is_none_or(|p| p < entry.name));
                    previous = Some(entry.name);
                    let child = if path.is_empty() { entry.name.to_string() } else { format!("{path}/{}", entry.name) };
                    assert_eq!(image.lookup(&child), Ok(entry.inode));
                    stack.push((child, entry.inode));
                }
                assert_eq!(count, inode.size);
                assert_eq!(image.file_data(n), Err(Error::NotAFile));
                assert_eq!(image.data_offset(n), Err(Error::NotAFile));
                found.insert(path, Found::Dir { mode: inode.mode, entries: inode.size });
            }
            Kind::File => {
                let data = image.file_data(n).unwrap();
                assert_eq!(data.len() as u64, inode.size);
                let offset = image.data_offset(n).unwrap();
                assert_eq!(offset % PAGE_SIZE, 0);
                assert_eq!(&image.as_bytes()[offset..offset + data.len()], data);
                assert!(matches!(image.read_dir(n), Err(Error::NotADirectory)));
                found.insert(path, Found::File { mode: inode.mode, data: data.to_vec() });
            }
        }
    }
    assert_eq!(visited, u64::from(image.inode_count()), "unreachable inodes");
    found
}

pub fn get_u32(img: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(img[at..at + 4].try_into().unwrap())
}

pub fn get_u64(img: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(img[at..at + 8].try_into().unwrap())
}

pub fn set_u16(img: &mut [u8], at: usize, v: u16) {
    img[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn set_u32(img: &mut [u8], at: usize, v: u32) {
    img[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn set_u64(img: &mut [u8], at: usize, v: u64) {
    img[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Offset of inode `n`'s table entry.
pub fn inode_at(img: &[u8], n: u32) -> usize {
    get_u64(img, 16) as usize + n as usize * INODE_LEN
}

/// Offset of the directory entry called `name` (found by searching the
/// directory data for its length byte and name; test names are unique).
pub fn entry_at(img: &[u8], name: &str) -> usize {
    let mut pattern = vec![name.len() as u8];
    pattern.extend_from_slice(name.as_bytes());
    let start = inode_at(img, get_u32(img, 12));
    let hit =
        img[start..].windows(pattern.len()).position(|w| w == pattern).unwrap_or_else(|| panic!("no entry {name:?}"));
    start + hit - 4
}
