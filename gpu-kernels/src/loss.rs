//! Cross-entropy loss over rows of logits (the LLM output layer: rows = tokens, cols = the
//! vocabulary): `loss[r] = ln Σ_c e^(x[r][c]) - x[r][target[r]]`, computed as
//! `max_r + ln Σ_c e^(x[r][c] - max_r) - x[r][target[r]]` in one streaming pass over the logits
//! (read once, nothing staged), with the row split over a cluster when the launch has one (see
//! [`crate::rows`]; launch with no dynamic shared memory). Rows whose target equals
//! `ignore_index` get loss 0 (as torch with `reduction='none'`); any other target outside
//! `0..cols` gives NaN. The mean over the counted rows is a sum the host takes afterwards.
use crate::elem::Elem;
use crate::rows::{Part, cluster_rows, fold_all};
use gpukit_device::{
    self as gpu, Manual, OutSlice, cluster_reduce as cluster, dynamic_shared, kernel, math,
};

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
fn cross_entropy_body<E: Elem>(
    logits: &[E],
    rows: u64,
    cols: u64,
    targets: &[i64],
    ignore_index: i64,
    loss: &mut OutSlice<f32, Manual>,
) {
    let smem = dynamic_shared::<u32>();
    let (rows, cols) = (rows as usize, cols as usize);
    let (mut row, step) = cluster_rows();
    while row < rows {
        let part: Part<'_, E> = Part::new(logits, row, cols, &[], &smem);
        let (mut m, mut s) = (f32::NEG_INFINITY, 0.0f32);
        // Four packets per step, and the next step's four loads are issued before this step's
        // math (software pipelining: eight packets in flight per thread).
        let (t, nt) = part.thread();
        let load4 = |q: usize| {
            let at = |q: usize| {
                if q < part.p1 { part.global(q) } else { [0; 4] }
            };
            [at(q), at(q + nt), at(q + 2 * nt), at(q + 3 * nt)]
        };
        let mut fold = |w: [u32; 4]| {
            let v = E::unpack(w);
            if E::PER == 4 {
                push::<4>(&v, &mut m, &mut s);
            } else {
                push::<8>(&v, &mut m, &mut s);
            }
        };
        let mut q = part.p0 + t;
        if q < part.p1 {
            let mut cur = load4(q);
            loop {
                let nq = q + 4 * nt;
                let next = load4(nq);
                fold(cur[0]);
                if q + nt < part.p1 {
                    fold(cur[1]);
                }
                if q + 2 * nt < part.p1 {
                    fold(cur[2]);
                }
                if q + 3 * nt < part.p1 {
                    fold(cur[3]);
                }
                if nq >= part.p1 {
                    break;
                }
                cur = next;
                q = nq;
            }
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
            unsafe { *loss.claim_mut(row) = l };
        }
        row += step;
    }
}

/// loss[r] = logsumexp(logits[r]) - logits[r][targets[r]] over f32 or bf16 logits with f32 math
/// (`targets` has one index per row; `ignore_index` rows get 0). Row-engine launch with no
/// dynamic shared memory, at most 512 threads (two blocks per SM: at most 64 registers).
#[kernel(instances(f32, Bf16), launch_bounds(512, 2))]
pub fn cross_entropy<T: Elem>(
    logits: &[T],
    rows: u64,
    cols: u64,
    targets: &[i64],
    ignore_index: i64,
    mut loss: OutSlice<f32, Manual>,
) {
    cross_entropy_body(logits, rows, cols, targets, ignore_index, &mut loss);
}
