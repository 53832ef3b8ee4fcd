//! The on-disk constants and field offsets of the initfs format (documented
//! in the crate root), and the one rule for valid names, shared by the
//! reader and the writer so the two cannot disagree. Pure definitions: it
//! touches nothing.

/// The first eight bytes of every image.
pub const MAGIC: [u8; 8] = *b"FERRITFS";
/// The format version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// Length of the header at offset 0.
pub const HEADER_LEN: usize = 32;
/// Length of one inode table entry.
pub const INODE_LEN: usize = 24;
/// Length of a directory entry before its name bytes.
pub const DIR_ENTRY_HEADER_LEN: usize = 5;
/// Longest name of a directory entry, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// Highest mode value: the permission bits plus setuid/setgid/sticky.
pub const MAX_MODE: u16 = 0o7777;
/// File data starts on a multiple of this, so file pages can be mapped.
pub const PAGE_SIZE: usize = 4096;
/// The root directory's inode number.
pub const ROOT: u32 = 0;

// Header field offsets.
pub(crate) const H_MAGIC: usize = 0;
pub(crate) const H_VERSION: usize = 8;
pub(crate) const H_INODE_COUNT: usize = 12;
pub(crate) const H_TABLE_OFFSET: usize = 16;
pub(crate) const H_IMAGE_LEN: usize = 24;

// Inode field offsets.
pub(crate) const I_KIND: usize = 0;
pub(crate) const I_RESERVED: usize = 1;
pub(crate) const I_MODE: usize = 2;
pub(crate) const I_ENTRIES: usize = 4;
pub(crate) const I_SIZE: usize = 8;
pub(crate) const I_OFFSET: usize = 16;

// Inode kinds.
pub(crate) const KIND_FILE: u8 = 1;
pub(crate) const KIND_DIR: u8 = 2;

/// Whether `name` may name a directory entry: 1 to [`MAX_NAME_LEN`] bytes,
/// no `/`, no NUL, not `.` or `..`. (Names are also UTF-8, which a `&str`
/// already is; the reader checks that separately.)
pub fn is_valid_name(name: &str) -> bool {
    is_valid_name_bytes(name.as_bytes())
}

pub(crate) fn is_valid_name_bytes(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| b == b'/' || b == 0)
}
