//! GPU tests of the GEMM kernels against a CPU f64 reference on random data at awkward shapes.
//! `#[ignore]`d without a GPU; run with `--include-ignored` on a GPU machine. The CPU parts
//! (reference, error norm, sampling) are tested here without a GPU.
use gpukit::gemm::{sgemm, sgemm_strided_batched};
use gpukit::kernels::Kernels;
use gpukit::reference::random_f32;
use gpukit::runtime::{self, Error, Gpu};

/// C = alpha * A * B + beta * C0 in f64 (row-major; A m×k, B k×n).
fn gemm_ref(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c0: &[f32],
) -> Vec<f64> {
    let mut out = vec![0.0f64; m * n];
    for i in 0..m {
        for p in 0..k {
            let aip = a[i * k + p] as f64;
            let brow = &b[p * n..(p + 1) * n];
            let orow = &mut out[i * n..(i + 1) * n];
            for (o, &bv) in orow.iter_mut().zip(brow) {
                *o += aip * bv as f64;
            }
        }
        for j in 0..n {
            let old = if beta == 0.0 {
                0.0
            } else {
                beta as f64 * c0[i * n + j] as f64
            };
            out[i * n + j] = alpha as f64 * out[i * n + j] + old;
        }
    }
    out
}

/// One element of the reference (for sampled checks of large products).
fn gemm_ref_at(
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c0: &[f32],
    i: usize,
    j: usize,
) -> f64 {
    let dot: f64 = (0..k)
        .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
        .sum();
    let old = if beta == 0.0 {
        0.0
    } else {
        beta as f64 * c0[i * n + j] as f64
    };
    alpha as f64 * dot + old
}

/// ‖got − want‖₂ / ‖want‖₂ (0 when both are empty or zero; infinite on NaN).
fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&g, &w) in got.iter().zip(want) {
        if g.is_nan() {
            return f64::INFINITY;
        }
        num += (g as f64 - w).powi(2);
        den += w * w;
    }
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// Random values in [-1, 1) with no exact zeros, so a skipped element cannot pass by accident.
fn random_nonzero(n: usize, seed: u64) -> Vec<f32> {
    random_f32(n, seed)
        .into_iter()
        .map(|v| if v.abs() < 1e-3 { 0.5 } else { v })
        .collect()
}

fn setup() -> (Gpu, Kernels, runtime::Stream) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).expect("kernels load");
    let s = gpu.stream().unwrap();
    (gpu, k, s)
}

/// Tiny primes, non-multiples of every tile (128×128×8 and the 4-wide vectors), exact tiles
/// (the tiled kernel), k = 0, vectors.
const SHAPES: [(usize, usize, usize); 14] = [
    (1, 1, 1),
    (2, 3, 5),
    (127, 253, 61),
    (129, 131, 9),
    (128, 128, 8),
    (256, 384, 64),
    (384, 256, 72),
    (130, 129, 7),
    (1, 1000, 3),
    (1000, 1, 13),
    (17, 19, 0),
    (64, 200, 1),
    (300, 260, 260),
    (5, 7, 1031),
];

#[test]
#[ignore = "needs a CUDA GPU"]
fn sgemm_matches_cpu_at_awkward_shapes() {
    let (gpu, k, s) = setup();
    for (t, &(m, n, kd)) in SHAPES.iter().enumerate() {
        let seed = 1000 + 10 * t as u64;
        let a = random_nonzero(m * kd, seed);
        let b = random_nonzero(kd * n, seed + 1);
        let c0 = random_nonzero(m * n, seed + 2);
        let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
        for (alpha, beta) in [(1.0f32, 0.0f32), (1.5, -0.75), (-0.5, 1.0)] {
            let mut dc = if beta == 0.0 {
                // beta = 0 must not read C: start from NaNs (all bits set).
                gpu.alloc_filled::<f32>(m * n, 0xff).unwrap()
            } else {
                gpu.upload(&c0).unwrap()
            };
            sgemm(&k, &s, m, n, kd, alpha, &da, &db, beta, &mut dc).unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&dc).unwrap();
            let want = gemm_ref(m, n, kd, alpha, &a, &b, beta, &c0);
            let e = rel_err(&got, &want);
            assert!(
                e <= 1e-5,
                "m={m} n={n} k={kd} alpha={alpha} beta={beta}: relative error {e:e}"
            );
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn sgemm_1000_cubed_sampled() {
    let (gpu, k, s) = setup();
    for &(m, n, kd) in &[
        (1000usize, 1000usize, 1000usize),
        (1024, 1024, 1024),
        (1001, 999, 1003),
    ] {
        let a = random_nonzero(m * kd, 7);
        let b = random_nonzero(kd * n, 8);
        let c0 = random_nonzero(m * n, 9);
        let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
        let mut dc = gpu.upload(&c0).unwrap();
        let (alpha, beta) = (0.75f32, 0.5f32);
        sgemm(&k, &s, m, n, kd, alpha, &da, &db, beta, &mut dc).unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&dc).unwrap();
        // Every corner and edge of the tile grid plus a deterministic spread of interior points.
        let mut idx: Vec<(usize, usize)> = Vec::new();
        for i in [0, 1, 127, 128, m / 2, m - 2, m - 1] {
            for j in [0, 1, 127, 128, n / 2, n - 2, n - 1] {
                idx.push((i, j));
            }
        }
        let mut x = 12345u64;
        for _ in 0..3000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            idx.push(((x >> 33) as usize % m, (x >> 13) as usize % n));
        }
        let g: Vec<f32> = idx.iter().map(|&(i, j)| got[i * n + j]).collect();
        let w: Vec<f64> = idx
            .iter()
            .map(|&(i, j)| gemm_ref_at(n, kd, alpha, &a, &b, beta, &c0, i, j))
            .collect();
        let e = rel_err(&g, &w);
        assert!(
            e <= 1e-5,
            "m={m} n={n} k={kd}: relative error {e:e} on {} samples",
            idx.len()
        );
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn sgemm_strided_batched_matches_cpu() {
    let (gpu, k, s) = setup();
    // Tiled (256×128×16) and edge (37×45×11) shapes; B shared by all products (stride 0),
    // A and C with gaps between matrices.
    for &(m, n, kd) in &[(256usize, 128usize, 16usize), (37, 45, 11)] {
        let batch = 3;
        let (sa, sb, sc) = (m * kd + 8, 0, m * n + 4);
        let a = random_nonzero((batch - 1) * sa + m * kd, 21);
        let b = random_nonzero(kd * n, 22);
        let c0 = random_nonzero((batch - 1) * sc + m * n, 23);
        let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
        let mut dc = gpu.upload(&c0).unwrap();
        let (alpha, beta) = (2.0f32, -1.0f32);
        sgemm_strided_batched(
            &k, &s, m, n, kd, batch, alpha, &da, sa, &db, sb, beta, &mut dc, sc,
        )
        .unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&dc).unwrap();
        for z in 0..batch {
            let want = gemm_ref(
                m,
                n,
                kd,
                alpha,
                &a[z * sa..z * sa + m * kd],
                &b,
                beta,
                &c0[z * sc..z * sc + m * n],
            );
            let e = rel_err(&got[z * sc..z * sc + m * n], &want);
            assert!(
                e <= 1e-5,
                "batch {z} of m={m} n={n} k={kd}: relative error {e:e}"
            );
        }
        // The gaps between C matrices are untouched.
        for z in 0..batch - 1 {
            assert_eq!(
                &got[z * sc + m * n..(z + 1) * sc],
                &c0[z * sc + m * n..(z + 1) * sc]
            );
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn sgemm_shape_errors_launch_nothing() {
    let (gpu, k, s) = setup();
    let (m, n, kd) = (4usize, 5usize, 3usize);
    let a = gpu.upload(&random_nonzero(m * kd, 1)).unwrap();
    let b = gpu.upload(&random_nonzero(kd * n, 2)).unwrap();
    let c0 = random_nonzero(m * n, 3);
    let mut c = gpu.upload(&c0).unwrap();
    let bad_a = gpu.upload(&random_nonzero(m * kd + 1, 4)).unwrap();
    let short_c0 = random_nonzero(m * n - 1, 5);
    let mut short_c = gpu.upload(&short_c0).unwrap();
    let is_invalid = |r: runtime::Result<()>| matches!(r, Err(Error::InvalidArgument { .. }));
    // A too long, B for the wrong k, C too short, m and n swapped.
    assert!(is_invalid(sgemm(
        &k, &s, m, n, kd, 1.0, &bad_a, &b, 0.0, &mut c
    )));
    assert!(is_invalid(sgemm(
        &k,
        &s,
        m,
        n,
        kd + 1,
        1.0,
        &a,
        &b,
        0.0,
        &mut c
    )));
    assert!(is_invalid(sgemm(
        &k,
        &s,
        m,
        n,
        kd,
        1.0,
        &a,
        &b,
        0.0,
        &mut short_c
    )));
    assert!(is_invalid(sgemm(
        &k, &s, n, m, kd, 1.0, &a, &b, 0.0, &mut c
    )));
    // Overflowing shapes are errors, not panics.
    assert!(is_invalid(sgemm(
        &k,
        &s,
        usize::MAX,
        2,
        2,
        1.0,
        &a,
        &b,
        0.0,
        &mut c
    )));
    // Batched: overlapping outputs, a buffer too short for its last matrix, too many matrices.
    assert!(is_invalid(sgemm_strided_batched(
        &k, &s, m, n, kd, 2, 1.0, &a, 0, &b, 0, 0.0, &mut c, 1
    )));
    assert!(is_invalid(sgemm_strided_batched(
        &k,
        &s,
        m,
        n,
        kd,
        2,
        1.0,
        &a,
        m * kd,
        &b,
        0,
        0.0,
        &mut c,
        m * n
    )));
    assert!(is_invalid(sgemm_strided_batched(
        &k,
        &s,
        m,
        n,
        kd,
        70_000,
        1.0,
        &a,
        0,
        &b,
        0,
        0.0,
        &mut c,
        m * n
    )));
    runtime::sync(&s).unwrap();
    assert_eq!(
        runtime::download(&c).unwrap(),
        c0,
        "C changed by a rejected call"
    );
    assert_eq!(
        runtime::download(&short_c).unwrap(),
        short_c0,
        "C changed by a rejected call"
    );
    // The error names the shapes.
    let msg = sgemm(&k, &s, m, n, kd, 1.0, &bad_a, &b, 0.0, &mut c)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("m=4 n=5 k=3"), "{msg}");
}

// CPU-only checks of the reference and the error measure the GPU tests rely on.

#[test]
fn reference_computes_the_definition() {
    // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50]
    let (a, b, c0) = (
        [1.0, 2.0, 3.0, 4.0],
        [5.0, 6.0, 7.0, 8.0],
        [1.0, -1.0, 2.0, 0.5],
    );
    assert_eq!(
        gemm_ref(2, 2, 2, 1.0, &a, &b, 0.0, &c0),
        vec![19.0, 22.0, 43.0, 50.0]
    );
    assert_eq!(
        gemm_ref(2, 2, 2, 2.0, &a, &b, -1.0, &c0),
        vec![37.0, 45.0, 84.0, 99.5]
    );
    // beta = 0 ignores NaNs in C; k = 0 gives beta * C.
    assert_eq!(
        gemm_ref(1, 1, 1, 1.0, &[3.0], &[2.0], 0.0, &[f32::NAN]),
        vec![6.0]
    );
    assert_eq!(
        gemm_ref(1, 2, 0, 1.0, &[], &[], 3.0, &[1.0, 2.0]),
        vec![3.0, 6.0]
    );
    // Non-square: (1×3) * (3×2).
    assert_eq!(
        gemm_ref(
            1,
            2,
            3,
            1.0,
            &[1.0, 2.0, 3.0],
            &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            0.0,
            &[0.0; 2]
        ),
        vec![4.0, 5.0]
    );
    for (i, j) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        assert_eq!(
            gemm_ref_at(2, 2, 2.0, &a, &b, -1.0, &c0, i, j),
            gemm_ref(2, 2, 2, 2.0, &a, &b, -1.0, &c0)[i * 2 + j]
        );
    }
}

#[test]
fn relative_error_measure() {
    assert_eq!(rel_err(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
    let e = rel_err(&[1.0, 2.0], &[1.0, 2.0 + 1e-3]);
    let want = (2.0f64 - 2.001).abs() / (1.0 + 2.001f64 * 2.001).sqrt();
    assert!((e - want).abs() < 1e-12, "{e} vs {want}");
    assert_eq!(rel_err(&[f32::NAN], &[1.0]), f64::INFINITY);
    assert_eq!(rel_err(&[], &[]), 0.0);
    assert!(
        random_nonzero(10_000, 3)
            .iter()
            .all(|&v| v != 0.0 && (-1.0..1.0).contains(&v))
    );
}
