//! Host tests for the ELF load planner.
//!
//! Why this exists: `plan` is the kernel's only defence against hostile
//! executables, so every refusal rule gets its own test, and truncation and
//! fuzz-style mutation tests check that no input makes it panic, overflow or
//! return a plan that breaks its promises. The ELF files are built by hand in
//! memory by [`Elf`]; nothing here reads build outputs or the file system.
//!
//! What it may touch: only memory of its own; it runs on the host only.

use super::*;
use alloc::vec;
use std::collections::HashSet;

const PT_NOTE: u32 = 4;
const PT_TLS: u32 = 7;
const PT_GNU_RELRO: u32 = 0x6474_e552;
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
const PT_SOME_PROC: u32 = 0x7000_0001;
const ET_REL: u16 = 1;
const ET_DYN: u16 = 3;
const R: u32 = PF_R;
const RW: u32 = PF_R | PF_W;
const RX: u32 = PF_R | PF_X;

/// One program header as written into a test file.
#[derive(Debug, Clone, Copy)]
struct Ph {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

impl Ph {
    fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph { p_type: PT_LOAD, flags, offset, vaddr, filesz, memsz, align: 0x1000 }
    }

    fn other(p_type: u32, flags: u32) -> Ph {
        Ph { p_type, flags, offset: 0, vaddr: 0, filesz: 0, memsz: 0, align: 0 }
    }
}

/// A hand-made ELF file: header fields, program headers and the file length.
#[derive(Debug, Clone)]
struct Elf {
    ident: [u8; 16],
    e_type: u16,
    machine: u16,
    version: u32,
    entry: u64,
    phoff: u64,
    ehsize: u16,
    phentsize: u16,
    /// `e_phnum`; `None` means `phdrs.len()`.
    phnum: Option<u16>,
    phdrs: Vec<Ph>,
    len: usize,
}

const TEXT: usize = 1;
const DATA: usize = 2;

impl Elf {
    /// A valid static executable laid out the way lld lays one out:
    /// PT_PHDR, RX text (with the headers in its first page), RW data with
    /// bss in the pages after it, PT_GNU_STACK (RW).
    fn valid() -> Elf {
        let mut ident = [0u8; 16];
        ident[..4].copy_from_slice(ELFMAG);
        ident[EI_CLASS] = ELFCLASS64;
        ident[EI_DATA] = ELFDATA2LSB;
        ident[EI_VERSION] = EV_CURRENT;
        Elf {
            ident,
            e_type: ET_EXEC,
            machine: EM_X86_64,
            version: 1,
            entry: 0x40_1000,
            phoff: 64,
            ehsize: 64,
            phentsize: 56,
            phnum: None,
            phdrs: vec![
                Ph { p_type: PT_PHDR, flags: R, offset: 64, vaddr: 0x40_0040, filesz: 4 * 56, memsz: 4 * 56, align: 8 },
                Ph::load(RX, 0, 0x40_0000, 0x1800, 0x1800),
                Ph::load(RW, 0x1800, 0x40_2800, 0x400, 0x2000),
                Ph::other(PT_GNU_STACK, RW),
            ],
            len: 0x1c00,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let phnum = self.phnum.unwrap_or(self.phdrs.len() as u16);
        let mut out = vec![0u8; self.len.max(64)];
        // Fill the "file contents" with something that is not zero.
        for (i, b) in out.iter_mut().enumerate().skip(64) {
            *b = (i as u8).wrapping_mul(31) ^ 0x5a;
        }
        let mut w = |at: usize, bytes: &[u8]| {
            if let Some(end) = at.checked_add(bytes.len())
                && end <= out.len()
            {
                out[at..end].copy_from_slice(bytes);
            }
        };
        w(0, &self.ident);
        w(16, &self.e_type.to_le_bytes());
        w(18, &self.machine.to_le_bytes());
        w(20, &self.version.to_le_bytes());
        w(24, &self.entry.to_le_bytes());
        w(32, &self.phoff.to_le_bytes());
        w(40, &0u64.to_le_bytes()); // e_shoff
        w(48, &0u32.to_le_bytes()); // e_flags
        w(52, &self.ehsize.to_le_bytes());
        w(54, &self.phentsize.to_le_bytes());
        w(56, &phnum.to_le_bytes());
        w(58, &64u16.to_le_bytes()); // e_shentsize
        w(60, &0u16.to_le_bytes()); // e_shnum
        w(62, &0u16.to_le_bytes()); // e_shstrndx
        if let Ok(base) = usize::try_from(self.phoff) {
            for (i, ph) in self.phdrs.iter().enumerate() {
                let Some(at) = base.checked_add(i * 56) else {
                    break;
                };
                let mut raw = Vec::with_capacity(56);
                raw.extend_from_slice(&ph.p_type.to_le_bytes());
                raw.extend_from_slice(&ph.flags.to_le_bytes());
                raw.extend_from_slice(&ph.offset.to_le_bytes());
                raw.extend_from_slice(&ph.vaddr.to_le_bytes());
                raw.extend_from_slice(&ph.vaddr.to_le_bytes()); // p_paddr
                raw.extend_from_slice(&ph.filesz.to_le_bytes());
                raw.extend_from_slice(&ph.memsz.to_le_bytes());
                raw.extend_from_slice(&ph.align.to_le_bytes());
                w(at, &raw);
            }
        }
        out.truncate(self.len);
        out
    }

    fn plan(&self) -> Result<LoadPlan, ElfError> {
        check(&self.bytes(), &Limits::DEFAULT)
    }

    fn with(mut self, f: impl FnOnce(&mut Elf)) -> Elf {
        f(&mut self);
        self
    }
}

/// `plan`, plus a check of every promise a successful plan makes.
fn check(file: &[u8], limits: &Limits) -> Result<LoadPlan, ElfError> {
    let result = plan(file, limits);
    if let Ok(p) = &result {
        assert_plan_sound(p, file, limits);
    }
    result
}

fn assert_plan_sound(p: &LoadPlan, file: &[u8], limits: &Limits) {
    assert!(!p.segments.is_empty());
    assert!(p.segments.len() <= limits.max_segments);
    assert_eq!(p.phent, 56);
    assert!(p.phnum > 0 && p.phnum <= MAX_PROGRAM_HEADERS);
    let mut total = 0u64;
    for s in &p.segments {
        let pages = s.page_range();
        let mem = s.mem_range();
        assert!(s.mem_size > 0);
        assert!(s.file_size <= s.mem_size);
        assert_eq!(s.vaddr.checked_add(s.mem_size), Some(mem.end));
        assert_eq!(pages.start % PAGE_SIZE, 0);
        assert_eq!(pages.end % PAGE_SIZE, 0);
        assert!(pages.start <= mem.start && mem.end <= pages.end);
        assert!(pages.start >= limits.user_start && pages.end <= limits.user_end);
        assert!(s.file_range().end <= file.len() as u64);
        assert_eq!(s.file_offset.checked_add(s.file_size), Some(s.file_range().end));
        assert_eq!(s.vaddr % PAGE_SIZE, s.file_offset % PAGE_SIZE);
        assert!(!(s.writable && s.executable));
        total += pages.end - pages.start;
    }
    assert!(total <= limits.max_memory);
    for pair in p.segments.windows(2) {
        assert!(pair[0].vaddr < pair[1].vaddr);
        assert!(pair[0].page_range().end <= pair[1].page_range().start);
    }
    assert!(p.segments.iter().any(|s| s.executable && s.mem_range().contains(&p.entry)));
    if let Some(at) = p.phdr_vaddr {
        let end = at + u64::from(p.phnum) * 56;
        assert!(p.segments.iter().any(|s| s.vaddr <= at && end <= s.mem_range().end));
    }
}

fn err(elf: &Elf) -> ElfError {
    match elf.plan() {
        Ok(p) => panic!("expected a refusal, got {p:?}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- accepted

#[test]
fn valid_two_segment_executable() {
    let plan = Elf::valid().plan().unwrap();
    assert_eq!(
        plan,
        LoadPlan {
            entry: 0x40_1000,
            segments: vec![
                Segment {
                    vaddr: 0x40_0000,
                    mem_size: 0x1800,
                    file_offset: 0,
                    file_size: 0x1800,
                    readable: true,
                    writable: false,
                    executable: true,
                },
                Segment {
                    vaddr: 0x40_2800,
                    mem_size: 0x2000,
                    file_offset: 0x1800,
                    file_size: 0x400,
                    readable: true,
                    writable: true,
                    executable: false,
                },
            ],
            phdr_vaddr: Some(0x40_0040),
            phent: 56,
            phnum: 4,
        }
    );
    assert_eq!(plan.segments[0].page_range(), 0x40_0000..0x40_2000);
    assert_eq!(plan.segments[1].page_range(), 0x40_2000..0x40_5000);
    assert_eq!(plan.segments[1].file_range(), 0x1800..0x1c00);
    assert_eq!(plan.segments[1].mem_range(), 0x40_2800..0x40_4800);
}

#[test]
fn segments_come_back_sorted() {
    let elf = Elf::valid().with(|e| e.phdrs.swap(TEXT, DATA));
    let plan = elf.plan().unwrap();
    assert_eq!(plan.segments[0].vaddr, 0x40_0000);
    assert_eq!(plan.segments[1].vaddr, 0x40_2800);
}

#[test]
fn phdr_vaddr_computed_without_pt_phdr() {
    let elf = Elf::valid().with(|e| e.phdrs[0] = Ph::other(PT_NOTE, R));
    assert_eq!(elf.plan().unwrap().phdr_vaddr, Some(0x40_0040));
}

#[test]
fn phdr_vaddr_none_when_table_not_loaded() {
    // Table after the data segment's file bytes, PT_PHDR pointing at
    // unmapped memory: nothing to report.
    let elf = Elf::valid().with(|e| {
        e.phoff = 0x1c00;
        e.len = 0x1c00 + 4 * 56;
        e.phdrs[0].offset = 0x1c00;
        e.phdrs[0].vaddr = 0x30_0000;
    });
    assert_eq!(elf.plan().unwrap().phdr_vaddr, None);
}

#[test]
fn phdr_vaddr_from_pt_phdr_when_inside_a_segment() {
    let elf = Elf::valid().with(|e| e.phdrs[0].vaddr = 0x40_0100);
    assert_eq!(elf.plan().unwrap().phdr_vaddr, Some(0x40_0100));
}

#[test]
fn other_segment_types_are_ignored() {
    let elf = Elf::valid().with(|e| {
        e.phdrs[3] = Ph::other(PT_NOTE, RX);
        e.phdrs.push(Ph::other(PT_TLS, RW | PF_X));
        e.phdrs.push(Ph::other(PT_GNU_RELRO, R));
        e.phdrs.push(Ph::other(PT_GNU_EH_FRAME, R));
        e.phdrs.push(Ph::other(PT_SOME_PROC, 0xffff_ffff));
        e.phdrs.push(Ph::other(0xdead_beef, 0));
        e.phdrs[0].filesz = 9 * 56;
        e.phdrs[0].memsz = 9 * 56;
    });
    let plan = elf.plan().unwrap();
    assert_eq!(plan.segments.len(), 2);
    assert_eq!(plan.phnum, 9);
}

#[test]
fn no_gnu_stack_is_fine() {
    let elf = Elf::valid().with(|e| e.phdrs[3] = Ph::other(PT_NOTE, R));
    assert!(elf.plan().is_ok());
}

#[test]
fn empty_load_segment_is_ignored() {
    let elf = Elf::valid().with(|e| e.phdrs[3] = Ph::load(R, 0x1000, 0x50_0000, 0, 0));
    assert_eq!(elf.plan().unwrap().segments.len(), 2);
}

#[test]
fn alignment_zero_one_and_large_powers_are_fine() {
    for align in [0, 1, 8, 0x1000, 0x20_0000, 1 << 63] {
        let elf = Elf::valid().with(|e| e.phdrs[DATA].align = align);
        assert!(elf.plan().is_ok(), "align {align:#x}");
    }
}

#[test]
fn memory_limit_is_inclusive() {
    let limits = Limits { max_memory: 0x5000, ..Limits::DEFAULT };
    assert!(check(&Elf::valid().bytes(), &limits).is_ok());
}

#[test]
fn segment_may_end_exactly_at_user_end() {
    let limits = Limits { user_end: 0x40_5000, ..Limits::DEFAULT };
    assert!(check(&Elf::valid().bytes(), &limits).is_ok());
    let limits = Limits { user_start: 0x40_0000, ..Limits::DEFAULT };
    assert!(check(&Elf::valid().bytes(), &limits).is_ok());
}

#[test]
fn segments_in_adjacent_pages_do_not_overlap() {
    // Text ends mid-page 0x401000; data starts in the very next page.
    let elf = Elf::valid().with(|e| {
        e.phdrs[TEXT].filesz = 0x1400;
        e.phdrs[TEXT].memsz = 0x1400;
        e.phdrs[DATA].vaddr = 0x40_2800;
    });
    assert!(elf.plan().is_ok());
}

#[test]
fn entry_at_last_byte_of_text() {
    let elf = Elf::valid().with(|e| e.entry = 0x40_17ff);
    assert!(elf.plan().is_ok());
}

#[test]
fn max_segments_is_inclusive() {
    let limits = Limits { max_segments: 2, ..Limits::DEFAULT };
    assert!(check(&Elf::valid().bytes(), &limits).is_ok());
}

// ---------------------------------------------------------------- refused

#[test]
fn refuses_bad_magic() {
    assert_eq!(err(&Elf::valid().with(|e| e.ident[0] = 0x7e)), ElfError::BadMagic);
    assert_eq!(err(&Elf::valid().with(|e| e.ident[3] = b'f')), ElfError::BadMagic);
    assert_eq!(plan(b"#!/bin/sh\n", &Limits::DEFAULT), Err(ElfError::BadMagic));
    assert_eq!(plan(b"ab", &Limits::DEFAULT), Err(ElfError::BadMagic));
}

#[test]
fn refuses_truncated_header() {
    assert_eq!(plan(b"", &Limits::DEFAULT), Err(ElfError::Truncated));
    assert_eq!(plan(b"\x7fEL", &Limits::DEFAULT), Err(ElfError::Truncated));
    assert_eq!(err(&Elf::valid().with(|e| e.len = 63)), ElfError::Truncated);
}

#[test]
fn refuses_32_bit() {
    let elf = Elf::valid().with(|e| e.ident[EI_CLASS] = 1);
    assert_eq!(err(&elf), ElfError::Not64Bit);
}

#[test]
fn refuses_big_endian() {
    let elf = Elf::valid().with(|e| e.ident[EI_DATA] = 2);
    assert_eq!(err(&elf), ElfError::NotLittleEndian);
    let elf = Elf::valid().with(|e| e.ident[EI_DATA] = 0);
    assert_eq!(err(&elf), ElfError::NotLittleEndian);
}

#[test]
fn refuses_bad_ident_version() {
    let elf = Elf::valid().with(|e| e.ident[EI_VERSION] = 2);
    assert_eq!(err(&elf), ElfError::BadVersion);
}

#[test]
fn refuses_bad_e_version() {
    let elf = Elf::valid().with(|e| e.version = 0);
    assert_eq!(err(&elf), ElfError::BadVersion);
}

#[test]
fn refuses_wrong_machine() {
    let elf = Elf::valid().with(|e| e.machine = 3); // EM_386
    assert_eq!(err(&elf), ElfError::WrongMachine);
}

#[test]
fn refuses_non_exec_types() {
    for t in [0, ET_REL, ET_DYN, 4, 0xfe00] {
        let elf = Elf::valid().with(|e| e.e_type = t);
        assert_eq!(err(&elf), ElfError::NotExecutable, "e_type {t}");
    }
}

#[test]
fn refuses_bad_ehsize() {
    let elf = Elf::valid().with(|e| e.ehsize = 52);
    assert_eq!(err(&elf), ElfError::BadHeaderSize);
}

#[test]
fn refuses_bad_phentsize() {
    for size in [0, 32, 55, 57, 64] {
        let elf = Elf::valid().with(|e| e.phentsize = size);
        assert_eq!(err(&elf), ElfError::BadHeaderSize, "phentsize {size}");
    }
}

#[test]
fn refuses_no_program_headers() {
    let elf = Elf::valid().with(|e| e.phnum = Some(0));
    assert_eq!(err(&elf), ElfError::NoProgramHeaders);
}

#[test]
fn refuses_too_many_program_headers() {
    for n in [MAX_PROGRAM_HEADERS + 1, 0xfffe, 0xffff] {
        let elf = Elf::valid().with(|e| e.phnum = Some(n));
        assert_eq!(err(&elf), ElfError::TooManyProgramHeaders, "phnum {n}");
    }
}

#[test]
fn refuses_program_headers_out_of_file() {
    // Table runs past the end of the file.
    let elf = Elf::valid().with(|e| e.phoff = 0x1c00 - 100);
    assert_eq!(err(&elf), ElfError::ProgramHeadersOutOfFile);
    // Count larger than what is there.
    let elf = Elf::valid().with(|e| {
        e.len = 64 + 4 * 56;
        e.phnum = Some(5);
    });
    assert_eq!(err(&elf), ElfError::ProgramHeadersOutOfFile);
    // Offset + size wraps around.
    for phoff in [u64::MAX, u64::MAX - 55, u64::MAX - 4 * 56 + 1, 1 << 63] {
        let elf = Elf::valid().with(|e| e.phoff = phoff);
        assert_eq!(err(&elf), ElfError::ProgramHeadersOutOfFile, "{phoff:#x}");
    }
}

#[test]
fn refuses_interpreter() {
    let elf = Elf::valid().with(|e| e.phdrs[3] = Ph::other(PT_INTERP, R));
    assert_eq!(err(&elf), ElfError::Interpreter);
}

#[test]
fn refuses_dynamic() {
    let elf = Elf::valid().with(|e| e.phdrs[3] = Ph::other(PT_DYNAMIC, RW));
    assert_eq!(err(&elf), ElfError::DynamicExecutable);
}

#[test]
fn refuses_executable_stack() {
    let elf = Elf::valid().with(|e| e.phdrs[3].flags = RW | PF_X);
    assert_eq!(err(&elf), ElfError::ExecutableStack);
    let elf = Elf::valid().with(|e| e.phdrs[3].flags = PF_X);
    assert_eq!(err(&elf), ElfError::ExecutableStack);
}

#[test]
fn refuses_too_many_segments() {
    let limits = Limits { max_segments: 1, ..Limits::DEFAULT };
    assert_eq!(plan(&Elf::valid().bytes(), &limits), Err(ElfError::TooManySegments));
    // 256 PT_LOAD headers: refused once the limit is passed, without
    // building 256 segments.
    let elf = Elf::valid().with(|e| {
        e.phdrs = (0..256u64).map(|i| Ph::load(R, 0, 0x40_0000 + i * 0x1000, 0, 0x1000)).collect();
        e.len = 64 + 256 * 56;
    });
    assert_eq!(err(&elf), ElfError::TooManySegments);
}

#[test]
fn refuses_file_size_above_mem_size() {
    let elf = Elf::valid().with(|e| e.phdrs[DATA].memsz = 0x3ff);
    assert_eq!(err(&elf), ElfError::FileSizeExceedsMemSize);
}

#[test]
fn refuses_segment_out_of_file() {
    let elf = Elf::valid().with(|e| e.phdrs[DATA].filesz = 0x401);
    assert_eq!(err(&elf), ElfError::SegmentOutOfFile);
    let elf = Elf::valid().with(|e| e.phdrs[DATA].offset = 0x2800);
    assert_eq!(err(&elf), ElfError::SegmentOutOfFile);
    // offset + filesz wraps.
    let elf = Elf::valid().with(|e| e.phdrs[DATA].offset = u64::MAX - 0x3ff + 1);
    assert_eq!(err(&elf), ElfError::SegmentOutOfFile);
    let elf = Elf::valid().with(|e| {
        e.phdrs[DATA].offset = 0x800;
        e.phdrs[DATA].filesz = u64::MAX;
        e.phdrs[DATA].memsz = u64::MAX;
    });
    assert_eq!(err(&elf), ElfError::SegmentOutOfFile);
}

#[test]
fn refuses_segment_below_user_start() {
    let elf = Elf::valid().with(|e| {
        e.phdrs[TEXT].vaddr = 0x8000;
        e.entry = 0x8000;
    });
    assert_eq!(err(&elf), ElfError::SegmentOutOfRange);
    // Starts above user_start, but its first page does not.
    let limits = Limits { user_start: 0x40_0800, ..Limits::DEFAULT };
    let elf = Elf::valid().with(|e| {
        e.phdrs[TEXT].vaddr = 0x40_0800;
        e.phdrs[TEXT].offset = 0x800;
        e.phdrs[TEXT].filesz = 0x800;
        e.phdrs[TEXT].memsz = 0x800;
    });
    assert_eq!(plan(&elf.bytes(), &limits), Err(ElfError::SegmentOutOfRange));
}

#[test]
fn refuses_segment_above_user_end() {
    let limits = Limits { user_end: 0x40_4000, ..Limits::DEFAULT };
    // The data ends at 0x404800: its last page crosses user_end.
    assert_eq!(plan(&Elf::valid().bytes(), &limits), Err(ElfError::SegmentOutOfRange));
    // Kernel half.
    let elf = Elf::valid().with(|e| e.phdrs[DATA].vaddr = 0xffff_8000_0000_0800);
    assert_eq!(err(&elf), ElfError::SegmentOutOfRange);
    // Non-canonical hole.
    let elf = Elf::valid().with(|e| e.phdrs[DATA].vaddr = 0x0000_8000_0000_0800);
    assert_eq!(err(&elf), ElfError::SegmentOutOfRange);
    // Ends one byte into the page at user_end.
    let elf = Elf::valid().with(|e| {
        e.phdrs[DATA].vaddr = 0x0000_7fff_ffff_e800;
        e.phdrs[DATA].memsz = 0x1801;
    });
    assert_eq!(err(&elf), ElfError::SegmentOutOfRange);
}

#[test]
fn refuses_segment_that_wraps() {
    let elf = Elf::valid().with(|e| {
        e.phdrs[DATA].vaddr = 0xffff_ffff_ffff_f800;
        e.phdrs[DATA].memsz = 0x2000;
    });
    assert_eq!(err(&elf), ElfError::SegmentOutOfRange);
    // Does not wrap itself, but its page end would.
    let elf = Elf::valid().with(|e| {
        e.phdrs[DATA].vaddr = 0xffff_ffff_ffff_f800;
        e.phdrs[DATA].memsz = 0x401;
    });
    assert_eq!(err(&elf), ElfError::SegmentOutOfRange);
    let elf = Elf::valid().with(|e| e.phdrs[DATA].memsz = u64::MAX);
    assert_eq!(err(&elf), ElfError::SegmentOutOfRange);
}

#[test]
fn refuses_alignment_not_power_of_two() {
    for align in [3, 0x1001, 0x3000, u64::MAX] {
        let elf = Elf::valid().with(|e| e.phdrs[DATA].align = align);
        assert_eq!(err(&elf), ElfError::BadAlignment, "align {align:#x}");
    }
}

#[test]
fn refuses_vaddr_offset_not_congruent() {
    let elf = Elf::valid().with(|e| e.phdrs[DATA].vaddr = 0x40_2900);
    assert_eq!(err(&elf), ElfError::BadAlignment);
    let elf = Elf::valid().with(|e| e.phdrs[TEXT].offset = 1);
    assert_eq!(err(&elf), ElfError::BadAlignment);
}

#[test]
fn refuses_write_and_execute() {
    let elf = Elf::valid().with(|e| e.phdrs[DATA].flags = RW | PF_X);
    assert_eq!(err(&elf), ElfError::WriteAndExecute);
    let elf = Elf::valid().with(|e| e.phdrs[TEXT].flags = PF_W | PF_X);
    assert_eq!(err(&elf), ElfError::WriteAndExecute);
}

#[test]
fn refuses_too_much_memory() {
    let limits = Limits { max_memory: 0x4fff, ..Limits::DEFAULT };
    assert_eq!(plan(&Elf::valid().bytes(), &limits), Err(ElfError::TooLarge));
    // Default limit (1 GiB): a 1 GiB bss plus the text is too much.
    let elf = Elf::valid().with(|e| e.phdrs[DATA].memsz = 1 << 30);
    assert_eq!(err(&elf), ElfError::TooLarge);
}

#[test]
fn refuses_no_loadable_segment() {
    let elf = Elf::valid().with(|e| {
        e.phdrs[TEXT] = Ph::other(PT_NOTE, R);
        e.phdrs[DATA] = Ph::other(PT_NOTE, R);
    });
    assert_eq!(err(&elf), ElfError::NoLoadableSegment);
    // Only empty PT_LOADs.
    let elf = Elf::valid().with(|e| {
        e.phdrs[TEXT].filesz = 0;
        e.phdrs[TEXT].memsz = 0;
        e.phdrs[DATA].filesz = 0;
        e.phdrs[DATA].memsz = 0;
    });
    assert_eq!(err(&elf), ElfError::NoLoadableSegment);
}

#[test]
fn refuses_overlapping_segments() {
    // Data's first page is text's last page.
    let elf = Elf::valid().with(|e| e.phdrs[DATA].vaddr = 0x40_1800);
    assert_eq!(err(&elf), ElfError::OverlappingSegments);
    // Byte ranges disjoint, pages shared.
    let elf = Elf::valid().with(|e| {
        e.phdrs[TEXT].filesz = 0x1400;
        e.phdrs[TEXT].memsz = 0x1400;
        e.phdrs[DATA].vaddr = 0x40_1800;
    });
    assert_eq!(err(&elf), ElfError::OverlappingSegments);
    // One inside the other, listed in either order.
    let elf = Elf::valid().with(|e| {
        e.phdrs[DATA].vaddr = 0x30_0800;
        e.phdrs[DATA].memsz = 0x20_0000;
    });
    assert_eq!(err(&elf), ElfError::OverlappingSegments);
    let elf = Elf::valid().with(|e| {
        e.phdrs[DATA].vaddr = 0x30_0800;
        e.phdrs[DATA].memsz = 0x20_0000;
        e.phdrs.swap(TEXT, DATA);
    });
    assert_eq!(err(&elf), ElfError::OverlappingSegments);
    // Two identical segments.
    let elf = Elf::valid().with(|e| e.phdrs[DATA] = e.phdrs[TEXT]);
    assert_eq!(err(&elf), ElfError::OverlappingSegments);
}

#[test]
fn refuses_entry_outside_executable_segment() {
    for entry in [0, 0x40_1800, 0x40_2800, 0x40_3fff, 0x3f_ffff, u64::MAX] {
        let elf = Elf::valid().with(|e| e.entry = entry);
        assert_eq!(err(&elf), ElfError::EntryNotExecutable, "{entry:#x}");
    }
}

// ---------------------------------------------------------------- misc

#[test]
fn display_is_distinct_for_every_error() {
    let all = [
        ElfError::Truncated,
        ElfError::BadMagic,
        ElfError::Not64Bit,
        ElfError::NotLittleEndian,
        ElfError::BadVersion,
        ElfError::WrongMachine,
        ElfError::NotExecutable,
        ElfError::BadHeaderSize,
        ElfError::NoProgramHeaders,
        ElfError::TooManyProgramHeaders,
        ElfError::ProgramHeadersOutOfFile,
        ElfError::Interpreter,
        ElfError::DynamicExecutable,
        ElfError::ExecutableStack,
        ElfError::TooManySegments,
        ElfError::FileSizeExceedsMemSize,
        ElfError::SegmentOutOfFile,
        ElfError::SegmentOutOfRange,
        ElfError::BadAlignment,
        ElfError::WriteAndExecute,
        ElfError::TooLarge,
        ElfError::NoLoadableSegment,
        ElfError::OverlappingSegments,
        ElfError::EntryNotExecutable,
    ];
    let texts: HashSet<std::string::String> = all.iter().map(|e| std::format!("{e}")).collect();
    assert_eq!(texts.len(), all.len());
    assert!(texts.iter().all(|t| !t.is_empty()));
}

#[test]
fn page_range_never_panics() {
    let s = Segment {
        vaddr: u64::MAX - 10,
        mem_size: u64::MAX,
        file_offset: u64::MAX,
        file_size: u64::MAX,
        readable: false,
        writable: false,
        executable: false,
    };
    assert_eq!(s.page_range(), 0xffff_ffff_ffff_f000..0xffff_ffff_ffff_f000);
    assert_eq!(s.file_range().end, u64::MAX);
    assert_eq!(s.mem_range().end, u64::MAX);
    let s = Segment { vaddr: 0x1234, mem_size: 0, ..s };
    assert_eq!(s.page_range(), 0x1000..0x2000);
}

#[test]
fn every_truncation_is_refused() {
    let file = Elf::valid().bytes();
    for len in 0..file.len() {
        assert!(check(&file[..len], &Limits::DEFAULT).is_err(), "length {len} accepted");
    }
    assert!(check(&file, &Limits::DEFAULT).is_ok());
}

// ---------------------------------------------------------------- fuzz

/// xorshift64*: small, deterministic, good enough to shake a parser.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }

    fn interesting_u64(&mut self) -> u64 {
        const VALUES: [u64; 18] = [
            0,
            1,
            8,
            56,
            0xfff,
            0x1000,
            0x1001,
            0x40_0000,
            0x40_1000,
            0x0000_7fff_ffff_f000,
            0x0000_8000_0000_0000,
            1 << 63,
            u64::MAX,
            u64::MAX - 1,
            u64::MAX - 0xfff,
            !0xfff,
            u32::MAX as u64,
            0x1c00,
        ];
        match self.below(4) {
            0 => self.next(),
            1 => self.next() & 0xffff,
            _ => VALUES[self.below(VALUES.len())],
        }
    }
}

fn random_limits(rng: &mut Rng) -> Limits {
    if !rng.chance(8) {
        return Limits::DEFAULT;
    }
    Limits {
        user_start: rng.interesting_u64(),
        user_end: rng.interesting_u64(),
        max_segments: rng.below(20),
        max_memory: rng.interesting_u64(),
    }
}

/// A few valid starting points with different shapes.
fn seeds() -> Vec<Vec<u8>> {
    let base = Elf::valid();
    vec![
        base.bytes(),
        base.clone().with(|e| e.phdrs[0] = Ph::other(PT_NOTE, R)).bytes(),
        base.clone()
            .with(|e| {
                e.phdrs.push(Ph::load(R, 0x1000, 0x60_1000, 0x800, 0x800));
                e.phdrs.push(Ph::load(RW, 0x0, 0x70_0000, 0, 0x10_0000));
                e.phdrs[0].filesz = 6 * 56;
                e.phdrs[0].memsz = 6 * 56;
            })
            .bytes(),
        base.with(|e| {
            e.phoff = 0x1b00;
            e.phdrs[0].offset = 0x1b00;
            e.phdrs[0].vaddr = 0x40_3300;
        })
        .bytes(),
    ]
}

fn mutate(rng: &mut Rng, file: &mut Vec<u8>) {
    // Where the interesting fields are: the header and the table at e_phoff.
    let phoff = file.get(32..40).map(|b| u64::from_le_bytes(b.try_into().unwrap())).unwrap_or(64).min(0x1c00) as usize;
    let phnum = file.get(56..58).map(|b| u16::from_le_bytes(b.try_into().unwrap())).unwrap_or(4).min(8) as usize;
    let field = |rng: &mut Rng, fields: &[usize]| -> usize {
        if rng.chance(3) {
            [24usize, 32][rng.below(2)]
        } else {
            phoff + rng.below(phnum.max(1)) * 56 + fields[rng.below(fields.len())]
        }
    };
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(dst) = file.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    };
    match rng.below(8) {
        0 => {
            // Flip a bit in the header or the program headers.
            let at = if rng.chance(2) { rng.below(64) } else { phoff + rng.below(phnum.max(1) * 56) };
            let bit = 1u8 << rng.below(8);
            if let Some(b) = file.get_mut(at) {
                *b ^= bit;
            }
        }
        1 => {
            // Any byte anywhere.
            if !file.is_empty() {
                let at = rng.below(file.len());
                file[at] = rng.next() as u8;
            }
        }
        2 | 3 => {
            // A u64 field: entry, phoff, p_offset, p_vaddr, p_paddr,
            // p_filesz, p_memsz, p_align.
            let at = field(rng, &[8, 16, 24, 32, 40, 48]);
            let v = rng.interesting_u64();
            put(at, &v.to_le_bytes());
        }
        4 => {
            // p_type / p_flags.
            let at = phoff + rng.below(phnum.max(1)) * 56 + 4 * rng.below(2);
            let v = [
                PT_LOAD,
                PT_PHDR,
                PT_INTERP,
                PT_DYNAMIC,
                PT_GNU_STACK,
                PT_NOTE,
                PF_X,
                PF_W | PF_X,
                u32::MAX,
                rng.next() as u32,
            ][rng.below(10)];
            put(at, &v.to_le_bytes());
        }
        5 => {
            // A u16 header field: type, machine, ehsize, phentsize, phnum.
            let at = [16, 18, 52, 54, 56][rng.below(5)];
            let v = [0, 1, 2, 3, 56, 62, 64, 255, 256, 257, 0xffff][rng.below(11)];
            put(at, &u16::to_le_bytes(v));
        }
        6 => {
            let len = rng.below(file.len() + 1);
            file.truncate(len);
        }
        _ => {
            let extra = rng.below(300);
            file.extend((0..extra).map(|_| rng.next() as u8));
        }
    }
}

#[test]
fn fuzz_random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let header = Elf::valid().bytes()[..64].to_vec();
    for _ in 0..30_000 {
        let len = rng.below(600);
        let mut file: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Half the time give it a believable header so the random bytes
        // reach the program header checks.
        if rng.chance(2) {
            let n = header.len().min(file.len());
            file[..n].copy_from_slice(&header[..n]);
            if file.len() >= 58 && rng.chance(2) {
                file[56..58].copy_from_slice(&(rng.below(12) as u16).to_le_bytes());
            }
        }
        let limits = random_limits(&mut rng);
        let _ = check(&file, &limits);
    }
}

#[test]
fn fuzz_mutations_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let seeds = seeds();
    for seed in &seeds {
        assert!(check(seed, &Limits::DEFAULT).is_ok());
    }
    let mut accepted = 0;
    let mut reasons = HashSet::new();
    for _ in 0..100_000 {
        let mut file = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut file);
        }
        let limits = random_limits(&mut rng);
        match check(&file, &limits) {
            Ok(_) => accepted += 1,
            Err(e) => {
                reasons.insert(e);
            }
        }
    }
    // The mutations should both keep some files loadable and reach most of
    // the refusal rules; otherwise the fuzzer is not exploring much.
    assert!(accepted > 1000, "only {accepted} accepted");
    assert!(reasons.len() >= 20, "only reached {reasons:?}");
}
