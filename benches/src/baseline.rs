//! The CuPy baseline: the JSON `benches/cupy_baseline.py` writes, and running that script.
use serde::{Deserialize, Deserializer, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the CuPy script writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CupyBaseline {
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub cupy_version: String,
    #[serde(default)]
    pub date: String,
    pub results: Vec<CupyResult>,
    /// Ops the script could not run, with the reason.
    #[serde(default)]
    pub skipped: Vec<CupySkipped>,
}

/// One timed op.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CupyResult {
    pub op: String,
    /// Shape as `size_label` writes it (`268435456`, `8192x8192x8192`); a number is accepted.
    #[serde(deserialize_with = "size_string")]
    pub size: String,
    pub dtype: String,
    #[serde(with = "super::report::nan_as_null")]
    pub median_ms: f64,
    #[serde(default = "nan", with = "super::report::nan_as_null")]
    pub min_ms: f64,
    #[serde(default = "nan", with = "super::report::nan_as_null")]
    pub max_ms: f64,
    /// Which CuPy formulation was fastest (the script times several where there is a choice).
    #[serde(default, rename = "impl", skip_serializing_if = "Option::is_none")]
    pub implementation: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CupySkipped {
    pub op: String,
    #[serde(default, deserialize_with = "size_string")]
    pub size: String,
    #[serde(default)]
    pub dtype: String,
    #[serde(default)]
    pub reason: String,
}

fn nan() -> f64 {
    f64::NAN
}

fn size_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Text(String),
        Number(u64),
        Dims(Vec<u64>),
    }
    Ok(match Size::deserialize(d)? {
        Size::Text(s) => s,
        Size::Number(n) => n.to_string(),
        Size::Dims(v) => v
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("x"),
    })
}

impl CupyBaseline {
    pub fn parse(text: &str) -> Result<CupyBaseline, String> {
        serde_json::from_str(text).map_err(|e| format!("not a CuPy baseline JSON: {e}"))
    }

    pub fn load(path: &Path) -> Result<CupyBaseline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        CupyBaseline::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The result for `op` at `size` (a `size_label`) and `dtype`.
    pub fn lookup(&self, op: &str, size: &str, dtype: &str) -> Option<&CupyResult> {
        self.results
            .iter()
            .find(|r| r.op == op && r.size == size && r.dtype == dtype && r.median_ms.is_finite())
    }
}

/// How to run the CuPy script.
#[derive(Clone, Debug)]
pub struct ScriptRun {
    pub python: String,
    pub script: PathBuf,
    pub device: u32,
    pub quick: bool,
    pub size: Option<usize>,
    pub only: Option<String>,
    pub warmup: usize,
    pub reps: usize,
}

impl ScriptRun {
    /// The script's arguments (after the script path) for writing JSON to `out`.
    pub fn args(&self, out: &Path) -> Vec<String> {
        let mut a = vec![
            "--out".to_string(),
            out.display().to_string(),
            "--device".into(),
            self.device.to_string(),
            "--warmup".into(),
            self.warmup.to_string(),
            "--reps".into(),
            self.reps.to_string(),
        ];
        if self.quick {
            a.push("--quick".into());
        }
        if let Some(n) = self.size {
            a.extend(["--size".into(), n.to_string()]);
        }
        if let Some(p) = &self.only {
            a.extend(["--only".into(), p.clone()]);
        }
        a
    }

    /// Run the script (its progress goes to this process's stderr) and read what it wrote to
    /// `out`. Errors say why there is no baseline: no python, no CuPy, the script failed.
    pub fn run(&self, out: &Path) -> Result<CupyBaseline, String> {
        if !self.script.is_file() {
            return Err(format!(
                "CuPy script {} not found (run from the repository root or pass --cupy-script)",
                self.script.display()
            ));
        }
        let status = Command::new(&self.python)
            .arg(&self.script)
            .args(self.args(out))
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("cannot run {}: {e}", self.python))?;
        match status.code() {
            Some(0) => CupyBaseline::load(out),
            Some(3) => Err(format!("{} has no usable CuPy", self.python)),
            _ => Err(format!("{} exited with {status}", self.script.display())),
        }
    }
}

/// `cupy / ours`: how many times faster this kernel is than CuPy (`None` without both times).
pub fn speedup(ours_ms: f64, cupy_ms: Option<f64>) -> Option<f64> {
    let c = cupy_ms?;
    (ours_ms.is_finite() && ours_ms > 0.0 && c.is_finite() && c > 0.0).then(|| c / ours_ms)
}

/// Geometric mean of the speedups (`None` when there are none).
pub fn geomean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((0.0, 0usize), |(s, n), v| (s + v.ln(), n + 1));
    (n > 0).then(|| (sum / n as f64).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
        "device": "NVIDIA H200", "driver": "580.95.05 (CUDA 13.0)", "cupy_version": "14.2.0",
        "date": "2026-11-23T07:00:00Z",
        "results": [
            {"op": "vector_add", "size": "268435456", "dtype": "f32", "median_ms": 0.7,
             "min_ms": 0.69, "max_ms": 0.72, "impl": "cp.add(out=)"},
            {"op": "sgemm", "size": [8192, 8192, 8192], "dtype": "f32", "median_ms": 21.5},
            {"op": "copy", "size": 268435456, "dtype": "f32", "median_ms": 0.5,
             "min_ms": 0.5, "max_ms": 0.5}
        ],
        "skipped": [{"op": "gemm", "size": "8192x8192x8192", "dtype": "bf16",
                     "reason": "no bf16"}]
    }"#;

    #[test]
    fn parses_the_script_output_and_looks_up_ops() {
        let b = CupyBaseline::parse(SAMPLE).unwrap();
        assert_eq!(b.cupy_version, "14.2.0");
        assert_eq!(b.results.len(), 3);
        let r = b.lookup("vector_add", "268435456", "f32").unwrap();
        assert_eq!(r.median_ms, 0.7);
        assert_eq!(r.implementation.as_deref(), Some("cp.add(out=)"));
        let g = b.lookup("sgemm", "8192x8192x8192", "f32").unwrap();
        assert!(g.min_ms.is_nan());
        assert!(b.lookup("copy", "268435456", "f32").is_some());
        assert!(b.lookup("vector_add", "1024", "f32").is_none());
        assert!(b.lookup("vector_add", "268435456", "f16").is_none());
        assert_eq!(b.skipped[0].reason, "no bf16");
        // Round trip through our own serialisation.
        let again = CupyBaseline::parse(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(again.results[0], b.results[0]);
        assert!(CupyBaseline::parse("{}").is_err());
        assert!(CupyBaseline::parse("not json").is_err());
    }

    #[test]
    fn speedup_math() {
        assert_eq!(speedup(0.5, Some(1.0)), Some(2.0));
        assert_eq!(speedup(2.0, Some(1.0)), Some(0.5));
        assert_eq!(speedup(1.0, None), None);
        assert_eq!(speedup(0.0, Some(1.0)), None);
        assert_eq!(speedup(f64::NAN, Some(1.0)), None);
        let g = geomean([2.0, 0.5, 4.0, f64::NAN]).unwrap();
        assert!((g - 4f64.powf(1.0 / 3.0)).abs() < 1e-12);
        assert_eq!(geomean([]), None);
    }

    #[test]
    fn script_arguments_and_missing_script() {
        let run = ScriptRun {
            python: "python3".into(),
            script: PathBuf::from("/nonexistent/cupy_baseline.py"),
            device: 1,
            quick: true,
            size: Some(4096),
            only: Some("add".into()),
            warmup: 3,
            reps: 5,
        };
        let a = run.args(Path::new("/tmp/c.json")).join(" ");
        assert_eq!(
            a,
            "--out /tmp/c.json --device 1 --warmup 3 --reps 5 --quick --size 4096 --only add"
        );
        let e = run.run(Path::new("/tmp/c.json")).unwrap_err();
        assert!(e.contains("not found"), "{e}");
    }
}
