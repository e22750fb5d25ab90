//! Cases of the transformer-block row ops (bias+GELU, LayerNorm, RMSNorm, add+RMSNorm,
//! cross-entropy) and of the integer scans, each checked against an f64 (or exact integer)
//! reference on sampled rows or elements.
use super::case::{Case, Ctx, Dtype, Element, Prepared, Work};
use super::cases::activation_ref;
use super::matrix::{CHECK_ROWS, Mismatches, download_row};
use super::{data, verify};
use gpukit::Library;
use gpukit::ops::{Activation, BiasGeluElem, CrossEntropy, RowElem, ScanElem, ScanKind, Shape};
use gpukit::runtime::{self, DeviceBuffer, DeviceCopy, Stream};
use rand::{Rng, SeedableRng};
use std::marker::PhantomData;

/// The `eps` of the norm cases (torch's default for LayerNorm; the baseline script uses it too).
pub const NORM_EPS: f32 = 1e-5;

/// Which row op a [`RowCase`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOp {
    /// `out = gelu(x + bias[col])` ([`Library::bias_gelu`]).
    BiasGelu,
    /// LayerNorm with weight and bias.
    LayerNorm,
    /// RMSNorm with weight.
    RmsNorm,
    /// `sum = x + residual`, `out = rmsnorm(sum) · weight`.
    AddRmsNorm,
}

impl RowOp {
    pub const ALL: [RowOp; 4] = [
        RowOp::BiasGelu,
        RowOp::LayerNorm,
        RowOp::RmsNorm,
        RowOp::AddRmsNorm,
    ];

    /// The case and baseline-script op name.
    pub fn name(self) -> &'static str {
        match self {
            RowOp::BiasGelu => "bias_gelu",
            RowOp::LayerNorm => "layer_norm",
            RowOp::RmsNorm => "rms_norm",
            RowOp::AddRmsNorm => "add_rms_norm",
        }
    }

    /// Full-size matrices one run reads plus writes.
    fn matrices(self) -> usize {
        match self {
            RowOp::AddRmsNorm => 4,
            _ => 2,
        }
    }
}

/// A row op over a row-major `rows × cols` matrix of `T` (f32 or bf16).
pub struct RowCase<T> {
    pub op: RowOp,
    pub rows: usize,
    pub cols: usize,
    _t: PhantomData<T>,
}

impl<T> RowCase<T> {
    pub fn new(op: RowOp, rows: usize, cols: usize) -> Self {
        RowCase {
            op,
            rows,
            cols,
            _t: PhantomData,
        }
    }
}

/// Element types of the row cases: the library's row and bias+GELU kernels exist for them.
pub trait RowCaseElem: Element + RowElem + BiasGeluElem {}
impl<T: Element + RowElem + BiasGeluElem> RowCaseElem for T {}

impl<T: RowCaseElem> Case for RowCase<T> {
    fn name(&self) -> &str {
        self.op.name()
    }
    fn dtype(&self) -> Dtype {
        T::DTYPE
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.rows, self.cols]
    }
    fn work(&self) -> Work {
        let size = std::mem::size_of::<T>();
        let params = if self.op == RowOp::LayerNorm { 2 } else { 1 };
        Work::Bytes(((self.op.matrices() * self.rows + params) * self.cols * size) as f64)
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let n = self.rows * self.cols;
        let weight: Vec<T> = data::random(self.cols, data::mix(ctx.seed, 1001));
        let bias: Vec<T> = data::random(self.cols, data::mix(ctx.seed, 1002));
        let mut host = Vec::new();
        let mut sets = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let x: Vec<T> = data::random(n, data::mix(ctx.seed, (set * 64) as u64));
            let r: Vec<T> = if self.op == RowOp::AddRmsNorm {
                data::random(n, data::mix(ctx.seed, (set * 64 + 1) as u64))
            } else {
                Vec::new()
            };
            sets.push(RowSet {
                x: ctx.gpu.upload(&x)?,
                residual: ctx.gpu.upload(&r)?,
                out: ctx.gpu.alloc_filled::<T>(n, 0xff)?,
                sum: ctx
                    .gpu
                    .alloc_filled::<T>(if r.is_empty() { 0 } else { n }, 0xff)?,
            });
            if set == 0 {
                host = vec![x, r];
            }
        }
        Ok(Box::new(RowRun {
            case: self,
            lib: ctx.lib,
            weight_dev: ctx.gpu.upload(&weight)?,
            bias_dev: ctx.gpu.upload(&bias)?,
            weight,
            bias,
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

struct RowSet<T: DeviceCopy> {
    x: DeviceBuffer<T>,
    residual: DeviceBuffer<T>,
    out: DeviceBuffer<T>,
    sum: DeviceBuffer<T>,
}

struct RowRun<'a, T: RowCaseElem> {
    case: &'a RowCase<T>,
    lib: &'a Library,
    weight: Vec<T>,
    bias: Vec<T>,
    weight_dev: DeviceBuffer<T>,
    bias_dev: DeviceBuffer<T>,
    /// Set 0's `x` and (add+RMSNorm) `residual`.
    host: Vec<Vec<T>>,
    sets: Vec<RowSet<T>>,
    seed: u64,
}

/// LayerNorm (`layer`, with bias) or RMSNorm of one row in f64, times `w` (plus `b`).
pub fn norm_ref(row: &[f64], w: &[f64], b: Option<&[f64]>, layer: bool, eps: f64) -> Vec<f64> {
    let n = row.len() as f64;
    let mean = if layer {
        row.iter().sum::<f64>() / n
    } else {
        0.0
    };
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let rstd = 1.0 / (var + eps).sqrt();
    row.iter()
        .enumerate()
        .map(|(j, v)| (v - mean) * rstd * w[j] + b.map_or(0.0, |b| b[j]))
        .collect()
}

impl<T: RowCaseElem> Prepared for RowRun<'_, T> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let set = &mut self.sets[k];
        let shape = Shape::new(self.case.rows, self.case.cols);
        let (w, b) = (Some(&self.weight_dev[..]), Some(&self.bias_dev[..]));
        match self.case.op {
            RowOp::BiasGelu => self
                .lib
                .bias_gelu(stream, &set.x, &self.bias_dev, &mut set.out),
            RowOp::LayerNorm => {
                self.lib
                    .layer_norm(stream, &set.x, shape, w, b, NORM_EPS, &mut set.out)
            }
            RowOp::RmsNorm => self
                .lib
                .rms_norm(stream, &set.x, shape, w, NORM_EPS, &mut set.out),
            RowOp::AddRmsNorm => self.lib.add_rms_norm(
                stream,
                &set.x,
                &set.residual,
                shape,
                w,
                NORM_EPS,
                &mut set.out,
                &mut set.sum,
            ),
        }
    }

    fn verify(&mut self) -> Result<(), String> {
        let (rows, cols) = (self.case.rows, self.case.cols);
        let f64s = |v: &[T]| v.iter().map(|x| x.to_f64()).collect::<Vec<f64>>();
        let (w, b) = (f64s(&self.weight), f64s(&self.bias));
        // Bounds (tests/gpu_rows.rs): f32 within 1e-5 relative to max(|want|, 1) (bias+GELU
        // 2^-20), bf16 within one bf16 rounding of the f32 result, 2^-7.
        let f32_out = T::DTYPE == Dtype::F32;
        let bound = |want: f64| {
            let unit = want.abs().max(1.0);
            match (self.case.op, f32_out) {
                (RowOp::BiasGelu, true) => 2f64.powi(-20) * unit,
                (_, true) => 1e-5 * unit,
                (_, false) => 2f64.powi(-7) * unit,
            }
        };
        let mut m = Mismatches::default();
        for r in verify::sample_rows(rows, CHECK_ROWS, self.seed) {
            let got = download_row(&self.sets[0].out, r, cols)?;
            let x = &self.host[0][r * cols..(r + 1) * cols];
            let want: Vec<f64> = match self.case.op {
                RowOp::BiasGelu => x
                    .iter()
                    .zip(&b)
                    .map(|(v, bj)| activation_ref(Activation::Gelu, v.to_f64() + bj))
                    .collect(),
                RowOp::LayerNorm => norm_ref(&f64s(x), &w, Some(&b), true, NORM_EPS as f64),
                RowOp::RmsNorm => norm_ref(&f64s(x), &w, None, false, NORM_EPS as f64),
                RowOp::AddRmsNorm => {
                    // The sum is rounded to T as an unfused f32 add would be, exactly.
                    let res = &self.host[1][r * cols..(r + 1) * cols];
                    let sum: Vec<T> = x
                        .iter()
                        .zip(res)
                        .map(|(a, b)| T::from_f32((a.to_f64() + b.to_f64()) as f32))
                        .collect();
                    let got_sum = download_row(&self.sets[0].sum, r, cols)?;
                    for (j, (g, s)) in got_sum.iter().zip(&sum).enumerate() {
                        m.check(|| format!("sum[{r}, {j}]"), g.to_f64(), s.to_f64(), 0.0);
                    }
                    norm_ref(&f64s(&sum), &w, None, false, NORM_EPS as f64)
                }
            };
            for (j, (g, want)) in got.iter().zip(&want).enumerate() {
                m.check(|| format!("out[{r}, {j}]"), g.to_f64(), *want, bound(*want));
            }
        }
        m.result()
    }
}

/// Per-row cross-entropy of `rows × cols` logits of `T` against random targets (f32 loss).
pub struct CrossEntropyCase<T> {
    pub rows: usize,
    pub cols: usize,
    _t: PhantomData<T>,
}

impl<T> CrossEntropyCase<T> {
    pub fn new(rows: usize, cols: usize) -> Self {
        CrossEntropyCase {
            rows,
            cols,
            _t: PhantomData,
        }
    }
}

impl<T: Element + RowElem> Case for CrossEntropyCase<T> {
    fn name(&self) -> &str {
        "cross_entropy"
    }
    fn dtype(&self) -> Dtype {
        T::DTYPE
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.rows, self.cols]
    }
    fn work(&self) -> Work {
        Work::Bytes((self.rows * self.cols * std::mem::size_of::<T>() + self.rows * 12) as f64)
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let n = self.rows * self.cols;
        let mut rng = rand::rngs::StdRng::seed_from_u64(data::mix(ctx.seed, 1003));
        let targets: Vec<i64> = (0..self.rows)
            .map(|_| rng.random_range(0..self.cols.max(1)) as i64)
            .collect();
        let mut host = Vec::new();
        let mut sets = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let x: Vec<T> = data::random(n, data::mix(ctx.seed, (set * 64) as u64));
            sets.push((
                ctx.gpu.upload(&x)?,
                ctx.gpu.alloc_filled::<f32>(self.rows, 0xff)?,
            ));
            if set == 0 {
                host = x;
            }
        }
        Ok(Box::new(CrossEntropyRun {
            case: self,
            lib: ctx.lib,
            targets_dev: ctx.gpu.upload(&targets)?,
            targets,
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

struct CrossEntropyRun<'a, T: Element + RowElem> {
    case: &'a CrossEntropyCase<T>,
    lib: &'a Library,
    targets: Vec<i64>,
    targets_dev: DeviceBuffer<i64>,
    host: Vec<T>,
    sets: Vec<(DeviceBuffer<T>, DeviceBuffer<f32>)>,
    seed: u64,
}

impl<T: Element + RowElem> Prepared for CrossEntropyRun<'_, T> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let (x, loss) = &mut self.sets[k];
        let shape = Shape::new(self.case.rows, self.case.cols);
        self.lib.cross_entropy(
            stream,
            x,
            shape,
            &self.targets_dev,
            CrossEntropy::default(),
            loss,
        )
    }

    fn verify(&mut self) -> Result<(), String> {
        let cols = self.case.cols;
        let loss = runtime::download(&self.sets[0].1).map_err(|e| e.to_string())?;
        let mut m = Mismatches::default();
        for r in verify::sample_rows(self.case.rows, CHECK_ROWS, self.seed) {
            let row: Vec<f64> = self.host[r * cols..(r + 1) * cols]
                .iter()
                .map(|v| v.to_f64())
                .collect();
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = row.iter().map(|v| (v - max).exp()).sum();
            let want = max + z.ln() - row[self.targets[r] as usize];
            // f32 math over exact inputs (bf16 logits are exact in f32): 1e-5 relative.
            let bound = 1e-5 * want.abs().max(1.0);
            m.check(|| format!("loss[{r}]"), loss[r] as f64, want, bound);
        }
        m.result()
    }
}

/// Integer element types of the scan cases (sums wrap, as the kernels' do).
pub trait IntScanElem: ScanElem + DeviceCopy + Copy + Default + PartialEq + 'static {
    const DTYPE: Dtype;
    fn from_i32(v: i32) -> Self;
    fn wrapping_add(self, other: Self) -> Self;
    fn to_f64(self) -> f64;
}

impl IntScanElem for i32 {
    const DTYPE: Dtype = Dtype::I32;
    fn from_i32(v: i32) -> Self {
        v
    }
    fn wrapping_add(self, other: Self) -> Self {
        i32::wrapping_add(self, other)
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl IntScanElem for u32 {
    const DTYPE: Dtype = Dtype::U32;
    fn from_i32(v: i32) -> Self {
        v as u32
    }
    fn wrapping_add(self, other: Self) -> Self {
        u32::wrapping_add(self, other)
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// Inclusive or exclusive prefix sums of `n` integers in `[-1000, 1000)` (u32: the same bit
/// patterns, as the baseline script), checked exactly against a wrapping sequential sum.
pub struct IntScanCase<T> {
    pub kind: ScanKind,
    pub n: usize,
    _t: PhantomData<T>,
}

impl<T> IntScanCase<T> {
    pub fn new(kind: ScanKind, n: usize) -> Self {
        IntScanCase {
            kind,
            n,
            _t: PhantomData,
        }
    }
}

fn random_ints<T: IntScanElem>(n: usize, seed: u64) -> Vec<T> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| T::from_i32(rng.random_range(-1000..1000)))
        .collect()
}

/// The wrapping prefix sums of `x` (inclusive, or exclusive with 0 first).
pub fn wrapping_prefix<T: IntScanElem>(x: &[T], exclusive: bool) -> Vec<T> {
    let mut acc = T::from_i32(0);
    x.iter()
        .map(|&v| {
            let before = acc;
            acc = acc.wrapping_add(v);
            if exclusive { before } else { acc }
        })
        .collect()
}

impl<T: IntScanElem> Case for IntScanCase<T> {
    fn name(&self) -> &str {
        match self.kind {
            ScanKind::Inclusive => "inclusive_scan",
            ScanKind::Exclusive => "exclusive_scan",
        }
    }
    fn dtype(&self) -> Dtype {
        T::DTYPE
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.n]
    }
    fn work(&self) -> Work {
        Work::Bytes((2 * self.n * 4) as f64)
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let scratch = ctx.lib.scan_scratch(self.n)?;
        let mut host = Vec::new();
        let mut sets = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let x: Vec<T> = random_ints(self.n, data::mix(ctx.seed, (set * 64) as u64));
            sets.push((
                ctx.gpu.upload(&x)?,
                ctx.gpu.alloc_filled::<T>(self.n, 0xff)?,
            ));
            if set == 0 {
                host = x;
            }
        }
        Ok(Box::new(IntScanRun {
            kind: self.kind,
            lib: ctx.lib,
            scratch,
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

struct IntScanRun<'a, T: IntScanElem> {
    kind: ScanKind,
    lib: &'a Library,
    scratch: gpukit::ops::ScanScratch,
    host: Vec<T>,
    sets: Vec<(DeviceBuffer<T>, DeviceBuffer<T>)>,
    seed: u64,
}

impl<T: IntScanElem> Prepared for IntScanRun<'_, T> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let (x, out) = &mut self.sets[k];
        self.lib.scan(stream, self.kind, x, out, &mut self.scratch)
    }

    fn verify(&mut self) -> Result<(), String> {
        let got = runtime::download(&self.sets[0].1).map_err(|e| e.to_string())?;
        let want = wrapping_prefix(&self.host, self.kind == ScanKind::Exclusive);
        let mut m = Mismatches::default();
        for i in verify::sample_indices(self.host.len(), self.seed) {
            m.check(
                || format!("out[{i}]"),
                got[i].to_f64(),
                want[i].to_f64(),
                0.0,
            );
        }
        m.result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        // Wrapping prefix sums, inclusive and exclusive, i32 and u32.
        let x = [i32::MAX, 1, -3, 5];
        let inclusive = [i32::MAX, i32::MIN, i32::MAX - 2, i32::MIN + 2];
        assert_eq!(wrapping_prefix(&x, false), inclusive);
        assert_eq!(
            wrapping_prefix(&x, true),
            [0, i32::MAX, i32::MIN, i32::MAX - 2]
        );
        let u: Vec<u32> = [-1i32, 2, 3].iter().map(|&v| u32::from_i32(v)).collect();
        assert_eq!(wrapping_prefix(&u, false), [u32::MAX, 1, 4]);
        let r: Vec<u32> = random_ints(1000, 7);
        assert!(r.iter().any(|&v| v != 0) && r.iter().all(|&v| (v as i32).abs() <= 1000));
        // LayerNorm of a row has mean b and (with w = 1, b = 0) variance var / (var + eps).
        let row = [1.0, 2.0, 3.0, 6.0];
        let ones = [1.0; 4];
        let zeros = [0.0; 4];
        let y = norm_ref(&row, &ones, Some(&zeros), true, 0.0);
        let mean: f64 = y.iter().sum::<f64>() / 4.0;
        let var: f64 = y.iter().map(|v| v * v).sum::<f64>() / 4.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        // RMSNorm: mean square 1, weights applied per column.
        let w = [2.0, 1.0, 1.0, 1.0];
        let z = norm_ref(&row, &w, None, false, 0.0);
        let rms = (row.iter().map(|v| v * v).sum::<f64>() / 4.0).sqrt();
        assert!((z[0] - 2.0 / rms).abs() < 1e-12 && (z[3] - 6.0 / rms).abs() < 1e-12);
    }

    #[test]
    fn cases_describe_their_work() {
        let c = RowCase::<f32>::new(RowOp::AddRmsNorm, 8, 16);
        assert_eq!(c.name(), "add_rms_norm");
        assert_eq!(c.shape(), vec![8, 16]);
        assert!(matches!(c.work(), Work::Bytes(b) if b == ((4 * 8 + 1) * 16 * 4) as f64));
        let l = RowCase::<half::bf16>::new(RowOp::LayerNorm, 8, 16);
        assert_eq!(l.dtype(), Dtype::Bf16);
        assert!(matches!(l.work(), Work::Bytes(b) if b == ((2 * 8 + 2) * 16 * 2) as f64));
        let x = CrossEntropyCase::<f32>::new(4, 100);
        assert_eq!(
            (x.name(), x.cupy_op()),
            ("cross_entropy", Some("cross_entropy"))
        );
        let s = IntScanCase::<u32>::new(ScanKind::Exclusive, 10);
        assert_eq!((s.name(), s.dtype()), ("exclusive_scan", Dtype::U32));
    }
}
