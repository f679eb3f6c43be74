//! Compile-time probes only. Every custom cfg is declared with `cargo::rustc-check-cfg`.

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    // AVX-512 intrinsics and `#[target_feature(enable = "avx512bw")]` are stable from Rust 1.89.
    println!("cargo::rustc-check-cfg=cfg(rawarrow_avx512)");
    if rustc_minor().is_some_and(|minor| minor >= 89) {
        println!("cargo::rustc-cfg=rawarrow_avx512");
    }
}

/// Minor version of the compiler that builds this crate (`rustc 1.95.0 (...)` → 95).
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var_os("RUSTC")?;
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}
