//! Compiles `gpu-kernels` (the kernel library) to PTX, and cubins when ptxas is available, and
//! generates the typed launchers that `host/kernels.rs` includes. Without the `kernels` feature
//! there is nothing to build (and the builder is not a dependency).
fn main() {
    #[cfg(feature = "kernels")]
    gpukit_builder::KernelBuilder::new("gpu-kernels")
        .runtime_path("crate::runtime")
        .build()
        .unwrap_or_else(|e| e.exit());
    // Without kernels: without this line cargo would rerun the script whenever any file of the
    // package changed.
    #[cfg(not(feature = "kernels"))]
    println!("cargo:rerun-if-changed=build.rs");
}
