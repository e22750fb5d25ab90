//! Row normalisations over f32 and bf16 storage with f32 math, any row width (see
//! [`crate::rows`] for the launch shape): LayerNorm, RMSNorm, and residual-add + RMSNorm fused.
//! Weights and biases are optional: an empty slice means none (weight 1, bias 0); otherwise they
//! are `cols` long (a mismatch traps; the host checks first).
use crate::elem::Elem;
use crate::rows::{ColParam, Part, addr_of, cluster_rows, fold_all};
use gpukit_device::{
    self as gpu, Bf16, DynamicShared, OutSlice, Packets, async_copy, dynamic_shared, kernel, math,
};

/// Combine (count, mean, M2) triples (Chan et al.), symmetrically.
#[inline(always)]
fn chan(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    let n = a[0] + b[0];
    if n == 0.0 {
        return [0.0; 3];
    }
    let mean = (a[0] * a[1] + b[0] * b[1]) / n;
    let d = b[1] - a[1];
    [n, mean, (a[2] + b[2]) + d * d * (a[0] * b[0] / n)]
}

#[inline(always)]
fn layer_norm<E: Elem>(
    x: &[E],
    rows: u64,
    cols: u64,
    weight: &[E],
    bias: &[E],
    eps: f32,
    out: &mut OutSlice<E>,
) {
    let smem = dynamic_shared::<u32>();
    let (rows, cols) = (rows as usize, cols as usize);
    let (mut row, step) = cluster_rows();
    while row < rows {
        let part: Part<'_, E> = Part::new(x, row, cols, &[addr_of(out, row * cols)], &smem);
        part.stage(&smem);
        async_copy::wait_all();
        gpu::sync_threads();
        // This thread's mean, then its sum of squared deviations from it (two passes over its
        // own elements: no cancellation), then Chan's combination across threads and blocks.
        let (mut n, mut sum) = (0.0f32, 0.0f32);
        part.for_each(&smem, |_, v| {
            n += 1.0;
            sum += v;
        });
        let mean_t = if n > 0.0 { sum / n } else { 0.0 };
        let mut m2 = 0.0f32;
        part.for_each(&smem, |_, v| {
            let d = v - mean_t;
            m2 = math::fma(d, d, m2);
        });
        let [_, mean, m2] = fold_all([n, mean_t, m2], chan);
        let rstd = 1.0 / math::sqrt(m2 / cols as f32 + eps);
        let w = ColParam::new(weight, cols, part.head(), 1.0);
        let b = ColParam::new(bias, cols, part.head(), 0.0);
        write_affine(&part, &smem, out, &w, &b, |v| (v - mean) * rstd);
        gpu::sync_threads();
        row += step;
    }
}

/// Writes `norm(v) · w + b` for this thread's elements, reading w and b a packet at a time.
#[inline(always)]
fn write_affine<E: Elem>(
    part: &Part<'_, E>,
    smem: &DynamicShared<u32>,
    out: &mut OutSlice<E>,
    w: &ColParam<'_, E>,
    b: &ColParam<'_, E>,
    norm: impl Fn(f32) -> f32,
) {
    for q in part.my_packets() {
        let v = part.values(q, smem);
        let c = part.packet_col(q);
        let (wv, bv) = (w.packet(q, c), b.packet(q, c));
        let mut r = [0.0f32; 8];
        for k in 0..E::PER {
            r[k] = math::fma(norm(v[k]), wv[k], bv[k]);
        }
        part.store_packet(out, q, E::pack(r));
    }
    for c in part.my_scalars() {
        let y = math::fma(norm(part.value(c)), w.at(c), b.at(c));
        part.store(out, c, y);
    }
}

#[inline(always)]
fn rms_norm<E: Elem>(x: &[E], rows: u64, cols: u64, weight: &[E], eps: f32, out: &mut OutSlice<E>) {
    let smem = dynamic_shared::<u32>();
    let (rows, cols) = (rows as usize, cols as usize);
    let (mut row, step) = cluster_rows();
    while row < rows {
        let part: Part<'_, E> = Part::new(x, row, cols, &[addr_of(out, row * cols)], &smem);
        part.stage(&smem);
        async_copy::wait_all();
        gpu::sync_threads();
        let mut ss = 0.0f32;
        part.for_each(&smem, |_, v| ss = math::fma(v, v, ss));
        let [ss] = fold_all([ss], |a, b| [a[0] + b[0]]);
        let rstd = 1.0 / math::sqrt(ss / cols as f32 + eps);
        let w = ColParam::new(weight, cols, part.head(), 1.0);
        let none = ColParam::new(&[], cols, 0, 0.0);
        write_affine(&part, &smem, out, &w, &none, |v| v * rstd);
        gpu::sync_threads();
        row += step;
    }
}

/// `sum = x + residual` (rounded to the storage type, as an unfused add would), then
/// `out = rmsnorm(sum) · weight`. The sum is staged in shared memory through registers (it is
/// computed, not copied) and written out on the way.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn add_rms_norm<E: Elem>(
    x: &[E],
    residual: &[E],
    rows: u64,
    cols: u64,
    weight: &[E],
    eps: f32,
    out: &mut OutSlice<E>,
    sum: &mut OutSlice<E>,
) {
    let smem = dynamic_shared::<u32>();
    let (rows, cols) = (rows as usize, cols as usize);
    let (mut row, step) = cluster_rows();
    while row < rows {
        let start = row * cols;
        let r_row = &residual[start..start + cols];
        let others = [
            addr_of(out, start),
            addr_of(sum, start),
            r_row.as_ptr() as usize,
        ];
        let part: Part<'_, E> = Part::new(x, row, cols, &others, &smem);
        let r_body = Packets::new(&r_row[part.head().min(cols)..]);
        let r_packet = |q: usize| match &r_body {
            Some(b) => b.get(q),
            None => [0; 4],
        };
        let add = |xw: [u32; 4], rw: [u32; 4]| {
            let (xv, rv) = (E::unpack(xw), E::unpack(rw));
            let mut h = [0.0f32; 8];
            for k in 0..E::PER {
                h[k] = xv[k] + rv[k];
            }
            E::pack(h)
        };
        // Stage the sum (two packets' loads in flight per step) and accumulate Σ sum².
        let mut ss = 0.0f32;
        let (t, nt) = part.thread();
        let mut q = part.p0 + t;
        while q < part.p1 {
            let q2 = q + nt;
            let (x1, r1) = (part.global(q), r_packet(q));
            let second = (q2 < part.p1).then(|| (part.global(q2), r_packet(q2)));
            let mut one = |q: usize, h: [u32; 4]| {
                part.store_packet(sum, q, h);
                part.restage(q, &smem, h);
                for v in E::unpack(h).iter().take(E::PER) {
                    ss = math::fma(*v, *v, ss);
                }
            };
            one(q, add(x1, r1));
            if let Some((x2, r2)) = second {
                one(q2, add(x2, r2));
            }
            q += 2 * nt;
        }
        for c in part.my_scalars() {
            let h = E::from_f32(part.value(c) + r_row[c].to_f32()).to_f32();
            part.store(sum, c, h);
            ss = math::fma(h, h, ss);
        }
        let [ss] = fold_all([ss], |a, b| [a[0] + b[0]]);
        let rstd = 1.0 / math::sqrt(ss / cols as f32 + eps);
        let w = ColParam::new(weight, cols, part.head(), 1.0);
        for q in part.my_packets() {
            // Staged packets hold the sum; the others are recomputed from x and the residual.
            let hv = if part.is_staged(q) {
                part.values(q, &smem)
            } else {
                E::unpack(add(part.global(q), r_packet(q)))
            };
            let wv = w.packet(q, part.packet_col(q));
            let mut r = [0.0f32; 8];
            for k in 0..E::PER {
                r[k] = hv[k] * rstd * wv[k];
            }
            part.store_packet(out, q, E::pack(r));
        }
        for c in part.my_scalars() {
            let h = E::from_f32(part.value(c) + r_row[c].to_f32()).to_f32();
            part.store(out, c, h * rstd * w.at(c));
        }
        gpu::sync_threads();
        row += step;
    }
}

/// out = (x - mean) / sqrt(var + eps) · weight + bias per row (biased variance, as torch).
/// Row-engine launch (see `rows`); `weight`/`bias` empty or `cols` long.
#[kernel(same_len(x, out))]
pub fn layer_norm_f32(
    x: &[f32],
    rows: u64,
    cols: u64,
    weight: &[f32],
    bias: &[f32],
    eps: f32,
    mut out: OutSlice<f32>,
) {
    layer_norm(x, rows, cols, weight, bias, eps, &mut out);
}

/// LayerNorm over bf16 storage with f32 math, as [`layer_norm_f32`].
#[kernel(same_len(x, out))]
pub fn layer_norm_bf16(
    x: &[Bf16],
    rows: u64,
    cols: u64,
    weight: &[Bf16],
    bias: &[Bf16],
    eps: f32,
    mut out: OutSlice<Bf16>,
) {
    layer_norm(x, rows, cols, weight, bias, eps, &mut out);
}

/// out = x / sqrt(mean(x²) + eps) · weight per row. Row-engine launch; `weight` empty or
/// `cols` long.
#[kernel(same_len(x, out))]
pub fn rms_norm_f32(
    x: &[f32],
    rows: u64,
    cols: u64,
    weight: &[f32],
    eps: f32,
    mut out: OutSlice<f32>,
) {
    rms_norm(x, rows, cols, weight, eps, &mut out);
}

/// RMSNorm over bf16 storage with f32 math, as [`rms_norm_f32`].
#[kernel(same_len(x, out))]
pub fn rms_norm_bf16(
    x: &[Bf16],
    rows: u64,
    cols: u64,
    weight: &[Bf16],
    eps: f32,
    mut out: OutSlice<Bf16>,
) {
    rms_norm(x, rows, cols, weight, eps, &mut out);
}

/// sum = x + residual; out = rmsnorm(sum) · weight (the pre-norm transformer block's residual
/// stream). Row-engine launch.
#[kernel(same_len(x, residual, out, sum))]
pub fn add_rms_norm_f32(
    x: &[f32],
    residual: &[f32],
    rows: u64,
    cols: u64,
    weight: &[f32],
    eps: f32,
    mut out: OutSlice<f32>,
    mut sum: OutSlice<f32>,
) {
    add_rms_norm(x, residual, rows, cols, weight, eps, &mut out, &mut sum);
}

/// Residual add + RMSNorm over bf16 storage (the sum rounded to bf16), f32 math.
#[kernel(same_len(x, residual, out, sum))]
pub fn add_rms_norm_bf16(
    x: &[Bf16],
    residual: &[Bf16],
    rows: u64,
    cols: u64,
    weight: &[Bf16],
    eps: f32,
    mut out: OutSlice<Bf16>,
    mut sum: OutSlice<Bf16>,
) {
    add_rms_norm(x, residual, rows, cols, weight, eps, &mut out, &mut sum);
}
