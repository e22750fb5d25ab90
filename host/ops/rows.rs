//! Row normalisations and the LLM output layer's loss, f32 and bf16 storage with f32 math, any
//! row width (gpu-kernels/src/rows.rs: a block stages as much of its row as fits in shared
//! memory and reads the rest from global memory in each pass):
//!
//! - [`Library::layer_norm`]: `(x - mean) / sqrt(var + eps) · weight + bias` (biased variance);
//! - [`Library::rms_norm`]: `x / sqrt(mean(x²) + eps) · weight`;
//! - [`Library::add_rms_norm`]: `sum = x + residual`, then RMSNorm of `sum` (the pre-norm
//!   transformer block's residual stream), in one pass;
//! - [`Library::cross_entropy`]: `loss[r] = logsumexp(logits[r]) - logits[r][target[r]]`.
//!
//! Weights and biases are optional (`None`: weight 1, bias 0).
use super::matrix::Shape;
use super::softmax::{RowPlan, row_launch, row_plan};
use super::{Library, invalid};
use crate::kernels::{
    AddRmsNormRowsInstance, CrossEntropyInstance, LayerNormRowsInstance, LayerNormShortInstance,
    LogSoftmaxHeldInstance, LogSoftmaxRereadInstance, LogSoftmaxRowsInstance,
    LogSoftmaxShortInstance, LogSoftmaxSplitInstance, RmsNormRowsInstance, RmsNormShortInstance,
    SoftmaxHeldInstance, SoftmaxRereadInstance, SoftmaxRowsInstance, SoftmaxShortInstance,
    SoftmaxSplitInstance,
};
use crate::runtime::{DeviceCopy, DeviceSlice, LaunchConfig, Result, Stream};

/// Options of [`Library::cross_entropy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrossEntropy {
    /// Rows whose target equals this get loss 0 (torch's `ignore_index`, -100 by default).
    pub ignore_index: i64,
}

impl Default for CrossEntropy {
    fn default() -> Self {
        CrossEntropy { ignore_index: -100 }
    }
}

/// Storage types of the row kernels (f32 and bf16): every row kernel is one generic source
/// compiled for both, and this bundles their instance bounds (implemented for exactly the
/// types all of them were compiled for).
pub trait RowElem:
    DeviceCopy
    + SoftmaxShortInstance
    + LogSoftmaxShortInstance
    + SoftmaxRowsInstance
    + LogSoftmaxRowsInstance
    + SoftmaxSplitInstance
    + LogSoftmaxSplitInstance
    + SoftmaxRereadInstance
    + LogSoftmaxRereadInstance
    + SoftmaxHeldInstance
    + LogSoftmaxHeldInstance
    + LayerNormShortInstance
    + LayerNormRowsInstance
    + RmsNormShortInstance
    + RmsNormRowsInstance
    + AddRmsNormRowsInstance
    + CrossEntropyInstance
{
}

impl<T> RowElem for T where
    T: DeviceCopy
        + SoftmaxShortInstance
        + LogSoftmaxShortInstance
        + SoftmaxRowsInstance
        + LogSoftmaxRowsInstance
        + SoftmaxSplitInstance
        + LogSoftmaxSplitInstance
        + SoftmaxRereadInstance
        + LogSoftmaxRereadInstance
        + SoftmaxHeldInstance
        + LogSoftmaxHeldInstance
        + LayerNormShortInstance
        + LayerNormRowsInstance
        + RmsNormShortInstance
        + RmsNormRowsInstance
        + AddRmsNormRowsInstance
        + CrossEntropyInstance
{
}

/// `Err` unless an optional per-column parameter has `cols` elements; the empty slice the
/// kernels take for "none" otherwise.
fn param<'a, T: DeviceCopy>(
    op: &str,
    name: &str,
    p: Option<&'a DeviceSlice<T>>,
    x: &'a DeviceSlice<T>,
    cols: usize,
) -> Result<&'a DeviceSlice<T>> {
    match p {
        None => Ok(&x[..0]),
        Some(p) if p.len() == cols => Ok(p),
        Some(p) => Err(invalid(
            op,
            format!("`{name}` has {} elements, the rows {cols}", p.len()),
        )),
    }
}

impl Library {
    /// LayerNorm of each row of `x` (`shape`), f32 math: per-thread two-pass statistics combined
    /// with Chan's formula (no cancellation). An empty matrix does nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn layer_norm<T: RowElem>(
        &self,
        s: &Stream,
        x: &DeviceSlice<T>,
        shape: Shape,
        weight: Option<&DeviceSlice<T>>,
        bias: Option<&DeviceSlice<T>>,
        eps: f32,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        shape.check("layer_norm", "x", x.len())?;
        shape.check("layer_norm", "out", out.len())?;
        let w = param("layer_norm", "weight", weight, x, shape.cols)?;
        let b = param("layer_norm", "bias", bias, x, shape.cols)?;
        if shape.rows == 0 || shape.cols == 0 {
            return Ok(());
        }
        let (rows, cols) = (shape.rows as u64, shape.cols as u64);
        let k = &self.kernels;
        // The register kernel reads weight and bias as 16-byte packets only.
        let addrs = [
            x.device_ptr(),
            out.device_ptr(),
            w.device_ptr(),
            b.device_ptr(),
        ];
        match row_plan::<T>(self, shape, &addrs) {
            RowPlan::Short(cfg) => k
                .layer_norm_short
                .launch_with(s, &cfg, x, rows, cols, w, b, eps, out),
            RowPlan::General(cfg) => k
                .layer_norm_rows
                .launch_with(s, &cfg, x, rows, cols, w, b, eps, out),
        }
    }

    /// RMSNorm of each row of `x` (`shape`), f32 math. An empty matrix does nothing.
    pub fn rms_norm<T: RowElem>(
        &self,
        s: &Stream,
        x: &DeviceSlice<T>,
        shape: Shape,
        weight: Option<&DeviceSlice<T>>,
        eps: f32,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        shape.check("rms_norm", "x", x.len())?;
        shape.check("rms_norm", "out", out.len())?;
        let w = param("rms_norm", "weight", weight, x, shape.cols)?;
        if shape.rows == 0 || shape.cols == 0 {
            return Ok(());
        }
        let (rows, cols) = (shape.rows as u64, shape.cols as u64);
        let k = &self.kernels;
        let addrs = [x.device_ptr(), out.device_ptr()];
        match row_plan::<T>(self, shape, &addrs) {
            RowPlan::Short(cfg) => k
                .rms_norm_short
                .launch_with(s, &cfg, x, rows, cols, w, eps, out),
            RowPlan::General(cfg) => k
                .rms_norm_rows
                .launch_with(s, &cfg, x, rows, cols, w, eps, out),
        }
    }

    /// `sum = x + residual` (rounded to `T`, as an unfused add) and `out = rmsnorm(sum) ·
    /// weight`, in one pass over memory.
    #[allow(clippy::too_many_arguments)]
    pub fn add_rms_norm<T: RowElem>(
        &self,
        s: &Stream,
        x: &DeviceSlice<T>,
        residual: &DeviceSlice<T>,
        shape: Shape,
        weight: Option<&DeviceSlice<T>>,
        eps: f32,
        out: &mut DeviceSlice<T>,
        sum: &mut DeviceSlice<T>,
    ) -> Result<()> {
        let op = "add_rms_norm";
        shape.check(op, "x", x.len())?;
        shape.check(op, "residual", residual.len())?;
        shape.check(op, "out", out.len())?;
        shape.check(op, "sum", sum.len())?;
        let w = param(op, "weight", weight, x, shape.cols)?;
        if shape.rows == 0 || shape.cols == 0 {
            return Ok(());
        }
        let cfg = row_launch(self, shape, std::mem::size_of::<T>());
        let (rows, cols) = (shape.rows as u64, shape.cols as u64);
        self.kernels
            .add_rms_norm_rows
            .launch_with(s, &cfg, x, residual, rows, cols, w, eps, out, sum)
    }

    /// Per-row cross-entropy of `logits` (`shape`: rows = tokens, cols = the vocabulary) against
    /// `targets` (one class index per row): `loss[r] = logsumexp(logits[r]) - logits[r][t]`, in
    /// one streaming read of the logits. Rows whose target is `opts.ignore_index` get 0; any
    /// other target outside `0..cols` gives NaN (the kernel cannot fail). The mean loss is the
    /// sum of `loss` over the counted rows divided by their number.
    pub fn cross_entropy<T: RowElem>(
        &self,
        s: &Stream,
        logits: &DeviceSlice<T>,
        shape: Shape,
        targets: &DeviceSlice<i64>,
        opts: CrossEntropy,
        loss: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        let op = "cross_entropy";
        shape.check(op, "logits", logits.len())?;
        if targets.len() != shape.rows || loss.len() != shape.rows {
            return Err(invalid(
                op,
                format!(
                    "`targets` ({}) and `loss` ({}) need one element per row ({})",
                    targets.len(),
                    loss.len(),
                    shape.rows
                ),
            ));
        }
        if shape.rows == 0 {
            return Ok(());
        }
        // One block of 256 threads per row, nothing staged (measured fastest on the H200 for
        // f32 and bf16 vocabulary rows, docs/TUNING.md).
        let grid = shape.rows.min(self.gpu.props().max_grid_dim[0] as usize) as u32;
        let cfg = LaunchConfig::linear(grid, 256);
        let (rows, cols) = (shape.rows as u64, shape.cols as u64);
        self.kernels.cross_entropy.launch_with(
            s,
            &cfg,
            logits,
            rows,
            cols,
            targets,
            opts.ignore_index,
            loss,
        )
    }
}
