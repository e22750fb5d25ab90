//! Compiles `gpu-kernels` to PTX (and cubins when ptxas is available) and generates the typed
//! launchers that `host/kernels.rs` includes.
fn main() {
    if std::env::var_os("CARGO_FEATURE_KERNELS").is_none() {
        return;
    }
    gpukit_builder::KernelBuilder::new("gpu-kernels")
        .runtime_path("crate::runtime")
        .build()
        .unwrap_or_else(|e| e.exit());
    gpukit_builder::KernelBuilder::new("crates/device/tests-kernels")
        .runtime_path("crate::runtime")
        .build()
        .unwrap_or_else(|e| e.exit());
}
