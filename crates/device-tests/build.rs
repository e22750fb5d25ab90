//! Compiles the device library's test kernels (`kernels/`) to PTX for sm_90 and sm_90a (the
//! Hopper primitives' kernels exist only in the latter), and cubins when ptxas is available,
//! and generates the typed launchers `src/lib.rs` includes.
fn main() {
    gpukit_builder::KernelBuilder::new("kernels")
        .archs(["sm_90", "sm_90a"])
        .build()
        .unwrap_or_else(|e| e.exit());
}
