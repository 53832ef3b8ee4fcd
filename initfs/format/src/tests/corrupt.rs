//! Corrupt images: truncation, bad header and inode fields, bad directory
//! entries, cycles, double references, bad inode numbers. Every one must be
//! an `Err` from `Image::parse`, never a panic. Test-only.

use std::vec::Vec;

use super::util::*;
use crate::*;

/// Parses `bytes`, which must be rejected.
#[track_caller]
fn rejected(bytes: &[u8]) -> Error {
    match Image::parse(bytes) {
        Ok(_) => panic!("corrupt image accepted"),
        Err(e) => e,
    }
}

/// Parses `bytes`, which must be rejected as corrupt with a message
/// containing `why`.
#[track_caller]
fn corrupt(bytes: &[u8], why: &str) {
    match rejected(bytes) {
        Error::Corrupt(msg) => assert!(msg.contains(why), "got {msg:?}, wanted {why:?}"),
        other => panic!("got {other:?}, wanted Corrupt({why:?})"),
    }
}

/// `small_image` with `patch` applied.
fn patched(patch: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut img = small_image();
    patch(&mut img);
    img
}

#[test]
fn small_image_layout_is_as_the_tests_assume() {
    let img = small_image();
    let image = Image::parse(&img).unwrap();
    assert_eq!(image.inode_count(), 7);
    for (path, n) in [
        ("dir_a", 1),
        ("f1", 2),
        ("dir_a/dir_b", 3),
        ("dir_a/f2", 4),
        ("dir_a/dir_b/dir_c", 5),
        ("dir_a/dir_b/dir_c/f3", 6),
    ] {
        assert_eq!(image.lookup(path), Ok(n), "{path}");
    }
}

#[test]
fn every_truncation_is_an_error() {
    let img = small_image();
    for len in 0..img.len() {
        let e = rejected(&img[..len]);
        assert_eq!(e, Error::Truncated, "len {len}");
    }
    assert!(Image::parse(&img).is_ok());
}

#[test]
fn bad_magic() {
    for i in 0..8 {
        for bit in 0..8 {
            let img = patched(|b| b[i] ^= 1 << bit);
            assert_eq!(rejected(&img), Error::BadMagic);
        }
    }
    assert_eq!(rejected(&[0; 64]), Error::BadMagic);
}

#[test]
fn bad_version() {
    for v in [0, 2, 0x100, u32::MAX] {
        let img = patched(|b| set_u32(b, 8, v));
        assert_eq!(rejected(&img), Error::UnsupportedVersion(v));
    }
}

#[test]
fn bad_inode_count() {
    corrupt(&patched(|b| set_u32(b, 12, 0)), "no inodes");
    corrupt(&patched(|b| set_u32(b, 12, 6)), "past the table");
    for count in [8, 9, 100, 1 << 20, u32::MAX] {
        rejected(&patched(|b| set_u32(b, 12, count)));
    }
    corrupt(&patched(|b| set_u32(b, 12, u32::MAX)), "inode table runs past");
}

#[test]
fn bad_table_offset() {
    let len = small_image().len() as u64;
    for offset in [0, 1, 31] {
        corrupt(&patched(|b| set_u64(b, 16, offset)), "overlaps the header");
    }
    for offset in [len, len - 1, len - 24 * 7 + 1, u64::MAX, u64::MAX - 7, 1 << 63] {
        corrupt(&patched(|b| set_u64(b, 16, offset)), "inode table runs past");
    }
    for delta in 1..24 {
        rejected(&patched(|b| set_u64(b, 16, 32 + delta)));
    }
}

#[test]
fn bad_image_length() {
    let img = small_image();
    let len = img.len() as u64;
    for bad in [0, 1, 31] {
        corrupt(&patched(|b| set_u64(b, 24, bad)), "shorter than the header");
    }
    for bad in [len + 1, len + 4096, u64::MAX, 1 << 63] {
        assert_eq!(rejected(&patched(|b| set_u64(b, 24, bad))), Error::Truncated);
    }
    // Cutting the declared length leaves the inode table or file data out.
    for bad in [32, 33, 100, 4096, 8192, len - 4096] {
        rejected(&patched(|b| set_u64(b, 24, bad)));
    }
}

#[test]
fn bad_inode_fields() {
    let img = small_image();
    let len = img.len() as u64;
    for n in 0..7 {
        let at = inode_at(&img, n);
        for kind in [0, 3, 0x81, 0xFF] {
            corrupt(&patched(|b| b[at] = kind), "unknown kind");
        }
        for reserved in [1, 0xFF] {
            corrupt(&patched(|b| b[at + 1] = reserved), "reserved");
        }
        for mode in [0o10000, 0o17777, 0xFFFF] {
            corrupt(&patched(|b| set_u16(b, at + 2, mode)), "mode");
        }
        for size in [len, len + 1, u64::MAX, 1 << 63] {
            rejected(&patched(|b| set_u64(b, at + 8, size)));
        }
        // (An empty file may sit at offset `len`: its empty range is inside.)
        for offset in [len + 1, len + 4096, u64::MAX, u64::MAX - 4095, 1 << 63] {
            rejected(&patched(|b| set_u64(b, at + 16, offset)));
        }
    }
}

#[test]
fn file_inode_rules() {
    let img = small_image();
    let f1 = inode_at(&img, 2);
    let f2 = inode_at(&img, 4);
    let f3 = inode_at(&img, 6);
    let len = img.len() as u64;
    for at in [f1, f2, f3] {
        corrupt(&patched(|b| set_u32(b, at + 4, 1)), "entry count");
        corrupt(&patched(|b| set_u64(b, at + 16, len + PAGE_SIZE as u64)), "past the image");
        let offset = get_u64(&img, at + 16);
        for delta in [1, 8, 2048, 4095] {
            corrupt(&patched(|b| set_u64(b, at + 16, offset + delta)), "not page-aligned");
        }
    }
    // f1's data runs to the end of the image if it claims the whole rest.
    let f1_offset = get_u64(&img, f1 + 16);
    corrupt(&patched(|b| set_u64(b, f1 + 8, len - f1_offset + 1)), "past the image");
    assert!(Image::parse(&patched(|b| set_u64(b, f1 + 8, len - f1_offset))).is_ok());
    // The root must be a directory.
    rejected(&patched(|b| {
        b[inode_at(&img, 0)] = 1;
    }));
    corrupt(
        &patched(|b| {
            let root = inode_at(&img, 0);
            b[root] = 1;
            set_u32(b, root + 4, 0);
        }),
        "root is not a directory",
    );
}

#[test]
fn dir_inode_rules() {
    let img = small_image();
    for n in [0, 1, 3, 5] {
        let at = inode_at(&img, n);
        let entries = get_u32(&img, at + 4);
        let size = get_u64(&img, at + 8);
        for bad in [0, entries - 1, entries + 1, 1000, u32::MAX] {
            rejected(&patched(|b| set_u32(b, at + 4, bad)));
        }
        for bad in [0, size - 1, size + 1, size + 1000] {
            rejected(&patched(|b| set_u64(b, at + 8, bad)));
        }
        corrupt(&patched(|b| set_u64(b, at + 8, size + 1)), "longer than its entries");
        corrupt(&patched(|b| set_u64(b, at + 8, size - 1)), "shorter than its entries");
        corrupt(&patched(|b| set_u32(b, at + 4, entries + 1)), "shorter than its entries");
    }
}

#[test]
fn bad_entry_names() {
    let img = small_image();
    let f1 = entry_at(&img, "f1");
    let name = f1 + 5;
    for bad in [*b"f/", *b"/f", *b"f\0", *b"\0\0", *b"..", *b"//"] {
        corrupt(&patched(|b| b[name..name + 2].copy_from_slice(&bad)), "name");
    }
    corrupt(&patched(|b| b[name..name + 2].copy_from_slice(&[0xFF, 0xFE])), "not UTF-8");
    corrupt(&patched(|b| b[name..name + 2].copy_from_slice(&[0xC3, b'a'])), "not UTF-8");
    // A one-byte "." and an empty name (the rest of the entry then misparses,
    // but the name is caught first).
    corrupt(
        &patched(|b| {
            b[f1 + 4] = 1;
            b[name] = b'.';
        }),
        "name is empty",
    );
    corrupt(&patched(|b| b[f1 + 4] = 0), "name is empty");
    // A name length running past the directory data.
    corrupt(&patched(|b| b[f1 + 4] = 255), "shorter than its entries");
    // Out of order: "da" sorts before "dir_a".
    corrupt(&patched(|b| b[name..name + 2].copy_from_slice(b"da")), "ascending");
}

#[test]
fn duplicate_names() {
    let mut b = Builder::new();
    b.add_file("aa", Vec::new(), 0o644).unwrap();
    b.add_file("ab", Vec::new(), 0o644).unwrap();
    let mut img = b.build();
    assert!(Image::parse(&img).is_ok());
    let ab = entry_at(&img, "ab");
    img[ab + 6] = b'a';
    corrupt(&img, "unique and ascending");
}

#[test]
fn bad_entry_inode_numbers() {
    let img = small_image();
    let f3 = entry_at(&img, "f3");
    for bad in [7, 8, 1000, u32::MAX] {
        corrupt(&patched(|b| set_u32(b, f3, bad)), "past the table");
    }
    // Naming the root.
    corrupt(&patched(|b| set_u32(b, f3, 0)), "not after its directory");
    corrupt(&patched(|b| set_u32(b, entry_at(&img, "dir_a"), 0)), "not after its directory");
}

#[test]
fn cycles() {
    let img = small_image();
    let f3 = entry_at(&img, "f3");
    // dir_c (5) names its ancestors dir_a (1), dir_b (3), or itself.
    for ancestor in [1, 3, 5] {
        corrupt(&patched(|b| set_u32(b, f3, ancestor)), "not after its directory");
    }
    // dir_b (3) names its parent dir_a (1) instead of dir_c.
    corrupt(&patched(|b| set_u32(b, entry_at(&img, "dir_c"), 1)), "not after its directory");
}

#[test]
fn inode_named_twice_or_never() {
    let img = small_image();
    // The root names dir_a (1) twice, and f1 (2) never.
    corrupt(&patched(|b| set_u32(b, entry_at(&img, "f1"), 1)), "named by two");
    // dir_b names f2 (4), which dir_a already names.
    corrupt(&patched(|b| set_u32(b, entry_at(&img, "dir_c"), 4)), "named by two");
    // The root skips 2 and names 3 (dir_b, which dir_a names too).
    corrupt(&patched(|b| set_u32(b, entry_at(&img, "f1"), 3)), "breadth-first");
    // A valid tree in a non-canonical numbering is refused too.
    corrupt(
        &patched(|b| {
            set_u32(b, entry_at(&img, "dir_a"), 2);
            set_u32(b, entry_at(&img, "f1"), 1);
        }),
        "breadth-first",
    );
    // An extra, unnamed inode: grow the table by one copy of f1's inode.
    let mut b = Builder::new();
    b.add_file("f", b"data".to_vec(), 0o644).unwrap();
    let mut img = b.build();
    let f = inode_at(&img, 1);
    let copy: Vec<u8> = img[f..f + INODE_LEN].to_vec();
    // The directory data follows the table; move it to make room.
    let root = inode_at(&img, 0);
    let dir_offset = get_u64(&img, root + 16) as usize;
    let dir_len = get_u64(&img, root + 8) as usize;
    let dir: Vec<u8> = img[dir_offset..dir_offset + dir_len].to_vec();
    img[dir_offset + INODE_LEN..dir_offset + INODE_LEN + dir_len].copy_from_slice(&dir);
    img[dir_offset..dir_offset + INODE_LEN].copy_from_slice(&copy);
    set_u64(&mut img, root + 16, (dir_offset + INODE_LEN) as u64);
    assert!(Image::parse(&img).is_ok());
    set_u32(&mut img, 12, 3);
    corrupt(&img, "not named by any directory");
}

#[test]
fn file_data_in_the_header_or_table_is_refused() {
    let img = small_image();
    let f1 = inode_at(&img, 2);
    // Offset 0 is page-aligned but is the header and the table.
    corrupt(&patched(|b| set_u64(b, f1 + 16, 0)), "overlaps the header or the inode table");
    // An empty file may sit anywhere page-aligned inside the image.
    assert!(
        Image::parse(&patched(|b| {
            set_u64(b, f1 + 8, 0);
            set_u64(b, f1 + 16, 0);
        }))
        .is_ok()
    );
}

#[test]
fn shared_file_data_is_accepted() {
    // Point f2 at f1's data: a shared range is valid, and both read it.
    let img = small_image();
    let (f1, f2) = (inode_at(&img, 2), inode_at(&img, 4));
    let shared = patched(|b| {
        let (size, offset) = (get_u64(&img, f1 + 8), get_u64(&img, f1 + 16));
        set_u64(b, f2 + 8, size);
        set_u64(b, f2 + 16, offset);
    });
    let image = Image::parse(&shared).expect("shared data is valid");
    assert_eq!(image.file_data(2).unwrap(), image.file_data(4).unwrap());
    // Overlapping but not equal (f2 is a prefix of f1) is valid too.
    let prefix = patched(|b| set_u64(b, f2 + 16, get_u64(&img, f1 + 16)));
    assert!(Image::parse(&prefix).is_ok());
}
