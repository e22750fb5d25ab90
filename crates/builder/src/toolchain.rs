//! Finding a Rust toolchain that can build `core` for `nvptx64-nvidia-cuda`.
//!
//! Building kernels needs a compiler with the NVPTX backend and the standard library's source
//! (`rust-src`), because `core` is rebuilt for the GPU target with `-Zbuild-std`. Candidates, in
//! order: an explicit override (builder option or `GPUKIT_RUSTC` + `GPUKIT_CARGO`), the active
//! (rustup) toolchain when it has `rust-src`, and Debian's `rustc-web`/`cargo-web`/`rust-web-src`
//! at `/usr/bin` with the source under `/usr/lib/rustlib/src/rust`.
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A compiler, its cargo, and the library source `-Zbuild-std` compiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelToolchain {
    pub rustc: PathBuf,
    pub cargo: PathBuf,
    /// `<sysroot>/lib/rustlib/src/rust`.
    pub rust_src: PathBuf,
    /// `rustc --version` output, e.g. `rustc 1.96.0 (ac68faa20 2026-05-25)`.
    pub version: String,
    /// How it was found, for messages.
    pub origin: &'static str,
}

/// What discovery looks at; tests point these at fake installations.
#[derive(Clone, Debug)]
pub struct Search {
    /// Explicit `(rustc, cargo)` pair: used as-is or rejected, never skipped.
    pub explicit: Option<(PathBuf, PathBuf)>,
    /// The active toolchain's rustc (cargo sets `RUSTC` for build scripts), if any.
    pub active_rustc: Option<PathBuf>,
    /// Debian's compiler and cargo.
    pub system_rustc: PathBuf,
    pub system_cargo: PathBuf,
}

impl Search {
    /// The search as a build script sees it.
    pub fn from_env() -> Search {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let explicit = match (var("GPUKIT_RUSTC"), var("GPUKIT_CARGO")) {
            (Some(r), Some(c)) => Some((r, c)),
            (Some(r), None) => {
                let c = r.with_file_name("cargo");
                Some((r, c))
            }
            (None, Some(c)) => {
                let r = c.with_file_name("rustc");
                Some((r, c))
            }
            (None, None) => None,
        };
        Search {
            explicit,
            active_rustc: var("RUSTC").or_else(|| Some(PathBuf::from("rustc"))),
            system_rustc: PathBuf::from("/usr/bin/rustc"),
            system_cargo: PathBuf::from("/usr/bin/cargo"),
        }
    }
}

/// No usable toolchain: every candidate and why it was rejected, and what to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolchainError {
    pub rejected: Vec<String>,
    pub explicit: bool,
}

impl fmt::Display for ToolchainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.explicit {
            writeln!(
                f,
                "the kernel toolchain set by GPUKIT_RUSTC/GPUKIT_CARGO (or the builder's toolchain option) cannot build kernels:"
            )?;
        } else {
            writeln!(
                f,
                "no Rust toolchain that can build kernels for nvptx64-nvidia-cuda was found (it needs the NVPTX backend and the `rust-src` component):"
            )?;
        }
        for r in &self.rejected {
            writeln!(f, "  - {r}")?;
        }
        write!(
            f,
            "install one of:\n  \
             - on Debian 12 (as root): apt-get install -y rustc-web cargo-web rust-web-src\n  \
             - with rustup: rustup component add rust-src --toolchain <toolchain>\n\
             or point GPUKIT_RUSTC and GPUKIT_CARGO at a rustc/cargo pair whose sysroot has lib/rustlib/src/rust"
        )
    }
}

impl std::error::Error for ToolchainError {}

/// Find a kernel toolchain. See the module docs for the order.
pub fn discover(search: &Search) -> Result<KernelToolchain, ToolchainError> {
    let mut rejected = Vec::new();
    if let Some((rustc, cargo)) = &search.explicit {
        return check(rustc, cargo, "explicit override").map_err(|why| ToolchainError {
            rejected: vec![why],
            explicit: true,
        });
    }
    if let Some(rustc) = &search.active_rustc {
        match sysroot_cargo(rustc) {
            Ok(cargo) => match check(rustc, &cargo, "active toolchain") {
                Ok(tc) => return Ok(tc),
                Err(why) => rejected.push(why),
            },
            Err(why) => rejected.push(why),
        }
    }
    match check(
        &search.system_rustc,
        &search.system_cargo,
        "Debian rustc-web",
    ) {
        Ok(tc) => return Ok(tc),
        Err(why) => rejected.push(why),
    }
    Err(ToolchainError {
        rejected,
        explicit: false,
    })
}

fn run(cmd: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .env_remove("RUSTC_WRAPPER")
        .output()
        .map_err(|e| format!("{}: cannot run ({e})", cmd.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {}: {}",
            cmd.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The cargo that ships beside a (rustup) rustc: `<sysroot>/bin/cargo`.
fn sysroot_cargo(rustc: &Path) -> Result<PathBuf, String> {
    let sysroot = run(rustc, &["--print", "sysroot"])?;
    let cargo = Path::new(&sysroot).join("bin").join("cargo");
    if cargo.is_file() {
        Ok(cargo)
    } else {
        Err(format!(
            "{}: no cargo at {}",
            rustc.display(),
            cargo.display()
        ))
    }
}

fn check(rustc: &Path, cargo: &Path, origin: &'static str) -> Result<KernelToolchain, String> {
    let version = run(rustc, &["--version"])?;
    let sysroot = PathBuf::from(run(rustc, &["--print", "sysroot"])?);
    let rust_src = sysroot.join("lib/rustlib/src/rust");
    if !rust_src.join("library/core/Cargo.toml").is_file() {
        return Err(format!(
            "{origin} `{version}` ({}): no rust-src at {}",
            rustc.display(),
            rust_src.display()
        ));
    }
    // A source tree of another version builds a `core` the compiler may not accept.
    let release = version.split_whitespace().nth(1).unwrap_or_default();
    if let Ok(src_version) = std::fs::read_to_string(rust_src.join("src/version")) {
        let src_version = src_version.trim();
        let base = |v: &str| v.split('-').next().unwrap_or_default().to_string();
        if base(src_version) != base(release) {
            return Err(format!(
                "{origin} `{version}` ({}): rust-src at {} is version {src_version}, not {release}",
                rustc.display(),
                rust_src.display()
            ));
        }
    }
    let targets = run(rustc, &["--print", "target-list"])?;
    if !targets.lines().any(|t| t.trim() == "nvptx64-nvidia-cuda") {
        return Err(format!(
            "{origin} `{version}` ({}): no nvptx64-nvidia-cuda target",
            rustc.display()
        ));
    }
    if !cargo.is_file() {
        return Err(format!(
            "{origin}: cargo {} does not exist",
            cargo.display()
        ));
    }
    run(cargo, &["--version"])?;
    Ok(KernelToolchain {
        rustc: rustc.to_path_buf(),
        cargo: cargo.to_path_buf(),
        rust_src,
        version,
        origin,
    })
}
