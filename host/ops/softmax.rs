//! Row softmax and log-softmax of a row-major matrix of any shape, f32 math over f32 or bf16
//! storage. Rows that fit in a block's registers (16-byte aligned, a whole number of 16-byte
//! packets, at most `SHORT_HELD · SHORT_THREADS_MAX` of them) are read once into registers by one block each
//! (`softmax_short`); any other row takes the general row engine, which stages as much of the
//! row in shared memory as fits and reads the rest from global memory in each pass
//! (gpu-kernels/src/rows.rs). One generic kernel per op and engine: the element type picks the
//! instance, with no per-type dispatch here.
use super::Library;
use super::matrix::Shape;
use super::rows::RowElem;
use crate::kernels::consts::rows::{SHORT_HELD, SHORT_THREADS_MAX};
use crate::runtime::{DeviceSlice, LaunchConfig, Result, Stream};

/// Which normalisation of each row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoftmaxKind {
    /// `out[j] = e^(x[j] - max) / Σ e^(x - max)`
    Softmax,
    /// `out[j] = x[j] - max - ln Σ e^(x - max)`
    LogSoftmax,
}

impl Library {
    /// Row-wise softmax or log-softmax (`kind`) of a row-major matrix of `shape`, any width
    /// (vocabulary rows of 150k+ columns included); an empty matrix does nothing.
    pub fn softmax_rows<T: RowElem>(
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
        let (rows, cols) = (shape.rows as u64, shape.cols as u64);
        let k = &self.kernels;
        match (
            row_plan::<T>(self, shape, &[a.device_ptr(), out.device_ptr()]),
            kind,
        ) {
            (RowPlan::Short(cfg), SoftmaxKind::Softmax) => {
                k.softmax_short.launch_with(s, &cfg, a, rows, cols, out)
            }
            (RowPlan::Short(cfg), SoftmaxKind::LogSoftmax) => {
                k.log_softmax_short.launch_with(s, &cfg, a, rows, cols, out)
            }
            (RowPlan::General(cfg), SoftmaxKind::Softmax) => {
                k.softmax_rows.launch_with(s, &cfg, a, rows, cols, out)
            }
            (RowPlan::General(cfg), SoftmaxKind::LogSoftmax) => {
                k.log_softmax_rows.launch_with(s, &cfg, a, rows, cols, out)
            }
        }
    }
}

/// How a row op is launched.
pub(super) enum RowPlan {
    /// The register-resident `*_short` kernel: one block per row (blocks loop past the grid).
    Short(LaunchConfig),
    /// The general row engine ([`row_launch`]).
    General(LaunchConfig),
}

/// The short kernel when every row fits in one block's registers and every buffer (`addrs`)
/// starts 16-byte aligned with rows a whole number of packets; the general engine otherwise.
/// Threads: one per [`SHORT_HELD`] packets, a multiple of 32 (256 for a 4096-column f32 row).
pub(super) fn row_plan<T>(lib: &Library, shape: Shape, addrs: &[u64]) -> RowPlan {
    let elem = std::mem::size_of::<T>();
    match short_threads(shape.cols, elem, addrs) {
        Some(threads) => {
            let grid = shape.rows.min(lib.gpu.props().max_grid_dim[0] as usize) as u32;
            RowPlan::Short(LaunchConfig::linear(grid, threads))
        }
        None => RowPlan::General(row_launch(lib, shape, elem)),
    }
}

/// Threads per block of the register-resident kernels for rows of `cols` elements of `elem`
/// bytes, or `None` when a row does not qualify (see [`row_plan`]).
fn short_threads(cols: usize, elem: usize, addrs: &[u64]) -> Option<u32> {
    let row_bytes = cols.saturating_mul(elem);
    let packets = row_bytes / 16;
    let aligned = row_bytes.is_multiple_of(16) && addrs.iter().all(|a| a.is_multiple_of(16));
    (aligned && packets <= SHORT_HELD * SHORT_THREADS_MAX)
        .then(|| (packets.div_ceil(SHORT_HELD).div_ceil(32) * 32).max(32) as u32)
}

/// The launch of the general row engine without clusters: one block per row up to the grid
/// limit (blocks loop over rows), the row staged in dynamic shared memory up to the opt-in limit
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

#[cfg(test)]
mod tests {
    use super::short_threads;

    #[test]
    fn short_rows_are_aligned_whole_packets_that_fit_one_block() {
        // 4096 f32 columns: 1024 packets, 4 per thread (the measured-best plan).
        assert_eq!(short_threads(4096, 4, &[0, 256]), Some(256));
        assert_eq!(short_threads(4096, 2, &[0, 256]), Some(128));
        assert_eq!(short_threads(8192, 4, &[0]), Some(512));
        assert_eq!(short_threads(16384, 2, &[0]), Some(512));
        assert_eq!(short_threads(1000, 2, &[0]), Some(32));
        // One packet too many, a partial packet, a misaligned buffer: the general engine.
        assert_eq!(short_threads(8196, 4, &[0]), None);
        assert_eq!(short_threads(16384, 4, &[0]), None);
        assert_eq!(short_threads(4097, 4, &[0]), None);
        assert_eq!(short_threads(4096, 4, &[0, 8]), None);
        assert_eq!(short_threads(5, 4, &[0]), None);
    }
}
