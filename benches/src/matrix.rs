//! Cases of the matrix kernels: row softmax / log-softmax, transpose, GEMV and SGEMM.
//!
//! All are verified on sampled rows (or a grid of sampled rows × columns for SGEMM) downloaded
//! one row at a time, against f64 references within the bounds of `tests/gpu_matrix.rs` and
//! `tests/gpu_sgemm.rs`.
use super::case::{Case, Ctx, Dtype, Element, Peak, Prepared, Work};
use super::{data, verify};
use gpukit::Library;
use gpukit::ops::{Gemm, Gemv, RowElem, Shape, SoftmaxKind};
use gpukit::runtime::{self, DeviceBuffer, DeviceCopy, DeviceSlice, Stream};
use std::marker::PhantomData;

/// Rows checked of the row-wise outputs.
pub(crate) const CHECK_ROWS: usize = 64;

/// Row `r` (of `cols` elements) of a row-major device matrix, downloaded.
pub(crate) fn download_row<T: DeviceCopy + Default + Clone>(
    m: &DeviceSlice<T>,
    r: usize,
    cols: usize,
) -> Result<Vec<T>, String> {
    runtime::download(&m[r * cols..(r + 1) * cols]).map_err(|e| e.to_string())
}

/// Counts mismatches of (label, got, want, bound) and describes the first.
#[derive(Default)]
pub(crate) struct Mismatches {
    first: Option<String>,
    bad: usize,
    checked: usize,
}

impl Mismatches {
    pub(crate) fn check(&mut self, at: impl FnOnce() -> String, got: f64, want: f64, bound: f64) {
        self.checked += 1;
        if got.is_nan() || (got - want).abs() > bound {
            self.bad += 1;
            if self.first.is_none() {
                self.first = Some(format!(
                    "{} = {got} but the reference is {want} (bound {bound:e})",
                    at()
                ));
            }
        }
    }

    pub(crate) fn result(self) -> Result<(), String> {
        match self.first {
            None => Ok(()),
            Some(f) => Err(format!(
                "{f}; {} of {} checked elements differ",
                self.bad, self.checked
            )),
        }
    }
}

/// Row-wise softmax (or log-softmax) of a `rows × cols` matrix of `T` (f32 or bf16, computed in
/// f32), inputs uniform in `[-1, 1)`.
pub struct SoftmaxCase<T> {
    pub kind: SoftmaxKind,
    pub rows: usize,
    pub cols: usize,
    _t: PhantomData<T>,
}

impl<T> SoftmaxCase<T> {
    pub fn new(kind: SoftmaxKind, rows: usize, cols: usize) -> Self {
        SoftmaxCase {
            kind,
            rows,
            cols,
            _t: PhantomData,
        }
    }
}

impl<T> SoftmaxCase<T> {
    /// The CuPy script's op name.
    fn op(&self) -> &'static str {
        match self.kind {
            SoftmaxKind::Softmax => "softmax",
            SoftmaxKind::LogSoftmax => "log_softmax",
        }
    }
}

impl<T: Element + RowElem> Case for SoftmaxCase<T> {
    /// `softmax` / `log_softmax`, with `_vocab` for rows wider than shared memory (LLM
    /// vocabularies), so that both widths have their own row.
    fn name(&self) -> &str {
        match (self.kind, self.cols > 32 * 1024) {
            (SoftmaxKind::Softmax, false) => "softmax",
            (SoftmaxKind::LogSoftmax, false) => "log_softmax",
            (SoftmaxKind::Softmax, true) => "softmax_vocab",
            (SoftmaxKind::LogSoftmax, true) => "log_softmax_vocab",
        }
    }
    fn cupy_op(&self) -> Option<&str> {
        Some(self.op())
    }
    fn dtype(&self) -> Dtype {
        T::DTYPE
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.rows, self.cols]
    }
    fn work(&self) -> Work {
        Work::Bytes((2 * self.rows * self.cols * std::mem::size_of::<T>()) as f64)
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let lib = ctx.lib;
        let n = self.rows * self.cols;
        let mut host = Vec::new();
        let mut sets = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let a: Vec<T> = data::random(n, data::mix(ctx.seed, (set * 64) as u64));
            sets.push((ctx.gpu.upload(&a)?, ctx.gpu.alloc_filled::<T>(n, 0xff)?));
            if set == 0 {
                host = a;
            }
        }
        Ok(Box::new(SoftmaxRun {
            case: self,
            lib,
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

struct SoftmaxRun<'a, T: DeviceCopy> {
    case: &'a SoftmaxCase<T>,
    lib: &'a Library,
    host: Vec<T>,
    sets: Vec<(DeviceBuffer<T>, DeviceBuffer<T>)>,
    seed: u64,
}

impl<T: Element + RowElem> Prepared for SoftmaxRun<'_, T> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let (a, out) = &mut self.sets[k];
        let c = self.case;
        let shape = Shape::new(c.rows, c.cols);
        self.lib.softmax_rows(stream, c.kind, a, shape, out)
    }

    fn verify(&mut self) -> Result<(), String> {
        let cols = self.case.cols;
        let log = self.case.kind == SoftmaxKind::LogSoftmax;
        let mut m = Mismatches::default();
        for r in verify::sample_rows(self.case.rows, CHECK_ROWS, self.seed) {
            let got = download_row(&self.sets[0].1, r, cols)?;
            let row: Vec<f64> = self.host[r * cols..(r + 1) * cols]
                .iter()
                .map(|v| v.to_f64())
                .collect();
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = row.iter().map(|v| (v - max).exp()).sum();
            for (j, (&v, g)) in row.iter().zip(&got).enumerate() {
                let want = if log {
                    v - max - z.ln()
                } else {
                    (v - max).exp() / z
                };
                // tests/gpu_matrix.rs: f32 within 1e-5 relative (softmax) or 2e-5 (1 + |w|)
                // (log-softmax); bf16 within one bf16 rounding, 2^-7 relative.
                let bound = match (T::DTYPE, log) {
                    (Dtype::F32, false) => 1e-5 * want + 1e-9,
                    (Dtype::F32, true) => 2e-5 * (1.0 + want.abs()),
                    (_, false) => want * 2f64.powi(-7) + 1e-9,
                    (_, true) => want.abs().max(1.0) * 2f64.powi(-7),
                };
                m.check(|| format!("out[{r}, {j}]"), g.to_f64(), want, bound);
            }
        }
        m.result()
    }
}

/// `out = aᵀ` of a row-major `rows × cols` f32 matrix (square, or tall as in the any-shape
/// kernel's row).
pub struct TransposeCase {
    pub rows: usize,
    pub cols: usize,
}

impl TransposeCase {
    pub fn square(n: usize) -> Self {
        TransposeCase { rows: n, cols: n }
    }
}

impl Case for TransposeCase {
    /// `transpose` (square) or `transpose_tall` (more rows than columns), so that both shapes
    /// have their own row; both compare with the baseline op `transpose`.
    fn name(&self) -> &str {
        if self.rows > self.cols {
            "transpose_tall"
        } else {
            "transpose"
        }
    }
    fn cupy_op(&self) -> Option<&str> {
        Some("transpose")
    }
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.rows, self.cols]
    }
    fn work(&self) -> Work {
        Work::Bytes((2 * self.rows * self.cols * 4) as f64)
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let lib = ctx.lib;
        let n2 = self.rows * self.cols;
        let mut host = Vec::new();
        let mut sets = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let a: Vec<f32> = data::random(n2, data::mix(ctx.seed, (set * 64) as u64));
            sets.push((ctx.gpu.upload(&a)?, ctx.gpu.alloc_filled::<f32>(n2, 0xff)?));
            if set == 0 {
                host = a;
            }
        }
        Ok(Box::new(TransposeRun {
            rows: self.rows,
            cols: self.cols,
            lib,
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

struct TransposeRun<'a> {
    rows: usize,
    cols: usize,
    lib: &'a Library,
    host: Vec<f32>,
    sets: Vec<(DeviceBuffer<f32>, DeviceBuffer<f32>)>,
    seed: u64,
}

impl Prepared for TransposeRun<'_> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let (a, out) = &mut self.sets[k];
        self.lib
            .transpose(stream, a, Shape::new(self.rows, self.cols), out)
    }

    fn verify(&mut self) -> Result<(), String> {
        let (rows, cols) = (self.rows, self.cols);
        let mut m = Mismatches::default();
        // The output is cols × rows; its row r is column r of the input, exactly.
        for r in verify::sample_rows(cols, CHECK_ROWS, self.seed) {
            let got = download_row(&self.sets[0].1, r, rows)?;
            for (j, &g) in got.iter().enumerate() {
                m.check(
                    || format!("out[{r}, {j}]"),
                    g as f64,
                    self.host[j * cols + r] as f64,
                    0.0,
                );
            }
        }
        m.result()
    }
}

/// `y = A x` for a row-major `m × n` f32 matrix ([`Library::gemv`], not transposed; alpha 1,
/// beta 0).
pub struct GemvCase {
    pub m: usize,
    pub n: usize,
}

impl Case for GemvCase {
    fn name(&self) -> &str {
        "gemv"
    }
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.m, self.n]
    }
    fn work(&self) -> Work {
        Work::Bytes(((self.m * self.n + self.n + self.m) * 4) as f64)
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let lib = ctx.lib;
        let mut host = (Vec::new(), Vec::new());
        let mut sets = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let a: Vec<f32> = data::random(self.m * self.n, data::mix(ctx.seed, (set * 64) as u64));
            let x: Vec<f32> = data::random(self.n, data::mix(ctx.seed, (set * 64 + 1) as u64));
            sets.push((
                ctx.gpu.upload(&a)?,
                ctx.gpu.upload(&x)?,
                // beta = 0 does not read y: NaN until written.
                ctx.gpu.alloc_filled::<f32>(self.m, 0xff)?,
            ));
            if set == 0 {
                host = (a, x);
            }
        }
        Ok(Box::new(GemvRun {
            case: self,
            lib,
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

type GemvSet = (DeviceBuffer<f32>, DeviceBuffer<f32>, DeviceBuffer<f32>);

struct GemvRun<'a> {
    case: &'a GemvCase,
    lib: &'a Library,
    host: (Vec<f32>, Vec<f32>),
    sets: Vec<GemvSet>,
    seed: u64,
}

impl Prepared for GemvRun<'_> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let (a, x, y) = &mut self.sets[k];
        let g = Gemv::new(self.case.m, self.case.n);
        self.lib.gemv(stream, &g, a, x, y, None)
    }

    fn verify(&mut self) -> Result<(), String> {
        let n = self.case.n;
        let got = runtime::download(&self.sets[0].2).map_err(|e| e.to_string())?;
        let (a, x) = &self.host;
        let mut m = Mismatches::default();
        for r in verify::sample_rows(self.case.m, 1024, self.seed) {
            let (mut dot, mut mag) = (0f64, 0f64);
            for (&av, &xv) in a[r * n..(r + 1) * n].iter().zip(x) {
                let t = av as f64 * xv as f64;
                dot += t;
                mag += t.abs();
            }
            // tests/gpu_matrix.rs: 1e-5 of Σ|a·x|, plus 1e-6.
            m.check(|| format!("y[{r}]"), got[r] as f64, dot, 1e-5 * mag + 1e-6);
        }
        m.result()
    }
}

/// `C = A B` for row-major f32 `m × k` and `k × n` ([`Library::gemm`] with f32 inputs, the
/// SGEMM kernels; alpha 1, beta 0), counted as
/// `2 m n k` FLOPs against the FP32 peak.
pub struct SgemmCase {
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

impl Case for SgemmCase {
    fn name(&self) -> &str {
        "sgemm"
    }
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.m, self.n, self.k]
    }
    fn work(&self) -> Work {
        Work::Flops {
            flops: 2.0 * self.m as f64 * self.n as f64 * self.k as f64,
            peak: Peak::Fp32,
        }
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let a: Vec<f32> = data::random(self.m * self.k, data::mix(ctx.seed, 0));
        let b: Vec<f32> = data::random(self.k * self.n, data::mix(ctx.seed, 1));
        Ok(Box::new(SgemmRun {
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

struct SgemmRun<'a> {
    case: &'a SgemmCase,
    lib: &'a Library,
    a: Vec<f32>,
    b: Vec<f32>,
    da: DeviceBuffer<f32>,
    db: DeviceBuffer<f32>,
    dc: DeviceBuffer<f32>,
    seed: u64,
}

impl Prepared for SgemmRun<'_> {
    fn run(&mut self, stream: &Stream, _rep: usize) -> runtime::Result<()> {
        let c = self.case;
        let g = Gemm::new(c.m, c.n, c.k);
        self.lib.gemm(stream, &g, &self.da, &self.db, &mut self.dc)
    }

    fn verify(&mut self) -> Result<(), String> {
        let (m, n, k) = (self.case.m, self.case.n, self.case.k);
        let (a, b, dc) = (&self.a, &self.b, &self.dc);
        // tests/gpu_sgemm.rs: ‖got − want‖₂ / ‖want‖₂ ≤ 1e-5 over the samples, and no NaN.
        let check = verify::SampledGemm {
            m,
            n,
            seed: self.seed,
            tol: 1e-5,
        };
        check.check(
            |i| a[i * k..(i + 1) * k].iter().map(|&v| v as f64).collect(),
            |j| (0..k).map(|p| b[p * n + j] as f64).collect(),
            |_, x| x,
            |i| Ok(download_row(dc, i, n)?.into_iter().map(f64::from).collect()),
        )
    }
}
