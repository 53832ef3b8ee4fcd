//! The disks QEMU attaches as virtio block devices (README "Files that
//! stay"): the persistent data disk of `cargo mk qemu`, RedoxFS on the
//! whole disk, made and formatted here through the same `redoxfs` crate
//! the guest's `redoxfsd` uses; `cargo mk disk ls|cat|put|get`, which read
//! and write files in it from the host; and the scratch disk of every test
//! boot.
//!
//! May touch: the image files it is given.

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use redoxfs::{DiskFile, FileSystem, Node, Transaction, TreeData, TreePtr};

/// The data disk's size when `mk` makes it.
pub const DATA_DISK_SIZE: u64 = 256 << 20;
/// Every test boot's scratch disk (programs/usertests/src/disk.rs).
pub const SCRATCH_SIZE: u64 = 16 << 20;
/// Directories a new data disk starts with: (path, owner uid, mode).
const SKELETON: &[(&str, u32, u16)] = &[("home", 0, 0o755), ("home/root", 0, 0o700), ("tmp", 0, 0o1777)];

type Fs = FileSystem<DiskFile>;

fn fs_err(what: &str, path: &Path, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

fn now() -> (u64, u32) {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (t.as_secs(), t.subsec_nanos())
}

/// Make `path` a sparse file of zeros, `size` bytes long (anew).
pub fn zeroed(path: &Path, size: u64) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    file.set_len(size).map_err(|e| format!("sizing {}: {e}", path.display()))
}

/// A fresh scratch disk at `path` (zeros, no file system).
pub fn scratch_disk(path: &Path) -> Result<(), String> {
    zeroed(path, SCRATCH_SIZE)
}

/// Every test boot's partitioned disk (`disk:2`): its size, its GUID
/// partition table's partitions (first sector, sectors), and the text at
/// the start of the second partition.
pub const PARTED_SIZE: u64 = 16 << 20;
pub const PARTED_PARTS: [(u64, u64); 3] = [(2048, 8192), (10240, 8192), (REDOXFS_PART_FIRST, REDOXFS_PART_SECTORS)];
pub const PARTED_TEXT: &[u8] = b"the second partition of disk:2\n";
/// The third partition holds a small RedoxFS, which the tests fill up
/// (`ENOSPC`): 4 MiB, 3 of them past the header ring.
pub const REDOXFS_PART_FIRST: u64 = 18432;
pub const REDOXFS_PART_SECTORS: u64 = 8192;
/// The sectors of the partitioned disk where QEMU's `blkdebug` makes every
/// read, and every write, fail (`EIO`), outside both partitions
/// (programs/usertests/src/disk.rs).
pub const PARTED_BAD_READ: u64 = 30000;
pub const PARTED_BAD_WRITE: u64 = 30008;

/// A fresh partitioned disk at `path` ([`PARTED_PARTS`], with
/// [`PARTED_TEXT`] in the second partition and a fresh RedoxFS in the
/// third).
pub fn partitioned_disk(path: &Path) -> Result<(), String> {
    use std::io::{Seek, SeekFrom, Write};
    zeroed(path, PARTED_SIZE)?;
    let parts: Vec<partition_table::Partition> = PARTED_PARTS
        .iter()
        .enumerate()
        .map(|(n, &(first, sectors))| partition_table::Partition { first, sectors, name: format!("ferrite-{n}") })
        .collect();
    let sectors = PARTED_SIZE / partition_table::SECTOR as u64;
    let table = partition_table::make(sectors, &parts).ok_or("the test partitions do not fit")?;
    let text = (PARTED_PARTS[1].0, PARTED_TEXT.to_vec());
    let small = path.with_extension("redoxfs.tmp");
    format(&small, REDOXFS_PART_SECTORS * partition_table::SECTOR as u64)?;
    let fs_bytes = fs::read(&small).map_err(|e| fs_err("reading", &small, e))?;
    let _ = fs::remove_file(&small);
    let redoxfs = (REDOXFS_PART_FIRST, fs_bytes);
    let mut file = OpenOptions::new().write(true).open(path).map_err(|e| fs_err("opening", path, e))?;
    for (first, bytes) in table.into_iter().chain([text, redoxfs]) {
        file.seek(SeekFrom::Start(first * partition_table::SECTOR as u64))
            .and_then(|_| file.write_all(&bytes))
            .map_err(|e| fs_err("writing", path, e))?;
    }
    Ok(())
}

/// A new data disk at `path`: RedoxFS with [`SKELETON`]'s directories.
pub fn format(path: &Path, size: u64) -> Result<(), String> {
    zeroed(path, size)?;
    let disk = DiskFile::open(path).map_err(|e| fs_err("opening", path, e))?;
    let (ctime, nsec) = now();
    let mut fs = FileSystem::create(disk, None, ctime, nsec).map_err(|e| fs_err("formatting", path, e))?;
    for &(dir, uid, mode) in SKELETON {
        let parts: Vec<&str> = dir.split('/').collect();
        fs.tx(|tx| {
            let parent = walk(tx, &parts[..parts.len() - 1])?;
            let mut node = tx.create_node(parent.ptr(), parts[parts.len() - 1], Node::MODE_DIR | mode, ctime, nsec)?;
            node.data_mut().set_uid(uid);
            node.data_mut().set_gid(uid);
            tx.sync_tree(node)
        })
        .map_err(|e| fs_err(&format!("making /{dir} in"), path, e))?;
    }
    Ok(())
}

/// The data disk at `path`: kept as it is, or made and formatted when it
/// does not exist (or `fresh` asks for a new one).
pub fn prepare_data_disk(path: &Path, fresh: bool) -> Result<(), String> {
    if path.exists() && !fresh {
        return Ok(());
    }
    format(path, DATA_DISK_SIZE)?;
    println!("mk: made the data disk {} ({} MiB, RedoxFS)", path.display(), DATA_DISK_SIZE >> 20);
    Ok(())
}

fn open(path: &Path) -> Result<Fs, String> {
    let disk = DiskFile::open(path).map_err(|e| fs_err("opening", path, e))?;
    FileSystem::open(disk, None, None, true).map_err(|e| fs_err("mounting the RedoxFS on", path, e))
}

fn walk(tx: &mut Transaction<DiskFile>, parts: &[&str]) -> redox_syscall_06::Result<TreeData<Node>> {
    let mut node = tx.read_tree(TreePtr::root())?;
    for part in parts.iter().filter(|p| !p.is_empty()) {
        node = tx.find_node(node.ptr(), part)?;
    }
    Ok(node)
}

fn split(guest_path: &str) -> Vec<&str> {
    guest_path.trim_start_matches("file:").split('/').filter(|p| !p.is_empty() && *p != ".").collect()
}

/// `cargo mk disk ls [PATH]`: the entries of a directory (a `/` after
/// directories) or a file's size.
pub fn ls(image: &Path, guest_path: &str) -> Result<Vec<String>, String> {
    let mut fs = open(image)?;
    let parts = split(guest_path);
    fs.tx(|tx| {
        let node = walk(tx, &parts)?;
        if !node.data().is_dir() {
            return Ok(vec![format!("{} {} bytes", guest_path, node.data().size())]);
        }
        let mut entries = Vec::new();
        tx.child_nodes(node.ptr(), &mut entries)?;
        let mut lines = Vec::new();
        for entry in &entries {
            let Some(name) = entry.name() else { continue };
            let child = tx.read_tree(entry.node_ptr())?;
            let suffix = if child.data().is_dir() { "/" } else { "" };
            lines.push(format!("{name}{suffix}"));
        }
        lines.sort();
        Ok(lines)
    })
    .map_err(|e| format!("{guest_path}: {e}"))
}

/// The contents of the file `node` (its access time set to `atime`).
pub fn contents<D: redoxfs::Disk>(
    tx: &mut Transaction<D>,
    node: &TreeData<Node>,
    (atime, nsec): (u64, u32),
) -> redox_syscall_06::Result<Vec<u8>> {
    let mut data = vec![0u8; node.data().size() as usize];
    let mut done = 0;
    while done < data.len() {
        let n = tx.read_node(node.ptr(), done as u64, &mut data[done..], atime, nsec)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    data.truncate(done);
    Ok(data)
}

/// `cargo mk disk cat PATH`: a file's contents.
pub fn read(image: &Path, guest_path: &str) -> Result<Vec<u8>, String> {
    let mut fs = open(image)?;
    let parts = split(guest_path);
    let (atime, nsec) = now();
    fs.tx(|tx| {
        let node = walk(tx, &parts)?;
        if node.data().is_dir() {
            return Err(redox_syscall_06::Error::new(redox_syscall_06::EISDIR));
        }
        contents(tx, &node, (atime, nsec))
    })
    .map_err(|e| format!("{guest_path}: {e}"))
}

/// `cargo mk disk put HOST PATH`: write a file (made or replaced; it
/// belongs to root, mode 0644).
pub fn write(image: &Path, guest_path: &str, data: &[u8]) -> Result<(), String> {
    let mut fs = open(image)?;
    let parts = split(guest_path);
    let Some((name, dirs)) = parts.split_last() else { return Err(format!("{guest_path}: not a file name")) };
    let (mtime, nsec) = now();
    fs.tx(|tx| {
        let dir = walk(tx, dirs)?;
        let node = match tx.find_node(dir.ptr(), name) {
            Ok(node) => node,
            Err(e) if e.errno == redox_syscall_06::ENOENT => {
                tx.create_node(dir.ptr(), name, Node::MODE_FILE | 0o644, mtime, nsec)?
            }
            Err(e) => return Err(e),
        };
        tx.truncate_node(node.ptr(), 0, mtime, nsec)?;
        let mut done = 0;
        while done < data.len() {
            done += tx.write_node(node.ptr(), done as u64, &data[done..], mtime, nsec)?;
        }
        Ok(())
    })
    .map_err(|e| format!("{guest_path}: {e}"))
}

/// Every directory and file reachable from the root, read through (at
/// most `max_nodes` nodes and `max_file` bytes a file): how the tests of
/// damaged and forged images exercise a mounted file system.
#[cfg(test)]
pub fn walk_everything<D: redoxfs::Disk>(
    tx: &mut Transaction<D>,
    max_nodes: usize,
    max_file: u64,
) -> redox_syscall_06::Result<usize> {
    let mut queue: Vec<TreePtr<Node>> = vec![TreePtr::root()];
    let mut seen = 0;
    while let Some(ptr) = queue.pop() {
        seen += 1;
        if seen > max_nodes {
            break;
        }
        let node: TreeData<Node> = tx.read_tree(ptr)?;
        if node.data().is_dir() {
            let mut entries = Vec::new();
            tx.child_nodes(ptr, &mut entries)?;
            queue.extend(entries.iter().map(|e| e.node_ptr()));
        } else {
            let mut buf = vec![0u8; 64 << 10];
            let mut at = 0;
            while at < max_file && tx.read_node(ptr, at, &mut buf, 1, 0)? > 0 {
                at += buf.len() as u64;
            }
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_disk_is_formatted_kept_and_read_back() {
        let dir = std::env::temp_dir().join(format!("mk-disk-{}", std::process::id()));
        let path = dir.join("data.img");
        prepare_data_disk(&path, false).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), DATA_DISK_SIZE);
        assert_eq!(ls(&path, "/").unwrap(), ["home/", "tmp/"]);
        assert_eq!(ls(&path, "home").unwrap(), ["root/"]);
        write(&path, "file:/home/root/a.txt", b"hi\n").unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        write(&path, "/home/big", &big).unwrap();
        // Kept across "boots": the same image, mounted again.
        prepare_data_disk(&path, false).unwrap();
        assert_eq!(read(&path, "/home/root/a.txt").unwrap(), b"hi\n");
        assert_eq!(read(&path, "home/big").unwrap(), big);
        assert_eq!(ls(&path, "/home").unwrap(), ["big", "root/"]);
        assert!(read(&path, "/nope").is_err());
        assert!(read(&path, "/home").is_err());
        prepare_data_disk(&path, true).unwrap();
        assert!(read(&path, "/home/root/a.txt").is_err());
        scratch_disk(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), SCRATCH_SIZE);
        assert!(open(&path).is_err(), "a disk of zeros mounted");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_images_give_errors_never_panics() {
        use std::panic::{AssertUnwindSafe, catch_unwind};
        let dir = std::env::temp_dir().join(format!("mk-damaged-{}", std::process::id()));
        let good = dir.join("good.img");
        format(&good, 8 << 20).unwrap();
        write(&good, "/home/root/a.txt", b"hello\n").unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        write(&good, "/home/big", &big).unwrap();
        for n in 0..20 {
            write(&good, &format!("/tmp/f{n}"), format!("file {n}\n").as_bytes()).unwrap();
        }
        let pristine = fs::read(&good).unwrap();
        let block = redoxfs::BLOCK_SIZE as usize;
        let used: Vec<usize> = (0..pristine.len() / block)
            .filter(|&b| pristine[b * block..(b + 1) * block].iter().any(|&x| x != 0))
            .collect();
        let ring = redoxfs::HEADER_RING as usize;
        let data_blocks: Vec<usize> = used.iter().copied().filter(|&b| b >= ring).collect();
        assert!(data_blocks.len() > 20, "only {} used blocks", data_blocks.len());
        let damaged = dir.join("damaged.img");
        let mut rng = xorshift::Rng::new(0x5eed);
        let (mut refused, mut failed_later, mut fine) = (0, 0, 0);
        for round in 0..300 {
            let mut image = pristine.clone();
            match round % 4 {
                // Random bytes in blocks the file system uses.
                0 | 1 => {
                    for _ in 0..1 + rng.below(4) {
                        let b = data_blocks[rng.below(data_blocks.len())];
                        for _ in 0..1 + rng.below(64) {
                            let at = b * block + rng.below(block);
                            image[at] = rng.next_u64() as u8;
                        }
                    }
                }
                // The header ring zeroed, or a header's bytes changed.
                2 => {
                    if rng.below(2) == 0 {
                        image[..ring * block].fill(0);
                    } else {
                        let b = used.iter().copied().rfind(|&b| b < ring).unwrap_or(0);
                        let at = b * block + rng.below(block);
                        image[at] ^= 1 + rng.below(255) as u8;
                    }
                }
                // Cut short.
                _ => image.truncate(rng.below(image.len()) / block * block),
            }
            fs::write(&damaged, &image).unwrap();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let Ok(mut fs) = open(&damaged) else { return 0 };
                match fs.tx(|tx| walk_everything(tx, 1000, 1 << 20)) {
                    Ok(_) => 2,
                    Err(_) => 1,
                }
            }));
            match outcome {
                Ok(0) => refused += 1,
                Ok(1) => failed_later += 1,
                Ok(_) => fine += 1,
                Err(_) => panic!("round {round}: redoxfs panicked on a damaged image"),
            }
        }
        println!("300 damaged images: {refused} refused, {failed_later} mounted then gave errors, {fine} read fine");
        assert!(refused > 0 && failed_later > 0, "{refused} refused, {failed_later} failed later");
        fs::remove_dir_all(&dir).unwrap();
    }
}
