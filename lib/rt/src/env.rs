//! The program's arguments, environment and auxiliary vector, as the kernel
//! put them on the initial stack.
//!
//! The strings are not copied: they stay where the kernel wrote them, above
//! the stack the program runs on, for the life of the process, so they are
//! handed out as `&'static str`.

use core::ffi::{CStr, c_char};
use core::ptr;

use spin::Once;

/// The start-up data, recorded once by [`crate::start`].
pub(crate) struct StartInfo {
    /// Addresses of the NUL-terminated argument strings.
    pub argv: &'static [usize],
    /// Addresses of the NUL-terminated `KEY=VALUE` strings.
    pub envp: &'static [usize],
    /// Auxiliary vector as flat (key, value) pairs, without `AT_NULL`.
    pub auxv: &'static [usize],
}

static START: Once<StartInfo> = Once::new();

pub(crate) fn init(info: StartInfo) {
    START.call_once(|| info);
}

fn info() -> &'static StartInfo {
    static EMPTY: StartInfo = StartInfo { argv: &[], envp: &[], auxv: &[] };
    START.get().unwrap_or(&EMPTY)
}

/// The bytes of the start-up string at `addr`, without the NUL.
fn c_bytes(addr: usize) -> &'static [u8] {
    // SAFETY: `addr` is one of the argv/envp pointers the kernel put on the
    // initial stack (the only addresses `StartInfo` holds): it points to a
    // NUL-terminated string in memory that stays valid and unchanged for
    // the life of the process.
    unsafe { CStr::from_ptr(ptr::with_exposed_provenance::<c_char>(addr)) }.to_bytes()
}

/// The program's arguments, `argv[0]` (the program's path) first.
///
/// # Panics
///
/// When an argument is not UTF-8, like `std::env::args` (use [`args_bytes`]
/// to see such arguments).
pub fn args() -> Args {
    Args { inner: info().argv.iter() }
}

/// The program's arguments as bytes, `argv[0]` first.
pub fn args_bytes() -> impl ExactSizeIterator<Item = &'static [u8]> + DoubleEndedIterator {
    info().argv.iter().map(|&addr| c_bytes(addr))
}

/// Iterator over the arguments, from [`args`].
#[derive(Clone)]
pub struct Args {
    inner: core::slice::Iter<'static, usize>,
}

fn arg_str(addr: usize) -> &'static str {
    let bytes = c_bytes(addr);
    match core::str::from_utf8(bytes) {
        Ok(arg) => arg,
        Err(_) => panic!("argument is not UTF-8: {:?}", bytes.escape_ascii()),
    }
}

impl Iterator for Args {
    type Item = &'static str;

    fn next(&mut self) -> Option<&'static str> {
        self.inner.next().map(|&addr| arg_str(addr))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Args {}

impl DoubleEndedIterator for Args {
    fn next_back(&mut self) -> Option<&'static str> {
        self.inner.next_back().map(|&addr| arg_str(addr))
    }
}

/// The environment's raw `KEY=VALUE` entries, in the order the kernel gave
/// them (what [`crate::process::spawn`] passes on to a child).
pub fn vars_bytes() -> impl ExactSizeIterator<Item = &'static [u8]> + DoubleEndedIterator {
    info().envp.iter().map(|&addr| c_bytes(addr))
}

/// The environment as `(key, value)` pairs. Entries that are not UTF-8 or
/// have no `=` are skipped.
pub fn vars() -> impl Iterator<Item = (&'static str, &'static str)> {
    vars_bytes().filter_map(|entry| core::str::from_utf8(entry).ok()?.split_once('='))
}

/// The value of the environment variable `key`, if it is set (and UTF-8).
/// The first entry wins when a key is repeated.
pub fn var(key: &str) -> Option<&'static str> {
    vars().find(|&(k, _)| k == key).map(|(_, value)| value)
}

/// The value of auxiliary-vector entry `key` (`abi::auxv::AT_*`), if the
/// kernel supplied it.
pub fn auxv(key: usize) -> Option<usize> {
    info().auxv.chunks_exact(2).find(|pair| pair[0] == key).map(|pair| pair[1])
}
