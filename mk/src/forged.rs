//! Host tests of the `redoxfs` library (the code `redoxfsd` runs) on
//! damaged images whose damage passes every hash check: a forged image.
//!
//! `disk::tests::damaged_images_give_errors_never_panics` writes random
//! bytes into a RedoxFS image, and RedoxFS catches all of it: every block
//! it reads is checked against the hash its parent pointer keeps, and the
//! header against its own. Damage that passes those checks comes from a
//! bug that wrote bad data before hashing it, or from someone who made
//! the image on purpose. This module makes such images: it finds every
//! block pointer in a small image by its hash, changes bytes in a block
//! (or a header's fields, or moves a header in its ring), and writes the
//! new hashes up the chain of pointers to the headers, whose own hashes it
//! remakes. Then it mounts each image as `redoxfsd` does and reads every
//! file, with a deadline, and sorts what happened: refused, errors, fine,
//! a panic (and where), or no answer in time.
//!
//! May touch: a temporary directory of its own, nothing else.

#![cfg(test)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Mutex, Once, OnceLock};
use std::thread;
use std::time::Duration;

use redox_syscall_06::{EIO, Error};
use redoxfs::{BLOCK_SIZE, BlockAddr, BlockData, BlockMeta, FileSystem, HEADER_RING, Header, Node, TreePtr};
use xorshift::Rng;

const BLOCK: usize = BLOCK_SIZE as usize;

/// A disk in memory that behaves as `redoxfs_glue::SchemeDisk` does at
/// its edges: a block number whose byte offset overflows, or a read or
/// write past the end, is `EIO` (the glue's `checked_mul` and the driver's
/// short transfer), never a panic of the disk itself.
struct Image(Vec<u8>);

impl Image {
    fn range(&self, block: u64, len: usize) -> redox_syscall_06::Result<std::ops::Range<usize>> {
        let start = block.checked_mul(BLOCK_SIZE).and_then(|s| usize::try_from(s).ok()).ok_or(Error::new(EIO))?;
        let end = start.checked_add(len).filter(|&end| end <= self.0.len()).ok_or(Error::new(EIO))?;
        Ok(start..end)
    }
}

// `redoxfs::Disk`'s methods are `unsafe fn` by the trait's signature only
// (the crate marks them so to steer callers to its file system API);
// nothing in these is unsafe.
impl redoxfs::Disk for Image {
    unsafe fn read_at(&mut self, block: u64, buffer: &mut [u8]) -> redox_syscall_06::Result<usize> {
        let range = self.range(block, buffer.len())?;
        buffer.copy_from_slice(&self.0[range]);
        Ok(buffer.len())
    }

    unsafe fn write_at(&mut self, block: u64, buffer: &[u8]) -> redox_syscall_06::Result<usize> {
        let range = self.range(block, buffer.len())?;
        self.0[range].copy_from_slice(buffer);
        Ok(buffer.len())
    }

    fn size(&mut self) -> redox_syscall_06::Result<u64> {
        Ok(self.0.len() as u64)
    }
}

/// The hash a block pointer keeps for `data` (RedoxFS's own function).
fn hash_of(data: &[u8]) -> u64 {
    BlockData::new(BlockAddr::null(BlockMeta::default()), data).create_ptr().hash()
}

fn u64_at(image: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(image[at..at + 8].try_into().expect("8 bytes"))
}

fn put_u64(image: &mut [u8], at: usize, value: u64) {
    image[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// A block pointer found in the image: at byte `at`, to `len` bytes from
/// block `index`.
#[derive(Clone, Copy, Debug)]
struct Ptr {
    at: usize,
    index: usize,
    len: usize,
}

/// Byte offsets of a header's fields (`redoxfs::Header`, packed).
const SIZE_AT: usize = 32;
const GENERATION_AT: usize = 40;
const TREE_AT: usize = 48;
const ALLOC_AT: usize = 64;
const RELEASE_AT: usize = 3152;

/// Every block pointer of `image` (an address and the hash of what it
/// addresses, at a 4-byte boundary), found by its hash.
fn pointers(image: &[u8]) -> Vec<Ptr> {
    let blocks = image.len() / BLOCK;
    let mut hashes: HashMap<(usize, usize), u64> = HashMap::new();
    let mut found = Vec::new();
    for at in (0..image.len().saturating_sub(15)).step_by(4) {
        let addr = u64_at(image, at);
        let (index, level, decomp) = ((addr >> 8) as usize, (addr & 0xf) as u32, (addr >> 4) & 0xf);
        if index == 0 || index >= blocks || level > 8 || decomp != 0 && decomp as u32 <= level {
            continue;
        }
        let len = BLOCK << level;
        if index * BLOCK + len > image.len() {
            continue;
        }
        let hash = *hashes.entry((index, len)).or_insert_with(|| hash_of(&image[index * BLOCK..index * BLOCK + len]));
        if u64_at(image, at + 8) == hash {
            found.push(Ptr { at, index, len });
        }
    }
    found
}

/// The ring blocks that hold a valid header.
fn headers(image: &[u8]) -> Vec<usize> {
    (0..HEADER_RING as usize).filter(|&b| header_at(image, b).valid()).collect()
}

fn header_at(image: &[u8], block: usize) -> Header {
    let mut header = Header::default();
    header.copy_from_slice(&image[block * BLOCK..(block + 1) * BLOCK]);
    header
}

/// Makes the header in ring block `block` valid again after its bytes
/// changed, keeping the generation its bytes say.
fn rehash_header(image: &mut [u8], block: usize) {
    let mut header = header_at(image, block);
    let generation = header.generation();
    header.generation = generation.wrapping_sub(1).into();
    if generation == 0 {
        // `update` would overflow from u64::MAX; take generation 1.
        header.generation = 0.into();
    }
    header.update(None);
    image[block * BLOCK..(block + 1) * BLOCK].copy_from_slice(&header);
}

/// After the bytes of `changed` (byte ranges) changed, writes the new
/// hashes into every pointer to them, and on up to the headers, whose
/// hashes it remakes.
fn rehash_chain(image: &mut [u8], ptrs: &[Ptr], changed: Vec<std::ops::Range<usize>>) {
    let mut dirty = changed;
    let mut headers_dirty = BTreeSet::new();
    // The pointer graph has no cycles (copy on write); bound it anyway.
    for _ in 0..64 {
        if dirty.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for ptr in ptrs {
            let start = ptr.index * BLOCK;
            let target = start..start + ptr.len;
            if dirty.iter().any(|d| d.start < target.end && target.start < d.end) {
                let hash = hash_of(&image[target]);
                if u64_at(image, ptr.at + 8) != hash {
                    put_u64(image, ptr.at + 8, hash);
                    let block = ptr.at / BLOCK;
                    if block < HEADER_RING as usize {
                        headers_dirty.insert(block);
                    } else {
                        next.push(ptr.at..ptr.at + 16);
                    }
                }
            }
        }
        dirty = next;
    }
    for block in headers_dirty {
        rehash_header(image, block);
    }
}

/// What mounting and reading a damaged image came to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Refused,
    Errors,
    Fine,
    Panic(String),
    Hang,
}

/// Files and directories read at most, and bytes of a file.
const MAX_NODES: usize = 500;
const MAX_FILE: u64 = 1 << 20;

/// The first ring block with a valid header, or `None` when there is
/// none or it sits before the slot its generation names: what `redoxfsd`
/// checks before it calls `FileSystem::open` (`ring_slot` in
/// `schemes/file/src/main.rs`, which says why).
fn ring_slot(image: &[u8]) -> Option<u64> {
    let slot = (0..HEADER_RING as usize)
        .take_while(|&b| (b + 1) * BLOCK <= image.len())
        .find(|&b| header_at(image, b).valid())?;
    (header_at(image, slot).generation() % HEADER_RING <= slot as u64).then_some(slot as u64)
}

/// Mounts as `redoxfsd` does (the ring found first, open without cleanup,
/// the size check, then the cleanup), writes a file, and reads every
/// directory and file.
fn exercise(image: Vec<u8>) -> Outcome {
    let size = image.len() as u64;
    let Some(slot) = ring_slot(&image) else { return Outcome::Refused };
    let Ok(mut fs) = FileSystem::open(Image(image), None, Some(slot), false) else { return Outcome::Refused };
    if fs.header.size() > size || fs.cleanup().is_err() {
        return Outcome::Refused;
    }
    let wrote = fs.tx(|tx| {
        let root = tx.read_tree(TreePtr::root())?;
        let node = tx.create_node(root.ptr(), "new", Node::MODE_FILE | 0o644, 1, 0)?;
        tx.write_node(node.ptr(), 0, &[7u8; 10_000], 1, 0)
    });
    let walked = fs.tx(|tx| crate::disk::walk_everything(tx, MAX_NODES, MAX_FILE));
    if wrote.is_ok() && walked.is_ok() { Outcome::Fine } else { Outcome::Errors }
}

/// Where the last panic on each `forged-` thread happened.
static PANICS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// Keeps the panics of the `forged-` threads quiet and remembers where
/// they happened; others go to the hook that was there.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let name = thread::current().name().unwrap_or_default().to_string();
            if name.starts_with("forged-") {
                let place = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
                let what = info
                    .payload()
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let place = place.rsplit_once("/src/").map_or(place.clone(), |(_, p)| format!("src/{p}"));
                PANICS.lock().unwrap_or_else(|p| p.into_inner()).insert(name, format!("{place}: {what}"));
            } else {
                previous(info);
            }
        }));
    });
}

/// How long one image may take.
const DEADLINE: Duration = Duration::from_secs(5);

/// Runs [`exercise`] on a thread of its own with a deadline.
fn judge(name: String, image: Vec<u8>) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let thread_name = format!("forged-{name}");
    let spawned = thread::Builder::new().name(thread_name.clone()).spawn(move || {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| exercise(image)));
        let _ = tx.send(outcome);
    });
    if spawned.is_err() {
        return Outcome::Panic(String::from("no thread"));
    }
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => {
            let place = PANICS.lock().unwrap_or_else(|p| p.into_inner()).remove(&thread_name).unwrap_or_default();
            Outcome::Panic(place)
        }
        // The thread is left to spin until the test process ends.
        Err(_) => Outcome::Hang,
    }
}

/// A small RedoxFS with directories, small files, a directory of many
/// entries and a file of several records (made once for every test).
fn pristine() -> Vec<u8> {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(make_pristine).clone()
}

fn make_pristine() -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("mk-forged-{}", std::process::id()));
    let path = dir.join("good.img");
    crate::disk::format(&path, 8 << 20).expect("format");
    crate::disk::write(&path, "/home/root/a.txt", b"hello\n").expect("write");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    crate::disk::write(&path, "/home/big", &big).expect("write");
    let text: Vec<u8> = b"compressible text ".iter().copied().cycle().take(150_000).collect();
    crate::disk::write(&path, "/home/text", &text).expect("write");
    for n in 0..40 {
        crate::disk::write(&path, &format!("/tmp/file-with-a-long-name-{n}"), format!("{n}\n").as_bytes())
            .expect("write");
    }
    let image = std::fs::read(&path).expect("read");
    let _ = std::fs::remove_dir_all(&dir);
    image
}

/// One forged image from `seed`, and what was done to it.
fn forge(image: &[u8], ptrs: &[Ptr], seed: u64) -> (Vec<u8>, String) {
    let mut rng = Rng::new(seed);
    let mut image = image.to_vec();
    let rings = headers(&image);
    match seed % 4 {
        // Bytes of a block some pointer addresses, the chain rehashed.
        0 | 1 => {
            let ptr = ptrs[rng.below(ptrs.len())];
            let start = ptr.index * BLOCK;
            let mut changed = Vec::new();
            for _ in 0..1 + rng.below(8) {
                let at = start + rng.below(ptr.len);
                if rng.below(2) == 0 {
                    image[at] = rng.next_u64() as u8;
                    changed.push(at..at + 1);
                } else {
                    let at = (at & !7).min(start + ptr.len - 8);
                    let value = match rng.below(3) {
                        0 => rng.next_u64(),
                        1 => rng.below_u64(1 << 16),
                        _ => u64::MAX - rng.below_u64(16),
                    };
                    put_u64(&mut image, at, value);
                    changed.push(at..at + 8);
                }
            }
            rehash_chain(&mut image, ptrs, changed);
            (image, format!("bytes of block {} ({} bytes), rehashed", ptr.index, ptr.len))
        }
        // A field of the newest header, rehashed.
        2 => {
            let Some(&newest) = rings.iter().max_by_key(|&&b| header_at(&image, b).generation()) else {
                return (image, String::from("no header"));
            };
            let field = *rng.pick(&[SIZE_AT, GENERATION_AT, TREE_AT, ALLOC_AT, RELEASE_AT]).unwrap_or(&SIZE_AT);
            let at = newest * BLOCK + field + if rng.below(2) == 0 { 0 } else { 8 } * usize::from(field != SIZE_AT);
            let value = match rng.below(3) {
                0 => rng.next_u64(),
                1 => rng.below_u64(4096),
                _ => u64_at(&image, at) ^ (1 << rng.below(64)),
            };
            put_u64(&mut image, at, value);
            rehash_header(&mut image, newest);
            (image, format!("header {newest} byte {} set to {value:#x}, rehashed", at - newest * BLOCK))
        }
        // A header moved to another slot of the ring, the others zeroed.
        _ => {
            let Some(&from) = rng.pick(&rings) else { return (image, String::from("no header")) };
            let to = rng.below(HEADER_RING as usize);
            let header = image[from * BLOCK..(from + 1) * BLOCK].to_vec();
            image[..HEADER_RING as usize * BLOCK].fill(0);
            image[to * BLOCK..(to + 1) * BLOCK].copy_from_slice(&header);
            (image, format!("header of slot {from} alone in slot {to}"))
        }
    }
}

/// Panics of redoxfs 0.8.6 on forged images that no check before it can
/// catch (each needs a structure whose hash is right and whose contents
/// are not), by file and line in the crate. `redoxfsd` dies of one
/// (`panic = "abort"`): at mount, before it was ready, so init does not
/// start it again and the system runs on without `file:`; while serving,
/// its caller gets `EIO`, init starts it again, and the next read of the
/// same thing kills it again.
const KNOWN_PANICS: &[(&str, &str)] = &[
    // `reset_allocator`, replaying the allocation log at mount: a block the
    // log allocates twice fails `assert_eq!` (its own TODO: "replace assert
    // with error?"); a count of i64::MIN, or an index near u64::MAX,
    // overflows.
    ("src/filesystem.rs:285", "the allocation log replayed at mount"),
    ("src/filesystem.rs:287", "the allocation log replayed at mount"),
    ("src/filesystem.rs:288", "the allocation log replayed at mount"),
    ("src/filesystem.rs:292", "the allocation log replayed at mount"),
    // `DirEntryIterator::next`: a directory entry whose name length is bad
    // is `unwrap`ped.
    ("src/dir.rs:253", "a directory entry read"),
    // `BlockLevel::bytes`: a file's record level (`src/node.rs:316`)
    // shifts 4096 past 64 bits.
    ("src/block.rs:134", "a file's record level"),
];

/// The blocks of the allocation log (from every header's `alloc` pointer,
/// then each list's `prev` pointer at its start).
fn alloc_log_blocks(image: &[u8], ptrs: &[Ptr]) -> BTreeSet<usize> {
    let mut blocks = BTreeSet::new();
    let mut queue: Vec<usize> = headers(image).into_iter().map(|h| h * BLOCK + ALLOC_AT).collect();
    while let Some(at) = queue.pop() {
        if let Some(ptr) = ptrs.iter().find(|p| p.at == at)
            && blocks.insert(ptr.index)
        {
            queue.push(ptr.index * BLOCK);
        }
    }
    blocks
}

/// Seeds of forged images a test run makes.
const SEEDS: u64 = 400;

#[test]
fn forged_images_give_errors_or_known_redoxfs_panics() {
    install_hook();
    let image = pristine();
    let ptrs = pointers(&image);
    assert!(ptrs.len() > 50 && headers(&image).len() > 50, "{} pointers", ptrs.len());
    let alloc_log = alloc_log_blocks(&image, &ptrs);
    assert!(!alloc_log.is_empty());
    assert_eq!(judge(String::from("pristine"), image.clone()), Outcome::Fine);
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut unknown = Vec::new();
    for seed in 1..=SEEDS {
        let (forged, what) = forge(&image, &ptrs, seed);
        let outcome = judge(format!("{seed}"), forged);
        let key = match &outcome {
            Outcome::Panic(place) => match KNOWN_PANICS.iter().find(|(at, _)| place.starts_with(&format!("{at}:"))) {
                Some((_, why)) => format!("panic in {why} ({})", place.lines().next().unwrap_or_default()),
                None => {
                    unknown.push(format!("seed {seed} ({what}): panic at {place}"));
                    continue;
                }
            },
            // A forged allocation log can free 2^34 blocks, one at a time
            // (`src/filesystem.rs:291`): not a loop nothing ends, but
            // nothing anyone would wait for.
            Outcome::Hang
                if what.starts_with("bytes of block ")
                    && alloc_log.iter().any(|b| what.starts_with(&format!("bytes of block {b} "))) =>
            {
                String::from("no answer: the allocation log replayed at mount")
            }
            Outcome::Hang => {
                unknown.push(format!("seed {seed} ({what}): no answer within {} s", DEADLINE.as_secs()));
                continue;
            }
            other => format!("{other:?}"),
        };
        *tally.entry(key).or_default() += 1;
    }
    println!("{SEEDS} forged images: {tally:#?}");
    assert!(unknown.is_empty(), "redoxfs failed on forged images in new ways:\n{}", unknown.join("\n"));
    for kind in ["Refused", "Errors", "Fine"] {
        assert!(tally.contains_key(kind), "no image came to {kind}: {tally:?}");
    }
}

/// Why `redoxfsd` looks for the ring itself: a header alone in a ring slot
/// before the one its generation names makes `FileSystem::open` subtract
/// past zero, which panics in a debug build. If this stops panicking, a
/// newer redoxfs fixed it.
#[test]
fn a_header_before_its_slot_panics_redoxfs_unless_checked_first() {
    install_hook();
    let mut image = pristine();
    let newest = *headers(&image).iter().max_by_key(|&&b| header_at(&image, b).generation()).expect("a header");
    let header = image[newest * BLOCK..(newest + 1) * BLOCK].to_vec();
    image[..HEADER_RING as usize * BLOCK].fill(0);
    image[..BLOCK].copy_from_slice(&header);
    assert!(newest > 0 && ring_slot(&image).is_none(), "redoxfsd's check refuses it");
    let bare = image.clone();
    let (tx, rx) = mpsc::channel();
    let name = String::from("forged-unchecked");
    let spawned = thread::Builder::new().name(name.clone()).spawn(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(|| FileSystem::open(Image(bare), None, None, false).is_ok()));
        let _ = tx.send(result.is_err());
    });
    spawned.expect("thread");
    assert_eq!(rx.recv_timeout(DEADLINE), Ok(true), "FileSystem::open did not panic");
    let place = PANICS.lock().unwrap_or_else(|p| p.into_inner()).remove(&name).unwrap_or_default();
    assert!(place.starts_with("src/filesystem.rs:52"), "{place}");
    // A zeroed ring: refused from the first 256 blocks.
    image[..HEADER_RING as usize * BLOCK].fill(0);
    assert_eq!(ring_slot(&image), None);
    assert_eq!(judge(String::from("zeroed"), image), Outcome::Refused);
}
