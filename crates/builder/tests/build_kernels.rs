//! The builder on real (small) kernel crates: several architectures, PTX validation, ABI
//! checks, and compile errors. Needs the kernel toolchain, which the README's commands install.
use gpukit_builder::{BuildError, KernelBuilder, Ptxas};
use std::path::{Path, PathBuf};

fn device_crate() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../device")
        .canonicalize()
        .unwrap()
}

/// A kernel crate in a temp dir with `src/lib.rs` = `body`.
fn kernel_crate(dir: &Path, name: &str, body: &str) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[dependencies]\ngpukit-device = {{ path = {:?} }}\n\n[profile.release]\nlto = \"fat\"\ncodegen-units = 1\npanic = \"abort\"\n\n[workspace]\n",
            device_crate()
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("src/lib.rs"),
        format!("#![no_std]\n#![feature(abi_gpu_kernel)]\nuse gpukit_device::{{OutSlice, kernel}};\n{body}"),
    )
    .unwrap();
    root
}

/// One shared nested target dir so `core` is built once for all tests.
fn builder(krate: &Path, out: &Path) -> KernelBuilder {
    let shared = Path::new(env!("CARGO_TARGET_TMPDIR")).join("builder-test-kernels");
    KernelBuilder::new(krate)
        .out_dir(out)
        .target_dir(shared)
        .cargo_directives(false)
        .runtime_path("crate::rt")
}

const SCALE: &str = "#[kernel(same_len(x, y), elements = y)]\npub fn scale(a: f32, x: &[f32], mut y: OutSlice<f32>) {\n    if let Some((i, o)) = y.thread_elem() { *o = a * x[i]; }\n}\n";

#[test]
fn builds_one_ptx_per_architecture_with_bindings() {
    let d = tempfile::tempdir().unwrap();
    let k = kernel_crate(d.path(), "multi_arch", SCALE);
    let out = builder(&k, &d.path().join("out"))
        .archs(["sm_80", "sm_90"])
        .build()
        .unwrap();
    assert_eq!(out.ptx.len(), 2);
    for (arch, path) in &out.ptx {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(&format!(".target {arch}")), "{arch}");
        assert!(text.contains(".entry scale("), "{arch}");
    }
    let b = std::fs::read_to_string(&out.bindings).unwrap();
    assert!(b.contains("arch: \"sm_80\"") && b.contains("arch: \"sm_90\""));
    // Each launcher has a file of its own, included by the module.
    assert!(b.contains("multi_arch/scale.rs\");"), "{b}");
    let b = std::fs::read_to_string(d.path().join("out/multi_arch/scale.rs")).unwrap();
    assert!(
        b.contains(
            "    pub fn launch(\n        &self,\n        stream: &crate::rt::Stream,\n        a: f32,\n        x: &crate::rt::DeviceSlice<f32>,\n        y: &mut crate::rt::DeviceSlice<f32>,\n    ) -> crate::rt::Result<()> {"
        ),
        "{b}"
    );
    assert_eq!(out.kernels.len(), 1);
    if gpukit_builder::ptxas::find(None).is_some() {
        assert_eq!(out.cubins.len(), 2);
        assert!(
            out.resources
                .iter()
                .any(|r| r.kernel == "scale" && r.arch == "sm_80")
        );
    }
}

#[test]
fn a_stray_extern_function_is_rejected_by_name() {
    let d = tempfile::tempdir().unwrap();
    let body = format!(
        "{SCALE}\nunsafe extern \"C\" {{ fn mystery_helper(x: f32) -> f32; }}\n#[kernel(elements = y)]\npub fn calls_extern(mut y: OutSlice<f32>) {{\n    if let Some((_, o)) = y.thread_elem() {{ *o = unsafe {{ mystery_helper(*o) }}; }}\n}}\n"
    );
    let k = kernel_crate(d.path(), "stray_extern", &body);
    let e = builder(&k, &d.path().join("out"))
        .ptxas(Ptxas::Off)
        .build()
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, BuildError::Validation { .. }), "{msg}");
    assert!(
        msg.contains("unresolved `.extern .func mystery_helper`"),
        "{msg}"
    );
}

#[test]
fn entries_without_kernel_attribute_are_reported() {
    let d = tempfile::tempdir().unwrap();
    let body = format!(
        "{SCALE}\nmacro_rules! make_kernel {{ ($n:ident) => {{ #[kernel(elements = y)] pub fn $n(mut y: OutSlice<f32>) {{ if let Some((_, o)) = y.thread_elem() {{ *o = 1.0; }} }} }}; }}\nmake_kernel!(hidden);\n"
    );
    let k = kernel_crate(d.path(), "macro_kernels", &body);
    let out = builder(&k, &d.path().join("out"))
        .ptxas(Ptxas::Off)
        .build()
        .unwrap();
    assert_eq!(out.unbound_entries, vec!["hidden".to_string()]);
    assert_eq!(
        out.kernels
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        vec!["scale"]
    );
}

#[test]
fn compile_errors_fail_the_build_with_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let k = kernel_crate(
        d.path(),
        "broken",
        "#[kernel]\npub fn broken(x: &[f32]) { let y: u32 = x[0]; }\n",
    );
    let e = builder(&k, &d.path().join("out")).build().unwrap_err();
    assert!(matches!(e, BuildError::Compile { .. }), "{e}");
    assert!(e.to_string().contains(
        "failed to compile for nvptx64-nvidia-cuda (sm_90); rustc's diagnostics are above"
    ));
}

#[test]
fn bad_options_are_reported_before_building() {
    let d = tempfile::tempdir().unwrap();
    let e = builder(&d.path().join("missing"), d.path())
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("kernel crate not found"), "{e}");
    let k = kernel_crate(d.path(), "badarch", SCALE);
    let e = builder(&k, d.path()).arch("gfx90a").build().unwrap_err();
    assert!(
        e.to_string()
            .contains("invalid target architecture `gfx90a`"),
        "{e}"
    );
}
