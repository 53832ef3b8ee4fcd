//! Link non-PIE at the fixed user image base (docs/architecture.md §9.3), entering at
//! the assembly stub, which makes the stack the kernel does not give.

fn main() {
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=--image-base=0x400000");
    println!("cargo:rustc-link-arg-bins=-zseparate-code");
    println!("cargo:rustc-link-arg-bins=--entry=_bootstrap_start");
    println!("cargo:rerun-if-changed=build.rs");
}
