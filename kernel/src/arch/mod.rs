//! Architecture support. Ferrite runs on x86_64 only; the split keeps the
//! hardware details out of the portable parts of the kernel.

pub mod x86_64;
