//! Host tests for the reader and writer. Compiled only under `cfg(test)`;
//! touches memory and, in `pack`, a scratch directory under the system temp
//! directory that it creates and removes.

mod build;
mod corrupt;
mod fuzz;
mod pack;
mod util;
