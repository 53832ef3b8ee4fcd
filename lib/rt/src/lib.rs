//! Ferrite's userspace runtime (docs/architecture.md §6.1).
//!
//! Every userspace program is a `no_std` + `alloc` binary for
//! `x86_64-unknown-none` built on this crate, so that it reads like ordinary
//! Rust and needs no `unsafe` of its own. The runtime provides:
//!
//! * the entry point `_start`, which reads `argc`/`argv`/`envp`/`auxv` off
//!   the initial stack and calls the program's `main` (named once with
//!   [`main!`]), then exits with what `main` returned;
//! * a `#[global_allocator]` that grows by anonymous mappings, so `alloc`'s
//!   `Vec`, `String`, `Box`, `format!` just work (see [`prelude`]);
//! * the panic handler (`panicked at FILE:LINE:COL: MESSAGE` on stderr, exit
//!   status 101);
//! * safe wrappers over the system calls ([`sys`]) and the modules built on
//!   them: [`fs`], [`io`] (and [`print!`], [`println!`], [`eprint!`],
//!   [`eprintln!`]), [`env`], [`process`], [`time`], [`thread`], [`mem`],
//!   [`sync`], [`log`] (the `log` crate over `log:`), [`event`] (`event:` queues), [`scheme`] (a daemon's
//!   socket) and [`port`] (I/O ports for drivers granted them);
//! * with the `testing` feature (the in-guest test suite only), `testing`:
//!   raw system calls with any argument, deliberate faults, port I/O and
//!   FPU patterns.
//!
//! All `unsafe` code of a program lives here, each block with the reason it
//! is sound; programs say `#![forbid(unsafe_code)]`.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! #![forbid(unsafe_code)]
//!
//! use rt::prelude::*;
//!
//! rt::main!(main);
//!
//! fn main() -> Result<(), rt::Error> {
//!     println!("hello from pid {}", rt::process::getpid());
//!     Ok(())
//! }
//! ```

#![no_std]

extern crate alloc;

pub mod arch;
pub mod batch;
pub mod env;
pub mod event;
pub mod fs;
pub mod heap;
pub mod io;
pub mod log;
pub mod mem;
mod panic;
pub mod port;
pub mod process;
pub mod random;
pub mod scheme;
mod start;
pub mod sync;
pub mod sys;
#[cfg(feature = "testing")]
pub mod testing;
pub mod thread;
pub mod time;

pub use abi;
pub use abi::syscall::Error;

/// The result of a fallible call: an errno-carrying [`Error`] on failure.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What most programs want in scope: `alloc`'s common types and macros, and
/// the print macros.
pub mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::collections::BTreeMap;
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;

    pub use crate::{eprint, eprintln, print, println};
}

/// Names the program's `main` function; write it once, at the top level of
/// the binary crate:
///
/// ```ignore
/// rt::main!(main);
/// fn main() { /* ... */ }
/// ```
///
/// `main` takes no arguments (see [`env::args`]) and returns anything that
/// implements [`process::Termination`]: `()`, a [`process::ExitCode`], or a
/// `Result<T, E>` with `E: Display` (an `Err` is printed as `error: {e}` on
/// stderr and the exit status is 1).
///
/// The macro defines the one symbol the runtime's entry calls,
/// `__ferrite_rt_main`, with the signature the runtime declares for it; that
/// is why it is a macro and not a function the program writes itself. The
/// `no_mangle` attribute it emits comes from this crate's code, so a program
/// can keep `#![forbid(unsafe_code)]`.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        /// The program's entry, called once by the runtime after start-up;
        /// returns the exit status.
        // SAFETY: the runtime declares exactly this signature for this
        // symbol (`rt::start`), and the name is reserved for this macro.
        #[unsafe(no_mangle)]
        fn __ferrite_rt_main() -> i32 {
            $crate::process::Termination::report($main())
        }
    };
}
