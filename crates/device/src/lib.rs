//! Device-side library for kernels compiled to PTX with rustc's `nvptx64-nvidia-cuda` target.
//!
//! It plays the role Rust-CUDA's `cuda_std` plays, on a stock compiler: thread/block/grid
//! indices, barriers, and views that keep kernel code safe by default (inputs are bounds-checked
//! `&[T]`; outputs are [`OutSlice`]s that hand each thread `&mut` only to what it owns).
//! `unsafe` and inline PTX live here, in small audited functions, not in kernel code.
//!
//! The library also compiles for the host target, where every device operation is a stub that
//! never runs: `cargo check`, `cargo doc` and rust-analyzer work on kernel crates. (On a stable
//! host toolchain the `f16` items are left out; they need a nightly one or `RUSTC_BOOTSTRAP=1`.)
#![no_std]
#![warn(missing_docs)]
#![allow(internal_features)]
#![cfg_attr(
    target_arch = "nvptx64",
    feature(
        stdarch_nvptx,
        core_float_math,
        asm_experimental_arch,
        link_llvm_intrinsics,
        optimize_attribute
    )
)]
#![cfg_attr(gpukit_unstable, feature(f16, allow_internal_unstable))]
// Host stubs: operands of inline PTX are not evaluated there.
#![cfg_attr(
    not(target_arch = "nvptx64"),
    allow(
        unused_variables,
        unused_unsafe,
        unreachable_code,
        unused_mut,
        unused_macros,
        dead_code
    )
)]

pub mod arch;
pub mod async_copy;
pub mod atomic;
pub mod block;
#[cfg(any(target_feature = "ptx80", not(target_arch = "nvptx64")))]
pub mod cluster;
pub mod cluster_reduce;
pub mod elem;
pub mod half;
pub mod index;
pub mod input;
pub mod math;
#[cfg(any(target_feature = "ptx80", not(target_arch = "nvptx64")))]
pub mod mbarrier;
pub mod mma;
pub mod out;
pub mod panic;
pub mod shared;
pub mod shared_vec;
pub mod sync;
#[cfg(any(target_feature = "ptx80", not(target_arch = "nvptx64")))]
pub mod tma;
pub mod unroll;
pub mod vector;
pub mod warp;
#[cfg(any(target_feature = "ptx80", not(target_arch = "nvptx64")))]
pub mod warpgroup;
#[cfg(any(target_feature = "sm_90a", not(target_arch = "nvptx64")))]
pub mod wgmma;

pub use atomic::{AtomicSlice, Ordering, Scope};
pub use elem::{Element, Float};
#[doc(hidden)]
pub use gpukit_macros::__unique_shared;
pub use gpukit_macros::kernel;
#[cfg(gpukit_unstable)]
pub use half::F16x2;
pub use half::HalfFloat;
pub use half::{Bf16, Bf16x2};
pub use index::{
    Dim3, block_dim, block_idx, global_id, global_id_x, global_id_y, global_id_z, global_linear_id,
    grid_dim, grid_dim_x_here, grid_linear_threads, grid_stride_x, grid_threads_x, opaque_u32,
    opaque_usize, thread_idx,
};
pub use input::{Chunks, HaloChunk, HaloColumn, Input, Rows};
pub use out::{
    Atomic, BlockRows, BlockTiles, GridStride, Manual, OutSlice, Ownership, PacketMut, PacketRows,
    PacketSpan, PerThread, Quad, QuadMut, StridedPackets, ThreadPackets, ThreadTiles, TileMut,
    WarpRows,
};
pub use panic::trap;
pub use shared::{DynamicShared, SharedArray, dynamic_shared};
pub use sync::{
    fence_block, fence_device, fence_system, sync_threads, sync_threads_and, sync_threads_count,
    sync_threads_or, sync_warp,
};
pub use vector::{L2Policy, Packet, Packets, Quads, Word32, load_nc, load_quad};
