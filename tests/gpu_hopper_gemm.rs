//! GPU tests of the Hopper (sm_90a) GEMMs through [`gpukit::Library::gemm_tc`]
//! (`host/ops/hopper_gemm.rs`, kernels in `gpu-kernels/src/hopper_gemm.rs`) against an f64 CPU
//! reference of `act(alpha · A·Bᵀ + beta · C + bias)` on random nonzero inputs, with C
//! poisoned (NaN bits) first. `#[ignore]`d without a GPU; they need an H200 / H100 (sm_90).
//!
//! Bounds (relative Frobenius error): inputs are exact in their type and accumulation is f32,
//! so the error is the output rounding (bf16 2^-9, f16 2^-12) plus accumulation: bf16 / f16
//! 1e-2, f32 out from 16-bit inputs 1e-3; tf32 (inputs rounded to 10 mantissa bits by the copy
//! engine, reference on the unrounded f32) 1e-3; fp8 (the tensor cores accumulate fp8 products
//! with fewer than 32 bits; measured 2e-4 – 9e-4 with f32 out, 2.6e-3 with bf16 out) 5e-3 with
//! f32 out, 1e-2 with bf16 out.
mod common;
use common::setup;
use gpukit::ops::{
    Fp8E4M3, Fp8E5M2, GemmActivation, GemmCluster, TcKernel, TcOperand, TensorBatch, TensorGemm,
};
use gpukit::runtime::half::{bf16, f16};
use gpukit::runtime::{self, DeviceCopy};
use gpukit_test_support::gemm::rel_err;
use gpukit_test_support::reference::random_nonzero;

/// Conversions between the element types and f32.
trait Elem: DeviceCopy + Default {
    fn from_f32(v: f32) -> Self;
    fn to_f32(self) -> f32;
}

macro_rules! elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            fn from_f32(v: f32) -> Self {
                <$t>::from_f32(v)
            }
            fn to_f32(self) -> f32 {
                <$t>::to_f32(self)
            }
        }
    )*};
}
elem!(bf16, f16, Fp8E4M3, Fp8E5M2);

impl Elem for f32 {
    fn from_f32(v: f32) -> Self {
        v
    }
    fn to_f32(self) -> f32 {
        self
    }
}

/// Random nonzero values rounded to `T`, and their exact f32 values.
fn random<T: Elem>(n: usize, seed: u64) -> (Vec<T>, Vec<f32>) {
    let h: Vec<T> = random_nonzero(n, seed)
        .into_iter()
        .map(|v| T::from_f32(if v.abs() < 0.02 { 0.5 } else { v }))
        .collect();
    let w = h.iter().map(|v| v.to_f32()).collect();
    (h, w)
}

fn gelu(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// f64 reference of every batch, packed m×n outputs (row stride `g.ldc` in `c0`).
fn reference(g: &TensorGemm, a: &[f32], b: &[f32], c0: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
    let count = g.batch.map_or(1, |b| b.count);
    let (sa, sb, sc) = g
        .batch
        .map_or((0, 0, 0), |b| (b.stride_a, b.stride_b, b.stride_c));
    let mut out = Vec::with_capacity(count * g.m * g.n);
    for z in 0..count {
        for i in 0..g.m {
            for j in 0..g.n {
                let mut acc = 0.0f64;
                for kk in 0..g.k {
                    acc += a[z * sa + i * g.lda + kk] as f64 * b[z * sb + j * g.ldb + kk] as f64;
                }
                let mut x = g.alpha as f64 * acc;
                if g.beta != 0.0 {
                    x += g.beta as f64 * c0[z * sc + i * g.ldc + j] as f64;
                }
                if let Some(bias) = bias {
                    x += bias[j] as f64;
                }
                out.push(match g.activation {
                    GemmActivation::None => x,
                    GemmActivation::Relu => x.max(0.0),
                    GemmActivation::Gelu => gelu(x),
                });
            }
        }
    }
    out
}

/// Runs `g` (packed rows; any batch strides) on random data and returns the relative error.
/// With `beta == 0`, C starts as NaN bits (never read). `repeat` runs the call again on the
/// same C (split-K counters must have been left at zero).
fn run<A, B, O>(g: &TensorGemm, with_bias: bool, split: bool, seed: u64) -> f64
where
    A: TcKernel<B, O> + Elem,
    B: TcOperand + Elem,
    O: Elem,
{
    let (gpu, lib, s) = setup();
    let count = g.batch.map_or(1, |b| b.count);
    let (sa, sb, sc) = g
        .batch
        .map_or((g.m * g.lda, g.n * g.ldb, g.m * g.ldc), |b| {
            (b.stride_a, b.stride_b, b.stride_c)
        });
    let len = |stride: usize, rows: usize, ld: usize| (count - 1) * stride + rows * ld;
    // k = 0 reads neither A nor B; one element keeps the allocations nonempty.
    let (a, aw) = random::<A>(len(sa, g.m, g.lda).max(1), seed);
    let (b, bw) = random::<B>(len(sb, g.n, g.ldb).max(1), seed + 1);
    let (c0, c0w) = random::<O>(len(sc, g.m, g.ldc), seed + 2);
    let (bias, biasw) = random::<O>(g.n, seed + 3);
    let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
    let dbias = gpu.upload(&bias).unwrap();
    let mut dc = if g.beta == 0.0 {
        gpu.alloc_filled::<O>(c0.len(), 0xff).unwrap()
    } else {
        gpu.upload(&c0).unwrap()
    };
    let mut scratch = split.then(|| lib.tc_scratch::<A>(g).unwrap());
    lib.gemm_tc(
        &s,
        g,
        &da,
        &db,
        &mut dc,
        with_bias.then_some(&*dbias),
        scratch.as_mut(),
    )
    .unwrap();
    runtime::sync(&s).unwrap();
    let got: Vec<f32> = runtime::download(&dc)
        .unwrap()
        .into_iter()
        .map(|v| v.to_f32())
        .collect();
    let want = reference(g, &aw, &bw, &c0w, with_bias.then_some(&biasw[..]));
    // Compare the m×n block of every batch; the row padding past n must be untouched.
    let mut picked = Vec::with_capacity(want.len());
    for z in 0..count {
        for i in 0..g.m {
            for j in 0..g.ldc {
                let v = got[z * sc + i * g.ldc + j];
                if j < g.n {
                    picked.push(v);
                } else if g.beta == 0.0 {
                    assert!(v.is_nan(), "padding C[{z}][{i}][{j}] was written: {v}");
                }
            }
        }
    }
    if split {
        // Again on the same scratch: the counters were reset by the last launch.
        let mut dc2 = gpu.alloc_filled::<O>(c0.len(), 0xff).unwrap();
        if g.beta != 0.0 {
            dc2 = gpu.upload(&c0).unwrap();
        }
        lib.gemm_tc(
            &s,
            g,
            &da,
            &db,
            &mut dc2,
            with_bias.then_some(&*dbias),
            scratch.as_mut(),
        )
        .unwrap();
        runtime::sync(&s).unwrap();
        let again: Vec<f32> = runtime::download(&dc2)
            .unwrap()
            .into_iter()
            .map(|v| v.to_f32())
            .collect();
        // The last-arriving split adds the partials in arrival order, so a repeat is not
        // bit-identical (measured on the H200): it must match the reference as well as the
        // first run does, which proves the counters were reset.
        let mut again_picked = Vec::with_capacity(want.len());
        for z in 0..count {
            for i in 0..g.m {
                again_picked.extend_from_slice(&again[z * sc + i * g.ldc..][..g.n]);
            }
        }
        let again_err = rel_err(&again_picked, &want);
        assert!(
            again_err <= 1e-2,
            "split-K repeat departs from the reference: {again_err:e}"
        );
    }
    rel_err(&picked, &want)
}

fn expect<A, B, O>(label: &str, g: TensorGemm, bias: bool, split: bool, tol: f64, seed: u64)
where
    A: TcKernel<B, O> + Elem,
    B: TcOperand + Elem,
    O: Elem,
{
    let e = run::<A, B, O>(&g, bias, split, seed);
    assert!(
        e <= tol,
        "{label}: m={} n={} k={} batch={:?} alpha={} beta={} act={:?} bias={bias} cluster={:?}: relative error {e:e} > {tol:e}",
        g.m,
        g.n,
        g.k,
        g.batch.map(|b| b.count),
        g.alpha,
        g.beta,
        g.activation,
        g.cluster
    );
}

/// Awkward shapes: one element, edges in M, N and K (not multiples of the 128×256×64 tile),
/// several tiles, a batch of 3.
const SHAPES: [(usize, usize, usize, usize); 4] = [
    (1, 1, 16, 1),
    (129, 257, 80, 1),
    (300, 200, 512, 1),
    (200, 300, 128, 3),
];

fn shapes<A, B, O>(label: &str, tol: f64)
where
    A: TcKernel<B, O> + Elem,
    B: TcOperand + Elem,
    O: Elem,
{
    for (t, &(m, n, k, count)) in SHAPES.iter().enumerate() {
        for cluster in [GemmCluster::One, GemmCluster::Two] {
            let g = TensorGemm::new(m, n, k)
                .cluster(cluster)
                .packed_batch(count);
            expect::<A, B, O>(label, g, false, false, tol, 100 + 10 * t as u64);
        }
    }
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn hopper_bf16_matches_cpu() {
    shapes::<bf16, bf16, bf16>("bf16 -> bf16", 1e-2);
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn hopper_f16_matches_cpu() {
    shapes::<f16, f16, f16>("f16 -> f16", 1e-2);
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn hopper_f32_output_matches_cpu() {
    shapes::<bf16, bf16, f32>("bf16 -> f32", 1e-3);
    shapes::<f16, f16, f32>("f16 -> f32", 1e-3);
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn hopper_tf32_matches_cpu() {
    shapes::<f32, f32, f32>("tf32 -> f32", 1e-3);
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn hopper_fp8_matches_cpu() {
    shapes::<Fp8E4M3, Fp8E4M3, bf16>("e4m3 -> bf16", 1e-2);
    shapes::<Fp8E4M3, Fp8E4M3, f32>("e4m3 -> f32", 5e-3);
    shapes::<Fp8E4M3, Fp8E5M2, bf16>("e4m3 x e5m2 -> bf16", 1e-2);
    shapes::<Fp8E4M3, Fp8E5M2, f32>("e4m3 x e5m2 -> f32", 5e-3);
    // Per-tensor scales folded into alpha.
    let g = TensorGemm::new(129, 257, 80).fp8_scales(0.25, 3.0);
    expect::<Fp8E4M3, Fp8E4M3, f32>("e4m3 scaled", g, true, false, 5e-3, 7);
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn hopper_epilogue_matches_cpu() {
    let base = TensorGemm::new(129, 257, 80);
    for (alpha, beta, act) in [
        (0.5f32, 0.75f32, GemmActivation::Gelu),
        (-1.25, 0.5, GemmActivation::Relu),
        (1.0, 0.0, GemmActivation::Relu),
        (2.0, -1.0, GemmActivation::None),
    ] {
        for cluster in [GemmCluster::One, GemmCluster::Two] {
            let g = base.scaled(alpha, beta).activation(act).cluster(cluster);
            expect::<bf16, bf16, bf16>("epilogue bf16", g, true, false, 1e-2, 21);
            expect::<bf16, bf16, f32>("epilogue f32", g, true, false, 1e-3, 22);
            expect::<f16, f16, f16>("epilogue f16", g, true, false, 1e-2, 23);
        }
    }
    // Batched, with bias and GELU.
    let g = TensorGemm::new(200, 300, 128)
        .scaled(0.5, -0.5)
        .activation(GemmActivation::Gelu)
        .packed_batch(2);
    expect::<bf16, bf16, f32>("batched epilogue", g, true, false, 1e-3, 24);
    // k = 0: C = act(beta · C + bias).
    let g = TensorGemm::new(64, 64, 0)
        .scaled(1.0, 0.5)
        .activation(GemmActivation::Relu);
    expect::<bf16, bf16, f32>("k = 0", g, true, false, 1e-6, 25);
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn hopper_strided_layouts_match_cpu() {
    // Padded rows (lda, ldb beyond k; ldc beyond n: the padding stays NaN) and batch gaps.
    let mut g = TensorGemm::new(130, 260, 96);
    g.lda = 96 + 32;
    g.ldb = 96 + 8;
    g.ldc = 260 + 5;
    g.batch = Some(TensorBatch {
        count: 2,
        stride_a: 130 * 128 + 64,
        stride_b: 260 * 104 + 8,
        stride_c: 130 * 265 + 3,
    });
    expect::<bf16, bf16, f32>("strided", g, false, false, 1e-3, 31);
    expect::<bf16, bf16, bf16>("strided bf16", g, false, false, 1e-2, 32);
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn hopper_split_k_matches_cpu_and_repeats() {
    // 2 tiles on 132 SMs: split-K (8 splits); run twice on one scratch.
    let g = TensorGemm::new(128, 512, 2048);
    expect::<bf16, bf16, bf16>("split-K", g, false, true, 1e-2, 41);
    let g = TensorGemm::new(300, 200, 1024)
        .scaled(0.5, 0.25)
        .activation(GemmActivation::Gelu);
    expect::<bf16, bf16, f32>("split-K epilogue", g, true, true, 1e-3, 42);
    expect::<Fp8E4M3, Fp8E4M3, bf16>("split-K fp8", g, true, true, 1e-2, 43);
}

#[test]
#[ignore = "needs an sm_90 GPU"]
fn hopper_bad_input_is_an_error_and_c_untouched() {
    let (gpu, lib, s) = setup();
    let poison = || gpu.alloc_filled::<bf16>(16 * 16, 0xff).unwrap();
    let a = gpu.upload(&vec![bf16::from_f32(0.5); 16 * 16]).unwrap();
    let b = gpu.upload(&vec![bf16::from_f32(0.5); 16 * 16]).unwrap();
    let unchanged = |c: &gpukit::runtime::DeviceBuffer<bf16>| {
        runtime::sync(&s).unwrap();
        let v = runtime::download(c).unwrap();
        assert!(v.iter().all(|x| x.to_bits() == 0xffff), "C was written");
    };
    // k = 12 bf16 = 24 bytes: not a multiple of 16 bytes.
    let mut c = poison();
    let e = lib
        .gemm_tc(&s, &TensorGemm::new(16, 16, 12), &a, &b, &mut c, None, None)
        .unwrap_err();
    assert!(e.to_string().contains("16 bytes"), "{e}");
    unchanged(&c);
    // A too short for 16×16×32.
    let e = lib
        .gemm_tc(&s, &TensorGemm::new(16, 16, 32), &a, &b, &mut c, None, None)
        .unwrap_err();
    assert!(e.to_string().contains("A has"), "{e}");
    unchanged(&c);
    // Bias of the wrong length.
    let short = gpu.upload(&[bf16::from_f32(1.0); 15]).unwrap();
    let e = lib
        .gemm_tc(
            &s,
            &TensorGemm::new(16, 16, 16),
            &a,
            &b,
            &mut c,
            Some(&short),
            None,
        )
        .unwrap_err();
    assert!(e.to_string().contains("bias"), "{e}");
    unchanged(&c);
    // Empty problems are no-ops.
    lib.gemm_tc(&s, &TensorGemm::new(0, 16, 16), &a, &b, &mut c, None, None)
        .unwrap();
    lib.gemm_tc(
        &s,
        &TensorGemm::new(16, 16, 16).packed_batch(0),
        &a,
        &b,
        &mut c,
        None,
        None,
    )
    .unwrap();
    unchanged(&c);
    // Split-K scratch too small for the call.
    let g = TensorGemm::new(128, 512, 2048);
    let (a2, b2) = (
        gpu.alloc_zeroed::<bf16>(128 * 2048).unwrap(),
        gpu.alloc_zeroed::<bf16>(512 * 2048).unwrap(),
    );
    let mut c2 = gpu.alloc_zeroed::<bf16>(128 * 512).unwrap();
    let mut small = lib
        .tc_scratch::<bf16>(&TensorGemm::new(8192, 8192, 64))
        .unwrap();
    let e = lib
        .gemm_tc(&s, &g, &a2, &b2, &mut c2, None, Some(&mut small))
        .unwrap_err();
    assert!(e.to_string().contains("scratch"), "{e}");
}
