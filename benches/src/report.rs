//! Results: one [`Row`] per case in a [`Report`], written as a terminal table, JSON and markdown.
use super::baseline::geomean;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// One case's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub kernel: String,
    /// Shape label (`268435456`, `65536x4096`, `8192x8192x8192`).
    pub size: String,
    pub dtype: String,
    /// CUDA-event times over the timed runs (NaN, `null` in JSON, when the case failed before
    /// timing).
    #[serde(with = "nan_as_null")]
    pub median_ms: f64,
    #[serde(with = "nan_as_null")]
    pub min_ms: f64,
    #[serde(with = "nan_as_null")]
    pub max_ms: f64,
    pub reps: usize,
    /// Input sets rotated through while timing (1: none).
    pub rotated_sets: usize,
    /// Throughput in `unit`: GB/s (bytes read + written) or TFLOP/s.
    #[serde(with = "nan_as_null")]
    pub throughput: f64,
    pub unit: String,
    /// What the percentage is of: `copy` (measured D2D copy bandwidth) or a peak's name.
    pub ceiling: String,
    /// The ceiling in `unit`.
    pub ceiling_value: Option<f64>,
    pub pct_of_ceiling: Option<f64>,
    pub cupy_op: Option<String>,
    pub cupy_ms: Option<f64>,
    pub cupy_impl: Option<String>,
    /// `cupy_ms / median_ms`.
    pub speedup: Option<f64>,
    pub verified: bool,
    /// `full`, `sampled`, or what went wrong.
    pub check: String,
}

impl Row {
    /// A row for a case that failed before it could be timed.
    pub fn failed(kernel: &str, size: &str, dtype: &str, why: String) -> Row {
        Row {
            kernel: kernel.into(),
            size: size.into(),
            dtype: dtype.into(),
            median_ms: f64::NAN,
            min_ms: f64::NAN,
            max_ms: f64::NAN,
            reps: 0,
            rotated_sets: 0,
            throughput: f64::NAN,
            unit: String::new(),
            ceiling: String::new(),
            ceiling_value: None,
            pct_of_ceiling: None,
            cupy_op: None,
            cupy_ms: None,
            cupy_impl: None,
            speedup: None,
            verified: false,
            check: why,
        }
    }

    /// `(max - min) / median` in percent.
    pub fn spread_pct(&self) -> f64 {
        100.0 * (self.max_ms - self.min_ms) / self.median_ms
    }
}

/// f64 fields that may be NaN: `null` in JSON (which has no NaN) and back.
pub mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// The device the suite ran on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub ordinal: u32,
    pub name: String,
    pub compute_capability: String,
    pub sm_count: u32,
    pub clock_mhz: f64,
    pub memory_gib: f64,
    pub l2_mib: f64,
    /// Theoretical DRAM bandwidth from the memory clock and bus width, GB/s.
    pub dram_peak_gbs: f64,
}

/// Where the CuPy column came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CupyInfo {
    pub version: String,
    pub device: String,
    pub date: String,
    /// `--cupy (ran benches/cupy_baseline.py)` or `--baseline FILE`.
    pub source: String,
    pub skipped: usize,
}

/// Everything one run of the main program measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub gpukit_version: String,
    /// The command line that produced it.
    pub command: String,
    /// UTC, ISO 8601.
    pub date: String,
    pub device: DeviceInfo,
    /// NVIDIA driver version and the CUDA version it supports.
    pub driver: String,
    pub warmup: usize,
    pub reps: usize,
    /// Measured device-to-device copy bandwidth (bytes read + written), GB/s.
    pub copy_gbs: f64,
    pub fp32_peak_tflops: Option<f64>,
    pub tensor_f16_peak_tflops: Option<f64>,
    pub tensor_bf16_peak_tflops: Option<f64>,
    pub cupy: Option<CupyInfo>,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn all_verified(&self) -> bool {
        self.rows.iter().all(|r| r.verified)
    }

    pub fn failures(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| !r.verified).collect()
    }

    /// Geometric mean of the speedups over CuPy.
    pub fn geomean_speedup(&self) -> Option<f64> {
        geomean(self.rows.iter().filter_map(|r| r.speedup))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    pub fn from_json(text: &str) -> Result<Report, String> {
        serde_json::from_str(text).map_err(|e| format!("not a gpukit report: {e}"))
    }

    pub fn load(path: &Path) -> Result<Report, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Report::from_json(&text)
    }

    /// One line on the device and the ceilings.
    pub fn device_line(&self) -> String {
        let d = &self.device;
        format!(
            "device {}: {} (sm_{}, {} SMs at {:.0} MHz, {:.1} GiB, {:.0} MiB L2), driver {}",
            d.ordinal,
            d.name,
            d.compute_capability.replace('.', ""),
            d.sm_count,
            d.clock_mhz,
            d.memory_gib,
            d.l2_mib,
            self.driver
        )
    }

    pub fn ceilings_line(&self) -> String {
        let mut s = format!(
            "ceilings: D2D copy {:.0} GB/s measured (DRAM theoretical {:.0} GB/s)",
            self.copy_gbs, self.device.dram_peak_gbs
        );
        if let Some(p) = self.fp32_peak_tflops {
            let _ = write!(s, ", FP32 {p:.1} TFLOP/s");
        }
        if let Some(p) = self.tensor_f16_peak_tflops {
            let _ = write!(s, ", f16 tensor {p:.0} TFLOP/s");
        }
        if let Some(p) = self.tensor_bf16_peak_tflops {
            let _ = write!(s, ", bf16 tensor {p:.0} TFLOP/s");
        }
        s
    }

    pub fn cupy_line(&self) -> String {
        match &self.cupy {
            Some(c) => format!(
                "CuPy {} on {} ({}, {}){}",
                c.version,
                c.device,
                c.date,
                c.source,
                if c.skipped > 0 {
                    format!("; {} CuPy ops skipped", c.skipped)
                } else {
                    String::new()
                }
            ),
            None => "CuPy column absent: pass --cupy (needs python3 with cupy) or --baseline FILE"
                .into(),
        }
    }
}

/// Milliseconds with about four significant digits.
pub fn fmt_ms(ms: f64) -> String {
    if !ms.is_finite() {
        "-".into()
    } else if ms < 0.01 {
        format!("{ms:.5}")
    } else if ms < 1.0 {
        format!("{ms:.4}")
    } else if ms < 100.0 {
        format!("{ms:.3}")
    } else {
        format!("{ms:.1}")
    }
}

fn fmt_opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    match v {
        Some(x) if x.is_finite() => f(x),
        _ => "-".into(),
    }
}

fn fmt_throughput(r: &Row) -> String {
    if !r.throughput.is_finite() {
        return "-".into();
    }
    if r.unit == "TFLOP/s" {
        format!("{:.1} TFLOP/s", r.throughput)
    } else {
        format!("{:.0} {}", r.throughput, r.unit)
    }
}

fn fmt_pct(r: &Row) -> String {
    fmt_opt(r.pct_of_ceiling, |p| format!("{p:.0}% {}", r.ceiling))
}

fn fmt_check(r: &Row) -> String {
    if r.verified {
        format!("ok ({})", r.check)
    } else {
        "FAIL".into()
    }
}

/// The columns of both tables.
const HEADERS: [&str; 10] = [
    "kernel",
    "size",
    "dtype",
    "time ms",
    "spread",
    "throughput",
    "of ceiling",
    "CuPy ms",
    "speedup",
    "check",
];

fn cells(r: &Row) -> [String; 10] {
    [
        r.kernel.clone(),
        r.size.clone(),
        r.dtype.clone(),
        fmt_ms(r.median_ms),
        if r.median_ms.is_finite() {
            format!("±{:.1}%", r.spread_pct() / 2.0)
        } else {
            "-".into()
        },
        fmt_throughput(r),
        fmt_pct(r),
        fmt_opt(r.cupy_ms, fmt_ms),
        fmt_opt(r.speedup, |s| format!("{s:.2}x")),
        fmt_check(r),
    ]
}

/// The terminal table: aligned columns, numbers right-aligned, then the failures in full.
pub fn render_table(report: &Report) -> String {
    let rows: Vec<[String; 10]> = report.rows.iter().map(cells).collect();
    let mut width = HEADERS.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let left = |i: usize| i < 3 || i == 9;
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = width[i] - c.chars().count();
            if i > 0 {
                s.push_str("  ");
            }
            if left(i) {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.trim_end().to_string()
    };
    let mut out = String::new();
    out.push_str(&line(&HEADERS.map(String::from)));
    out.push('\n');
    let total: usize = width.iter().sum::<usize>() + 2 * (width.len() - 1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    for r in report.failures() {
        let _ = writeln!(
            out,
            "FAILED {} {} {}: {}",
            r.kernel, r.size, r.dtype, r.check
        );
    }
    out
}

/// Notes on the method, shared by the markdown files.
fn method_notes(report: &Report) -> String {
    format!(
        "- Times: CUDA events around each run on one stream, {} warm-up runs then {} timed \
         runs; the median is shown, spread is ±(max − min)/2 relative to it. When one input set \
         would fit in L2, several sets are rotated so that timed runs read from DRAM.\n\
         - Throughput: bytes read + written per run (memory-bound kernels, in GB/s = 1e9 B/s), \
         or 2 FLOP per multiply-add (GEMM, in TFLOP/s). \"of ceiling\" is relative to the \
         device-to-device copy bandwidth measured at start (`copy`) for memory-bound kernels, \
         or to the arithmetic peak SMs × FMA/clock/SM × 2 × clock for compute-bound ones \
         (FP32: 128 FMA/clock/SM on sm_90; f16/bf16 tensor cores: 2048 dense FMA/clock/SM on \
         sm_90; clock = the reported boost clock, so this is an upper bound).\n\
         - Check: every output is compared with a CPU reference on random inputs, in full up to \
         2^22 elements, else the first and last 4096 and 2^20 random elements (or sampled rows).\n\
         - CuPy: `benches/cupy_baseline.py` runs the same ops at the same sizes on the same kind \
         of inputs with the same timing (cuBLAS for GEMM/GEMV, CuPy's own kernels elsewhere, \
         the fastest of the usual ways to write each op); speedup = CuPy time / gpukit time.\n",
        report.warmup, report.reps
    )
}

/// A markdown table of the results.
pub fn render_markdown_table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
    let align: Vec<&str> = (0..HEADERS.len())
        .map(|i| if i < 3 || i == 9 { "---" } else { "---:" })
        .collect();
    let _ = writeln!(out, "|{}|", align.join("|"));
    for r in &report.rows {
        let c = cells(r).map(|c| c.replace('|', "\\|"));
        let _ = writeln!(out, "| {} |", c.join(" | "));
    }
    out
}

/// `results.md`: header, table, chart (if any) and method notes.
pub fn render_markdown(report: &Report, chart: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# gpukit results\n");
    summary(&mut out, report);
    out.push_str(&render_markdown_table(report));
    if let Some(c) = chart {
        let _ = writeln!(out, "\n![speedup vs CuPy]({c})");
    }
    let _ = writeln!(out, "\n## Method\n\n{}", method_notes(report));
    out
}

fn summary(out: &mut String, report: &Report) {
    let _ = writeln!(out, "- Command: `{}`", report.command);
    let _ = writeln!(out, "- Date: {}", report.date);
    let _ = writeln!(out, "- {}", report.device_line());
    let _ = writeln!(out, "- {}", report.ceilings_line());
    let _ = writeln!(out, "- {}", report.cupy_line());
    if let Some(g) = report.geomean_speedup() {
        let _ = writeln!(out, "- Geometric-mean speedup over CuPy: {g:.2}x");
    }
    let failed = report.failures().len();
    let _ = writeln!(
        out,
        "- Verification: {}\n",
        if failed == 0 {
            "all kernels match their CPU references".to_string()
        } else {
            format!("{failed} FAILED")
        }
    );
}

/// `BENCHMARKS.md`: how to regenerate, where and when it ran, the table and the chart.
pub fn render_benchmarks_md(report: &Report, chart: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "gpukit's kernels against CuPy on {}. Generated by the main program; do not edit by \
         hand. Regenerate (on a machine with the GPU, python3 and cupy) with:\n\n\
         ```sh\nbash benches/regenerate_benchmarks.sh\n```\n",
        report.device.name
    );
    summary(&mut out, report);
    out.push_str(&render_markdown_table(report));
    if let Some(c) = chart {
        let _ = writeln!(out, "\n![speedup vs CuPy per kernel]({c})");
    }
    let _ = writeln!(out, "\n## Method\n\n{}", method_notes(report));
    out
}

/// Today's date and time in UTC, ISO 8601 (`2026-11-23T07:05:00Z`).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    utc_from_unix(secs)
}

/// ISO 8601 UTC time of a Unix timestamp (civil-from-days, Howard Hinnant's algorithm).
pub fn utc_from_unix(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_report() -> Report {
        let mut add = Row::failed("vector_add", "268435456", "f32", String::new());
        add.median_ms = 0.68;
        add.min_ms = 0.67;
        add.max_ms = 0.70;
        add.reps = 20;
        add.rotated_sets = 1;
        add.throughput = 4737.0;
        add.unit = "GB/s".into();
        add.ceiling = "copy".into();
        add.ceiling_value = Some(4100.0);
        add.pct_of_ceiling = Some(115.5);
        add.cupy_op = Some("vector_add".into());
        add.cupy_ms = Some(0.72);
        add.speedup = Some(0.72 / 0.68);
        add.verified = true;
        add.check = "sampled".into();
        let mut gemm = add.clone();
        gemm.kernel = "sgemm".into();
        gemm.size = "8192x8192x8192".into();
        gemm.median_ms = 21.0;
        gemm.throughput = 52.4;
        gemm.unit = "TFLOP/s".into();
        gemm.ceiling = "FP32 peak".into();
        gemm.cupy_ms = None;
        gemm.speedup = None;
        let bad = Row::failed("saxpy", "268435456", "f32", "out[3] = 1 but ...".into());
        Report {
            gpukit_version: "0.1.0".into(),
            command: "gpukit --cupy".into(),
            date: "2026-11-23T07:00:00Z".into(),
            device: DeviceInfo {
                ordinal: 0,
                name: "NVIDIA H200".into(),
                compute_capability: "9.0".into(),
                sm_count: 132,
                clock_mhz: 1980.0,
                memory_gib: 139.8,
                l2_mib: 60.0,
                dram_peak_gbs: 4800.0,
            },
            driver: "580.95.05 (CUDA 13.0)".into(),
            warmup: 3,
            reps: 20,
            copy_gbs: 4100.0,
            fp32_peak_tflops: Some(66.9),
            tensor_f16_peak_tflops: Some(1070.0),
            tensor_bf16_peak_tflops: Some(1070.0),
            cupy: Some(CupyInfo {
                version: "14.2.0".into(),
                device: "NVIDIA H200".into(),
                date: "2026-11-23T06:59:00Z".into(),
                source: "--cupy".into(),
                skipped: 1,
            }),
            rows: vec![add, gemm, bad],
        }
    }

    #[test]
    fn json_round_trip_keeps_every_field() {
        let r = sample_report();
        let text = r.to_json();
        let back = Report::from_json(&text).unwrap();
        assert_eq!(back.rows[0], r.rows[0]);
        assert_eq!(back.rows[1], r.rows[1]);
        assert_eq!(back.device, r.device);
        assert_eq!(back.cupy, r.cupy);
        // NaN (a failed row's times) is written as null and read back as NaN.
        assert!(text.contains("\"median_ms\": null"));
        assert!(back.rows[2].median_ms.is_nan() && back.rows[2].throughput.is_nan());
        assert_eq!(back.rows[2].check, r.rows[2].check);
        assert!(Report::from_json("{").is_err());
    }

    #[test]
    fn terminal_table_is_aligned_and_lists_failures() {
        let r = sample_report();
        let t = render_table(&r);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("kernel"), "{t}");
        assert!(lines[1].chars().all(|c| c == '-'));
        assert!(lines[2].contains("vector_add") && lines[2].contains("0.6800"));
        assert!(lines[2].contains("4737 GB/s") && lines[2].contains("116% copy"));
        assert!(lines[2].contains("1.06x") && lines[2].contains("ok (sampled)"));
        assert!(lines[3].contains("52.4 TFLOP/s") && lines[3].contains("21.000"));
        assert!(lines[4].contains("FAIL"));
        assert!(t.contains("FAILED saxpy 268435456 f32: out[3] = 1"));
        // Right-aligned numeric columns end at the same place.
        let end = |l: &str, pat: &str| l.find(pat).map(|i| i + pat.len());
        assert_eq!(end(lines[0], "time ms"), end(lines[2], "0.6800"));
        assert!(!r.all_verified());
        assert!((r.geomean_speedup().unwrap() - 0.72 / 0.68).abs() < 1e-12);
    }

    #[test]
    fn markdown_has_header_table_chart_and_notes() {
        let r = sample_report();
        let md = render_markdown(&r, Some("speedup.png"));
        assert!(md.contains("| kernel | size | dtype |"));
        assert!(md.contains("|---|---|---|---:|"));
        assert!(md.contains("| vector_add | 268435456 | f32 | 0.6800 |"));
        assert!(md.contains("![speedup vs CuPy](speedup.png)"));
        assert!(md.contains("Command: `gpukit --cupy`"));
        assert!(md.contains("CuPy 14.2.0"));
        assert!(md.contains("1 FAILED"));
        let b = render_benchmarks_md(&r, Some("benches/results/speedup.png"));
        assert!(b.starts_with("# Benchmarks"));
        assert!(b.contains("bash benches/regenerate_benchmarks.sh"));
        assert!(b.contains("580.95.05 (CUDA 13.0)"));
        assert!(b.contains("(benches/results/speedup.png)"));
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(fmt_ms(0.004321), "0.00432");
        assert_eq!(fmt_ms(0.6789), "0.6789");
        assert_eq!(fmt_ms(21.5), "21.500");
        assert_eq!(fmt_ms(123.45), "123.5");
        assert_eq!(fmt_ms(f64::NAN), "-");
        assert_eq!(utc_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_from_unix(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc_from_unix(951_782_400), "2000-02-29T00:00:00Z");
    }
}
