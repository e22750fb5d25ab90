//! Assembling PTX with NVIDIA's `ptxas`, when it is installed, and reading its resource report.
//!
//! `ptxas` needs no GPU (PyPI's `nvidia-cuda-nvcc` wheel carries it), so CI assembles every
//! kernel: a module that the driver would reject fails the build, and each kernel's registers,
//! stack frame and spills are reported.
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Resources `ptxas -v` reports for one kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelResources {
    pub kernel: String,
    pub arch: String,
    pub registers: u32,
    pub stack_bytes: u32,
    pub spill_store_bytes: u32,
    pub spill_load_bytes: u32,
    pub shared_bytes: u32,
}

impl KernelResources {
    pub fn spills(&self) -> bool {
        self.spill_store_bytes > 0 || self.spill_load_bytes > 0
    }
}

impl fmt::Display for KernelResources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}]: {} registers, {} B stack, {} B spill stores, {} B spill loads, {} B shared",
            self.kernel,
            self.arch,
            self.registers,
            self.stack_bytes,
            self.spill_store_bytes,
            self.spill_load_bytes,
            self.shared_bytes
        )
    }
}

/// `ptxas` from an explicit path, `GPUKIT_PTXAS`, `PATH`, or a CUDA toolkit's `bin`.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("GPUKIT_PTXAS").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for var in ["CUDA_PATH", "CUDA_HOME", "CUDA_ROOT"] {
        if let Some(root) = std::env::var_os(var) {
            dirs.push(PathBuf::from(root).join("bin"));
        }
    }
    dirs.push(PathBuf::from("/usr/local/cuda/bin"));
    dirs.into_iter()
        .map(|d| d.join("ptxas"))
        .find(|p| p.is_file())
}

/// Assemble `ptx` for `arch` into `cubin`; returns the per-kernel report.
pub fn assemble(
    ptxas: &Path,
    ptx: &Path,
    arch: &str,
    cubin: &Path,
) -> Result<Vec<KernelResources>, String> {
    assemble_with_notes(ptxas, ptx, arch, cubin).map(|(r, _)| r)
}

/// As [`assemble`], also returning ptxas's "Potential Performance Loss" notes (see
/// [`crate::arch::performance_notes`]).
pub fn assemble_with_notes(
    ptxas: &Path,
    ptx: &Path,
    arch: &str,
    cubin: &Path,
) -> Result<(Vec<KernelResources>, Vec<String>), String> {
    let out = Command::new(ptxas)
        .arg(format!("-arch={arch}"))
        .arg("-v")
        .arg(ptx)
        .arg("-o")
        .arg(cubin)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", ptxas.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!(
            "{} rejected {} for {arch}:\n{}",
            ptxas.display(),
            ptx.display(),
            text.trim()
        ));
    }
    Ok((
        parse_report(&text, arch),
        crate::arch::performance_notes(&text),
    ))
}

/// Parse `ptxas -v` output.
pub fn parse_report(text: &str, arch: &str) -> Vec<KernelResources> {
    let mut out: Vec<KernelResources> = Vec::new();
    // `Function properties for NAME` precedes each stack/spill line; it is also printed for
    // non-entry functions (e.g. core's panic helpers) after the entry's own lines, and those
    // must not overwrite the entry's numbers.
    let mut props_of_current = false;
    let num_before = |line: &str, unit: &str| -> u32 {
        line.find(unit)
            .and_then(|i| line[..i].split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("ptxas info    : Compiling entry function '") {
            let name = rest.split('\'').next().unwrap_or_default();
            out.push(KernelResources {
                kernel: name.to_string(),
                arch: arch.to_string(),
                ..Default::default()
            });
            continue;
        }
        if let Some(name) = line.strip_prefix("ptxas info    : Function properties for ") {
            props_of_current = out.last().is_some_and(|k| k.kernel == name.trim());
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if line.contains("bytes stack frame") {
            if !props_of_current {
                continue;
            }
            cur.stack_bytes = num_before(line, "bytes stack frame");
            cur.spill_store_bytes = num_before(line, "bytes spill stores");
            cur.spill_load_bytes = num_before(line, "bytes spill loads");
        } else if line.contains("Used") && line.contains("registers") {
            cur.registers = num_before(line, "registers");
            cur.shared_bytes = num_before(line, "bytes smem");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ptxas_verbose_output() {
        let text = "ptxas info    : 0 bytes gmem\n\
            ptxas info    : Compiling entry function 'saxpy' for 'sm_90'\n\
            ptxas info    : Function properties for saxpy\n\
            \x20   16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n\
            ptxas info    : Used 18 registers, used 0 barriers, 16 bytes smem, 384 bytes cmem[0]\n\
            ptxas info    : Compiling entry function 'vector_add' for 'sm_90'\n\
            ptxas info    : Function properties for vector_add\n\
            \x20   0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
            ptxas info    : Used 10 registers, used 0 barriers, 392 bytes cmem[0]\n\
            ptxas info    : Function properties for _RNvNtCs_4core9panicking18panic_bounds_check\n\
            \x20   0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n";
        let r = parse_report(text, "sm_90");
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0],
            KernelResources {
                kernel: "saxpy".into(),
                arch: "sm_90".into(),
                registers: 18,
                stack_bytes: 16,
                spill_store_bytes: 8,
                spill_load_bytes: 4,
                shared_bytes: 16,
            }
        );
        assert!(r[0].spills());
        assert_eq!((r[1].registers, r[1].spills()), (10, false));
        // A helper's properties after an entry do not overwrite the entry's.
        let text = text.replace("0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\nptxas info    : Used 10", "48 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\nptxas info    : Used 10");
        assert_eq!(parse_report(&text, "sm_90")[1].stack_bytes, 48);
    }
}
