//! Toolchain discovery against fake installations: each rejection says why, and the final
//! error says exactly what to install.
use gpukit_builder::toolchain::{Search, discover};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A fake `rustc` reporting `version` with its sysroot at `root`, and a fake `cargo` beside it.
fn fake_toolchain(
    root: &Path,
    version: &str,
    with_src: Option<&str>,
    nvptx: bool,
) -> (PathBuf, PathBuf) {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let targets = if nvptx {
        "x86_64-unknown-linux-gnu\nnvptx64-nvidia-cuda"
    } else {
        "x86_64-unknown-linux-gnu"
    };
    let rustc = bin.join("rustc");
    std::fs::write(
        &rustc,
        format!(
            "#!/bin/sh\ncase \"$*\" in\n  --version) echo 'rustc {version} (fake 2026-01-01)';;\n  '--print sysroot') echo '{}';;\n  '--print target-list') printf '{targets}\\n';;\n  *) exit 1;;\nesac\n",
            root.display()
        ),
    )
    .unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(&cargo, "#!/bin/sh\necho 'cargo 1.0.0 (fake)'\n").unwrap();
    for f in [&rustc, &cargo] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    if let Some(src_version) = with_src {
        let src = root.join("lib/rustlib/src/rust");
        std::fs::create_dir_all(src.join("library/core")).unwrap();
        std::fs::write(
            src.join("library/core/Cargo.toml"),
            "[package]\nname = \"core\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(src.join("src")).unwrap();
        std::fs::write(src.join("src/version"), format!("{src_version}\n")).unwrap();
    }
    (rustc, cargo)
}

fn search(
    explicit: Option<(PathBuf, PathBuf)>,
    active: Option<PathBuf>,
    system: (PathBuf, PathBuf),
) -> Search {
    Search {
        explicit,
        active_rustc: active,
        system_rustc: system.0,
        system_cargo: system.1,
    }
}

#[test]
fn active_toolchain_with_rust_src_wins() {
    let d = tempfile::tempdir().unwrap();
    let active = fake_toolchain(&d.path().join("active"), "1.95.0", Some("1.95.0"), true);
    let system = fake_toolchain(&d.path().join("sys"), "1.96.0", Some("1.96.0"), true);
    let tc = discover(&search(None, Some(active.0.clone()), system)).unwrap();
    assert_eq!(tc.rustc, active.0);
    assert_eq!(tc.cargo, active.1);
    assert_eq!(tc.origin, "active toolchain");
}

#[test]
fn falls_back_to_debian_when_the_active_toolchain_lacks_rust_src() {
    let d = tempfile::tempdir().unwrap();
    let active = fake_toolchain(&d.path().join("active"), "1.95.0", None, true);
    let system = fake_toolchain(&d.path().join("sys"), "1.96.0", Some("1.96.0"), true);
    let tc = discover(&search(None, Some(active.0), system.clone())).unwrap();
    assert_eq!(tc.rustc, system.0);
    assert_eq!(tc.origin, "Debian rustc-web");
}

#[test]
fn mismatched_source_and_missing_target_are_rejected_with_reasons() {
    let d = tempfile::tempdir().unwrap();
    let active = fake_toolchain(&d.path().join("active"), "1.95.0", Some("1.94.0"), true);
    let system = fake_toolchain(&d.path().join("sys"), "1.96.0", Some("1.96.0"), false);
    let e = discover(&search(None, Some(active.0), system))
        .unwrap_err()
        .to_string();
    assert!(e.contains("is version 1.94.0, not 1.95.0"), "{e}");
    assert!(e.contains("no nvptx64-nvidia-cuda target"), "{e}");
    assert!(
        e.contains("apt-get install -y rustc-web cargo-web rust-web-src"),
        "{e}"
    );
    assert!(e.contains("rustup component add rust-src"), "{e}");
}

#[test]
fn nothing_installed_says_what_to_install() {
    let d = tempfile::tempdir().unwrap();
    let missing = (d.path().join("nope/rustc"), d.path().join("nope/cargo"));
    let e = discover(&search(None, None, missing))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("no Rust toolchain that can build kernels"),
        "{e}"
    );
    assert!(e.contains("cannot run"), "{e}");
    assert!(
        e.contains("apt-get install -y rustc-web cargo-web rust-web-src"),
        "{e}"
    );
    assert!(e.contains("GPUKIT_RUSTC"), "{e}");
}

#[test]
fn an_explicit_override_is_used_or_rejected_never_skipped() {
    let d = tempfile::tempdir().unwrap();
    let good = fake_toolchain(
        &d.path().join("good"),
        "1.97.0-nightly",
        Some("1.97.0-nightly"),
        true,
    );
    let bad = fake_toolchain(&d.path().join("bad"), "1.95.0", None, true);
    let system = fake_toolchain(&d.path().join("sys"), "1.96.0", Some("1.96.0"), true);
    let tc = discover(&search(Some(good.clone()), None, system.clone())).unwrap();
    assert_eq!((tc.rustc, tc.origin), (good.0, "explicit override"));
    let e = discover(&search(Some(bad), None, system))
        .unwrap_err()
        .to_string();
    assert!(e.contains("GPUKIT_RUSTC/GPUKIT_CARGO"), "{e}");
    assert!(e.contains("no rust-src"), "{e}");
}
