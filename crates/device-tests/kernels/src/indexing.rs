//! Indices, grid-stride loops and 2D tile ownership.
use gpukit_device::{self as gpu, OutSlice, kernel};

/// `out[linear id] = x | y << 10 | z << 20` of the thread's global 3D index (small grids).
#[kernel]
pub fn index_3d(mut out: OutSlice<u32>) {
    let (x, y, z) = gpu::global_id();
    if let Some((_, o)) = out.thread_elem() {
        *o = (x | y << 10 | z << 20) as u32;
    }
}

/// Every element gets its own index through the grid-stride rule (grid smaller than data).
#[kernel]
pub fn grid_stride_fill(mut out: OutSlice<u32>) {
    for (i, o) in out.grid_stride() {
        *o = i as u32;
    }
}

/// Each thread fills its 4x2 tile of a `cols`-column matrix with the elements' linear indices.
#[kernel]
pub fn tile_fill(mut out: OutSlice<u32>, cols: usize) {
    if let Some(mut t) = out.thread_tile::<4, 2>(cols) {
        let (r0, c0) = t.origin();
        for r in 0..t.rows() {
            let row = t.row_mut(r);
            for (c, v) in row.iter_mut().enumerate() {
                *v = ((r0 + r) * cols + c0 + c) as u32;
            }
        }
        // Element access form too (same values).
        let v = (r0 * cols + c0) as u32;
        *t.get_mut(0, 0) = v;
    }
}
