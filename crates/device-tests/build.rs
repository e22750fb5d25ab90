//! Compiles the device library's test kernels (`kernels/`) to PTX, and cubins when ptxas is
//! available, and generates the typed launchers `src/lib.rs` includes.
fn main() {
    gpukit_builder::KernelBuilder::new("kernels")
        .build()
        .unwrap_or_else(|e| e.exit());
}
