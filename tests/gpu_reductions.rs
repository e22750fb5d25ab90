//! GPU tests of the kernel library's reductions (f32 within stated bounds of f64 references,
//! f64 sums and dots against compensated references) and scans against sequential references,
//! on random data at awkward sizes. `#[ignore]`d without a GPU.
mod common;
use common::{setup, sizes};
use gpukit::ops::{Reduce, ScanKind};
use gpukit::runtime::{self, Error};
use gpukit_test_support::reference::random_f32;

/// f64 references for the f32 totals: the sum and sum of squares of `x`, the dot of `x` and `y`,
/// and the magnitudes (`Σ|x|`, `Σ|x·y|`) their error bounds scale with.
struct Totals {
    sum: f64,
    abs: f64,
    ss: f64,
    dot: f64,
    dabs: f64,
}

impl Totals {
    fn of(x: &[f32], y: &[f32]) -> Self {
        let wide = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<_>>();
        let (x, y) = (wide(x), wide(y));
        Totals {
            sum: x.iter().sum(),
            abs: x.iter().map(|v| v.abs()).sum(),
            ss: x.iter().map(|v| v * v).sum(),
            dot: x.iter().zip(&y).map(|(a, b)| a * b).sum(),
            dabs: x.iter().zip(&y).map(|(a, b)| (a * b).abs()).sum(),
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn reductions_match_f64_references_within_stated_bounds() {
    let (gpu, lib, s) = setup();
    for (t, &n) in sizes().iter().enumerate().skip(1) {
        let x = random_f32(n, 500 + t as u64);
        let y = random_f32(n, 600 + t as u64);
        let (dx, dy) = (gpu.upload(&x).unwrap(), gpu.upload(&y).unwrap());
        let Totals {
            sum,
            abs,
            ss,
            dot,
            dabs,
        } = Totals::of(&x, &y);
        let got = lib.reduce(&s, Reduce::Sum, &dx).unwrap();
        // Bound: f32 accumulation per thread, f64 across blocks: error ≤ 2^-20 · Σ|x|.
        assert!(
            (got - sum).abs() <= abs * 2f64.powi(-20) + 1e-6,
            "sum n={n}: {got} vs {sum}"
        );
        let norm = lib.l2_norm(&s, &dx).unwrap();
        assert!(
            (norm - ss.sqrt()).abs() <= ss.sqrt() * 2f64.powi(-20),
            "l2 n={n}"
        );
        let got = lib.dot(&s, &dx, &dy).unwrap();
        assert!(
            (got - dot).abs() <= dabs * 2f64.powi(-20) + 1e-6,
            "dot n={n}: {got} vs {dot}"
        );
        let mx = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mn = x.iter().cloned().fold(f32::INFINITY, f32::min);
        assert_eq!(
            lib.reduce(&s, Reduce::Max, &dx).unwrap(),
            mx as f64,
            "max n={n}"
        );
        assert_eq!(
            lib.reduce(&s, Reduce::Min, &dx).unwrap(),
            mn as f64,
            "min n={n}"
        );
        let am = x.iter().position(|&v| v == mx).unwrap();
        assert_eq!(lib.argmax(&s, &dx).unwrap(), am, "argmax n={n}");
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn totals_reuse_one_scratch_and_are_deterministic() {
    // Sums, sums of squares and dots finish in their kernel's last block, found by a ticket that
    // the block resets: many totals queued back to back on one scratch, at sizes that give
    // different grids (one block, a partial wave, a full wave), must each be right, and the same
    // input must give the same bits every time.
    let (gpu, lib, s) = setup();
    let mut scratch = lib.reduce_scratch().unwrap();
    for (t, &n) in [1usize, 4099, (1 << 20) + 3, 1 << 24].iter().enumerate() {
        let x = random_f32(n, 2100 + t as u64);
        let y = random_f32(n, 2200 + t as u64);
        let (dx, dy) = (gpu.upload(&x).unwrap(), gpu.upload(&y).unwrap());
        let Totals {
            sum,
            abs,
            ss,
            dot,
            dabs,
        } = Totals::of(&x, &y);
        let mut first = None;
        for rep in 0..3 {
            lib.reduce_async(&s, Reduce::Sum, &dx, &mut scratch)
                .unwrap();
            runtime::sync(&s).unwrap();
            let got = scratch.value().unwrap();
            assert!(
                (got - sum).abs() <= abs * 2f64.powi(-20) + 1e-6,
                "sum n={n} rep={rep}: {got} vs {sum}"
            );
            assert_eq!(
                *first.get_or_insert(got),
                got,
                "sum n={n} not deterministic"
            );
            lib.reduce_async(&s, Reduce::SumSquares, &dx, &mut scratch)
                .unwrap();
            runtime::sync(&s).unwrap();
            let got = scratch.value().unwrap();
            assert!(
                (got - ss).abs() <= ss * 2f64.powi(-20),
                "sumsq n={n} rep={rep}"
            );
            lib.dot_async(&s, &dx, &dy, &mut scratch).unwrap();
            runtime::sync(&s).unwrap();
            let got = scratch.value().unwrap();
            assert!(
                (got - dot).abs() <= dabs * 2f64.powi(-20) + 1e-6,
                "dot n={n} rep={rep}: {got} vs {dot}"
            );
        }
        // Queued back to back without a sync between them: the last one's value remains.
        for _ in 0..4 {
            lib.reduce_async(&s, Reduce::SumSquares, &dx, &mut scratch)
                .unwrap();
            lib.dot_async(&s, &dx, &dy, &mut scratch).unwrap();
        }
        lib.reduce_async(&s, Reduce::Sum, &dx, &mut scratch)
            .unwrap();
        runtime::sync(&s).unwrap();
        assert_eq!(
            scratch.value().unwrap(),
            first.unwrap(),
            "sum n={n} after a queue"
        );
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn f64_sum_and_dot_match_compensated_references() {
    let (gpu, lib, s) = setup();
    for (t, &n) in sizes().iter().enumerate().skip(1) {
        let x: Vec<f64> = random_f32(n, 1700 + t as u64)
            .iter()
            .map(|&v| v as f64 * 1.000_000_7)
            .collect();
        let y: Vec<f64> = random_f32(n, 1800 + t as u64)
            .iter()
            .map(|&v| v as f64 * 0.999_999_3)
            .collect();
        let (dx, dy) = (gpu.upload(&x).unwrap(), gpu.upload(&y).unwrap());
        // Kahan-compensated references; bound: f64 accumulation error ≤ 2^-45 · Σ|terms|.
        let kahan = |terms: &mut dyn Iterator<Item = f64>| {
            let (mut sum, mut c, mut mag) = (0f64, 0f64, 0f64);
            for v in terms {
                mag += v.abs();
                let yk = v - c;
                let t = sum + yk;
                c = (t - sum) - yk;
                sum = t;
            }
            (sum, mag)
        };
        let (want, mag) = kahan(&mut x.iter().copied());
        let got = lib.sum(&s, &dx).unwrap();
        assert!(
            (got - want).abs() <= mag * 2f64.powi(-45),
            "sum f64 n={n}: {got} vs {want}"
        );
        let (want, mag) = kahan(&mut x.iter().zip(&y).map(|(a, b)| a * b));
        let got = lib.dot(&s, &dx, &dy).unwrap();
        assert!(
            (got - want).abs() <= mag * 2f64.powi(-45),
            "dot f64 n={n}: {got} vs {want}"
        );
    }
    let a = gpu.upload(&[1.0f64; 3]).unwrap();
    let b = gpu.upload(&[1.0f64; 4]).unwrap();
    assert!(matches!(
        lib.dot(&s, &a, &b).unwrap_err(),
        Error::LengthMismatch { .. }
    ));
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn scans_match_sequential_references() {
    let (gpu, lib, s) = setup();
    for (t, &n) in sizes().iter().enumerate() {
        let mut scratch = lib.scan_scratch(n).unwrap();
        // i32 and u32: exact (wrapping) against a sequential scan.
        let xi: Vec<i32> = random_f32(n, 1300 + t as u64)
            .iter()
            .map(|v| (v * 1000.0) as i32)
            .collect();
        let xu: Vec<u32> = xi.iter().map(|v| v.unsigned_abs() * 4099).collect();
        let (dxi, dxu) = (gpu.upload(&xi).unwrap(), gpu.upload(&xu).unwrap());
        for kind in [ScanKind::Inclusive, ScanKind::Exclusive] {
            let exclusive = kind == ScanKind::Exclusive;
            let mut oi = gpu.alloc_filled::<i32>(n, 0xff).unwrap();
            lib.scan(&s, kind, &dxi, &mut oi, &mut scratch).unwrap();
            let mut ou = gpu.alloc_filled::<u32>(n, 0xff).unwrap();
            lib.scan(&s, kind, &dxu, &mut ou, &mut scratch).unwrap();
            runtime::sync(&s).unwrap();
            let (gi, gu) = (
                runtime::download(&oi).unwrap(),
                runtime::download(&ou).unwrap(),
            );
            let (mut ri, mut ru) = (0i32, 0u32);
            for i in 0..n {
                if !exclusive {
                    ri = ri.wrapping_add(xi[i]);
                    ru = ru.wrapping_add(xu[i]);
                }
                assert_eq!(gi[i], ri, "i32 excl={exclusive} n={n} i={i}");
                assert_eq!(gu[i], ru, "u32 excl={exclusive} n={n} i={i}");
                if exclusive {
                    ri = ri.wrapping_add(xi[i]);
                    ru = ru.wrapping_add(xu[i]);
                }
            }
        }
        // f32: against an f64 running sum, bounded by 2^-20 of the running |sum|.
        let x = random_f32(n, 1400 + t as u64);
        let dx = gpu.upload(&x).unwrap();
        for kind in [ScanKind::Inclusive, ScanKind::Exclusive] {
            let exclusive = kind == ScanKind::Exclusive;
            let mut out = gpu.alloc_filled::<f32>(n, 0xff).unwrap();
            lib.scan(&s, kind, &dx, &mut out, &mut scratch).unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&out).unwrap();
            let (mut run, mut mag) = (0f64, 0f64);
            for i in 0..n {
                if !exclusive {
                    run += x[i] as f64;
                    mag += (x[i] as f64).abs();
                }
                assert!(
                    (got[i] as f64 - run).abs() <= mag * 2f64.powi(-20) + 1e-6,
                    "f32 excl={exclusive} n={n} i={i}: {} vs {run}",
                    got[i]
                );
                if exclusive {
                    run += x[i] as f64;
                    mag += (x[i] as f64).abs();
                }
            }
        }
    }
}
