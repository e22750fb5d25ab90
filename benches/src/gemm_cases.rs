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

/// Indices `0..len` to check: the edges of the 128- and 256-wide tiles around the start,
/// middle and end, plus sampled ones (sorted, without repeats).
fn tile_sample(len: usize, count: usize, seed: u64) -> Vec<usize> {
    let mut v = verify::sample_rows(len, count, seed);
    v.extend(
        [1usize, 127, 128, 255, 256, len / 2, len.saturating_sub(2)]
            .into_iter()
            .filter(|&i| i < len),
    );
    v.sort_unstable();
    v.dedup();
    v
}

impl<T: TensorGemmElem> Prepared for TensorGemmRun<'_, T> {
    fn run(&mut self, stream: &Stream, _rep: usize) -> runtime::Result<()> {
        let c = self.case;
        let g = Gemm::new(c.m, c.n, c.k);
        self.lib.gemm(stream, &g, &self.da, &self.db, &mut self.dc)
    }

    fn verify(&mut self) -> Result<(), String> {
        let (n, k) = (self.case.n, self.case.k);
        let rows = tile_sample(self.case.m, 48, self.seed);
        let cols = tile_sample(n, 48, data::mix(self.seed, 1));
        let bcols: Vec<Vec<f64>> = cols
            .iter()
            .map(|&j| (0..k).map(|p| self.b[p * n + j].to_f64()).collect())
            .collect();
        let (mut num, mut den) = (0f64, 0f64);
        for &i in &rows {
            let got = runtime::download(&self.dc[i * n..(i + 1) * n]).map_err(|e| e.to_string())?;
            let arow: Vec<f64> = self.a[i * k..(i + 1) * k]
                .iter()
                .map(|v| v.to_f64())
                .collect();
            for (&j, bcol) in cols.iter().zip(&bcols) {
                let want: f64 = arow.iter().zip(bcol).map(|(a, b)| a * b).sum();
                let g = got[j] as f64;
                if !g.is_finite() {
                    return Err(format!("C[{i}, {j}] = {g} (the reference is {want})"));
                }
                num += (g - want).powi(2);
                den += want * want;
            }
        }
        let e = if den == 0.0 {
            num.sqrt()
        } else {
            (num / den).sqrt()
        };
        if e <= TOL {
            Ok(())
        } else {
            Err(format!(
                "relative error {e:e} > {TOL:e} over {} × {} sampled elements",
                rows.len(),
                cols.len()
            ))
        }
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

    #[test]
    fn samples_cover_tile_edges() {
        let v = tile_sample(8192, 48, 3);
        for i in [0, 1, 127, 128, 255, 256, 4096, 8190, 8191] {
            assert!(v.contains(&i), "{i}");
        }
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(tile_sample(3, 48, 1), vec![0, 1, 2]);
    }
}
