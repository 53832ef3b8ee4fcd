//! A page shared between the fuzzer and its children: for each slot, how
//! many calls its child has made and the call it is making now, so a
//! child that hangs can be reported with the call that hung.

use core::sync::atomic::Ordering;

use fuzz_spec::SPECS;
use rt::mem::SharedMapping;
use rt::prelude::*;

/// Children that may run at once.
pub const SLOTS: usize = 8;
/// Spec numbers from here on mark the child's set-up steps.
pub const SETUP: usize = 1 << 20;
/// Words per slot: count, the call's spec index, its six arguments.
const WORDS: usize = 8;
/// Where each slot's path preview starts (after every slot's words): a
/// length byte, then up to [`PREVIEW`] bytes of the call's path argument.
const PREVIEWS: usize = SLOTS * WORDS * 8;
const PREVIEW: usize = 63;

pub struct Progress {
    page: SharedMapping,
}

impl Progress {
    pub fn new() -> rt::Result<Progress> {
        Ok(Progress { page: rt::mem::map_shared(4096)? })
    }

    fn words(&self, slot: usize) -> &[core::sync::atomic::AtomicU64] {
        &self.page.atomic_u64s()[slot * WORDS..(slot + 1) * WORDS]
    }

    pub fn reset(&self, slot: usize) {
        for word in self.words(slot) {
            word.store(0, Ordering::Relaxed);
        }
    }

    /// The child in `slot` is about to make call `spec` with `args`; `path`
    /// is (the start of) its path argument, if it has one.
    pub fn begin(&self, slot: usize, spec: usize, args: &[usize; 6], path: &[u8]) {
        let bytes = &self.page.atomic_u8s()[PREVIEWS + slot * (PREVIEW + 1)..][..PREVIEW + 1];
        let n = path.len().min(PREVIEW);
        bytes[0].store(n as u8, Ordering::Relaxed);
        for (to, &from) in bytes[1..].iter().zip(&path[..n]) {
            to.store(from, Ordering::Relaxed);
        }
        let words = self.words(slot);
        words[1].store(spec as u64, Ordering::Relaxed);
        for (word, &arg) in words[2..].iter().zip(args) {
            word.store(arg as u64, Ordering::Relaxed);
        }
        words[0].fetch_add(1, Ordering::Release);
    }

    /// The child in `slot` is at set-up step `step` (not counted as a call).
    pub fn setup_step(&self, slot: usize, step: usize) {
        self.words(slot)[1].store((SETUP + step) as u64, Ordering::Relaxed);
    }

    /// Calls the child in `slot` has started.
    pub fn count(&self, slot: usize) -> u64 {
        self.words(slot)[0].load(Ordering::Acquire)
    }

    /// The call the child in `slot` started last, as `name(a, b, ...)`.
    pub fn describe_last(&self, slot: usize) -> String {
        let words = self.words(slot);
        let spec = words[1].load(Ordering::Relaxed) as usize;
        if spec >= SETUP {
            return format!("set-up step {}", spec - SETUP);
        }
        let spec = SPECS.get(spec).map_or("?", |s| s.name);
        let args: Vec<String> = words[2..].iter().map(|w| format!("{:#x}", w.load(Ordering::Relaxed))).collect();
        let bytes = &self.page.atomic_u8s()[PREVIEWS + slot * (PREVIEW + 1)..][..PREVIEW + 1];
        let n = usize::from(bytes[0].load(Ordering::Relaxed));
        let path: Vec<u8> = bytes[1..=n].iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let path = if path.is_empty() { String::new() } else { format!(" path {:?}", String::from_utf8_lossy(&path)) };
        format!("call #{} {spec}({}){path}", self.count(slot), args.join(", "))
    }
}
