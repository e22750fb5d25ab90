//! The kernel library's host API: shapes and lengths are validated (`Err` before any launch),
//! launch configurations are chosen, and multi-kernel operations (reductions) are sequenced.
use crate::kernels::Kernels;
use crate::runtime::{self, DeviceBuffer, DeviceSlice, Error, Gpu, LaunchConfig, Result, Stream};

/// Elementwise binary operations on f32 vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

/// Reductions of an f32 vector to one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    Sum,
    /// Sum of squares; the L2 norm is its square root.
    SumSquares,
    Max,
    Min,
}

/// Device scratch for reductions: one partial per block and the final value. Reused across
/// calls so that timed loops do not allocate.
pub struct ReduceScratch {
    partials_f64: DeviceBuffer<f64>,
    partials_f32: DeviceBuffer<f32>,
    partial_idx: DeviceBuffer<u32>,
    result: DeviceBuffer<f64>,
    /// Partials the last queued reduction writes (its grid size).
    parts: usize,
}

fn invalid(op: &str, reason: String) -> Error {
    Error::InvalidArgument {
        op: op.to_string(),
        reason,
    }
}

/// The kernel library loaded on one GPU.
pub struct Library {
    pub kernels: Kernels,
    /// Blocks of each grid-stride reduction kernel: one resident wave (SMs × the blocks of 512
    /// threads its registers allow per SM).
    reduce_blocks: ReduceBlocks,
}

#[derive(Clone, Copy, Debug)]
struct ReduceBlocks {
    sum_f64: u32,
    dot_f64: u32,
    sum: u32,
    sumsq: u32,
    dot: u32,
    max: u32,
    min: u32,
    argmax: u32,
}

impl ReduceBlocks {
    fn most(&self) -> u32 {
        [
            self.sum,
            self.sumsq,
            self.dot,
            self.max,
            self.min,
            self.argmax,
        ]
        .into_iter()
        .max()
        .unwrap_or(1)
    }
}

const REDUCE_BLOCK: u32 = 512;

impl Library {
    pub fn load(gpu: &Gpu) -> Result<Library> {
        let kernels = Kernels::load(gpu)?;
        let sms = gpu.props().sm_count;
        let wave = |f: &runtime::KernelFn| -> Result<u32> {
            Ok(sms * f.occupancy(REDUCE_BLOCK, 0)?.max(1))
        };
        let k = &kernels;
        let reduce_blocks = ReduceBlocks {
            sum_f64: wave(k.sum_partials_f64.function())?,
            dot_f64: wave(k.dot_partials_f64.function())?,
            sum: wave(k.sum_partials_f32.function())?,
            sumsq: wave(k.sumsq_partials_f32.function())?,
            dot: wave(k.dot_partials_f32.function())?,
            max: wave(k.max_partials_f32.function())?,
            min: wave(k.min_partials_f32.function())?,
            argmax: wave(k.argmax_partials_f32.function())?,
        };
        Ok(Library {
            kernels,
            reduce_blocks,
        })
    }

    /// out = a (op) b, elementwise.
    pub fn binary(
        &self,
        s: &Stream,
        op: Binary,
        a: &DeviceSlice<f32>,
        b: &DeviceSlice<f32>,
        out: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        let k = &self.kernels;
        match op {
            Binary::Add => k.add_f32.launch(s, a, b, out),
            Binary::Sub => k.sub_f32.launch(s, a, b, out),
            Binary::Mul => k.mul_f32.launch(s, a, b, out),
            Binary::Div => k.div_f32.launch(s, a, b, out),
        }
    }

    /// Scratch for [`Library::reduce_async`] / [`Library::argmax_async`].
    pub fn reduce_scratch(&self, gpu: &Gpu) -> Result<ReduceScratch> {
        let n = self.reduce_blocks.most() as usize;
        Ok(ReduceScratch {
            partials_f64: gpu.alloc_filled(n, 0)?,
            partials_f32: gpu.alloc_filled(n, 0)?,
            partial_idx: gpu.alloc_filled(n, 0)?,
            result: gpu.alloc_filled(1, 0)?,
            parts: 0,
        })
    }

    fn reduce_cfg(blocks: u32, n: usize) -> LaunchConfig {
        // Never more blocks than there are quads to visit, and at least one.
        let max_useful = n.div_ceil(4 * REDUCE_BLOCK as usize).max(1) as u32;
        LaunchConfig::linear(blocks.min(max_useful), REDUCE_BLOCK)
    }

    /// Queue a first pass that writes one f64 partial per block (`pass`, given the launch
    /// configuration and the partials) and the one-block f64 combine into `scratch.result`.
    fn partials_then_combine(
        &self,
        s: &Stream,
        blocks: u32,
        n: usize,
        scratch: &mut ReduceScratch,
        pass: impl FnOnce(&LaunchConfig, &mut DeviceSlice<f64>) -> Result<()>,
    ) -> Result<()> {
        let cfg = Self::reduce_cfg(blocks, n);
        scratch.parts = cfg.grid.0 as usize;
        let mut partials = scratch.partials_f64.index(..scratch.parts);
        pass(&cfg, &mut partials)?;
        self.kernels.combine_sum_f64.launch_with(
            s,
            &LaunchConfig::linear(1, 1024),
            &partials,
            &mut scratch.result,
        )
    }

    /// Queue the reduction of `x`; the result (f64) is read with [`ReduceScratch::value`] after
    /// the stream is synchronised. Sums accumulate in f32 per thread (about n / 270k elements
    /// each at 2^28) and combine block partials in f64.
    pub fn reduce_async(
        &self,
        s: &Stream,
        op: Reduce,
        x: &DeviceSlice<f32>,
        scratch: &mut ReduceScratch,
    ) -> Result<()> {
        if x.is_empty() {
            return Err(invalid(
                &format!("{op:?}"),
                "empty input has no reduction".into(),
            ));
        }
        let b = &self.reduce_blocks;
        let blocks = match op {
            Reduce::Sum => b.sum,
            Reduce::SumSquares => b.sumsq,
            Reduce::Max => b.max,
            Reduce::Min => b.min,
        };
        let k = &self.kernels;
        match op {
            Reduce::Sum => self.partials_then_combine(s, blocks, x.len(), scratch, |cfg, p| {
                k.sum_partials_f32.launch_with(s, cfg, x, p)
            }),
            Reduce::SumSquares => {
                self.partials_then_combine(s, blocks, x.len(), scratch, |cfg, p| {
                    k.sumsq_partials_f32.launch_with(s, cfg, x, p)
                })
            }
            Reduce::Max | Reduce::Min => {
                let cfg = Self::reduce_cfg(blocks, x.len());
                scratch.parts = cfg.grid.0 as usize;
                let mut partials = scratch.partials_f32.index(..scratch.parts);
                if op == Reduce::Max {
                    k.max_partials_f32.launch_with(s, &cfg, x, &mut partials)?;
                } else {
                    k.min_partials_f32.launch_with(s, &cfg, x, &mut partials)?;
                }
                // The few hundred partials are combined on the host in `value`.
                Ok(())
            }
        }
    }

    /// Reduce `x` and wait for the value.
    pub fn reduce(&self, gpu: &Gpu, s: &Stream, op: Reduce, x: &DeviceSlice<f32>) -> Result<f64> {
        let mut scratch = self.reduce_scratch(gpu)?;
        self.reduce_async(s, op, x, &mut scratch)?;
        runtime::sync(s)?;
        scratch.value(op)
    }

    /// Euclidean norm of `x`.
    pub fn l2_norm(&self, gpu: &Gpu, s: &Stream, x: &DeviceSlice<f32>) -> Result<f64> {
        Ok(self.reduce(gpu, s, Reduce::SumSquares, x)?.sqrt())
    }

    /// Queue `x · y`; read with [`ReduceScratch::value`]`(Reduce::Sum)`.
    pub fn dot_async(
        &self,
        s: &Stream,
        x: &DeviceSlice<f32>,
        y: &DeviceSlice<f32>,
        scratch: &mut ReduceScratch,
    ) -> Result<()> {
        if x.is_empty() {
            return Err(invalid("dot", "empty input".into()));
        }
        let k = &self.kernels;
        self.partials_then_combine(s, self.reduce_blocks.dot, x.len(), scratch, |cfg, p| {
            k.dot_partials_f32.launch_with(s, cfg, x, y, p)
        })
    }

    /// `x · y`, waiting for the value.
    pub fn dot(
        &self,
        gpu: &Gpu,
        s: &Stream,
        x: &DeviceSlice<f32>,
        y: &DeviceSlice<f32>,
    ) -> Result<f64> {
        let mut scratch = self.reduce_scratch(gpu)?;
        self.dot_async(s, x, y, &mut scratch)?;
        runtime::sync(s)?;
        scratch.value(Reduce::Sum)
    }

    /// Queue the f64 sum of `x` (f64 accumulation throughout); read it with
    /// [`ReduceScratch::value`]`(Reduce::Sum)` after synchronising.
    pub fn sum_f64_async(
        &self,
        s: &Stream,
        x: &DeviceSlice<f64>,
        scratch: &mut ReduceScratch,
    ) -> Result<()> {
        if x.is_empty() {
            return Err(invalid("sum (f64)", "empty input has no reduction".into()));
        }
        let k = &self.kernels;
        self.partials_then_combine(s, self.reduce_blocks.sum_f64, x.len(), scratch, |cfg, p| {
            k.sum_partials_f64.launch_with(s, cfg, x, p)
        })
    }

    /// The f64 sum of `x`, waiting for it.
    pub fn sum_f64(&self, gpu: &Gpu, s: &Stream, x: &DeviceSlice<f64>) -> Result<f64> {
        let mut scratch = self.reduce_scratch(gpu)?;
        self.sum_f64_async(s, x, &mut scratch)?;
        runtime::sync(s)?;
        scratch.value(Reduce::Sum)
    }

    /// Queue the f64 dot product `x · y` (FMA accumulation in f64).
    pub fn dot_f64_async(
        &self,
        s: &Stream,
        x: &DeviceSlice<f64>,
        y: &DeviceSlice<f64>,
        scratch: &mut ReduceScratch,
    ) -> Result<()> {
        if x.is_empty() {
            return Err(invalid("dot (f64)", "empty input".into()));
        }
        let k = &self.kernels;
        self.partials_then_combine(s, self.reduce_blocks.dot_f64, x.len(), scratch, |cfg, p| {
            k.dot_partials_f64.launch_with(s, cfg, x, y, p)
        })
    }

    /// The f64 dot product `x · y`, waiting for it.
    pub fn dot_f64(
        &self,
        gpu: &Gpu,
        s: &Stream,
        x: &DeviceSlice<f64>,
        y: &DeviceSlice<f64>,
    ) -> Result<f64> {
        let mut scratch = self.reduce_scratch(gpu)?;
        self.dot_f64_async(s, x, y, &mut scratch)?;
        runtime::sync(s)?;
        scratch.value(Reduce::Sum)
    }

    /// Queue argmax of `x` (first index of the maximum; NaNs ignored).
    pub fn argmax_async(
        &self,
        s: &Stream,
        x: &DeviceSlice<f32>,
        scratch: &mut ReduceScratch,
    ) -> Result<()> {
        if x.is_empty() {
            return Err(invalid("argmax", "empty input has no maximum".into()));
        }
        if x.len() > u32::MAX as usize {
            return Err(invalid(
                "argmax",
                format!("{} elements exceed the u32 index range", x.len()),
            ));
        }
        let cfg = Self::reduce_cfg(self.reduce_blocks.argmax, x.len());
        let parts = cfg.grid.0 as usize;
        scratch.parts = parts;
        let mut vals = scratch.partials_f32.index(..parts);
        let mut idx = scratch.partial_idx.index(..parts);
        self.kernels
            .argmax_partials_f32
            .launch_with(s, &cfg, x, &mut vals, &mut idx)
    }

    /// Index of the first maximum of `x`.
    pub fn argmax(&self, gpu: &Gpu, s: &Stream, x: &DeviceSlice<f32>) -> Result<usize> {
        let mut scratch = self.reduce_scratch(gpu)?;
        self.argmax_async(s, x, &mut scratch)?;
        runtime::sync(s)?;
        scratch.argmax()
    }
}

/// Activation maps; f16 and bf16 are stored in 16 bits and computed in f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Gelu,
    Sigmoid,
    Exp,
    Tanh,
}

/// Element types with activation-map kernels: f32, half::f16, half::bf16.
pub trait MapElem: runtime::DeviceCopy {
    #[doc(hidden)]
    fn launch(
        k: &Kernels,
        s: &Stream,
        act: Activation,
        a: &DeviceSlice<Self>,
        out: &mut DeviceSlice<Self>,
    ) -> Result<()>;
}

macro_rules! map_elem {
    ($t:ty, $relu:ident, $gelu:ident, $sigmoid:ident, $exp:ident, $tanh:ident) => {
        impl MapElem for $t {
            fn launch(
                k: &Kernels,
                s: &Stream,
                act: Activation,
                a: &DeviceSlice<Self>,
                out: &mut DeviceSlice<Self>,
            ) -> Result<()> {
                match act {
                    Activation::Relu => k.$relu.launch(s, a, out),
                    Activation::Gelu => k.$gelu.launch(s, a, out),
                    Activation::Sigmoid => k.$sigmoid.launch(s, a, out),
                    Activation::Exp => k.$exp.launch(s, a, out),
                    Activation::Tanh => k.$tanh.launch(s, a, out),
                }
            }
        }
    };
}
map_elem!(f32, relu_f32, gelu_f32, sigmoid_f32, exp_f32, tanh_f32);
map_elem!(
    half::f16,
    relu_f16,
    gelu_f16,
    sigmoid_f16,
    exp_f16,
    tanh_f16
);
map_elem!(
    half::bf16,
    relu_bf16,
    gelu_bf16,
    sigmoid_bf16,
    exp_bf16,
    tanh_bf16
);

/// Element types with row-softmax kernels: f32 and half::bf16 (f32 math).
pub trait SoftmaxElem: runtime::DeviceCopy {
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    fn launch(
        k: &Kernels,
        s: &Stream,
        log: bool,
        cfg: &LaunchConfig,
        a: &DeviceSlice<Self>,
        rows: u64,
        cols: u64,
        out: &mut DeviceSlice<Self>,
    ) -> Result<()>;
}

impl SoftmaxElem for f32 {
    fn launch(
        k: &Kernels,
        s: &Stream,
        log: bool,
        cfg: &LaunchConfig,
        a: &DeviceSlice<Self>,
        rows: u64,
        cols: u64,
        out: &mut DeviceSlice<Self>,
    ) -> Result<()> {
        if log {
            k.log_softmax_rows_f32
                .launch_with(s, cfg, a, rows, cols, out)
        } else {
            k.softmax_rows_f32.launch_with(s, cfg, a, rows, cols, out)
        }
    }
}

impl SoftmaxElem for half::bf16 {
    fn launch(
        k: &Kernels,
        s: &Stream,
        log: bool,
        cfg: &LaunchConfig,
        a: &DeviceSlice<Self>,
        rows: u64,
        cols: u64,
        out: &mut DeviceSlice<Self>,
    ) -> Result<()> {
        if log {
            k.log_softmax_rows_bf16
                .launch_with(s, cfg, a, rows, cols, out)
        } else {
            k.softmax_rows_bf16.launch_with(s, cfg, a, rows, cols, out)
        }
    }
}

/// Elements one block of the scan kernels covers (256 threads × 32; gpu-kernels/src/scan.rs).
const SCAN_TILE: usize = 8192;

/// Device scratch of the single-pass scan: one state word per tile.
pub struct ScanScratch {
    state: DeviceBuffer<u64>,
}

/// Element types with a prefix-sum kernel.
pub trait ScanElem: runtime::DeviceCopy {
    #[doc(hidden)]
    fn launch(
        k: &Kernels,
        s: &Stream,
        cfg: &LaunchConfig,
        x: &DeviceSlice<Self>,
        out: &mut DeviceSlice<Self>,
        state: &mut DeviceSlice<u64>,
        exclusive: u32,
    ) -> Result<()>;
}

macro_rules! scan_elem {
    ($t:ty, $k:ident) => {
        impl ScanElem for $t {
            fn launch(
                k: &Kernels,
                s: &Stream,
                cfg: &LaunchConfig,
                x: &DeviceSlice<Self>,
                out: &mut DeviceSlice<Self>,
                state: &mut DeviceSlice<u64>,
                exclusive: u32,
            ) -> Result<()> {
                k.$k.launch_with(s, cfg, x, out, state, exclusive)
            }
        }
    };
}
scan_elem!(f32, scan_f32);
scan_elem!(i32, scan_i32);
scan_elem!(u32, scan_u32);

/// Row chunks of the transposed GEMV's first pass.
const GEMV_T_CHUNKS: u32 = 32;

fn check_matrix(op: &str, name: &str, len: usize, rows: usize, cols: usize) -> Result<()> {
    match rows.checked_mul(cols) {
        Some(n) if n == len => Ok(()),
        _ => Err(invalid(
            op,
            format!("`{name}` has {len} elements but the shape is {rows} × {cols}"),
        )),
    }
}

fn dim_u32(op: &str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| invalid(op, format!("{what} = {v} exceeds u32")))
}

impl Library {
    /// out (cols × rows) = aᵀ for a row-major a (rows × cols).
    pub fn transpose(
        &self,
        s: &Stream,
        a: &DeviceSlice<f32>,
        rows: usize,
        cols: usize,
        out: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        check_matrix("transpose", "a", a.len(), rows, cols)?;
        check_matrix("transpose", "out", out.len(), cols, rows)?;
        // Blocks loop over 32×32 tiles, so any shape (tall, wide) fits a 1-D grid; 32 resident
        // blocks per SM measured fastest (docs/TUNING.md).
        let tiles = rows.div_ceil(32) * cols.div_ceil(32);
        if tiles == 0 {
            return Ok(());
        }
        let f = self.kernels.transpose_f32.function();
        let cap = (f.device_props().sm_count as usize * 32)
            .min(f.device_props().max_grid_dim[0] as usize);
        let cfg = LaunchConfig::linear(tiles.min(cap) as u32, 256);
        self.kernels
            .transpose_f32
            .launch_with(s, &cfg, a, rows as u64, cols as u64, out)
    }

    /// y = alpha · op(A) x + beta · y for a row-major A (rows × cols), op(A) = A or Aᵀ
    /// (`transposed`). `scratch` is needed for Aᵀ (see [`Library::gemv_scratch`]).
    #[allow(clippy::too_many_arguments)]
    pub fn gemv(
        &self,
        s: &Stream,
        transposed: bool,
        alpha: f32,
        a: &DeviceSlice<f32>,
        rows: usize,
        cols: usize,
        x: &DeviceSlice<f32>,
        beta: f32,
        y: &mut DeviceSlice<f32>,
        scratch: Option<&mut DeviceBuffer<f32>>,
    ) -> Result<()> {
        let op = if transposed { "gemv (Aᵀ)" } else { "gemv" };
        check_matrix(op, "a", a.len(), rows, cols)?;
        let (xn, yn) = if transposed {
            (rows, cols)
        } else {
            (cols, rows)
        };
        if x.len() != xn || y.len() != yn {
            return Err(invalid(
                op,
                format!(
                    "for A {rows} × {cols}, x must have {xn} elements (has {}) and y {yn} (has {})",
                    x.len(),
                    y.len()
                ),
            ));
        }
        let (r, c) = (dim_u32(op, "rows", rows)?, dim_u32(op, "cols", cols)?);
        if !transposed {
            let cfg = LaunchConfig::linear(r.div_ceil(8), 256);
            return self
                .kernels
                .gemv_f32
                .launch_with(s, &cfg, alpha, a, r, c, x, beta, y);
        }
        let need = GEMV_T_CHUNKS as usize * cols;
        let scratch = scratch.ok_or_else(|| {
            invalid(
                op,
                "the transposed GEMV needs scratch (Library::gemv_scratch)".into(),
            )
        })?;
        if scratch.len() < need {
            return Err(invalid(
                op,
                format!("scratch has {} elements, needs {need}", scratch.len()),
            ));
        }
        let mut partials = scratch.index(..need);
        let cfg = LaunchConfig {
            grid: (c.div_ceil(4).div_ceil(256), GEMV_T_CHUNKS, 1),
            block: (256, 1, 1),
            shared_bytes: 0,
        };
        self.kernels
            .gemv_t_partials_f32
            .launch_with(s, &cfg, a, r, c, x, &mut partials)?;
        self.kernels
            .gemv_t_combine_f32
            .launch(s, alpha, &partials, GEMV_T_CHUNKS, beta, y)
    }

    /// Row-wise softmax (or log-softmax) of a row-major (rows × cols) matrix, any shape: one
    /// block per row (blocks loop over rows) stages as much of its row in shared memory as fits
    /// and reads the rest from global memory in each pass.
    pub fn softmax_rows<T: SoftmaxElem>(
        &self,
        s: &Stream,
        log: bool,
        a: &DeviceSlice<T>,
        rows: usize,
        cols: usize,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        let op = if log {
            "log_softmax_rows"
        } else {
            "softmax_rows"
        };
        check_matrix(op, "a", a.len(), rows, cols)?;
        check_matrix(op, "out", out.len(), rows, cols)?;
        if rows == 0 || cols == 0 {
            return Ok(());
        }
        let f = self.kernels.softmax_rows_f32.function();
        let props = f.device_props();
        // The row (up to what fits, keeping 2 KiB for the kernel's static shared memory) is
        // staged; 128-thread blocks keep many rows in flight per SM, long rows get 1024 threads.
        let row_bytes = cols * std::mem::size_of::<T>();
        let cap = (props.max_shared_per_block_optin as usize).saturating_sub(2048) / 16 * 16;
        let shared = row_bytes
            .div_ceil(16)
            .saturating_add(1)
            .saturating_mul(16)
            .min(cap);
        let threads = if row_bytes > 64 * 1024 { 1024 } else { 128 };
        let grid = rows.min(props.max_grid_dim[0] as usize) as u32;
        let cfg = LaunchConfig::linear(grid, threads).with_shared(shared as u32);
        T::launch(
            &self.kernels,
            s,
            log,
            &cfg,
            a,
            rows as u64,
            cols as u64,
            out,
        )
    }

    /// out = act(a), elementwise.
    pub fn map<T: MapElem>(
        &self,
        s: &Stream,
        act: Activation,
        a: &DeviceSlice<T>,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        T::launch(&self.kernels, s, act, a, out)
    }

    /// Scratch for scans of up to `n` elements.
    pub fn scan_scratch(&self, gpu: &Gpu, n: usize) -> Result<ScanScratch> {
        Ok(ScanScratch {
            state: gpu.alloc_filled(n.div_ceil(SCAN_TILE).max(1), 0)?,
        })
    }

    /// Prefix sums of `x` into `out` in one pass (decoupled look-back): inclusive
    /// (`out[i] = x[0] + .. + x[i]`) or exclusive (`.. + x[i-1]`, `out[0] = 0`). f32 sums round
    /// as a sequential sum would not: tiles of 4096 are combined in tree order.
    pub fn scan<T: ScanElem>(
        &self,
        s: &Stream,
        exclusive: bool,
        x: &DeviceSlice<T>,
        out: &mut DeviceSlice<T>,
        scratch: &mut ScanScratch,
    ) -> Result<()> {
        runtime::check_same_len("scan", &[("x", x.len()), ("out", out.len())])?;
        let tiles = x.len().div_ceil(SCAN_TILE);
        if tiles > scratch.state.len() {
            return Err(invalid(
                "scan",
                format!(
                    "scratch covers {} elements, input has {}",
                    scratch.state.len() * SCAN_TILE,
                    x.len()
                ),
            ));
        }
        if tiles == 0 {
            return Ok(());
        }
        let blocks = dim_u32("scan", "tiles", tiles)?;
        let mut state = scratch.state.index(..tiles);
        runtime::zero_async(s, &mut state)?;
        let cfg = LaunchConfig::linear(blocks, 256);
        T::launch(&self.kernels, s, &cfg, x, out, &mut state, exclusive as u32)
    }

    /// Scratch for the transposed GEMV of a matrix with `cols` columns.
    pub fn gemv_scratch(&self, gpu: &Gpu, cols: usize) -> Result<DeviceBuffer<f32>> {
        gpu.alloc_filled(GEMV_T_CHUNKS as usize * cols.max(1), 0)
    }
}

impl ReduceScratch {
    /// The result of the last reduction queued with this scratch (after synchronising); `op`
    /// is the operation that was queued.
    pub fn value(&self, op: Reduce) -> Result<f64> {
        let parts = self.parts;
        match op {
            Reduce::Sum | Reduce::SumSquares => Ok(runtime::download(&self.result)?[0]),
            Reduce::Max | Reduce::Min => {
                let p = runtime::download(&self.partials_f32.index(..parts))?;
                let init = if op == Reduce::Max {
                    f32::NEG_INFINITY
                } else {
                    f32::INFINITY
                };
                Ok(p.into_iter().fold(init, |a, b| {
                    if op == Reduce::Max {
                        a.max(b)
                    } else {
                        a.min(b)
                    }
                }) as f64)
            }
        }
    }

    /// Result of the last argmax queued with this scratch (after synchronising).
    pub fn argmax(&self) -> Result<usize> {
        let parts = self.parts;
        let v = runtime::download(&self.partials_f32.index(..parts))?;
        let i = runtime::download(&self.partial_idx.index(..parts))?;
        let mut best = (f32::NEG_INFINITY, u32::MAX);
        for (v, i) in v.into_iter().zip(i) {
            if v > best.0 || (v == best.0 && i < best.1) {
                best = (v, i);
            }
        }
        Ok(if best.1 == u32::MAX {
            0
        } else {
            best.1 as usize
        })
    }
}
