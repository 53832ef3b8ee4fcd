//! Link non-PIE at the fixed user image base (docs/architecture.md §9.3), so the kernel's
//! loader applies no relocations.

fn main() {
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=--image-base=0x400000");
    println!("cargo:rustc-link-arg-bins=-zseparate-code");
    println!("cargo:rerun-if-changed=build.rs");
}
