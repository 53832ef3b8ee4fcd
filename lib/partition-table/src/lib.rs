//! GUID partition tables (GPT), the table `disk:` reads to serve a disk's
//! partitions as entries of their own (README "Disks"). The on-disk types
//! and checksums are the `gpt_disk_types` crate's; this crate checks a
//! table read from an untrusted disk ([`read`]: every field that says where
//! something is must be inside the disk, both checksums must hold, no two
//! partitions may overlap) and makes one ([`make`]), for `mk`'s test disks
//! and the host tests. Sectors are 512 bytes.
//!
//! May touch: nothing; pure logic, host-tested and fuzzed.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use gpt_disk_types::{
    Crc32, GptHeader, GptHeaderRevision, GptHeaderSignature, GptPartitionEntry, GptPartitionName, GptPartitionType,
    Guid, LbaLe, U32Le,
};

/// Bytes per sector.
pub const SECTOR: usize = 512;
/// The most partition entries a table may have (the usual 128, with room).
pub const MAX_ENTRIES: u32 = 1024;
/// Entries in a table [`make`] writes.
const ENTRIES: u32 = 128;
/// Bytes per entry in a table [`make`] writes.
const ENTRY_SIZE: usize = 128;

/// A partition: its first sector and its length in sectors, and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub first: u64,
    pub sectors: u64,
    pub name: String,
}

/// Why a disk's table was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Sector 1 holds no GPT header (the disk is not partitioned).
    NoTable,
    /// The table is there but does not hold together; what is wrong.
    Bad(&'static str),
    /// A sector could not be read.
    Io,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::NoTable => f.write_str("no GUID partition table"),
            Error::Bad(what) => write!(f, "a broken GUID partition table: {what}"),
            Error::Io => f.write_str("its sectors could not be read"),
        }
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&Crc32::ALGORITHM).checksum(bytes)
}

/// Reads the table of a disk of `sectors` sectors; `read(first, count)`
/// gives `count` sectors from `first` (`None` if it cannot). The used
/// entries in table order (an unpartitioned disk: [`Error::NoTable`]).
pub fn read(sectors: u64, mut read: impl FnMut(u64, usize) -> Option<Vec<u8>>) -> Result<Vec<Partition>, Error> {
    let block = read(1, 1).ok_or(Error::Io)?;
    let header: GptHeader = match block.get(..size_of::<GptHeader>()) {
        Some(bytes) => bytemuck::pod_read_unaligned(bytes),
        None => return Err(Error::Io),
    };
    if !header.is_signature_valid() {
        return Err(Error::NoTable);
    }
    let header_size = header.header_size.to_u32() as usize;
    if !(size_of::<GptHeader>()..=SECTOR).contains(&header_size) {
        return Err(Error::Bad("header size"));
    }
    if header.header_crc32 != header.calculate_header_crc32() {
        return Err(Error::Bad("header checksum"));
    }
    if header.my_lba.to_u64() != 1 {
        return Err(Error::Bad("header is not where it says"));
    }
    let first_usable = header.first_usable_lba.to_u64();
    let last_usable = header.last_usable_lba.to_u64();
    if first_usable > last_usable || last_usable >= sectors {
        return Err(Error::Bad("usable range outside the disk"));
    }
    let count = header.number_of_partition_entries.to_u32();
    let entry_size = header.size_of_partition_entry.to_u32() as usize;
    if count > MAX_ENTRIES || entry_size < size_of::<GptPartitionEntry>() || !entry_size.is_power_of_two() {
        return Err(Error::Bad("entry count or size"));
    }
    let array_bytes = count as usize * entry_size;
    let array_sectors = array_bytes.div_ceil(SECTOR);
    let array_lba = header.partition_entry_lba.to_u64();
    if array_lba < 2 || array_lba.saturating_add(array_sectors as u64) > sectors {
        return Err(Error::Bad("entry array outside the disk"));
    }
    let array = read(array_lba, array_sectors).ok_or(Error::Io)?;
    let array = array.get(..array_bytes).ok_or(Error::Io)?;
    if crc32(array) != u32::from_le_bytes(header.partition_entry_array_crc32.0.0) {
        return Err(Error::Bad("entry array checksum"));
    }
    let mut parts: Vec<Partition> = Vec::new();
    for raw in array.chunks_exact(entry_size) {
        let entry: GptPartitionEntry = bytemuck::pod_read_unaligned(&raw[..size_of::<GptPartitionEntry>()]);
        if !entry.is_used() {
            continue;
        }
        let (first, last) = (entry.starting_lba.to_u64(), entry.ending_lba.to_u64());
        if first > last || first < first_usable || last > last_usable {
            return Err(Error::Bad("a partition outside the usable range"));
        }
        if parts.iter().any(|p| first < p.first + p.sectors && p.first <= last) {
            return Err(Error::Bad("partitions overlap"));
        }
        let name = entry.name;
        parts.push(Partition { first, sectors: last - first + 1, name: name.chars().collect() });
    }
    Ok(parts)
}

/// A table for a disk of `sectors` sectors holding `parts` (their first
/// sectors and lengths; names up to 35 characters): the sectors to write,
/// as (first sector, bytes). A protective MBR, the primary header and
/// entries at the start, the backup entries and header at the end.
/// `None` if the parts do not fit in the usable range.
pub fn make(sectors: u64, parts: &[Partition]) -> Option<Vec<(u64, Vec<u8>)>> {
    let array_sectors = (ENTRIES as usize * ENTRY_SIZE).div_ceil(SECTOR) as u64;
    let first_usable = 2 + array_sectors;
    let last_usable = sectors.checked_sub(2 + array_sectors)?;
    let mut array = vec![0u8; ENTRIES as usize * ENTRY_SIZE];
    for (n, part) in parts.iter().enumerate() {
        let last = part.first.checked_add(part.sectors)?.checked_sub(1)?;
        if n >= ENTRIES as usize || part.first < first_usable || last > last_usable || part.sectors == 0 {
            return None;
        }
        let mut name = GptPartitionName::default();
        for (i, c) in part.name.chars().take(35).enumerate() {
            name.set_char(i, c).ok()?;
        }
        let entry = GptPartitionEntry {
            // "Linux filesystem data"; any used type works for `disk:`.
            partition_type_guid: GptPartitionType(Guid::new(
                0x0fc6_3daf_u32.to_le_bytes(),
                0x8483_u16.to_le_bytes(),
                0x4772_u16.to_le_bytes(),
                0x8e,
                0x79,
                [0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4],
            )),
            unique_partition_guid: Guid::new(
                (n as u32 + 1).to_le_bytes(),
                [0xfe, 0xca],
                [0x00, 0x40],
                0x80,
                0,
                [0, 0, 0, 0, 0, n as u8 + 1],
            ),
            starting_lba: LbaLe::from_u64(part.first),
            ending_lba: LbaLe::from_u64(last),
            ..GptPartitionEntry::default()
        };
        let entry = GptPartitionEntry { name, ..entry };
        array[n * ENTRY_SIZE..n * ENTRY_SIZE + size_of::<GptPartitionEntry>()]
            .copy_from_slice(bytemuck::bytes_of(&entry));
    }
    let array_crc = Crc32(U32Le::from_u32(crc32(&array)));
    let header = |mine: u64, other: u64, entries: u64| {
        let mut header = GptHeader {
            signature: GptHeaderSignature::EFI_COMPATIBLE_PARTITION_TABLE_HEADER,
            revision: GptHeaderRevision::VERSION_1_0,
            my_lba: LbaLe::from_u64(mine),
            alternate_lba: LbaLe::from_u64(other),
            first_usable_lba: LbaLe::from_u64(first_usable),
            last_usable_lba: LbaLe::from_u64(last_usable),
            disk_guid: Guid::new([1, 2, 3, 4], [5, 6], [0x07, 0x40], 0x88, 9, [10, 11, 12, 13, 14, 15]),
            partition_entry_lba: LbaLe::from_u64(entries),
            number_of_partition_entries: U32Le::from_u32(ENTRIES),
            size_of_partition_entry: U32Le::from_u32(ENTRY_SIZE as u32),
            partition_entry_array_crc32: array_crc,
            ..GptHeader::default()
        };
        header.update_header_crc32();
        let mut sector = vec![0u8; SECTOR];
        sector[..size_of::<GptHeader>()].copy_from_slice(bytemuck::bytes_of(&header));
        sector
    };
    // The protective MBR: one partition of type 0xEE over the whole disk.
    let mut mbr = vec![0u8; SECTOR];
    let covered = u32::try_from(sectors - 1).unwrap_or(u32::MAX);
    mbr[446 + 1..446 + 4].copy_from_slice(&[0x00, 0x02, 0x00]);
    mbr[446 + 4] = 0xee;
    mbr[446 + 5..446 + 8].copy_from_slice(&[0xff, 0xff, 0xff]);
    mbr[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
    mbr[446 + 12..446 + 16].copy_from_slice(&covered.to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    let backup_entries = last_usable + 1;
    Some(vec![
        (0, mbr),
        (1, header(1, sectors - 1, 2)),
        (2, array.clone()),
        (backup_entries, array),
        (sectors - 1, header(sectors - 1, 1, backup_entries)),
    ])
}

#[cfg(test)]
mod tests;
