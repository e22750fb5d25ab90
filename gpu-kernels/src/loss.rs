//! Cross-entropy loss over rows of logits (the LLM output layer: rows = tokens, cols = the
//! vocabulary): `loss[r] = ln Σ_c e^(x[r][c]) - x[r][target[r]]`, computed as
//! `max_r + ln Σ_c e^(x[r][c] - max_r) - x[r][target[r]]` in one streaming pass over the logits
//! (read once, nothing staged), with the row split over a cluster when the launch has one (see
//! [`crate::rows`]; launch with no dynamic shared memory). Rows whose target equals
//! `ignore_index` get loss 0 (as torch with `reduction='none'`); any other target outside
//! `0..cols` gives NaN. The mean over the counted rows is a sum the host takes afterwards.
use crate::rows::{Part, RowElem, cluster_rows, fold_all};
use gpukit_device::{self as gpu, Bf16, OutSlice, cluster, dynamic_shared, kernel, math};

/// Combine two (max, Σ e^(x - max)) pairs, symmetrically.
#[inline(always)]
fn merge(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    let m = math::max_nan(a[0], b[0]);
    if m == f32::NEG_INFINITY {
        return [m, 0.0];
    }
    [m, a[1] * math::exp(a[0] - m) + b[1] * math::exp(b[0] - m)]
}

/// Folds one packet's values into the running (max, sum). The sum only needs ~2^-20 relative
/// accuracy for an f32 loss, so the SFU exponential serves.
#[inline(always)]
fn push<const PER: usize>(v: &[f32; 8], m: &mut f32, s: &mut f32) {
    let mut pm = v[0];
    for vk in v.iter().take(PER).skip(1) {
        pm = math::max_nan(pm, *vk);
    }
    if pm > *m {
        *s *= math::exp_fast(*m - pm);
        *m = pm;
    }
    if *m != f32::NEG_INFINITY {
        for vk in v.iter().take(PER) {
            *s += math::exp_fast(*vk - *m);
        }
    }
}

#[inline(always)]
fn cross_entropy<E: RowElem>(
    logits: &[E],
    rows: u64,
    cols: u64,
    targets: &[i64],
    ignore_index: i64,
    loss: &mut OutSlice<f32>,
) {
    let smem = dynamic_shared::<u32>();
    let (rows, cols) = (rows as usize, cols as usize);
    let (mut row, step) = cluster_rows();
    while row < rows {
        let part: Part<'_, E> = Part::new(logits, row, cols, &[], &smem);
        let (mut m, mut s) = (f32::NEG_INFINITY, 0.0f32);
        // Four packets' loads in flight per step.
        let (t, nt) = part.thread();
        let mut q = part.p0 + t;
        while q < part.p1 {
            let (q1, q2, q3) = (q + nt, q + 2 * nt, q + 3 * nt);
            let load = |q: usize| {
                if q < part.p1 { part.global(q) } else { [0; 4] }
            };
            let (w0, w1, w2, w3) = (part.global(q), load(q1), load(q2), load(q3));
            let mut fold = |w: [u32; 4]| {
                let v = E::unpack(w);
                if E::PER == 4 {
                    push::<4>(&v, &mut m, &mut s);
                } else {
                    push::<8>(&v, &mut m, &mut s);
                }
            };
            fold(w0);
            if q1 < part.p1 {
                fold(w1);
            }
            if q2 < part.p1 {
                fold(w2);
            }
            if q3 < part.p1 {
                fold(w3);
            }
            q += 4 * nt;
        }
        for c in part.my_scalars() {
            push::<1>(&[part.value(c); 8], &mut m, &mut s);
        }
        let [big_m, big_s] = fold_all([m, s], merge);
        if cluster::rank() == 0 && gpu::thread_idx().x == 0 {
            let target = targets[row];
            let l = if target == ignore_index {
                0.0
            } else if target >= 0 && (target as u64) < cols as u64 {
                (big_m + math::log(big_s)) - part.value(target as usize)
            } else {
                f32::NAN
            };
            // SAFETY: row `row` belongs to this cluster; only its rank-0 thread 0 writes it.
            unsafe { *loss.get_unchecked_mut(row) = l };
        }
        row += step;
    }
}

/// loss[r] = logsumexp(logits[r]) - logits[r][targets[r]] over f32 logits (`targets` has one
/// index per row; `ignore_index` rows get 0). Row-engine launch with no dynamic shared memory.
#[kernel]
pub fn cross_entropy_f32(
    logits: &[f32],
    rows: u64,
    cols: u64,
    targets: &[i64],
    ignore_index: i64,
    mut loss: OutSlice<f32>,
) {
    cross_entropy(logits, rows, cols, targets, ignore_index, &mut loss);
}

/// Cross-entropy over bf16 logits with f32 math, as [`cross_entropy_f32`].
#[kernel]
pub fn cross_entropy_bf16(
    logits: &[Bf16],
    rows: u64,
    cols: u64,
    targets: &[i64],
    ignore_index: i64,
    mut loss: OutSlice<f32>,
) {
    cross_entropy(logits, rows, cols, targets, ignore_index, &mut loss);
}
