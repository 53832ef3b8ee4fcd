//! The pure logic behind the text utilities of `programs/utils`: glob
//! matching (`find -name`), natural order (`ls`), `printf` formats, `sort`
//! keys and the last and parent parts of a URL (`basename`, `dirname`).
//!
//! Why a crate of its own: these parse what users type (formats, patterns)
//! and must answer every input without a panic, so they live here,
//! `no_std` + `alloc`, unit-tested and fuzzed on the host
//! (`cargo test -p text-tools`). It touches nothing but its input.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod glob;
pub mod natural;
pub mod printf;
pub mod sort_key;
pub mod url;

#[cfg(test)]
mod tests;
