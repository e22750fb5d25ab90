//! GPU tests of the GEMM kernels against a CPU f64 reference on random data at awkward shapes.
//! `#[ignore]`d without a GPU; run with `--include-ignored` on a GPU machine. The CPU parts
//! (reference, error norm, sampling) are tested here without a GPU.
use gpukit::gemm::{sgemm, sgemm_strided_batched};
use gpukit::kernels::Kernels;
use gpukit::runtime::{self, Error, Gpu};
use gpukit_test_support::reference::random_f32;

/// C = alpha * A * B + beta * C0 in f64 (row-major; A m×k, B k×n).
#[allow(clippy::too_many_arguments)]
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
#[allow(clippy::too_many_arguments)]
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

// Tensor-core GEMMs (f16 / bf16 inputs, f32 accumulation and C): gpu-kernels/src/tensor_gemm.rs.

use gpukit::gemm::{gemm_bf16, gemm_bf16_strided_batched, gemm_f16, gemm_f16_strided_batched};
use gpukit::runtime::half::{bf16, f16};
use gpukit::runtime::{DeviceCopy, DeviceSlice, Stream};

/// The tensor-core bound: inputs are exact in f16/bf16 and products exact in f32, so only the
/// f32 accumulation differs from the f64 reference.
const TENSOR_TOL: f64 = 1e-3;

/// f16 / bf16 inputs of the tensor-core GEMM tests, with the host API of each.
trait TensorInput: DeviceCopy + Copy + Default + 'static {
    const NAME: &'static str;
    fn round(v: f32) -> Self;
    fn widen(self) -> f32;
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        k: &Kernels,
        s: &Stream,
        m: usize,
        n: usize,
        kd: usize,
        alpha: f32,
        a: &DeviceSlice<Self>,
        b: &DeviceSlice<Self>,
        beta: f32,
        c: &mut DeviceSlice<f32>,
    ) -> runtime::Result<()>;
    #[allow(clippy::too_many_arguments)]
    fn batched(
        k: &Kernels,
        s: &Stream,
        m: usize,
        n: usize,
        kd: usize,
        batch: usize,
        alpha: f32,
        a: &DeviceSlice<Self>,
        sa: usize,
        b: &DeviceSlice<Self>,
        sb: usize,
        beta: f32,
        c: &mut DeviceSlice<f32>,
        sc: usize,
    ) -> runtime::Result<()>;
}

macro_rules! tensor_input {
    ($t:ty, $name:literal, $gemm:ident, $batched:ident) => {
        impl TensorInput for $t {
            const NAME: &'static str = $name;
            fn round(v: f32) -> Self {
                <$t>::from_f32(v)
            }
            fn widen(self) -> f32 {
                self.to_f32()
            }
            fn gemm(
                k: &Kernels,
                s: &Stream,
                m: usize,
                n: usize,
                kd: usize,
                alpha: f32,
                a: &DeviceSlice<Self>,
                b: &DeviceSlice<Self>,
                beta: f32,
                c: &mut DeviceSlice<f32>,
            ) -> runtime::Result<()> {
                $gemm(k, s, m, n, kd, alpha, a, b, beta, c)
            }
            fn batched(
                k: &Kernels,
                s: &Stream,
                m: usize,
                n: usize,
                kd: usize,
                batch: usize,
                alpha: f32,
                a: &DeviceSlice<Self>,
                sa: usize,
                b: &DeviceSlice<Self>,
                sb: usize,
                beta: f32,
                c: &mut DeviceSlice<f32>,
                sc: usize,
            ) -> runtime::Result<()> {
                $batched(k, s, m, n, kd, batch, alpha, a, sa, b, sb, beta, c, sc)
            }
        }
    };
}
tensor_input!(f16, "f16", gemm_f16, gemm_f16_strided_batched);
tensor_input!(bf16, "bf16", gemm_bf16, gemm_bf16_strided_batched);

/// Random nonzero values rounded to `T`, and the same values widened (exactly) to f32 for the
/// reference.
fn random_half<T: TensorInput>(n: usize, seed: u64) -> (Vec<T>, Vec<f32>) {
    let h: Vec<T> = random_nonzero(n, seed).into_iter().map(T::round).collect();
    let w = h.iter().map(|v| v.widen()).collect();
    (h, w)
}

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

fn tensor_awkward_shapes<T: TensorInput>() {
    let (gpu, k, s) = setup();
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
            T::gemm(&k, &s, m, n, kd, alpha, &da, &db, beta, &mut dc).unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&dc).unwrap();
            let want = gemm_ref(m, n, kd, alpha, &aw, &bw, beta, &c0);
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

fn tensor_1000_cubed<T: TensorInput>() {
    let (gpu, k, s) = setup();
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
        T::gemm(&k, &s, m, n, kd, alpha, &da, &db, beta, &mut dc).unwrap();
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
            .map(|&(i, j)| gemm_ref_at(n, kd, alpha, &aw, &bw, beta, &c0, i, j))
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

fn tensor_strided_batched<T: TensorInput>() {
    let (gpu, k, s) = setup();
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
        T::batched(
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
                &aw[z * sa..z * sa + m * kd],
                &bw[z * sb..z * sb + kd * n],
                beta,
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

fn tensor_shape_errors<T: TensorInput>() {
    let (gpu, k, s) = setup();
    let (m, n, kd) = (4usize, 5usize, 3usize);
    let a = gpu.upload(&random_half::<T>(m * kd, 1).0).unwrap();
    let b = gpu.upload(&random_half::<T>(kd * n, 2).0).unwrap();
    let c0 = random_nonzero(m * n, 3);
    let mut c = gpu.upload(&c0).unwrap();
    let bad_a = gpu.upload(&random_half::<T>(m * kd + 1, 4).0).unwrap();
    let short_c0 = random_nonzero(m * n - 1, 5);
    let mut short_c = gpu.upload(&short_c0).unwrap();
    let is_invalid = |r: runtime::Result<()>| matches!(r, Err(Error::InvalidArgument { .. }));
    // A too long, B for the wrong k, C too short, m and n swapped, overflowing shapes.
    assert!(is_invalid(T::gemm(
        &k, &s, m, n, kd, 1.0, &bad_a, &b, 0.0, &mut c
    )));
    assert!(is_invalid(T::gemm(
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
    assert!(is_invalid(T::gemm(
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
    assert!(is_invalid(T::gemm(
        &k, &s, n, m, kd, 1.0, &a, &b, 0.0, &mut c
    )));
    assert!(is_invalid(T::gemm(
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
    assert!(is_invalid(T::batched(
        &k, &s, m, n, kd, 2, 1.0, &a, 0, &b, 0, 0.0, &mut c, 1
    )));
    assert!(is_invalid(T::batched(
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
    assert!(is_invalid(T::batched(
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
    let msg = T::gemm(&k, &s, m, n, kd, 1.0, &bad_a, &b, 0.0, &mut c)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("m=4 n=5 k=3"), "{msg}");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_f16_shape_errors_launch_nothing() {
    tensor_shape_errors::<f16>();
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_bf16_shape_errors_launch_nothing() {
    tensor_shape_errors::<bf16>();
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
