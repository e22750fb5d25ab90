//! Measurements of the runtime itself (launch overhead, allocation, overlap, leaks), shared by
//! the GPU tests and `runtime-bench`. The kernel is the caller's (a closure that launches one
//! small kernel), so the runtime stays independent of any kernel library. Host clocks are read
//! only after synchronising, so they cover the device work too.
use crate::gpu::Gpu;
use crate::graph::Graph;
use crate::memory::{DeviceBuffer, DeviceSlice};
use crate::pinned::{PinnedBuffer, copy_to_device_async, copy_to_host_async};
use crate::pool::MemPool;
use crate::result::Result;
use crate::stream::Stream;
use std::time::Instant;

/// A launch of one kernel writing into the given buffer, on the given stream.
pub type LaunchInto<'a> = dyn FnMut(&Stream, &mut DeviceSlice<f32>) -> Result<()> + 'a;

fn sync(s: &Stream) -> Result<()> {
    s.synchronize()
}

fn best_of(reps: usize, mut f: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        best = best.min(f()?);
    }
    Ok(best)
}

/// Per-kernel cost of `kernels` small launches, one by one and replayed as a graph.
#[derive(Clone, Copy, Debug)]
pub struct LaunchCost {
    /// Kernels per sequence.
    pub kernels: usize,
    /// Host time per kernel launched one by one, in µs.
    pub direct_us_per_kernel: f64,
    /// Host time per kernel replayed as a graph, in µs.
    pub graph_us_per_kernel: f64,
    /// One-time cost of capturing and instantiating the graph.
    pub capture_us: f64,
}

/// Launch `kernels` kernels directly (host time from the first launch until the stream is
/// idle), then the same sequence captured as a graph and replayed; best of 5 runs each.
pub fn launch_overhead(
    stream: &Stream,
    kernels: usize,
    out: &mut DeviceSlice<f32>,
    launch: &mut LaunchInto<'_>,
) -> Result<LaunchCost> {
    for _ in 0..kernels.min(100) {
        launch(stream, out)?;
    }
    sync(stream)?;
    let direct = best_of(5, || {
        let t = Instant::now();
        for _ in 0..kernels {
            launch(stream, out)?;
        }
        sync(stream)?;
        Ok(t.elapsed().as_secs_f64())
    })?;
    let t = Instant::now();
    // SAFETY: `out` outlives the graph (dropped at the end of this function).
    let graph = unsafe {
        Graph::capture(stream, |s| {
            for _ in 0..kernels {
                launch(s, out)?;
            }
            Ok(())
        })
    }?;
    let capture = t.elapsed().as_secs_f64();
    graph.launch(stream)?;
    sync(stream)?;
    let replay = best_of(5, || {
        let t = Instant::now();
        graph.launch(stream)?;
        sync(stream)?;
        Ok(t.elapsed().as_secs_f64())
    })?;
    Ok(LaunchCost {
        kernels,
        direct_us_per_kernel: direct * 1e6 / kernels as f64,
        graph_us_per_kernel: replay * 1e6 / kernels as f64,
        capture_us: capture * 1e6,
    })
}

/// An allocate-launch-free loop through a memory pool and through cuMemAlloc/cuMemFree.
#[derive(Clone, Copy, Debug)]
pub struct AllocCost {
    /// Rounds per loop.
    pub iterations: usize,
    /// Seconds of the pool loop.
    pub pool_s: f64,
    /// Seconds of the cuMemAlloc/cuMemFree loop.
    pub malloc_s: f64,
    /// Change in the device's free memory across each loop (negative: memory was lost).
    pub pool_free_delta: i64,
    /// As `pool_free_delta`, for the cuMemAlloc loop.
    pub malloc_free_delta: i64,
    /// Memory the pool held from the driver at its peak.
    pub pool_reserved_high: u64,
}

/// Both loops of `iterations` rounds, each allocating `len` floats, launching into them and
/// freeing them. The pool keeps up to `release_threshold` bytes between rounds.
pub fn alloc_loops(
    gpu: &Gpu,
    stream: &Stream,
    iterations: usize,
    len: usize,
    release_threshold: u64,
    launch: &mut LaunchInto<'_>,
) -> Result<AllocCost> {
    let pool = MemPool::new(gpu, release_threshold)?;
    let round = |launch: &mut LaunchInto<'_>| -> Result<()> {
        // SAFETY: the kernel writes the buffer before anything reads it.
        let mut b = unsafe { pool.alloc_async::<f32>(stream, len) }?;
        launch(stream, &mut b)
    };
    for _ in 0..100 {
        round(launch)?;
    }
    sync(stream)?;
    let free0 = gpu.memory_info()?.0;
    let t = Instant::now();
    for _ in 0..iterations {
        round(launch)?;
    }
    sync(stream)?;
    let pool_s = t.elapsed().as_secs_f64();
    let pool_free_delta = gpu.memory_info()?.0 as i64 - free0 as i64;
    let pool_reserved_high = pool.reserved_high_bytes()?;

    let malloc_round = |launch: &mut LaunchInto<'_>| -> Result<()> {
        // SAFETY: written by the kernel before any read.
        let mut b = unsafe { DeviceBuffer::<f32>::uninitialized(gpu.context(), len) }?;
        launch(stream, &mut b)?;
        // cuMemFree (in DeviceBuffer's drop) waits for the device itself.
        Ok(())
    };
    for _ in 0..100 {
        malloc_round(launch)?;
    }
    sync(stream)?;
    let free1 = gpu.memory_info()?.0;
    let t = Instant::now();
    for _ in 0..iterations {
        malloc_round(launch)?;
    }
    sync(stream)?;
    let malloc_s = t.elapsed().as_secs_f64();
    let malloc_free_delta = gpu.memory_info()?.0 as i64 - free1 as i64;
    Ok(AllocCost {
        iterations,
        pool_s,
        malloc_s,
        pool_free_delta,
        malloc_free_delta,
        pool_reserved_high,
    })
}

/// Copy in, compute, copy out over chunks: all on one stream vs alternating two streams.
#[derive(Clone, Copy, Debug)]
pub struct Overlap {
    /// Milliseconds with everything on one stream.
    pub serial_ms: f64,
    /// Milliseconds with chunks alternating between two streams.
    pub two_streams_ms: f64,
    /// Both schedules produced the same output.
    pub same_result: bool,
}

/// `chunks` chunks of `chunk_len` floats from pinned memory: copy in, `compute` on the chunk,
/// copy out. With two streams one chunk's copies overlap the other's kernels.
pub fn copy_compute_overlap(
    gpu: &Gpu,
    chunks: usize,
    chunk_len: usize,
    compute: &mut LaunchInto<'_>,
) -> Result<Overlap> {
    let n = chunks * chunk_len;
    let input =
        PinnedBuffer::from_slice(gpu, &(0..n).map(|i| (i % 1000) as f32).collect::<Vec<_>>())?;
    let ins: Vec<PinnedBuffer<f32>> = (0..chunks)
        .map(|c| PinnedBuffer::from_slice(gpu, &input[c * chunk_len..(c + 1) * chunk_len]))
        .collect::<Result<_>>()?;
    let streams = [gpu.stream()?, gpu.stream()?];
    let mut dev = [
        gpu.alloc_filled::<f32>(chunk_len, 0)?,
        gpu.alloc_filled::<f32>(chunk_len, 0)?,
    ];
    let mut run = |ways: usize| -> Result<(f64, Vec<f32>)> {
        let mut outs: Vec<PinnedBuffer<f32>> = (0..chunks)
            .map(|_| PinnedBuffer::filled(gpu, chunk_len, 0.0))
            .collect::<Result<_>>()?;
        gpu.synchronize()?;
        let t = Instant::now();
        for (c, out) in outs.iter_mut().enumerate() {
            let w = c % ways;
            let s = &streams[w];
            copy_to_device_async(s, &mut dev[w], &ins[c])?;
            compute(s, &mut dev[w])?;
            copy_to_host_async(s, out, &dev[w])?;
        }
        gpu.synchronize()?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let v = outs.iter().flat_map(|o| o.iter().copied()).collect();
        Ok((ms, v))
    };
    run(2)?; // warm-up
    let (mut serial_ms, mut two_ms) = (f64::INFINITY, f64::INFINITY);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (t1, v1) = run(1)?;
        let (t2, v2) = run(2)?;
        serial_ms = serial_ms.min(t1);
        two_ms = two_ms.min(t2);
        (a, b) = (v1, v2);
    }
    Ok(Overlap {
        serial_ms,
        two_streams_ms: two_ms,
        same_result: a == b,
    })
}

/// Device memory before and after allocating, launching into and freeing many buffers.
#[derive(Clone, Copy, Debug)]
pub struct Churn {
    /// Buffers allocated and freed.
    pub buffers: usize,
    /// Kernels launched.
    pub launches: usize,
    /// Free device memory before, in bytes.
    pub free_before: usize,
    /// Free device memory after, in bytes.
    pub free_after: usize,
}

impl Churn {
    /// Change in free memory (negative: memory was lost).
    pub fn free_delta(&self) -> i64 {
        self.free_after as i64 - self.free_before as i64
    }
}

/// Allocate and free `count` device buffers of `len` floats (cuMemAlloc/cuMemFree), launch
/// one kernel into each, and compare the device's free memory before and after.
pub fn churn(
    gpu: &Gpu,
    stream: &Stream,
    count: usize,
    len: usize,
    launch: &mut LaunchInto<'_>,
) -> Result<Churn> {
    // Warm up first: the context's first allocations and launches reserve memory once.
    {
        let mut b = gpu.alloc_filled::<f32>(len, 0)?;
        launch(stream, &mut b)?;
        sync(stream)?;
    }
    let free_before = gpu.memory_info()?.0;
    let mut launches = 0;
    for _ in 0..count {
        // SAFETY: written by the kernel before any read.
        let mut b = unsafe { DeviceBuffer::<f32>::uninitialized(gpu.context(), len) }?;
        launch(stream, &mut b)?;
        launches += 1;
        b.free()?;
    }
    sync(stream)?;
    let free_after = gpu.memory_info()?.0;
    Ok(Churn {
        buffers: count,
        launches,
        free_before,
        free_after,
    })
}
