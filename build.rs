//! Compiles `gpu-kernels` (the kernel library) to PTX for sm_90 and sm_90a, and cubins when
//! ptxas is available, and generates the typed launchers that `host/kernels.rs` includes.
//! Without the `kernels` feature there is nothing to build (and the builder is not a
//! dependency).
fn main() {
    // The portable build (every kernel, JIT-compiled by drivers of newer GPUs) and the Hopper
    // build (the same kernels plus the `#[kernel(arch = "sm_90a")]` ones: TMA, wgmma); the
    // runtime loads the best image for each device.
    #[cfg(feature = "kernels")]
    gpukit_builder::KernelBuilder::new("gpu-kernels")
        .archs(["sm_90", "sm_90a"])
        .runtime_path("crate::runtime")
        .build()
        .unwrap_or_else(|e| e.exit());
    // Without kernels: without this line cargo would rerun the script whenever any file of the
    // package changed.
    #[cfg(not(feature = "kernels"))]
    println!("cargo:rerun-if-changed=build.rs");
}
