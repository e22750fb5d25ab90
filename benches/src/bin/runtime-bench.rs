//! Measurements of the host runtime on a GPU, one `name: value` result per line: graph replay
//! vs direct launch cost, pool vs cuMemAlloc allocation loops, copy/compute overlap, device
//! memory across 10^5 buffers and launches, and the devices with their peer access.
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
    println!(
        "launch targets met (graph <= 1.5 us, direct <= 4 us): {}",
        yes(c.graph_us_per_kernel <= 1.5 && c.direct_us_per_kernel <= 4.0)
    );

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
