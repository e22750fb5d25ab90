//! Architecture-specific builds next to portable ones.
//!
//! One kernel crate can carry portable kernels and kernels that need an architecture-specific
//! target such as `sm_90a` (wgmma, setmaxnreg): the builder compiles the crate once per
//! architecture, and a kernel marked `#[kernel(arch = "sm_90a")]` (its source gated with
//! `#[cfg(target_feature = "sm_90a")]`) is expected in that build only. This module holds the
//! rules that differ per architecture:
//! - the rustc flags: Hopper targets get the PTX ISA version their instructions need (`+ptx80`
//!   for sm_90 and sm_90a: TMA, bulk copies, mbarrier transactions, clusters; wgmma on sm_90a),
//!   which also turns on the device library's `target_feature = "ptx80"` modules (LLVM's default
//!   for plain sm_90 is PTX 7.8, which has none of them);
//! - which kernels a build must contain;
//! - the PTX fix-up for tensor-map parameters: rustc declares a 128-byte by-value parameter with
//!   16-byte alignment (its NVPTX calling convention rejects more), while the copy engine needs
//!   the map 64-byte aligned; the builder rewrites the declaration to `.align 64`, so ptxas
//!   places it at a 64-byte aligned offset of the parameter bank (as nvcc does for a
//!   `__grid_constant__ CUtensorMap`). The kernel reaches the parameter through its own symbol
//!   (`mov.b64 %rd, NAME_param_I; cvta.param.u64`), never through a stack copy.
use gpukit_kernel_sig::{KernelSig, ParamKind};

/// `true` for architecture-specific targets (`sm_90a`, `sm_100a`, `sm_100f`).
pub fn is_arch_specific(arch: &str) -> bool {
    arch.ends_with('a') || arch.ends_with('f')
}

/// The PTX ISA feature a target needs for its own instructions (`None`: LLVM's default for the
/// target is enough). Plain sm_90 gets PTX 8.0 too: its bulk copies, TMA and clusters are not
/// `sm_90a`-only, and without them a portable Hopper build would take the device library's
/// slower fallbacks (e.g. `stream_rows`).
pub fn ptx_feature(arch: &str) -> Option<&'static str> {
    let major: u32 = arch
        .strip_prefix("sm_")?
        .trim_end_matches(['a', 'f'])
        .parse()
        .ok()?;
    if !is_arch_specific(arch) {
        return (90..=99).contains(&major).then_some("+ptx80");
    }
    Some(match major {
        90..=99 => "+ptx80",
        100..=119 => "+ptx86",
        _ => "+ptx87",
    })
}

/// `CARGO_ENCODED_RUSTFLAGS` for one architecture's build.
pub fn rustflags(arch: &str) -> String {
    let mut flags = format!("-Ctarget-cpu={arch}");
    if let Some(f) = ptx_feature(arch) {
        flags.push('\x1f');
        flags.push_str(&format!("-Ctarget-feature={f}"));
    }
    flags
}

/// Whether kernel `k` belongs in the build for `arch`: portable kernels in every build,
/// `#[kernel(arch = ...)]` kernels only in that architecture's.
pub fn kernel_in_build(k: &KernelSig, arch: &str) -> bool {
    k.contract.arch.as_deref().is_none_or(|a| a == arch)
}

/// Whether `k` takes tensor maps (its launcher needs the runtime's tensor-map support).
pub fn has_tensor_maps(k: &KernelSig) -> bool {
    k.params.iter().any(|p| p.kind == ParamKind::TensorMap)
}

/// Rewrites every tensor-map parameter of the given kernels (in each instance's entry) from rustc's
/// `.param .align 16 .b8 NAME_param_I[128]` to `.align 64`. Errors name each parameter whose
/// declaration is not the expected one.
pub fn align_tensor_map_params<'a>(
    ptx: &str,
    kernels: impl IntoIterator<Item = &'a KernelSig>,
) -> Result<String, Vec<String>> {
    let mut out = ptx.to_string();
    let mut problems = Vec::new();
    for k in kernels {
        for (e, (i, p)) in k
            .entries()
            .iter()
            .flat_map(|e| k.params.iter().enumerate().map(move |ip| (e, ip)))
        {
            if p.kind != ParamKind::TensorMap {
                continue;
            }
            let symbol = format!("{}_param_{i}[128]", e.entry);
            let done = format!(".param .align 64 .b8 {symbol}");
            if out.contains(&done) {
                continue;
            }
            let from = format!(".param .align 16 .b8 {symbol}");
            if out.contains(&from) {
                out = out.replacen(&from, &done, 1);
            } else {
                problems.push(format!(
                    "kernel `{}`: tensor-map parameter `{}` is not declared as `{from}` in the PTX",
                    e.entry, p.name
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// ptxas's "Potential Performance Loss" notes (C7508 `setmaxnreg` ignored, C7515 wgmma
/// serialized, ...): each one costs a kernel much of its speed, so the build shows them.
pub fn performance_notes(ptxas_output: &str) -> Vec<String> {
    ptxas_output
        .lines()
        .filter(|l| l.contains("Potential Performance Loss"))
        .map(|l| {
            l.trim()
                .trim_start_matches("ptxas info    :")
                .trim()
                .to_string()
        })
        .collect()
}

/// The function a note is about (`... in the function 'NAME'`).
pub fn note_function(note: &str) -> Option<&str> {
    let rest = &note[note.rfind("in the function '")? + "in the function '".len()..];
    rest.split('\'').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(src: &str) -> KernelSig {
        gpukit_kernel_sig::kernels_in_file(src).unwrap().remove(0)
    }

    #[test]
    fn flags_per_architecture() {
        assert_eq!(
            rustflags("sm_90"),
            "-Ctarget-cpu=sm_90\x1f-Ctarget-feature=+ptx80"
        );
        assert_eq!(rustflags("sm_80"), "-Ctarget-cpu=sm_80");
        assert_eq!(ptx_feature("sm_100"), None);
        assert_eq!(
            rustflags("sm_90a"),
            "-Ctarget-cpu=sm_90a\x1f-Ctarget-feature=+ptx80"
        );
        assert_eq!(ptx_feature("sm_100a"), Some("+ptx86"));
        assert_eq!(ptx_feature("sm_80"), None);
    }

    #[test]
    fn arch_kernels_only_in_their_build() {
        let portable = sig("#[kernel] fn k(a: f32) {}");
        let hopper = sig("#[kernel(arch = \"sm_90a\")] fn h(t: TensorMap, a: f32) {}");
        assert!(kernel_in_build(&portable, "sm_80") && kernel_in_build(&portable, "sm_90a"));
        assert!(kernel_in_build(&hopper, "sm_90a") && !kernel_in_build(&hopper, "sm_90"));
        assert!(has_tensor_maps(&hopper) && !has_tensor_maps(&portable));
    }

    #[test]
    fn tensor_map_parameters_get_64_byte_alignment() {
        let hopper = sig("#[kernel(arch = \"sm_90a\")] fn h(a: f32, t: TensorMap) {}");
        let ptx = ".visible .entry h(\n\t.param .f32 h_param_0,\n\t.param .align 16 .b8 h_param_1[128]\n)\n";
        let fixed = align_tensor_map_params(ptx, [&hopper]).unwrap();
        assert!(fixed.contains(".param .align 64 .b8 h_param_1[128]"));
        // Idempotent.
        assert_eq!(align_tensor_map_params(&fixed, [&hopper]).unwrap(), fixed);
        let bad = ptx.replace("[128]", "[64]");
        let e = align_tensor_map_params(&bad, [&hopper]).unwrap_err();
        assert!(e[0].contains("tensor-map parameter `t`"), "{e:?}");
        // A generic kernel: every instance's entry.
        let g = sig(
            "#[kernel(instances(f32, f64), elements = n)] fn g<T: Num>(t: TensorMap, s: T, n: u32) {}",
        );
        let names: Vec<String> = g.entries().into_iter().map(|e| e.entry).collect();
        let ptx: String = names
            .iter()
            .map(|n| format!(".visible .entry {n}(\n\t.param .align 16 .b8 {n}_param_0[128],\n)\n"))
            .collect();
        let fixed = align_tensor_map_params(&ptx, [&g]).unwrap();
        for n in &names {
            assert!(fixed.contains(&format!(".param .align 64 .b8 {n}_param_0[128]")));
        }
    }

    #[test]
    fn performance_notes_are_found() {
        let text = "ptxas info    : Used 168 registers\nptxas info    : (C7515) Potential Performance Loss: wgmma.mma_async instructions are serialized\n";
        assert_eq!(
            performance_notes(text),
            vec!["(C7515) Potential Performance Loss: wgmma.mma_async instructions are serialized"]
        );
        let note = "(C7515) Potential Performance Loss: serialized ... in the function 'hgemm'";
        assert_eq!(note_function(note), Some("hgemm"));
        assert_eq!(note_function("no function here"), None);
    }
}
