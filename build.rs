//! Compiles `gpu-kernels` (the kernel library) and `crates/device/tests-kernels` (the device
//! library's test kernels) to PTX for sm_90 and sm_90a, and cubins when ptxas is available,
//! and generates the typed launchers that `host/kernels.rs` and `host/device_tests.rs` include.
fn main() {
    if std::env::var_os("CARGO_FEATURE_KERNELS").is_none() {
        // Runtime only: nothing to build. Without this line cargo would rerun the script
        // whenever any file of the package changed.
        println!("cargo:rerun-if-changed=build.rs");
        return;
    }
    for krate in ["gpu-kernels", "crates/device/tests-kernels"] {
        // The portable build (every kernel, JIT-compiled by drivers of newer GPUs) and the
        // Hopper build (the same kernels plus the `#[kernel(arch = "sm_90a")]` ones: TMA, wgmma);
        // the runtime loads the best image for each device.
        gpukit_builder::KernelBuilder::new(krate)
            .archs(["sm_90", "sm_90a"])
            .runtime_path("crate::runtime")
            .build()
            .unwrap_or_else(|e| e.exit());
    }
}
