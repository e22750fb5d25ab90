//! Thread, block and grid indices.
//!
//! Every value here comes from a PTX special register (`%tid`, `%ntid`, `%ctaid`, `%nctaid`).
use crate::arch::nvptx;

/// A three-component index or extent, as CUDA's `dim3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dim3 {
    /// Fastest-varying component.
    pub x: u32,
    /// Middle component.
    pub y: u32,
    /// Slowest-varying component.
    pub z: u32,
}

/// This thread's index inside its block (`threadIdx`).
#[inline(always)]
pub fn thread_idx() -> Dim3 {
    // SAFETY: reading special registers has no preconditions.
    unsafe {
        Dim3 {
            x: nvptx::_thread_idx_x() as u32,
            y: nvptx::_thread_idx_y() as u32,
            z: nvptx::_thread_idx_z() as u32,
        }
    }
}

/// The block's extent in threads (`blockDim`).
#[inline(always)]
pub fn block_dim() -> Dim3 {
    // SAFETY: reading special registers has no preconditions.
    unsafe {
        Dim3 {
            x: nvptx::_block_dim_x() as u32,
            y: nvptx::_block_dim_y() as u32,
            z: nvptx::_block_dim_z() as u32,
        }
    }
}

/// This block's index inside the grid (`blockIdx`).
#[inline(always)]
pub fn block_idx() -> Dim3 {
    // SAFETY: reading special registers has no preconditions.
    unsafe {
        Dim3 {
            x: nvptx::_block_idx_x() as u32,
            y: nvptx::_block_idx_y() as u32,
            z: nvptx::_block_idx_z() as u32,
        }
    }
}

/// The grid's extent in blocks (`gridDim`).
#[inline(always)]
pub fn grid_dim() -> Dim3 {
    // SAFETY: reading special registers has no preconditions.
    unsafe {
        Dim3 {
            x: nvptx::_grid_dim_x() as u32,
            y: nvptx::_grid_dim_y() as u32,
            z: nvptx::_grid_dim_z() as u32,
        }
    }
}

/// Global thread index along x: `blockIdx.x * blockDim.x + threadIdx.x`, widened before the
/// multiply so grids of more than 2^32 threads index correctly.
#[inline(always)]
pub fn global_id_x() -> usize {
    // SAFETY: reading special registers has no preconditions.
    unsafe {
        nvptx::_block_idx_x() as usize * nvptx::_block_dim_x() as usize
            + nvptx::_thread_idx_x() as usize
    }
}

/// Total number of threads along x in the grid (the stride of a grid-stride loop).
#[inline(always)]
pub fn grid_threads_x() -> usize {
    // SAFETY: reading special registers has no preconditions.
    unsafe { nvptx::_grid_dim_x() as usize * nvptx::_block_dim_x() as usize }
}

/// Linear index of this thread in the whole launch, unique across all three grid and block
/// dimensions. Equals [`global_id_x`] for 1D launches. Output ownership rules use it.
#[inline(always)]
pub fn global_linear_id() -> usize {
    let (b, bd, t, g) = (block_idx(), block_dim(), thread_idx(), grid_dim());
    let block = (b.z as usize * g.y as usize + b.y as usize) * g.x as usize + b.x as usize;
    let per_block = bd.x as usize * bd.y as usize * bd.z as usize;
    let thread = (t.z as usize * bd.y as usize + t.y as usize) * bd.x as usize + t.x as usize;
    block * per_block + thread
}

/// Number of threads in the whole launch.
#[inline(always)]
pub fn grid_linear_threads() -> usize {
    let (g, bd) = (grid_dim(), block_dim());
    g.x as usize * g.y as usize * g.z as usize * bd.x as usize * bd.y as usize * bd.z as usize
}

/// Indices `global_id_x(), + grid_threads_x(), ...` below `len`: the classic grid-stride loop,
/// correct for any grid size.
#[inline(always)]
pub fn grid_stride_x(len: usize) -> core::iter::StepBy<core::ops::Range<usize>> {
    (global_id_x()..len).step_by(grid_threads_x())
}

/// Global thread index along y: `blockIdx.y * blockDim.y + threadIdx.y`.
#[inline(always)]
pub fn global_id_y() -> usize {
    let (b, d, t) = (block_idx(), block_dim(), thread_idx());
    b.y as usize * d.y as usize + t.y as usize
}

/// Global thread index along z: `blockIdx.z * blockDim.z + threadIdx.z`.
#[inline(always)]
pub fn global_id_z() -> usize {
    let (b, d, t) = (block_idx(), block_dim(), thread_idx());
    b.z as usize * d.z as usize + t.z as usize
}

/// Global thread index `(x, y, z)` in a 1D, 2D or 3D launch.
#[inline(always)]
pub fn global_id() -> (usize, usize, usize) {
    (global_id_x(), global_id_y(), global_id_z())
}

/// Threads in the grid along y (`gridDim.y * blockDim.y`).
#[inline(always)]
pub fn grid_threads_y() -> usize {
    grid_dim().y as usize * block_dim().y as usize
}

/// Threads in the grid along z (`gridDim.z * blockDim.z`).
#[inline(always)]
pub fn grid_threads_z() -> usize {
    grid_dim().z as usize * block_dim().z as usize
}

/// Grid-stride loop over the whole launch in linear-id order: `global_linear_id(), +
/// grid_linear_threads(), ...` below `len`; correct for 1D, 2D and 3D launches.
#[inline(always)]
pub fn grid_stride_linear(len: usize) -> core::iter::StepBy<core::ops::Range<usize>> {
    (global_linear_id()..len).step_by(grid_linear_threads())
}

/// Linear index of this thread inside its block, for any block shape (x fastest).
#[inline(always)]
pub fn block_linear_thread() -> u32 {
    let (t, d) = (thread_idx(), block_dim());
    (t.z * d.y + t.y) * d.x + t.x
}

/// `v` unchanged, through a move the compiler neither sees through nor moves out of a loop
/// (ptxas removes it). For indices that are cheap to recompute in each iteration: hoisted out
/// of a loop, everything derived from them (per-slot addresses) stays live across it, and a
/// kernel capped at 64 registers spills.
#[inline(always)]
pub fn opaque_u32(v: u32) -> u32 {
    let r: u32;
    // SAFETY: a register move; touches no memory. Not `pure`, so that it stays in its loop.
    unsafe {
        crate::__device_asm!("mov.b32 {r}, {v};", r = out(reg32) r, v = in(reg32) v,
            options(nomem, nostack, preserves_flags))
    };
    r
}

/// `v` unchanged, as [`opaque_u32`]: a row index passed through it at the top of a row loop
/// keeps the compiler from carrying one strength-reduced pointer per derived address.
#[inline(always)]
pub fn opaque_usize(v: usize) -> usize {
    let r: u64;
    // SAFETY: a register move; touches no memory. Not `pure`, so that it stays in its loop.
    unsafe {
        crate::__device_asm!("mov.b64 {r}, {v};", r = out(reg64) r, v = in(reg64) v as u64,
            options(nomem, nostack, preserves_flags))
    };
    r as usize
}

/// `grid_dim().x`, read where it is used: the compiler treats [`grid_dim`] as a constant and keeps
/// it in a register across a block's row loop (a kernel at its register cap spills it); this
/// read stays in the loop, where ptxas takes it from the constant bank.
#[inline(always)]
pub fn grid_dim_x_here() -> u32 {
    let r: u32;
    // SAFETY: reads a special register; touches no memory. Not `pure`, so that it stays put.
    unsafe {
        crate::__device_asm!("mov.u32 {r}, %nctaid.x;", r = out(reg32) r,
            options(nomem, nostack, preserves_flags))
    };
    r
}
