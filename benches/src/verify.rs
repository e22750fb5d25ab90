//! Checking outputs against CPU references: which elements or rows to check, and how close is
//! close enough.
use super::data::mix;
use rand::{Rng, SeedableRng};
use std::ops::Range;

/// Outputs with at most this many elements are checked in full.
pub const FULL_CHECK_MAX: usize = 1 << 22;
/// Larger outputs: the first and last this many elements ...
pub const EDGE: usize = 4096;
/// ... and this many random ones.
pub const RANDOM_SAMPLES: usize = 1 << 20;

/// Stream indices of the sampling generators (distinct from the input generators' chunks).
const ELEMENT_STREAM: u64 = 0xE1E_0000_0000;
const ROW_STREAM: u64 = 0x50E_0000_0000;

/// Indices to check in an output of `n` elements: all of them up to [`FULL_CHECK_MAX`], else the
/// first and last [`EDGE`] and [`RANDOM_SAMPLES`] random ones (sorted, without repeats).
pub fn sample_indices(n: usize, seed: u64) -> Vec<usize> {
    if n <= FULL_CHECK_MAX {
        return (0..n).collect();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(mix(seed, ELEMENT_STREAM));
    let mut v: Vec<usize> = (0..EDGE).chain(n - EDGE..n).collect();
    v.extend((0..RANDOM_SAMPLES).map(|_| rng.random_range(0..n)));
    v.sort_unstable();
    v.dedup();
    v
}

/// Rows to check of a `rows`-row output: all when `rows <= count`, else the first two, the last
/// two and random ones up to `count` in all (sorted, without repeats).
pub fn sample_rows(rows: usize, count: usize, seed: u64) -> Vec<usize> {
    if rows <= count.max(4) {
        return (0..rows).collect();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(mix(seed, ROW_STREAM));
    let mut v: Vec<usize> = vec![0, 1, rows - 2, rows - 1];
    while v.len() < count {
        v.push(rng.random_range(0..rows));
        v.sort_unstable();
        v.dedup();
    }
    v
}

/// Indices `0..len` to check in one dimension of a GEMM's C: the edges of the 128- and
/// 256-wide tiles around the start, middle and end, plus [`sample_rows`] (sorted, without
/// repeats).
pub fn tile_sample(len: usize, count: usize, seed: u64) -> Vec<usize> {
    let mut v = sample_rows(len, count, seed);
    v.extend(
        [1usize, 127, 128, 255, 256, len / 2, len.saturating_sub(2)]
            .into_iter()
            .filter(|&i| i < len),
    );
    v.sort_unstable();
    v.dedup();
    v
}

/// A GEMM's `C` (`m × n`) checked on 48 sampled rows × 48 sampled columns ([`tile_sample`],
/// tile edges included) against an f64 product of the exact inputs: every sampled element
/// finite, and the relative Frobenius error ‖C − ref‖₂ / ‖ref‖₂ over the samples at most `tol`.
pub struct SampledGemm {
    pub m: usize,
    pub n: usize,
    pub seed: u64,
    pub tol: f64,
}

impl SampledGemm {
    /// `a_row(i)` is row `i` of A and `b_col(j)` column `j` of B as f64 (B's columns are read
    /// once each); `epilogue(j, a_i · b_j)` is the reference `C[i, j]`; `got_row(i)` downloads
    /// row `i` of `C` as f64.
    pub fn check(
        &self,
        a_row: impl Fn(usize) -> Vec<f64>,
        b_col: impl Fn(usize) -> Vec<f64>,
        epilogue: impl Fn(usize, f64) -> f64,
        mut got_row: impl FnMut(usize) -> Result<Vec<f64>, String>,
    ) -> Result<(), String> {
        let rows = tile_sample(self.m, 48, self.seed);
        let cols = tile_sample(self.n, 48, mix(self.seed, 1));
        let bcols: Vec<Vec<f64>> = cols.iter().map(|&j| b_col(j)).collect();
        let (mut num, mut den) = (0f64, 0f64);
        for &i in &rows {
            let (got, arow) = (got_row(i)?, a_row(i));
            for (&j, bcol) in cols.iter().zip(&bcols) {
                let want = epilogue(j, arow.iter().zip(bcol).map(|(a, b)| a * b).sum());
                let g = got[j];
                if !g.is_finite() {
                    return Err(format!("C[{i}, {j}] = {g} (the reference is {want})"));
                }
                num += (g - want).powi(2);
                den += want * want;
            }
        }
        let e = if den == 0.0 {
            num.sqrt()
        } else {
            (num / den).sqrt()
        };
        if e <= self.tol {
            Ok(())
        } else {
            Err(format!(
                "relative error {e:e} > {:e} over {} × {} sampled elements",
                self.tol,
                rows.len(),
                cols.len()
            ))
        }
    }
}

/// Whether `got` is within `tol * max(|want|, 1)` of `want` (relative for large values, absolute
/// near zero); NaN only matches NaN, and infinities must be equal.
pub fn close(got: f64, want: f64, tol: f64) -> bool {
    if got.is_nan() || want.is_nan() {
        return got.is_nan() && want.is_nan();
    }
    if got.is_infinite() || want.is_infinite() {
        return got == want;
    }
    (got - want).abs() <= tol * want.abs().max(1.0)
}

/// Compare `got(i)` with `want(i)` at every index of `indices`; on mismatch, an error naming the
/// first bad index and how many differ. `what` names the output (e.g. `"out"`).
pub fn check(
    what: &str,
    indices: &[usize],
    got: impl Fn(usize) -> f64,
    want: impl Fn(usize) -> f64,
    tol: f64,
) -> Result<(), String> {
    let mut first = None;
    let mut bad = 0usize;
    for &i in indices {
        let (g, w) = (got(i), want(i));
        if !close(g, w, tol) {
            bad += 1;
            first.get_or_insert((i, g, w));
        }
    }
    match first {
        None => Ok(()),
        Some((i, g, w)) => Err(format!(
            "{what}[{i}] = {g} but the reference is {w} (tolerance {tol:e}); {bad} of {} checked \
             elements differ",
            indices.len()
        )),
    }
}

/// [`check`] over [`sample_indices`] of two equal-length outputs given as accessors.
pub fn check_sampled(
    what: &str,
    n: usize,
    seed: u64,
    got: impl Fn(usize) -> f64,
    want: impl Fn(usize) -> f64,
    tol: f64,
) -> Result<(), String> {
    check(what, &sample_indices(n, seed), got, want, tol)
}

/// `f` over `n` elements split into contiguous ranges, one per available thread (at least
/// 2^16 elements each), run in parallel; the results in range order. For reference passes over
/// large inputs (reductions, scans) that cannot be sampled.
pub fn par_ranges<R: Send>(n: usize, f: impl Fn(Range<usize>) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1)
        .min(n.div_ceil(1 << 16))
        .max(1);
    let per = n.div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n.div_ceil(per).max(1))
            .map(|t| {
                let r = (t * per).min(n)..((t + 1) * per).min(n);
                s.spawn(move || f(r))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a reference thread panicked"))
            .collect()
    })
}

/// How a check of `n` elements is described in reports: `full` or `sampled`.
pub fn coverage(n: usize) -> &'static str {
    if n <= FULL_CHECK_MAX {
        "full"
    } else {
        "sampled"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_samples_cover_tile_edges() {
        let v = tile_sample(8192, 48, 3);
        for i in [0, 1, 127, 128, 255, 256, 4096, 8190, 8191] {
            assert!(v.contains(&i), "{i}");
        }
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(tile_sample(3, 48, 1), vec![0, 1, 2]);
    }

    #[test]
    fn sampled_gemm_measures_the_relative_error() {
        // A = I (300 × 300), B = C: the reference is B itself.
        let n = 300;
        let b = |p: usize, j: usize| (p * 7 + j) as f64 + 1.0;
        let eye = |i: usize| (0..n).map(|p| (p == i) as u32 as f64).collect();
        let col = |j: usize| (0..n).map(|p| b(p, j)).collect();
        let row = |i: usize, scale: f64| Ok((0..n).map(|j| b(i, j) * scale).collect());
        let check = |tol: f64, scale: f64| {
            let g = SampledGemm {
                m: n,
                n,
                seed: 1,
                tol,
            };
            g.check(eye, col, |_, x| x, |i| row(i, scale))
        };
        assert!(check(1e-3, 1.0 + 1e-4).is_ok());
        assert!(check(1e-5, 1.0 + 1e-4).is_err());
        assert!(check(1.0, f64::NAN).unwrap_err().contains("NaN"));
    }

    #[test]
    fn small_outputs_are_checked_in_full() {
        assert_eq!(sample_indices(5, 1), vec![0, 1, 2, 3, 4]);
        assert_eq!(sample_indices(FULL_CHECK_MAX, 1).len(), FULL_CHECK_MAX);
        assert_eq!(coverage(FULL_CHECK_MAX), "full");
    }

    #[test]
    fn large_outputs_are_sampled_with_both_edges() {
        let n = 1 << 28;
        let v = sample_indices(n, 3);
        assert!(v.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        assert!(v.len() > RANDOM_SAMPLES && v.len() <= 2 * EDGE + RANDOM_SAMPLES);
        assert_eq!(&v[..EDGE], &(0..EDGE).collect::<Vec<_>>()[..]);
        assert_eq!(&v[v.len() - EDGE..], &(n - EDGE..n).collect::<Vec<_>>()[..]);
        assert!(v[EDGE..v.len() - EDGE].iter().any(|&i| i > n / 2));
        assert_eq!(v, sample_indices(n, 3));
        assert_ne!(v, sample_indices(n, 4));
        assert_eq!(coverage(n), "sampled");
    }

    #[test]
    fn parallel_ranges_cover_everything_in_order() {
        for n in [0usize, 1, 1000, (1 << 16) + 1, 3 << 20] {
            let parts = par_ranges(n, |r| r);
            assert_eq!(parts.first().map(|r| r.start), Some(0));
            assert_eq!(parts.last().map(|r| r.end), Some(n));
            assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
        }
    }

    #[test]
    fn rows_sampling() {
        assert_eq!(sample_rows(3, 16, 1), vec![0, 1, 2]);
        let r = sample_rows(65536, 16, 1);
        assert_eq!(r.len(), 16);
        assert!(r.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((r[0], r[1], r[14], r[15]), (0, 1, 65534, 65535));
    }

    #[test]
    fn closeness_and_reports() {
        assert!(close(1.0, 1.0 + 1e-8, 2.5e-7));
        assert!(!close(1.0, 1.001, 2.5e-7));
        assert!(close(1000.0, 1000.0001, 2.5e-7));
        assert!(close(f64::NAN, f64::NAN, 0.0));
        assert!(!close(f64::NAN, 1.0, 1.0));
        assert!(!close(f64::INFINITY, 1e300, 1.0));
        assert!(close(3.0, 3.0, 0.0));
        let got = [1.0, 2.0, 3.5, 4.0, 9.0];
        let want = [1.0, 2.0, 3.0, 4.0, 5.0];
        let e = check("out", &[0, 1, 2, 3, 4], |i| got[i], |i| want[i], 1e-6).unwrap_err();
        assert!(e.starts_with("out[2] = 3.5 but the reference is 3"), "{e}");
        assert!(e.contains("2 of 5 checked elements differ"), "{e}");
        assert!(check_sampled("y", 4, 0, |i| want[i], |i| want[i], 0.0).is_ok());
    }
}
