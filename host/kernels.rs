//! Typed launchers for `gpu-kernels`, generated at build time from each `#[kernel]` signature.
crate::include_kernels!(gpu_kernels);
