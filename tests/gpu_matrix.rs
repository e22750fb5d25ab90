//! GPU tests of the kernel library's matrix ops: transpose, GEMV (A and Aᵀ) and row softmax /
//! log-softmax against f64 references at awkward shapes. `#[ignore]`d without a GPU.
mod common;
use common::setup;
use gpukit::ops::{Gemv, Shape, SoftmaxKind};
use gpukit::runtime;
use gpukit_test_support::reference::random_f32;

/// (rows, cols) shapes: degenerate, primes, non-multiples of 32 and 4, and large.
const SHAPES: [(usize, usize); 6] = [
    (1, 1),
    (1, 37),
    (37, 1),
    (127, 253),
    (1000, 1003),
    (2048, 4096),
];

#[test]
#[ignore = "needs a CUDA GPU"]
fn transpose_matches_cpu() {
    let (gpu, lib, s) = setup();
    for (t, &(r, c)) in SHAPES.iter().enumerate() {
        let a = random_f32(r * c, 700 + t as u64);
        let da = gpu.upload(&a).unwrap();
        let mut out = gpu.alloc_filled::<f32>(r * c, 0xff).unwrap();
        lib.transpose(&s, &da, Shape::new(r, c), &mut out).unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&out).unwrap();
        for i in 0..r {
            for j in 0..c {
                assert_eq!(got[j * r + i], a[i * c + j], "{r}x{c} at ({i},{j})");
            }
        }
    }
    let da = gpu.upload(&random_f32(12, 1)).unwrap();
    let mut out = gpu.alloc_filled::<f32>(12, 0).unwrap();
    let e = lib
        .transpose(&s, &da, Shape::new(5, 3), &mut out)
        .unwrap_err();
    assert!(e.to_string().contains("5 × 3"), "{e}");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemv_both_orientations_match_f64_reference() {
    let (gpu, lib, s) = setup();
    for (t, &(r, c)) in SHAPES.iter().enumerate() {
        for transposed in [false, true] {
            let a = random_f32(r * c, 800 + t as u64);
            let (xn, yn) = if transposed { (r, c) } else { (c, r) };
            let x = random_f32(xn, 900 + t as u64);
            let y0 = random_f32(yn, 1000 + t as u64);
            let (alpha, beta) = (1.25f32, -0.5f32);
            let (da, dx) = (gpu.upload(&a).unwrap(), gpu.upload(&x).unwrap());
            let mut dy = gpu.upload(&y0).unwrap();
            let mut scratch = lib.gemv_scratch(c).unwrap();
            let g = Gemv::new(r, c).scaled(alpha, beta);
            let g = if transposed { g.transposed() } else { g };
            lib.gemv(&s, &g, &da, &dx, &mut dy, Some(&mut scratch))
                .unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&dy).unwrap();
            for o in 0..yn {
                let (mut dot, mut mag) = (0f64, 0f64);
                for i in 0..xn {
                    let av = if transposed {
                        a[i * c + o]
                    } else {
                        a[o * c + i]
                    } as f64;
                    dot += av * x[i] as f64;
                    mag += (av * x[i] as f64).abs();
                }
                let want = alpha as f64 * dot + beta as f64 * y0[o] as f64;
                let tol = 1e-5 * (alpha as f64 * mag + (beta * y0[o]).abs() as f64) + 1e-6;
                assert!(
                    (got[o] as f64 - want).abs() <= tol,
                    "{r}x{c} T={transposed} y[{o}] = {} vs {want}",
                    got[o]
                );
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn softmax_rows_match_f64_reference() {
    let (gpu, lib, s) = setup();
    for (t, &(r, c)) in [(1usize, 1usize), (3, 7), (37, 1021), (64, 4096), (5, 12000)]
        .iter()
        .enumerate()
    {
        let a: Vec<f32> = random_f32(r * c, 1100 + t as u64)
            .iter()
            .map(|v| v * 8.0)
            .collect();
        let da = gpu.upload(&a).unwrap();
        for kind in [SoftmaxKind::Softmax, SoftmaxKind::LogSoftmax] {
            let log = kind == SoftmaxKind::LogSoftmax;
            let mut out = gpu.alloc_filled::<f32>(r * c, 0xff).unwrap();
            lib.softmax_rows(&s, kind, &da, Shape::new(r, c), &mut out)
                .unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&out).unwrap();
            for i in 0..r {
                let row = &a[i * c..(i + 1) * c];
                let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
                let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
                for j in 0..c {
                    let g = got[i * c + j] as f64;
                    if log {
                        let want = a[i * c + j] as f64 - m - z.ln();
                        assert!(
                            (g - want).abs() <= 2e-5 * (1.0 + want.abs()),
                            "log {r}x{c} ({i},{j}): {g} vs {want}"
                        );
                    } else {
                        let want = (a[i * c + j] as f64 - m).exp() / z;
                        assert!(
                            (g - want).abs() <= 1e-5 * want + 1e-9,
                            "{r}x{c} ({i},{j}): {g} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
