//! Row softmax and log-softmax of a row-major matrix, one block per row with the row staged in
//! registers or shared memory, f32 math (bf16 stored in 16 bits).
use super::matrix::Shape;
use super::{Library, invalid};
use crate::kernels::Kernels;
use crate::runtime::half::bf16;
use crate::runtime::{DeviceCopy, DeviceSlice, LaunchConfig, Result, Stream};

/// Which normalisation of each row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoftmaxKind {
    /// `out[j] = e^(x[j] - max) / Σ e^(x - max)`
    Softmax,
    /// `out[j] = x[j] - max - ln Σ e^(x - max)`
    LogSoftmax,
}

/// Element types with row-softmax kernels: f32 and bf16.
pub trait SoftmaxElem: DeviceCopy {
    #[doc(hidden)]
    fn launch(
        k: &Kernels,
        s: &Stream,
        kind: SoftmaxKind,
        cfg: &LaunchConfig,
        a: &DeviceSlice<Self>,
        dims: (u32, u32),
        out: &mut DeviceSlice<Self>,
    ) -> Result<()>;
}

macro_rules! softmax_elem {
    ($t:ty, $softmax:ident, $log_softmax:ident) => {
        impl SoftmaxElem for $t {
            fn launch(
                k: &Kernels,
                s: &Stream,
                kind: SoftmaxKind,
                cfg: &LaunchConfig,
                a: &DeviceSlice<Self>,
                (rows, cols): (u32, u32),
                out: &mut DeviceSlice<Self>,
            ) -> Result<()> {
                match kind {
                    SoftmaxKind::Softmax => k.$softmax.launch_with(s, cfg, a, rows, cols, out),
                    SoftmaxKind::LogSoftmax => {
                        k.$log_softmax.launch_with(s, cfg, a, rows, cols, out)
                    }
                }
            }
        }
    };
}
softmax_elem!(f32, softmax_rows_f32, log_softmax_rows_f32);
softmax_elem!(bf16, softmax_rows_bf16, log_softmax_rows_bf16);

impl Library {
    /// Row-wise softmax or log-softmax (`kind`) of a row-major matrix of `shape`; `cols` must be
    /// at least 1 and at most the device's opt-in shared memory / 4 (one row is staged there).
    pub fn softmax_rows<T: SoftmaxElem>(
        &self,
        s: &Stream,
        kind: SoftmaxKind,
        a: &DeviceSlice<T>,
        shape: Shape,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        let op = match kind {
            SoftmaxKind::Softmax => "softmax_rows",
            SoftmaxKind::LogSoftmax => "log_softmax_rows",
        };
        shape.check(op, "a", a.len())?;
        shape.check(op, "out", out.len())?;
        let props = self.gpu.props();
        let limit = props.max_shared_per_block_optin as usize / 4;
        let cols = shape.cols;
        if cols == 0 || cols > limit {
            return Err(invalid(
                op,
                format!(
                    "cols = {cols} must be in 1..={limit} (one row is staged in shared memory)"
                ),
            ));
        }
        let (r, c) = shape.dims_u32(op)?;
        if r > props.max_grid_dim[0] {
            return Err(invalid(
                op,
                format!("{} rows exceed the grid limit", shape.rows),
            ));
        }
        // f32 rows of up to 8192 columns stay in registers (512 threads for wide rows); bf16 rows
        // go through shared memory, where 256 threads keep more blocks resident.
        let wide = cols >= 2048 && std::mem::size_of::<T>() == 4;
        let cfg = LaunchConfig::linear(r, if wide { 512 } else { 256 }).with_shared(c * 4);
        T::launch(&self.kernels, s, kind, &cfg, a, (r, c), out)
    }
}
