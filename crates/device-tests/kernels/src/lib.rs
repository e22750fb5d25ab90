//! Kernels that exercise every feature of `gpukit-device`. The tests of `gpukit-device-tests`
//! (`crates/device-tests/tests`) check the instructions they compile to and run them against
//! CPU references.
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
pub mod views;
pub mod warps;
