//! Shared-memory round trips: static tiles and dynamic shared memory.
use gpukit_device::{self as gpu, Bf16, OutSlice, kernel, shared_array};

/// Block size 256: `out[i]` = the element of `x` at the mirrored position inside the block
/// (through a static `[f32; 256]` tile), and `out_b[i]` the same through a `Bf16` tile.
#[kernel]
pub fn shared_reverse(x: &[f32], mut out: OutSlice<f32>, mut out_b: OutSlice<Bf16>) {
    let tile = shared_array!(REVERSE_TILE: [f32; 256]);
    let tile_b = shared_array!(REVERSE_TILE_B: [Bf16; 256]);
    let t = gpu::thread_idx().x as usize;
    let i = gpu::global_id_x();
    let v = if i < x.len() { x[i] } else { 0.0 };
    tile.set(t, v);
    tile_b.set(t, Bf16::from_f32(v));
    gpu::sync_threads();
    let src = 255 - t;
    let r = tile.get(src);
    let rb = tile_b.get(src);
    let base = i - t;
    if base + src < x.len() {
        if let Some((_, o)) = out.thread_elem() {
            *o = r;
        }
        if let Some((_, o)) = out_b.thread_elem() {
            *o = rb;
        }
    }
}

/// Any block size `B`, `B * 4` bytes of dynamic shared memory: `out[i]` = `x` mirrored inside
/// the block, through `dynamic_shared::<u32>()`.
#[kernel]
pub fn dynamic_reverse(x: &[u32], mut out: OutSlice<u32>) {
    let smem = gpu::dynamic_shared::<u32>();
    let t = gpu::thread_idx().x as usize;
    let nt = gpu::block_dim().x as usize;
    let i = gpu::global_id_x();
    smem.set(t, if i < x.len() { x[i] } else { 0 });
    gpu::sync_threads();
    let src = nt - 1 - t;
    let r = smem.get(src);
    if i - t + src < x.len()
        && let Some((_, o)) = out.thread_elem()
    {
        *o = r;
    }
}
