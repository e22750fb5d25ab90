//! Kernels that exercise every feature of `gpukit-device`. `tests/device_ptx.rs` checks the
//! instructions they compile to; `tests/gpu_device.rs` runs them against CPU references.
#![no_std]
#![feature(abi_gpu_kernel, asm_experimental_arch, f16)]

pub mod atomics;
pub mod halfs;
#[cfg(target_feature = "sm_90a")]
pub mod hopper;
pub mod indexing;
pub mod math;
pub mod panics;
pub mod shared;
pub mod sync;
pub mod warps;
