//! Compiler and assembler messages, told in the user's terms.
//!
//! The nested kernel build runs in the kernel crate's own workspace, so rustc names files
//! relative to the kernel crate (`src/lib.rs:126:21`), and cargo shows a failing build script's
//! output only under its "failed to run custom build command" banner. Here rustc's JSON
//! diagnostics are re-rendered with paths relative to the user's package
//! (`kernels/src/lib.rs:126:21`), and each error's headline becomes a `cargo::error=` line that
//! cargo prints first. `ptxas` messages point at PTX lines; [`trace_ptxas`] names the kernel (and
//! its source line) or the Rust function that each line belongs to.
use std::path::{Path, PathBuf};

/// One rustc diagnostic of the nested build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// `error`, `warning`, ...
    pub level: String,
    /// `E0308` when rustc gives one.
    pub code: Option<String>,
    pub message: String,
    /// `path:line:column` of the primary span, the path relative to the user's package.
    pub location: Option<String>,
    /// rustc's full text, with the same paths.
    pub rendered: String,
}

impl Diagnostic {
    /// `kernels/src/lib.rs:12:5: error[E0308]: mismatched types`.
    pub fn headline(&self) -> String {
        let code = self
            .code
            .as_ref()
            .map(|c| format!("[{c}]"))
            .unwrap_or_default();
        match &self.location {
            Some(l) => format!("{l}: {}{code}: {}", self.level, self.message),
            None => format!("{}{code}: {}", self.level, self.message),
        }
    }
}

/// `p` relative to `base` when it lies under it (the way cargo names the user's own files),
/// otherwise as it is.
pub fn display_path(p: &Path, base: &Path) -> String {
    let p = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
    match p.strip_prefix(&base) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => p.display().to_string(),
    }
}

/// A diagnostic from one line of `cargo --message-format json` output; `None` for other
/// messages. `crate_dir` is the nested build's workspace root (rustc's relative paths start
/// there) and `base` the user's package.
pub fn from_json(line: &str, crate_dir: &Path, base: &Path) -> Option<Diagnostic> {
    let v = crate::json::parse(line.as_bytes()).ok()?;
    if v["reason"].as_str() != Some("compiler-message") {
        return None;
    }
    let m = &v["message"];
    let mut rendered = m["rendered"].as_str().unwrap_or_default().to_string();
    let mut location = None;
    let mut spans = Vec::new();
    collect_spans(m, &mut spans);
    for (file, line, col, primary) in &spans {
        let full = if Path::new(file).is_absolute() {
            PathBuf::from(file)
        } else {
            crate_dir.join(file)
        };
        let shown = display_path(&full, base);
        if *primary && location.is_none() {
            location = Some(format!("{shown}:{line}:{col}"));
        }
        if shown != *file {
            for arrow in ["--> ", "::: "] {
                rendered =
                    rendered.replace(&format!("{arrow}{file}:"), &format!("{arrow}{shown}:"));
            }
        }
    }
    Some(Diagnostic {
        level: m["level"].as_str().unwrap_or("error").to_string(),
        code: m["code"]["code"].as_str().map(String::from),
        message: m["message"].as_str().unwrap_or_default().to_string(),
        location,
        rendered,
    })
}

/// `(file, line, column, primary)` of every span of a message and its children.
fn collect_spans(m: &crate::json::Value, out: &mut Vec<(String, u64, u64, bool)>) {
    use crate::json::Value;
    let num = |v: &Value| match v {
        Value::Number(n) => *n as u64,
        _ => 0,
    };
    for s in m["spans"].as_array().into_iter().flatten() {
        if let Some(f) = s["file_name"].as_str() {
            out.push((
                f.to_string(),
                num(&s["line_start"]),
                num(&s["column_start"]),
                matches!(s["is_primary"], Value::Bool(true)),
            ));
        }
    }
    for c in m["children"].as_array().into_iter().flatten() {
        collect_spans(c, out);
    }
}

/// The `.entry` or `.func` whose body holds line `line` (1-based) of `ptx`.
pub fn function_at(ptx: &str, line: usize) -> Option<String> {
    let mut current = None;
    for (i, l) in ptx.lines().enumerate() {
        if i + 1 > line {
            break;
        }
        let t = l.trim_start();
        let head = [".visible .entry ", ".entry ", ".visible .func ", ".func "]
            .iter()
            .find_map(|p| t.strip_prefix(p));
        if let Some(rest) = head {
            // `.func (.param .b32 retval) name(` has its return first.
            let rest = if rest.starts_with('(') {
                rest.find(')')
                    .map(|i| rest[i + 1..].trim_start())
                    .unwrap_or(rest)
            } else {
                rest
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$' || *c == '.')
                .collect();
            current = Some(name);
        } else if t.starts_with('}') && !l.starts_with(char::is_whitespace) {
            current = None;
        }
    }
    current
}

/// The Rust path of a legacy-mangled symbol (`_ZN11gpu_kernels4scan9scan_tile17h0123456789abcdefE`
/// → `gpu_kernels::scan::scan_tile`); `None` for other names.
pub fn demangle(sym: &str) -> Option<String> {
    let mut rest = sym.strip_prefix("_ZN")?.strip_suffix('E')?;
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let n: usize = rest[..digits].parse().ok()?;
        let part = rest.get(digits..digits + n)?;
        rest = &rest[digits + n..];
        // The trailing hash segment.
        if part.len() == 17 && part.starts_with('h') && rest.is_empty() {
            break;
        }
        parts.push(
            part.replace("$LT$", "<")
                .replace("$GT$", ">")
                .replace("$u20$", " ")
                .replace("$C$", ",")
                .replace("..", "::"),
        );
    }
    (!parts.is_empty()).then(|| parts.join("::"))
}

/// Where a kernel's `#[kernel]` function is written: its entries' names, file and line.
pub struct KernelSite {
    pub entries: Vec<String>,
    pub kernel: String,
    pub file: PathBuf,
    pub line: usize,
}

/// `ptxas`'s output with each `…ptx, line N; …` message followed by the kernel (and its source
/// line, relative to `base`) or the Rust function that PTX line belongs to.
pub fn trace_ptxas(report: &str, ptx: &str, sites: &[KernelSite], base: &Path) -> String {
    let mut out = String::new();
    for l in report.lines() {
        out.push_str(l);
        out.push('\n');
        let Some(line) = l
            .split(", line ")
            .nth(1)
            .and_then(|r| r.split(';').next())
            .and_then(|n| n.trim().parse::<usize>().ok())
        else {
            continue;
        };
        let note = match function_at(ptx, line) {
            Some(f) => match sites.iter().find(|s| s.entries.contains(&f)) {
                Some(s) => format!(
                    "    in kernel `{}` ({}:{})",
                    s.kernel,
                    display_path(&s.file, base),
                    s.line
                ),
                None => match demangle(&f) {
                    Some(path) => format!("    in the Rust function `{path}` (PTX `{f}`)"),
                    None => format!("    in the PTX function `{f}`"),
                },
            },
            None => "    at module scope (a global, shared or extern declaration)".to_string(),
        };
        out.push_str(&note);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_diagnostics_get_the_users_paths_and_a_headline() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        let krate = base.join("kernels");
        std::fs::create_dir_all(krate.join("src")).unwrap();
        std::fs::write(krate.join("src/lib.rs"), "").unwrap();
        let line = r#"{"reason": "compiler-message", "message": {"rendered": "error[E0308]: mismatched types\n --> src/lib.rs:3:22\n  |\n", "level": "error", "message": "mismatched types", "code": {"code": "E0308"}, "spans": [{"file_name": "src/lib.rs", "line_start": 3, "column_start": 22, "is_primary": true}], "children": []}}"#;
        let diag = from_json(line, &krate, base).unwrap();
        assert_eq!(
            diag.headline(),
            "kernels/src/lib.rs:3:22: error[E0308]: mismatched types"
        );
        assert!(
            diag.rendered.contains("--> kernels/src/lib.rs:3:22"),
            "{}",
            diag.rendered
        );
        assert!(from_json("{\"reason\":\"compiler-artifact\"}", &krate, base).is_none());
        assert!(from_json("not json", &krate, base).is_none());
    }

    const PTX: &str = ".version 8.0\n.shared .align 4 .b8 X[4];\n.visible .entry scale(\n\t.param .u64 p\n)\n{\n\tret;\n}\n.func _ZN11gpu_kernels4scan9scan_tile17h0123456789abcdefE(\n)\n{\n\tret;\n}\n";

    #[test]
    fn ptx_lines_are_traced_to_kernels_and_functions() {
        assert_eq!(function_at(PTX, 7).as_deref(), Some("scale"));
        assert_eq!(function_at(PTX, 2), None);
        assert_eq!(
            demangle("_ZN11gpu_kernels4scan9scan_tile17h0123456789abcdefE").as_deref(),
            Some("gpu_kernels::scan::scan_tile")
        );
        let sites = [KernelSite {
            entries: vec!["scale".into()],
            kernel: "scale".into(),
            file: PathBuf::from("/p/kernels/src/lib.rs"),
            line: 12,
        }];
        let report = "ptxas /o/k.ptx, line 7; error   : bad\nptxas /o/k.ptx, line 12; error   : worse\nptxas /o/k.ptx, line 2; error   : Duplicate definition\nptxas fatal   : Ptx assembly aborted";
        let t = trace_ptxas(report, PTX, &sites, Path::new("/p"));
        assert!(
            t.contains("line 7; error   : bad\n    in kernel `scale` (kernels/src/lib.rs:12)"),
            "{t}"
        );
        assert!(
            t.contains("in the Rust function `gpu_kernels::scan::scan_tile`"),
            "{t}"
        );
        assert!(
            t.contains("Duplicate definition\n    at module scope"),
            "{t}"
        );
    }
}
