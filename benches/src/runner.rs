//! Running cases: verify once, then time with CUDA events; measure the ceilings; build the
//! [`Report`].
use super::baseline::{Baseline, BaselineLib, speedup};
use super::case::{Case, Ctx, Peak, Work, size_label};
use super::cases::CopyCase;
use super::peak::{peak_flops, peak_name};
use super::report::{BaselineInfo, DeviceInfo, Report, Row, utc_now};
use super::verify;
use gpukit::Library;
use gpukit::runtime::{self, Gpu, Stream, timing};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How many input sets to rotate through so that the sets together are at least 4× the L2
/// cache (1 when one set is already at least 2× L2; at most 64).
pub fn copies_for(working_set: usize, l2_bytes: usize) -> usize {
    if working_set == 0 || l2_bytes == 0 || working_set >= 2 * l2_bytes {
        return 1;
    }
    (4 * l2_bytes).div_ceil(working_set).clamp(1, 64)
}

/// Timing parameters.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub warmup: usize,
    pub reps: usize,
    pub seed: u64,
}

/// The GPU the suite runs on.
pub struct Env<'a> {
    pub gpu: &'a Gpu,
    pub lib: &'a Library,
    pub stream: &'a Stream,
}

/// The ceilings rows are measured against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ceilings {
    /// Device-to-device copy bandwidth, GB/s (bytes read + written).
    pub copy_gbs: f64,
    /// TFLOP/s.
    pub fp32: Option<f64>,
    pub tensor_f16: Option<f64>,
    pub tensor_bf16: Option<f64>,
    pub tensor_tf32: Option<f64>,
    pub tensor_fp8: Option<f64>,
}

impl Ceilings {
    pub fn from_props(copy_gbs: f64, p: &runtime::DeviceProps) -> Ceilings {
        let peak = |k| peak_flops(k, p.major, p.minor, p.sm_count, p.clock_khz).map(|f| f / 1e12);
        Ceilings {
            copy_gbs,
            fp32: peak(Peak::Fp32),
            tensor_f16: peak(Peak::TensorF16),
            tensor_bf16: peak(Peak::TensorBf16),
            tensor_tf32: peak(Peak::TensorTf32),
            tensor_fp8: peak(Peak::TensorFp8),
        }
    }

    fn of(&self, peak: Peak) -> Option<f64> {
        match peak {
            Peak::Fp32 => self.fp32,
            Peak::TensorF16 => self.tensor_f16,
            Peak::TensorBf16 => self.tensor_bf16,
            Peak::TensorTf32 => self.tensor_tf32,
            Peak::TensorFp8 => self.tensor_fp8,
        }
    }
}

/// Device-to-device copy bandwidth in GB/s (bytes read + written) over `n` f32.
pub fn measure_copy_gbs(env: &Env, n: usize, opts: &Options) -> runtime::Result<f64> {
    let case = CopyCase { n };
    let ctx = Ctx {
        gpu: env.gpu,
        lib: env.lib,
        stream: env.stream,
        copies: 1,
        seed: opts.seed,
    };
    let mut p = case.prepare(&ctx)?;
    let t = timing::time_on_stream(env.stream, opts.warmup, opts.reps.max(5), |i| {
        p.run(env.stream, i)
    })?;
    Ok(8.0 * n as f64 / (t.median_ms() * 1e-3) / 1e9)
}

/// Fill in the throughput and ceiling columns of `row` from its time and the case's work.
pub fn apply_work(row: &mut Row, work: Work, ceilings: &Ceilings) {
    let secs = row.median_ms * 1e-3;
    match work {
        Work::Bytes(b) => {
            row.throughput = b / secs / 1e9;
            row.unit = "GB/s".into();
            row.ceiling = "copy".into();
            row.ceiling_value = Some(ceilings.copy_gbs);
        }
        Work::Flops { flops, peak } => {
            row.throughput = flops / secs / 1e12;
            row.unit = "TFLOP/s".into();
            row.ceiling = peak_name(peak).into();
            row.ceiling_value = ceilings.of(peak);
        }
    }
    row.pct_of_ceiling = row
        .ceiling_value
        .filter(|c| *c > 0.0 && row.throughput.is_finite())
        .map(|c| 100.0 * row.throughput / c);
}

/// Fill in the CuPy and torch columns of `row` from the baseline (both under the key
/// `(cupy_op, size, dtype)`), and the speedup over the faster of the two.
pub fn apply_baseline(row: &mut Row, cupy_op: Option<&str>, baseline: Option<&Baseline>) {
    row.cupy_op = cupy_op.map(str::to_string);
    let find = |lib| {
        cupy_op
            .zip(baseline)
            .and_then(|(op, b)| b.lookup_in(lib, op, &row.size, &row.dtype))
    };
    let (cupy, torch) = (find(BaselineLib::Cupy), find(BaselineLib::Torch));
    row.cupy_ms = cupy.map(|r| r.median_ms);
    row.cupy_impl = cupy.and_then(|r| r.implementation.clone());
    row.torch_ms = torch.map(|r| r.median_ms);
    row.torch_impl = torch.and_then(|r| r.implementation.clone());
    row.speedup = speedup(row.median_ms, row.cupy_ms);
    row.speedup_best = speedup(row.median_ms, row.best_baseline().map(|(t, _)| t));
}

/// Verify and time one case. Never fails: errors end up in the row's `check`.
pub fn run_case(
    case: &dyn Case,
    env: &Env,
    opts: &Options,
    ceilings: &Ceilings,
    baseline: Option<&Baseline>,
) -> Row {
    let size = size_label(&case.shape());
    let dtype = case.dtype().name();
    let l2 = env.gpu.props().l2_bytes as usize;
    let copies = copies_for(case.working_set_bytes(), l2);
    let mut row = match measure(case, env, opts, copies) {
        Ok((t, check)) => {
            let n: usize = case.shape().iter().product();
            let mut row = Row::failed(case.name(), &size, dtype, String::new());
            row.median_ms = t.median_ms();
            row.min_ms = t.min_ms();
            row.max_ms = t.max_ms();
            row.reps = t.runs_ms.len();
            row.rotated_sets = copies;
            match check {
                Ok(()) => {
                    row.verified = true;
                    row.check = verify::coverage(n).into();
                }
                Err(e) => row.check = e,
            }
            apply_work(&mut row, case.work(), ceilings);
            row
        }
        Err(e) => Row::failed(case.name(), &size, dtype, e),
    };
    apply_baseline(&mut row, case.cupy_op(), baseline);
    row
}

fn measure(
    case: &dyn Case,
    env: &Env,
    opts: &Options,
    copies: usize,
) -> Result<(timing::Timing, Result<(), String>), String> {
    let ctx = Ctx {
        gpu: env.gpu,
        lib: env.lib,
        stream: env.stream,
        copies,
        seed: opts.seed,
    };
    let mut p = case.prepare(&ctx).map_err(|e| format!("prepare: {e}"))?;
    p.run(env.stream, 0).map_err(|e| format!("launch: {e}"))?;
    runtime::sync(env.stream).map_err(|e| format!("run: {e}"))?;
    let check = p.verify();
    let t = timing::time_on_stream(env.stream, opts.warmup, opts.reps, |i| {
        p.run(env.stream, 1 + i)
    })
    .map_err(|e| format!("timing: {e}"))?;
    Ok((t, check))
}

/// Facts about the device for the report.
pub fn device_info(gpu: &Gpu) -> DeviceInfo {
    let p = gpu.props();
    DeviceInfo {
        ordinal: p.ordinal,
        name: p.name.clone(),
        compute_capability: format!("{}.{}", p.major, p.minor),
        sm_count: p.sm_count,
        clock_mhz: p.clock_khz as f64 / 1e3,
        memory_gib: p.total_memory as f64 / (1u64 << 30) as f64,
        l2_mib: p.l2_bytes as f64 / (1u64 << 20) as f64,
        dram_peak_gbs: p.peak_memory_bandwidth() / 1e9,
    }
}

/// The NVIDIA driver's version (from `/proc/driver/nvidia/version` where readable) and the
/// CUDA version it supports (`cuDriverGetVersion`), e.g. `580.95.05 (CUDA 13.0)`.
pub fn driver_version() -> String {
    let mut v = 0i32;
    // SAFETY: `v` is a valid out-pointer; the driver is initialised (a Gpu exists).
    let cuda = match unsafe { runtime::sys::cuDriverGetVersion(&mut v) } {
        runtime::sys::CUresult::CUDA_SUCCESS => format!("CUDA {}.{}", v / 1000, (v % 1000) / 10),
        _ => "CUDA ?".into(),
    };
    let kernel_module = std::fs::read_to_string("/proc/driver/nvidia/version")
        .ok()
        .and_then(|t| parse_nvidia_version(&t));
    match kernel_module {
        Some(k) => format!("{k} ({cuda})"),
        None => cuda,
    }
}

/// The version in `/proc/driver/nvidia/version`'s first line (`NVRM version: NVIDIA UNIX
/// x86_64 Kernel Module  580.95.05  Thu ...`, or `... Open Kernel Module for x86_64  580...`).
pub fn parse_nvidia_version(text: &str) -> Option<String> {
    let line = text.lines().next()?;
    let after = &line[line.find("Kernel Module")? + "Kernel Module".len()..];
    after
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .map(str::to_string)
}

/// What [`run_suite`] needs besides the cases.
pub struct SuiteRun<'a> {
    pub env: Env<'a>,
    pub opts: Options,
    /// Elements of the copy that measures the bandwidth ceiling.
    pub copy_elements: usize,
    pub baseline: Option<(&'a Baseline, String)>,
    pub command: String,
    /// Show a progress bar (on stderr, only when it is a terminal).
    pub progress: bool,
}

/// Measure the ceilings, then verify and time every case.
pub fn run_suite(run: &SuiteRun, cases: &[Box<dyn Case>]) -> runtime::Result<Report> {
    let env = &run.env;
    let copy_gbs = measure_copy_gbs(env, run.copy_elements, &run.opts)?;
    let ceilings = Ceilings::from_props(copy_gbs, env.gpu.props());
    let baseline = run.baseline.as_ref().map(|(b, _)| *b);
    let pb = if run.progress {
        ProgressBar::with_draw_target(Some(cases.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let mut rows = Vec::with_capacity(cases.len());
    for case in cases {
        let label = format!(
            "{} {} {}",
            case.name(),
            size_label(&case.shape()),
            case.dtype()
        );
        pb.set_message(label.clone());
        let row = run_case(case.as_ref(), env, &run.opts, &ceilings, baseline);
        let line = format!(
            "{label}: {} ms{}",
            super::report::fmt_ms(row.median_ms),
            if row.verified {
                String::new()
            } else {
                format!(" FAILED: {}", row.check)
            }
        );
        if pb.is_hidden() {
            eprintln!("{line}");
        } else {
            pb.println(line);
        }
        rows.push(row);
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(Report {
        gpukit_version: env!("CARGO_PKG_VERSION").into(),
        command: run.command.clone(),
        date: utc_now(),
        device: device_info(env.gpu),
        driver: driver_version(),
        warmup: run.opts.warmup,
        reps: run.opts.reps,
        copy_gbs,
        fp32_peak_tflops: ceilings.fp32,
        tensor_f16_peak_tflops: ceilings.tensor_f16,
        tensor_bf16_peak_tflops: ceilings.tensor_bf16,
        cupy: run.baseline.as_ref().map(|(b, source)| BaselineInfo {
            version: b.cupy_version.clone(),
            device: b.device.clone(),
            date: b.date.clone(),
            source: source.clone(),
            skipped: b.skipped.len(),
            torch_version: b.torch_version.clone(),
            torch_skipped: b.torch_skipped.len(),
        }),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_only_when_a_set_fits_in_l2() {
        let l2 = 50 << 20;
        assert_eq!(copies_for(3 << 30, l2), 1);
        assert_eq!(copies_for(2 * l2, l2), 1);
        assert_eq!(copies_for(l2, l2), 4);
        assert_eq!(copies_for(12 << 20, l2), 17);
        assert_eq!(copies_for(1024, l2), 64);
        assert_eq!(copies_for(usize::MAX, l2), 1);
        assert_eq!(copies_for(0, l2), 1);
    }

    #[test]
    fn throughput_ceiling_and_cupy_columns() {
        let ceilings = Ceilings {
            copy_gbs: 4000.0,
            fp32: Some(60.0),
            tensor_f16: Some(1000.0),
            tensor_bf16: None,
            tensor_tf32: None,
            tensor_fp8: None,
        };
        let mut row = Row::failed("vector_add", "1000000", "f32", String::new());
        row.median_ms = 0.01;
        apply_work(&mut row, Work::Bytes(12e6), &ceilings);
        assert!((row.throughput - 1200.0).abs() < 1e-9);
        assert_eq!(row.unit, "GB/s");
        assert!((row.pct_of_ceiling.unwrap() - 30.0).abs() < 1e-9);

        let mut g = Row::failed("gemm", "8192x8192x8192", "bf16", String::new());
        g.median_ms = 2.0;
        let flops = 2.0 * 8192f64.powi(3);
        apply_work(
            &mut g,
            Work::Flops {
                flops,
                peak: Peak::TensorBf16,
            },
            &ceilings,
        );
        assert!((g.throughput - flops / 2e-3 / 1e12).abs() < 1e-9);
        assert_eq!(g.pct_of_ceiling, None);
        apply_work(
            &mut g,
            Work::Flops {
                flops,
                peak: Peak::TensorF16,
            },
            &ceilings,
        );
        assert!((g.pct_of_ceiling.unwrap() - g.throughput / 10.0).abs() < 1e-9);

        let b = Baseline::parse(
            r#"{"results": [{"op": "vector_add", "size": "1000000", "dtype": "f32",
                "median_ms": 0.02, "impl": "fused"}]}"#,
        )
        .unwrap();
        apply_baseline(&mut row, Some("vector_add"), Some(&b));
        assert_eq!(row.cupy_ms, Some(0.02));
        assert_eq!(row.cupy_impl.as_deref(), Some("fused"));
        assert!((row.speedup.unwrap() - 2.0).abs() < 1e-12);
        apply_baseline(&mut row, None, Some(&b));
        assert_eq!((row.cupy_ms, row.speedup), (None, None));
        apply_baseline(&mut row, Some("vector_add"), None);
        assert_eq!(row.cupy_ms, None);

        // Both columns: the speedup over the faster baseline uses torch's time here.
        let both = Baseline::parse(
            r#"{"results": [{"op": "vector_add", "size": "1000000", "dtype": "f32",
                "median_ms": 0.02, "impl": "fused"}],
                "torch_results": [{"op": "vector_add", "size": "1000000", "dtype": "f32",
                "median_ms": 0.015, "impl": "torch.add(out=)"}]}"#,
        )
        .unwrap();
        apply_baseline(&mut row, Some("vector_add"), Some(&both));
        assert_eq!(row.torch_ms, Some(0.015));
        assert_eq!(row.torch_impl.as_deref(), Some("torch.add(out=)"));
        assert!((row.speedup.unwrap() - 2.0).abs() < 1e-12);
        assert!((row.speedup_best.unwrap() - 1.5).abs() < 1e-12);
        // torch only (CuPy missing on the machine): no CuPy speedup, the best is torch's.
        let torch_only = Baseline::parse(
            r#"{"results": [], "torch_results": [{"op": "vector_add", "size": "1000000",
                "dtype": "f32", "median_ms": 0.03}]}"#,
        )
        .unwrap();
        apply_baseline(&mut row, Some("vector_add"), Some(&torch_only));
        assert_eq!((row.cupy_ms, row.speedup), (None, None));
        assert!((row.speedup_best.unwrap() - 3.0).abs() < 1e-12);
    }

    #[test]
    fn nvidia_driver_version_line() {
        let t = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.95.05  Thu Sep 25 2025\n\
                 GCC version:  gcc version 12.2.0\n";
        assert_eq!(parse_nvidia_version(t).as_deref(), Some("580.95.05"));
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  \
                    Release Build  (dvs-builder@U16-I3-B03-4-3)  Sun Jul 27 06:54:38 UTC 2025";
        assert_eq!(parse_nvidia_version(open).as_deref(), Some("580.65.06"));
        assert_eq!(parse_nvidia_version("garbage"), None);
    }
}
