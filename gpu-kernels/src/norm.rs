//! Row normalisations over f32 and bf16 storage with f32 math, any row width: LayerNorm, RMSNorm,
//! and residual-add + RMSNorm fused; one generic source per op and engine. Rows that fit in a
//! block's registers take the `*_short` kernels ([`ShortRow`]: the row read once into registers,
//! exact two-pass statistics from them, written once); other rows the general row engine
//! ([`crate::rows`]).
//! Weights and biases are optional: an empty slice means none (weight 1, bias 0); otherwise they
//! are `cols` long (a mismatch traps; the host checks first).
use crate::elem::Elem;
use crate::rows::{
    AlternatingSums, ColParam, Part, SHORT_HELD, ShortRow, addr_of, block_sum, cluster_rows,
    fold_all,
};
use gpukit_device::{
    self as gpu, DynamicShared, Manual, OutSlice, Packets, async_copy, dynamic_shared, kernel, math,
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
fn layer_norm_body<E: Elem>(
    x: &[E],
    rows: u64,
    cols: u64,
    weight: &[E],
    bias: &[E],
    eps: f32,
    out: &mut OutSlice<E, Manual>,
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
    out: &mut OutSlice<E, Manual>,
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
fn rms_norm_body<E: Elem>(
    x: &[E],
    rows: u64,
    cols: u64,
    weight: &[E],
    eps: f32,
    out: &mut OutSlice<E, Manual>,
) {
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
fn add_rms_norm_body<E: Elem>(
    x: &[E],
    residual: &[E],
    rows: u64,
    cols: u64,
    weight: &[E],
    eps: f32,
    out: &mut OutSlice<E, Manual>,
    sum: &mut OutSlice<E, Manual>,
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

/// LayerNorm of rows held in registers: mean, then the sum of squared deviations from it (two
/// exact passes over the registers), then `(x - mean) · rstd · w + b`. Written for few
/// instructions per element (the kernel is issue-bound: round 10 in docs/TUNING.md): one loop
/// per combination of present parameters (no per-packet defaults), one bounds check per packet
/// for its loads and its store (the output claimed once per launch), block sums with one
/// barrier each, and `1 / cols` and `rsqrt` instead of divisions.
#[inline(always)]
fn layer_norm_short_body<E: Elem, const H: usize>(
    x: &[E],
    dims: (usize, usize),
    weight: &[E],
    bias: &[E],
    eps: f32,
    out: &mut OutSlice<E, Manual>,
) {
    let cols = dims.1;
    let (Ok(w), Ok(b)) = (col_packets(weight, cols), col_packets(bias, cols)) else {
        return;
    };
    let rows = LnRows { x, dims, eps };
    match (w, b) {
        (Some(wp), Some(bp)) => rows.run::<H>(out, [w, b], |q, v| {
            // Both loads issued before either is unpacked: one round trip per packet.
            let (wv, bv) = (E::unpack(wp.get(q)), E::unpack(bp.get(q)));
            gpu::unroll::array(|k| math::fma(v[k], wv[k], bv[k]))
        }),
        (Some(wp), None) => rows.run::<H>(out, [w, b], |q, v| {
            let wv = E::unpack(wp.get(q));
            gpu::unroll::array(|k| v[k] * wv[k])
        }),
        (None, Some(bp)) => rows.run::<H>(out, [w, b], |q, v| {
            let bv = E::unpack(bp.get(q));
            gpu::unroll::array(|k| v[k] + bv[k])
        }),
        (None, None) => rows.run::<H>(out, [w, b], |_, v| v),
    }
}

/// A per-column parameter as packets of exactly `cols` elements (so that its bounds check is
/// the row's), `None` when absent (empty); `Err` when misaligned (the host launches only aligned
/// ones; the kernel then writes nothing, and its loop needs no scalar path). A length other
/// than `cols` traps.
#[inline(always)]
fn col_packets<E: Elem>(v: &[E], cols: usize) -> Result<Option<Packets<'_, E>>, ()> {
    if v.is_empty() {
        return Ok(None);
    }
    assert!(v.len() == cols, "parameter length != cols");
    Packets::new(&v[..cols]).map(Some).ok_or(())
}

/// The rows of a `layer_norm_short` launch.
struct LnRows<'a, E: Elem> {
    x: &'a [E],
    dims: (usize, usize),
    eps: f32,
}

impl<E: Elem> LnRows<'_, E> {
    /// Normalises this block's rows, held as [`ShortRow`] holds them (packets `t, t + threads,
    /// ..`, 32-bit packet indices); `affine(q, n)` maps packet `q`'s normalised values
    /// `n = (x - mean) · rstd` to the output's.
    #[inline(always)]
    fn run<const H: usize>(
        &self,
        out: &mut OutSlice<E, Manual>,
        params: [Option<Packets<'_, E>>; 2],
        affine: impl Fn(usize, [f32; 8]) -> [f32; 8],
    ) {
        let (rows, cols) = self.dims;
        // Every array's packets are checked against `n` once, so that a slot's one check
        // (`q < n`) covers its loads and its store.
        let n = cols / E::PER;
        if params.iter().flatten().any(|p| p.len() < n) {
            return;
        }
        // The whole output claimed once, as `rows` rows of `n` packets.
        // SAFETY: row `r` belongs to block `r mod grid`, and packet `q` of it to the thread
        // whose slot holds it (below): the launch's threads store disjoint packets.
        let Some(mut o) = (unsafe { out.claim_packet_rows_mut(rows, n) }) else {
            return;
        };
        let inv_cols = 1.0 / cols as f32;
        let sums = AlternatingSums::declare();
        let (t, nt) = (gpu::thread_idx().x, gpu::block_dim().x);
        let mut row = gpu::block_idx().x as usize;
        while row < rows {
            let r = gpu::opaque_usize(row);
            let start = r * cols;
            let Some(body) = Packets::new(&self.x[start..start + cols]) else {
                return;
            };
            if body.len() != n || !body.tail().is_empty() {
                return;
            }
            let t = gpu::opaque_u32(t);
            let slot = |i: usize| {
                let q = (t + i as u32 * nt) as usize;
                (q < n).then_some(q)
            };
            let held: [[u32; 4]; H] = gpu::unroll::array(|i| match slot(i) {
                Some(q) => body.get(q),
                None => [0; 4],
            });
            // Slots past the row's end hold zeros: they add nothing, so no slot check here.
            let mut sum = -0.0f32;
            for w in &held {
                for vk in E::unpack(*w).iter().take(E::PER) {
                    sum += *vk;
                }
            }
            // `S / cols` as `S · (1 / cols)` and one correction step (the division's rounding
            // but for rare ties; a power-of-two width is exact in the first product).
            let total = sums.sum::<0>(sum);
            let q0 = total * inv_cols;
            let mean = math::fma(math::fma(-q0, cols as f32, total), inv_cols, q0);
            // Each slot's squares summed on their own, then the slots' sums if they exist.
            let mut m2 = -0.0f32;
            gpu::unroll::each::<H>(|i| {
                let mut s = -0.0f32;
                for vk in E::unpack(held[i]).iter().take(E::PER) {
                    let d = *vk - mean;
                    s = math::fma(d, d, s);
                }
                m2 += if slot(i).is_some() { s } else { 0.0 };
            });
            let rstd = math::rsqrt_fast(math::fma(sums.sum::<1>(m2), inv_cols, self.eps));
            let mut o_row = o.row(r);
            if o_row.len() != n {
                return;
            }
            gpu::unroll::each::<H>(|i| {
                if let Some(q) = slot(i) {
                    let v = E::unpack(held[i]);
                    let nv = gpu::unroll::array(|k| (v[k] - mean) * rstd);
                    o_row.set(q, E::pack(affine(q, nv)));
                }
            });
            row += gpu::grid_dim_x_here() as usize;
        }
    }
}

/// RMSNorm of rows held in registers.
#[inline(always)]
fn rms_norm_short_body<E: Elem, const H: usize>(
    x: &[E],
    (rows, cols): (usize, usize),
    weight: &[E],
    eps: f32,
    out: &mut OutSlice<E, Manual>,
) {
    let w = ColParam::new(weight, cols, 0, 1.0);
    let (mut row, step) = (gpu::block_idx().x as usize, gpu::grid_dim().x as usize);
    while row < rows {
        let Some(r) = ShortRow::<H>::load(x, row, cols) else {
            return;
        };
        let mut ss = 0.0f32;
        r.for_each::<E>(|_, v| {
            for vk in v.iter().take(E::PER) {
                ss = math::fma(*vk, *vk, ss);
            }
        });
        let rstd = 1.0 / math::sqrt(block_sum(ss) / cols as f32 + eps);
        r.write(out, |i, v| {
            let q = r.packet_of(i);
            let wv = w.packet(q, q * E::PER);
            let mut y = [0.0f32; 8];
            for k in 0..E::PER {
                y[k] = math::fma(v[k] * rstd, wv[k], 0.0);
            }
            y
        });
        row += step;
    }
}

/// LayerNorm of rows held in registers ([`SHORT_HELD`] packets per thread, one block per row;
/// see [`ShortRow`] for what the host checks; `weight` and `bias` empty or 16-byte aligned,
/// which the host checks too: otherwise the kernel writes nothing), as [`layer_norm_rows`].
/// `launch_bounds(512, 2)` caps it at 64 registers: the bf16 instance took 90 without the cap
/// (five resident 128-thread blocks instead of eight).
#[kernel(same_len(x, out), instances(f32, Bf16), launch_bounds(512, 2))]
pub fn layer_norm_short<T: Elem>(
    x: &[T],
    rows: u64,
    cols: u64,
    weight: &[T],
    bias: &[T],
    eps: f32,
    mut out: OutSlice<T, Manual>,
) {
    let dims = (rows as usize, cols as usize);
    layer_norm_short_body::<T, SHORT_HELD>(x, dims, weight, bias, eps, &mut out);
}

/// RMSNorm of rows held in registers, as [`rms_norm_rows`].
#[kernel(same_len(x, out), instances(f32, Bf16), launch_bounds(512))]
pub fn rms_norm_short<T: Elem>(
    x: &[T],
    rows: u64,
    cols: u64,
    weight: &[T],
    eps: f32,
    mut out: OutSlice<T, Manual>,
) {
    rms_norm_short_body::<T, SHORT_HELD>(x, (rows as usize, cols as usize), weight, eps, &mut out);
}

/// out = (x - mean) / sqrt(var + eps) · weight + bias per row (biased variance, as torch), f32
/// math over f32 or bf16 storage, any width. Row-engine launch (see `rows`); `weight`/`bias`
/// empty or `cols` long.
#[kernel(same_len(x, out), instances(f32, Bf16))]
pub fn layer_norm_rows<T: Elem>(
    x: &[T],
    rows: u64,
    cols: u64,
    weight: &[T],
    bias: &[T],
    eps: f32,
    mut out: OutSlice<T, Manual>,
) {
    layer_norm_body(x, rows, cols, weight, bias, eps, &mut out);
}

/// out = x / sqrt(mean(x²) + eps) · weight per row, f32 math over f32 or bf16 storage, any
/// width. Row-engine launch; `weight` empty or `cols` long.
#[kernel(same_len(x, out), instances(f32, Bf16))]
pub fn rms_norm_rows<T: Elem>(
    x: &[T],
    rows: u64,
    cols: u64,
    weight: &[T],
    eps: f32,
    mut out: OutSlice<T, Manual>,
) {
    rms_norm_body(x, rows, cols, weight, eps, &mut out);
}

/// sum = x + residual (rounded to the storage type); out = rmsnorm(sum) · weight (the pre-norm
/// transformer block's residual stream), f32 math over f32 or bf16 storage. Row-engine launch.
#[kernel(same_len(x, residual, out, sum), instances(f32, Bf16))]
pub fn add_rms_norm_rows<T: Elem>(
    x: &[T],
    residual: &[T],
    rows: u64,
    cols: u64,
    weight: &[T],
    eps: f32,
    mut out: OutSlice<T, Manual>,
    mut sum: OutSlice<T, Manual>,
) {
    add_rms_norm_body(x, residual, rows, cols, weight, eps, &mut out, &mut sum);
}
