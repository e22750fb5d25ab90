//! Device-side library for kernels compiled to PTX with rustc's `nvptx64-nvidia-cuda` target.
//!
//! It plays the role Rust-CUDA's `cuda_std` plays, on a stock compiler: thread/block/grid
//! indices, barriers, and views that keep kernel code safe by default (inputs are bounds-checked
//! `&[T]`; outputs are [`OutSlice`]s that hand each thread `&mut` only to what it owns).
//! `unsafe` and inline PTX live here, in small audited functions, not in kernel code.
#![no_std]
#![allow(internal_features)]
#![feature(
    stdarch_nvptx,
    core_float_math,
    asm_experimental_arch,
    link_llvm_intrinsics,
    f16,
    allow_internal_unstable,
    optimize_attribute
)]

#[cfg(not(target_arch = "nvptx64"))]
compile_error!("gpukit-device only builds for the nvptx64-nvidia-cuda target (use gpukit-builder)");

pub mod async_copy;
pub mod atomic;
pub mod block;
#[cfg(target_feature = "ptx80")]
pub mod cluster;
pub mod cluster_reduce;
pub mod half;
pub mod index;
pub mod math;
#[cfg(target_feature = "ptx80")]
pub mod mbarrier;
pub mod mma;
pub mod out;
pub mod panic;
pub mod shared;
pub mod shared_vec;
pub mod sync;
#[cfg(target_feature = "ptx80")]
pub mod tma;
pub mod vector;
pub mod warp;
#[cfg(target_feature = "ptx80")]
pub mod warpgroup;
#[cfg(target_feature = "sm_90a")]
pub mod wgmma;

pub use atomic::{AtomicSlice, Ordering, Scope};
pub use gpukit_macros::kernel;
pub use half::HalfFloat;
pub use half::{Bf16, Bf16x2, F16x2};
pub use index::{
    Dim3, block_dim, block_idx, global_id, global_id_x, global_id_y, global_id_z, global_linear_id,
    grid_dim, grid_linear_threads, grid_stride_x, grid_threads_x, thread_idx,
};
pub use out::{OutSlice, PacketMut, Quad, QuadMut, TileMut};
pub use shared::{DynamicShared, SharedArray, dynamic_shared};
pub use sync::{
    fence_block, fence_device, fence_system, sync_threads, sync_threads_and, sync_threads_count,
    sync_threads_or, sync_warp,
};
pub use vector::{Packet, Packets, Quads, Word32, load_nc, load_quad};
