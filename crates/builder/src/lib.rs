//! Builds a `no_std` kernel crate to PTX from a build script, the role Rust-CUDA's
//! `cuda_builder` plays, on a stock compiler.
//!
//! In `build.rs`'s `main`:
//!
//! ```no_run
//! gpukit_builder::KernelBuilder::new("gpu-kernels")
//!     .arch("sm_90")
//!     .build()
//!     .unwrap_or_else(|e| e.exit());
//! ```
//!
//! For each target architecture the crate is compiled with rustc's `nvptx64-nvidia-cuda` backend
//! (`-Zbuild-std=core`, fat LTO, panics abort with `trap`) in its own target directory, with a
//! scrubbed environment. The PTX is validated (no unresolved `.extern .func`; each kernel's
//! `.entry` matches its source signature), assembled with `ptxas` when available (registers,
//! stack and spills reported per kernel; spills become cargo warnings), and typed launchers are
//! generated from the kernels' signatures into `OUT_DIR/<crate>.rs`, to be `include!`d, with the
//! crate's `pub const` items (tile sizes and the like) evaluated into its `consts` module.
//!
//! Architecture-specific targets (`sm_90a`) build next to portable ones ([`arch`]): a kernel
//! marked `#[kernel(arch = "sm_90a")]` is expected only in that build, and the host picks the
//! image per device.
pub mod arch;
pub mod bindings;
pub mod consts;
pub mod diagnostics;
mod json;
pub mod ptx;
pub mod ptxas;
pub mod toolchain;

use gpukit_kernel_sig::KernelSig;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use ptxas::KernelResources;
pub use toolchain::{KernelToolchain, Search, ToolchainError};

/// The architecture built when nothing else is asked for: the H200 (compute capability 9.0).
pub const DEFAULT_ARCH: &str = "sm_90";

/// Why a kernel build failed.
#[derive(Debug)]
pub enum BuildError {
    /// No compiler that can build `core` for nvptx64.
    Toolchain(ToolchainError),
    /// An option is wrong (bad architecture name, missing crate).
    Config(String),
    /// rustc rejected the kernel crate; its diagnostics were printed as they came (paths
    /// relative to the user's package), and `errors` holds their headlines.
    Compile {
        krate: String,
        arch: String,
        errors: Vec<String>,
    },
    /// The PTX would not load or does not match the kernels' signatures.
    Validation { arch: String, problems: Vec<String> },
    /// `ptxas` rejected the PTX.
    Ptxas(String),
    /// A kernel signature could not be parsed for the host bindings.
    Signature { file: PathBuf, message: String },
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Toolchain(e) => write!(f, "{e}"),
            BuildError::Config(m) => write!(f, "{m}"),
            BuildError::Compile {
                krate,
                arch,
                errors,
            } => {
                write!(
                    f,
                    "the kernel crate `{krate}` failed to compile for nvptx64-nvidia-cuda ({arch})"
                )?;
                for e in errors {
                    write!(f, "\n  {e}")?;
                }
                write!(f, "\n(rustc's full diagnostics are above)")
            }
            BuildError::Validation { arch, problems } => {
                write!(f, "the PTX built for {arch} is not loadable as generated:")?;
                for p in problems {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
            BuildError::Ptxas(m) => write!(f, "{m}"),
            BuildError::Signature { file, message } => {
                write!(f, "{}: {message}", file.display())
            }
            BuildError::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl BuildError {
    /// Print the error the way cargo prints errors and exit with status 1: for build scripts,
    /// where a panic would bury the message under a backtrace note.
    pub fn exit(self) -> ! {
        eprintln!("error: {self}");
        std::process::exit(1)
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let what = what.into();
    move |source| BuildError::Io { what, source }
}

/// What a successful build produced.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// `(arch, path)` of each PTX file.
    pub ptx: Vec<(String, PathBuf)>,
    /// `(arch, path)` of each cubin, when `ptxas` was available.
    pub cubins: Vec<(String, PathBuf)>,
    /// The generated launchers (`include!` this file).
    pub bindings: PathBuf,
    /// The kernels found in the crate's source.
    pub kernels: Vec<KernelSig>,
    /// `ptxas` resource report per kernel and architecture (empty without `ptxas`).
    pub resources: Vec<KernelResources>,
    /// `.entry` functions with no `#[kernel]` in the source (no launcher was generated).
    pub unbound_entries: Vec<String>,
    /// ptxas's "Potential Performance Loss" notes (also printed as cargo warnings).
    pub performance_notes: Vec<String>,
    /// The crate's `pub const` items exported into the bindings' `consts` module, and those
    /// that could not be.
    pub consts: consts::Consts,
    pub toolchain: KernelToolchain,
}

/// Whether to assemble the PTX with `ptxas`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ptxas {
    /// Use `ptxas` when one is found (explicit path, `GPUKIT_PTXAS`, `PATH`, CUDA's `bin`).
    IfFound,
    /// Fail the build when none is found.
    Required,
    /// Use this binary.
    At(PathBuf),
    /// Do not assemble.
    Off,
}

/// Compiles one kernel crate. One struct, chainable options, [`KernelBuilder::build`].
#[derive(Clone, Debug)]
pub struct KernelBuilder {
    crate_path: PathBuf,
    archs: Vec<String>,
    out_dir: Option<PathBuf>,
    target_dir: Option<PathBuf>,
    toolchain: Option<(PathBuf, PathBuf)>,
    ptxas: Ptxas,
    runtime_path: String,
    cargo_directives: Option<bool>,
}

impl KernelBuilder {
    /// `crate_path`: the kernel crate's directory, relative to the calling package's manifest
    /// directory (`CARGO_MANIFEST_DIR`) or absolute.
    pub fn new(crate_path: impl AsRef<Path>) -> Self {
        KernelBuilder {
            crate_path: crate_path.as_ref().to_path_buf(),
            archs: vec![DEFAULT_ARCH.to_string()],
            out_dir: None,
            target_dir: None,
            toolchain: None,
            ptxas: Ptxas::IfFound,
            runtime_path: "::gpukit_runtime".to_string(),
            cargo_directives: None,
        }
    }

    /// Build for this one architecture (`sm_80`, `sm_90`, `sm_90a`, ...). The `GPUKIT_ARCH`
    /// environment variable (comma-separated) overrides it.
    pub fn arch(mut self, arch: impl Into<String>) -> Self {
        self.archs = vec![arch.into()];
        self
    }

    /// Build one PTX per architecture, so the host can pick by compute capability.
    pub fn archs<I: IntoIterator<Item = S>, S: Into<String>>(mut self, archs: I) -> Self {
        self.archs = archs.into_iter().map(Into::into).collect();
        self
    }

    /// Where the PTX, cubins and bindings go (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The nested build's target directory (default: `<kernel crate>/target/gpukit`).
    pub fn target_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.target_dir = Some(dir.into());
        self
    }

    /// Use this rustc and cargo (their sysroot must have `rust-src`), as `GPUKIT_RUSTC` and
    /// `GPUKIT_CARGO` do.
    pub fn toolchain(mut self, rustc: impl Into<PathBuf>, cargo: impl Into<PathBuf>) -> Self {
        self.toolchain = Some((rustc.into(), cargo.into()));
        self
    }

    pub fn ptxas(mut self, mode: Ptxas) -> Self {
        self.ptxas = mode;
        self
    }

    /// Path of the host runtime the generated launchers refer to (default `::gpukit_runtime`,
    /// the gpukit-runtime crate; `crate::runtime` inside gpukit itself, which re-exports it).
    pub fn runtime_path(mut self, path: impl Into<String>) -> Self {
        self.runtime_path = path.into();
        self
    }

    /// Print `cargo:` directives (rerun-if-changed, warnings). Default: when run by cargo as a
    /// build script.
    pub fn cargo_directives(mut self, on: bool) -> Self {
        self.cargo_directives = Some(on);
        self
    }

    fn archs_to_build(&self) -> Result<Vec<String>, BuildError> {
        let archs: Vec<String> = match std::env::var("GPUKIT_ARCH") {
            Ok(v) if !v.trim().is_empty() => v.split(',').map(|a| a.trim().to_string()).collect(),
            _ => self.archs.clone(),
        };
        if archs.is_empty() {
            return Err(BuildError::Config("no target architecture given".into()));
        }
        for a in &archs {
            validate_arch(a)?;
        }
        Ok(archs)
    }

    /// Compile, validate, assemble and generate the launchers.
    pub fn build(self) -> Result<BuildOutput, BuildError> {
        let in_build_script = std::env::var_os("OUT_DIR").is_some()
            && std::env::var_os("CARGO_MANIFEST_DIR").is_some();
        let directives = self.cargo_directives.unwrap_or(in_build_script);
        let base = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let crate_dir = if self.crate_path.is_absolute() {
            self.crate_path.clone()
        } else {
            base.join(&self.crate_path)
        };
        let manifest = crate_dir.join("Cargo.toml");
        if !manifest.is_file() {
            return Err(BuildError::Config(format!(
                "kernel crate not found: {} has no Cargo.toml",
                crate_dir.display()
            )));
        }
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    BuildError::Config(
                        "no output directory: call .out_dir(..) or run from build.rs".into(),
                    )
                })?,
        };
        std::fs::create_dir_all(&out_dir).map_err(io(format!("creating {}", out_dir.display())))?;
        let archs = self.archs_to_build()?;
        if directives {
            for var in [
                "GPUKIT_ARCH",
                "GPUKIT_PTXAS",
                "GPUKIT_RUSTC",
                "GPUKIT_CARGO",
                "PATH",
            ] {
                println!("cargo:rerun-if-env-changed={var}");
            }
        }

        let toolchain = match &self.toolchain {
            Some((rustc, cargo)) => toolchain::discover(&Search {
                explicit: Some((rustc.clone(), cargo.clone())),
                ..Search::from_env()
            }),
            None => toolchain::discover(&Search::from_env()),
        }
        .map_err(BuildError::Toolchain)?;

        let meta = CrateMeta::read(&toolchain, &manifest)?;
        if directives {
            for dir in &meta.path_package_dirs {
                for f in ["Cargo.toml", "src", "build.rs"] {
                    let p = dir.join(f);
                    if p.exists() {
                        println!("cargo:rerun-if-changed={}", p.display());
                    }
                }
            }
            // Not the kernel crate's Cargo.lock: the nested build itself writes it, which would
            // make every following build rerun this script.
        }
        let (kernels, consts, sites) = find_kernels(&meta.src_dir)?;
        let target_dir = self
            .target_dir
            .clone()
            .unwrap_or_else(|| crate_dir.join("target").join("gpukit"));
        let stem = meta.name.replace('-', "_");

        let ptxas = match &self.ptxas {
            Ptxas::Off => None,
            Ptxas::At(p) => Some(p.clone()),
            Ptxas::IfFound => ptxas::find(None),
            Ptxas::Required => Some(ptxas::find(None).ok_or_else(|| {
                BuildError::Config(
                    "ptxas is required but was not found (set GPUKIT_PTXAS, put it on PATH, or pip install nvidia-cuda-nvcc)"
                        .into(),
                )
            })?),
        };

        let mut out = BuildOutput {
            ptx: Vec::new(),
            cubins: Vec::new(),
            bindings: out_dir.join(format!("{stem}.rs")),
            kernels: kernels.clone(),
            resources: Vec::new(),
            unbound_entries: Vec::new(),
            performance_notes: Vec::new(),
            consts: consts::Consts::default(),
            toolchain: toolchain.clone(),
        };
        let mut images = Vec::new();
        for arch in &archs {
            let mut ptx_text = compile(
                &toolchain,
                &manifest,
                &meta.name,
                arch,
                &target_dir,
                &base,
                directives,
            )?;
            let in_build: Vec<&KernelSig> = kernels
                .iter()
                .filter(|k| arch::kernel_in_build(k, arch))
                .collect();
            for k in &in_build {
                if let Some((threads, blocks)) = k.contract.launch_bounds {
                    for e in k.entries() {
                        if let Some(t) =
                            ptx::apply_launch_bounds(&ptx_text, &e.entry, threads, blocks)
                        {
                            ptx_text = t;
                        }
                    }
                }
            }
            let mut problems: Vec<String> = ptx::unresolved_externs(&ptx_text)
                .into_iter()
                .map(|n| format!(
                    "unresolved `.extern .func {n}`: the driver cannot link it (functions from compiler_builtins never join LTO; avoid the operation or implement it in the device library)"
                ))
                .collect();
            match arch::align_tensor_map_params(&ptx_text, in_build.iter().copied()) {
                Ok(t) => ptx_text = t,
                Err(p) => problems.extend(p),
            }
            let entries = ptx::entries(&ptx_text);
            for k in &in_build {
                if let Err(e) = ptx::check_abi(k, &entries) {
                    problems.push(e.to_string());
                }
            }
            for k in kernels.iter().filter(|k| !arch::kernel_in_build(k, arch)) {
                if k.entries()
                    .iter()
                    .any(|ke| entries.iter().any(|e| e.name == ke.entry))
                {
                    problems.push(format!(
                        "kernel `{}` is marked arch = {:?} but is in the {arch} build: gate its source with #[cfg(target_feature = {:?})]",
                        k.name,
                        k.contract.arch.as_deref().unwrap_or_default(),
                        k.contract.arch.as_deref().unwrap_or_default()
                    ));
                }
            }
            for e in &entries {
                if !kernels
                    .iter()
                    .any(|k| k.entries().iter().any(|ke| ke.entry == e.name))
                    && !out.unbound_entries.contains(&e.name)
                {
                    if directives {
                        println!(
                            "cargo:warning=`.entry {}` has no #[kernel] in {}'s source, so it gets no typed launcher (the builder reads kernels from the source text: a kernel generated by macro_rules! is invisible to it)",
                            e.name, meta.name
                        );
                    }
                    out.unbound_entries.push(e.name.clone());
                }
            }
            if !problems.is_empty() {
                return Err(BuildError::Validation {
                    arch: arch.clone(),
                    problems,
                });
            }
            let ptx_path = out_dir.join(format!("{stem}.{arch}.ptx"));
            std::fs::write(&ptx_path, &ptx_text)
                .map_err(io(format!("writing {}", ptx_path.display())))?;
            let mut cubin_path = None;
            if let Some(ptxas) = &ptxas {
                let cubin = out_dir.join(format!("{stem}.{arch}.cubin"));
                let (report, notes) = ptxas::assemble_with_notes(ptxas, &ptx_path, arch, &cubin)
                    .map_err(|m| {
                        BuildError::Ptxas(diagnostics::trace_ptxas(&m, &ptx_text, &sites, &base))
                    })?;
                // Only notes about kernels: ptxas also comments on core's panic formatting
                // helpers, which never run on a fast path.
                let notes: Vec<String> = notes
                    .into_iter()
                    .filter(|n| {
                        arch::note_function(n).is_some_and(|f| entries.iter().any(|e| e.name == f))
                    })
                    .collect();
                if directives {
                    for n in &notes {
                        println!("cargo:warning=ptxas ({arch}): {n}");
                    }
                }
                out.performance_notes.extend(notes);
                let text: String = report.iter().map(|r| format!("{r}\n")).collect();
                let report_path = out_dir.join(format!("{stem}.{arch}.resources.txt"));
                std::fs::write(&report_path, text)
                    .map_err(io(format!("writing {}", report_path.display())))?;
                for r in &report {
                    if r.spills() && directives {
                        println!("cargo:warning=kernel {r} (spills to local memory)");
                    }
                }
                out.resources.extend(report);
                cubin_path = Some(cubin.clone());
                out.cubins.push((arch.clone(), cubin));
            }
            images.push(bindings::ImageFiles {
                arch: arch.clone(),
                ptx_path: ptx_path.display().to_string(),
                cubin_path: cubin_path.map(|p| p.display().to_string()),
            });
            out.ptx.push((arch.clone(), ptx_path));
        }
        let launcher_dir = out_dir.join(&stem);
        std::fs::create_dir_all(&launcher_dir)
            .map_err(io(format!("creating {}", launcher_dir.display())))?;
        let generated = bindings::generate_files(
            &meta.name,
            &self.runtime_path,
            &images,
            &kernels,
            &consts,
            &launcher_dir.display().to_string(),
        )
        .map_err(|message| BuildError::Signature {
            file: meta.src_dir.clone(),
            message,
        })?;
        for (name, src) in &generated.launchers {
            let p = launcher_dir.join(format!("{name}.rs"));
            std::fs::write(&p, src).map_err(io(format!("writing {}", p.display())))?;
        }
        out.consts = consts::read(&meta.src_dir).map_err(|e| BuildError::Signature {
            file: e.file,
            message: e.message,
        })?;
        if directives {
            for s in &out.consts.skipped {
                println!("cargo:warning={s}");
            }
        }
        let module = generated.module + &consts::render(&meta.name, &out.consts);
        std::fs::write(&out.bindings, module)
            .map_err(io(format!("writing {}", out.bindings.display())))?;
        Ok(out)
    }
}

/// `sm_XY` or `sm_XYa`/`sm_XYf`, XY at least 52.
pub fn validate_arch(arch: &str) -> Result<(), BuildError> {
    let bad = || {
        BuildError::Config(format!(
            "invalid target architecture `{arch}`: expected sm_XY such as sm_80, sm_90 or sm_90a"
        ))
    };
    let digits = arch.strip_prefix("sm_").ok_or_else(bad)?;
    let digits = digits.trim_end_matches(['a', 'f']);
    let n: u32 = digits.parse().map_err(|_| bad())?;
    if !(52..=1299).contains(&n) || digits.len() < 2 {
        return Err(bad());
    }
    Ok(())
}

/// What `cargo metadata` says about the kernel crate.
struct CrateMeta {
    name: String,
    src_dir: PathBuf,
    /// Directories of every path (local) package in its dependency graph: its own sources,
    /// the device library, the macros. A change to any of them reruns the build.
    path_package_dirs: Vec<PathBuf>,
}

impl CrateMeta {
    fn read(tc: &KernelToolchain, manifest: &Path) -> Result<CrateMeta, BuildError> {
        let out = scrubbed(&tc.cargo, tc)
            .args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(manifest)
            .stderr(Stdio::inherit())
            .output()
            .map_err(io(format!("running {} metadata", tc.cargo.display())))?;
        if !out.status.success() {
            return Err(BuildError::Config(format!(
                "cargo metadata failed for {}",
                manifest.display()
            )));
        }
        let v = json::parse(&out.stdout)
            .map_err(|e| BuildError::Config(format!("cargo metadata output: {e}")))?;
        let packages = v["packages"].as_array().unwrap_or(&[]);
        let manifest_str = manifest.canonicalize().unwrap_or(manifest.to_path_buf());
        let mut name = None;
        let mut src_dir = None;
        let mut dirs = Vec::new();
        for p in packages {
            let mp = PathBuf::from(p["manifest_path"].as_str().unwrap_or_default());
            if p["source"].is_null()
                && let Some(d) = mp.parent()
            {
                dirs.push(d.to_path_buf());
            }
            if mp.canonicalize().unwrap_or(mp.clone()) == manifest_str {
                name = p["name"].as_str().map(String::from);
                let lib = p["targets"].as_array().and_then(|ts| {
                    ts.iter().find(|t| {
                        t["kind"].as_array().is_some_and(|k| {
                            k.iter().any(|k| matches!(k.as_str(), Some("lib" | "rlib")))
                        })
                    })
                });
                src_dir = lib
                    .and_then(|t| t["src_path"].as_str())
                    .and_then(|s| Path::new(s).parent().map(Path::to_path_buf));
            }
        }
        Ok(CrateMeta {
            name: name.ok_or_else(|| {
                BuildError::Config(format!("{} is not a package", manifest.display()))
            })?,
            src_dir: src_dir.ok_or_else(|| {
                BuildError::Config(format!("{} has no lib target", manifest.display()))
            })?,
            path_package_dirs: dirs,
        })
    }
}

/// What the builder reads from the kernel crate's source.
type Found = (
    Vec<KernelSig>,
    bindings::Consts,
    Vec<diagnostics::KernelSite>,
);

/// Every `#[kernel]` in the crate's source tree, sorted by name, the crate's integer constants
/// and where each kernel is written; duplicate kernel names are an error (PTX entries share one
/// namespace).
fn find_kernels(src_dir: &Path) -> Result<Found, BuildError> {
    let mut files = Vec::new();
    let mut stack = vec![src_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(io(format!("reading {}", dir.display())))?;
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut kernels: Vec<(KernelSig, PathBuf)> = Vec::new();
    let mut consts = bindings::Consts::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(io(format!("reading {}", f.display())))?;
        if let Ok(cs) = gpukit_kernel_sig::consts_in_file(&text) {
            consts.extend(cs);
        }
        let found =
            gpukit_kernel_sig::kernels_in_file(&text).map_err(|e| BuildError::Signature {
                file: f.clone(),
                message: e.to_string(),
            })?;
        for k in found {
            if let Some((_, other)) = kernels.iter().find(|(o, _)| o.name == k.name) {
                return Err(BuildError::Signature {
                    file: f.clone(),
                    message: format!(
                        "kernel `{}` is also defined in {}: kernel names must be unique",
                        k.name,
                        other.display()
                    ),
                });
            }
            kernels.push((k, f.clone()));
        }
    }
    let sites = kernels
        .iter()
        .map(|(k, f)| diagnostics::KernelSite {
            entries: k.entries().into_iter().map(|e| e.entry).collect(),
            kernel: k.name.clone(),
            file: f.clone(),
            line: k.line,
        })
        .collect();
    let mut ks: Vec<KernelSig> = kernels.into_iter().map(|(k, _)| k).collect();
    ks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((ks, consts, sites))
}

/// A command for the kernel toolchain with the outer build's environment removed: the outer
/// cargo's variables would otherwise redirect the nested build (wrong rustc, flags, target dir,
/// or a wait on the outer build's lock).
fn scrubbed(program: &Path, tc: &KernelToolchain) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        let drop = (k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_NET_OFFLINE")
            || k.starts_with("RUSTC")
            || k.starts_with("RUSTDOC")
            || matches!(
                k,
                "RUSTFLAGS"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "DEBUG"
                    | "NUM_JOBS"
                    | "CARGO"
            );
        if drop {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUSTC", &tc.rustc);
    cmd
}

/// One nested build; returns the PTX text. rustc's diagnostics are re-rendered to stderr as
/// they come, with paths relative to `base` (the user's package); with `directives`, each
/// error's headline is also a `cargo::error=` line, which cargo shows above its build-script
/// banner, and each warning's a `cargo::warning=` line.
#[allow(clippy::too_many_arguments)]
fn compile(
    tc: &KernelToolchain,
    manifest: &Path,
    name: &str,
    arch: &str,
    target_dir: &Path,
    base: &Path,
    directives: bool,
) -> Result<String, BuildError> {
    use std::io::BufRead;
    let arch_dir = target_dir.join(arch);
    std::fs::create_dir_all(&arch_dir).map_err(io(format!("creating {}", arch_dir.display())))?;
    let ptx_path = arch_dir.join(format!("{}.ptx", name.replace('-', "_")));
    let crate_dir = manifest.parent().unwrap_or(Path::new("."));
    // Without target-cpu the backend emits sm_30 / PTX 3.2; arch-specific targets also get
    // the PTX version their instructions need.
    let rustflags = arch::rustflags(arch);
    let mut cmd = scrubbed(&tc.cargo, tc);
    cmd.env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .env("CARGO_TARGET_DIR", &arch_dir)
        .arg("rustc")
        .arg("--release")
        .arg("--message-format=json")
        .arg("--manifest-path")
        .arg(manifest)
        // cdylib: only a final artifact gets fat LTO, which pulls core's functions in.
        .args([
            "-Zbuild-std=core",
            "--target",
            "nvptx64-nvidia-cuda",
            "--lib",
            "--crate-type",
            "cdylib",
        ])
        .arg("--")
        .arg(format!("--emit=asm={}", ptx_path.display()))
        .arg("-Zno-link")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .map_err(io(format!("running {}", tc.cargo.display())))?;
    let mut errors = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines() {
            let line = line.map_err(io("reading the kernel build's messages"))?;
            let Some(d) = diagnostics::from_json(&line, crate_dir, base) else {
                continue;
            };
            // The builder asks for the PTX-version feature on purpose (arch::rustflags);
            // rustc's note that it is unstable says nothing to the user.
            if d.level == "warning"
                && d.message
                    .starts_with("unstable feature specified for `-Ctarget-feature`")
            {
                continue;
            }
            eprint!("{}", d.rendered);
            // Headlines for errors and warnings, not for rustc's closing summaries and notes.
            let summary = d.location.is_none() && d.message.contains("previous error");
            let kind = match d.level.as_str() {
                "error" if !summary => "error",
                "warning" if !summary && !d.message.contains("warning emitted") => "warning",
                _ => continue,
            };
            if directives {
                println!("cargo::{kind}={}", d.headline());
            }
            if kind == "error" {
                errors.push(d.headline());
            }
        }
    }
    let status = child
        .wait()
        .map_err(io(format!("running {}", tc.cargo.display())))?;
    if !status.success() {
        return Err(BuildError::Compile {
            krate: name.to_string(),
            arch: arch.to_string(),
            errors,
        });
    }
    std::fs::read_to_string(&ptx_path).map_err(io(format!("reading {}", ptx_path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_names_are_checked() {
        for ok in ["sm_52", "sm_80", "sm_90", "sm_90a", "sm_100f", "sm_120"] {
            assert!(validate_arch(ok).is_ok(), "{ok}");
        }
        for bad in ["90", "sm90", "sm_", "sm_9", "compute_90", "sm_9x", "sm_30"] {
            let e = validate_arch(bad).unwrap_err().to_string();
            assert!(e.contains("invalid target architecture"), "{bad}: {e}");
        }
    }
}
