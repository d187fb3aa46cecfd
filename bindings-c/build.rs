//! Gives the Linux shared library a SONAME tied to the exact version
//! (`libggipc.so.MAJOR.MINOR.PATCH`): the C ABI makes no promise across versions.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libggipc.so.{version}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
