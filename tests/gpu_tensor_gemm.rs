//! GPU tests of the tensor-core GEMMs (f16 / bf16 inputs, f32 accumulation and C:
//! `gpu-kernels/src/tensor_gemm.rs`) against the f64 CPU reference on random data at awkward
//! shapes, large sampled products and strided batches. `#[ignore]`d without a GPU.
mod common;
use common::{Half, random_half, setup};
use gpukit::ops::{Gemm, StridedBatch};
use gpukit::runtime;
use gpukit::runtime::half::{bf16, f16};
use gpukit_test_support::gemm::{GemmRef, rel_err};
use gpukit_test_support::reference::random_nonzero;

/// The tensor-core bound: inputs are exact in f16/bf16 and products exact in f32, so only the
/// f32 accumulation differs from the f64 reference.
const TENSOR_TOL: f64 = 1e-3;

/// Tiny and prime shapes (slow path: k or n not a multiple of 8), shapes with k and n
/// multiples of 8 but not of the 128×256×32 tile (fast path with edges), exact tiles, k = 0,
/// k not a multiple of 16, long k, vectors.
const TENSOR_SHAPES: [(usize, usize, usize); 16] = [
    (1, 1, 1),
    (2, 3, 5),
    (127, 253, 61),
    (129, 131, 33),
    (128, 256, 32),
    (256, 512, 64),
    (129, 264, 40),
    (200, 8, 8),
    (8, 200, 24),
    (130, 257, 7),
    (1, 1000, 3),
    (1000, 1, 13),
    (17, 19, 0),
    (300, 520, 1032),
    (5, 7, 1031),
    (64, 136, 16),
];

fn tensor_awkward_shapes<T: Half>() {
    let (gpu, lib, s) = setup();
    for (t, &(m, n, kd)) in TENSOR_SHAPES.iter().enumerate() {
        let seed = 5000 + 10 * t as u64;
        let (a, aw) = random_half::<T>(m * kd, seed);
        let (b, bw) = random_half::<T>(kd * n, seed + 1);
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
            let want = r.product(&aw, &bw, &c0);
            let e = rel_err(&got, &want);
            assert!(
                e <= TENSOR_TOL,
                "{}: m={m} n={n} k={kd} alpha={alpha} beta={beta}: relative error {e:e}",
                T::NAME
            );
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_f16_matches_cpu_at_awkward_shapes() {
    tensor_awkward_shapes::<f16>();
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_bf16_matches_cpu_at_awkward_shapes() {
    tensor_awkward_shapes::<bf16>();
}

fn tensor_1000_cubed<T: Half>() {
    let (gpu, lib, s) = setup();
    // 1000³ and 1024³: fast path (k, n multiples of 8); 1001×999×1003: slow path.
    for &(m, n, kd) in &[
        (1000usize, 1000usize, 1000usize),
        (1024, 1024, 1024),
        (1001, 999, 1003),
    ] {
        let (a, aw) = random_half::<T>(m * kd, 17);
        let (b, bw) = random_half::<T>(kd * n, 18);
        let c0 = random_nonzero(m * n, 19);
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
        // Every corner and edge of the 128×256 tile grid plus a deterministic interior spread.
        let mut idx: Vec<(usize, usize)> = Vec::new();
        for i in [0, 1, 127, 128, m / 2, m - 2, m - 1] {
            for j in [0, 1, 127, 128, 255, 256, n / 2, n - 2, n - 1] {
                idx.push((i, j));
            }
        }
        let mut x = 54321u64;
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
            e <= TENSOR_TOL,
            "{}: m={m} n={n} k={kd}: relative error {e:e} on {} samples",
            T::NAME,
            idx.len()
        );
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_f16_1000_cubed_sampled() {
    tensor_1000_cubed::<f16>();
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_bf16_1000_cubed_sampled() {
    tensor_1000_cubed::<bf16>();
}

fn tensor_strided_batched<T: Half>() {
    let (gpu, lib, s) = setup();
    // (shape, strides of A, B, C): fast path (strides multiples of 8, B shared by every
    // product), slow path (odd strides and shapes), and a tile-aligned shape.
    for &((m, n, kd), (sa, sb, sc)) in &[
        (
            (136usize, 264usize, 48usize),
            (136 * 48 + 8, 0, 136 * 264 + 16),
        ),
        ((37, 45, 11), (37 * 11 + 3, 45 * 11 + 1, 37 * 45 + 5)),
        ((128, 256, 64), (128 * 64, 64 * 256, 128 * 256)),
    ] {
        let batch = 3;
        let (a, aw) = random_half::<T>((batch - 1) * sa + m * kd, 31);
        let (b, bw) = random_half::<T>((batch - 1) * sb + kd * n, 32);
        let c0 = random_nonzero((batch - 1) * sc + m * n, 33);
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
                e <= TENSOR_TOL,
                "{}: batch {z} of m={m} n={n} k={kd}: relative error {e:e}",
                T::NAME
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
fn gemm_f16_strided_batched_matches_cpu() {
    tensor_strided_batched::<f16>();
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_bf16_strided_batched_matches_cpu() {
    tensor_strided_batched::<bf16>();
}

#[test]
fn half_inputs_are_exact_in_the_reference() {
    // The reference multiplies the widened f16/bf16 values: widening is exact and round-trips.
    let (h, w) = random_half::<f16>(1000, 7);
    assert!(
        h.iter()
            .zip(&w)
            .all(|(&h, &w)| f16::from_f32(w) == h && w != 0.0)
    );
    let (h, w) = random_half::<bf16>(1000, 7);
    assert!(
        h.iter()
            .zip(&w)
            .all(|(&h, &w)| bf16::from_f32(w) == h && w != 0.0)
    );
}
