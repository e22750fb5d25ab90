//! Ownership views, generic kernels and launch contracts.
use core::array;
use gpukit_device::{
    self as gpu, BlockRows, BlockTiles, Element, Float, Input, L2Policy, OutSlice, PacketMut,
    Packets, PerThread, Rows, StridedPackets, WarpRows, block, kernel, warp,
};

/// `out = a * s + b` per element, in f32 math over f32, f16 or bf16 storage: one generic
/// source, three entries. Eight elements per thread (16-byte accesses for the halves).
#[kernel(same_len(a, out), instances(f32, f16, Bf16))]
pub fn axpb<T: Float>(a: &[T], s: f32, b: f32, mut out: OutSlice<T, PerThread<8>>) {
    let a = Input::new(a);
    if let Some(mut o) = out.thread_items() {
        let v: [T; 8] = a.items(o.start());
        o.store(v.map(|x| T::from_f32(gpu::math::fma(x.to_f32(), s, b))));
    }
}

/// `y[r][c] = (x[r][c] - mean(x[r])) * gamma[c]`: one block per row, the row read in 16-byte
/// chunks with four loads in flight, written chunk by chunk.
#[kernel(len(x) == rows * cols, len(y) == len(x), len(gamma) == cols)]
pub fn center_rows(
    x: &[f32],
    gamma: &[f32],
    rows: u32,
    cols: u32,
    mut y: OutSlice<f32, BlockRows<cols>>,
) {
    let Some(mut row) = y.block_row() else {
        return;
    };
    let xr = Rows::new(x, cols as usize).row(row.index());
    let g = Input::new(gamma);
    let mut s = 0.0f32;
    xr.for_each_chunk::<4>(row.owned(), |_, v| {
        for e in v {
            s += e;
        }
    });
    let mean = block::reduce_sum_f32(s) / cols as f32;
    for mut c in row.chunks() {
        let (v, gv) = (xr.chunk(c.index()), g.chunk(c.index()));
        c.store(array::from_fn(|k| (v[k] - mean) * gv[k]));
    }
}

/// `y[r] = sum(x[r])` for rows of `cols`: one warp per row.
#[kernel(len(x) == len(y) * cols)]
pub fn warp_row_sums(x: &[f32], cols: u32, mut y: OutSlice<f32, WarpRows<1>>) {
    let Some(mut yr) = y.warp_row() else {
        return;
    };
    let xr = Rows::new(x, cols as usize).row(yr.index());
    let mut s = 0.0f32;
    let mut q = yr.rank();
    while q < xr.chunk_count() {
        let v = xr.chunk(q);
        s += (v[0] + v[1]) + (v[2] + v[3]);
        q += 32;
    }
    let s = warp::reduce_sum_f32(s);
    if let Some(mut c) = yr.chunk(0) {
        c.set(0, s);
    }
}

/// `out = aᵀ` for a (rows × cols): `out` is cols × rows, cut into 32×32 tiles, one per block.
#[kernel(len(a) == rows * cols, len(out) == len(a))]
pub fn transpose_tiles(
    a: &[f32],
    rows: u32,
    cols: u32,
    mut out: OutSlice<f32, BlockTiles<32, 32, rows>>,
) {
    let cols = cols as usize;
    let Some(mut tile) = out.block_tile() else {
        return;
    };
    let (r0, c0) = tile.origin();
    tile.for_each(|r, c, o| *o = a[(c0 + c) * cols + r0 + r]);
}

/// `out[r*N .. r*N + N] = x[r]`: a generic kernel with a const parameter, which also sizes the
/// rows of its output.
#[kernel(instances((f32, 2), (u32, 5)))]
pub fn repeat<T: Element, const N: usize>(x: &[T], mut out: OutSlice<T, BlockRows<N>>) {
    let Some(mut row) = out.block_row() else {
        return;
    };
    let v = x[row.index()];
    for mut c in row.chunks() {
        c.store(T::splat(v));
    }
}

/// `y[r][c] = Σ_{i,j} x[r + i - 1][c + j - 1] · (3i + j + 1)` over a 3×3 window, edges clamped,
/// through `BlockTileMut::sweep_rows` (16-row bands, two rows read ahead): interior bands take
/// the unclamped column walk, edge bands the clamped one.
#[kernel(len(x) == rows * cols, len(y) == len(x), block = (32, 4))]
pub fn sweep_stencil(
    x: &[f32],
    rows: u32,
    cols: u32,
    mut y: OutSlice<f32, BlockTiles<128, 64, cols>>,
) {
    let Some(mut tile) = y.block_tile() else {
        return;
    };
    let x = Rows::new(x, cols as usize);
    tile.sweep_rows::<3, 2>(&x, |win| {
        gpu::unroll::array(|m| {
            let mut s = 0.0f32;
            gpu::unroll::each::<3>(|i| {
                gpu::unroll::each::<3>(|j| {
                    s = gpu::math::fma((3 * i + j + 1) as f32, win[i].at(m + j), s)
                })
            });
            s
        })
    });
}

/// `y[r][c] = x[r - 2][c] + x[r + 2][c]` (rows clamped): a 5-row window, one row ahead.
#[kernel(len(x) == rows * cols, len(y) == len(x))]
pub fn sweep_five_rows(
    x: &[u32],
    rows: u32,
    cols: u32,
    mut y: OutSlice<u32, BlockTiles<64, 32, cols>>,
) {
    let Some(mut tile) = y.block_tile() else {
        return;
    };
    let x = Rows::new(x, cols as usize);
    tile.sweep_rows::<5, 1>(&x, |win| {
        gpu::unroll::array(|m| win[0].at(m + 1).wrapping_add(win[4].at(m + 1)))
    });
}

/// The `sweep_stencil` sum through `BlockTileMut::stream_rows` (rows staged in shared memory
/// by bulk copies where the launch allows it): 256-column tiles, so each warp walks its band
/// twice (32 chunks a pass), with a ring of 2 stages per warp.
#[kernel(len(x) == rows * cols, len(y) == len(x), block = (32, 4))]
pub fn stream_stencil(
    x: &[f32],
    rows: u32,
    cols: u32,
    mut y: OutSlice<f32, BlockTiles<256, 64, cols>>,
) {
    let Some(mut tile) = y.block_tile() else {
        return;
    };
    let x = Rows::new(x, cols as usize);
    let ring = gpu::shared_array!(STREAM_RING: [f32; 4 * 8 * (136 + 2)]);
    tile.stream_rows::<3, _>(&x, ring, |win| {
        gpu::unroll::array(|m| {
            let mut s = 0.0f32;
            gpu::unroll::each::<3>(|i| {
                gpu::unroll::each::<3>(|j| {
                    s = gpu::math::fma((3 * i + j + 1) as f32, win[i].at(m + j), s)
                })
            });
            s
        })
    });
}

/// `y[r][c] = x[r - 2][c] + x[r + 2][c]` (rows clamped) on 8-byte elements (2 a chunk) through
/// `stream_rows`: a 5-row window, 3 stages of 4 rows per warp.
#[kernel(len(x) == rows * cols, len(y) == len(x), block = (32, 2))]
pub fn stream_five_rows(
    x: &[u64],
    rows: u32,
    cols: u32,
    mut y: OutSlice<u64, BlockTiles<64, 40, cols>>,
) {
    let Some(mut tile) = y.block_tile() else {
        return;
    };
    let x = Rows::new(x, cols as usize);
    let ring = gpu::shared_array!(STREAM_RING: [u64; 2 * 3 * 4 * 68 + 8]);
    tile.stream_rows::<5, _>(&x, ring, |win| {
        gpu::unroll::array(|m| win[0].at(m + 1).wrapping_add(win[4].at(m + 1)))
    });
}

/// `out[i] = 2 a[i] + 1` through the strided-packets view, three packets per thread.
#[kernel(same_len(a, out), elements = out, bytes_per_thread = 48)]
pub fn twice_plus_one(a: &[f32], mut out: OutSlice<f32, StridedPackets<3>>) {
    for p in out.thread_packets().into_iter().flatten() {
        let (i, mut p) = p;
        let v = |k: usize| 2.0 * a[i + k] + 1.0;
        match &mut p {
            PacketMut::Full(o) => o.set(gpu::unroll::array(|k| v(k).to_bits())),
            PacketMut::Partial(o) => o.iter_mut().enumerate().for_each(|(k, e)| *e = v(k)),
        }
    }
}

/// `out = a` through the cache-hinted packet accesses (`Packets::get_hinted`,
/// `Packet::set_hinted`) with L2 policy `policy` (0 evict-last, 1 evict-first, else
/// evict-normal); the partial last packet element by element.
#[kernel(same_len(a, out), elements = out, bytes_per_thread = 16)]
pub fn hinted_copy(a: &[u32], policy: u32, mut out: OutSlice<u32, StridedPackets<1>>) {
    let pol = match policy {
        0 => L2Policy::evict_last(),
        1 => L2Policy::evict_first(),
        _ => L2Policy::evict_normal(),
    };
    let Some(packets) = Packets::new(a) else {
        return;
    };
    for (i, mut p) in out.thread_packets().into_iter().flatten() {
        match &mut p {
            PacketMut::Full(o) => o.set_hinted(packets.get_hinted(i / 4, pol), pol),
            PacketMut::Partial(o) => o.iter_mut().enumerate().for_each(|(k, e)| *e = a[i + k]),
        }
    }
}
