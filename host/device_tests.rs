//! Typed launchers for `crates/device/tests-kernels` (gpukit-device's own test kernels), used by
//! `tests/device_ptx.rs` and `tests/gpu_device.rs`.
crate::include_kernels!(gpukit_device_tests);

// Until `host/runtime/mod.rs` declares `pub mod panic;` (the lead's file), the host side of
// device panic reporting is compiled here; it uses only absolute `crate::runtime` paths, so it
// works in either place.
#[path = "runtime/panic.rs"]
pub mod panic;
