//! The power-cut test's workload (README "Files that stay", power cuts):
//! a sequence of file operations made from a seed, the same in the guest
//! program that performs them (`programs/crashwriter`) and in `mk`, which
//! cuts the power under it and then checks what the disk holds.
//!
//! An [`Op`] is what the writer acknowledges after an `fsync`: creating a
//! file, appending a record to the log file, renaming, removing, or
//! replacing a file through a temporary one and a rename. Each op is made
//! of [`Step`]s, one system call that changes the file system each. The
//! file system commits every call as one transaction, so after a cut the
//! directory must hold exactly the state after some step: [`States`]
//! lists a digest of every such state, and [`States::find`] says which
//! one a directory matches. A check then asks that the step found is not
//! before the last acknowledged op's end (nothing acknowledged was lost)
//! and not after the first op that was never started.
//!
//! Every file's contents are whole writes, each made in one `write` call
//! of at most [`MAX_WRITE`] bytes (one transaction in the file system).
//!
//! May touch: nothing; pure logic, host-tested.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use xorshift::Rng;

/// The largest single write a step makes.
pub const MAX_WRITE: usize = 12 * 1024;
/// The file appends go to.
pub const LOG: &str = "log";
/// The temporary name a replacement is written under before its rename.
pub const TEMP: &str = "new.tmp";

/// One system call that changes the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `open(name, O_CREAT | O_EXCL)`: an empty file appears.
    Create(String),
    /// One `write` of `data` at the end of `name`.
    Append(String, Vec<u8>),
    /// `frename(from, to)`, replacing `to` if it exists.
    Rename(String, String),
    /// `unlink(name)`.
    Unlink(String),
}

/// What the writer acknowledges (after an `fsync`): one or more steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub steps: Vec<Step>,
}

/// The files of the directory: name to contents.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Applies `step` to `files` as the file system does.
pub fn apply(files: &mut Files, step: &Step) {
    match step {
        Step::Create(name) => {
            files.insert(name.clone(), Vec::new());
        }
        Step::Append(name, data) => files.entry(name.clone()).or_default().extend_from_slice(data),
        Step::Rename(from, to) => {
            if let Some(data) = files.remove(from) {
                files.insert(to.clone(), data);
            }
        }
        Step::Unlink(name) => {
            files.remove(name);
        }
    }
}

fn bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let word = rng.next_u64().to_le_bytes();
        out.extend_from_slice(&word[..(len - out.len()).min(8)]);
    }
    out
}

/// The ops of the workload for `seed`, one after another, without end.
pub struct Workload {
    rng: Rng,
    /// The files as they will be once every op so far has been done.
    files: Files,
    /// The next number for a new name.
    next: u32,
}

impl Workload {
    pub fn new(seed: u64) -> Workload {
        Workload { rng: Rng::new(seed), files: Files::new(), next: 0 }
    }

    fn fresh_name(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    /// A file other than the log, if there is one.
    fn some_file(&mut self) -> Option<String> {
        let names: Vec<&String> = self.files.keys().filter(|n| *n != LOG).collect();
        self.rng.pick(&names).map(|n| (*n).clone())
    }

    fn data(&mut self) -> Vec<u8> {
        let len = 1 + self.rng.below(MAX_WRITE);
        bytes(&mut self.rng, len)
    }

    fn make(&mut self) -> Op {
        let roll = self.rng.below(100);
        let steps = match (roll, self.some_file()) {
            (0..40, _) | (_, None) => {
                let name = self.fresh_name("f");
                let data = self.data();
                alloc::vec![Step::Create(name.clone()), Step::Append(name, data)]
            }
            (40..65, _) => {
                let record = 1 + self.rng.below(2048);
                let data = bytes(&mut self.rng, record);
                if self.files.contains_key(LOG) {
                    alloc::vec![Step::Append(String::from(LOG), data)]
                } else {
                    alloc::vec![Step::Create(String::from(LOG)), Step::Append(String::from(LOG), data)]
                }
            }
            (65..80, Some(from)) => {
                let to = self.fresh_name("g");
                alloc::vec![Step::Rename(from, to)]
            }
            (80..90, Some(name)) => alloc::vec![Step::Unlink(name)],
            (_, Some(name)) => {
                let data = self.data();
                alloc::vec![
                    Step::Create(String::from(TEMP)),
                    Step::Append(String::from(TEMP), data),
                    Step::Rename(String::from(TEMP), name)
                ]
            }
        };
        for step in &steps {
            apply(&mut self.files, step);
        }
        Op { steps }
    }
}

impl Iterator for Workload {
    type Item = Op;
    fn next(&mut self) -> Option<Op> {
        Some(self.make())
    }
}

/// FNV-1a over the names and contents, in name order: equal directories
/// have equal digests (and unequal ones, in practice, do not).
pub fn digest(files: &Files) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (name, data) in files {
        feed(&(name.len() as u64).to_le_bytes());
        feed(name.as_bytes());
        feed(&(data.len() as u64).to_le_bytes());
        feed(data);
    }
    hash
}

/// Where a directory's state lies in the workload: after `step` steps in
/// all, which is inside (or at the end of) op `op`'s steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Point {
    /// Steps done, from the start of the workload.
    pub step: usize,
}

/// The digest of the state after every step of the first ops of a
/// workload, and where each op ends.
pub struct States {
    /// `digests[i]`: after `i` steps (`digests[0]`: the empty directory).
    digests: Vec<u64>,
    /// `op_ends[k]`: the steps done once op `k` is complete.
    op_ends: Vec<usize>,
}

impl States {
    /// The states of the first `ops` ops of the workload for `seed`.
    pub fn new(seed: u64, ops: usize) -> States {
        let mut files = Files::new();
        let mut digests = alloc::vec![digest(&files)];
        let mut op_ends = Vec::with_capacity(ops);
        for op in Workload::new(seed).take(ops) {
            for step in &op.steps {
                apply(&mut files, step);
                digests.push(digest(&files));
            }
            op_ends.push(digests.len() - 1);
        }
        States { digests, op_ends }
    }

    /// The steps done once op `op` is complete (`None` past the ops made).
    pub fn op_end(&self, op: usize) -> Option<usize> {
        self.op_ends.get(op).copied()
    }

    /// The number of ops covered.
    pub fn ops(&self) -> usize {
        self.op_ends.len()
    }

    /// Which states, from step `from` on, `files` is (the earliest; a
    /// state can repeat, as when a file is created and removed).
    pub fn find(&self, files: &Files, from: usize) -> Option<Point> {
        let want = digest(files);
        (from..self.digests.len()).find(|&i| self.digests[i] == want).map(|step| Point { step })
    }
}

/// The judgement on one directory after a cut: `Ok(point)` when it is a
/// state at or after the end of op `acked` (the last acknowledged, or none)
/// and no later than the end of op `started` (the last the writer may have
/// begun); else why not.
pub fn judge(states: &States, files: &Files, acked: Option<usize>, started: usize) -> Result<Point, String> {
    let floor = acked.and_then(|op| states.op_end(op)).unwrap_or(0);
    let ceiling =
        states.op_end(started).ok_or_else(|| format!("op {started} is past the {} ops made", states.ops()))?;
    match states.find(files, floor) {
        Some(point) if point.step <= ceiling => Ok(point),
        Some(point) => Err(format!(
            "the directory is the state after step {}, past the end of op {started} (step {ceiling})",
            point.step
        )),
        None => Err(format!(
            "the directory ({} files: {:?}) is no state of the workload from the end of op {acked:?} (step {floor}) on: acknowledged work was lost or the file system tore a write",
            files.len(),
            files.iter().map(|(n, d)| (n.as_str(), d.len())).collect::<Vec<_>>()
        )),
    }
}

#[cfg(test)]
mod tests;
