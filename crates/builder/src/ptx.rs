//! Reading and validating generated PTX.
//!
//! Two things make a module unloadable or unsafe to launch and are caught here, at build time:
//! an unresolved `.extern .func` (a function LLVM could not find a body for, typically from
//! `compiler_builtins`, which never joins LTO), and an `.entry` whose parameter list does not
//! match the signature the host launcher was generated from.
use gpukit_kernel_sig::KernelSig;
use std::fmt;

/// Functions CUDA's driver provides to every module.
pub const SYSTEM_CALLS: &[&str] = &["vprintf", "malloc", "free", "__assertfail"];

/// One `.param` of an `.entry`: its size in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryParam {
    pub size: u64,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub params: Vec<EntryParam>,
}

/// Names of `.extern .func` declarations.
pub fn extern_funcs(ptx: &str) -> Vec<String> {
    ptx.lines()
        .map(str::trim)
        .filter(|l| l.starts_with(".extern .func"))
        .filter_map(|l| {
            // `.extern .func (.param .b32 r) name(` or `.extern .func name(`
            let rest = l.trim_start_matches(".extern .func").trim();
            let rest = if rest.starts_with('(') {
                &rest[rest.find(')')? + 1..]
            } else {
                rest
            };
            let name: String = rest
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$' || *c == '.')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// Externs other than CUDA's system calls: each would make the module fail to load.
pub fn unresolved_externs(ptx: &str) -> Vec<String> {
    extern_funcs(ptx)
        .into_iter()
        .filter(|n| !SYSTEM_CALLS.contains(&n.as_str()))
        .collect()
}

/// Every `.entry` with its parameter sizes.
pub fn entries(ptx: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut lines = ptx.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        let Some(pos) = line.find(".entry ") else {
            continue;
        };
        if line.starts_with("//") {
            continue;
        }
        let head = &line[pos + ".entry ".len()..];
        let name: String = head
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
            .collect();
        let mut params = Vec::new();
        // Parameters follow, one per line, until `)`.
        if head.contains('(') && !head.contains(')') {
            for p in lines.by_ref() {
                if p.starts_with(')') {
                    break;
                }
                if let Some(size) = param_size(p) {
                    params.push(EntryParam {
                        size,
                        text: p.trim_end_matches(',').to_string(),
                    });
                }
            }
        }
        out.push(Entry { name, params });
    }
    out
}

/// Size in bytes of a `.param` declaration such as `.param .u64 x` or
/// `.param .align 8 .b8 x[16]`.
fn param_size(decl: &str) -> Option<u64> {
    let decl = decl.trim().trim_end_matches(',');
    if !decl.starts_with(".param") {
        return None;
    }
    let words: Vec<&str> = decl.split_whitespace().collect();
    let ty = words.iter().find(|w| {
        w.starts_with(".b") || w.starts_with(".u") || w.starts_with(".s") || w.starts_with(".f")
    })?;
    let bits: u64 = ty[2..].parse().ok()?;
    let count = match (decl.rfind('['), decl.rfind(']')) {
        (Some(a), Some(b)) if b > a => decl[a + 1..b].parse().ok()?,
        _ => 1,
    };
    Some(bits / 8 * count)
}

/// Insert CUDA's `__launch_bounds__` as PTX performance directives (`.maxntid` and, when given,
/// `.minnctapersm`) between the parameter list of `.entry name` and its body. `None` when the
/// entry is not found.
pub fn apply_launch_bounds(
    ptx: &str,
    entry: &str,
    max_threads: u32,
    min_blocks: Option<u32>,
) -> Option<String> {
    let head = format!(".entry {entry}(");
    let start = ptx.find(&head)?;
    // The body opens at the first `{` after the entry's parameter list closes.
    let close = start + ptx[start..].find("\n)")? + 2;
    let mut directives = format!("\n.maxntid {max_threads}, 1, 1");
    if let Some(b) = min_blocks {
        directives.push_str(&format!("\n.minnctapersm {b}"));
    }
    Some(format!("{}{}{}", &ptx[..close], directives, &ptx[close..]))
}

/// A disagreement between a kernel's source signature and its PTX.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbiMismatch {
    /// The entry (the kernel, or one instance of a generic kernel).
    pub kernel: String,
    pub detail: String,
}

impl fmt::Display for AbiMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kernel `{}`: {}", self.kernel, self.detail)
    }
}

/// Check that each entry of the kernel (one per instance) exists with the parameter sizes the
/// host launcher passes: 16 bytes (`{ptr, len}`) for slices, 128 for tensor maps, the scalar's
/// size otherwise.
pub fn check_abi(sig: &KernelSig, entries: &[Entry]) -> Result<(), AbiMismatch> {
    for want in sig.entries() {
        let mismatch = |detail: String| AbiMismatch {
            kernel: want.entry.clone(),
            detail,
        };
        let Some(entry) = entries.iter().find(|e| e.name == want.entry) else {
            return Err(mismatch(
                "has no .entry in the PTX (is its module declared with `mod` in the kernel crate?)"
                    .into(),
            ));
        };
        if entry.params.len() != want.param_sizes.len() {
            return Err(mismatch(format!(
                "the source has {} parameters but the PTX .entry has {}",
                want.param_sizes.len(),
                entry.params.len()
            )));
        }
        for ((name, size), e) in want.param_sizes.iter().zip(&entry.params) {
            if e.size != *size {
                return Err(mismatch(format!(
                    "parameter `{name}` should be {size} bytes but the PTX has `{}`",
                    e.text
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTX: &str = r#"
.version 7.8
.target sm_90
.address_size 64
.extern .func  (.param .b32 func_retval0) vprintf(
	.param .b64 vprintf_param_0,
	.param .b64 vprintf_param_1
);
.extern .func cbrtf(
	.param .b32 cbrtf_param_0
);
.visible .entry saxpy(
	.param .f32 saxpy_param_0,
	.param .align 8 .b8 saxpy_param_1[16],
	.param .align 8 .b8 saxpy_param_2[16]
)
{
	ret;
}
"#;

    #[test]
    fn finds_externs_and_rejects_all_but_system_calls() {
        assert_eq!(extern_funcs(PTX), vec!["vprintf", "cbrtf"]);
        assert_eq!(unresolved_externs(PTX), vec!["cbrtf"]);
    }

    #[test]
    fn reads_entry_parameter_sizes() {
        let e = entries(PTX);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].name, "saxpy");
        assert_eq!(
            e[0].params.iter().map(|p| p.size).collect::<Vec<_>>(),
            vec![4, 16, 16]
        );
    }

    #[test]
    fn launch_bounds_go_between_parameters_and_body() {
        let out = apply_launch_bounds(PTX, "saxpy", 256, Some(3)).unwrap();
        assert!(
            out.contains("saxpy_param_2[16]\n)\n.maxntid 256, 1, 1\n.minnctapersm 3\n{"),
            "{out}"
        );
        assert!(apply_launch_bounds(PTX, "nope", 256, None).is_none());
    }

    #[test]
    fn abi_check_catches_mismatches() {
        let sigs = gpukit_kernel_sig::kernels_in_file(
            "#[kernel] fn saxpy(a: f32, x: &[f32], y: OutSlice<f32>) {}
             #[kernel] fn wrong(a: f64, x: &[f32], y: OutSlice<f32>) {}
             #[kernel] fn missing(a: f32) {}",
        )
        .unwrap();
        let mut e = entries(PTX);
        assert!(check_abi(&sigs[0], &e).is_ok());
        e[0].name = "wrong".into();
        let err = check_abi(&sigs[1], &e).unwrap_err().to_string();
        assert!(err.contains("parameter `a` should be 8 bytes"), "{err}");
        let err = check_abi(&sigs[2], &e).unwrap_err().to_string();
        assert!(err.contains("no .entry"), "{err}");
    }
}
