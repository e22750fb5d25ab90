//! Cases of the reductions (sum, min, max, argmax, dot, L2 norm) and the prefix sums.
//!
//! The timed run queues the library's `_async` form on scratch allocated in `prepare`, so no
//! allocation, synchronisation or host copy is inside the timed region; `verify` reads the value
//! of run 0 after the runner's sync and compares it with an f64 reference over the whole input
//! (computed in parallel), within the bounds `tests/gpu_reductions.rs` states.
use super::case::{Case, Ctx, Dtype, Prepared, Work};
use super::{data, verify};
use gpukit::Library;
use gpukit::ops::{Reduce, ReduceScratch, ScanKind, ScanScratch};
use gpukit::runtime::{self, DeviceBuffer, Stream};

/// Which reduction a [`ReduceCase`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Min,
    Max,
    Argmax,
    /// `x · y` (two inputs).
    Dot,
    /// `sqrt(Σ x²)`: the sum of squares on the GPU, the square root on the host.
    L2Norm,
}

impl ReduceOp {
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Min => "min",
            ReduceOp::Max => "max",
            ReduceOp::Argmax => "argmax",
            ReduceOp::Dot => "dot",
            ReduceOp::L2Norm => "l2_norm",
        }
    }

    fn inputs(self) -> usize {
        if self == ReduceOp::Dot { 2 } else { 1 }
    }
}

/// A reduction of `n` f32 (uniform in `[-1, 1)`) to one value.
pub struct ReduceCase {
    pub op: ReduceOp,
    pub n: usize,
}

/// Relative bound of the f32-per-thread, f64-across-blocks sums (of Σ|terms|).
const SUM_BOUND: f64 = 1.0 / (1u64 << 20) as f64;

impl Case for ReduceCase {
    fn name(&self) -> &str {
        self.op.name()
    }
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.n]
    }
    fn work(&self) -> Work {
        Work::Bytes((self.op.inputs() * self.n * 4) as f64)
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let lib = ctx.lib;
        let scratch = lib.reduce_scratch()?;
        let mut host = Vec::new();
        let mut sets = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let h: Vec<Vec<f32>> = (0..self.op.inputs())
                .map(|j| data::random(self.n, data::mix(ctx.seed, (set * 64 + j) as u64)))
                .collect();
            sets.push(
                h.iter()
                    .map(|v| ctx.gpu.upload(v))
                    .collect::<runtime::Result<Vec<_>>>()?,
            );
            if set == 0 {
                host = h;
            }
        }
        Ok(Box::new(ReduceRun {
            op: self.op,
            lib,
            scratch,
            host,
            sets,
        }))
    }
}

struct ReduceRun<'a> {
    op: ReduceOp,
    lib: &'a Library,
    scratch: ReduceScratch,
    host: Vec<Vec<f32>>,
    sets: Vec<Vec<DeviceBuffer<f32>>>,
}

impl Prepared for ReduceRun<'_> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let x = &self.sets[rep % self.sets.len()];
        let (lib, scratch) = (self.lib, &mut self.scratch);
        match self.op {
            ReduceOp::Sum => lib.reduce_async(stream, Reduce::Sum, &x[0], scratch),
            ReduceOp::Min => lib.reduce_async(stream, Reduce::Min, &x[0], scratch),
            ReduceOp::Max => lib.reduce_async(stream, Reduce::Max, &x[0], scratch),
            ReduceOp::L2Norm => lib.reduce_async(stream, Reduce::SumSquares, &x[0], scratch),
            ReduceOp::Dot => lib.dot_async(stream, &x[0], &x[1], scratch),
            ReduceOp::Argmax => lib.argmax_async(stream, &x[0], scratch),
        }
    }

    fn verify(&mut self) -> Result<(), String> {
        let x = &self.host[0];
        let value = || self.scratch.value().map_err(|e| e.to_string());
        let (what, got, want, tol) = match self.op {
            ReduceOp::Sum | ReduceOp::Dot => {
                let y = self.host.get(1);
                let (sum, abs) = fold_f64(x.len(), |i| match y {
                    Some(y) => x[i] as f64 * y[i] as f64,
                    None => x[i] as f64,
                });
                (self.op.name(), value()?, sum, abs * SUM_BOUND + 1e-6)
            }
            ReduceOp::L2Norm => {
                let (ss, _) = fold_f64(x.len(), |i| x[i] as f64 * x[i] as f64);
                let want = ss.sqrt();
                ("l2_norm", value()?.sqrt(), want, want * SUM_BOUND)
            }
            ReduceOp::Max | ReduceOp::Min => {
                let max = self.op == ReduceOp::Max;
                let want = verify::par_ranges(x.len(), |r| {
                    x[r].iter().copied().fold(
                        if max {
                            f32::NEG_INFINITY
                        } else {
                            f32::INFINITY
                        },
                        if max { f32::max } else { f32::min },
                    )
                })
                .into_iter()
                .fold(
                    if max {
                        f32::NEG_INFINITY
                    } else {
                        f32::INFINITY
                    },
                    if max { f32::max } else { f32::min },
                );
                (self.op.name(), value()?, want as f64, 0.0)
            }
            ReduceOp::Argmax => {
                // The first index of the maximum: per range (value, first index), then the
                // first range holding the overall maximum.
                let best = verify::par_ranges(x.len(), |r| {
                    let start = r.start;
                    x[r].iter()
                        .enumerate()
                        .fold((f32::NEG_INFINITY, usize::MAX), |b, (i, &v)| {
                            if v > b.0 { (v, start + i) } else { b }
                        })
                })
                .into_iter()
                .fold((f32::NEG_INFINITY, usize::MAX), |b, p| {
                    if p.0 > b.0 { p } else { b }
                });
                let got = self.scratch.argmax().map_err(|e| e.to_string())?;
                ("argmax", got as f64, best.1 as f64, 0.0)
            }
        };
        if (got - want).abs() <= tol {
            Ok(())
        } else {
            Err(format!(
                "{what} = {got} but the f64 reference is {want} (difference {:e}, bound {tol:e})",
                (got - want).abs()
            ))
        }
    }
}

/// `(Σ term(i), Σ |term(i)|)` over `0..n` in f64, in parallel.
fn fold_f64(n: usize, term: impl Fn(usize) -> f64 + Sync) -> (f64, f64) {
    verify::par_ranges(n, |r| {
        r.fold((0.0, 0.0), |(s, a), i| {
            let t = term(i);
            (s + t, a + t.abs())
        })
    })
    .into_iter()
    .fold((0.0, 0.0), |(s, a), (ps, pa)| (s + ps, a + pa))
}

/// An inclusive or exclusive prefix sum of `n` f32 (uniform in `[-1, 1)`), one pass
/// ([`Library::scan`]).
pub struct ScanCase {
    pub kind: ScanKind,
    pub n: usize,
}

impl Case for ScanCase {
    fn name(&self) -> &str {
        match self.kind {
            ScanKind::Inclusive => "inclusive_scan",
            ScanKind::Exclusive => "exclusive_scan",
        }
    }
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> Vec<usize> {
        vec![self.n]
    }
    fn work(&self) -> Work {
        Work::Bytes((2 * self.n * 4) as f64)
    }
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>> {
        let lib = ctx.lib;
        let scratch = lib.scan_scratch(self.n)?;
        let mut host = Vec::new();
        let mut sets = Vec::new();
        for set in 0..ctx.copies.max(1) {
            let x: Vec<f32> = data::random(self.n, data::mix(ctx.seed, (set * 64) as u64));
            sets.push((
                ctx.gpu.upload(&x)?,
                ctx.gpu.alloc_filled::<f32>(self.n, 0xff)?,
            ));
            if set == 0 {
                host = x;
            }
        }
        Ok(Box::new(ScanRun {
            kind: self.kind,
            lib,
            scratch,
            host,
            sets,
            seed: ctx.seed,
        }))
    }
}

struct ScanRun<'a> {
    kind: ScanKind,
    lib: &'a Library,
    scratch: ScanScratch,
    host: Vec<f32>,
    sets: Vec<(DeviceBuffer<f32>, DeviceBuffer<f32>)>,
    seed: u64,
}

impl Prepared for ScanRun<'_> {
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()> {
        let k = rep % self.sets.len();
        let (x, out) = &mut self.sets[k];
        self.lib.scan(stream, self.kind, x, out, &mut self.scratch)
    }

    fn verify(&mut self) -> Result<(), String> {
        let got = runtime::download(&self.sets[0].1).map_err(|e| e.to_string())?;
        let idx = verify::sample_indices(self.host.len(), self.seed);
        let exclusive = self.kind == ScanKind::Exclusive;
        let want = prefix_at(&self.host, &idx, exclusive);
        // Bound (tests/gpu_reductions.rs): 2^-20 of the running Σ|x|, plus 1e-6.
        let mut first = None;
        let mut bad = 0usize;
        for (&i, &(run, mag)) in idx.iter().zip(&want) {
            let g = got[i] as f64;
            let tol = mag * SUM_BOUND + 1e-6;
            if g.is_nan() || (g - run).abs() > tol {
                bad += 1;
                first.get_or_insert((i, g, run, tol));
            }
        }
        match first {
            None => Ok(()),
            Some((i, g, w, tol)) => Err(format!(
                "out[{i}] = {g} but the f64 prefix sum is {w} (bound {tol:e}); {bad} of {} \
                 checked elements differ",
                idx.len()
            )),
        }
    }
}

/// The f64 prefix sum and prefix Σ|x| at each of the sorted indices `idx` (inclusive: through
/// `x[i]`; exclusive: through `x[i - 1]`), from two parallel passes over `x`.
pub fn prefix_at(x: &[f32], idx: &[usize], exclusive: bool) -> Vec<(f64, f64)> {
    let totals = verify::par_ranges(x.len(), |r| {
        let t = x[r.clone()].iter().fold((0.0f64, 0.0f64), |(s, a), &v| {
            (s + v as f64, a + (v as f64).abs())
        });
        (r.start, t)
    });
    let mut offsets = Vec::with_capacity(totals.len());
    let mut acc = (0.0f64, 0.0f64);
    for &(start, t) in &totals {
        offsets.push((start, acc));
        acc = (acc.0 + t.0, acc.1 + t.1);
    }
    verify::par_ranges(x.len(), |r| {
        // par_ranges splits the same n the same way: this range's offset is the one recorded
        // under its start.
        let k = offsets.partition_point(|&(start, _)| start < r.start);
        let (mut s, mut a) = offsets[k].1;
        let lo = idx.partition_point(|&i| i < r.start);
        let hi = idx.partition_point(|&i| i < r.end);
        let mut out = Vec::with_capacity(hi - lo);
        let mut next = r.start;
        for &i in &idx[lo..hi] {
            let end = if exclusive { i } else { i + 1 };
            for &v in &x[next..end] {
                s += v as f64;
                a += (v as f64).abs();
            }
            next = end;
            out.push((s, a));
        }
        out
    })
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_sums_at_sampled_indices_match_a_sequential_pass() {
        for n in [1usize, 5, 70_000, (1 << 22) + 17] {
            let x: Vec<f32> = data::random(n, 11);
            let idx = verify::sample_indices(n, 2);
            for exclusive in [false, true] {
                let got = prefix_at(&x, &idx, exclusive);
                assert_eq!(got.len(), idx.len());
                let (mut s, mut a, mut k) = (0f64, 0f64, 0usize);
                for (i, &v) in x.iter().enumerate() {
                    if !exclusive {
                        s += v as f64;
                        a += (v as f64).abs();
                    }
                    if k < idx.len() && idx[k] == i {
                        assert!((got[k].0 - s).abs() <= 1e-9 * a.max(1.0), "n={n} i={i}");
                        assert!((got[k].1 - a).abs() <= 1e-9 * a.max(1.0), "n={n} i={i}");
                        k += 1;
                    }
                    if exclusive {
                        s += v as f64;
                        a += (v as f64).abs();
                    }
                }
                assert_eq!(k, idx.len());
            }
        }
    }

    #[test]
    fn parallel_folds() {
        let x: Vec<f32> = data::random(300_001, 4);
        let (s, a) = fold_f64(x.len(), |i| x[i] as f64);
        let want: f64 = x.iter().map(|&v| v as f64).sum();
        assert!((s - want).abs() < 1e-9 && a > s.abs());
        assert_eq!(
            ReduceCase {
                op: ReduceOp::Dot,
                n: 10
            }
            .work(),
            Work::Bytes(80.0)
        );
    }
}
