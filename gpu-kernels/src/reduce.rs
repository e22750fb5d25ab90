//! Reductions: a grid-stride pass writes one partial per block (16-byte loads, four independent
//! accumulators per thread). Sums, sums of squares and dot products finish in the same launch:
//! the last block to finish (an acquire-release ticket) combines the partials in f64, so a
//! total costs one kernel, not two. They are generic over the element type (f32: f32 per
//! thread, the block's partial in f64; f64: f64 throughout); extrema and argmax are f32 and
//! leave their partials to the host.
use gpukit_device::atomic::{Ordering, Scope};
use gpukit_device::{
    self as gpu, Atomic, BlockRows, Chunks, Element, OutSlice, block, kernel, shared_array, warp,
};

/// Element types the sums and dot products accumulate in, per thread.
pub trait Accumulate: Element + Default + core::ops::Add<Output = Self> {
    /// `a * b + c`, rounded once.
    fn fma(a: Self, b: Self, c: Self) -> Self;
    /// The sum of `v` over the block, in f64, valid in thread 0.
    fn block_sum(v: Self) -> f64;
}

impl Accumulate for f32 {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        gpu::math::fma(a, b, c)
    }
    #[inline(always)]
    fn block_sum(v: f32) -> f64 {
        block::reduce_sum_f32(v) as f64
    }
}

impl Accumulate for f64 {
    #[inline(always)]
    fn fma(a: f64, b: f64, c: f64) -> f64 {
        gpu::math::fma_f64(a, b, c)
    }
    #[inline(always)]
    fn block_sum(v: f64) -> f64 {
        block_sum_f64(v)
    }
}

/// Fold this thread's grid-stride share of `x` into four independent accumulators (two 16-byte
/// loads in flight per iteration; lane `k` of a chunk goes to accumulator `k % 4`), then combine
/// them. Falls back to scalar loads when `x` does not start 16-byte aligned.
#[inline(always)]
fn fold<T: Element, A: Copy>(
    x: &[T],
    init: A,
    f: impl Fn(A, T) -> A,
    combine: impl Fn(A, A) -> A,
) -> A {
    let (id, step) = (gpu::global_id_x(), gpu::grid_linear_threads());
    let mut acc = [init; 4];
    match Chunks::new(x) {
        Some(q) => {
            let mut i = id;
            while i + step < q.len() {
                let (u, v) = (q.get(i), q.get(i + step));
                for k in 0..T::LANES {
                    acc[k % 4] = f(f(acc[k % 4], u[k]), v[k]);
                }
                i += 2 * step;
            }
            if i < q.len() {
                let u = q.get(i);
                for k in 0..T::LANES {
                    acc[k % 4] = f(acc[k % 4], u[k]);
                }
            }
            if id < q.tail().len() {
                acc[0] = f(acc[0], q.tail()[id]);
            }
        }
        None => {
            let mut i = id;
            while i < x.len() {
                acc[0] = f(acc[0], x[i]);
                i += step;
            }
        }
    }
    combine(combine(acc[0], acc[1]), combine(acc[2], acc[3]))
}

/// Thread 0 of block `b` writes the block's partial to `partials[b]` (element `b` is block
/// `b`'s one-element row).
#[inline(always)]
fn write_partial<T: Element>(partials: &mut OutSlice<T, BlockRows>, v: T) {
    if let Some(mut row) = partials.block_row()
        && let Some(mut c) = row.chunk(0)
    {
        c.set(0, v);
    }
}

/// Where a total goes: one f64 partial per block, the ticket that finds the last block (zero
/// before the launch; the last block sets it back to zero), and the total.
struct TotalOut<'a> {
    partials: &'a mut OutSlice<f64, Atomic>,
    ticket: &'a mut OutSlice<u32, Atomic>,
    total: &'a mut OutSlice<f64, Atomic>,
}

/// Block `b`'s partial `v` (valid in thread 0) goes to `partials[b]`; the block that takes the
/// last ticket sums all partials in f64 (thread i adds partials i, i + block, ..., then a block
/// reduction: the same order whichever block is last, so the result is deterministic), writes
/// `total[0]` and resets the ticket for the next launch.
#[inline(always)]
fn finish_total(v: f64, o: TotalOut<'_>) {
    let last = shared_array!(TOTAL_LAST: [u32; 1]);
    let (b, grid) = (gpu::block_idx().x as usize, gpu::grid_dim().x as usize);
    let partials = o.partials.atomic();
    let ticket = o.ticket.atomic();
    if gpu::thread_idx().x == 0 {
        partials.store(b, v, Scope::Device, Ordering::Relaxed);
        // Release: this block's partial is visible to whoever takes a later ticket; acquire:
        // the last block sees every earlier block's partial.
        let t = ticket.fetch_add(0, 1, Scope::Device, Ordering::AcqRel);
        last.set(0, (t as usize + 1 == grid) as u32);
    }
    gpu::sync_threads();
    if last.get(0) != 0 {
        let mut s = 0.0f64;
        let mut i = gpu::thread_idx().x as usize;
        while i < grid {
            s += partials.load(i, Scope::Device, Ordering::Acquire);
            i += gpu::block_dim().x as usize;
        }
        let s = block_sum_f64(s);
        if gpu::thread_idx().x == 0 {
            o.total
                .atomic()
                .store(0, s, Scope::Device, Ordering::Relaxed);
            ticket.store(0, 0, Scope::Device, Ordering::Relaxed);
        }
    }
}

/// total[0] = Σ x (f32: accumulated in f32 per thread, blocks combined in f64). `partials`
/// holds one element per block, `ticket` is zero (and is left zero).
#[kernel(grid_stride, elements = x, bytes_per_thread = 64, instances(f32, f64))]
pub fn sum_total<T: Accumulate>(
    x: &[T],
    mut partials: OutSlice<f64, Atomic>,
    mut ticket: OutSlice<u32, Atomic>,
    mut total: OutSlice<f64, Atomic>,
) {
    let s = fold(x, T::default(), |a, v| a + v, |a, b| a + b);
    let o = TotalOut {
        partials: &mut partials,
        ticket: &mut ticket,
        total: &mut total,
    };
    finish_total(T::block_sum(s), o);
}

/// total[0] = Σ x² (for the L2 norm), as [`sum_total`].
#[kernel(grid_stride, elements = x, items_per_thread = 16)]
pub fn sumsq_total_f32(
    x: &[f32],
    mut partials: OutSlice<f64, Atomic>,
    mut ticket: OutSlice<u32, Atomic>,
    mut total: OutSlice<f64, Atomic>,
) {
    let s = fold(x, 0.0f32, |a, v| gpu::math::fma(v, v, a), |a, b| a + b);
    let o = TotalOut {
        partials: &mut partials,
        ticket: &mut ticket,
        total: &mut total,
    };
    finish_total(block::reduce_sum_f32(s) as f64, o);
}

/// total[0] = x · y (FMA accumulation in `T` per thread, blocks combined in f64), as
/// [`sum_total`].
#[kernel(grid_stride, same_len(x, y), elements = x, bytes_per_thread = 64, instances(f32, f64))]
pub fn dot_total<T: Accumulate>(
    x: &[T],
    y: &[T],
    mut partials: OutSlice<f64, Atomic>,
    mut ticket: OutSlice<u32, Atomic>,
    mut total: OutSlice<f64, Atomic>,
) {
    let (id, step) = (gpu::global_id_x(), gpu::grid_linear_threads());
    let mut acc = [T::default(); 4];
    match (Chunks::new(x), Chunks::new(y)) {
        (Some(qx), Some(qy)) => {
            let mut i = id;
            while i + step < qx.len() {
                let (u0, v0, u1, v1) = (qx.get(i), qy.get(i), qx.get(i + step), qy.get(i + step));
                for k in 0..T::LANES {
                    acc[k % 4] = T::fma(u1[k], v1[k], T::fma(u0[k], v0[k], acc[k % 4]));
                }
                i += 2 * step;
            }
            if i < qx.len() {
                let (u, v) = (qx.get(i), qy.get(i));
                for k in 0..T::LANES {
                    acc[k % 4] = T::fma(u[k], v[k], acc[k % 4]);
                }
            }
            if id < qx.tail().len() {
                acc[0] = T::fma(qx.tail()[id], qy.tail()[id], acc[0]);
            }
        }
        _ => {
            let mut i = id;
            while i < x.len() {
                acc[0] = T::fma(x[i], y[i], acc[0]);
                i += step;
            }
        }
    }
    let s = T::block_sum((acc[0] + acc[1]) + (acc[2] + acc[3]));
    let o = TotalOut {
        partials: &mut partials,
        ticket: &mut ticket,
        total: &mut total,
    };
    finish_total(s, o);
}

#[inline(always)]
fn thread_extreme(x: &[f32], init: f32, pick: impl Fn(f32, f32) -> f32 + Copy) -> f32 {
    fold(x, init, pick, pick)
}

/// partials[b] = maximum of the elements block `b` visits (NaNs are ignored, as `f32::max`).
#[kernel(grid_stride, elements = x, items_per_thread = 16)]
pub fn max_partials_f32(x: &[f32], mut partials: OutSlice<f32, BlockRows<1>>) {
    let m = block::reduce_max_f32(thread_extreme(x, f32::NEG_INFINITY, f32::max));
    write_partial(&mut partials, m);
}

/// partials[b] = minimum of the elements block `b` visits (NaNs are ignored, as `f32::min`).
#[kernel(grid_stride, elements = x, items_per_thread = 16)]
pub fn min_partials_f32(x: &[f32], mut partials: OutSlice<f32, BlockRows<1>>) {
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
    mut partial_values: OutSlice<f32, BlockRows<1>>,
    mut partial_indices: OutSlice<u32, BlockRows<1>>,
) {
    let n = x.len();
    let (mut bv, mut bi) = (f32::NEG_INFINITY, u32::MAX);
    let (id, step) = (gpu::global_id_x(), gpu::grid_linear_threads());
    let mut visit = |v: f32, i: usize| {
        if better(v, i as u32, bv, bi) {
            bv = v;
            bi = i as u32;
        }
    };
    match Chunks::new(x) {
        Some(q) => {
            // 16-byte loads, two in flight; indices ascend within a thread, so ties keep the
            // first index.
            let mut j = id;
            while j + step < q.len() {
                let (u, w) = (q.get(j), q.get(j + step));
                for k in 0..4 {
                    visit(u[k], j * 4 + k);
                }
                for k in 0..4 {
                    visit(w[k], (j + step) * 4 + k);
                }
                j += 2 * step;
            }
            if j < q.len() {
                let u = q.get(j);
                for k in 0..4 {
                    visit(u[k], j * 4 + k);
                }
            }
            if id < q.tail().len() {
                visit(q.tail()[id], q.len() * 4 + id);
            }
        }
        None => {
            let mut i = id;
            while i < n {
                visit(x[i], i);
                i += step;
            }
        }
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

/// Sum over the warp in f64 (each shuffle moves the two 32-bit halves); every lane gets it.
#[inline(always)]
fn warp_sum_f64(mut s: f64) -> f64 {
    let mut m = 16;
    while m > 0 {
        let bits = s.to_bits();
        let lo = warp::shfl_xor_u32(bits as u32, m);
        let hi = warp::shfl_xor_u32((bits >> 32) as u32, m);
        s += f64::from_bits(((hi as u64) << 32) | lo as u64);
        m >>= 1;
    }
    s
}

/// Sum over the block in f64; thread 0 gets the result (other threads get a partial).
#[inline(always)]
fn block_sum_f64(v: f64) -> f64 {
    let sums = shared_array!(BLOCK_SUM_F64: [f64; 32]);
    let s = warp_sum_f64(v);
    let (lane, wid) = (warp::lane_id() as usize, warp::warp_id() as usize);
    if lane == 0 {
        sums.set(wid, s);
    }
    gpu::sync_threads();
    let mut t = 0.0;
    if gpu::thread_idx().x == 0 {
        for w in 0..gpu::block_dim().x.div_ceil(32) as usize {
            t += sums.get(w);
        }
    }
    t
}
