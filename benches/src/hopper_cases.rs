//! Cases of the Hopper (sm_90a) GEMMs ([`gpukit::Library::gemm_tc`]): `C = A·Bᵀ` with A m×k
//! and B n×k row-major, at the shapes of the baseline script's `gemm` (bf16: 8192³, 4096³,
//! 4096×14336×4096, 4096×4096×14336, 16384×4096×4096, 2048³, 128×4096×4096 with split-K;
//! f16: 8192³, 4096³), `gemm_tf32` (f32 8192³), `gemm_fp8_e4m3` (e4m3 × e4m3, bf16 out, 8192³)
//! and `gemm_bias_gelu` (bf16, `gelu_tanh(A·Bᵀ + bias)` fused, 8192³). The output type is the
//! input type (f32 for tf32, bf16 for fp8), as torch's matmul and `_scaled_mm` write it.
//!
//! These rows need an sm_90 GPU (elsewhere they fail with the kernel's error, and the portable
//! tensor-core rows, `gemm_mma`, still run). Verified on sampled rows × columns (tile edges
//! included) against an f64 product of the exact inputs: relative Frobenius error ≤ 1e-2 for
//! bf16 / f16 / fp8 (bf16 out), ≤ 1e-3 for tf32 (f32 out), as `tests/gpu_hopper_gemm.rs`.
use super::case::{Case, Ctx, Dtype, Element, Peak, Prepared, Work};
use super::{data, verify};
use gpukit::Library;
use gpukit::ops::{Fp8E4M3, GemmActivation, TcKernel, TcOperand, TcScratch, TensorGemm};
use gpukit::runtime::{self, DeviceBuffer, DeviceCopy, Stream};
use half::{bf16, f16};
use std::marker::PhantomData;

/// The Hopper GEMM cases (independent of `--quick` / `--size`: the baseline script times
/// these shapes at every setting).
pub fn all() -> Vec<Box<dyn Case>> {
    let mut v: Vec<Box<dyn Case>> = Vec::new();
    for (m, n, k) in [
        (8192, 8192, 8192),
        (4096, 4096, 4096),
        (4096, 14336, 4096),
        (4096, 4096, 14336),
        (16384, 4096, 4096),
        (2048, 2048, 2048),
        (128, 4096, 4096),
    ] {
        v.push(Box::new(HopperGemmCase::<bf16, bf16, bf16>::new(
            "gemm", m, n, k,
        )));
    }
    for s in [8192, 4096] {
        v.push(Box::new(HopperGemmCase::<f16, f16, f16>::new(
            "gemm", s, s, s,
        )));
    }
    let s = 8192;
    v.push(Box::new(HopperGemmCase::<f32, f32, f32>::new(
        "gemm_tf32",
        s,
        s,
        s,
    )));
    v.push(Box::new(HopperGemmCase::<Fp8E4M3, Fp8E4M3, bf16>::new(
        "gemm_fp8_e4m3",
        s,
        s,
        s,
    )));
    v.push(Box::new(HopperGemmCase::<bf16, bf16, bf16>::new(
        "gemm_bias_gelu",
        s,
        s,
        s,
    )));
    v
}

/// An element of these cases: random generation and its exact value.
pub trait HopperElem: DeviceCopy {
    /// Random values in [-1, 1), never zero.
    fn random(n: usize, seed: u64) -> Vec<Self>;
    fn value(self) -> f64;
}

impl HopperElem for bf16 {
    fn random(n: usize, seed: u64) -> Vec<Self> {
        data::random(n, seed)
    }
    fn value(self) -> f64 {
        Element::to_f64(self)
    }
}

impl HopperElem for f16 {
    fn random(n: usize, seed: u64) -> Vec<Self> {
        data::random(n, seed)
    }
    fn value(self) -> f64 {
        Element::to_f64(self)
    }
}

impl HopperElem for f32 {
    fn random(n: usize, seed: u64) -> Vec<Self> {
        data::random(n, seed)
    }
    fn value(self) -> f64 {
        self as f64
    }
}

impl HopperElem for Fp8E4M3 {
    /// Random sign and one of the 64 codes from 2^-6 to 3.75 (exponents 1 to 8).
    fn random(n: usize, seed: u64) -> Vec<Self> {
        data::random::<f32>(n, seed)
            .into_iter()
            .map(|v| {
                let sign = if v < 0.0 { 0x80 } else { 0 };
                let code = 0x08 + ((v.abs() * 64.0) as u8).min(0x3f);
                Fp8E4M3(sign | code)
            })
            .collect()
    }
    fn value(self) -> f64 {
        self.to_f32() as f64
    }
}

/// Output types: the dtype key, the tensor peak of the inputs is separate.
pub trait HopperOut: HopperElem {
    const DTYPE: Dtype;
}
impl HopperOut for bf16 {
    const DTYPE: Dtype = Dtype::Bf16;
}
impl HopperOut for f16 {
    const DTYPE: Dtype = Dtype::F16;
}
impl HopperOut for f32 {
    const DTYPE: Dtype = Dtype::F32;
}

/// The peak an input type runs at and the error bound of its check.
pub trait HopperIn: HopperElem {
    const PEAK: Peak;
    const TOL: f64;
}
impl HopperIn for bf16 {
    const PEAK: Peak = Peak::TensorBf16;
    const TOL: f64 = 1e-2;
}
impl HopperIn for f16 {
    const PEAK: Peak = Peak::TensorF16;
    const TOL: f64 = 1e-2;
}
impl HopperIn for f32 {
    const PEAK: Peak = Peak::TensorTf32;
    const TOL: f64 = 1e-3;
}
impl HopperIn for Fp8E4M3 {
    const PEAK: Peak = Peak::TensorFp8;
    const TOL: f64 = 1e-2;
}

/// One Hopper GEMM row: `name` is the baseline op (`gemm_bias_gelu` fuses bias and GELU).
pub struct HopperGemmCase<A, B, O> {
    pub name: &'static str,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    _t: PhantomData<(A, B, O)>,
}

impl<A, B, O> HopperGemmCase<A, B, O> {
    pub fn new(name: &'static str, m: usize, n: usize, k: usize) -> Self {
        HopperGemmCase {
            name,
            m,
            n,
            k,
            _t: PhantomData,
        }
    }

    fn fused(&self) -> bool {
        self.name == "gemm_bias_gelu"
    }

    fn spec(&self) -> TensorGemm {
        let g = TensorGemm::new(self.m, self.n, self.k);
        if self.fused() {
            g.activation(GemmActivation::Gelu)
        } else {
            g
        }
    }
}

impl<A, B, O> Case for HopperGemmCase<A, B, O>
where
    A: TcKernel<B, O> + HopperIn,
    B: TcOperand + HopperElem,
    O: HopperOut,
{
    fn name(&self) -> &str {
        self.name
    }
    fn dtype(&self) -> Dtype {
        O::DTYPE
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.m, self.n, self.k]
    }
    fn work(&self) -> Work {
        Work::Flops {
            flops: 2.0 * self.m as f64 * self.n as f64 * self.k as f64,
            peak: A::PEAK,
        }
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let a = A::random(self.m * self.k, data::mix(ctx.seed, 0));
        let b = B::random(self.n * self.k, data::mix(ctx.seed, 1));
        let bias = O::random(self.n, data::mix(ctx.seed, 2));
        let g = self.spec();
        Ok(Box::new(HopperGemmRun {
            case: self,
            lib: ctx.lib,
            da: ctx.gpu.upload(&a)?,
            db: ctx.gpu.upload(&b)?,
            dbias: ctx.gpu.upload(&bias)?,
            // beta = 0 does not read C: NaN until written.
            dc: ctx.gpu.alloc_filled::<O>(self.m * self.n, 0xff)?,
            scratch: ctx.lib.tc_scratch::<A>(&g)?,
            a,
            b,
            bias,
            seed: ctx.seed,
        }))
    }
}

struct HopperGemmRun<'a, A: DeviceCopy, B: DeviceCopy, O: DeviceCopy> {
    case: &'a HopperGemmCase<A, B, O>,
    lib: &'a Library,
    a: Vec<A>,
    b: Vec<B>,
    bias: Vec<O>,
    da: DeviceBuffer<A>,
    db: DeviceBuffer<B>,
    dbias: DeviceBuffer<O>,
    dc: DeviceBuffer<O>,
    scratch: TcScratch,
    seed: u64,
}

fn gelu(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

impl<A, B, O> Prepared for HopperGemmRun<'_, A, B, O>
where
    A: TcKernel<B, O> + HopperIn,
    B: TcOperand + HopperElem,
    O: HopperOut,
{
    fn run(&mut self, stream: &Stream, _rep: usize) -> runtime::Result<()> {
        let g = self.case.spec();
        let bias = self.case.fused().then_some(&*self.dbias);
        self.lib.gemm_tc(
            stream,
            &g,
            &self.da,
            &self.db,
            &mut self.dc,
            bias,
            Some(&mut self.scratch),
        )
    }

    fn verify(&mut self) -> Result<(), String> {
        let (m, n, k) = (self.case.m, self.case.n, self.case.k);
        let fused = self.case.fused();
        let (a, b, bias, dc) = (&self.a, &self.b, &self.bias, &self.dc);
        let check = verify::SampledGemm {
            m,
            n,
            seed: self.seed,
            tol: A::TOL,
        };
        // B is stored n × k (C = A Bᵀ): its column j of the product is its row j.
        check.check(
            |i| a[i * k..(i + 1) * k].iter().map(|v| v.value()).collect(),
            |j| b[j * k..(j + 1) * k].iter().map(|v| v.value()).collect(),
            |j, x| if fused { gelu(x + bias[j].value()) } else { x },
            |i| {
                let row = runtime::download(&dc[i * n..(i + 1) * n]).map_err(|e| e.to_string())?;
                Ok(row.iter().map(|v| v.value()).collect())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_use_the_baseline_keys() {
        let keys: Vec<(String, Dtype, Vec<usize>, Peak)> = all()
            .iter()
            .map(|c| {
                let Work::Flops { peak, .. } = c.work() else {
                    panic!("{} is not a FLOP case", c.name())
                };
                (c.name().to_string(), c.dtype(), c.shape(), peak)
            })
            .collect();
        assert_eq!(keys.len(), 12);
        assert!(keys.contains(&(
            "gemm".into(),
            Dtype::Bf16,
            vec![128, 4096, 4096],
            Peak::TensorBf16
        )));
        assert!(keys.contains(&("gemm".into(), Dtype::F16, vec![4096; 3], Peak::TensorF16)));
        assert!(keys.contains(&(
            "gemm_tf32".into(),
            Dtype::F32,
            vec![8192; 3],
            Peak::TensorTf32
        )));
        assert!(keys.contains(&(
            "gemm_fp8_e4m3".into(),
            Dtype::Bf16,
            vec![8192; 3],
            Peak::TensorFp8
        )));
        assert!(keys.contains(&(
            "gemm_bias_gelu".into(),
            Dtype::Bf16,
            vec![8192; 3],
            Peak::TensorBf16
        )));
    }

    #[test]
    fn fp8_inputs_are_nonzero_and_in_range() {
        let v = Fp8E4M3::random(10_000, 3);
        assert!(v.iter().all(|x| {
            let f = x.to_f32().abs();
            (2f32.powi(-6)..4.0).contains(&f)
        }));
        assert!(v.iter().any(|x| x.to_f32() < 0.0) && v.iter().any(|x| x.to_f32() > 0.0));
    }
}
