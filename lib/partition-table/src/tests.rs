extern crate std;

use super::*;
use xorshift::Rng;

const DISK: u64 = 32768; // 16 MiB

fn disk_with(parts: &[Partition]) -> Vec<u8> {
    let mut disk = vec![0u8; DISK as usize * SECTOR];
    for (first, bytes) in make(DISK, parts).unwrap() {
        let at = first as usize * SECTOR;
        disk[at..at + bytes.len()].copy_from_slice(&bytes);
    }
    disk
}

fn reader(disk: &[u8]) -> impl FnMut(u64, usize) -> Option<Vec<u8>> + '_ {
    move |first, count| {
        let at = usize::try_from(first).ok()?.checked_mul(SECTOR)?;
        disk.get(at..at.checked_add(count.checked_mul(SECTOR)?)?).map(<[u8]>::to_vec)
    }
}

fn two() -> Vec<Partition> {
    vec![
        Partition { first: 2048, sectors: 8192, name: "first".into() },
        Partition { first: 10240, sectors: 20000, name: "second".into() },
    ]
}

#[test]
fn reads_back_what_it_made() {
    let disk = disk_with(&two());
    assert_eq!(read(DISK, reader(&disk)), Ok(two()));
}

#[test]
fn an_empty_disk_has_no_table() {
    let disk = vec![0u8; 4 * SECTOR];
    assert_eq!(read(DISK, reader(&disk)), Err(Error::NoTable));
}

#[test]
fn refuses_what_does_not_fit() {
    assert!(make(DISK, &[Partition { first: 10, sectors: 5, name: "early".into() }]).is_none());
    assert!(make(DISK, &[Partition { first: 2048, sectors: DISK, name: "big".into() }]).is_none());
    // A table for a larger disk read on a smaller one.
    let disk = disk_with(&two());
    assert_eq!(read(DISK / 2, reader(&disk)), Err(Error::Bad("usable range outside the disk")));
}

#[test]
fn checksums_catch_changes() {
    let mut disk = disk_with(&two());
    disk[SECTOR + 40] ^= 1; // first usable LBA, in the header
    assert_eq!(read(DISK, reader(&disk)), Err(Error::Bad("header checksum")));
    let mut disk = disk_with(&two());
    disk[2 * SECTOR + 32] ^= 1; // the first entry's starting LBA
    assert_eq!(read(DISK, reader(&disk)), Err(Error::Bad("entry array checksum")));
}

#[test]
fn overlapping_partitions_are_refused() {
    let mut parts = two();
    parts[1].first = 8000;
    let disk = disk_with(&parts);
    assert_eq!(read(DISK, reader(&disk)), Err(Error::Bad("partitions overlap")));
}

#[test]
fn random_damage_never_panics() {
    let good = disk_with(&two());
    let mut rng = Rng::new(11);
    for round in 0..3000 {
        let mut disk = good[..(2 + 32) * SECTOR].to_vec();
        for _ in 0..1 + rng.below(8) {
            let at = SECTOR + rng.below(disk.len() - SECTOR);
            disk[at] = rng.next_u64() as u8;
        }
        if round % 3 == 0 {
            // Random header fields with a valid checksum: only the
            // bounds checks stand between them and the reader.
            let mut header: GptHeader = bytemuck::pod_read_unaligned(&disk[SECTOR..SECTOR + size_of::<GptHeader>()]);
            header.partition_entry_lba = LbaLe::from_u64(rng.next_u64() % (DISK * 2));
            header.number_of_partition_entries = U32Le::from_u32(rng.next_u64() as u32 % 4096);
            header.size_of_partition_entry = U32Le::from_u32(1 << rng.below(12));
            header.update_header_crc32();
            disk[SECTOR..SECTOR + size_of::<GptHeader>()].copy_from_slice(bytemuck::bytes_of(&header));
        }
        let _ = read(DISK, reader(&disk));
    }
}
