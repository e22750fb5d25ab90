//! Measurements of the host runtime on a GPU, one `name: value` result per line: graph replay
//! vs direct launch cost, pool vs cuMemAlloc allocation loops, copy/compute overlap, device
//! memory across 10^5 buffers and launches, and the devices with their peer access.
//!
//! The launch cost is printed next to the same small op (an add of 256 f32) launched 1000
//! times from torch and from CuPy, in the same run, by a short python script (skipped, with
//! the reason, when python3, torch or CuPy is missing).
//!
//! Run: `cargo run --release -p gpukit-bench --bin runtime-bench` (`--quick` for fewer iterations).
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

    // Launch overhead: 1000 small kernels (vector_add of 256 floats).
    let n = 256;
    let a = gpu.upload(&vec![1.0f32; n])?;
    let b = gpu.upload(&vec![2.0f32; n])?;
    let mut out = gpu.alloc_filled::<f32>(n, 0)?;
    let mut small = |s: &Stream, o: &mut DeviceSlice<f32>| k.vector_add.launch(s, &a, &b, o);
    let c = measure::launch_overhead(&s, 1000, &mut out, &mut small)?;
    println!("launch kernels: {}", c.kernels);
    println!("launch direct us/kernel: {:.3}", c.direct_us_per_kernel);
    println!(
        "launch graph replay us/kernel: {:.3}",
        c.graph_us_per_kernel
    );
    println!("launch graph capture+instantiate us: {:.1}", c.capture_us);
    // Where the direct launch's time goes: the host time to enqueue 1000 typed launches (no
    // sync), and the driver's own floor (`cuLaunchKernel` of the same kernel and arguments,
    // nothing of ours), measured the same way as the direct launch.
    let enqueue = best_us_per(1000, || {
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            k.vector_add.launch(&s, &a, &b, &mut out)?;
        }
        let us = t.elapsed().as_secs_f64() * 1e6;
        s.synchronize()?;
        Ok(us)
    })?;
    println!("launch typed enqueue-only us/kernel: {enqueue:.3}");
    let cfg = k.vector_add.config(&a, &b, &out)?;
    let mut slices = [
        runtime::SliceArg::of(&a),
        runtime::SliceArg::of(&b),
        runtime::SliceArg::of_mut(&mut out),
    ];
    let raw = best_us_per(1000, || {
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
    })?;
    println!("launch raw cuLaunchKernel us/kernel (driver floor, same method as direct): {raw:.3}");
    println!(
        "launch targets met (graph <= 1.5 us, direct <= 4 us): {}",
        yes(c.graph_us_per_kernel <= 1.5 && c.direct_us_per_kernel <= 4.0)
    );
    // The same small op from torch and CuPy, measured the same way in this run.
    if !args.no_python {
        python_small_ops(&args.python, args.device);
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
