//! The GEMM tests shared by SGEMM (`tests/gpu_sgemm.rs`) and the tensor-core GEMMs
//! (`tests/gpu_tensor_gemm.rs`): the same three checks against the f64 reference, for any input
//! type [`Operand`] (f32, f16, bf16) with the kernel family's tolerance.
use super::{Operand, random_operand, setup};
use gpukit::ops::{Gemm, StridedBatch};
use gpukit::runtime;
use gpukit_test_support::gemm::{GemmRef, rel_err};
use gpukit_test_support::reference::random_nonzero;

/// Every `(m, n, k)` of `shapes` at three `(alpha, beta)`: the whole C against the reference
/// (beta = 0 starts from NaNs: C must not be read). Inputs of shape `t` use seeds from
/// `seed + 10 t`.
pub fn awkward_shapes<T: Operand>(shapes: &[(usize, usize, usize)], seed: u64, tol: f64) {
    let (gpu, lib, s) = setup();
    for (t, &(m, n, kd)) in shapes.iter().enumerate() {
        let seed = seed + 10 * t as u64;
        let (a, aw) = random_operand::<T>(m * kd, seed);
        let (b, bw) = random_operand::<T>(kd * n, seed + 1);
        let c0 = random_nonzero(m * n, seed + 2);
        let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
        for (alpha, beta) in [(1.0f32, 0.0f32), (1.5, -0.75), (-0.5, 1.0)] {
            let mut dc = if beta == 0.0 {
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
            let e = rel_err(&got, &r.product(&aw, &bw, &c0));
            assert!(
                e <= tol,
                "{}: m={m} n={n} k={kd} alpha={alpha} beta={beta}: relative error {e:e}",
                T::NAME
            );
        }
    }
}

/// 1000³, 1024³ and 1001×999×1003 with alpha = 0.75, beta = 0.5, checked on every corner and
/// edge of the 128- and 256-wide tile grids plus 3000 interior points drawn from
/// `sample_seed`; inputs from `seed`, `seed + 1`, `seed + 2`.
pub fn large_sampled<T: Operand>(seed: u64, sample_seed: u64, tol: f64) {
    let (gpu, lib, s) = setup();
    for &(m, n, kd) in &[
        (1000usize, 1000usize, 1000usize),
        (1024, 1024, 1024),
        (1001, 999, 1003),
    ] {
        let (a, aw) = random_operand::<T>(m * kd, seed);
        let (b, bw) = random_operand::<T>(kd * n, seed + 1);
        let c0 = random_nonzero(m * n, seed + 2);
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
        let mut idx: Vec<(usize, usize)> = Vec::new();
        for i in [0, 1, 127, 128, m / 2, m - 2, m - 1] {
            for j in [0, 1, 127, 128, 255, 256, n / 2, n - 2, n - 1] {
                idx.push((i, j));
            }
        }
        let mut x = sample_seed;
        for _ in 0..3000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            idx.push(((x >> 33) as usize % m, (x >> 13) as usize % n));
        }
        let g: Vec<f32> = idx.iter().map(|&(i, j)| got[i * n + j]).collect();
        let w: Vec<f64> = idx
            .iter()
            .map(|&(i, j)| r.at(&aw, &bw, &c0, i, j))
            .collect();
        let e = rel_err(&g, &w);
        assert!(
            e <= tol,
            "{}: m={m} n={n} k={kd}: relative error {e:e} on {} samples",
            T::NAME,
            idx.len()
        );
    }
}

/// One strided-batch check: the product's shape `(m, n, k)` and the strides of A, B and C.
pub struct Batch {
    pub shape: (usize, usize, usize),
    pub strides: (usize, usize, usize),
}

/// A strided batch of 3 products per [`Batch`] with
/// alpha = 2, beta = -1: each product against the reference, and the gaps between the C
/// matrices untouched. Inputs from `seed`, `seed + 1`, `seed + 2`.
pub fn strided_batches<T: Operand>(cases: &[Batch], seed: u64, tol: f64) {
    let (gpu, lib, s) = setup();
    for &Batch {
        shape: (m, n, kd),
        strides: (sa, sb, sc),
    } in cases
    {
        let batch = 3;
        let (a, aw) = random_operand::<T>((batch - 1) * sa + m * kd, seed);
        let (b, bw) = random_operand::<T>((batch - 1) * sb + kd * n, seed + 1);
        let c0 = random_nonzero((batch - 1) * sc + m * n, seed + 2);
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
            let want = r.product(
                &aw[z * sa..z * sa + m * kd],
                &bw[z * sb..z * sb + kd * n],
                &c0[z * sc..z * sc + m * n],
            );
            let e = rel_err(&got[z * sc..z * sc + m * n], &want);
            assert!(
                e <= tol,
                "{}: batch {z} of m={m} n={n} k={kd}: relative error {e:e}",
                T::NAME
            );
        }
        for z in 0..batch - 1 {
            assert_eq!(
                &got[z * sc + m * n..(z + 1) * sc],
                &c0[z * sc + m * n..(z + 1) * sc]
            );
        }
    }
}
