//! Round trips through the writer and reader: build, parse, and compare
//! lookups, listings and file data with what went in; plus the builder's
//! refusals and the lookup edge cases. Test-only.

use std::collections::BTreeMap;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use super::util::*;
use crate::*;

/// What the sample tree should read back as.
fn expected_sample() -> BTreeMap<String, Found> {
    let mut want = BTreeMap::new();
    let mut children: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let note_parents = |children: &mut BTreeMap<String, std::collections::BTreeSet<String>>, path: &str| {
        let parts: Vec<&str> = path.split('/').collect();
        for i in 0..parts.len() {
            let parent = parts[..i].join("/");
            children.entry(parent).or_default().insert(parts[i].to_string());
        }
    };
    for (path, data, mode) in sample_files() {
        note_parents(&mut children, path);
        want.insert(path.to_string(), Found::File { mode, data });
    }
    for dir in SAMPLE_DIRS {
        note_parents(&mut children, dir);
        children.entry(dir.to_string()).or_default();
    }
    for (dir, names) in children {
        want.insert(dir, Found::Dir { mode: 0o755, entries: names.len() as u64 });
    }
    want
}

#[test]
fn round_trip() {
    let bytes = sample_image();
    let image = Image::parse(&bytes).unwrap();
    assert_eq!(image.len(), bytes.len());
    assert!(!image.is_empty());
    assert_eq!(image.root(), ROOT);
    let found = walk(&image);
    assert_eq!(found, expected_sample());
    assert_eq!(image.inode_count() as usize, found.len());

    let init = image.lookup("/bin/init").unwrap();
    assert_eq!(image.inode(init).unwrap(), Inode { kind: Kind::File, mode: 0o755, size: 5000 });
    assert_eq!(image.file_data(init).unwrap(), &sample_files()[0].1[..]);
    let names: Vec<&str> = image.read_dir(ROOT).unwrap().map(|e| e.name).collect();
    assert_eq!(names, ["a", "bin", "empty-dir", "etc", "zeta"]);
}

#[test]
fn file_data_is_page_aligned_and_padded_with_zeros() {
    let bytes = sample_image();
    let image = Image::parse(&bytes).unwrap();
    assert_eq!(bytes.len() % PAGE_SIZE, 0);
    for n in 0..image.inode_count() {
        if image.inode(n).unwrap().kind != Kind::File {
            continue;
        }
        let offset = image.data_offset(n).unwrap();
        assert_eq!(offset % PAGE_SIZE, 0);
        let data = image.file_data(n).unwrap();
        assert_eq!(data.as_ptr() as usize - bytes.as_ptr() as usize, offset);
        let end = offset + data.len();
        let page_end = end.next_multiple_of(PAGE_SIZE);
        assert!(bytes[end..page_end].iter().all(|&b| b == 0));
    }
}

#[test]
fn empty_image_and_empty_files() {
    let bytes = Builder::new().build();
    assert_eq!(bytes.len(), PAGE_SIZE);
    let image = Image::parse(&bytes).unwrap();
    assert_eq!(image.inode_count(), 1);
    assert_eq!(image.read_dir(ROOT).unwrap().count(), 0);
    assert_eq!(image.lookup(""), Ok(ROOT));
    assert_eq!(image.lookup("x"), Err(Error::NotFound));

    let mut b = Builder::new();
    b.add_file("e1", Vec::new(), 0o644).unwrap();
    b.add_file("d/e2", Vec::new(), 0o755).unwrap();
    let bytes = b.build();
    let image = Image::parse(&bytes).unwrap();
    for path in ["e1", "d/e2"] {
        let n = image.lookup(path).unwrap();
        assert_eq!(image.file_data(n), Ok(&[][..]));
        assert_eq!(image.inode(n).unwrap().size, 0);
        assert_eq!(image.data_offset(n).unwrap() % PAGE_SIZE, 0);
        assert!(image.data_offset(n).unwrap() <= image.len());
    }
}

#[test]
fn deeply_nested_dirs() {
    let path: Vec<String> = (0..200).map(|i| format!("d{i}")).collect();
    let path = path.join("/");
    let mut b = Builder::new();
    b.add_file(&format!("{path}/leaf"), b"leaf".to_vec(), 0o644).unwrap();
    let bytes = b.build();
    let image = Image::parse(&bytes).unwrap();
    let leaf = image.lookup(&format!("/{path}/leaf")).unwrap();
    assert_eq!(image.file_data(leaf), Ok(&b"leaf"[..]));
    assert_eq!(walk(&image).len(), 202);
}

#[test]
fn wide_dir() {
    let mut b = Builder::new();
    for i in 0..1000 {
        b.add_file(&format!("f{i:04}"), vec![i as u8; i % 7], 0o644).unwrap();
    }
    let bytes = b.build();
    let image = Image::parse(&bytes).unwrap();
    assert_eq!(image.read_dir(ROOT).unwrap().len(), 1000);
    for i in (0..1000).step_by(37) {
        let n = image.lookup(&format!("f{i:04}")).unwrap();
        assert_eq!(image.file_data(n).unwrap(), &vec![i as u8; i % 7][..]);
    }
}

#[test]
fn unicode_and_odd_names() {
    let names = ["ä", "a b", "Z", "~", "\u{1F980}", &"n".repeat(255), "a\\b"];
    let mut b = Builder::new();
    for name in names {
        b.add_file(name, name.as_bytes().to_vec(), 0o644).unwrap();
    }
    let bytes = b.build();
    let image = Image::parse(&bytes).unwrap();
    let listed: Vec<&str> = image.read_dir(ROOT).unwrap().map(|e| e.name).collect();
    let mut sorted = names.to_vec();
    sorted.sort();
    assert_eq!(listed, sorted);
    for name in names {
        let n = image.lookup(name).unwrap();
        assert_eq!(image.file_data(n).unwrap(), name.as_bytes());
    }
}

#[test]
fn lookup_edge_cases() {
    let bytes = sample_image();
    let image = Image::parse(&bytes).unwrap();
    let init = image.lookup("bin/init").unwrap();
    let bin = image.lookup("bin").unwrap();
    for path in ["", "/", "//", "///"] {
        assert_eq!(image.lookup(path), Ok(ROOT), "{path:?}");
    }
    for path in ["bin/init", "/bin/init", "//bin//init", "bin/init/", "/bin///init//"] {
        assert_eq!(image.lookup(path), Ok(init), "{path:?}");
    }
    assert_eq!(image.lookup("bin/"), Ok(bin));
    for path in ["bin/nope", "nope", "bi", "bin/ini", "bin/init2", "BIN/init", "bin/init\0", "\0", "a/b/c/d/e"] {
        assert_eq!(image.lookup(path), Err(Error::NotFound), "{path:?}");
    }
    assert_eq!(image.lookup(&"x".repeat(300)), Err(Error::NotFound));
    for path in ["bin/init/x", "zeta/", "zeta/a", "etc/empty/x/y"] {
        let want = if path == "zeta/" { image.lookup("zeta") } else { Err(Error::NotADirectory) };
        assert_eq!(image.lookup(path), want, "{path:?}");
    }
    for path in ["..", ".", "./bin", "bin/../bin", "bin/.", "/../etc"] {
        assert_eq!(image.lookup(path), Err(Error::BadPath), "{path:?}");
    }
}

#[test]
fn accessor_errors() {
    let bytes = sample_image();
    let image = Image::parse(&bytes).unwrap();
    let count = image.inode_count();
    for n in [count, count + 1, u32::MAX] {
        assert_eq!(image.inode(n), Err(Error::BadInode(n)));
        assert!(matches!(image.read_dir(n), Err(Error::BadInode(_))));
        assert_eq!(image.file_data(n), Err(Error::BadInode(n)));
        assert_eq!(image.data_offset(n), Err(Error::BadInode(n)));
    }
    let init = image.lookup("bin/init").unwrap();
    assert!(matches!(image.read_dir(init), Err(Error::NotADirectory)));
    assert_eq!(image.file_data(ROOT), Err(Error::NotAFile));
    assert_eq!(image.data_offset(ROOT), Err(Error::NotAFile));
    // Display works for every variant.
    for e in [
        Error::Truncated,
        Error::BadMagic,
        Error::UnsupportedVersion(9),
        Error::Corrupt("why"),
        Error::BadInode(3),
        Error::NotFound,
        Error::NotADirectory,
        Error::NotAFile,
        Error::BadPath,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn trailing_bytes_are_ignored() {
    let mut bytes = sample_image();
    let len = bytes.len();
    bytes.extend_from_slice(&[0xFF; 5000]);
    let image = Image::parse(&bytes).unwrap();
    assert_eq!(image.len(), len);
    assert_eq!(walk(&image), expected_sample());
}

#[test]
fn output_is_reproducible() {
    let mut reversed = Builder::new();
    for dir in SAMPLE_DIRS.iter().rev() {
        reversed.add_dir(dir).unwrap();
    }
    for (path, data, mode) in sample_files().into_iter().rev() {
        reversed.add_file(path, data, mode).unwrap();
    }
    assert_eq!(reversed.build(), sample_image());
    assert_eq!(sample_builder().build(), sample_builder().build());
}

#[test]
fn builder_refusals() {
    let mut b = Builder::new();
    b.add_file("bin/init", vec![1], 0o755).unwrap();
    b.add_dir("etc").unwrap();
    assert_eq!(b.add_file("bin/init", vec![2], 0o755), Err(BuildError::AlreadyExists("bin/init".into())));
    assert_eq!(b.add_file("/bin//init", vec![2], 0o755), Err(BuildError::AlreadyExists("bin/init".into())));
    assert_eq!(b.add_dir("bin/init"), Err(BuildError::AlreadyExists("bin/init".into())));
    assert_eq!(b.add_dir("etc"), Err(BuildError::AlreadyExists("etc".into())));
    assert_eq!(b.add_dir("bin"), Err(BuildError::AlreadyExists("bin".into())));
    assert_eq!(b.add_file("etc", vec![], 0o644), Err(BuildError::AlreadyExists("etc".into())));
    assert_eq!(b.add_file("bin/init/x", vec![], 0o644), Err(BuildError::NotADirectory("bin/init".into())));
    assert_eq!(b.add_dir("bin/init/x/y"), Err(BuildError::NotADirectory("bin/init".into())));
    for path in ["", "/", "//"] {
        assert_eq!(b.add_dir(path), Err(BuildError::EmptyPath));
        assert_eq!(b.add_file(path, vec![], 0o644), Err(BuildError::EmptyPath));
    }
    let long = "n".repeat(256);
    for (path, bad) in
        [("a/./b", "."), ("a/../b", ".."), ("..", ".."), ("x\0y", "x\0y"), (long.as_str(), long.as_str())]
    {
        assert_eq!(b.add_dir(path), Err(BuildError::InvalidName(bad.into())));
        assert_eq!(b.add_file(path, vec![], 0o644), Err(BuildError::InvalidName(bad.into())));
    }
    assert_eq!(b.add_file("m", vec![], 0o10000), Err(BuildError::BadMode(0o10000)));
    // Refusals left nothing behind: no `a` from "a/./b".
    let bytes = b.build();
    let image = Image::parse(&bytes).unwrap();
    let names: Vec<&str> = image.read_dir(ROOT).unwrap().map(|e| e.name).collect();
    assert_eq!(names, ["bin", "etc"]);
    for e in [BuildError::EmptyPath, BuildError::InvalidName("x".into()), BuildError::TooManyInodes] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn modes_round_trip() {
    let mut b = Builder::new();
    for mode in [0, 0o644, 0o755, 0o4755, 0o7777] {
        b.add_file(&format!("m{mode:o}"), vec![], mode).unwrap();
    }
    let bytes = b.build();
    let image = Image::parse(&bytes).unwrap();
    for mode in [0, 0o644, 0o755, 0o4755, 0o7777] {
        let n = image.lookup(&format!("m{mode:o}")).unwrap();
        assert_eq!(image.inode(n).unwrap().mode, mode);
    }
    assert_eq!(image.inode(ROOT).unwrap().mode, 0o755);
}

#[test]
fn name_rule() {
    assert!(is_valid_name("a"));
    assert!(is_valid_name(&"a".repeat(255)));
    assert!(is_valid_name("..."));
    assert!(is_valid_name(".hidden"));
    for bad in ["", ".", "..", "a/b", "/", "a\0", &"a".repeat(256)] {
        assert!(!is_valid_name(bad), "{bad:?}");
    }
}

#[test]
fn identical_files_are_stored_once() {
    let big: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let mut once = Builder::new();
    once.add_file("bin/utils", big.clone(), 0o755).unwrap();
    let single = once.build();

    let mut many = Builder::new();
    for name in ["bin/utils", "bin/cat", "bin/ls", "sub/dir/echo"] {
        many.add_file(name, big.clone(), 0o755).unwrap();
    }
    many.add_file("bin/other", b"different".to_vec(), 0o644).unwrap();
    many.add_file("bin/empty", Vec::new(), 0o644).unwrap();
    many.add_file("bin/empty2", Vec::new(), 0o644).unwrap();
    let image_bytes = many.build();
    // One copy of `big` (3 pages) plus one page for "different".
    assert_eq!(image_bytes.len(), single.len() + PAGE_SIZE, "the shared contents were stored more than once");

    let image = Image::parse(&image_bytes).unwrap();
    let offsets: Vec<usize> = ["bin/utils", "bin/cat", "bin/ls", "sub/dir/echo"]
        .iter()
        .map(|path| {
            let n = image.lookup(path).unwrap();
            assert_eq!(image.file_data(n).unwrap(), big.as_slice(), "{path}");
            assert_eq!(image.inode(n).unwrap().mode, 0o755);
            image.data_offset(n).unwrap()
        })
        .collect();
    assert!(offsets.iter().all(|&o| o == offsets[0]), "{offsets:?}");
    let other = image.lookup("bin/other").unwrap();
    assert_eq!(image.file_data(other).unwrap(), b"different");
    assert_ne!(image.data_offset(other).unwrap(), offsets[0]);
    for empty in ["bin/empty", "bin/empty2"] {
        assert_eq!(image.file_data(image.lookup(empty).unwrap()).unwrap(), b"");
    }
    // Reproducible.
    assert_eq!(many.build(), image_bytes);
}
