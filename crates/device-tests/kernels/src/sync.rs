//! Barriers with predicates, warp sync and fences.
use gpukit_device::{self as gpu, OutSlice, kernel};

/// Per block `b`: `out[3b..3b+3] = [count, and, or]` of `x[i] & 1 != 0` over the block's
/// threads (threads past the end vote false). Every launched thread reaches the barriers.
#[kernel]
pub fn barrier_votes(x: &[u32], mut out: OutSlice<u32>) {
    let i = gpu::global_id_x();
    let p = i < x.len() && x[i] & 1 != 0;
    let count = gpu::sync_threads_count(p);
    let and = gpu::sync_threads_and(p);
    let or = gpu::sync_threads_or(p);
    gpu::sync_warp();
    gpu::fence_block();
    gpu::fence_device();
    gpu::fence_system();
    if gpu::thread_idx().x == 0 {
        let b = gpu::block_idx().x as usize * 3;
        // SAFETY: elements 3b..3b+3 belong to block b, and only its thread 0 writes them.
        unsafe {
            *out.get_unchecked_mut(b) = count;
            *out.get_unchecked_mut(b + 1) = and as u32;
            *out.get_unchecked_mut(b + 2) = or as u32;
        }
    }
}
