//! The reader: parses and fully validates an initfs image, then answers
//! lookups, directory listings and file data as borrows of the image bytes.
//!
//! What it may touch: only the byte slice handed to [`Image::parse`]. No
//! allocation, no `unsafe`, no recursion; every loop is bounded by the image
//! length, so the kernel can run it on an untrusted ramdisk.

use core::iter::FusedIterator;

use crate::error::Error;
use crate::format::*;
use le_bytes::{range, u8_at, u16_at, u32_at, u64_at};

/// An inode number: an index into the inode table. The root is [`ROOT`].
pub type InodeNum = u32;

/// What an inode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// The metadata of one inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inode {
    /// File or directory.
    pub kind: Kind,
    /// Permission bits (`<= 0o7777`), e.g. `0o755` for a program.
    pub mode: u16,
    /// For a file, its length in bytes; for a directory, its number of
    /// entries.
    pub size: u64,
}

/// One name in a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// The entry's name: non-empty, at most 255 bytes, no `/` or NUL, not
    /// `.` or `..`.
    pub name: &'a str,
    /// The inode it names.
    pub inode: InodeNum,
}

/// A parsed and validated initfs image, borrowing the image bytes.
///
/// Cheap to copy; every accessor reads the bytes again (they were validated
/// by [`Image::parse`]), so it holds no tables of its own.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    /// The image: the input slice cut to the header's image length.
    image: &'a [u8],
    /// The inode table, inside `image`.
    table: &'a [u8],
    /// Number of inodes, `>= 1`; equals `table.len() / INODE_LEN`.
    count: u32,
    /// The offset just past the inode table (file data starts at or after
    /// it).
    table_end: u64,
}

/// One inode table entry, decoded and checked on its own (not yet against the
/// image or the tree).
struct RawInode {
    kind: Kind,
    mode: u16,
    entries: u32,
    size: u64,
    offset: u64,
}

impl<'a> Image<'a> {
    /// Parses `bytes` as an initfs image and validates all of it: header,
    /// inode table, every inode's data range, every directory entry, and the
    /// tree shape (see the crate docs). `bytes` may run past the image length
    /// the header declares; the rest is ignored.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if le_bytes::array::<8>(bytes, H_MAGIC) != Some(MAGIC) {
            return Err(Error::BadMagic);
        }
        let version = u32_at(bytes, H_VERSION).ok_or(Error::Truncated)?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let image_len = u64_at(bytes, H_IMAGE_LEN).ok_or(Error::Truncated)?;
        let image_len = usize::try_from(image_len).map_err(|_| Error::Truncated)?;
        let image = bytes.get(..image_len).ok_or(Error::Truncated)?;
        if image_len < HEADER_LEN {
            return Err(Error::Corrupt("image length is shorter than the header"));
        }

        let count = u32_at(image, H_INODE_COUNT).ok_or(Error::Truncated)?;
        if count == 0 {
            return Err(Error::Corrupt("no inodes (the root is missing)"));
        }
        let table_offset = u64_at(image, H_TABLE_OFFSET).ok_or(Error::Truncated)?;
        if table_offset < HEADER_LEN as u64 {
            return Err(Error::Corrupt("inode table overlaps the header"));
        }
        let table_len =
            u64::from(count).checked_mul(INODE_LEN as u64).ok_or(Error::Corrupt("inode table is too large"))?;
        let table = range(image, table_offset, table_len).ok_or(Error::Corrupt("inode table runs past the image"))?;

        // `range` succeeded, so the end lies inside the image: no overflow.
        let table_end = table_offset.saturating_add(table_len);
        let parsed = Image { image, table, count, table_end };
        parsed.validate()?;
        Ok(parsed)
    }

    /// Checks every inode and directory and the tree shape, in one pass in
    /// inode order, without allocation.
    fn validate(&self) -> Result<(), Error> {
        // The next inode number a directory entry must name: entries, read in
        // directory-inode order, name 1, 2, ..., count - 1 in sequence.
        let mut next: u32 = 1;
        for n in 0..self.count {
            let raw = self.raw(n)?;
            let data =
                range(self.image, raw.offset, raw.size).ok_or(Error::Corrupt("inode data runs past the image"))?;
            match raw.kind {
                Kind::File => {
                    if n == ROOT {
                        return Err(Error::Corrupt("the root is not a directory"));
                    }
                    if !raw.offset.is_multiple_of(PAGE_SIZE as u64) {
                        return Err(Error::Corrupt("file data is not page-aligned"));
                    }
                    if raw.size > 0 && raw.offset < self.table_end {
                        return Err(Error::Corrupt("file data overlaps the header or the inode table"));
                    }
                }
                Kind::Dir => {
                    let mut rest = data;
                    let mut previous: Option<&str> = None;
                    for _ in 0..raw.entries {
                        let entry = next_entry(&mut rest)?;
                        if entry.inode >= self.count {
                            return Err(Error::Corrupt("directory entry names an inode past the table"));
                        }
                        if entry.inode <= n {
                            return Err(Error::Corrupt(
                                "directory entry names an inode not after its directory (a cycle)",
                            ));
                        }
                        if entry.inode < next {
                            return Err(Error::Corrupt("inode is named by two directory entries"));
                        }
                        if entry.inode != next {
                            return Err(Error::Corrupt("directory entries are not in breadth-first inode order"));
                        }
                        if previous.is_some_and(|p| p >= entry.name) {
                            return Err(Error::Corrupt("directory names are not unique and ascending"));
                        }
                        previous = Some(entry.name);
                        next = next.checked_add(1).ok_or(Error::Corrupt("too many directory entries"))?;
                    }
                    if !rest.is_empty() {
                        return Err(Error::Corrupt("directory data is longer than its entries"));
                    }
                }
            }
        }
        if next != self.count {
            return Err(Error::Corrupt("inode is not named by any directory"));
        }
        Ok(())
    }

    /// The root directory's inode number, [`ROOT`].
    pub fn root(&self) -> InodeNum {
        ROOT
    }

    /// The number of inodes (files and directories, the root included).
    pub fn inode_count(&self) -> u32 {
        self.count
    }

    /// The image length from the header (the part of the input slice that is
    /// the image).
    pub fn len(&self) -> usize {
        self.image.len()
    }

    /// Always `false`: a valid image holds at least its header.
    pub fn is_empty(&self) -> bool {
        self.image.is_empty()
    }

    /// The image bytes, `len()` of them.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.image
    }

    /// The metadata of inode `n`.
    pub fn inode(&self, n: InodeNum) -> Result<Inode, Error> {
        let raw = self.raw(n)?;
        let size = match raw.kind {
            Kind::File => raw.size,
            Kind::Dir => u64::from(raw.entries),
        };
        Ok(Inode { kind: raw.kind, mode: raw.mode, size })
    }

    /// The inode a path names. Components are separated by `/`; leading,
    /// trailing and repeated slashes are ignored, so `""` and `"/"` name the
    /// root and `"/bin//init"` is `"bin/init"`. `.` and `..` components are
    /// [`Error::BadPath`]; a component below a file is
    /// [`Error::NotADirectory`].
    pub fn lookup(&self, path: &str) -> Result<InodeNum, Error> {
        let mut current = ROOT;
        for component in path.split('/') {
            if component.is_empty() {
                continue;
            }
            if component == "." || component == ".." {
                return Err(Error::BadPath);
            }
            current = self.child(current, component)?;
        }
        Ok(current)
    }

    /// The entry called `name` in directory `dir`.
    fn child(&self, dir: InodeNum, name: &str) -> Result<InodeNum, Error> {
        for entry in self.read_dir(dir)? {
            match entry.name.cmp(name) {
                core::cmp::Ordering::Less => {}
                core::cmp::Ordering::Equal => return Ok(entry.inode),
                // Names are ascending: it is not further on.
                core::cmp::Ordering::Greater => break,
            }
        }
        Err(Error::NotFound)
    }

    /// The entries of directory `dir`, in ascending name order.
    pub fn read_dir(&self, dir: InodeNum) -> Result<DirIter<'a>, Error> {
        let raw = self.raw(dir)?;
        if raw.kind != Kind::Dir {
            return Err(Error::NotADirectory);
        }
        let data = range(self.image, raw.offset, raw.size).ok_or(Error::Corrupt("inode data runs past the image"))?;
        Ok(DirIter { rest: data, remaining: raw.entries })
    }

    /// The contents of file `n`, borrowed from the image.
    pub fn file_data(&self, n: InodeNum) -> Result<&'a [u8], Error> {
        let raw = self.raw(n)?;
        if raw.kind != Kind::File {
            return Err(Error::NotAFile);
        }
        range(self.image, raw.offset, raw.size).ok_or(Error::Corrupt("inode data runs past the image"))
    }

    /// Where file `n`'s data starts in the image: a multiple of
    /// [`PAGE_SIZE`], so its pages can be mapped straight from the ramdisk.
    /// The bytes between the file's end and the next page boundary belong to
    /// the image (the writer zero-fills them), not to the file.
    pub fn data_offset(&self, n: InodeNum) -> Result<usize, Error> {
        let raw = self.raw(n)?;
        if raw.kind != Kind::File {
            return Err(Error::NotAFile);
        }
        usize::try_from(raw.offset).map_err(|_| Error::Corrupt("inode data runs past the image"))
    }

    /// Decodes inode `n`'s table entry and checks its fields on their own.
    fn raw(&self, n: InodeNum) -> Result<RawInode, Error> {
        if n >= self.count {
            return Err(Error::BadInode(n));
        }
        let at = usize::try_from(n).ok().and_then(|n| n.checked_mul(INODE_LEN)).ok_or(Error::BadInode(n))?;
        let field = |offset: usize| at.checked_add(offset).ok_or(Error::BadInode(n));
        let truncated = Error::Corrupt("inode table runs past the image");
        let kind = match u8_at(self.table, field(I_KIND)?).ok_or(truncated)? {
            KIND_FILE => Kind::File,
            KIND_DIR => Kind::Dir,
            _ => return Err(Error::Corrupt("inode has an unknown kind")),
        };
        if u8_at(self.table, field(I_RESERVED)?).ok_or(truncated)? != 0 {
            return Err(Error::Corrupt("inode's reserved byte is not zero"));
        }
        let mode = u16_at(self.table, field(I_MODE)?).ok_or(truncated)?;
        if mode > MAX_MODE {
            return Err(Error::Corrupt("inode mode has bits above 0o7777"));
        }
        let entries = u32_at(self.table, field(I_ENTRIES)?).ok_or(truncated)?;
        if kind == Kind::File && entries != 0 {
            return Err(Error::Corrupt("file inode has a directory entry count"));
        }
        let size = u64_at(self.table, field(I_SIZE)?).ok_or(truncated)?;
        let offset = u64_at(self.table, field(I_OFFSET)?).ok_or(truncated)?;
        Ok(RawInode { kind, mode, entries, size, offset })
    }
}

/// Decodes the directory entry at the start of `rest` and advances past it.
fn next_entry<'a>(rest: &mut &'a [u8]) -> Result<DirEntry<'a>, Error> {
    const SHORT: Error = Error::Corrupt("directory data is shorter than its entries");
    let inode = u32_at(rest, 0).ok_or(SHORT)?;
    let name_len = usize::from(u8_at(rest, 4).ok_or(SHORT)?);
    let after = rest.get(DIR_ENTRY_HEADER_LEN..).ok_or(SHORT)?;
    let (name, tail) = after.split_at_checked(name_len).ok_or(SHORT)?;
    if !is_valid_name_bytes(name) {
        return Err(Error::Corrupt("directory entry name is empty, `.`, `..`, or has `/` or NUL"));
    }
    let name = core::str::from_utf8(name).map_err(|_| Error::Corrupt("directory entry name is not UTF-8"))?;
    *rest = tail;
    Ok(DirEntry { name, inode })
}

/// The entries of one directory, in ascending name order
/// ([`Image::read_dir`]).
#[derive(Debug, Clone)]
pub struct DirIter<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for DirIter<'a> {
    type Item = DirEntry<'a>;

    fn next(&mut self) -> Option<DirEntry<'a>> {
        if self.remaining == 0 {
            return None;
        }
        match next_entry(&mut self.rest) {
            Ok(entry) => {
                self.remaining = self.remaining.saturating_sub(1);
                Some(entry)
            }
            // Cannot happen on a validated image; end rather than loop.
            Err(_) => {
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl ExactSizeIterator for DirIter<'_> {}

impl FusedIterator for DirIter<'_> {}
