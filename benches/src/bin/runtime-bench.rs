//! Measurements of the host runtime on a GPU, one `name: value` result per line: graph replay
//! vs direct launch cost, pool vs cuMemAlloc allocation loops, copy/compute overlap, device
//! memory across 10^5 buffers and launches, and the devices with their peer access.
//!
//! The launch cost (see [`launch_costs`] for what each figure is) is measured in interleaved
//! rounds and printed as the median with the spread, next to gpukit's raw-driver floor and the
//! same small op (an add of 256 f32) launched 1000 times from torch and from CuPy, in the same
//! run, by a short python script (skipped, with the reason, when python3, torch or CuPy is
//! missing). `benches/launch-floor/` measures what the driver's own cost depends on (stream
//! kind, argument passing, scheduling flags, queue depth) without gpukit.
//!
//! Run: `cargo run --release -p gpukit-bench --bin runtime-bench` (`--quick` for fewer
//! iterations, `--launch-only` for the launch section alone).
use clap::Parser;
use gpukit::kernels::Kernels;
use gpukit::runtime::{self, DeviceSlice, Gpu, Stream, measure};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(about = "Measure gpukit's host runtime: graphs, pools, overlap, leaks, devices")]
struct Args {
    /// GPU ordinal for the single-GPU measurements.
    #[arg(long, default_value_t = 0)]
    device: u32,
    /// Fewer iterations (10^4 instead of 10^5 for the allocation and leak loops).
    #[arg(long)]
    quick: bool,
    /// Python interpreter for the torch/CuPy small-launch comparison.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Skip the torch/CuPy small-launch comparison.
    #[arg(long)]
    no_python: bool,
    /// Only the launch-cost section (and the torch/CuPy comparison unless `--no-python`).
    #[arg(long)]
    launch_only: bool,
    /// Interleaved rounds of the launch measurements (each round: best of 5 runs of 1000
    /// launches per figure); the spread between rounds is printed next to the figures.
    #[arg(long, default_value_t = 3)]
    launch_rounds: usize,
    /// Set the primary context's scheduling flag before opening the device (how a synchronize
    /// waits); by default the driver's own choice (`auto`) is left alone.
    #[arg(long, value_enum)]
    ctx_sched: Option<CtxSched>,
}

/// The primary context's `CU_CTX_SCHED_*` flag.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum CtxSched {
    Auto,
    Spin,
    Yield,
    BlockingSync,
}

impl CtxSched {
    fn flag(self) -> u32 {
        match self {
            CtxSched::Auto => 0,
            CtxSched::Spin => 1,
            CtxSched::Yield => 2,
            CtxSched::BlockingSync => 4,
        }
    }
}

/// Set `sched` on device `ordinal`'s primary context (before anything retains it).
fn set_ctx_sched(ordinal: u32, sched: CtxSched) -> runtime::Result<()> {
    use runtime::Call;
    Gpu::count()?;
    let mut dev = 0;
    // SAFETY: valid out-pointer; the driver is initialised by `Gpu::count`.
    unsafe { runtime::sys::cuDeviceGet(&mut dev, ordinal as i32) }.call("cuDeviceGet")?;
    // SAFETY: a device handle from the driver and a valid `CU_CTX_SCHED_*` flag.
    unsafe { runtime::sys::cuDevicePrimaryCtxSetFlags_v2(dev, sched.flag()) }
        .call("cuDevicePrimaryCtxSetFlags")
}

/// Times 1000 back-to-back adds of 256 f32 (as gpukit's launch measurement: wall time from the
/// first launch to the end of a final synchronize, after a warm-up) in torch and in CuPy, and
/// torch's CUDA-graph replay of the same 1000; prints `name: value` lines. `argv[1]`: the device.
const PY_SMALL_OPS: &str = r#"
import sys, time
dev = int(sys.argv[1]); N = 256; K = 1000
def per_op(launch, sync, k=K, warm=200):
    for _ in range(warm):
        launch()
    sync()
    best = None
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(k):
            launch()
        sync()
        us = (time.perf_counter() - t) * 1e6 / k
        best = us if best is None else min(best, us)
    return best
try:
    import torch
    torch.cuda.set_device(dev)
    a = torch.ones(N, device="cuda"); b = torch.ones(N, device="cuda"); o = torch.empty_like(a)
    sync = torch.cuda.synchronize
    print(f"torch {torch.__version__} launch direct us/op (torch.add(out=) of {N} f32): "
          f"{per_op(lambda: torch.add(a, b, out=o), sync):.3f}")
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            torch.add(a, b, out=o)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(K):
            torch.add(a, b, out=o)
    us = per_op(g.replay, sync, k=1, warm=1) / K
    print(f"torch launch graph replay us/op: {us:.3f}")
except Exception as e:
    print(f"torch small ops: skipped ({type(e).__name__}: {e})")
try:
    import cupy as cp
    cp.cuda.Device(dev).use()
    a = cp.ones(N, dtype=cp.float32); b = cp.ones(N, dtype=cp.float32); o = cp.empty_like(a)
    sync = cp.cuda.Stream.null.synchronize
    print(f"cupy {cp.__version__} launch direct us/op (cp.add(out=) of {N} f32): "
          f"{per_op(lambda: cp.add(a, b, out=o), sync):.3f}")
except Exception as e:
    print(f"cupy small ops: skipped ({type(e).__name__}: {e})")
"#;

/// Run [`PY_SMALL_OPS`] and print its lines; a missing interpreter is reported, not an error.
fn python_small_ops(python: &str, device: u32) {
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(PY_SMALL_OPS)
        .arg(device.to_string())
        .output();
    match out {
        Ok(o) => {
            print!("{}", String::from_utf8_lossy(&o.stdout));
            if !o.status.success() {
                let err = String::from_utf8_lossy(&o.stderr);
                let last = err.lines().last().unwrap_or("");
                println!(
                    "python small ops: {python} exited with {} ({last})",
                    o.status
                );
            }
        }
        Err(e) => println!("python small ops: skipped ({python}: {e})"),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Best of 5 runs of `f` (µs for `per` kernels), per kernel.
fn best_us_per(per: usize, mut f: impl FnMut() -> runtime::Result<f64>) -> runtime::Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        best = best.min(f()?);
    }
    Ok(best / per as f64)
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "NO" }
}

fn run(args: &Args) -> runtime::Result<()> {
    if let Some(sched) = args.ctx_sched {
        set_ctx_sched(args.device, sched)?;
    }
    for d in runtime::devices()? {
        println!("device {}", d.summary());
    }
    let gpu = Gpu::new(args.device)?;
    let k = Kernels::load(&gpu)?;
    let s = gpu.stream()?;
    let iters = if args.quick { 10_000 } else { 100_000 };
    println!(
        "bench device: {} ({}), module image {}",
        gpu.props().name,
        gpu.props().pci_bus_id,
        k.module.loaded_image()
    );

    launch_costs(args, &gpu, &k, &s)?;
    if args.launch_only {
        return Ok(());
    }

    // Allocation loops: allocate 64 Ki floats, launch into them, free.
    let n = 1 << 16;
    let a = gpu.upload(&vec![1.0f32; n])?;
    let b = gpu.upload(&vec![2.0f32; n])?;
    let mut add = |s: &Stream, o: &mut DeviceSlice<f32>| k.vector_add.launch(s, &a, &b, o);
    let c = measure::alloc_loops(&gpu, &s, iters, n, 64 << 20, &mut add)?;
    println!("alloc iterations: {}", c.iterations);
    println!(
        "alloc pool loop s: {:.3} ({:.2} us/iteration)",
        c.pool_s,
        c.pool_s * 1e6 / c.iterations as f64
    );
    println!(
        "alloc cuMemAlloc/cuMemFree loop s: {:.3} ({:.2} us/iteration)",
        c.malloc_s,
        c.malloc_s * 1e6 / c.iterations as f64
    );
    println!("alloc pool speedup: {:.2}x", c.malloc_s / c.pool_s);
    println!(
        "alloc pool device memory growth bytes: {}",
        -c.pool_free_delta
    );
    println!(
        "alloc cuMemAlloc device memory growth bytes: {}",
        -c.malloc_free_delta
    );
    println!(
        "alloc pool reserved high-water bytes: {}",
        c.pool_reserved_high
    );

    // Copy/compute overlap: 8 chunks of 8 Mi floats, 20 saxpys per chunk.
    let chunk = 8 << 20;
    let x = gpu.upload(&vec![1.0f32; chunk])?;
    let mut compute = |s: &Stream, o: &mut DeviceSlice<f32>| {
        for _ in 0..20 {
            k.saxpy.launch(s, 0.5, &x, o)?;
        }
        Ok(())
    };
    let o = measure::copy_compute_overlap(&gpu, 8, chunk, &mut compute)?;
    println!("overlap serial ms: {:.3}", o.serial_ms);
    println!("overlap two streams ms: {:.3}", o.two_streams_ms);
    println!("overlap speedup: {:.2}x", o.serial_ms / o.two_streams_ms);
    println!("overlap same result: {}", yes(o.same_result));

    // Leaks: 10^5 buffers allocated and freed, 10^5 launches.
    let n = 1024;
    let a = gpu.upload(&vec![1.0f32; n])?;
    let b = gpu.upload(&vec![2.0f32; n])?;
    let mut add = |s: &Stream, o: &mut DeviceSlice<f32>| k.vector_add.launch(s, &a, &b, o);
    let c = measure::churn(&gpu, &s, iters, n, &mut add)?;
    println!("leak buffers: {}", c.buffers);
    println!("leak launches: {}", c.launches);
    println!("leak device free bytes before: {}", c.free_before);
    println!("leak device free bytes after: {}", c.free_after);
    println!("leak device memory change bytes: {}", c.free_delta());
    Ok(())
}

/// `(min, median, max)` of the per-round figures (the upper median for an even count); `v` is
/// not empty.
fn spread(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

/// Print one launch figure: its median over the rounds as `name: value`, then the spread.
fn print_rounds(name: &str, v: &[f64]) {
    let (lo, med, hi) = spread(v);
    println!("{name}: {med:.3} (rounds: min {lo:.3}, max {hi:.3})");
}

/// The host cost of small launches: 1000 launches of vector_add on 256 f32 (one block), each
/// figure the best of 5 runs, over `--launch-rounds` interleaved rounds (median printed, with
/// the spread). "direct" is host wall time from the first launch until a final synchronize
/// returns, through the typed launcher; "enqueue-only" the same launches until the last one
/// returns (the sync after it is not counted); "raw" is `cuLaunchKernel` called directly with
/// the same kernel, configuration, arguments and stream, timed as "direct": the driver's floor
/// on this host, nothing of gpukit's; "graph replay" the same 1000 launches captured once and
/// replayed.
fn launch_costs(args: &Args, gpu: &Gpu, k: &Kernels, s: &Stream) -> runtime::Result<()> {
    let n = 256;
    let a = gpu.upload(&vec![1.0f32; n])?;
    let b = gpu.upload(&vec![2.0f32; n])?;
    let mut out = gpu.alloc_filled::<f32>(n, 0)?;
    let (mut flags, mut active) = (0u32, 0i32);
    // SAFETY: valid out-pointers and a device handle from the driver.
    let rc =
        unsafe { runtime::sys::cuDevicePrimaryCtxGetState(gpu.device(), &mut flags, &mut active) };
    let sched = match (rc == runtime::sys::CUresult::CUDA_SUCCESS, flags & 7) {
        (false, _) => "unknown".to_string(),
        (true, 0) => "auto".to_string(),
        (true, 1) => "spin".to_string(),
        (true, 2) => "yield".to_string(),
        (true, 4) => "blocking-sync".to_string(),
        (true, f) => format!("{f:#x}"),
    };
    let cfg = k.vector_add.config(&a, &b, &out)?;
    println!(
        "launch setup: vector_add of {n} f32 ({:?} blocks of {:?}), non-blocking stream, context scheduling {sched}, {} interleaved rounds of best-of-5 x 1000 launches",
        cfg.grid,
        cfg.block,
        args.launch_rounds.max(1)
    );
    let (mut direct, mut enqueue, mut raw, mut graph, mut capture) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.launch_rounds.max(1) {
        let mut small = |s: &Stream, o: &mut DeviceSlice<f32>| k.vector_add.launch(s, &a, &b, o);
        let c = measure::launch_overhead(s, 1000, &mut out, &mut small)?;
        direct.push(c.direct_us_per_kernel);
        graph.push(c.graph_us_per_kernel);
        capture.push(c.capture_us);
        enqueue.push(best_us_per(1000, || {
            let t = std::time::Instant::now();
            for _ in 0..1000 {
                k.vector_add.launch(s, &a, &b, &mut out)?;
            }
            let us = t.elapsed().as_secs_f64() * 1e6;
            s.synchronize()?;
            Ok(us)
        })?);
        raw.push(raw_launches(k, s, &a, &b, &mut out)?);
    }
    print_rounds(
        "launch direct us/kernel (typed, 1000 launches + sync)",
        &direct,
    );
    print_rounds(
        "launch typed enqueue-only us/kernel (sync not counted)",
        &enqueue,
    );
    print_rounds(
        "launch raw cuLaunchKernel us/kernel (driver floor, as direct)",
        &raw,
    );
    print_rounds("launch graph replay us/kernel", &graph);
    println!(
        "launch graph capture+instantiate us (1000 kernels): {:.1}",
        spread(&capture).1
    );
    let (direct_med, raw_med) = (spread(&direct).1, spread(&raw).1);
    println!(
        "launch gpukit over the driver floor us/kernel: {:.3}",
        direct_med - raw_med
    );
    println!(
        "launch targets met (graph <= 1.5 us, direct <= 3 us): {}",
        yes(spread(&graph).1 <= 1.5 && direct_med <= 3.0)
    );
    // The same small op from torch and CuPy, measured the same way in this run.
    if !args.no_python {
        python_small_ops(&args.python, args.device);
    }
    Ok(())
}

/// 1000 raw `cuLaunchKernel` calls of vector_add then a sync, best of 5, µs per launch.
fn raw_launches(
    k: &Kernels,
    s: &Stream,
    a: &DeviceSlice<f32>,
    b: &DeviceSlice<f32>,
    out: &mut DeviceSlice<f32>,
) -> runtime::Result<f64> {
    let cfg = k.vector_add.config(a, b, out)?;
    let mut slices = [
        runtime::SliceArg::of(a),
        runtime::SliceArg::of(b),
        runtime::SliceArg::of_mut(out),
    ];
    best_us_per(1000, || {
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            let mut params = slices
                .each_mut()
                .map(|p| p as *mut runtime::SliceArg as *mut std::ffi::c_void);
            // SAFETY: the kernel's three `{ptr, len}` parameters, pointing at live buffers of
            // the lengths given; the configuration is the typed launcher's own.
            let rc = unsafe {
                runtime::sys::cuLaunchKernel(
                    k.vector_add.function().raw(),
                    cfg.grid.0,
                    cfg.grid.1,
                    cfg.grid.2,
                    cfg.block.0,
                    cfg.block.1,
                    cfg.block.2,
                    0,
                    s.raw(),
                    params.as_mut_ptr(),
                    std::ptr::null_mut(),
                )
            };
            if rc != runtime::sys::CUresult::CUDA_SUCCESS {
                eprintln!("cuLaunchKernel: {rc:?}");
            }
        }
        s.synchronize()?;
        Ok(t.elapsed().as_secs_f64() * 1e6)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_min_median_max_in_any_order() {
        assert_eq!(spread(&[4.2, 3.9, 4.0]), (3.9, 4.0, 4.2));
        assert_eq!(spread(&[5.0]), (5.0, 5.0, 5.0));
        assert_eq!(spread(&[3.0, 1.0, 4.0, 2.0]), (1.0, 3.0, 4.0));
    }

    #[test]
    fn scheduling_flags_are_cuda_h_s() {
        // CU_CTX_SCHED_AUTO, _SPIN, _YIELD, _BLOCKING_SYNC in cuda.h.
        let flags = [
            CtxSched::Auto,
            CtxSched::Spin,
            CtxSched::Yield,
            CtxSched::BlockingSync,
        ]
        .map(CtxSched::flag);
        assert_eq!(flags, [0, 1, 2, 4]);
    }

    #[test]
    fn launch_options_parse() {
        let a = Args::try_parse_from([
            "runtime-bench",
            "--launch-only",
            "--launch-rounds",
            "7",
            "--ctx-sched",
            "blocking-sync",
        ])
        .unwrap();
        assert!(a.launch_only);
        assert_eq!(a.launch_rounds, 7);
        assert!(matches!(a.ctx_sched, Some(CtxSched::BlockingSync)));
        let d = Args::try_parse_from(["runtime-bench"]).unwrap();
        assert!(d.ctx_sched.is_none() && !d.launch_only && d.launch_rounds == 3);
    }
}
