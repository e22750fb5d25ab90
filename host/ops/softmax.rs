//! Row softmax and log-softmax of a row-major matrix of any shape, f32 math (bf16 stored in 16
//! bits): one block per row (blocks loop over rows) stages as much of its row in shared memory
//! as fits and reads the rest from global memory in each pass (gpu-kernels/src/rows.rs).
use super::Library;
use super::matrix::Shape;
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
        dims: (u64, u64),
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
                (rows, cols): (u64, u64),
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
    /// Row-wise softmax or log-softmax (`kind`) of a row-major matrix of `shape`, any width
    /// (vocabulary rows of 150k+ columns included); an empty matrix does nothing.
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
        if shape.rows == 0 || shape.cols == 0 {
            return Ok(());
        }
        let cfg = row_launch(self, shape, std::mem::size_of::<T>());
        T::launch(
            &self.kernels,
            s,
            kind,
            &cfg,
            a,
            (shape.rows as u64, shape.cols as u64),
            out,
        )
    }
}

/// The launch of the row engine without clusters: one block per row up to the grid limit
/// (blocks loop over rows), the row staged in dynamic shared memory up to the opt-in limit
/// (2 KiB kept for the kernels' static shared memory), 128 threads for rows up to 64 KiB (many
/// rows in flight per SM measured fastest) and 1024 above.
pub(super) fn row_launch(lib: &Library, shape: Shape, elem: usize) -> LaunchConfig {
    let props = lib.gpu.props();
    let row_bytes = shape.cols.saturating_mul(elem);
    let cap = (props.max_shared_per_block_optin as usize).saturating_sub(2048) / 16 * 16;
    let shared = (row_bytes / 16 + 1).saturating_mul(16).min(cap);
    let threads = if row_bytes > 64 * 1024 { 1024 } else { 128 };
    let grid = shape.rows.min(props.max_grid_dim[0] as usize) as u32;
    LaunchConfig::linear(grid, threads).with_shared(shared as u32)
}
