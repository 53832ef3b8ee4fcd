//! From `_start` to the program's `main`: read the initial stack, record
//! the arguments, environment and auxiliary vector, run `main`, exit.

use core::slice;

use crate::env::{self, StartInfo};

unsafe extern "Rust" {
    /// Defined in the program by [`crate::main!`] with exactly this
    /// signature; returns the exit status.
    safe fn __ferrite_rt_main() -> i32;
}

/// Called by [`crate::arch`]'s `_start` with the initial stack pointer.
///
/// # Safety
///
/// `sp` must be the stack pointer the kernel started the process with:
/// `argc`, then `argc` argument pointers and a 0, then the environment
/// pointers and a 0, then (key, value) auxiliary-vector pairs ending with
/// `AT_NULL`; every string pointer points to a NUL-terminated string. All
/// of it stays untouched for the life of the process (it sits above the
/// stack the program runs on).
pub(crate) unsafe extern "C" fn start(sp: *const usize) -> ! {
    // SAFETY: the kernel's start-up layout, as the contract above describes:
    // every word read lies in the initial stack block, which is valid and
    // never written again, so the slices may live for 'static.
    let info = unsafe {
        let argc = sp.read();
        let argv = sp.add(1);
        let envp = argv.add(argc + 1);
        let mut envc = 0;
        while envp.add(envc).read() != 0 {
            envc += 1;
        }
        let auxv = envp.add(envc + 1);
        let mut auxc = 0;
        while auxv.add(2 * auxc).read() != abi::auxv::AT_NULL {
            auxc += 1;
        }
        StartInfo {
            argv: slice::from_raw_parts(argv, argc),
            envp: slice::from_raw_parts(envp, envc),
            auxv: slice::from_raw_parts(auxv, 2 * auxc),
        }
    };
    env::init(info);
    let status = __ferrite_rt_main();
    crate::process::exit(status)
}
