//! Link non-PIE at the fixed user image base (docs/architecture.md §9.3), so the kernel's
//! loader applies no relocations; and pack a small initfs image (with the
//! host-side writer) that the corrupt-image tests mutate in the guest.

fn main() {
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=--image-base=0x400000");
    println!("cargo:rustc-link-arg-bins=-zseparate-code");
    println!("cargo:rerun-if-changed=build.rs");

    let mut image = initfs::Builder::new();
    let files: [(&str, &[u8]); 4] = [
        ("bin/tool", b"\x7fELF not really a program"),
        ("etc/init.rc", b"# comment\nrun initfs:bin/tool\n"),
        ("etc/deep/a/b/c.txt", b"deep file"),
        ("empty", b""),
    ];
    for (path, data) in files {
        image.add_file(path, data.to_vec(), 0o644).expect("a valid test image");
    }
    image.add_dir("var/empty").expect("a valid test image");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("test-initfs.img"), image.build()).expect("write the test image");
}
