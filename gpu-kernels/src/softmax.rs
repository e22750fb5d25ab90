//! Row-wise softmax and log-softmax over f32 and bf16 storage with f32 math, any row width: one
//! generic source per op and engine, instantiated for the storage types.
//!
//! Rows that fit in a block's registers (aligned, whole packets, at most `SHORT_HELD ·
//! SHORT_THREADS_MAX` packets) take [`softmax_short`]: load the row, block max `M`, `e = e^(x - M)` and the block sum `S`, write
//! `e / S` or `(x - M) - ln S`. Longer aligned rows of whole packets take [`softmax_split`]
//! ([`Split`]: each row over a cluster, every block's share in shared memory, the next row's
//! share loading meanwhile; the blocks' `(M_b, S_b)` pairs merged through distributed shared
//! memory) or [`softmax_reread`] ([`Wide`]: each row over ordinary blocks holding nothing, the
//! slice streamed for the pair, the pairs exchanged through global memory, then the slice
//! re-read, from L2, to write it) or [`softmax_held`] ([`Held`]: the same split over ordinary
//! blocks, each slice held in a shared-memory ring filled by bulk copies while the pairs are
//! exchanged);
//! the host picks whichever measured faster for the type and op. Other rows take the general row engine ([`crate::rows`]: staged
//! in shared memory, long rows split over a cluster). Per row there: stage, thread maxima `m_t`, thread sums `s_t = Σ e^(x - m_t)` (f32 softmax keeps
//! those exponentials in shared memory), fold `(m, s)` pairs over the block and the cluster into
//! the row's `(M, S)`, then write `e^(x - m_t) · (e^(m_t - M) / S)` or `(x - M) - ln S`. One
//! `math::exp_sfu` (≤ 2 ulp, seven instructions) per element and pass for f32 in every engine
//! (the register kernel computes it twice, the others once; the re-read kernels' first pass,
//! which only sums, takes `math::exp_fast`, and their second `math::exp_sfu_nonpos`), the 16-bit
//! one for bf16. A row with a NaN gives NaN everywhere, a row of -inf NaN (as torch).
use crate::elem::Elem;
use crate::held::Held;
use crate::rows::{
    Part, SHORT_HELD, ShortRow, Split, Wide, WideItem, addr_of, block_max_nan, block_sum,
    cluster_rows, fold_all,
};
use gpukit_device::{
    self as gpu, Atomic, Manual, OutSlice, async_copy, cluster_reduce::Run, dynamic_shared, kernel,
    math,
};

/// What a softmax kernel writes: the probabilities `e^(x - M) / S` or their logarithms
/// `(x - M) - ln S`. Every engine has one body for both.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Probabilities,
    LogProbabilities,
}

/// Combine two (max, Σ e^(x - max)) pairs, symmetrically (bit-identical either way round).
#[inline(always)]
fn merge(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    let m = math::max_nan(a[0], b[0]);
    if m == f32::NEG_INFINITY {
        return [m, 0.0];
    }
    [m, a[1] * math::exp(a[0] - m) + b[1] * math::exp(b[0] - m)]
}

#[inline(always)]
fn softmax_rows_body<E: Elem>(
    a: &[E],
    rows: u64,
    cols: u64,
    out: &mut OutSlice<E, Manual>,
    output: Output,
) {
    let smem = dynamic_shared::<u32>();
    let (rows, cols) = (rows as usize, cols as usize);
    // f32 softmax keeps e^(x - m_t) of its staged packets in shared memory.
    let keep = E::PER == 4 && output == Output::Probabilities;
    let (mut row, step) = cluster_rows();
    while row < rows {
        let part: Part<'_, E> = Part::new(a, row, cols, &[addr_of(out, row * cols)], &smem);
        part.stage(&smem);
        async_copy::wait_all();
        gpu::sync_threads();
        let mut m = f32::NEG_INFINITY;
        part.for_each(&smem, |_, v| m = math::max_nan(m, v));
        let mut s = 0.0f32;
        if m != f32::NEG_INFINITY {
            for q in part.my_packets() {
                let v = part.values(q, &smem);
                let mut e = [0.0f32; 8];
                for k in 0..E::PER {
                    e[k] = row_exp::<E>(v[k] - m);
                    s += e[k];
                }
                if keep {
                    part.restage(q, &smem, E::pack(e));
                }
            }
            for c in part.my_scalars() {
                s += row_exp::<E>(part.value(c) - m);
            }
        }
        let [big_m, big_s] = fold_all([m, s], merge);
        if output == Output::LogProbabilities {
            let ln_s = math::log(big_s);
            part.write(&smem, out, |_, v| (v - big_m) - ln_s);
        } else {
            let factor = math::exp(m - big_m) / big_s;
            for q in part.my_packets() {
                let v = part.values(q, &smem);
                let mut r = [0.0f32; 8];
                for k in 0..E::PER {
                    let e = if keep && part.is_staged(q) {
                        v[k]
                    } else {
                        row_exp::<E>(v[k] - m)
                    };
                    r[k] = e * factor;
                }
                part.store_packet(out, q, E::pack(r));
            }
            for c in part.my_scalars() {
                part.store(out, c, row_exp::<E>(part.value(c) - m) * factor);
            }
        }
        // The next row restages shared memory: everyone must be done reading this one.
        gpu::sync_threads();
        row += step;
    }
}

/// `e^x` per element of a row: [`math::exp_sfu`] for f32 (≤ 2 ulp in seven instructions
/// without a branch, against sixteen and a branch for [`math::exp`]: the exponential is most of
/// a softmax's instructions), the storage type's own for 16-bit storage.
#[inline(always)]
fn row_exp<E: Elem>(x: f32) -> f32 {
    if E::PER == 4 {
        math::exp_sfu(x)
    } else {
        E::exp(x)
    }
}

/// Softmax (or log-softmax) of rows that fit in registers ([`ShortRow`]).
#[inline(always)]
fn softmax_short_body<E: Elem, const H: usize>(
    a: &[E],
    rows: u64,
    cols: u64,
    out: &mut OutSlice<E, Manual>,
    output: Output,
) {
    let (rows, cols) = (rows as usize, cols as usize);
    let (mut row, step) = (gpu::block_idx().x as usize, gpu::grid_dim().x as usize);
    while row < rows {
        let Some(r) = ShortRow::<H>::load(a, row, cols) else {
            return;
        };
        let mut m = f32::NEG_INFINITY;
        r.for_each::<E>(|_, v| {
            for vk in v.iter().take(E::PER) {
                m = math::max_nan(m, *vk);
            }
        });
        let m = block_max_nan(m);
        let mut s = 0.0f32;
        // The write pass recomputes e^(x - M) rather than keeping it: keeping it (in place of x)
        // made f32 ptxas schedule 85 registers (two resident blocks), or spill 28 bytes at a
        // 64-register cap, and the exponential (`math::exp_sfu` for f32) is seven instructions.
        gpu::unroll::each::<H>(|i| {
            if r.slot(i).is_some() {
                let v = E::unpack(r.w[i]);
                gpu::unroll::each::<8>(|k| {
                    if k < E::PER {
                        s += row_exp::<E>(v[k] - m);
                    }
                });
            }
        });
        let s = block_sum(s);
        if output == Output::LogProbabilities {
            let ln_s = math::log(s);
            r.write(out, |_, v| v.map(|x| (x - m) - ln_s));
        } else {
            let inv = 1.0 / s;
            r.write(out, |_, v| {
                gpu::unroll::array(|k| {
                    if k < E::PER {
                        row_exp::<E>(v[k] - m) * inv
                    } else {
                        0.0
                    }
                })
            });
        }
        row += step;
    }
}

/// out[r][c] = e^(a[r][c] - max_r) / Σ_c e^(a[r][c] - max_r) for rows held in registers:
/// [`SHORT_HELD`] 16-byte packets per thread, one block per row (see [`ShortRow`] for what the
/// host checks).
#[kernel(same_len(a, out), instances(f32, Bf16), launch_bounds(512))]
pub fn softmax_short<T: Elem>(a: &[T], rows: u64, cols: u64, mut out: OutSlice<T, Manual>) {
    softmax_short_body::<T, SHORT_HELD>(a, rows, cols, &mut out, Output::Probabilities);
}

/// out[r][c] = a[r][c] - max_r - ln Σ_c e^(a[r][c] - max_r) for rows held in registers, as
/// [`softmax_short`].
#[kernel(same_len(a, out), instances(f32, Bf16), launch_bounds(512))]
pub fn log_softmax_short<T: Elem>(a: &[T], rows: u64, cols: u64, mut out: OutSlice<T, Manual>) {
    softmax_short_body::<T, SHORT_HELD>(a, rows, cols, &mut out, Output::LogProbabilities);
}

/// out[r][c] = e^(a[r][c] - max_r) / Σ_c e^(a[r][c] - max_r), any row width, f32 math over f32 or
/// bf16 storage. Row-engine launch (see `rows`).
#[kernel(same_len(a, out), instances(f32, Bf16))]
pub fn softmax_rows<T: Elem>(a: &[T], rows: u64, cols: u64, mut out: OutSlice<T, Manual>) {
    softmax_rows_body(a, rows, cols, &mut out, Output::Probabilities);
}

/// out[r][c] = a[r][c] - max_r - ln Σ_c e^(a[r][c] - max_r), as [`softmax_rows`].
#[kernel(same_len(a, out), instances(f32, Bf16))]
pub fn log_softmax_rows<T: Elem>(a: &[T], rows: u64, cols: u64, mut out: OutSlice<T, Manual>) {
    softmax_rows_body(a, rows, cols, &mut out, Output::LogProbabilities);
}

/// Packets per group in the split kernels' passes (loads issued together).
const SPLIT_GROUP: usize = 4;

/// Softmax (or log-softmax) on the split engine ([`Split`]): per row, the block's maximum
/// `M_b` and `S_b = Σ e^(x - M_b)` over its share in shared memory (two cheap block reductions;
/// f32 softmax keeps the exponentials there), one fold of the blocks' `(M_b, S_b)` pairs over
/// the cluster, then the write from shared memory.
#[inline(always)]
fn softmax_split_body<E: Elem>(
    a: &[E],
    rows: u64,
    cols: u64,
    out: &mut OutSlice<E, Manual>,
    output: Output,
) {
    let (rows, cols) = (rows as usize, cols as usize);
    let others = [addr_of(out, 0)];
    let Some(mut sp) = Split::<E>::new(a, rows, cols, &others, dynamic_shared::<u32>()) else {
        return;
    };
    let keep = E::PER == 4 && output == Output::Probabilities;
    let mut run = Run::begin();
    while sp.next_row().is_some() {
        let mut m = f32::NEG_INFINITY;
        sp.for_each::<SPLIT_GROUP>(|_, w| {
            let v = E::unpack(w);
            for vk in v.iter().take(E::PER) {
                m = math::max_nan(m, *vk);
            }
        });
        let mb = block_max_nan(m);
        // A block whose share is all -inf contributes (-inf, 0).
        let dead = mb == f32::NEG_INFINITY;
        let mut s = 0.0f32;
        if !dead {
            sp.for_each::<SPLIT_GROUP>(|q, w| {
                let v = E::unpack(w);
                let e: [f32; 8] = gpu::unroll::array(|k| row_exp::<E>(v[k] - mb));
                for ek in e.iter().take(E::PER) {
                    s += *ek;
                }
                if keep {
                    sp.restage(q, E::pack(e));
                }
            });
        }
        let sb = block_sum(s);
        let [big_m, big_s] = {
            let r = run.fold([mb.to_bits(), sb.to_bits()], |x, y| {
                let z = merge(
                    [f32::from_bits(x[0]), f32::from_bits(x[1])],
                    [f32::from_bits(y[0]), f32::from_bits(y[1])],
                );
                [z[0].to_bits(), z[1].to_bits()]
            });
            [f32::from_bits(r[0]), f32::from_bits(r[1])]
        };
        if output == Output::LogProbabilities {
            let ln_s = math::log(big_s);
            sp.for_each_refill::<SPLIT_GROUP>(|q, w| {
                let v = E::unpack(w);
                let r = gpu::unroll::array(|k| (v[k] - big_m) - ln_s);
                sp.store(out, q, E::pack(r));
            });
        } else {
            // e^(x - M_b) · e^(M_b - M) / S.
            let factor = part_factor(mb, big_m, big_s);
            sp.for_each_refill::<SPLIT_GROUP>(|q, w| {
                let v = E::unpack(w);
                let r = gpu::unroll::array(|k| {
                    if dead {
                        factor
                    } else if keep {
                        v[k] * factor
                    } else {
                        row_exp::<E>(v[k] - mb) * factor
                    }
                });
                sp.store(out, q, E::pack(r));
            });
        }
    }
    run.end();
}

/// out[r][c] = e^(a[r][c] - max_r) / Σ_c e^(a[r][c] - max_r) on the split engine ([`Split`]:
/// rows of whole 16-byte packets, 16-byte aligned buffers; long rows over a cluster).
#[kernel(same_len(a, out), instances(f32, Bf16))]
pub fn softmax_split<T: Elem>(a: &[T], rows: u64, cols: u64, mut out: OutSlice<T, Manual>) {
    softmax_split_body(a, rows, cols, &mut out, Output::Probabilities);
}

/// out[r][c] = a[r][c] - max_r - ln Σ_c e^(a[r][c] - max_r) on the split engine, as
/// [`softmax_split`].
#[kernel(same_len(a, out), instances(f32, Bf16))]
pub fn log_softmax_split<T: Elem>(a: &[T], rows: u64, cols: u64, mut out: OutSlice<T, Manual>) {
    softmax_split_body(a, rows, cols, &mut out, Output::LogProbabilities);
}

/// Combine two (max, Σ e^(x - max)) pairs as bits, a dead pair (-inf, 0) being the identity
/// (symmetric: bit-identical either way round).
#[inline(always)]
fn merge_bits(a: [u32; 2], b: [u32; 2]) -> [u32; 2] {
    let (fa, fb) = (f32::from_bits(a[0]), f32::from_bits(b[0]));
    if fa == f32::NEG_INFINITY {
        return b;
    }
    if fb == f32::NEG_INFINITY {
        return a;
    }
    let r = merge([fa, f32::from_bits(a[1])], [fb, f32::from_bits(b[1])]);
    [r[0].to_bits(), r[1].to_bits()]
}

/// The factor that turns a part's `e^(x - M_b)` into softmax outputs, for a row split over
/// blocks: `e^(M_b - M) / S` from the part's maximum `mb` and the row's `big_m` and `big_s`. A
/// part whose elements are all -inf (`mb` = -inf) gives 0, or NaN when the whole row is -inf
/// (as torch).
#[inline(always)]
fn part_factor(mb: f32, big_m: f32, big_s: f32) -> f32 {
    if mb == f32::NEG_INFINITY {
        if big_m == f32::NEG_INFINITY {
            f32::NAN
        } else {
            0.0
        }
    } else {
        math::exp(mb - big_m) / big_s
    }
}

/// `e^d` for `d = x - max ≤ 0` in pass 2 of the re-read kernels: [`math::exp_sfu_nonpos`] for
/// f32 (the same ≤ 2 ulp as [`math::exp_sfu`], two instructions fewer), the storage type's own
/// for 16-bit storage.
#[inline(always)]
fn row_exp_nonpos<E: Elem>(d: f32) -> f32 {
    if E::PER == 4 {
        math::exp_sfu_nonpos(d)
    } else {
        E::exp(d)
    }
}

/// Packets per thread and step of the re-read kernels' two passes (loads issued together).
pub const REREAD_STEP: usize = 4;

/// The re-read kernels' L2 policies: pass 1's loads (kept for the re-read), pass 2's loads
/// (last use) and its stores (streamed out).
fn reread_hints() -> [gpu::L2Policy; 3] {
    use gpu::L2Policy;
    [
        L2Policy::evict_last(),
        L2Policy::evict_first(),
        L2Policy::evict_first(),
    ]
}

/// Softmax (or log-softmax) on the wide engine without holding the slice ([`Wide`] items,
/// [`Wide::batches`]): per item, pass 1 streams the block's slice from DRAM with an L2
/// evict-last policy, keeping only a running `(m, s)` per thread (`s = Σ e^(x - m)`, rescaled
/// when `m` grows), folds them to the block's `(M_b, S_b)` and publishes it; pass 2, once the
/// row's pairs are all published, re-reads the slice (from L2 when it is still there) and
/// writes `e^(x - M) / S` or `(x - M) - ln S` with evict-first stores. DRAM still sees one
/// read and one write per element; nothing is held while a block waits.
///
/// Pipelined: a block runs pass 1 of its next item before it waits for the previous item's
/// row, so the wait overlaps its own loads. Forward progress: a block waits only after it has
/// published every item it has taken (the pending one and the one just streamed). If every
/// resident block waited forever, each would wait on the one partly taken row (rows below it
/// have all parts taken, hence published) and hold two published parts of it, with one part
/// untaken: so `parts ≥ 2 · resident + 1`. The host launches only when at least `parts`
/// blocks fit at once (as for [`Wide`]), which rules that out; blocks not yet resident hold no
/// ticket.
#[inline(always)]
fn softmax_reread_body<E: Elem>(
    a: &[E],
    rows: u64,
    cols: u64,
    parts: u32,
    out: &mut OutSlice<E, Manual>,
    scratch: &mut OutSlice<u32, Atomic>,
    output: Output,
) {
    let others = [addr_of(out, 0)];
    let Some(mut w) = Wide::new(
        a,
        rows as usize,
        cols as usize,
        parts as usize,
        &others,
        scratch.atomic(),
    ) else {
        return;
    };
    let [keep, reread, drop] = reread_hints();
    let dead_pair = [f32::NEG_INFINITY.to_bits(), 0];
    let mut pending: Option<WideItem> = None;
    loop {
        let next = w.next();
        if let Some(it) = &next {
            let (mut m, mut s) = (f32::NEG_INFINITY, 0.0f32);
            w.batches::<REREAD_STEP>(it, keep, |h| {
                let mut bm = f32::NEG_INFINITY;
                gpu::unroll::each::<REREAD_STEP>(|i| {
                    if h.has(i) {
                        bm = math::max_nan(bm, E::max_nan_of(h.w[i]));
                    }
                });
                let nm = math::max_nan(m, bm);
                // A larger (or NaN) maximum rescales the sum; from -inf the factor is 0.
                if nm != m {
                    s *= row_exp::<E>(m - nm);
                    m = nm;
                }
                if m != f32::NEG_INFINITY {
                    h.for_each::<E>(|_, v| {
                        gpu::unroll::each::<8>(|k| {
                            if k < E::PER {
                                // Only the sum takes `exp_fast` (`ex2.approx.ftz` of the
                                // rounded product: 3 instructions against `exp_sfu`'s 12; for
                                // bf16 it is `E::exp` anyway). Its error grows with |x - m|,
                                // i.e. only for terms that are tiny against the maximum's 1, and
                                // rounds differently term by term: the measured errors were
                                // unchanged (TUNING round 9).
                                s += math::exp_fast(v[k] - m);
                            }
                        });
                    });
                }
            });
            let mb = block_max_nan(m);
            let mine = if m == mb {
                s
            } else if m == f32::NEG_INFINITY {
                0.0
            } else {
                s * row_exp::<E>(m - mb)
            };
            let sb = block_sum(mine);
            w.publish(it, [mb.to_bits(), sb.to_bits()]);
        }
        if let Some(p) = pending {
            let [big_m, big_s] = w.gather(&p, dead_pair, merge_bits).map(f32::from_bits);
            if output == Output::LogProbabilities {
                let ln_s = math::log(big_s);
                w.rewrite::<REREAD_STEP>(&p, out, reread, drop, |v| v.map(|x| (x - big_m) - ln_s));
            } else {
                // A row of -inf gives NaN (x - M is NaN), as torch.
                let inv = 1.0 / big_s;
                w.rewrite::<REREAD_STEP>(&p, out, reread, drop, |v| {
                    gpu::unroll::array(|k| {
                        if k < E::PER {
                            row_exp_nonpos::<E>(v[k] - big_m) * inv
                        } else {
                            0.0
                        }
                    })
                });
            }
        }
        match next {
            Some(it) => pending = Some(it),
            None => break,
        }
    }
}

/// out[r][c] = e^(a[r][c] - max_r) / Σ_c e^(a[r][c] - max_r) on the wide engine's re-read
/// kernel (see `softmax_reread_body`: each long row over `parts` blocks, every slice read
/// twice, the second time from L2; partial statistics exchanged through `scratch`, zero
/// before the launch and sized by `rows::wide_scratch_words`).
#[kernel(same_len(a, out), instances(f32, Bf16), launch_bounds(256, 4))]
pub fn softmax_reread<T: Elem>(
    a: &[T],
    rows: u64,
    cols: u64,
    parts: u32,
    mut out: OutSlice<T, Manual>,
    mut scratch: OutSlice<u32, Atomic>,
) {
    softmax_reread_body(
        a,
        rows,
        cols,
        parts,
        &mut out,
        &mut scratch,
        Output::Probabilities,
    );
}

/// out[r][c] = a[r][c] - max_r - ln Σ_c e^(a[r][c] - max_r) on the re-read kernel, as
/// [`softmax_reread`].
#[kernel(same_len(a, out), instances(f32, Bf16), launch_bounds(256, 4))]
pub fn log_softmax_reread<T: Elem>(
    a: &[T],
    rows: u64,
    cols: u64,
    parts: u32,
    mut out: OutSlice<T, Manual>,
    mut scratch: OutSlice<u32, Atomic>,
) {
    softmax_reread_body(
        a,
        rows,
        cols,
        parts,
        &mut out,
        &mut scratch,
        Output::LogProbabilities,
    );
}

/// Consumer warps of the held kernels (the producer warp comes on top: [`HELD_THREADS`]).
pub const HELD_WARPS: usize = 8;
/// Packets per consumer thread and ring chunk of the held kernels: chunks of
/// `HELD_CHUNK_PACKETS` packets (8 KB).
pub const HELD_PER_THREAD: usize = 2;
/// Threads per block of the held kernels.
pub const HELD_THREADS: usize = 32 * (HELD_WARPS + 1);
/// Packets per ring chunk of the held kernels.
pub const HELD_CHUNK_PACKETS: usize = HELD_PER_THREAD * 32 * HELD_WARPS;

/// Softmax (or log-softmax) on the held-ring engine ([`Held`]): per item, pass A keeps a
/// running `(m, s)` per consumer thread over the chunks as they land (the re-read kernels'
/// pass-1 arithmetic), the consumer warps fold it to the block's `(M_b, S_b)`, the row's pairs
/// are exchanged through `scratch`, and pass B reads the held slice from shared memory again
/// and writes `e^(x - M) / S` or `(x - M) - ln S`.
#[inline(always)]
fn softmax_held_body<E: Elem, const W: usize, const U: usize>(
    a: &[E],
    rows: u64,
    cols: u64,
    parts: u32,
    out: &mut OutSlice<E, Manual>,
    scratch: &mut OutSlice<u32, Atomic>,
    output: Output,
) {
    let others = [addr_of(out, 0)];
    let Some(h) = Held::<E, W, U>::new(
        a,
        rows as usize,
        cols as usize,
        parts as usize,
        &others,
        scratch.atomic(),
    ) else {
        return;
    };
    if h.is_producer_warp() {
        h.produce();
        return;
    }
    let store = gpu::L2Policy::evict_first();
    h.consume(
        |h, c, it| {
            let (mut m, mut s) = (f32::NEG_INFINITY, 0.0f32);
            h.scan(c, it, |w, valid| {
                let mut bm = f32::NEG_INFINITY;
                gpu::unroll::each::<U>(|i| {
                    if (i as u32) < valid {
                        bm = math::max_nan(bm, E::max_nan_of(w[i]));
                    }
                });
                let nm = math::max_nan(m, bm);
                // A larger (or NaN) maximum rescales the sum; from -inf the factor is 0.
                if nm != m {
                    s *= row_exp::<E>(m - nm);
                    m = nm;
                }
                if m != f32::NEG_INFINITY {
                    gpu::unroll::each::<U>(|i| {
                        if (i as u32) < valid {
                            let v = E::unpack(w[i]);
                            gpu::unroll::each::<8>(|k| {
                                if k < E::PER {
                                    // As the re-read kernels' pass 1 (`exp_fast` for the sum).
                                    s += math::exp_fast(v[k] - m);
                                }
                            });
                        }
                    });
                }
            });
            h.stats(c, m, s, row_exp::<E>)
        },
        |h, c, it, [big_m, big_s]| {
            if output == Output::LogProbabilities {
                let ln_s = math::log(big_s);
                h.write(c, it, out, store, |w| {
                    let v = E::unpack(w);
                    E::pack(gpu::unroll::array(|k| (v[k] - big_m) - ln_s))
                });
            } else {
                // A row of -inf gives NaN (x - M is NaN), as torch.
                let inv = 1.0 / big_s;
                h.write(c, it, out, store, |w| {
                    let v = E::unpack(w);
                    E::pack(gpu::unroll::array(|k| {
                        if k < E::PER {
                            row_exp_nonpos::<E>(v[k] - big_m) * inv
                        } else {
                            0.0
                        }
                    }))
                });
            }
        },
    );
}

/// out[r][c] = e^(a[r][c] - max_r) / Σ_c e^(a[r][c] - max_r) on the held-ring engine (see
/// [`Held`]: each long row over `parts` blocks, each block's slice held in shared memory
/// filled by bulk copies; partial statistics exchanged through `scratch`, zero before the
/// launch and sized by `rows::wide_scratch_words`). Launch: [`HELD_THREADS`] threads, the
/// resident grid, a ring holding at least one slice.
#[kernel(same_len(a, out), instances(f32, Bf16), launch_bounds(288, 2))]
pub fn softmax_held<T: Elem>(
    a: &[T],
    rows: u64,
    cols: u64,
    parts: u32,
    mut out: OutSlice<T, Manual>,
    mut scratch: OutSlice<u32, Atomic>,
) {
    softmax_held_body::<T, HELD_WARPS, HELD_PER_THREAD>(
        a,
        rows,
        cols,
        parts,
        &mut out,
        &mut scratch,
        Output::Probabilities,
    );
}

/// out[r][c] = a[r][c] - max_r - ln Σ_c e^(a[r][c] - max_r) on the held-ring engine, as
/// [`softmax_held`].
#[kernel(same_len(a, out), instances(f32, Bf16), launch_bounds(288, 2))]
pub fn log_softmax_held<T: Elem>(
    a: &[T],
    rows: u64,
    cols: u64,
    parts: u32,
    mut out: OutSlice<T, Manual>,
    mut scratch: OutSlice<u32, Atomic>,
) {
    softmax_held_body::<T, HELD_WARPS, HELD_PER_THREAD>(
        a,
        rows,
        cols,
        parts,
        &mut out,
        &mut scratch,
        Output::LogProbabilities,
    );
}
