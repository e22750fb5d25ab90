//! Row normalisations over f32 and bf16 storage with f32 math, any row width: LayerNorm, RMSNorm,
//! and residual-add + RMSNorm fused; one generic source per op and engine. Rows that fit in a
//! block's registers take the `*_short` kernels ([`ShortRow`]: the row read once into registers,
//! exact two-pass statistics from them, written once); other rows the general row engine
//! ([`crate::rows`]).
//! Weights and biases are optional: an empty slice means none (weight 1, bias 0); otherwise they
//! are `cols` long (a mismatch traps; the host checks first).
use crate::elem::Elem;
use crate::rows::{
    ColParam, Part, SHORT_HELD, ShortRow, addr_of, block_sum, cluster_rows, fold_all,
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
/// exact passes over the registers), then `(x - mean) · rstd · w + b`.
#[inline(always)]
fn layer_norm_short_body<E: Elem, const H: usize>(
    x: &[E],
    (rows, cols): (usize, usize),
    weight: &[E],
    bias: &[E],
    eps: f32,
    out: &mut OutSlice<E, Manual>,
) {
    let (w, b) = (
        ColParam::new(weight, cols, 0, 1.0),
        ColParam::new(bias, cols, 0, 0.0),
    );
    // Checked once, here, so that the loop has no scalar path for the parameters (the host
    // launches only aligned ones; otherwise nothing is written).
    if !(w.is_packed() && b.is_packed()) {
        return;
    }
    let (mut row, step) = (gpu::block_idx().x as usize, gpu::grid_dim().x as usize);
    while row < rows {
        let Some(r) = ShortRow::<H>::load(x, row, cols) else {
            return;
        };
        let mut sum = 0.0f32;
        r.for_each::<E>(|_, v| {
            for vk in v.iter().take(E::PER) {
                sum += *vk;
            }
        });
        let mean = block_sum(sum) / cols as f32;
        let mut m2 = 0.0f32;
        r.for_each::<E>(|_, v| {
            for vk in v.iter().take(E::PER) {
                let d = *vk - mean;
                m2 = math::fma(d, d, m2);
            }
        });
        let rstd = 1.0 / math::sqrt(block_sum(m2) / cols as f32 + eps);
        r.write(out, |i, v| {
            // Both loads issued before either is unpacked: one round trip per packet.
            let (wp, bp) = (r.param(&w, i), r.param(&b, i));
            let (wv, bv) = (E::unpack(wp), E::unpack(bp));
            let mut y = [0.0f32; 8];
            for k in 0..E::PER {
                y[k] = math::fma((v[k] - mean) * rstd, wv[k], bv[k]);
            }
            y
        });
        row += step;
    }
}

/// Shared-memory buffers of [`layer_norm_short`]: the row being normalised and the next
/// `PREFETCH_BUFFERS - 1` rows of the same block in flight (`cp.async`).
pub const PREFETCH_BUFFERS: usize = 3;

/// LayerNorm of rows held in registers, each block looping over rows `block, block + grid, ..`
/// with its next `W` rows copied into shared memory (`cp.async`, no registers) while it reduces
/// and writes the current one, so a block always has loads in flight; its dynamic shared memory
/// holds `W + 1` buffers of `H · threads` packets, each thread copying and reading only its own
/// packets (no barrier for the data; a buffer is refilled one iteration after it was read, past
/// that iteration's block-sum barriers). For rows of whole aligned packets, all of them held, and
/// aligned parameters (the host checks; otherwise nothing is written).
#[inline(always)]
fn layer_norm_prefetch_body<E: Elem, const H: usize, const W: u32>(
    x: &[E],
    (rows, cols): (usize, usize),
    weight: &[E],
    bias: &[E],
    eps: f32,
    out: &mut OutSlice<E, Manual>,
) {
    let (w, b) = (
        ColParam::new(weight, cols, 0, 1.0),
        ColParam::new(bias, cols, 0, 0.0),
    );
    let bufs = W as usize + 1;
    let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
    let n = cols * core::mem::size_of::<E>() / 16;
    let smem = dynamic_shared::<u32>();
    let whole = Packets::new(x).is_some_and(|p| p.tail().is_empty())
        && (cols * core::mem::size_of::<E>()).is_multiple_of(16);
    if !(whole
        && w.is_packed()
        && b.is_packed()
        && n <= H * nt
        && smem.bytes() >= bufs * H * nt * 16)
    {
        return;
    }
    let slot = |buf: usize, i: usize| (buf * H + i) * nt + t;
    let (base, buf_bytes) = (smem.shared_addr() + (t * 16) as u32, (H * nt * 16) as u32);
    let fetch = |row: usize, buf: usize| {
        if row < rows {
            let src = x[row * cols..].as_ptr() as *const u8;
            let dst = base + buf as u32 * buf_bytes;
            gpu::unroll::each::<H>(|i| {
                let q = t + i * nt;
                if q < n {
                    // SAFETY: `dst` and the offset stay inside this thread's slot `i` of buffer
                    // `buf`, within the dynamic shared memory (its size checked above); the
                    // source is packet `q < n` of row `row < rows`, 16 readable, aligned bytes
                    // of `x` (whole aligned packets checked above), which nothing writes.
                    unsafe {
                        async_copy::cp_async_16(
                            dst + (i * nt * 16) as u32,
                            src.wrapping_add(q * 16),
                            16,
                        )
                    };
                }
            });
        }
        // One group per row, empty past the end, so that `wait_group::<W>` counts rows.
        async_copy::commit();
    };
    let (first, step) = (gpu::block_idx().x as usize, gpu::grid_dim().x as usize);
    for k in 0..W as usize {
        fetch(first + k * step, k);
    }
    let (mut row, mut buf) = (first, 0usize);
    while row < rows {
        fetch(row + W as usize * step, (buf + W as usize) % bufs);
        async_copy::wait_group::<W>();
        // Each pass reads the row from shared memory again (nothing held across the block
        // sums: held, the row's 16 registers made this kernel spill at the 64-register cap).
        let words = || {
            gpu::unroll::array::<[u32; 4], H>(|i| {
                if t + i * nt < n {
                    smem.load_packet(slot(buf, i))
                } else {
                    [0; 4]
                }
            })
        };
        layer_norm_held(row, cols, words, &w, &b, eps, out);
        row += step;
        buf = (buf + 1) % bufs;
    }
}

/// One row of LayerNorm from this thread's packets (`words()`, asked for once per pass): mean,
/// then the sum of squared deviations from it (two exact passes), then `(x - mean) · rstd · w +
/// b`; two block sums.
#[inline(always)]
fn layer_norm_held<E: Elem, const H: usize>(
    row: usize,
    cols: usize,
    words: impl Fn() -> [[u32; 4]; H],
    w: &ColParam<'_, E>,
    b: &ColParam<'_, E>,
    eps: f32,
    out: &mut OutSlice<E, Manual>,
) {
    let r = || ShortRow::<H>::from_words::<E>(words(), row, cols);
    let mut sum = 0.0f32;
    r().for_each::<E>(|_, v| {
        for vk in v.iter().take(E::PER) {
            sum += *vk;
        }
    });
    let mean = block_sum(sum) / cols as f32;
    let mut m2 = 0.0f32;
    r().for_each::<E>(|_, v| {
        for vk in v.iter().take(E::PER) {
            let d = *vk - mean;
            m2 = math::fma(d, d, m2);
        }
    });
    let rstd = 1.0 / math::sqrt(block_sum(m2) / cols as f32 + eps);
    let r = r();
    r.write(out, |i, v| {
        // Both loads issued before either is unpacked: one round trip per packet.
        let (wp, bp) = (r.param(w, i), r.param(b, i));
        let (wv, bv) = (E::unpack(wp), E::unpack(bp));
        let mut y = [0.0f32; 8];
        for k in 0..E::PER {
            y[k] = math::fma((v[k] - mean) * rstd, wv[k], bv[k]);
        }
        y
    });
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

/// LayerNorm of rows held in registers ([`SHORT_HELD`] packets per thread; see [`ShortRow`] for
/// what the host checks; `weight` and `bias` empty or 16-byte aligned, which the host checks too:
/// otherwise the kernel writes nothing), as [`layer_norm_rows`], the block's next rows
/// prefetched into [`PREFETCH_BUFFERS`] shared buffers of `SHORT_HELD · threads` packets (the
/// launch's dynamic shared memory; grid = the resident blocks). `launch_bounds(512, 2)` caps it
/// at 64 registers: the bf16 instance took 90 without the cap (five resident 128-thread blocks
/// instead of eight).
#[kernel(same_len(x, out), instances(f32, Bf16), launch_bounds(512, 1))]
pub fn layer_norm_short<T: Elem>(
    x: &[T],
    rows: u64,
    cols: u64,
    weight: &[T],
    bias: &[T],
    eps: f32,
    mut out: OutSlice<T, Manual>,
) {
    const W: u32 = PREFETCH_BUFFERS as u32 - 1;
    let dims = (rows as usize, cols as usize);
    layer_norm_prefetch_body::<T, SHORT_HELD, W>(x, dims, weight, bias, eps, &mut out);
}

/// DEV (norm8 a/b): main's `layer_norm_short` (each block loads its row into registers itself;
/// grid = rows).
#[kernel(same_len(x, out), instances(f32, Bf16), launch_bounds(512, 2))]
pub fn layer_norm_short_held<T: Elem>(
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

/// DEV (norm8 a/b): the prefetching kernel capped at 64 registers (spills).
#[kernel(same_len(x, out), instances(f32, Bf16), launch_bounds(512, 2))]
pub fn layer_norm_short_pf64<T: Elem>(
    x: &[T],
    rows: u64,
    cols: u64,
    weight: &[T],
    bias: &[T],
    eps: f32,
    mut out: OutSlice<T, Manual>,
) {
    let dims = (rows as usize, cols as usize);
    layer_norm_prefetch_body::<T, SHORT_HELD, 2>(x, dims, weight, bias, eps, &mut out);
}

/// DEV (norm8 a/b): the prefetching kernel capped at 80 registers (blocks of at most 256).
#[kernel(same_len(x, out), instances(f32, Bf16), launch_bounds(256, 3))]
pub fn layer_norm_short_pf80<T: Elem>(
    x: &[T],
    rows: u64,
    cols: u64,
    weight: &[T],
    bias: &[T],
    eps: f32,
    mut out: OutSlice<T, Manual>,
) {
    let dims = (rows as usize, cols as usize);
    layer_norm_prefetch_body::<T, SHORT_HELD, 2>(x, dims, weight, bias, eps, &mut out);
}

/// DEV (norm8 a/b): the prefetching kernel with one row in flight (two buffers).
#[kernel(same_len(x, out), instances(f32, Bf16), launch_bounds(512, 1))]
pub fn layer_norm_short_pf1<T: Elem>(
    x: &[T],
    rows: u64,
    cols: u64,
    weight: &[T],
    bias: &[T],
    eps: f32,
    mut out: OutSlice<T, Manual>,
) {
    let dims = (rows as usize, cols as usize);
    layer_norm_prefetch_body::<T, SHORT_HELD, 1>(x, dims, weight, bias, eps, &mut out);
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
