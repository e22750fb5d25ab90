//! GPU tests of SGEMM (`gpu-kernels/src/gemm.rs`) against the f64 CPU reference on random data
//! at awkward shapes, large sampled products and strided batches. `#[ignore]`d without a GPU; run
//! with `--include-ignored` on a GPU machine.
mod common;
use common::setup;
use gpukit::ops::{Gemm, StridedBatch};
use gpukit::runtime;
use gpukit_test_support::gemm::{GemmRef, rel_err};
use gpukit_test_support::reference::random_nonzero;

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
    let (gpu, lib, s) = setup();
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
            let g = Gemm::new(m, n, kd).scaled(alpha, beta);
            lib.gemm(&s, &g, &da, &db, &mut dc).unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&dc).unwrap();
            let r = GemmRef {
                m,
                n,
                k: kd,
                alpha,
                beta,
            };
            let want = r.product(&a, &b, &c0);
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
    let (gpu, lib, s) = setup();
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
        let r = GemmRef {
            m,
            n,
            k: kd,
            alpha,
            beta,
        };
        let g = Gemm::new(m, n, kd).scaled(alpha, beta);
        lib.gemm(&s, &g, &da, &db, &mut dc).unwrap();
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
        let w: Vec<f64> = idx.iter().map(|&(i, j)| r.at(&a, &b, &c0, i, j)).collect();
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
    let (gpu, lib, s) = setup();
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
        let r = GemmRef {
            m,
            n,
            k: kd,
            alpha,
            beta,
        };
        let g = Gemm::new(m, n, kd)
            .scaled(alpha, beta)
            .batched(StridedBatch {
                count: batch,
                stride_a: sa,
                stride_b: sb,
                stride_c: sc,
            });
        lib.gemm(&s, &g, &da, &db, &mut dc).unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&dc).unwrap();
        for z in 0..batch {
            let want = r.product(&a[z * sa..z * sa + m * kd], &b, &c0[z * sc..z * sc + m * n]);
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
