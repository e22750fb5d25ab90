//! Reductions of a vector to one value: sum, sum of squares (the L2 norm), min, max, argmax and
//! dot products in f32 (f32 accumulation per thread, block partials combined in f64), and sum
//! and dot in f64 (f64 throughout). Sum and dot are one generic kernel each; their element
//! types are those with an instance ([`SumElem`], [`DotElem`]). Sums, sums of squares and dots
//! are one launch each: the kernel's last block combines the block partials (in f64, in a fixed
//! order, so results are deterministic for a given device).
//!
//! Each reduction has a waiting form (`reduce`, `dot`, ...: allocates its scratch, queues the
//! kernels, waits and returns the value) and a queued form (`reduce_async`, ...: takes a
//! [`ReduceScratch`] that can be reused across calls, so a timed loop does not allocate; the
//! value is read from the scratch after the stream is synchronised).
use super::{Library, invalid};
use crate::kernels::{DotTotalInstance, Kernels, SumTotalInstance};
use crate::runtime::{
    self, DeviceBuffer, DeviceCopy, DeviceSlice, Gpu, KernelFn, LaunchConfig, Result, Stream,
};

/// Element types with a sum kernel (f32, f64): the instances of the generic `sum_total`.
/// Implemented for exactly those; nothing to implement.
pub trait SumElem: DeviceCopy + SumTotalInstance {}

impl<T: DeviceCopy + SumTotalInstance> SumElem for T {}

/// Element types with a dot-product kernel (f32, f64): the instances of `dot_total`.
pub trait DotElem: DeviceCopy + DotTotalInstance {}

impl<T: DeviceCopy + DotTotalInstance> DotElem for T {}

/// Reductions of an f32 vector to one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// `Σ x`
    Sum,
    /// `Σ x²`; the L2 norm is its square root.
    SumSquares,
    /// The largest element (NaNs ignored).
    Max,
    /// The smallest element (NaNs ignored).
    Min,
}

/// Threads per block of the reduction kernels (a host choice: the kernels reduce any block).
const REDUCE_BLOCK: u32 = 512;

/// Blocks of each grid-stride reduction kernel: one resident wave (SMs × the blocks of
/// [`REDUCE_BLOCK`] threads its registers allow per SM).
#[derive(Clone, Copy, Debug)]
pub(super) struct ReduceBlocks {
    /// Per instance of `sum_total` (indexed by its instance index).
    sum: [u32; 2],
    /// Per instance of `dot_total`.
    dot: [u32; 2],
    sumsq: u32,
    max: u32,
    min: u32,
    argmax: u32,
}

impl ReduceBlocks {
    pub(super) fn for_gpu(gpu: &Gpu, k: &Kernels) -> Result<ReduceBlocks> {
        let sms = gpu.props().sm_count;
        let wave = |f: &KernelFn| -> Result<u32> { Ok(sms * f.occupancy(REDUCE_BLOCK, 0)?.max(1)) };
        let (sum, dot) = (&k.sum_total, &k.dot_total);
        let mut blocks = ReduceBlocks {
            sum: [0; 2],
            dot: [0; 2],
            sumsq: wave(k.sumsq_total_f32.function())?,
            max: wave(k.max_partials_f32.function())?,
            min: wave(k.min_partials_f32.function())?,
            argmax: wave(k.argmax_partials_f32.function())?,
        };
        blocks.sum[<f32 as SumTotalInstance>::INDEX] = wave(sum.function::<f32>())?;
        blocks.sum[<f64 as SumTotalInstance>::INDEX] = wave(sum.function::<f64>())?;
        blocks.dot[<f32 as DotTotalInstance>::INDEX] = wave(dot.function::<f32>())?;
        blocks.dot[<f64 as DotTotalInstance>::INDEX] = wave(dot.function::<f64>())?;
        Ok(blocks)
    }

    fn sum<T: SumElem>(&self) -> u32 {
        self.sum[<T as SumTotalInstance>::INDEX]
    }

    fn dot<T: DotElem>(&self) -> u32 {
        self.dot[<T as DotTotalInstance>::INDEX]
    }

    /// The most partials any reduction writes.
    fn most(&self) -> u32 {
        self.sum
            .into_iter()
            .chain(self.dot)
            .chain([self.sumsq, self.max, self.min, self.argmax])
            .max()
            .unwrap_or(1)
    }
}

/// What the last reduction queued with a scratch left in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Nothing,
    /// An f64 total in `result` (sums, sums of squares, dots).
    Total,
    /// Per-block maxima or minima in `partials_f32`, combined on the host.
    Extremum(Reduce),
    /// Per-block (value, index) pairs, combined on the host.
    Argmax,
}

/// Device scratch of the reductions: one partial per block, the ticket that finds a total's
/// last block, and the final value. Made by [`Library::reduce_scratch`]; remembers which
/// reduction was last queued with it. Reductions queued with one scratch must not run
/// concurrently (queue them on one stream).
pub struct ReduceScratch {
    partials_f64: DeviceBuffer<f64>,
    /// Zero between launches: each total's last block sets it back to zero.
    ticket: DeviceBuffer<u32>,
    partials_f32: DeviceBuffer<f32>,
    partial_idx: DeviceBuffer<u32>,
    result: DeviceBuffer<f64>,
    /// Partials the last queued reduction writes (its grid size).
    parts: usize,
    pending: Pending,
}

impl ReduceScratch {
    /// The value of the last reduction queued with this scratch (after synchronising its
    /// stream): a sum, sum of squares, dot, minimum or maximum.
    pub fn value(&self) -> Result<f64> {
        match self.pending {
            Pending::Total => Ok(runtime::download(&self.result)?[0]),
            Pending::Extremum(op) => {
                let p = runtime::download(&self.partials_f32[..self.parts])?;
                Ok(if op == Reduce::Max {
                    p.into_iter().fold(f32::NEG_INFINITY, f32::max)
                } else {
                    p.into_iter().fold(f32::INFINITY, f32::min)
                } as f64)
            }
            Pending::Argmax => Err(invalid(
                "ReduceScratch::value",
                "the last reduction queued was an argmax: read it with argmax()".into(),
            )),
            Pending::Nothing => Err(invalid(
                "ReduceScratch::value",
                "no reduction was queued with this scratch".into(),
            )),
        }
    }

    /// The index of the first maximum found by the last argmax queued with this scratch (after
    /// synchronising its stream).
    pub fn argmax(&self) -> Result<usize> {
        if self.pending != Pending::Argmax {
            return Err(invalid(
                "ReduceScratch::argmax",
                "the last reduction queued with this scratch was not an argmax".into(),
            ));
        }
        let v = runtime::download(&self.partials_f32[..self.parts])?;
        let i = runtime::download(&self.partial_idx[..self.parts])?;
        let mut best = (f32::NEG_INFINITY, u32::MAX);
        for (v, i) in v.into_iter().zip(i) {
            if v > best.0 || (v == best.0 && i < best.1) {
                best = (v, i);
            }
        }
        // All NaN: no block found a maximum; the first index stands for it.
        Ok(if best.1 == u32::MAX {
            0
        } else {
            best.1 as usize
        })
    }
}

/// The device outputs of one total kernel, borrowed from a [`ReduceScratch`].
struct TotalScratch<'a> {
    partials: &'a mut DeviceSlice<f64>,
    ticket: &'a mut DeviceSlice<u32>,
    total: &'a mut DeviceSlice<f64>,
}

/// Never more blocks than there are quads to visit, and at least one.
fn reduce_cfg(blocks: u32, n: usize) -> LaunchConfig {
    let max_useful = n.div_ceil(4 * REDUCE_BLOCK as usize).max(1) as u32;
    LaunchConfig::linear(blocks.min(max_useful), REDUCE_BLOCK)
}

fn nonempty(op: &str, n: usize) -> Result<()> {
    if n == 0 {
        Err(invalid(op, "empty input has no reduction".into()))
    } else {
        Ok(())
    }
}

impl Library {
    /// Scratch for the queued reductions (`reduce_async`, `dot_async`, ...).
    pub fn reduce_scratch(&self) -> Result<ReduceScratch> {
        let n = self.reduce_blocks.most() as usize;
        Ok(ReduceScratch {
            partials_f64: self.gpu.alloc_zeroed(n)?,
            ticket: self.gpu.alloc_zeroed(1)?,
            partials_f32: self.gpu.alloc_zeroed(n)?,
            partial_idx: self.gpu.alloc_zeroed(n)?,
            result: self.gpu.alloc_zeroed(1)?,
            parts: 0,
            pending: Pending::Nothing,
        })
    }

    /// Queues one total kernel (`pass`, given the launch configuration and its partials, ticket
    /// and total) whose last block leaves the f64 total in `scratch.result`.
    fn queue_total(
        &self,
        blocks: u32,
        n: usize,
        scratch: &mut ReduceScratch,
        pass: impl FnOnce(&LaunchConfig, TotalScratch<'_>) -> Result<()>,
    ) -> Result<()> {
        let cfg = reduce_cfg(blocks, n);
        scratch.parts = cfg.grid.0 as usize;
        scratch.pending = Pending::Nothing;
        pass(
            &cfg,
            TotalScratch {
                partials: &mut scratch.partials_f64[..scratch.parts],
                ticket: &mut scratch.ticket,
                total: &mut scratch.result,
            },
        )?;
        scratch.pending = Pending::Total;
        Ok(())
    }

    /// Queues the reduction `op` of `x`; read it with [`ReduceScratch::value`] after the stream
    /// is synchronised. Sums accumulate in f32 per thread (about n / 270k elements each at
    /// 2^28) and combine the block partials in f64.
    pub fn reduce_async(
        &self,
        s: &Stream,
        op: Reduce,
        x: &DeviceSlice<f32>,
        scratch: &mut ReduceScratch,
    ) -> Result<()> {
        nonempty(&format!("{op:?}"), x.len())?;
        let (k, b) = (&self.kernels, &self.reduce_blocks);
        match op {
            Reduce::Sum => self.sum_async(s, x, scratch),
            Reduce::SumSquares => self.queue_total(b.sumsq, x.len(), scratch, |cfg, o| {
                k.sumsq_total_f32
                    .launch_with(s, cfg, x, o.partials, o.ticket, o.total)
            }),
            Reduce::Max | Reduce::Min => {
                let blocks = if op == Reduce::Max { b.max } else { b.min };
                let cfg = reduce_cfg(blocks, x.len());
                scratch.parts = cfg.grid.0 as usize;
                scratch.pending = Pending::Nothing;
                let partials = &mut scratch.partials_f32[..scratch.parts];
                if op == Reduce::Max {
                    k.max_partials_f32.launch_with(s, &cfg, x, partials)?;
                } else {
                    k.min_partials_f32.launch_with(s, &cfg, x, partials)?;
                }
                // The few hundred partials are combined on the host in `value`.
                scratch.pending = Pending::Extremum(op);
                Ok(())
            }
        }
    }

    /// The reduction `op` of `x`, waiting for it.
    pub fn reduce(&self, s: &Stream, op: Reduce, x: &DeviceSlice<f32>) -> Result<f64> {
        let mut scratch = self.reduce_scratch()?;
        self.reduce_async(s, op, x, &mut scratch)?;
        runtime::sync(s)?;
        scratch.value()
    }

    /// The Euclidean norm of `x`, waiting for it.
    pub fn l2_norm(&self, s: &Stream, x: &DeviceSlice<f32>) -> Result<f64> {
        Ok(self.reduce(s, Reduce::SumSquares, x)?.sqrt())
    }

    /// Queues the sum of `x` (f32: f32 accumulation per thread, block partials combined in
    /// f64; f64: f64 throughout); read it with [`ReduceScratch::value`].
    pub fn sum_async<T: SumElem>(
        &self,
        s: &Stream,
        x: &DeviceSlice<T>,
        scratch: &mut ReduceScratch,
    ) -> Result<()> {
        nonempty("sum", x.len())?;
        let k = &self.kernels;
        self.queue_total(self.reduce_blocks.sum::<T>(), x.len(), scratch, |cfg, o| {
            k.sum_total
                .launch_with(s, cfg, x, o.partials, o.ticket, o.total)
        })
    }

    /// The sum of `x`, waiting for it.
    pub fn sum<T: SumElem>(&self, s: &Stream, x: &DeviceSlice<T>) -> Result<f64> {
        let mut scratch = self.reduce_scratch()?;
        self.sum_async(s, x, &mut scratch)?;
        runtime::sync(s)?;
        scratch.value()
    }

    /// Queues `x · y` (FMA accumulation in `T` per thread, block partials combined in f64); read
    /// it with [`ReduceScratch::value`].
    pub fn dot_async<T: DotElem>(
        &self,
        s: &Stream,
        x: &DeviceSlice<T>,
        y: &DeviceSlice<T>,
        scratch: &mut ReduceScratch,
    ) -> Result<()> {
        nonempty("dot", x.len())?;
        let k = &self.kernels;
        self.queue_total(self.reduce_blocks.dot::<T>(), x.len(), scratch, |cfg, o| {
            k.dot_total
                .launch_with(s, cfg, x, y, o.partials, o.ticket, o.total)
        })
    }

    /// `x · y`, waiting for it.
    pub fn dot<T: DotElem>(
        &self,
        s: &Stream,
        x: &DeviceSlice<T>,
        y: &DeviceSlice<T>,
    ) -> Result<f64> {
        let mut scratch = self.reduce_scratch()?;
        self.dot_async(s, x, y, &mut scratch)?;
        runtime::sync(s)?;
        scratch.value()
    }

    /// Queues the argmax of `x` (the first index of the maximum; NaNs ignored); read it with
    /// [`ReduceScratch::argmax`].
    pub fn argmax_async(
        &self,
        s: &Stream,
        x: &DeviceSlice<f32>,
        scratch: &mut ReduceScratch,
    ) -> Result<()> {
        nonempty("argmax", x.len())?;
        if x.len() > u32::MAX as usize {
            return Err(invalid(
                "argmax",
                format!("{} elements exceed the u32 index range", x.len()),
            ));
        }
        let cfg = reduce_cfg(self.reduce_blocks.argmax, x.len());
        scratch.parts = cfg.grid.0 as usize;
        scratch.pending = Pending::Nothing;
        let vals = &mut scratch.partials_f32[..scratch.parts];
        let idx = &mut scratch.partial_idx[..scratch.parts];
        self.kernels
            .argmax_partials_f32
            .launch_with(s, &cfg, x, vals, idx)?;
        scratch.pending = Pending::Argmax;
        Ok(())
    }

    /// The index of the first maximum of `x`, waiting for it.
    pub fn argmax(&self, s: &Stream, x: &DeviceSlice<f32>) -> Result<usize> {
        let mut scratch = self.reduce_scratch()?;
        self.argmax_async(s, x, &mut scratch)?;
        runtime::sync(s)?;
        scratch.argmax()
    }
}
