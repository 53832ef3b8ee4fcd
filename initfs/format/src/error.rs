//! The reader's error type. Touches nothing; it only names what went wrong,
//! either with the image (untrusted input) or with the caller's request.

use core::fmt;

/// Why an image could not be parsed, or why a request on a parsed image
/// failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The slice is shorter than the header or than the image length the
    /// header declares.
    Truncated,
    /// The first eight bytes are not [`MAGIC`](crate::MAGIC).
    BadMagic,
    /// The header's version is not [`FORMAT_VERSION`](crate::FORMAT_VERSION).
    UnsupportedVersion(u32),
    /// The image is inconsistent; the text says which rule it breaks.
    Corrupt(&'static str),
    /// An inode number passed in is not in the image.
    BadInode(u32),
    /// A path names nothing in the image.
    NotFound,
    /// A directory was needed (a path's inner component, `read_dir`), but the
    /// inode is a file.
    NotADirectory,
    /// A file was needed (`file_data`, `data_offset`), but the inode is a
    /// directory.
    NotAFile,
    /// A path contains a `.` or `..` component; the initfs does not resolve
    /// them (canonicalise first).
    BadPath,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("initfs image is truncated"),
            Error::BadMagic => f.write_str("not an initfs image (bad magic)"),
            Error::UnsupportedVersion(v) => write!(f, "unsupported initfs version {v}"),
            Error::Corrupt(why) => write!(f, "corrupt initfs image: {why}"),
            Error::BadInode(n) => write!(f, "no inode {n} in the initfs image"),
            Error::NotFound => f.write_str("no such file or directory"),
            Error::NotADirectory => f.write_str("not a directory"),
            Error::NotAFile => f.write_str("not a regular file"),
            Error::BadPath => f.write_str("path has a `.` or `..` component"),
        }
    }
}

impl core::error::Error for Error {}
