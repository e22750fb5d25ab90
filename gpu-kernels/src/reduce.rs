//! Reductions: a grid-stride first pass writes one partial per block (16-byte loads, four
//! independent accumulators per thread), a one-block second pass combines the partials in f64.
use gpukit_device::{self as gpu, OutSlice, block, kernel, load_quad, shared_array, warp};

/// Sum of this thread's grid-stride share of `x` with 16-byte loads.
#[inline(always)]
fn thread_sum(x: &[f32], g: impl Fn(f32) -> f32) -> f32 {
    let n = x.len();
    let quads = n / 4;
    let (mut a, mut b, mut c, mut d) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    let mut q = gpu::global_id_x();
    let step = gpu::grid_linear_threads();
    while q < quads {
        let v = load_quad(x, q * 4);
        a += g(v[0]);
        b += g(v[1]);
        c += g(v[2]);
        d += g(v[3]);
        q += step;
    }
    let t = quads * 4 + gpu::global_id_x();
    if t < n {
        a += g(x[t]);
    }
    (a + b) + (c + d)
}

/// Thread 0 of each block writes the block's partial to `partials[blockIdx.x]`.
#[inline(always)]
fn write_partial<T>(partials: &mut OutSlice<T>, v: T) {
    if gpu::thread_idx().x == 0 {
        let b = gpu::block_idx().x as usize;
        // SAFETY: element `b` belongs to block `b` alone, and only its thread 0 writes it.
        unsafe { *partials.get_unchecked_mut(b) = v };
    }
}

/// partials[b] = sum of the elements block `b` visits.
#[kernel(grid_stride, elements = x, items_per_thread = 16)]
pub fn sum_partials_f32(x: &[f32], mut partials: OutSlice<f64>) {
    let s = block::reduce_sum_f32(thread_sum(x, |v| v));
    write_partial(&mut partials, s as f64);
}

/// partials[b] = sum of squares of the elements block `b` visits (for the L2 norm).
#[kernel(grid_stride, elements = x, items_per_thread = 16)]
pub fn sumsq_partials_f32(x: &[f32], mut partials: OutSlice<f64>) {
    let s = block::reduce_sum_f32(thread_sum(x, |v| v * v));
    write_partial(&mut partials, s as f64);
}

/// partials[b] = dot product of the parts of `x` and `y` block `b` visits.
#[kernel(grid_stride, same_len(x, y), elements = x, items_per_thread = 16)]
pub fn dot_partials_f32(x: &[f32], y: &[f32], mut partials: OutSlice<f64>) {
    let n = x.len();
    let quads = n / 4;
    let (mut a, mut b, mut c, mut d) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    let mut q = gpu::global_id_x();
    let step = gpu::grid_linear_threads();
    while q < quads {
        let (u, v) = (load_quad(x, q * 4), load_quad(y, q * 4));
        a = gpu::math::fma(u[0], v[0], a);
        b = gpu::math::fma(u[1], v[1], b);
        c = gpu::math::fma(u[2], v[2], c);
        d = gpu::math::fma(u[3], v[3], d);
        q += step;
    }
    let t = quads * 4 + gpu::global_id_x();
    if t < n {
        a = gpu::math::fma(x[t], y[t], a);
    }
    let s = block::reduce_sum_f32((a + b) + (c + d));
    write_partial(&mut partials, s as f64);
}

#[inline(always)]
fn thread_extreme(x: &[f32], init: f32, pick: impl Fn(f32, f32) -> f32) -> f32 {
    let n = x.len();
    let quads = n / 4;
    let (mut a, mut b, mut c, mut d) = (init, init, init, init);
    let mut q = gpu::global_id_x();
    let step = gpu::grid_linear_threads();
    while q < quads {
        let v = load_quad(x, q * 4);
        a = pick(a, v[0]);
        b = pick(b, v[1]);
        c = pick(c, v[2]);
        d = pick(d, v[3]);
        q += step;
    }
    let t = quads * 4 + gpu::global_id_x();
    if t < n {
        a = pick(a, x[t]);
    }
    pick(pick(a, b), pick(c, d))
}

/// partials[b] = maximum of the elements block `b` visits (NaNs are ignored, as `f32::max`).
#[kernel(grid_stride, elements = x, items_per_thread = 16)]
pub fn max_partials_f32(x: &[f32], mut partials: OutSlice<f32>) {
    let m = block::reduce_max_f32(thread_extreme(x, f32::NEG_INFINITY, f32::max));
    write_partial(&mut partials, m);
}

/// partials[b] = minimum of the elements block `b` visits (NaNs are ignored, as `f32::min`).
#[kernel(grid_stride, elements = x, items_per_thread = 16)]
pub fn min_partials_f32(x: &[f32], mut partials: OutSlice<f32>) {
    let m = block::reduce_min_f32(thread_extreme(x, f32::INFINITY, f32::min));
    write_partial(&mut partials, m);
}

/// (value, index) that wins: the larger value, the lower index on ties.
#[inline(always)]
fn better(v: f32, i: u32, w: f32, j: u32) -> bool {
    v > w || (v == w && i < j)
}

/// partial_values[b], partial_indices[b] = maximum and its first index among the elements block
/// `b` visits (NaNs are ignored). `x.len()` must fit in u32 (the host checks).
#[kernel(grid_stride, same_len(partial_values, partial_indices), elements = x, items_per_thread = 4)]
pub fn argmax_partials_f32(
    x: &[f32],
    mut partial_values: OutSlice<f32>,
    mut partial_indices: OutSlice<u32>,
) {
    let n = x.len();
    let (mut bv, mut bi) = (f32::NEG_INFINITY, u32::MAX);
    let mut i = gpu::global_id_x();
    let step = gpu::grid_linear_threads();
    while i < n {
        let v = x[i];
        if better(v, i as u32, bv, bi) {
            bv = v;
            bi = i as u32;
        }
        i += step;
    }
    let mut m = 16;
    while m > 0 {
        let (ov, oi) = (warp::shfl_xor_f32(bv, m), warp::shfl_xor_u32(bi, m));
        if better(ov, oi, bv, bi) {
            bv = ov;
            bi = oi;
        }
        m >>= 1;
    }
    let vals = shared_array!(ARGMAX_VALUES: [f32; 32]);
    let idxs = shared_array!(ARGMAX_INDICES: [u32; 32]);
    let (lane, wid) = (warp::lane_id(), warp::warp_id());
    if lane == 0 {
        vals.set(wid as usize, bv);
        idxs.set(wid as usize, bi);
    }
    gpu::sync_threads();
    if wid == 0 {
        let nw = gpu::block_dim().x.div_ceil(32);
        let (mut v, mut j) = if lane < nw {
            (vals.get(lane as usize), idxs.get(lane as usize))
        } else {
            (f32::NEG_INFINITY, u32::MAX)
        };
        let mut m = 16;
        while m > 0 {
            let (ov, oj) = (warp::shfl_xor_f32(v, m), warp::shfl_xor_u32(j, m));
            if better(ov, oj, v, j) {
                v = ov;
                j = oj;
            }
            m >>= 1;
        }
        write_partial(&mut partial_values, v);
        write_partial(&mut partial_indices, j);
    }
}

/// out[0] = sum of `partials` in f64, by one block (launch with one block of up to 1024 threads).
#[kernel(same_len(out, out))]
pub fn combine_sum_f64(partials: &[f64], mut out: OutSlice<f64>) {
    let mut s = 0.0f64;
    let mut i = gpu::thread_idx().x as usize;
    while i < partials.len() {
        s += partials[i];
        i += gpu::block_dim().x as usize;
    }
    // Warp sums in f64 through two 32-bit shuffles.
    let mut m = 16;
    while m > 0 {
        let bits = s.to_bits();
        let lo = warp::shfl_xor_u32(bits as u32, m);
        let hi = warp::shfl_xor_u32((bits >> 32) as u32, m);
        s += f64::from_bits(((hi as u64) << 32) | lo as u64);
        m >>= 1;
    }
    let sums = shared_array!(COMBINE_SUM: [f64; 32]);
    let (lane, wid) = (warp::lane_id(), warp::warp_id());
    if lane == 0 {
        sums.set(wid as usize, s);
    }
    gpu::sync_threads();
    if gpu::thread_idx().x == 0 {
        let mut t = 0.0;
        for w in 0..gpu::block_dim().x.div_ceil(32) as usize {
            t += sums.get(w);
        }
        if let Some((_, o)) = out.thread_elem() {
            *o = t;
        }
    }
}
