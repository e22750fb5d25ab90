//! The main job: run the kernels on a GPU, check them against CPU references on random data,
//! and time them with CUDA events.
use clap::Parser;
use gpukit::kernels::Kernels;
use gpukit::reference;
use gpukit::runtime::{self, Gpu, Stream, timing};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    about = "Run gpukit's kernels on a GPU, verify them against CPU references and time them"
)]
struct Args {
    /// GPU ordinal.
    #[arg(long, default_value_t = 0)]
    device: u32,
    /// Elements per vector (default 2^28).
    #[arg(long, default_value_t = 1 << 28)]
    size: usize,
    /// Smaller size and fewer repetitions.
    #[arg(long)]
    quick: bool,
    /// Timed repetitions (median reported).
    #[arg(long, default_value_t = 20)]
    reps: usize,
}

struct Row {
    kernel: &'static str,
    n: usize,
    bytes: f64,
    timing: timing::Timing,
    ok: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("verification FAILED");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// Sampled comparison for large outputs: the first and last 4096 elements and 2^20 random ones.
fn check(got: &[f32], want: &dyn Fn(usize) -> f32, tol: f32) -> Option<(usize, f32, f32)> {
    let n = got.len();
    let mut idx: Vec<usize> = (0..n.min(4096)).chain(n.saturating_sub(4096)..n).collect();
    if n > 1 << 21 {
        let r = reference::random_f32(1 << 20, 99);
        idx.extend(
            r.iter()
                .map(|v| ((v + 1.0) * 0.5 * (n - 1) as f32) as usize),
        );
    } else {
        idx = (0..n).collect();
    }
    idx.into_iter()
        .map(|i| (i, got[i], want(i)))
        .find(|&(_, g, w)| reference::first_mismatch(&[g], &[w], tol).is_some())
}

fn run(args: &Args) -> runtime::Result<bool> {
    let gpu = Gpu::new(args.device)?;
    let k = Kernels::load(&gpu)?;
    let stream = gpu.stream()?;
    let n = if args.quick {
        args.size.min(1 << 24)
    } else {
        args.size
    };
    let reps = if args.quick {
        args.reps.min(5)
    } else {
        args.reps
    };
    let p = gpu.props();
    println!(
        "device {}: {} (sm_{}{}, {} SMs, {:.1} GiB), module image {}",
        p.ordinal,
        p.name,
        p.major,
        p.minor,
        p.sm_count,
        p.total_memory as f64 / (1u64 << 30) as f64,
        k.module.loaded_image()
    );

    let copy_bw = measure_copy(&gpu, &stream, n, reps)?;
    println!(
        "device-to-device copy: {:.0} GB/s (counting bytes read + written)",
        copy_bw / 1e9
    );

    let x = reference::random_f32(n, 1);
    let y = reference::random_f32(n, 2);
    let dx = gpu.upload(&x)?;
    let dy = gpu.upload(&y)?;
    let mut out = gpu.alloc_filled::<f32>(n, 0xff)?;
    let mut rows = Vec::new();

    // vector_add
    k.vector_add.launch(&stream, &dx, &dy, &mut out)?;
    runtime::sync(&stream)?;
    let got = runtime::download(&out)?;
    let ok = check(&got, &|i| x[i] + y[i], 0.0).is_none();
    let t = timing::time_on_stream(&stream, 3, reps, |_| {
        k.vector_add.launch(&stream, &dx, &dy, &mut out)
    })?;
    rows.push(Row {
        kernel: "vector_add",
        n,
        bytes: 12.0 * n as f64,
        timing: t,
        ok,
    });

    // saxpy (in place on a copy of y)
    let alpha = 1.5f32;
    let mut dyy = gpu.upload(&y)?;
    k.saxpy.launch(&stream, alpha, &dx, &mut dyy)?;
    runtime::sync(&stream)?;
    let got = runtime::download(&dyy)?;
    let ok = check(&got, &|i| alpha.mul_add(x[i], y[i]), 0.0).is_none();
    let t = timing::time_on_stream(&stream, 3, reps, |_| {
        k.saxpy.launch(&stream, alpha, &dx, &mut dyy)
    })?;
    rows.push(Row {
        kernel: "saxpy",
        n,
        bytes: 12.0 * n as f64,
        timing: t,
        ok,
    });

    println!(
        "\n{:<12} {:>12} {:>11} {:>11} {:>10} {:>8} {:>6}",
        "kernel", "elements", "median ms", "min ms", "GB/s", "% copy", "check"
    );
    let mut all_ok = true;
    for r in &rows {
        let gbs = r.bytes / (r.timing.median_ms() * 1e-3) / 1e9;
        println!(
            "{:<12} {:>12} {:>11.4} {:>11.4} {:>10.0} {:>7.1}% {:>6}",
            r.kernel,
            r.n,
            r.timing.median_ms(),
            r.timing.min_ms(),
            gbs,
            100.0 * gbs * 1e9 / copy_bw,
            if r.ok { "ok" } else { "FAIL" }
        );
        all_ok &= r.ok;
    }
    println!(
        "\n(times: CUDA events, median of {reps} runs after 3 warm-ups; GB/s count 12 bytes per element)"
    );
    Ok(all_ok)
}

/// Device-to-device copy bandwidth (bytes read + written per second): the memory ceiling.
fn measure_copy(gpu: &Gpu, stream: &Stream, n: usize, reps: usize) -> runtime::Result<f64> {
    let src = gpu.alloc_filled::<f32>(n, 1)?;
    let mut dst = gpu.alloc_filled::<f32>(n, 0)?;
    let bytes = n * 4;
    let t = timing::time_on_stream(stream, 3, reps, |_| {
        runtime::copy_async(stream, &mut dst, &src)
    })?;
    Ok(2.0 * bytes as f64 / (t.median_ms() * 1e-3))
}
