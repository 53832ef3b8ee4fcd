//! ELF executable validation for `exec`: untrusted bytes in, a load plan out.
//!
//! Why this exists: the kernel's exec reads an ELF file that any user may have
//! written. Before it maps a single page it needs to know that the file is a
//! static, non-PIE x86_64 executable whose segments fit in the user half of
//! the address space, do not overlap, respect W^X, and only name bytes that
//! are really in the file. [`plan`] checks all of that with checked
//! arithmetic and either returns a [`LoadPlan`] (what to map where, where to
//! start) or an [`ElfError`] saying why the file is refused; the kernel turns
//! every refusal into `ENOEXEC`. It never panics and never allocates more than
//! `min(e_phnum, max_segments)` segment records, whatever the input says.
//!
//! What it may touch: only the byte slice it is given. It maps nothing, copies
//! no file contents, and contains no `unsafe` code; it is pure logic, tested
//! on the host with `cargo test -p elf-loader`. goblin supplies the ELF
//! constants and parses the 64-byte file header; every number goblin hands
//! back is checked here again before it is used.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use goblin::elf::header::{
    EI_CLASS, EI_DATA, EI_VERSION, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_X86_64, ET_EXEC, EV_CURRENT, SELFMAG,
};
use goblin::elf::program_header::{PF_R, PF_W, PF_X, PT_DYNAMIC, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_PHDR};
use goblin::elf64::header::{Header, SIZEOF_EHDR};
use goblin::elf64::program_header::{ProgramHeader, SIZEOF_PHDR};

/// The page size segments are mapped with.
pub const PAGE_SIZE: u64 = 4096;

/// Upper bound on `e_phnum`, whatever the limits say. A real static
/// executable has about ten program headers; this also refuses `PN_XNUM`
/// (0xffff, "the real count is in section header 0"), which we do not follow.
pub const MAX_PROGRAM_HEADERS: u16 = 256;

/// What the loader is willing to accept; the kernel decides the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Lowest address a segment's pages may start at (keeps page 0 and the
    /// low pages unmapped so null-pointer bugs fault).
    pub user_start: u64,
    /// Exclusive end of the user address range (the end of the lower
    /// canonical half on x86_64).
    pub user_end: u64,
    /// Most `PT_LOAD` segments accepted.
    pub max_segments: usize,
    /// Most memory all segments together may cover, counted in whole pages.
    pub max_memory: u64,
}

impl Limits {
    /// Reasonable limits for an x86_64 user process: everything from 64 KiB
    /// to the end of the lower canonical half, at most 16 loadable segments,
    /// at most 1 GiB of segment memory.
    pub const DEFAULT: Limits =
        Limits { user_start: 0x1_0000, user_end: 0x0000_8000_0000_0000, max_segments: 16, max_memory: 1 << 30 };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One `PT_LOAD` segment, checked: map `mem_size` bytes at `vaddr`, the first
/// `file_size` of them copied from the file at `file_offset`, the rest zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub mem_size: u64,
    pub file_offset: u64,
    pub file_size: u64,
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
}

impl Segment {
    /// The page-aligned range `[start, end)` of virtual addresses covering the
    /// segment. Exact for every segment [`plan`] returns (those never reach
    /// the top page of the address space); for a hand-built segment that
    /// would wrap, the end saturates at the last page boundary.
    pub fn page_range(&self) -> Range<u64> {
        let start = align_down(self.vaddr);
        let end = align_up(self.vaddr.saturating_add(self.mem_size)).unwrap_or(align_down(u64::MAX));
        start..end
    }

    /// The bytes of the file that back the segment, `[file_offset,
    /// file_offset + file_size)`. Inside the file for every segment [`plan`]
    /// returns.
    pub fn file_range(&self) -> Range<u64> {
        self.file_offset..self.file_offset.saturating_add(self.file_size)
    }

    /// The virtual addresses the segment covers, `[vaddr, vaddr + mem_size)`.
    pub fn mem_range(&self) -> Range<u64> {
        self.vaddr..self.vaddr.saturating_add(self.mem_size)
    }
}

/// Everything exec needs to build the new address space and the auxiliary
/// vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    /// Where the first user instruction is (inside an executable segment).
    pub entry: u64,
    /// The `PT_LOAD` segments, sorted by `vaddr`, not sharing any page.
    pub segments: Vec<Segment>,
    /// Where the program header table is visible in the new address space
    /// (`AT_PHDR`), if it is inside a loaded segment.
    pub phdr_vaddr: Option<u64>,
    /// Size of one program header (`AT_PHENT`); always 56.
    pub phent: u16,
    /// Number of program headers (`AT_PHNUM`).
    pub phnum: u16,
}

/// Why a file was refused. Every variant means `ENOEXEC` to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElfError {
    /// The file ends before the ELF header does.
    Truncated,
    /// The file does not start with `\x7fELF`.
    BadMagic,
    /// `EI_CLASS` is not `ELFCLASS64`.
    Not64Bit,
    /// `EI_DATA` is not `ELFDATA2LSB`.
    NotLittleEndian,
    /// `EI_VERSION` or `e_version` is not 1.
    BadVersion,
    /// `e_machine` is not x86_64.
    WrongMachine,
    /// `e_type` is not `ET_EXEC` (relocatable objects, shared objects and
    /// position-independent executables are not loaded).
    NotExecutable,
    /// `e_ehsize` is not 64 or `e_phentsize` is not 56.
    BadHeaderSize,
    /// `e_phnum` is 0.
    NoProgramHeaders,
    /// `e_phnum` is above [`MAX_PROGRAM_HEADERS`] (this includes `PN_XNUM`).
    TooManyProgramHeaders,
    /// The program header table does not lie inside the file.
    ProgramHeadersOutOfFile,
    /// A `PT_INTERP` header: dynamic linking is not supported.
    Interpreter,
    /// A `PT_DYNAMIC` header: dynamic linking is not supported.
    DynamicExecutable,
    /// A `PT_GNU_STACK` header asks for an executable stack.
    ExecutableStack,
    /// More `PT_LOAD` segments than [`Limits::max_segments`].
    TooManySegments,
    /// A segment's `p_filesz` is larger than its `p_memsz`.
    FileSizeExceedsMemSize,
    /// A segment's file bytes do not lie inside the file.
    SegmentOutOfFile,
    /// A segment's pages are not inside the user range, or its end wraps.
    SegmentOutOfRange,
    /// `p_align` is not 0, 1 or a power of two, or `p_vaddr` and `p_offset`
    /// differ modulo the page size.
    BadAlignment,
    /// A segment is both writable and executable.
    WriteAndExecute,
    /// The segments together cover more than [`Limits::max_memory`].
    TooLarge,
    /// No `PT_LOAD` segment with a non-zero size.
    NoLoadableSegment,
    /// Two segments share a page.
    OverlappingSegments,
    /// The entry point is not inside an executable segment.
    EntryNotExecutable,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ElfError::Truncated => "file is shorter than an ELF header",
            ElfError::BadMagic => "not an ELF file (bad magic)",
            ElfError::Not64Bit => "not a 64-bit ELF file",
            ElfError::NotLittleEndian => "not a little-endian ELF file",
            ElfError::BadVersion => "unknown ELF version",
            ElfError::WrongMachine => "not an x86_64 executable",
            ElfError::NotExecutable => "not a static non-PIE executable (e_type is not ET_EXEC)",
            ElfError::BadHeaderSize => "unexpected ELF header or program header size",
            ElfError::NoProgramHeaders => "no program headers",
            ElfError::TooManyProgramHeaders => "too many program headers",
            ElfError::ProgramHeadersOutOfFile => "program header table lies outside the file",
            ElfError::Interpreter => "needs an interpreter (dynamic linking is not supported)",
            ElfError::DynamicExecutable => "has a dynamic section (dynamic linking is not supported)",
            ElfError::ExecutableStack => "asks for an executable stack",
            ElfError::TooManySegments => "too many loadable segments",
            ElfError::FileSizeExceedsMemSize => "segment file size exceeds its memory size",
            ElfError::SegmentOutOfFile => "segment data lies outside the file",
            ElfError::SegmentOutOfRange => "segment lies outside the user address range",
            ElfError::BadAlignment => "segment alignment is invalid",
            ElfError::WriteAndExecute => "segment is both writable and executable",
            ElfError::TooLarge => "segments need too much memory",
            ElfError::NoLoadableSegment => "no loadable segment",
            ElfError::OverlappingSegments => "segments overlap",
            ElfError::EntryNotExecutable => "entry point is not in an executable segment",
        };
        f.write_str(text)
    }
}

impl core::error::Error for ElfError {}

/// Check `file` as a static x86_64 executable and say how to load it.
///
/// Refuses (with the first problem found) anything that is not a
/// little-endian 64-bit `ET_EXEC` for x86_64 with sane header sizes, whose
/// program header table or segment data lies outside the file, which asks for
/// an interpreter, dynamic linking or an executable stack, or whose `PT_LOAD`
/// segments break the rules in [`ElfError`] or the given [`Limits`].
/// Program header types other than `PT_LOAD`, `PT_PHDR`, `PT_INTERP`,
/// `PT_DYNAMIC` and `PT_GNU_STACK` are ignored, as are `PT_LOAD` segments
/// with `p_memsz == 0` once their fields have passed the checks.
pub fn plan(file: &[u8], limits: &Limits) -> Result<LoadPlan, ElfError> {
    let header = parse_header(file)?;
    let file_len = u64::try_from(file.len()).map_err(|_| ElfError::TooLarge)?;

    // The program header table: bound the count first, then the bytes.
    let phnum = header.e_phnum;
    if phnum == 0 {
        return Err(ElfError::NoProgramHeaders);
    }
    if phnum > MAX_PROGRAM_HEADERS {
        return Err(ElfError::TooManyProgramHeaders);
    }
    let table_size = u64::from(phnum).checked_mul(SIZEOF_PHDR as u64).ok_or(ElfError::ProgramHeadersOutOfFile)?;
    let table_end = header
        .e_phoff
        .checked_add(table_size)
        .filter(|&end| end <= file_len)
        .ok_or(ElfError::ProgramHeadersOutOfFile)?;
    let table = usize::try_from(header.e_phoff)
        .ok()
        .zip(usize::try_from(table_end).ok())
        .and_then(|(start, end)| file.get(start..end))
        .ok_or(ElfError::ProgramHeadersOutOfFile)?;

    let mut segments = Vec::with_capacity(usize::from(phnum).min(limits.max_segments));
    let mut loads = 0usize;
    let mut total_memory = 0u64;
    let mut phdr_segment: Option<ProgramHeader> = None;

    for raw in table.chunks_exact(SIZEOF_PHDR) {
        let ph = parse_program_header(raw)?;
        match ph.p_type {
            PT_INTERP => return Err(ElfError::Interpreter),
            PT_DYNAMIC => return Err(ElfError::DynamicExecutable),
            PT_GNU_STACK if ph.p_flags & PF_X != 0 => return Err(ElfError::ExecutableStack),
            PT_PHDR => phdr_segment = Some(ph),
            PT_LOAD => {
                loads += 1;
                if loads > limits.max_segments {
                    return Err(ElfError::TooManySegments);
                }
                let segment = check_load(&ph, file_len, limits)?;
                if segment.mem_size == 0 {
                    continue;
                }
                let range = segment.page_range();
                total_memory = total_memory
                    .checked_add(range.end - range.start)
                    .filter(|&total| total <= limits.max_memory)
                    .ok_or(ElfError::TooLarge)?;
                segments.push(segment);
            }
            _ => {}
        }
    }

    if segments.is_empty() {
        return Err(ElfError::NoLoadableSegment);
    }
    segments.sort_unstable_by_key(|s| s.vaddr);
    for pair in segments.windows(2) {
        if let [a, b] = pair
            && a.page_range().end > b.page_range().start
        {
            return Err(ElfError::OverlappingSegments);
        }
    }

    let entry = header.e_entry;
    if !segments.iter().any(|s| s.executable && s.mem_range().contains(&entry)) {
        return Err(ElfError::EntryNotExecutable);
    }

    let phdr_vaddr = phdr_segment
        .and_then(|ph| {
            let end = ph.p_vaddr.checked_add(table_size)?;
            segments.iter().any(|s| s.vaddr <= ph.p_vaddr && end <= s.mem_range().end).then_some(ph.p_vaddr)
        })
        .or_else(|| {
            segments.iter().find_map(|s| {
                let delta = header.e_phoff.checked_sub(s.file_offset)?;
                if delta.checked_add(table_size)? > s.file_size {
                    return None;
                }
                s.vaddr.checked_add(delta)
            })
        });

    Ok(LoadPlan { entry, segments, phdr_vaddr, phent: SIZEOF_PHDR as u16, phnum })
}

/// Check the identification bytes, then let goblin read the fixed fields and
/// check those.
fn parse_header(file: &[u8]) -> Result<Header, ElfError> {
    let magic_len = file.len().min(SELFMAG);
    if file.get(..magic_len) != ELFMAG.get(..magic_len) {
        return Err(ElfError::BadMagic);
    }
    let bytes = file.get(..SIZEOF_EHDR).ok_or(ElfError::Truncated)?;
    if bytes.get(EI_CLASS) != Some(&ELFCLASS64) {
        return Err(ElfError::Not64Bit);
    }
    if bytes.get(EI_DATA) != Some(&ELFDATA2LSB) {
        return Err(ElfError::NotLittleEndian);
    }
    if bytes.get(EI_VERSION) != Some(&EV_CURRENT) {
        return Err(ElfError::BadVersion);
    }
    let header = Header::parse(bytes).map_err(|_| ElfError::Truncated)?;
    if header.e_version != u32::from(EV_CURRENT) {
        return Err(ElfError::BadVersion);
    }
    if header.e_machine != EM_X86_64 {
        return Err(ElfError::WrongMachine);
    }
    if header.e_type != ET_EXEC {
        return Err(ElfError::NotExecutable);
    }
    if usize::from(header.e_ehsize) != SIZEOF_EHDR || usize::from(header.e_phentsize) != SIZEOF_PHDR {
        return Err(ElfError::BadHeaderSize);
    }
    Ok(header)
}

/// Read one little-endian `Elf64_Phdr` from exactly [`SIZEOF_PHDR`] bytes.
fn parse_program_header(raw: &[u8]) -> Result<ProgramHeader, ElfError> {
    let mut r = Reader(raw);
    let ph = ProgramHeader {
        p_type: r.u32()?,
        p_flags: r.u32()?,
        p_offset: r.u64()?,
        p_vaddr: r.u64()?,
        p_paddr: r.u64()?,
        p_filesz: r.u64()?,
        p_memsz: r.u64()?,
        p_align: r.u64()?,
    };
    Ok(ph)
}

/// Check one `PT_LOAD` header on its own (overlap and totals are checked by
/// the caller).
fn check_load(ph: &ProgramHeader, file_len: u64, limits: &Limits) -> Result<Segment, ElfError> {
    if ph.p_filesz > ph.p_memsz {
        return Err(ElfError::FileSizeExceedsMemSize);
    }
    match ph.p_offset.checked_add(ph.p_filesz) {
        Some(end) if end <= file_len => {}
        _ => return Err(ElfError::SegmentOutOfFile),
    }
    if ph.p_align > 1 && !ph.p_align.is_power_of_two() {
        return Err(ElfError::BadAlignment);
    }
    if ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE {
        return Err(ElfError::BadAlignment);
    }
    let end = ph.p_vaddr.checked_add(ph.p_memsz).ok_or(ElfError::SegmentOutOfRange)?;
    let page_end = align_up(end).ok_or(ElfError::SegmentOutOfRange)?;
    if align_down(ph.p_vaddr) < limits.user_start || page_end > limits.user_end {
        return Err(ElfError::SegmentOutOfRange);
    }
    let writable = ph.p_flags & PF_W != 0;
    let executable = ph.p_flags & PF_X != 0;
    if writable && executable {
        return Err(ElfError::WriteAndExecute);
    }
    Ok(Segment {
        vaddr: ph.p_vaddr,
        mem_size: ph.p_memsz,
        file_offset: ph.p_offset,
        file_size: ph.p_filesz,
        readable: ph.p_flags & PF_R != 0,
        writable,
        executable,
    })
}

fn align_down(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

fn align_up(addr: u64) -> Option<u64> {
    addr.checked_next_multiple_of(PAGE_SIZE)
}

/// Panic-free little-endian reads from the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ElfError> {
        let (head, tail) = self.0.split_first_chunk::<N>().ok_or(ElfError::ProgramHeadersOutOfFile)?;
        self.0 = tail;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, ElfError> {
        self.take().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, ElfError> {
        self.take().map(u64::from_le_bytes)
    }
}
