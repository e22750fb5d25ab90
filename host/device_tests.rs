//! Typed launchers for `crates/device/tests-kernels` (gpukit-device's own test kernels), used by
//! `tests/device_ptx.rs` and `tests/gpu_device.rs`.
crate::include_kernels!(gpukit_device_tests);
