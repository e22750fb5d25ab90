//! The README's "writing your own kernel" walk-through, built exactly as written: the files are
//! taken from the README's `<!-- file: PATH -->` blocks into a fresh temporary directory outside
//! the repository, next to a `gpukit` link to this repository, and built with nothing set up by
//! hand: cargo runs with every CUDA-related variable removed from its environment (no toolkit,
//! no libcuda to link). On a machine without the NVIDIA driver (CI) the program must then say so
//! in one line naming the missing library and exit 2, and the project's GPU test shows as
//! ignored. Also checks that a no-op rebuild does not rebuild the kernels and that a change to
//! the kernel source does.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// (path, contents) of every file block in the README.
fn readme_files() -> Vec<(String, String)> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut files = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .strip_prefix("<!-- file: ")
            .and_then(|l| l.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().expect("a code block follows the marker");
        assert!(
            fence.starts_with("```"),
            "{path}: expected a code fence, got {fence}"
        );
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        files.push((path.to_string(), body.join("\n") + "\n"));
    }
    files
}

/// Variables a CUDA installation (or gpukit's own scripts, once) set: none may be needed.
const CUDA_VARS: &[&str] = &[
    "CUDA_LIBRARY_PATH",
    "CUDA_PATH",
    "CUDA_ROOT",
    "CUDA_TOOLKIT_ROOT_DIR",
    "LD_LIBRARY_PATH",
    "LIBRARY_PATH",
];

/// `cmd` with the CUDA-related variables removed.
fn without_cuda_env(mut cmd: Command) -> Command {
    for v in CUDA_VARS {
        cmd.env_remove(v);
    }
    cmd
}

fn cargo(dir: &Path, target: &Path, args: &[&str]) -> (bool, String) {
    let out = without_cuda_env(Command::new(env!("CARGO")))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The newest `my_kernels.sm_90.ptx` under the target dir (the target dir persists across runs,
/// and each run's temporary project gets build directories of its own).
fn ptx_file(target: &Path) -> PathBuf {
    let build = target.join("debug/build");
    std::fs::read_dir(&build)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("out/my_kernels.sm_90.ptx"))
        .filter(|p| p.is_file())
        .max_by_key(|p| mtime(p))
        .expect("the build wrote the PTX")
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn readme_walkthrough_builds_runs_and_rebuilds_only_on_change() {
    if Command::new(env!("CARGO"))
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no cargo on this machine (GPU machines carry only binaries)");
        return;
    }
    let files = readme_files();
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    for want in [
        "my-app/Cargo.toml",
        "my-app/build.rs",
        "my-app/src/main.rs",
        "my-app/tests/gpu.rs",
        "my-app/kernels/Cargo.toml",
        "my-app/kernels/src/lib.rs",
    ] {
        assert!(names.contains(&want), "README lacks {want}: {names:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_MANIFEST_DIR"), dir.path().join("gpukit")).unwrap();
    for (path, body) in &files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let app = dir.path().join("my-app");
    // A target dir that persists across runs, so dependencies are built once.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("walkthrough-target");

    let (ok, log) = cargo(&app, &target, &["build"]);
    assert!(ok, "the walk-through does not build:\n{log}");
    let ptx = ptx_file(&target);
    let text = std::fs::read_to_string(&ptx).unwrap();
    assert!(text.contains(".entry square_plus(") && text.contains(".entry block_sums("));

    // Run it. Without the NVIDIA driver it must say so in one line, naming the library, and
    // exit 2 (not fail in the dynamic loader: nothing links libcuda).
    let no_driver = gpukit::runtime::sys::load().is_err();
    let out = without_cuda_env(Command::new(target.join("debug/my-app")))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if no_driver {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("no CUDA device: cannot load the NVIDIA driver library")
                && stderr.contains("libcuda.so.1"),
            "{stderr}"
        );
    } else if stderr.starts_with("no CUDA device") {
        // A driver without a usable GPU.
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    } else {
        assert!(out.status.success(), "{stderr}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("square_plus ok"));
    }

    // Its tests run: the GPU test shows as ignored (and runs with --include-ignored on a GPU).
    let (ok, log) = cargo(&app, &target, &["test"]);
    assert!(ok, "the walk-through's tests fail:\n{log}");
    assert!(
        log.contains("test square_plus_matches_the_cpu ... ignored"),
        "{log}"
    );

    // A no-op rebuild does not rerun the kernel build.
    let before = mtime(&ptx);
    // `-v` makes cargo say why anything is rebuilt ("Dirty ...").
    let (ok, log) = cargo(&app, &target, &["build", "-v"]);
    assert!(ok, "{log}");
    // (my-app itself may recompile if gpukit's sources changed meanwhile; the kernels must not.)
    assert_eq!(
        mtime(&ptx),
        before,
        "no-op rebuild rebuilt the kernels:\n{log}"
    );

    // A change to the kernel crate does.
    let lib = app.join("kernels/src/lib.rs");
    let mut src = std::fs::read_to_string(&lib).unwrap();
    src.push_str("\n/// out = -x\n#[kernel(same_len(x, out), elements = out)]\npub fn negate(x: &[f32], mut out: OutSlice<f32>) {\n    if let Some((i, o)) = out.thread_elem() {\n        *o = -x[i];\n    }\n}\n");
    std::fs::write(&lib, src).unwrap();
    let (ok, log) = cargo(&app, &target, &["build"]);
    assert!(ok, "{log}");
    assert!(
        std::fs::read_to_string(ptx_file(&target))
            .unwrap()
            .contains(".entry negate(")
    );
}
