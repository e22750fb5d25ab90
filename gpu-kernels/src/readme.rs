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

/// Rows of its band a thread reads and computes at once.
const BAND: usize = 4;

/// 3×3 stencil: `y[r][c] = Σ w[3i + j] · x[r + i - 1][c + j - 1]`, with rows and columns
/// outside the matrix clamped to its edge.
#[kernel(
    len(x) == rows * cols,
    len(y) == len(x),
    len(w) == 9,
    block = (32, 8),
    launch_bounds(256, 2)
)]
pub fn stencil3x3(
    x: &[f32],
    w: &[f32],
    rows: u32,
    cols: u32,
    mut y: OutSlice<f32, BlockTiles<128, 128, cols>>,
) {
    // This block's 128×128 tile of `y`; each thread owns 4-column chunks in a band of 16 rows
    // (a tall band: the warps of a block drift apart, so loads stay in flight between bands).
    let Some(mut tile) = y.block_tile() else {
        return;
    };
    let (rows, cols) = (rows as usize, cols as usize);
    let x = Rows::new(x, cols);
    let w: [f32; 9] = gpu::unroll::array(|k| w[k]);
    let (r0, c0) = tile.origin();
    // x[r][c-1 ..= c+4]: the chunk at column c and a neighbour on each side, with rows and
    // columns outside the matrix clamped to its edge (`chunk_with_halo` clamps the columns).
    let six = |r: isize, c: usize| -> [f32; 6] {
        let row = x.row(r.clamp(0, rows as isize - 1) as usize);
        let (left, v, right) = row.chunk_with_halo(c / 4);
        [left, v[0], v[1], v[2], v[3], right]
    };
    for j in 0..tile.owned_chunks() {
        for i0 in (0..tile.band()).step_by(BAND) {
            let (b, cc) = tile.chunk_position(i0, j);
            let (r, c) = (r0 + b, c0 + cc);
            // Read BAND rows and the rows around them first (all loads in flight), then compute
            // from registers (`gpu::unroll` keeps every index a constant).
            let v: [[f32; 6]; BAND + 2] = gpu::unroll::array(|k| six((r + k) as isize - 1, c));
            gpu::unroll::each::<BAND>(|i| {
                if let Some(mut out) = tile.chunk_at(i0 + i, j) {
                    out.store(gpu::unroll::array(|m| {
                        let mut s = 0.0f32;
                        gpu::unroll::each::<3>(|di| {
                            gpu::unroll::each::<3>(|dj| {
                                s = gpu::math::fma(w[3 * di + dj], v[i + di][m + dj], s)
                            })
                        });
                        s
                    }));
                }
            });
        }
    }
}
