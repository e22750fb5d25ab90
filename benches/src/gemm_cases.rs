//! Cases of the portable tensor-core GEMMs (`mma.sync`; [`gpukit::Library::gemm`] with f16 /
//! bf16 inputs), named `gemm_mma` (the `gemm` rows are the Hopper kernels,
//! [`crate::hopper_cases`]) and compared with the same baseline op `gemm`:
//! `C = A B` at M = N = K = `sizes.gemm`, f16 / bf16 inputs, f32 accumulation and C, measured
//! against the f16 / bf16 tensor-core peak. The CuPy counterpart is `gemm` (cublasGemmEx with
//! f32 accumulation).
//!
//! Verified on a grid of sampled rows × columns against an f64 product of the (exact) f16 /
//! bf16 inputs: ‖C − ref‖₂ / ‖ref‖₂ ≤ 1e-3 over the samples, as `tests/gpu_tensor_gemm.rs`
//! requires.
use super::case::{Case, Ctx, Dtype, Element, Peak, Prepared, Work};
use super::{Sizes, data, verify};
use gpukit::Library;
use gpukit::ops::{Gemm, GemmInput};
use gpukit::runtime::{self, DeviceBuffer, Stream};
use half::{bf16, f16};
use std::marker::PhantomData;

/// Relative error bound of the check.
const TOL: f64 = 1e-3;

/// The tensor-core GEMM cases at `sizes` (f16, then bf16).
pub fn all(sizes: &Sizes) -> Vec<Box<dyn Case>> {
    let g = sizes.gemm;
    vec![
        Box::new(TensorGemmCase::<f16>::new(g, g, g)),
        Box::new(TensorGemmCase::<bf16>::new(g, g, g)),
    ]
}

/// Input types of the tensor-core GEMM, and the peak each is measured against.
pub trait TensorGemmElem: Element + GemmInput {
    const PEAK: Peak;
}

impl TensorGemmElem for f16 {
    const PEAK: Peak = Peak::TensorF16;
}

impl TensorGemmElem for bf16 {
    const PEAK: Peak = Peak::TensorBf16;
}

/// `gemm` for one input type: C (m×n, f32) = A (m×k) B (k×n).
pub struct TensorGemmCase<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    _t: PhantomData<T>,
}

impl<T> TensorGemmCase<T> {
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        TensorGemmCase {
            m,
            n,
            k,
            _t: PhantomData,
        }
    }
}

impl<T: TensorGemmElem> Case for TensorGemmCase<T> {
    fn name(&self) -> &str {
        "gemm_mma"
    }
    fn cupy_op(&self) -> Option<&str> {
        Some("gemm")
    }
    fn dtype(&self) -> Dtype {
        T::DTYPE
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.m, self.n, self.k]
    }
    fn work(&self) -> Work {
        Work::Flops {
            flops: 2.0 * self.m as f64 * self.n as f64 * self.k as f64,
            peak: T::PEAK,
        }
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let a: Vec<T> = data::random(self.m * self.k, data::mix(ctx.seed, 0));
        let b: Vec<T> = data::random(self.k * self.n, data::mix(ctx.seed, 1));
        Ok(Box::new(TensorGemmRun {
            case: self,
            lib: ctx.lib,
            da: ctx.gpu.upload(&a)?,
            db: ctx.gpu.upload(&b)?,
            // beta = 0 does not read C: NaN until written.
            dc: ctx.gpu.alloc_filled::<f32>(self.m * self.n, 0xff)?,
            a,
            b,
            seed: ctx.seed,
        }))
    }
}

struct TensorGemmRun<'a, T: TensorGemmElem> {
    case: &'a TensorGemmCase<T>,
    lib: &'a Library,
    a: Vec<T>,
    b: Vec<T>,
    da: DeviceBuffer<T>,
    db: DeviceBuffer<T>,
    dc: DeviceBuffer<f32>,
    seed: u64,
}

impl<T: TensorGemmElem> Prepared for TensorGemmRun<'_, T> {
    fn run(&mut self, stream: &Stream, _rep: usize) -> runtime::Result<()> {
        let c = self.case;
        let g = Gemm::new(c.m, c.n, c.k);
        self.lib.gemm(stream, &g, &self.da, &self.db, &mut self.dc)
    }

    fn verify(&mut self) -> Result<(), String> {
        let (m, n, k) = (self.case.m, self.case.n, self.case.k);
        let (a, b, dc) = (&self.a, &self.b, &self.dc);
        let check = verify::SampledGemm {
            m,
            n,
            seed: self.seed,
            tol: TOL,
        };
        check.check(
            |i| a[i * k..(i + 1) * k].iter().map(|v| v.to_f64()).collect(),
            |j| (0..k).map(|p| b[p * n + j].to_f64()).collect(),
            |_, x| x,
            |i| {
                let row = runtime::download(&dc[i * n..(i + 1) * n]).map_err(|e| e.to_string())?;
                Ok(row.into_iter().map(f64::from).collect())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_describe_their_work() {
        let cases = all(&Sizes::DEFAULT);
        assert_eq!(cases.len(), 2);
        for (c, dtype, peak) in [
            (&cases[0], Dtype::F16, Peak::TensorF16),
            (&cases[1], Dtype::Bf16, Peak::TensorBf16),
        ] {
            assert_eq!(c.name(), "gemm_mma");
            assert_eq!(c.cupy_op(), Some("gemm"));
            assert_eq!(c.dtype(), dtype);
            assert_eq!(c.shape(), vec![8192; 3]);
            assert_eq!(
                c.work(),
                Work::Flops {
                    flops: 2.0 * 8192f64.powi(3),
                    peak
                }
            );
            assert_eq!(c.working_set_bytes(), usize::MAX);
        }
    }
}
