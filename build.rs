//! Compiles `gpu-kernels` (the kernel library) to PTX, and cubins when ptxas is available, and
//! generates the typed launchers that `host/kernels.rs` includes.
fn main() {
    if std::env::var_os("CARGO_FEATURE_KERNELS").is_none() {
        // Runtime only: nothing to build. Without this line cargo would rerun the script
        // whenever any file of the package changed.
        println!("cargo:rerun-if-changed=build.rs");
        return;
    }
    gpukit_builder::KernelBuilder::new("gpu-kernels")
        .runtime_path("crate::runtime")
        .build()
        .unwrap_or_else(|e| e.exit());
}
