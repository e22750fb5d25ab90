//! Matrix kernels over row-major f32 matrices: transpose and matrix-vector products.
use gpukit_device::{
    self as gpu, Manual, OutSlice, Quads, ThreadTiles, WarpRows, kernel, shared_array, warp,
};

/// Largest tile side of [`transpose_quads`] (its shared tile is sized for it).
const QTILE_MAX: usize = 64;

const TILE: usize = 32;
/// Threads per block of [`transpose_f32`] (1-D): thread t moves tile rows `t / 32 + 8k`,
/// column `t % 32`.
pub const TRANSPOSE_BLOCK: usize = 256;
const TROWS: usize = TRANSPOSE_BLOCK / TILE;
/// Elements each thread moves per tile: TILE² / 256.
const PER_THREAD: usize = TILE / TROWS;

/// Tile `tile` (row-major over the input's tiles of side `side`) as (first row, first column).
#[inline(always)]
fn tile_origin_of(tile: usize, tiles_x: usize, side: usize) -> (usize, usize) {
    // 32-bit division when it fits (the common case): a 64-bit one is a long instruction sequence.
    let (ty, tx) = if tile <= u32::MAX as usize && tiles_x <= u32::MAX as usize {
        let (t, n) = (tile as u32, tiles_x as u32);
        ((t / n) as usize, (t % n) as usize)
    } else {
        (tile / tiles_x, tile % tiles_x)
    };
    (ty * side, tx * side)
}

/// [`tile_origin_of`] for 32×32 tiles.
#[inline(always)]
fn tile_origin(tile: usize, tiles_x: usize) -> (usize, usize) {
    tile_origin_of(tile, tiles_x, TILE)
}

/// out (cols × rows) = aᵀ for a (rows × cols), any shape (tall, wide, empty). Launch 1-D blocks
/// of [`TRANSPOSE_BLOCK`] threads and any number of blocks: block b moves tiles b, b + grid, ...
/// (a grid of a few blocks per SM is fastest). Each 32×32 tile goes through shared memory padded
/// to 33 columns (conflict-free row writes and column reads); each thread loads its four
/// elements of the next tile before it writes the current one, so loads stay in flight while the
/// block stores.
#[kernel(same_len(a, out), launch_bounds(256))]
pub fn transpose_f32(a: &[f32], rows: u64, cols: u64, mut out: OutSlice<f32, Manual>) {
    let tile_s = shared_array!(TRANSPOSE_TILE: [f32; TILE * (TILE + 1)]);
    let (rows, cols) = (rows as usize, cols as usize);
    let tiles_x = cols.div_ceil(TILE);
    let tiles = tiles_x * rows.div_ceil(TILE);
    let t = gpu::thread_idx().x as usize;
    let (tx, ty) = (t % TILE, t / TILE);
    let step = gpu::grid_dim().x as usize;
    let mut tile = gpu::block_idx().x as usize;
    if tile >= tiles || ty >= TROWS {
        return;
    }
    let load = |tile: usize| {
        let (r0, c0) = tile_origin(tile, tiles_x);
        let mut v = [0.0f32; PER_THREAD];
        for (k, vk) in v.iter_mut().enumerate() {
            let (r, c) = (r0 + ty + TROWS * k, c0 + tx);
            if r < rows && c < cols {
                *vk = gpu::load_nc(a, r * cols + c);
            }
        }
        v
    };
    let mut v = load(tile);
    loop {
        for (k, vk) in v.iter().enumerate() {
            // (ty + 8k) * 33 + tx <= 31 * 33 + 31 < 32 * 33: the check folds away.
            tile_s.set((ty + TROWS * k) * (TILE + 1) + tx, *vk);
        }
        gpu::sync_threads();
        let next = tile + step;
        if next < tiles {
            v = load(next);
        }
        // Output tile: rows c0.., columns r0..; its element (r, c) is tile element (c, r).
        let (r0, c0) = tile_origin(tile, tiles_x);
        for k in 0..PER_THREAD {
            let (orow, ocol) = (c0 + ty + TROWS * k, r0 + tx);
            if orow < cols && ocol < rows {
                let v = tile_s.get(tx * (TILE + 1) + ty + TROWS * k);
                // SAFETY: output tile `tile` belongs to this block alone (tiles are dealt out
                // by block index), and inside it this thread writes only its own positions.
                unsafe { *out.claim_mut(orow * rows + ocol) = v };
            }
        }
        // The next tile overwrites the shared tile: everyone must have read this one.
        gpu::sync_threads();
        if next >= tiles {
            break;
        }
        tile = next;
    }
}

/// out (cols × rows) = aᵀ with 16-byte accesses on both sides, for `rows` and `cols` multiples
/// of 4 and both slices 16-byte aligned (the host checks; other shapes take [`transpose_f32`],
/// and a block of this kernel writes nothing when they do not hold). `TILE`×`TILE` tiles
/// through shared memory padded to `TILE + 1` columns; 256 threads, each moving
/// `TILE² / 1024` quads per tile: it reads row quads of the input tile and writes row quads of
/// the output tile, gathering each from four consecutive rows of the shared tile. Blocks loop
/// over tiles (b, b + grid, ...), loading the next tile before writing the current one.
#[kernel(same_len(a, out), instances(32, 64), launch_bounds(256))]
pub fn transpose_quads<const TILE: usize>(
    a: &[f32],
    rows: u64,
    cols: u64,
    mut out: OutSlice<f32, Manual>,
) {
    const { assert!(TILE == 32 || TILE == 64) };
    let tile_s = shared_array!(TRANSPOSE_QUADS_TILE: [f32; QTILE_MAX * (QTILE_MAX + 1)]);
    let (rows, cols) = (rows as usize, cols as usize);
    let Some(qa) = Quads::new(a) else {
        return;
    };
    if !rows.is_multiple_of(4) || !cols.is_multiple_of(4) {
        return;
    }
    let quads_per_row = TILE / 4;
    let row_step = TRANSPOSE_BLOCK / quads_per_row;
    // Quads per thread per tile: 1 (TILE 32) or 4 (TILE 64).
    let per = TILE / row_step;
    let stride = TILE + 1;
    let tiles_x = cols.div_ceil(TILE);
    let tiles = tiles_x * rows.div_ceil(TILE);
    let t = gpu::thread_idx().x as usize;
    let (qx, ry) = (t % quads_per_row, t / quads_per_row);
    let step = gpu::grid_dim().x as usize;
    let mut tile = gpu::block_idx().x as usize;
    if tile >= tiles || t >= TRANSPOSE_BLOCK {
        return;
    }
    let tile_at = |tile: usize| tile_origin_of(tile, tiles_x, TILE);
    let load = |tile: usize| -> [[f32; 4]; 4] {
        let (r0, c0) = tile_at(tile);
        gpu::unroll::array(|k| {
            let (r, c) = (r0 + ry + row_step * k, c0 + 4 * qx);
            if k < per && r < rows && c < cols {
                qa.get((r * cols + c) / 4)
            } else {
                [0.0; 4]
            }
        })
    };
    let mut v = load(tile);
    loop {
        gpu::unroll::each::<4>(|k| {
            if k < per {
                gpu::unroll::each::<4>(|j| {
                    // SAFETY: (ry + row_step·k) < TILE and 4·qx + j < TILE, so the index is
                    // below TILE · (TILE + 1) <= the array's 64 · 65. (A checked `set` here
                    // costs the 64-wide instance 24 registers: the bound does not fold.)
                    unsafe {
                        tile_s.set_unchecked((ry + row_step * k) * stride + 4 * qx + j, v[k][j])
                    };
                });
            }
        });
        gpu::sync_threads();
        let next = tile + step;
        if next < tiles {
            v = load(next);
        }
        // Output tile: rows c0.., columns r0..; output (c0 + o, r0 + 4x + j) = tile (4x + j, o).
        let (r0, c0) = tile_at(tile);
        gpu::unroll::each::<4>(|k| {
            let (o, x) = (ry + row_step * k, qx);
            let (orow, ocol) = (c0 + o, r0 + 4 * x);
            if k < per && orow < cols && ocol < rows {
                // SAFETY: (4x + j) · (TILE + 1) + o < TILE · (TILE + 1), as above.
                let w: [u32; 4] = gpu::unroll::array(|j| unsafe {
                    tile_s.get_unchecked((4 * x + j) * stride + o).to_bits()
                });
                // SAFETY: output tile `tile` belongs to this block alone (tiles are dealt out
                // by block index), and inside it this thread writes only its own quads.
                if let Some(p) = unsafe { out.claim_packet_mut(orow * rows + ocol) } {
                    p.set(w);
                }
            }
        });
        // The next tile overwrites the shared tile: everyone must have read this one.
        gpu::sync_threads();
        if next >= tiles {
            break;
        }
        tile = next;
    }
}

/// y = alpha · A x + beta · y for A (rows × cols). One warp per row: the lanes read the row with
/// 16-byte loads, two quads in flight each, and combine with a warp sum. Launch with blocks of
/// 256 threads (8 rows each) over ⌈rows/8⌉ blocks.
#[kernel]
pub fn gemv_f32(
    alpha: f32,
    a: &[f32],
    rows: u32,
    cols: u32,
    x: &[f32],
    beta: f32,
    mut y: OutSlice<f32, WarpRows<1>>,
) {
    let (rows, cols) = (rows as usize, cols as usize);
    let warps_per_block = (gpu::block_dim().x / 32) as usize;
    let row = gpu::block_idx().x as usize * warps_per_block + warp::warp_id() as usize;
    if row >= rows {
        return;
    }
    let lane = warp::lane_id() as usize;
    let base = row * cols;
    let mut acc = [0.0f32; 8];
    let row_a = &a[base..base + cols];
    match (Quads::new(row_a), Quads::new(x)) {
        (Some(qa), Some(qx)) => {
            // Four 16-byte loads of A in flight per lane per iteration.
            let n = qa.len();
            let mut q = lane;
            while q + 96 < n {
                let (a0, a1, a2, a3) = (qa.get(q), qa.get(q + 32), qa.get(q + 64), qa.get(q + 96));
                let (x0, x1, x2, x3) = (qx.get(q), qx.get(q + 32), qx.get(q + 64), qx.get(q + 96));
                for k in 0..4 {
                    acc[k] = gpu::math::fma(a0[k], x0[k], acc[k]);
                    acc[4 + k] = gpu::math::fma(a1[k], x1[k], acc[4 + k]);
                    acc[k] = gpu::math::fma(a2[k], x2[k], acc[k]);
                    acc[4 + k] = gpu::math::fma(a3[k], x3[k], acc[4 + k]);
                }
                q += 128;
            }
            while q < n {
                let (u, xu) = (qa.get(q), qx.get(q));
                for k in 0..4 {
                    acc[k] = gpu::math::fma(u[k], xu[k], acc[k]);
                }
                q += 32;
            }
            let tail = qa.tail();
            if lane < tail.len() {
                acc[0] = gpu::math::fma(tail[lane], x[n * 4 + lane], acc[0]);
            }
        }
        _ => {
            let mut c = lane;
            while c < cols {
                acc[0] = gpu::math::fma(row_a[c], x[c], acc[0]);
                c += 32;
            }
        }
    }
    let s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    let s = warp::reduce_sum_f32(s);
    // y[row] is warp `row`'s one-element row; lane 0 owns it.
    if let Some(mut yr) = y.warp_row()
        && let Some(mut c) = yr.chunk(0)
    {
        let e = c.get_mut(0);
        *e = if beta == 0.0 {
            alpha * s
        } else {
            gpu::math::fma(alpha, s, beta * *e)
        };
    }
}

/// First pass of y = alpha · Aᵀ x + beta · y: partials[chunk · cols + c] = Σ over the rows of
/// `chunk` of A[r][c] · x[r]. Each thread owns four adjacent columns (16-byte loads along the
/// row, coalesced across the warp); grid.y = number of row chunks.
#[kernel]
pub fn gemv_t_partials_f32(
    a: &[f32],
    rows: u32,
    cols: u32,
    x: &[f32],
    mut partials: OutSlice<f32, ThreadTiles<4, 1, cols>>,
) {
    let (rows, cols) = (rows as usize, cols as usize);
    let c0 = gpu::global_id_x() * 4;
    if c0 >= cols {
        return;
    }
    let chunks = gpu::grid_dim().y as usize;
    let chunk = gpu::block_idx().y as usize;
    let per = rows.div_ceil(chunks);
    let (r0, r1) = (chunk * per, ((chunk + 1) * per).min(rows));
    let mut acc = [0.0f32; 4];
    let full = c0 + 4 <= cols && cols % 4 == 0;
    let qa = Quads::new(a).filter(|_| full);
    let mut r = r0;
    while r < r1 {
        let xr = x[r];
        if let Some(qa) = qa {
            let v = qa.get((r * cols + c0) / 4);
            for k in 0..4 {
                acc[k] = gpu::math::fma(v[k], xr, acc[k]);
            }
        } else {
            // Constant indices keep `acc` in registers.
            for k in 0..4 {
                if c0 + k < cols {
                    acc[k] = gpu::math::fma(a[r * cols + c0 + k], xr, acc[k]);
                }
            }
        }
        r += 1;
    }
    // partials[chunk][c0 .. c0 + 4] is this thread's 1×4 tile (global thread (x, chunk)).
    if let Some(mut t) = partials.thread_tile() {
        let row = t.row_mut(0);
        gpu::unroll::each::<4>(|k| {
            if k < row.len() {
                row[k] = acc[k];
            }
        });
    }
}

/// Second pass: y[c] = alpha · Σ_chunk partials[chunk · cols + c] + beta · y[c].
#[kernel(elements = y)]
pub fn gemv_t_combine_f32(
    alpha: f32,
    partials: &[f32],
    chunks: u32,
    beta: f32,
    mut y: OutSlice<f32>,
) {
    let cols = y.len();
    if let Some((c, yc)) = y.thread_elem() {
        let mut s = 0.0f32;
        for ch in 0..chunks as usize {
            s += partials[ch * cols + c];
        }
        *yc = if beta == 0.0 {
            alpha * s
        } else {
            gpu::math::fma(alpha, s, beta * *yc)
        };
    }
}
