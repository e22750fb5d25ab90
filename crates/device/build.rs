//! Decides which unstable features the device library may use.
//!
//! For nvptx64 (built by gpukit-builder with `RUSTC_BOOTSTRAP=1`) everything is available. On the
//! host the library only type-checks kernel crates (`cargo check`, `cargo doc`, rust-analyzer):
//! there, `f16` items exist only when the compiler accepts unstable features (a nightly or dev
//! toolchain, or `RUSTC_BOOTSTRAP=1`), so that a stable toolchain can still check f32/bf16 kernels.
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(gpukit_unstable)");
    println!("cargo::rerun-if-env-changed=RUSTC_BOOTSTRAP");
    let nvptx = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "nvptx64");
    let bootstrap = std::env::var_os("RUSTC_BOOTSTRAP").is_some_and(|v| v == "1");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let nightly = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| {
            let v = String::from_utf8_lossy(&o.stdout);
            v.contains("-nightly") || v.contains("-dev")
        })
        .unwrap_or(false);
    if nvptx || bootstrap || nightly {
        println!("cargo::rustc-cfg=gpukit_unstable");
    }
}
