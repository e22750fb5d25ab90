//! Barriers with predicates, warp sync and fences.
use gpukit_device::{self as gpu, BlockRows, OutSlice, kernel};

/// Per block `b`: `out[3b..3b+3] = [count, and, or]` of `x[i] & 1 != 0` over the block's
/// threads (threads past the end vote false). Every launched thread reaches the barriers.
#[kernel]
pub fn barrier_votes(x: &[u32], mut out: OutSlice<u32, BlockRows<3>>) {
    let i = gpu::global_id_x();
    let p = i < x.len() && x[i] & 1 != 0;
    let count = gpu::sync_threads_count(p);
    let and = gpu::sync_threads_and(p);
    let or = gpu::sync_threads_or(p);
    gpu::sync_warp();
    gpu::fence_block();
    gpu::fence_device();
    gpu::fence_system();
    // Row b (3 elements) belongs to block b; its only chunk to the block's thread 0.
    if let Some(mut row) = out.block_row()
        && let Some(mut c) = row.chunk(0)
    {
        c.set(0, count);
        c.set(1, and as u32);
        c.set(2, or as u32);
    }
}
