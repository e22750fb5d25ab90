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
