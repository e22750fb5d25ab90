//! The README's kernel-writing examples, written as a user would write them (no hand tuning):
//! a row-per-block normalisation and a 2D 3×3 stencil. `tests/readme_kernels.rs` keeps them
//! identical to the README's text; the main program benchmarks them against the copy bandwidth.
use gpukit_device::{self as gpu, BlockRows, BlockTiles, Input, OutSlice, Rows, block, kernel};

/// Layer normalisation of each row: `y = (x - mean) / sqrt(var + eps) * gamma + beta`.
#[kernel(len(x) == rows * cols, len(y) == len(x), len(gamma) == cols, len(beta) == cols)]
pub fn layer_norm(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    rows: u32,
    cols: u32,
    eps: f32,
    mut y: OutSlice<f32, BlockRows<cols>>,
) {
    // This block's row of `y`; its threads share it chunk by chunk (16 bytes each).
    let Some(mut row) = y.block_row() else {
        return;
    };
    let x = Rows::new(x, cols as usize).row(row.index());
    let (gamma, beta) = (Input::new(gamma), Input::new(beta));
    // Pass 1: sum and sum of squares of the chunks this thread owns, four loads in flight.
    let (mut s, mut ss) = (0.0f32, 0.0f32);
    x.for_each_chunk::<4>(row.owned(), |_, v| {
        for e in v {
            s += e;
            ss = gpu::math::fma(e, e, ss);
        }
    });
    let n = cols as f32;
    let mean = block::reduce_sum_f32(s) / n;
    let var = (block::reduce_sum_f32(ss) / n - mean * mean).max(0.0);
    let inv = 1.0 / gpu::math::sqrt(var + eps);
    // Pass 2: normalise each owned chunk (the row is read again, from cache).
    for mut c in row.chunks() {
        let q = c.index();
        let (v, g, b) = (x.chunk(q), gamma.chunk(q), beta.chunk(q));
        c.store(gpu::unroll::array(|k| {
            gpu::math::fma((v[k] - mean) * inv, g[k], b[k])
        }));
    }
}

/// 3×3 stencil: `y[r][c] = Σ w[3i + j] · x[r + i - 1][c + j - 1]`, with rows and columns
/// outside the matrix clamped to its edge.
#[kernel(len(x) == rows * cols, len(y) == len(x), len(w) == 9, block = (32, 8))]
pub fn stencil3x3(
    x: &[f32],
    w: &[f32],
    rows: u32,
    cols: u32,
    mut y: OutSlice<f32, BlockTiles<128, 128, cols>>,
) {
    // This block's 128×128 tile of `y`; each warp owns a band of 16 rows, a 4-column chunk of
    // each per thread.
    let Some(mut tile) = y.block_tile() else {
        return;
    };
    let x = Rows::new(x, cols as usize);
    let w: [f32; 9] = gpu::unroll::array(|k| w[k]);
    // Shared memory for the input rows in flight: 8 warps × 8 rows of 136 columns (the tile's
    // 128 and a 16-byte halo on each side), plus room for their barriers.
    let ring = gpu::shared_array!(RING: [f32; 8 * 8 * (136 + 2)]);
    // win[i] holds x[r + i - 1][c - 1 ..= c + 4] for the output chunk at (r, c), clamped.
    tile.stream_rows::<3, _>(&x, ring, |win| {
        gpu::unroll::array(|m| {
            let mut s = 0.0f32;
            gpu::unroll::each::<3>(|i| {
                gpu::unroll::each::<3>(|j| s = gpu::math::fma(w[3 * i + j], win[i].at(m + j), s))
            });
            s
        })
    });
}
