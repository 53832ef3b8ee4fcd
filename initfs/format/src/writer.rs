//! The writer: builds initfs images on the host. [`Builder`] collects a tree
//! of directories and files in memory and lays it out (see "Writer layout"
//! in the crate docs); [`pack_dir`] fills a `Builder` from a host directory.
//!
//! What it may touch: memory it allocates, and — in [`pack_dir`] only — the
//! host directory tree it is pointed at, read-only (symbolic links are
//! refused, never followed). It exists only with the `std` feature (and in
//! tests); the kernel never builds it.
//!
//! Its inputs are the build's own files, not untrusted data, and everything
//! it lays out is already in memory, so plain `usize` arithmetic and indexing
//! cannot overflow or go out of range here; the lints the reader lives under
//! are relaxed for those two alone.

#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use crate::format::*;

/// The mode every directory gets.
const DIR_MODE: u16 = 0o755;
/// How deep [`pack_dir`] descends before giving up.
const MAX_PACK_DEPTH: usize = 64;

/// Why the [`Builder`] refused a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The path names the root (it is empty or only slashes).
    EmptyPath,
    /// A path component is not a valid name ([`is_valid_name`]).
    InvalidName(String),
    /// Something already exists at the path.
    AlreadyExists(String),
    /// A parent component of the path is a file.
    NotADirectory(String),
    /// The mode has bits above [`MAX_MODE`].
    BadMode(u16),
    /// The image would have more than `u32::MAX` inodes.
    TooManyInodes,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::EmptyPath => f.write_str("empty path (the root always exists)"),
            BuildError::InvalidName(name) => write!(f, "invalid initfs name {name:?}"),
            BuildError::AlreadyExists(path) => write!(f, "{path:?} already exists"),
            BuildError::NotADirectory(path) => write!(f, "{path:?} is a file, not a directory"),
            BuildError::BadMode(mode) => write!(f, "mode {mode:#o} has bits above 0o7777"),
            BuildError::TooManyInodes => f.write_str("too many inodes for one image"),
        }
    }
}

impl std::error::Error for BuildError {}

#[derive(Debug, Clone)]
enum Node {
    /// Children by name; `BTreeMap` keeps them in the byte order the format
    /// requires.
    Dir(BTreeMap<String, usize>),
    File {
        data: Vec<u8>,
        mode: u16,
    },
}

/// Collects directories and files, then writes the image with
/// [`Builder::build`].
#[derive(Debug, Clone)]
pub struct Builder {
    /// `nodes[0]` is the root directory; children refer to indices here.
    nodes: Vec<Node>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// An image holding only an empty root directory.
    pub fn new() -> Self {
        Builder { nodes: vec![Node::Dir(BTreeMap::new())] }
    }

    /// Adds an empty directory (mode `0o755`) at `path`, creating missing
    /// parents. Leading and repeated slashes are ignored.
    pub fn add_dir(&mut self, path: &str) -> Result<(), BuildError> {
        self.add(path, Node::Dir(BTreeMap::new()))
    }

    /// Adds a file at `path` with `data` and permission bits `mode`
    /// (`<= 0o7777`), creating missing parent directories.
    pub fn add_file(&mut self, path: &str, data: Vec<u8>, mode: u16) -> Result<(), BuildError> {
        if mode > MAX_MODE {
            return Err(BuildError::BadMode(mode));
        }
        self.add(path, Node::File { data, mode })
    }

    fn add(&mut self, path: &str, node: Node) -> Result<(), BuildError> {
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let Some((last, parents)) = components.split_last() else {
            return Err(BuildError::EmptyPath);
        };
        if let Some(bad) = components.iter().find(|c| !is_valid_name(c)) {
            return Err(BuildError::InvalidName(bad.to_string()));
        }
        // Check the limit before changing anything, so a refused path leaves
        // the builder as it was. (Other refusals happen before any parent is
        // created: a newly created directory is empty.)
        if self.nodes.len() + components.len() > u32::MAX as usize {
            return Err(BuildError::TooManyInodes);
        }

        let mut dir = 0;
        for (depth, name) in parents.iter().enumerate() {
            dir = match self.child(dir, name) {
                Some(index) => match self.nodes[index] {
                    Node::Dir(_) => index,
                    Node::File { .. } => {
                        return Err(BuildError::NotADirectory(components[..=depth].join("/")));
                    }
                },
                None => self.insert(dir, name, Node::Dir(BTreeMap::new())),
            };
        }
        if self.child(dir, last).is_some() {
            return Err(BuildError::AlreadyExists(components.join("/")));
        }
        self.insert(dir, last, node);
        Ok(())
    }

    fn child(&self, dir: usize, name: &str) -> Option<usize> {
        match &self.nodes[dir] {
            Node::Dir(children) => children.get(name).copied(),
            Node::File { .. } => None,
        }
    }

    /// Adds `node` as `name` in directory `dir` (which must be a directory
    /// without that name) and returns its index.
    fn insert(&mut self, dir: usize, name: &str, node: Node) -> usize {
        let index = self.nodes.len();
        self.nodes.push(node);
        if let Node::Dir(children) = &mut self.nodes[dir] {
            children.insert(name.to_string(), index);
        }
        index
    }

    /// Writes the image. The same tree always gives the same bytes.
    pub fn build(&self) -> Vec<u8> {
        // Number the inodes breadth-first, children in name order: the order
        // the format requires.
        let mut order: Vec<usize> = Vec::with_capacity(self.nodes.len());
        let mut number: Vec<u32> = vec![0; self.nodes.len()];
        let mut queue = VecDeque::from([0usize]);
        while let Some(index) = queue.pop_front() {
            // At most u32::MAX nodes (checked in `add`).
            number[index] = order.len() as u32;
            order.push(index);
            if let Node::Dir(children) = &self.nodes[index] {
                queue.extend(children.values().copied());
            }
        }

        // Directory data, in inode order, right after the inode table.
        let table_offset = HEADER_LEN;
        let mut cursor = table_offset + order.len() * INODE_LEN;
        let mut dir_data: Vec<u8> = Vec::new();
        let dir_data_offset = cursor;
        // (offset, size) per inode, in inode order.
        let mut placement: Vec<(usize, usize)> = Vec::with_capacity(order.len());
        for &index in &order {
            if let Node::Dir(children) = &self.nodes[index] {
                let start = dir_data.len();
                for (name, &child) in children {
                    dir_data.extend_from_slice(&number[child].to_le_bytes());
                    // Names are valid, so at most 255 bytes.
                    dir_data.push(name.len() as u8);
                    dir_data.extend_from_slice(name.as_bytes());
                }
                placement.push((dir_data_offset + start, dir_data.len() - start));
            } else {
                placement.push((0, 0));
            }
        }
        cursor += dir_data.len();

        // File data, each on its own pages; byte-identical contents are
        // stored once, and every file holding them names that one range.
        cursor = cursor.next_multiple_of(PAGE_SIZE);
        let mut stored: BTreeMap<&[u8], usize> = BTreeMap::new();
        for (slot, &index) in order.iter().enumerate() {
            if let Node::File { data, .. } = &self.nodes[index] {
                if let Some(&offset) = stored.get(data.as_slice()).filter(|_| !data.is_empty()) {
                    placement[slot] = (offset, data.len());
                    continue;
                }
                placement[slot] = (cursor, data.len());
                stored.insert(data, cursor);
                cursor = (cursor + data.len()).next_multiple_of(PAGE_SIZE);
            }
        }
        let image_len = cursor;

        let mut image = vec![0u8; image_len];
        image[H_MAGIC..H_MAGIC + 8].copy_from_slice(&MAGIC);
        image[H_VERSION..H_VERSION + 4].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        image[H_INODE_COUNT..H_INODE_COUNT + 4].copy_from_slice(&(order.len() as u32).to_le_bytes());
        image[H_TABLE_OFFSET..H_TABLE_OFFSET + 8].copy_from_slice(&(table_offset as u64).to_le_bytes());
        image[H_IMAGE_LEN..H_IMAGE_LEN + 8].copy_from_slice(&(image_len as u64).to_le_bytes());
        image[dir_data_offset..dir_data_offset + dir_data.len()].copy_from_slice(&dir_data);

        for (slot, &index) in order.iter().enumerate() {
            let (offset, size) = placement[slot];
            let (kind, mode, entries) = match &self.nodes[index] {
                Node::Dir(children) => (KIND_DIR, DIR_MODE, children.len() as u32),
                Node::File { data, mode } => {
                    image[offset..offset + size].copy_from_slice(data);
                    (KIND_FILE, *mode, 0)
                }
            };
            let at = table_offset + slot * INODE_LEN;
            let entry = &mut image[at..at + INODE_LEN];
            entry[I_KIND] = kind;
            entry[I_RESERVED] = 0;
            entry[I_MODE..I_MODE + 2].copy_from_slice(&mode.to_le_bytes());
            entry[I_ENTRIES..I_ENTRIES + 4].copy_from_slice(&entries.to_le_bytes());
            entry[I_SIZE..I_SIZE + 8].copy_from_slice(&(size as u64).to_le_bytes());
            entry[I_OFFSET..I_OFFSET + 8].copy_from_slice(&(offset as u64).to_le_bytes());
        }
        image
    }
}

/// Packs the host directory `host_dir` into an image: its regular files and
/// directories, recursively, in sorted order (so the output is reproducible).
/// A file whose host mode has any execute bit gets `0o755`, any other `0o644`;
/// directories get `0o755`. Symbolic links, devices, sockets and FIFOs, names
/// that are not UTF-8, and trees deeper than 64 levels are refused with an
/// error.
pub fn pack_dir(host_dir: &Path) -> io::Result<Vec<u8>> {
    if !fs::metadata(host_dir)?.is_dir() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a directory", host_dir.display())));
    }
    let mut builder = Builder::new();
    pack_into(&mut builder, host_dir, "", 0)?;
    Ok(builder.build())
}

fn pack_into(builder: &mut Builder, dir: &Path, prefix: &str, depth: usize) -> io::Result<()> {
    if depth >= MAX_PACK_DEPTH {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: directory tree is too deep", dir.display()),
        ));
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().into_string().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}: name is not UTF-8", path.display()))
        })?;
        entries.push((name, path));
    }
    entries.sort();

    for (name, path) in entries {
        let inner = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let refused = |e: BuildError| io::Error::new(io::ErrorKind::InvalidInput, format!("{}: {e}", path.display()));
        let meta = fs::symlink_metadata(&path)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            builder.add_dir(&inner).map_err(refused)?;
            pack_into(builder, &path, &inner, depth + 1)?;
        } else if kind.is_file() {
            let data = fs::read(&path)?;
            let mode = if is_executable(&meta) { 0o755 } else { 0o644 };
            builder.add_file(&inner, data, mode).map_err(refused)?;
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: not a regular file or directory (symbolic links and special files are refused)",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}
