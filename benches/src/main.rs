//! The main program: run the kernel suite on a GPU, verify every kernel against its CPU
//! reference on random inputs, time it with CUDA events, compare with CuPy, and write the
//! results (table, JSON, markdown, PNG charts).
//!
//! Exit status: 0 when every kernel verified, 1 when one failed, 2 when the suite could not run
//! (no CUDA device, bad arguments, unwritable output).
use clap::Parser;
use gpukit::Library;
use gpukit::runtime::Gpu;
use gpukit_bench::baseline::{CupyBaseline, ScriptRun};
use gpukit_bench::report::{self, Report};
use gpukit_bench::runner::{self, Env, Options, SuiteRun};
use gpukit_bench::{self as suite, Sizes, chart, size_label};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "gpukit",
    version,
    about = "Run gpukit's kernel suite on a GPU: verify every kernel against a CPU reference, \
             time it with CUDA events and compare it with CuPy"
)]
struct Args {
    /// GPU ordinal.
    #[arg(long, default_value_t = 0)]
    device: u32,
    /// Smaller sizes (vectors 2^24, GEMM 2048³, ...) and 5 timed runs.
    #[arg(long)]
    quick: bool,
    /// Elements of the vector cases (default 2^28; 2^24 with --quick).
    #[arg(long)]
    size: Option<usize>,
    /// Run only cases matching: comma-separated terms, each a substring of "name/dtype" (e.g.
    /// "add", "gemm/bf16", "/f16").
    #[arg(long, value_name = "PATTERN")]
    only: Option<String>,
    /// Timed runs per case (median reported) [default: 20, 5 with --quick].
    #[arg(long)]
    reps: Option<usize>,
    /// Untimed warm-up runs per case.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run the CuPy baseline script first (needs python3 with cupy) and add a CuPy column.
    #[arg(long)]
    cupy: bool,
    /// The CuPy baseline script.
    #[arg(long, value_name = "PATH", default_value = "benches/cupy_baseline.py")]
    cupy_script: PathBuf,
    /// Python interpreter for --cupy.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Read the CuPy column from a JSON file the script wrote (instead of --cupy).
    #[arg(long, value_name = "FILE", conflicts_with = "cupy")]
    baseline: Option<PathBuf>,
    /// Write results.json, results.md, speedup.png and ceiling.png (and cupy.json with --cupy)
    /// to this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write this BENCHMARKS.md, with its charts under --benchmarks-assets.
    #[arg(long, value_name = "PATH")]
    benchmarks_md: Option<PathBuf>,
    /// Directory for BENCHMARKS.md's charts and JSON, relative to the markdown file's directory.
    #[arg(long, value_name = "DIR", default_value = "benches/results")]
    benchmarks_assets: PathBuf,
    /// Rewrite --benchmarks-md from an existing results.json instead of running (no GPU).
    #[arg(long, value_name = "FILE", requires = "benchmarks_md")]
    from_results: Option<PathBuf>,
    /// List the cases (name, size, dtype, CuPy op) and exit; needs no GPU.
    #[arg(long)]
    list: bool,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("verification FAILED (see the table)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let sizes = Sizes::select(args.quick, args.size);
    let only = args.only.as_deref().unwrap_or("");
    let cases: Vec<_> = suite::cases::all(&sizes)
        .into_iter()
        .filter(|c| suite::matches_only(only, c.name(), c.dtype().name()))
        .collect();
    if args.list {
        for c in &cases {
            println!(
                "{:<16} {:>16} {:<5} cupy:{}",
                c.name(),
                size_label(&c.shape()),
                c.dtype(),
                c.cupy_op().unwrap_or("-")
            );
        }
        return Ok(true);
    }
    if let Some(results) = &args.from_results {
        let report = Report::load(results)?;
        let md = args.benchmarks_md.as_deref().expect("clap requires it");
        write_benchmarks_md(&report, md, &args.benchmarks_assets)?;
        return Ok(true);
    }
    if cases.is_empty() {
        return Err(format!("no case matches --only {only:?} (see --list)"));
    }

    let gpu = Gpu::new(args.device).map_err(|e| e.to_string())?;
    let lib = Library::load(&gpu).map_err(|e| e.to_string())?;
    let stream = gpu.stream().map_err(|e| e.to_string())?;
    let reps = args.reps.unwrap_or(if args.quick { 5 } else { 20 }).max(1);
    let command = command_line();
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }

    let baseline = load_baseline(args, reps);
    let source = if args.cupy {
        format!("--cupy: ran {}", args.cupy_script.display())
    } else {
        args.baseline
            .as_ref()
            .map(|p| format!("--baseline {}", p.display()))
            .unwrap_or_default()
    };

    let p = gpu.props();
    println!(
        "device {}: {} (sm_{}{}, {} SMs, {:.1} GiB), {} cases, module image {}",
        p.ordinal,
        p.name,
        p.major,
        p.minor,
        p.sm_count,
        p.total_memory as f64 / (1u64 << 30) as f64,
        cases.len(),
        lib.kernels().module.loaded_image()
    );
    let suite_run = SuiteRun {
        env: Env {
            gpu: &gpu,
            lib: &lib,
            stream: &stream,
        },
        opts: Options {
            warmup: args.warmup,
            reps,
            seed: args.seed,
        },
        copy_elements: sizes.vector.max(1 << 26),
        baseline: baseline.as_ref().map(|b| (b, source.clone())),
        command,
        progress: !args.no_progress && std::io::stderr().is_terminal(),
    };
    let report = runner::run_suite(&suite_run, &cases).map_err(|e| e.to_string())?;

    println!("{}", report.device_line());
    println!("{}", report.ceilings_line());
    println!("{}\n", report.cupy_line());
    print!("{}", report::render_table(&report));
    if let Some(g) = report.geomean_speedup() {
        println!("geometric-mean speedup over CuPy: {g:.2}x");
    }

    if let Some(dir) = &args.out {
        write_outputs(&report, dir)?;
    }
    if let Some(md) = &args.benchmarks_md {
        write_benchmarks_md(&report, md, &args.benchmarks_assets)?;
    }
    Ok(report.all_verified())
}

/// The CuPy baseline from --baseline or --cupy; a problem is reported and the run goes on
/// without the column.
fn load_baseline(args: &Args, reps: usize) -> Option<CupyBaseline> {
    if let Some(path) = &args.baseline {
        return match CupyBaseline::load(path) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("no CuPy column: {e}");
                None
            }
        };
    }
    if !args.cupy {
        return None;
    }
    let out = match &args.out {
        Some(dir) => dir.join("cupy.json"),
        None => std::env::temp_dir().join(format!("gpukit-cupy-{}.json", std::process::id())),
    };
    let script = ScriptRun {
        python: args.python.clone(),
        script: args.cupy_script.clone(),
        device: args.device,
        quick: args.quick,
        size: args.size,
        only: args.only.clone(),
        warmup: args.warmup,
        reps,
    };
    eprintln!("running the CuPy baseline: {} ...", script.script.display());
    let result = script.run(&out);
    if args.out.is_none() {
        let _ = std::fs::remove_file(&out);
    }
    match result {
        Ok(b) => {
            eprintln!(
                "CuPy {}: {} ops timed, {} skipped",
                b.cupy_version,
                b.results.len(),
                b.skipped.len()
            );
            Some(b)
        }
        Err(e) => {
            eprintln!("no CuPy column: {e}");
            None
        }
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// results.json, results.md, speedup.png (with a CuPy column) and ceiling.png in `dir`.
fn write_outputs(report: &Report, dir: &Path) -> Result<(), String> {
    write(&dir.join("results.json"), &report.to_json())?;
    let speedup = chart::speedup_chart(report, &dir.join("speedup.png"))?;
    chart::ceiling_chart(report, &dir.join("ceiling.png"))?;
    let md = report::render_markdown(report, speedup.then_some("speedup.png"));
    write(&dir.join("results.md"), &md)?;
    println!("wrote {}/results.{{json,md}} and charts", dir.display());
    Ok(())
}

/// BENCHMARKS.md at `md`, with its JSON and charts in `assets` (relative to the markdown's
/// directory).
fn write_benchmarks_md(report: &Report, md: &Path, assets: &Path) -> Result<(), String> {
    let base = md.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = base
        .map(|b| b.join(assets))
        .unwrap_or_else(|| assets.to_path_buf());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write(&dir.join("results.json"), &report.to_json())?;
    let speedup = chart::speedup_chart(report, &dir.join("speedup.png"))?;
    chart::ceiling_chart(report, &dir.join("ceiling.png"))?;
    let rel = assets.join("speedup.png");
    let rel = rel.to_string_lossy().replace('\\', "/");
    let mut text = report::render_benchmarks_md(report, speedup.then_some(rel.as_str()));
    // Whole-network results (the resnet18 program's tables, kept in the assets folder) follow
    // the kernel table unchanged.
    if let Ok(extra) = std::fs::read_to_string(dir.join("resnet18.md")) {
        text.push('\n');
        text.push_str(&extra);
    }
    write(md, &text)?;
    println!("wrote {} (charts in {})", md.display(), dir.display());
    Ok(())
}

/// `gpukit` and the arguments as given.
fn command_line() -> String {
    let mut parts = vec!["gpukit".to_string()];
    parts.extend(std::env::args().skip(1).map(|a| {
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            format!("'{}'", a.replace('\'', "'\\''"))
        } else {
            a
        }
    }));
    parts.join(" ")
}
