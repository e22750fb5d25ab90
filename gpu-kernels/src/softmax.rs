//! Row-wise softmax and log-softmax of a (rows × cols) f32 matrix in one pass over memory: each
//! block stages its row in dynamic shared memory while computing the running (max, sum of
//! exponentials) online, combines the per-thread pairs across the block, then writes the row from
//! shared memory. Launch one block per row with `cols · 4` bytes of dynamic shared memory.
use gpukit_device::{self as gpu, OutSlice, dynamic_shared, kernel, load_quad, math, shared_array, warp};

/// Combine two online-softmax states (max, Σ e^(x - max)).
#[inline(always)]
fn merge(m1: f32, s1: f32, m2: f32, s2: f32) -> (f32, f32) {
    let m = m1.max(m2);
    if m == f32::NEG_INFINITY {
        return (m, 0.0);
    }
    (m, s1 * math::exp_fast(m1 - m) + s2 * math::exp_fast(m2 - m))
}

/// Stage row `row` in shared memory and return the row's (max, Σ e^(x - max)).
#[inline(always)]
fn row_stats(a: &[f32], row: usize, cols: usize) -> (f32, f32) {
    let smem = dynamic_shared::<f32>();
    let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
    let base = row * cols;
    let (mut m, mut s) = (f32::NEG_INFINITY, 0.0f32);
    let mut visit = |c: usize, v: f32| {
        smem.set(c, v);
        if v > m {
            s = s * math::exp_fast(m - v) + 1.0;
            m = v;
        } else {
            s += math::exp_fast(v - m);
        }
    };
    if cols % 4 == 0 {
        let mut q = t;
        while q < cols / 4 {
            let v = load_quad(a, base + q * 4);
            for k in 0..4 {
                visit(q * 4 + k, v[k]);
            }
            q += nt;
        }
    } else {
        let mut c = t;
        while c < cols {
            visit(c, a[base + c]);
            c += nt;
        }
    }
    // Warp, then block combination of the (max, sum) pairs.
    let mut d = 16;
    while d > 0 {
        let (m2, s2) = (warp::shfl_xor_f32(m, d), warp::shfl_xor_f32(s, d));
        (m, s) = merge(m, s, m2, s2);
        d >>= 1;
    }
    let ms = shared_array!(SOFTMAX_MAX: [f32; 32]);
    let ss = shared_array!(SOFTMAX_SUM: [f32; 32]);
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    if lane == 0 {
        ms.set(wid, m);
        ss.set(wid, s);
    }
    gpu::sync_threads();
    let nw = nt.div_ceil(32);
    let (mut bm, mut bs) = (f32::NEG_INFINITY, 0.0f32);
    for w in 0..nw {
        (bm, bs) = merge(bm, bs, ms.get(w), ss.get(w));
    }
    (bm, bs)
}

/// out[r][c] = e^(a[r][c] - max_r) / Σ_c e^(a[r][c] - max_r)
#[kernel(same_len(a, out))]
pub fn softmax_rows_f32(a: &[f32], rows: u32, cols: u32, mut out: OutSlice<f32>) {
    let (row, cols) = (gpu::block_idx().x as usize, cols as usize);
    if row >= rows as usize {
        return;
    }
    let (m, s) = row_stats(a, row, cols);
    let inv = 1.0 / s;
    let smem = dynamic_shared::<f32>();
    let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
    let mut c = t;
    while c < cols {
        // SAFETY: row `row` belongs to this block; column c to this thread (stride = block size).
        unsafe { *out.get_unchecked_mut(row * cols + c) = math::exp_fast(smem.get(c) - m) * inv };
        c += nt;
    }
}

/// out[r][c] = a[r][c] - max_r - ln Σ_c e^(a[r][c] - max_r)
#[kernel(same_len(a, out))]
pub fn log_softmax_rows_f32(a: &[f32], rows: u32, cols: u32, mut out: OutSlice<f32>) {
    let (row, cols) = (gpu::block_idx().x as usize, cols as usize);
    if row >= rows as usize {
        return;
    }
    let (m, s) = row_stats(a, row, cols);
    let shift = m + math::log_fast(s);
    let smem = dynamic_shared::<f32>();
    let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
    let mut c = t;
    while c < cols {
        // SAFETY: as in softmax_rows_f32.
        unsafe { *out.get_unchecked_mut(row * cols + c) = smem.get(c) - shift };
        c += nt;
    }
}
