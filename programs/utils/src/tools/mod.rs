//! The utilities, one module each; `main.rs` dispatches to them by name.

pub mod cat;
pub mod chan;
pub mod cp;
pub mod date;
pub mod dd;
pub mod df;
pub mod echo;
pub mod env;
pub mod free;
pub mod head;
pub mod hexdump;
pub mod kill;
pub mod ls;
pub mod mkdir;
pub mod mv;
pub mod power;
pub mod ps;
pub mod pwd;
pub mod rm;
pub mod sleep;
pub mod sync;
pub mod touch;
pub mod truth;
pub mod uname;
pub mod wc;
